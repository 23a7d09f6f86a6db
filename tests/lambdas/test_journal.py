"""Reading drizzle-kit folders: drizzle's split and hash, and the stricter validation."""

from __future__ import annotations

import hashlib
import json

import pytest
from migrator.journal import MigrationFolderError, read_migrations, split_statements


def test_split_matches_javascript_string_split():
    # JS "a--> statement-breakpoint".split(...) keeps the empty trailing chunk, as str.split does.
    assert split_statements("a--> statement-breakpoint") == ("a", "")
    assert split_statements("x\n--> statement-breakpoint\ny") == ("x\n", "\ny")
    assert split_statements("") == ("",)


def test_hash_is_sha256_of_raw_bytes_including_bom_and_crlf(tmp_path, write_migrations):
    raw = "\ufeffCREATE TABLE a (id int);\r\n".encode()
    write_migrations(tmp_path, [("0000_a", 1, raw)])
    [migration] = read_migrations(tmp_path)
    assert migration.hash == hashlib.sha256(raw).hexdigest()
    assert migration.statements == ("\ufeffCREATE TABLE a (id int);\r\n",)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, r"migrations folder .* does not exist"),
        (lambda d: d.mkdir(), r"meta/_journal.json not found"),
        (
            lambda d: ((d / "meta").mkdir(parents=True), (d / "meta" / "_journal.json").write_text("{")),
            "not valid JSON",
        ),
        (
            lambda d: (
                (d / "meta").mkdir(parents=True),
                (d / "meta" / "_journal.json").write_text('{"entries": [{"tag": "0000_a"}]}'),
            ),
            r"entry #0 has no 'when'",
        ),
    ],
)
def test_malformed_folder_is_rejected(tmp_path, setup, message):
    folder = tmp_path / "m"
    setup(folder)
    with pytest.raises(MigrationFolderError, match=message):
        read_migrations(folder)


def test_missing_sql_file_is_named(tmp_path, write_migrations):
    write_migrations(tmp_path, [("0000_a", 1, "select 1;")])
    (tmp_path / "0000_a.sql").unlink()
    with pytest.raises(MigrationFolderError, match="refers to missing file 0000_a.sql"):
        read_migrations(tmp_path)


def test_invalid_utf8_is_rejected(tmp_path, write_migrations):
    write_migrations(tmp_path, [("0000_a", 1, b"select '\xff';")])
    with pytest.raises(MigrationFolderError, match="0000_a.sql: not valid UTF-8"):
        read_migrations(tmp_path)


def test_non_increasing_when_is_rejected(tmp_path, write_migrations):
    write_migrations(tmp_path, [("0000_a", 5, "select 1;"), ("0001_b", 5, "select 2;")])
    with pytest.raises(MigrationFolderError, match="'0001_b' has when=5, not later"):
        read_migrations(tmp_path)


def test_path_traversal_tag_is_rejected(tmp_path):
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "_journal.json").write_text(json.dumps({"entries": [{"tag": "../etc/passwd", "when": 1}]}))
    with pytest.raises(MigrationFolderError, match="unsafe tag"):
        read_migrations(tmp_path)

"""Read a drizzle-kit migration folder exactly the way drizzle-orm 0.45 does.

drizzle's ``readMigrationFiles`` iterates ``meta/_journal.json`` entries in journal order, reads
``<tag>.sql``, splits it on ``--> statement-breakpoint`` (no trimming, empty chunks kept) and hashes
the whole file text with sha256. Any deviation here would make the bookkeeping rows differ from
the ones drizzle writes, so this module mirrors it and is stricter only where drizzle fails late
or silently (missing files, invalid UTF-8, out-of-order ``when`` values).

This module uses only the standard library: ``bundle.py`` loads it by path at synth time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BREAKPOINT = "--> statement-breakpoint"
JOURNAL = Path("meta") / "_journal.json"


class MigrationFolderError(ValueError):
    """The migration folder is missing or malformed; raised before touching any database."""


@dataclass(frozen=True)
class Migration:
    """One journal entry with its SQL, as drizzle would execute and record it."""

    tag: str
    when: int
    path: Path
    hash: str
    statements: tuple[str, ...]

    @property
    def filename(self) -> str:
        return self.path.name


def split_statements(text: str) -> tuple[str, ...]:
    """Split like drizzle (``str.split``): chunks are sent as-is, empty ones included."""
    return tuple(text.split(BREAKPOINT))


def _entry_field(entry: Any, index: int, name: str, kind: type) -> Any:
    if not isinstance(entry, dict) or name not in entry:
        raise MigrationFolderError(f"{JOURNAL}: entry #{index} has no {name!r}")
    value = entry[name]
    # bool is an int subclass; a journal saying `"when": true` is corrupt, not a timestamp.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MigrationFolderError(
            f"{JOURNAL}: entry #{index} field {name!r} must be {kind.__name__}, got {value!r}"
        )
    return value


def read_journal(folder: Path) -> list[dict[str, Any]]:
    """Return the validated journal entries (``tag``, ``when``) in journal order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MigrationFolderError(f"migrations folder {folder} does not exist")
    journal_path = folder / JOURNAL
    if not journal_path.is_file():
        raise MigrationFolderError(f"{folder}: {JOURNAL} not found (not a drizzle-kit folder?)")
    try:
        journal = json.loads(journal_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MigrationFolderError(f"{journal_path}: not valid JSON: {exc}") from exc
    if not isinstance(journal, dict) or not isinstance(journal.get("entries"), list):
        raise MigrationFolderError(f"{journal_path}: expected an object with an 'entries' list")
    dialect = journal.get("dialect")
    if dialect not in (None, "postgresql"):
        raise MigrationFolderError(f"{journal_path}: dialect is {dialect!r}, expected 'postgresql'")

    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    previous_when: int | None = None
    for index, entry in enumerate(journal["entries"]):
        tag = _entry_field(entry, index, "tag", str)
        when = _entry_field(entry, index, "when", int)
        if not tag or "/" in tag or "\\" in tag or tag.startswith("."):
            raise MigrationFolderError(f"{journal_path}: entry #{index} has an unsafe tag {tag!r}")
        if tag in seen:
            raise MigrationFolderError(f"{journal_path}: tag {tag!r} appears twice")
        # drizzle compares `when` with the newest applied row only, so an entry that is not newer
        # than its predecessor would be skipped forever on databases that already ran the
        # predecessor. Refuse such a journal instead of losing a migration silently.
        if previous_when is not None and when <= previous_when:
            raise MigrationFolderError(
                f"{journal_path}: entry {tag!r} has when={when}, not later than the previous "
                f"entry ({previous_when}); drizzle would skip it on already-migrated databases"
            )
        seen.add(tag)
        previous_when = when
        entries.append({"tag": tag, "when": when})
    return entries


def read_migrations(folder: Path) -> list[Migration]:
    """Load every journal entry with its statements and drizzle-compatible hash."""
    folder = Path(folder)
    migrations: list[Migration] = []
    for entry in read_journal(folder):
        path = folder / f"{entry['tag']}.sql"
        if not path.is_file():
            raise MigrationFolderError(
                f"{folder / JOURNAL}: entry {entry['tag']!r} refers to missing file {path.name}"
            )
        raw = path.read_bytes()
        try:
            # Keep a BOM if present: drizzle's Buffer.toString() keeps it, and so must the SQL.
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # drizzle would hash the text after U+FFFD replacement, which no longer matches the
            # file; refuse rather than record a hash nobody can reproduce.
            raise MigrationFolderError(f"{path}: not valid UTF-8 ({exc})") from exc
        migrations.append(
            Migration(
                tag=entry["tag"],
                when=entry["when"],
                path=path,
                hash=hashlib.sha256(raw).hexdigest(),
                statements=split_statements(text),
            )
        )
    return migrations


def migration_files(folder: Path) -> list[Path]:
    """Paths (relative to ``folder``) a runtime needs: the journal and every referenced .sql."""
    return [JOURNAL] + [Path(f"{m.tag}.sql") for m in read_migrations(folder)]

"""The migrate algorithm against a real PostgreSQL 17 over verified TLS."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest
from migrator.connect import connect
from migrator.journal import read_migrations
from migrator.runner import LOCK_KEY, DriftError, MigrationError, dry_run, migrate

EXAMPLES = Path(__file__).resolve().parents[2] / "lambdas" / "migrator" / "example-migrations"
JOURNAL = json.loads((EXAMPLES / "meta" / "_journal.json").read_text())


def rows(pg_server, database):
    conn = pg_server.admin(database)
    try:
        if conn.run("SELECT to_regclass('drizzle.__drizzle_migrations')")[0][0] is None:
            return None
        return [tuple(r) for r in conn.run("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id")]
    finally:
        conn.close()


def tables(pg_server, database):
    conn = pg_server.admin(database)
    try:
        return sorted(r[0] for r in conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    finally:
        conn.close()


def run(make_settings, folder, **kwargs):
    conn = connect(make_settings())
    try:
        return migrate(conn, read_migrations(folder), **kwargs)
    finally:
        conn.close()


def expected_rows(folder):
    journal = json.loads((folder / "meta" / "_journal.json").read_text())
    return [
        (hashlib.sha256((folder / f"{e['tag']}.sql").read_bytes()).hexdigest(), e["when"]) for e in journal["entries"]
    ]


def test_fresh_database_applies_everything_with_drizzle_rows(pg_server, database, make_settings):
    result = run(make_settings, EXAMPLES)
    assert result.applied == [e["tag"] for e in JOURNAL["entries"]]
    assert result.skipped == 0
    assert rows(pg_server, database) == expected_rows(EXAMPLES)
    assert tables(pg_server, database) == ["agent_api_keys", "agents", "branches"]


def test_rerun_applies_nothing(pg_server, database, make_settings):
    run(make_settings, EXAMPLES)
    again = run(make_settings, EXAMPLES)
    assert again.applied == []
    assert again.skipped == 3
    assert again.summary() == {"applied": [], "skipped": 3, "duration_ms": again.duration_ms}
    assert rows(pg_server, database) == expected_rows(EXAMPLES)


def test_appended_migration_runs_alone(pg_server, database, make_settings, tmp_path, append_migration):
    folder = tmp_path / "m"
    shutil.copytree(EXAMPLES, folder)
    run(make_settings, folder)
    # Would fail if 0000 ran again (agents exists) and duplicates rows if 0003 ran twice.
    append_migration(
        folder,
        "0003_seed",
        1763769600000,
        "INSERT INTO agents (slug, name, created_by) VALUES ('demo', 'Demo', 'seed');",
    )
    result = run(make_settings, folder)
    assert result.applied == ["0003_seed"]
    assert result.skipped == 3
    assert rows(pg_server, database) == expected_rows(folder)
    conn = pg_server.admin(database)
    assert conn.run("SELECT slug FROM agents") == [["demo"]]
    conn.close()


def test_failing_statement_rolls_back_the_whole_batch(pg_server, database, make_settings, tmp_path, write_migrations):
    folder = write_migrations(tmp_path / "m", [
        ("0000_ok", 1000, 'CREATE TABLE "a" (id int);'),
        ("0001_bad", 2000,
         'CREATE TABLE "b" (id int);\n--> statement-breakpoint\n'
         'INSERT INTO "missing" VALUES (1);\n--> statement-breakpoint\nCREATE TABLE "c" (id int);'),
    ])  # fmt: skip
    with pytest.raises(MigrationError) as info:
        run(make_settings, folder)
    message = str(info.value)
    assert message.startswith("migration 0001_bad.sql failed at statement 2 of 3: ")
    assert 'relation "missing" does not exist (SQLSTATE 42P01)' in message
    assert info.value.statement_no == 2
    assert tables(pg_server, database) == []
    assert rows(pg_server, database) is None  # even the bookkeeping table was rolled back
    # The fix is applied as one batch on the next run.
    (folder / "0001_bad.sql").write_text('CREATE TABLE "b" (id int);')
    assert run(make_settings, folder).applied == ["0000_ok", "0001_bad"]
    assert tables(pg_server, database) == ["a", "b"]


def test_edited_applied_migration_is_refused_unless_allowed(
    pg_server, database, make_settings, tmp_path, write_migrations
):
    folder = write_migrations(tmp_path / "m", [("0000_a", 1000, 'CREATE TABLE "a" (id int);')])
    run(make_settings, folder)
    before = rows(pg_server, database)
    write_migrations(folder, [
        ("0000_a", 1000, 'CREATE TABLE "a" (id int, note text);'),
        ("0001_b", 2000, 'CREATE TABLE "b" (id int);'),
    ])  # fmt: skip
    with pytest.raises(DriftError) as info:
        run(make_settings, folder)
    assert "edited after being applied (hash differs): 0000_a.sql" in str(info.value)
    assert "allow_drift" in str(info.value)
    assert rows(pg_server, database) == before
    assert tables(pg_server, database) == ["a"]

    result = run(make_settings, folder, allow_drift=True)
    assert result.applied == ["0001_b"]
    assert result.summary()["drift"] == ["0000_a.sql"]
    new_hash = hashlib.sha256((folder / "0001_b.sql").read_bytes()).hexdigest()
    assert rows(pg_server, database) == before + [(new_hash, 2000)]  # old row is not rewritten


def test_unapplied_migration_older_than_newest_is_refused(
    pg_server, database, make_settings, tmp_path, write_migrations
):
    folder = write_migrations(tmp_path / "m", [
        ("0000_a", 1000, 'CREATE TABLE "a" (id int);'),
        ("0002_c", 3000, 'CREATE TABLE "c" (id int);'),
    ])  # fmt: skip
    run(make_settings, folder)
    write_migrations(folder, [
        ("0000_a", 1000, 'CREATE TABLE "a" (id int);'),
        ("0001_b", 2000, 'CREATE TABLE "b" (id int);'),  # merged late from a branch
        ("0002_c", 3000, 'CREATE TABLE "c" (id int);'),
    ])  # fmt: skip
    with pytest.raises(DriftError, match=r"never applied .*: 0001_b\.sql"):
        run(make_settings, folder)
    assert tables(pg_server, database) == ["a", "c"]


def test_concurrent_runners_apply_each_migration_once(pg_server, database, make_settings, race):
    results, errors, folder = race(make_settings())
    assert errors == []
    assert results == [[]] * 7 + [["0000_t", "0001_data"]]
    conn = pg_server.admin(database)
    assert conn.run("SELECT n FROM events") == [[1]]
    conn.close()
    assert rows(pg_server, database) == expected_rows(folder)


def test_lock_is_the_advisory_transaction_lock(pg_server, database, make_settings, tmp_path, write_migrations):
    """A runner waits while someone else holds the key, then finds the work done."""
    folder = write_migrations(tmp_path / "m", [("0000_a", 1000, 'CREATE TABLE "a" (id int);')])
    holder = pg_server.admin(database)
    holder.run("BEGIN")
    holder.run("SELECT pg_advisory_xact_lock(:k)", k=LOCK_KEY)
    done = threading.Event()
    thread = threading.Thread(target=lambda: (run(make_settings, folder), done.set()))
    thread.start()
    assert not done.wait(1.0), "runner did not wait for the advisory lock"
    holder.run("COMMIT")
    thread.join(timeout=20)
    assert done.is_set()
    holder.close()


def test_dry_run_lists_pending_and_changes_nothing(pg_server, database, make_settings, tmp_path, write_migrations):
    conn = connect(make_settings())
    try:
        result = dry_run(conn, read_migrations(EXAMPLES))
        assert result.summary() == {
            "applied": [], "skipped": 0, "duration_ms": result.duration_ms, "dry_run": True,
            "pending": [e["tag"] for e in JOURNAL["entries"]], "drift": [],
        }  # fmt: skip
        admin = pg_server.admin(database)
        assert admin.run("SELECT to_regnamespace('drizzle')") == [[None]]
        folder = write_migrations(tmp_path / "m", [("0000_a", 1000, "CREATE TABLE a (id int);")])
        migrate(conn, read_migrations(folder))
        write_migrations(
            folder, [("0000_a", 1000, "CREATE TABLE a (x int);"), ("0001_b", 2000, "CREATE TABLE b (id int);")]
        )
        result = dry_run(conn, read_migrations(folder))
        assert (result.pending, result.drift, result.skipped) == (["0001_b"], ["0000_a.sql"], 1)
        assert tables(pg_server, database) == ["a"]
        admin.close()
    finally:
        conn.close()


def test_long_statement_outlives_the_connect_timeout(database, make_settings, tmp_path, write_migrations):
    folder = write_migrations(tmp_path / "m", [("0000_slow", 1000, "SELECT pg_sleep(1.5);")])
    conn = connect(make_settings(connect_timeout=1.0))
    try:
        assert migrate(conn, read_migrations(folder)).applied == ["0000_slow"]
    finally:
        conn.close()


def test_statement_chunks_are_sent_verbatim(pg_server, database, make_settings, tmp_path, write_migrations):
    """Empty and comment-only chunks, multi-statement chunks and CRLF all run, like drizzle."""
    sql = (
        b"-- comment only\r\n--> statement-breakpoint\r\n"
        b"CREATE TABLE x (id int); INSERT INTO x VALUES (1), (2);\r\n"
        b"--> statement-breakpoint--> statement-breakpoint\n  \n"
    )
    folder = write_migrations(tmp_path / "m", [("0000_x", 1000, sql)])
    assert len(read_migrations(folder)[0].statements) == 4
    assert run(make_settings, folder).applied == ["0000_x"]
    admin = pg_server.admin(database)
    assert admin.run("SELECT count(*) FROM x") == [[2]]
    admin.close()
    assert rows(pg_server, database) == [(hashlib.sha256(sql).hexdigest(), 1000)]

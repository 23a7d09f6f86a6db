"""drizzle-orm's own migrator (node) and this runner agree on what has been applied."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from migrator.connect import connect
from migrator.journal import read_migrations
from migrator.runner import migrate

REPO = Path(__file__).resolve().parents[2]
NODE = REPO / "node_modules" / ".bin" / "node"
SCRIPT = Path(__file__).resolve().parent / "drizzle" / "migrate.mjs"
EXAMPLES = REPO / "lambdas" / "migrator" / "example-migrations"


def drizzle_migrate(pg_server, database: str, folder: Path) -> None:
    if not (REPO / "node_modules" / "drizzle-orm").is_dir() or not NODE.exists():
        pytest.fail("drizzle-orm / node 22 not installed: run `npm ci` in the repository root")
    env = dict(os.environ, PGHOST=pg_server.host, PGPORT=str(pg_server.port),
               PGUSER=pg_server.user, PGPASSWORD=pg_server.password, PGDATABASE=database,
               PGSSLROOTCERT=str(pg_server.ca_file))  # fmt: skip
    proc = subprocess.run([str(NODE), str(SCRIPT), str(folder)], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def state(pg_server, database):
    conn = pg_server.admin(database)
    try:
        rows = [tuple(r) for r in conn.run("SELECT id, hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id")]
        tables = sorted(r[0] for r in conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        return rows, tables
    finally:
        conn.close()


def ours(make_settings, folder: Path):
    conn = connect(make_settings())
    try:
        return migrate(conn, read_migrations(folder))
    finally:
        conn.close()


def test_drizzle_first_then_ours_applies_nothing(pg_server, database, make_settings):
    drizzle_migrate(pg_server, database, EXAMPLES)
    after_drizzle = state(pg_server, database)
    assert len(after_drizzle[0]) == 3
    result = ours(make_settings, EXAMPLES)
    assert (result.applied, result.skipped, result.drift) == ([], 3, [])  # same hashes too
    assert state(pg_server, database) == after_drizzle


def test_ours_first_then_drizzle_applies_nothing(pg_server, database, make_settings, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(EXAMPLES, folder)
    assert len(ours(make_settings, folder).applied) == 3
    after_ours = state(pg_server, database)
    drizzle_migrate(pg_server, database, folder)
    assert state(pg_server, database) == after_ours


def test_rows_are_identical_to_drizzles(pg_server, make_settings, tmp_path, database):
    """Same folder into two databases, one per tool: (hash, created_at) rows are equal."""
    other = f"{database}_dz"
    admin = pg_server.admin()
    admin.run(f'CREATE DATABASE "{other}"')
    admin.close()
    drizzle_migrate(pg_server, other, EXAMPLES)
    ours(make_settings, EXAMPLES)
    strip = lambda s: ([r[1:] for r in s[0]], s[1])  # noqa: E731 - ids are per database anyway
    assert strip(state(pg_server, database)) == strip(state(pg_server, other))

"""Apply pending drizzle migrations: drizzle's bookkeeping, plus a lock and drift detection.

Bookkeeping is drizzle-orm 0.45's ``PgDialect.migrate``: the ``drizzle.__drizzle_migrations``
table, pending = journal entries (in journal order) whose ``when`` is later than the newest
``created_at``, and one row ``(sha256 of the file, when)`` per applied migration. Keeping
``created_at == when`` exactly also keeps drizzle v1's table upgrade able to match our rows.

Differences, all on the safe side:
- everything runs in ONE transaction that starts with ``pg_advisory_xact_lock``, and the table is
  created and read *after* the lock, so concurrent deploys serialize instead of applying a data
  migration twice (drizzle has no lock, drizzle-team/drizzle-orm#874). A transaction-scoped lock
  is released by COMMIT/ROLLBACK, never leaks, and does not pin an RDS Proxy session;
- applied migrations whose file changed (hash differs) are refused unless ``allow_drift``;
- a journal entry that was never applied but is older than the newest applied row (drizzle skips
  it silently) is refused too, unless ``allow_drift``.
The cost of one transaction: statements that cannot run in a transaction block
(``CREATE INDEX CONCURRENTLY``, ``ALTER TYPE … ADD VALUE`` then using the value) fail — exactly as
they do under drizzle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pg8000.native

from .app_role import AppRole, ensure_app_role
from .journal import Migration

log = logging.getLogger(__name__)

SCHEMA = "drizzle"
TABLE = "__drizzle_migrations"
QUALIFIED = f'"{SCHEMA}"."{TABLE}"'
# Fixed key shared by every runner of this project: b"hebomigr" as a signed 64-bit integer.
LOCK_KEY = int.from_bytes(b"hebomigr", "big", signed=True)

CREATE_SCHEMA = f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {QUALIFIED} "
    "(id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)"
)


class MigrationError(RuntimeError):
    """A statement failed; the whole batch was rolled back. Names file, statement and PG error."""

    def __init__(self, migration: Migration, statement_no: int, pg_message: str) -> None:
        self.migration = migration
        self.statement_no = statement_no
        self.pg_message = pg_message
        super().__init__(
            f"migration {migration.filename} failed at statement {statement_no} of "
            f"{len(migration.statements)}: {pg_message}; all pending migrations were rolled back"
        )


class AppRoleGrantError(RuntimeError):
    """Converging the application role failed; the whole batch (migrations too) was rolled back."""

    def __init__(self, role: str, pg_message: str) -> None:
        super().__init__(
            f"granting the application role {role} failed: {pg_message}; all pending migrations were rolled back"
        )


class DriftError(RuntimeError):
    """The database history disagrees with the folder; nothing was applied."""

    def __init__(self, edited: Sequence[Migration], orphaned: Sequence[Migration]) -> None:
        self.edited = list(edited)
        self.orphaned = list(orphaned)
        parts = []
        if edited:
            parts.append(
                "applied migrations were edited after being applied (hash differs): "
                + ", ".join(m.filename for m in edited)
            )
        if orphaned:
            parts.append(
                "migrations were never applied but are older than the newest applied one "
                "(drizzle would skip them): " + ", ".join(m.filename for m in orphaned)
            )
        super().__init__(
            "; ".join(parts) + ". Restore the files or re-run with allow_drift=true "
            "after checking the database by hand"
        )


@dataclass
class Result:
    """What a run did; ``summary()`` is the JSON the Lambda returns and logs."""

    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    skipped: int = 0
    drift: list[str] = field(default_factory=list)
    dry_run: bool = False
    duration_ms: int = 0
    app_role: str | None = None
    """The application role converged by this run (None: not managed by this run)."""

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "applied": self.applied,
            "skipped": self.skipped,
            "duration_ms": self.duration_ms,
        }
        if self.app_role is not None:
            out["app_role"] = self.app_role
        if self.dry_run:
            out.update(dry_run=True, pending=self.pending, drift=self.drift)
        elif self.drift:
            out["drift"] = self.drift
        return out


def pg_message(exc: BaseException) -> str:
    """PostgreSQL's own words (message, SQLSTATE, detail, hint, position) from a pg8000 error."""
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    if fields is None:
        return f"{type(exc).__name__}: {exc}"
    text = f"{fields.get('M', '?')} (SQLSTATE {fields.get('C', '?')})"
    if fields.get("D"):
        text += f"; detail: {fields['D']}"
    if fields.get("H"):
        text += f"; hint: {fields['H']}"
    if fields.get("P"):
        text += f"; at character {fields['P']}"
    return text


def _history(conn: pg8000.native.Connection) -> list[tuple[str, int | None]]:
    rows = conn.run(f"SELECT hash, created_at FROM {QUALIFIED} ORDER BY id")
    return [(row[0], None if row[1] is None else int(row[1])) for row in rows]


def plan(
    migrations: Sequence[Migration], history: Sequence[tuple[str, int | None]]
) -> tuple[list[Migration], list[Migration], list[Migration]]:
    """Split the journal into (pending, edited, orphaned) against the bookkeeping rows."""
    stamps = [created for _, created in history if created is not None]
    newest = max(stamps, default=None)
    hashes_by_when: dict[int, set[str]] = {}
    for digest, created in history:
        if created is not None:
            hashes_by_when.setdefault(created, set()).add(digest)
    pending: list[Migration] = []
    edited: list[Migration] = []
    orphaned: list[Migration] = []
    for migration in migrations:
        if newest is None or migration.when > newest:
            pending.append(migration)
        elif migration.when in hashes_by_when:
            # drizzle's own race can leave duplicate rows per created_at; any matching hash is fine.
            if migration.hash not in hashes_by_when[migration.when]:
                edited.append(migration)
        else:
            orphaned.append(migration)
    return pending, edited, orphaned


def _rollback(conn: pg8000.native.Connection) -> None:
    try:
        conn.run("ROLLBACK")
    except Exception:  # noqa: BLE001 - the connection may be gone; the server rolls back then
        log.exception("rollback failed (the server discards the transaction on disconnect)")


def dry_run(conn: pg8000.native.Connection, migrations: Sequence[Migration]) -> Result:
    """List pending (and drifted) migrations without creating or changing anything."""
    started = time.monotonic()
    conn.run("BEGIN READ ONLY")
    try:
        exists = conn.run("SELECT to_regclass(:name) IS NOT NULL", name=QUALIFIED)[0][0]
        history = _history(conn) if exists else []
    finally:
        _rollback(conn)
    pending, edited, orphaned = plan(migrations, history)
    return Result(
        pending=[m.tag for m in pending],
        skipped=len(migrations) - len(pending),
        drift=[m.filename for m in edited + orphaned],
        dry_run=True,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def migrate(
    conn: pg8000.native.Connection,
    migrations: Sequence[Migration],
    *,
    allow_drift: bool = False,
    app_role: AppRole | None = None,
) -> Result:
    """Apply all pending migrations atomically under the advisory lock, then converge ``app_role``.

    The application role (app_role.py) is created or updated and granted in the same
    transaction, after the migrations, so the grants cover every table they created and a
    failure anywhere leaves the database as it was. Raises ``DriftError`` (nothing applied),
    ``MigrationError`` or ``AppRoleGrantError`` (everything rolled back), ``AppRoleError`` for an
    unusable role name (nothing applied).
    """
    started = time.monotonic()
    conn.run("BEGIN")
    try:
        log.info("waiting for advisory lock %d", LOCK_KEY)
        conn.run("SELECT pg_advisory_xact_lock(:key)", key=LOCK_KEY)
        # Created under the lock so that concurrent first runs cannot race on the catalog
        # (CREATE … IF NOT EXISTS is not safe against a concurrent creator).
        conn.run(CREATE_SCHEMA)
        conn.run(CREATE_TABLE)
        # Read only now: whoever held the lock before us may have applied everything.
        pending, edited, orphaned = plan(migrations, _history(conn))
        drift = [m.filename for m in edited + orphaned]
        if (edited or orphaned) and not allow_drift:
            raise DriftError(edited, orphaned)
        if drift:
            log.warning("allow_drift set; ignoring drifted migrations: %s", ", ".join(drift))
        applied: list[str] = []
        for migration in pending:
            log.info("applying %s (%d statements)", migration.filename, len(migration.statements))
            for number, statement in enumerate(migration.statements, start=1):
                try:
                    conn.run(statement)  # no parameters: simple protocol, like node-postgres
                except pg8000.native.Error as exc:
                    raise MigrationError(migration, number, pg_message(exc)) from exc
            conn.run(
                f'INSERT INTO {QUALIFIED} ("hash", "created_at") VALUES (:hash, :created_at)',
                hash=migration.hash,
                created_at=migration.when,
            )
            applied.append(migration.tag)
        if app_role is not None:
            try:
                ensure_app_role(conn, app_role)
            except pg8000.native.Error as exc:
                raise AppRoleGrantError(app_role.username, pg_message(exc)) from exc
        conn.run("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    result = Result(
        applied=applied,
        skipped=len(migrations) - len(applied),
        drift=drift,
        duration_ms=int((time.monotonic() - started) * 1000),
        app_role=app_role.username if app_role is not None else None,
    )
    log.info("migrations committed: %s", result.summary())
    return result

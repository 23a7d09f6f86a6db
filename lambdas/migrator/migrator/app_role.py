"""The application's database role: created or updated, with exactly its grants, on every run.

The services never connect as the Aurora master. After the migrations, inside the same
transaction and advisory lock, the migrator (connected as the master, which owns every table the
migrations create) converges one login role to exactly these privileges:

- role attributes ``LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT -1`` (and the defaults
  ``NOSUPERUSER NOREPLICATION NOBYPASSRLS``, which the master cannot change), no role memberships;
- ``CONNECT`` on the current database, and nothing else on it: ``CONNECT``/``TEMPORARY`` are
  revoked from ``PUBLIC`` (the master owns the database and keeps both), so the app cannot create
  even temporary tables;
- on every *application schema* — schemas owned by the master (or by ``pg_database_owner``,
  i.e. ``public``) except the migrator's bookkeeping schema ``drizzle``:
  ``USAGE`` (never ``CREATE``),
  ``SELECT, INSERT, UPDATE, DELETE`` on all tables (no ``TRUNCATE``, ``REFERENCES``,
  ``TRIGGER``), ``USAGE, SELECT`` on all sequences (``nextval`` for serial/identity columns);
- default privileges ``FOR ROLE <master> IN SCHEMA <schema>`` granting the same table and
  sequence privileges, so tables created later by the master — by a later migration or by hand,
  e.g. ``drizzle-kit migrate`` — are covered before the migrator runs again.

Each grant is preceded by the matching ``REVOKE ALL``, so a privilege granted by hand (a stray
``CREATE``, ``TRUNCATE``) is removed on the next run: the result is exactly the list above.

The password never appears in SQL text: a SCRAM-SHA-256 verifier is computed here (what
``psql``'s ``\\password`` does) and PostgreSQL stores a pre-hashed verifier as is ("If the
presented password string is already in MD5-encrypted or SCRAM-encrypted format, then it is
stored as-is", https://www.postgresql.org/docs/17/sql-createrole.html, ``PASSWORD``). The statement is built server-side with
``format('%I', …)``/``format('%L', …)`` from bound parameters, so neither the role name nor the
verifier can inject SQL. With ``log_statement = none`` (the data stack's parameter group) the
statement is not logged; if a slow-statement or error log ever caught it, only the verifier would
show, not the password.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass

import pg8000.native
from scramp import ScramMechanism

log = logging.getLogger(__name__)

BOOKKEEPING_SCHEMA = "drizzle"
ROLE_ATTRIBUTES = "LOGIN NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT -1"
"""Set on every run. SUPERUSER, REPLICATION and BYPASSRLS are off by default and only a role that has
them may change them (PostgreSQL 16+), which Aurora's master (not a superuser) never has, so the
role can never carry them; the tests check all seven attributes."""
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
SCRAM_ITERATIONS = 4096
"""PostgreSQL's default ``scram_iterations``."""

_ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_RESERVED_PREFIXES = ("pg_", "rds")


class AppRoleError(ValueError):
    """The application role's name is unusable (never names the password)."""


@dataclass(frozen=True)
class AppRole:
    """The role the services log in as; ``repr`` hides the password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"AppRole(username={self.username!r})"

    def check(self, master: str) -> None:
        """Raise AppRoleError unless the name is a plain lowercase identifier distinct from the master."""
        if not _ROLE_RE.fullmatch(self.username):
            raise AppRoleError(
                f"application role name {self.username!r} must be 1-63 of a-z, 0-9 and _, not starting with a digit"
            )
        if self.username.startswith(_RESERVED_PREFIXES) or self.username in ("postgres", "public"):
            raise AppRoleError(f"application role name {self.username!r} is reserved (pg_*, rds*, postgres, public)")
        if self.username == master:
            raise AppRoleError(
                f"application role name {self.username!r} is the master user: the services must not log in as the master"
            )
        if not self.password:
            raise AppRoleError(f"application role {self.username!r} has an empty password")


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (base64), as PostgreSQL stores it."""
    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(
        password, iteration_count=iterations, salt=salt
    )
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731 - local shorthand
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _statement(conn: pg8000.native.Connection, template: str, *args: str) -> str:
    """Build a utility statement server-side: ``format(template, args…)`` with bound parameters."""
    placeholders = ", ".join(f"CAST(:a{i} AS text)" for i in range(len(args)))
    return str(conn.run(f"SELECT format(CAST(:template AS text), {placeholders})", template=template,
                        **{f"a{i}": a for i, a in enumerate(args)})[0][0])


def app_schemas(conn: pg8000.native.Connection) -> list[str]:
    """Schemas the application's tables live in: owned by the master or pg_database_owner, not drizzle."""
    rows = conn.run(
        "SELECT n.nspname FROM pg_namespace n "
        "WHERE pg_get_userbyid(n.nspowner) IN (current_user, 'pg_database_owner') "
        "AND n.nspname <> :bookkeeping AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' "
        "ORDER BY n.nspname",
        bookkeeping=BOOKKEEPING_SCHEMA,
    )
    return [row[0] for row in rows]


def ensure_app_role(conn: pg8000.native.Connection, role: AppRole) -> list[str]:
    """Create or update the role and converge its grants (inside the caller's transaction).

    Returns the application schemas it was granted. Raises AppRoleError for a bad name and
    pg8000 errors for anything PostgreSQL refuses (the caller rolls back).
    """
    master = str(conn.run("SELECT current_user")[0][0])
    role.check(master)
    exists = conn.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=role.username)
    verb = "ALTER" if exists else "CREATE"
    conn.run(_statement(conn, f"{verb} ROLE %I WITH {ROLE_ATTRIBUTES} PASSWORD %L", role.username,
                        scram_verifier(role.password)))
    log.info("%s application role %s", "updated" if exists else "created", role.username)
    database = str(conn.run("SELECT current_database()")[0][0])
    statements = [
        ("REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC", database),
        ("REVOKE ALL ON DATABASE %I FROM %I", database, role.username),
        ("GRANT CONNECT ON DATABASE %I TO %I", database, role.username),
    ]
    schemas = app_schemas(conn)
    for schema in schemas:
        statements += [
            # Revoke-then-grant converges to exactly these privileges, whatever was granted by hand.
            ("REVOKE ALL ON SCHEMA %I FROM %I", schema, role.username),
            ("GRANT USAGE ON SCHEMA %I TO %I", schema, role.username),
            ("REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I", schema, role.username),
            (f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA %I TO %I", schema, role.username),
            ("REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I", schema, role.username),
            (f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA %I TO %I", schema, role.username),
            ("ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON TABLES FROM %I", master, schema, role.username),
            (f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {TABLE_PRIVILEGES} ON TABLES TO %I",
             master, schema, role.username),
            ("ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM %I", master, schema, role.username),
            (f"ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO %I",
             master, schema, role.username),
        ]
    for template, *args in statements:
        conn.run(_statement(conn, template, *args))
    log.info("application role %s granted DML on schemas %s", role.username, ", ".join(schemas) or "(none)")
    return schemas

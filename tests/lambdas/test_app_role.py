"""The application role on a real PostgreSQL 17: what the services may and may not do.

The migrator runs as an Aurora-like master: a non-superuser with CREATEROLE that owns the
database (Aurora's master is not a superuser either). The services' role is then exercised over
a real login, and every refusal is PostgreSQL's own SQLSTATE 42501 (insufficient_privilege).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pg8000.native
import pytest
from migrator.app_role import AppRole, AppRoleError, scram_verifier
from migrator.connect import connect
from migrator.journal import read_migrations
from migrator.runner import migrate

EXAMPLES = Path(__file__).resolve().parents[2] / "lambdas" / "migrator" / "example-migrations"
INSUFFICIENT_PRIVILEGE = "42501"
INVALID_PASSWORD = "28P01"


@pytest.fixture
def master(pg_server, database):
    """An Aurora-like master user (LOGIN CREATEROLE CREATEDB, not superuser) owning the test database."""
    name, password = f"m_{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    admin = pg_server.admin()
    try:
        admin.run(f"CREATE ROLE {name} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
        admin.run(f'ALTER DATABASE "{database}" OWNER TO {name}')
    finally:
        admin.close()
    return name, password


@pytest.fixture
def app_role():
    return AppRole(username=f"app_{uuid.uuid4().hex[:12]}", password=f"pw-{uuid.uuid4().hex}")


@pytest.fixture
def run_as_master(make_settings, master):
    def run(folder: Path, role: AppRole, **kwargs):
        conn = connect(make_settings(user=master[0], password=master[1]))
        try:
            return migrate(conn, read_migrations(folder), app_role=role, **kwargs)
        finally:
            conn.close()

    return run


def login(pg_server, database, role: AppRole, password: str | None = None) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        role.username,
        host=pg_server.host,
        port=pg_server.port,
        database=database,
        password=password if password is not None else role.password,
    )


def sqlstate(exc: pg8000.native.DatabaseError) -> str:
    return exc.args[0]["C"]


def acl_snapshot(pg_server, database, role: AppRole) -> dict:
    """Everything that decides the role's privileges, read as the superuser."""
    admin = pg_server.admin(database)
    try:
        return {
            "role": admin.run(
                "SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, "
                "rolconnlimit FROM pg_roles WHERE rolname = :r",
                r=role.username,
            ),
            "memberships": admin.run(
                "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = :r",
                r=role.username,
            ),
            "database": admin.run("SELECT datacl::text FROM pg_database WHERE datname = current_database()"),
            "schemas": admin.run("SELECT nspname, nspacl::text FROM pg_namespace ORDER BY nspname"),
            "relations": admin.run(
                "SELECT n.nspname, c.relname, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'S', 'v') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                "ORDER BY 1, 2"
            ),
            "defaults": admin.run(
                "SELECT pg_get_userbyid(defaclrole), defaclnamespace::regnamespace::text, defaclobjtype, "
                "defaclacl::text FROM pg_default_acl ORDER BY 1, 2, 3"
            ),
        }
    finally:
        admin.close()


def test_app_role_has_dml_on_every_table_and_nothing_more(
    pg_server, database, master, app_role, run_as_master, tmp_path, append_migration
):
    run_as_master(EXAMPLES, app_role)
    # A later migration creates a schema, a table and (serial) a sequence.
    folder = append_migration(
        shutil.copytree(EXAMPLES, tmp_path / "m"),
        "0003_usage",
        1763769600000,
        'CREATE SCHEMA "billing";\n--> statement-breakpoint\n'
        'CREATE TABLE "billing"."usage" ("id" serial PRIMARY KEY, "tokens" integer NOT NULL);',
    )
    assert run_as_master(folder, app_role).applied == ["0003_usage"]
    # A table the master creates by hand after the run (e.g. `drizzle-kit migrate`): default privileges.
    owner = pg_server.admin(database)
    owner.run(f"SET ROLE {master[0]}")
    owner.run("CREATE TABLE public.by_hand (id bigint GENERATED ALWAYS AS IDENTITY, note text)")
    owner.close()

    admin = pg_server.admin(database)
    tables = admin.run(
        "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname IN ('public', 'billing') ORDER BY 1"
    )
    tables = [t for (t,) in tables]
    assert tables == ["billing.usage", "public.agent_api_keys", "public.agents", "public.branches", "public.by_hand"]
    for table in tables:  # the server's own ACL evaluation, table by table
        granted = {
            p: admin.run("SELECT has_table_privilege(:r, :t, :p)", r=app_role.username, t=table, p=p)[0][0]
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
        }
        assert granted == {
            "SELECT": True,
            "INSERT": True,
            "UPDATE": True,
            "DELETE": True,
            "TRUNCATE": False,
            "REFERENCES": False,
            "TRIGGER": False,
        }, table
    owned = admin.run(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid) + "
        "(SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) FROM pg_roles r WHERE rolname = :r",
        r=app_role.username,
    )
    assert owned == [[0]]
    assert acl_snapshot(pg_server, database, app_role)["role"] == [[False, False, False, False, True, False, False, -1]]
    admin.close()

    app = login(pg_server, database, app_role)
    try:
        # Real DML on a first-migration table, the later migration's table (serial), and the by-hand one.
        app.run("INSERT INTO agents (slug, name, created_by) VALUES ('a', 'A', 'test')")
        app.run("UPDATE agents SET name = 'B' WHERE slug = 'a'")
        assert app.run("SELECT name FROM agents") == [["B"]]
        app.run("DELETE FROM agents WHERE slug = 'a'")
        app.run("INSERT INTO billing.usage (tokens) VALUES (7)")
        app.run("UPDATE billing.usage SET tokens = 8")
        assert app.run("SELECT id, tokens FROM billing.usage") == [[1, 8]]
        app.run("DELETE FROM billing.usage")
        app.run("INSERT INTO by_hand (note) VALUES ('x')")
        assert app.run("SELECT note FROM by_hand") == [["x"]]
        app.run("DELETE FROM by_hand")

        refused = {
            "CREATE TABLE": "CREATE TABLE public.evil (id int)",
            "CREATE TABLE in a later schema": "CREATE TABLE billing.evil (id int)",
            "CREATE TEMP TABLE": "CREATE TEMP TABLE evil (id int)",
            "CREATE SCHEMA": "CREATE SCHEMA evil",
            "DROP TABLE": "DROP TABLE agents",
            "ALTER TABLE": "ALTER TABLE agents ADD COLUMN evil int",
            "ALTER TABLE (later)": "ALTER TABLE billing.usage DROP COLUMN tokens",
            "TRUNCATE": "TRUNCATE branches",
            "CREATE ROLE": "CREATE ROLE evil LOGIN",
            "CREATE INDEX": "CREATE INDEX evil ON agents (name)",
            "read bookkeeping": "SELECT * FROM drizzle.__drizzle_migrations",
        }
        for what, statement in refused.items():
            with pytest.raises(pg8000.native.DatabaseError) as info:
                app.run(statement)
            assert sqlstate(info.value) == INSUFFICIENT_PRIVILEGE, (what, info.value)
    finally:
        app.close()


def test_rerun_is_idempotent_and_removes_hand_granted_extras(pg_server, database, master, app_role, run_as_master):
    run_as_master(EXAMPLES, app_role)
    first = acl_snapshot(pg_server, database, app_role)
    assert run_as_master(EXAMPLES, app_role).summary()["app_role"] == app_role.username
    assert acl_snapshot(pg_server, database, app_role) == first

    admin = pg_server.admin(database)
    admin.run(f"GRANT CREATE ON SCHEMA public TO {app_role.username}")
    admin.run(f"GRANT TRUNCATE ON agents TO {app_role.username}")
    admin.run(f'GRANT TEMPORARY ON DATABASE "{database}" TO {app_role.username}')
    admin.run(f"ALTER ROLE {app_role.username} CREATEDB")
    assert acl_snapshot(pg_server, database, app_role) != first
    admin.close()
    run_as_master(EXAMPLES, app_role)
    assert acl_snapshot(pg_server, database, app_role) == first
    login(pg_server, database, app_role).close()


def test_rotating_the_password_takes_effect(pg_server, database, master, app_role, run_as_master):
    run_as_master(EXAMPLES, app_role)
    login(pg_server, database, app_role).close()
    rotated = AppRole(username=app_role.username, password=f"rotated-{uuid.uuid4().hex}")
    assert run_as_master(EXAMPLES, rotated).applied == []  # nothing to migrate, the role is still converged
    login(pg_server, database, rotated).close()
    with pytest.raises(pg8000.native.DatabaseError) as info:
        login(pg_server, database, app_role)
    assert sqlstate(info.value) == INVALID_PASSWORD


def test_password_is_never_in_statement_text(pg_server, database, master, run_as_master):
    """Even with every statement logged, the log shows a SCRAM verifier, never the password."""
    tricky = AppRole(
        username=f"app_{uuid.uuid4().hex[:12]}", password="it's $$ a \\'; DROP TABLE agents; --" + uuid.uuid4().hex
    )
    admin = pg_server.admin()
    admin.run(f"ALTER DATABASE \"{database}\" SET log_statement = 'all'")
    admin.close()
    log = pg_server.root / "pg.log"
    before = log.stat().st_size
    run_as_master(EXAMPLES, tricky)
    logged = log.read_bytes()[before:].decode("utf-8", "replace")
    assert f"ROLE {tricky.username} WITH LOGIN" in logged and "PASSWORD 'SCRAM-SHA-256$4096:" in logged
    assert tricky.password not in logged and "DROP TABLE agents" not in logged
    login(pg_server, database, tricky).close()  # the quotes and backslash were not an injection


def test_concurrent_runs_apply_each_migration_once_and_converge_the_role(
    pg_server, database, master, app_role, make_settings, race
):
    results, errors, _ = race(make_settings(user=master[0], password=master[1]), app_role=app_role)
    assert errors == []
    assert results == [[]] * 7 + [["0000_t", "0001_data"]]
    app = login(pg_server, database, app_role)
    assert app.run("SELECT n FROM events") == [[1]]
    app.close()
    admin = pg_server.admin(database)
    assert admin.run("SELECT count(*) FROM drizzle.__drizzle_migrations") == [[2]]
    admin.close()


def test_unusable_role_names_are_refused_before_anything_is_applied(pg_server, database, master, run_as_master):
    for name, message in [
        (master[0], "is the master user"),
        ('app"; DROP TABLE x; --', "must be 1-63 of a-z, 0-9 and _"),
        ("pg_app", "is reserved"),
        ("rdsadmin", "is reserved"),
    ]:
        with pytest.raises(AppRoleError, match=message) as info:
            run_as_master(EXAMPLES, AppRole(username=name, password="secret-value-1"))
        assert "secret-value-1" not in str(info.value)
    admin = pg_server.admin(database)
    assert admin.run("SELECT to_regclass('public.agents')") == [[None]]  # rolled back with the batch
    admin.close()


def test_scram_verifier_matches_what_postgresql_computes(pg_server):
    """A login with the password works against our verifier (checked above); its format is PostgreSQL's."""
    verifier = scram_verifier("pw", salt=b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    stored, server = verifier.split("$")[2].split(":")
    assert len(stored) == len(server) == 44  # base64 of 32-byte SHA-256 keys

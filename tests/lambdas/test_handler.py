"""The Lambda entry point end to end: Secrets Manager (moto server) → verified TLS → PostgreSQL."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import boto3
import pytest
from migrator import handler
from migrator.handler import ConfigError, lambda_handler
from migrator.runner import DriftError

EXAMPLES = Path(__file__).resolve().parents[2] / "lambdas" / "migrator" / "example-migrations"
TAGS = ["0000_initial_agents", "0001_branches", "0002_agent_slug_index"]
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "eu-west-1"}  # fmt: skip


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def secrets(moto_endpoint, monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    return boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name="eu-west-1")


@pytest.fixture
def lambda_env(pg_server, database, secrets, monkeypatch, request):
    arn = secrets.create_secret(
        Name=f"hebo/test/db-{database}",
        SecretString=json.dumps({"username": pg_server.user, "password": pg_server.password,
                                 "engine": "postgres"}),
    )["ARN"]  # fmt: skip
    app_user = f"app_{database}"
    app_arn = secrets.create_secret(
        Name=f"hebo/test/app-{database}",
        SecretString=json.dumps({"username": app_user, "password": "app-password-1"}),
    )["ARN"]
    env = {"DB_SECRET_ARN": arn, "DB_APP_SECRET_ARN": app_arn, "DB_APP_USER": app_user,
           "DB_HOST": pg_server.host, "DB_PORT": str(pg_server.port),
           "DB_NAME": database, "MIGRATIONS_DIR": str(EXAMPLES),
           "CA_BUNDLE": str(pg_server.ca_file)}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_dry_run_then_migrate_then_noop(pg_server, database, lambda_env, secrets, caplog):
    caplog.set_level(logging.INFO)
    dry = lambda_handler({"dry_run": True}, None, secrets_client=secrets)
    assert dry["pending"] == TAGS and dry["applied"] == [] and dry["dry_run"] is True

    summary = lambda_handler({}, None, secrets_client=secrets)
    assert set(summary) == {"applied", "skipped", "duration_ms", "app_role"}
    assert summary["applied"] == TAGS and summary["skipped"] == 0
    assert summary["app_role"] == lambda_env["DB_APP_USER"]
    assert isinstance(summary["duration_ms"], int) and summary["duration_ms"] >= 0
    assert json.dumps(summary) in caplog.text  # the summary is logged as JSON

    again = lambda_handler({"tf": {"action": "update"}}, None, secrets_client=secrets)
    assert (again["applied"], again["skipped"]) == ([], 3)
    conn = pg_server.admin(database)
    assert conn.run("SELECT count(*) FROM drizzle.__drizzle_migrations") == [[3]]
    conn.close()


def test_default_client_reads_the_secret_through_boto3(lambda_env, moto_endpoint, monkeypatch):
    # No injected client: the handler builds its own, as in Lambda (endpoint pointed at moto).
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    assert lambda_handler({}, None)["applied"] == TAGS


def test_terraform_delete_is_a_noop_without_touching_anything(monkeypatch):
    monkeypatch.delenv("DB_SECRET_ARN", raising=False)

    class NoClient:
        def get_secret_value(self, **_):
            raise AssertionError("delete must not read secrets")

    result = lambda_handler({"tf": {"action": "delete", "prev_input": {}}}, None, secrets_client=NoClient())
    assert result["applied"] == [] and result["action"] == "delete"


def test_drift_fails_the_invocation_and_override_allows_it(
    lambda_env, secrets, tmp_path, write_migrations, monkeypatch
):
    folder = write_migrations(tmp_path / "m", [("0000_a", 1000, "CREATE TABLE a (id int);")])
    monkeypatch.setenv("MIGRATIONS_DIR", str(folder))
    lambda_handler({}, None, secrets_client=secrets)
    write_migrations(
        folder, [("0000_a", 1000, "CREATE TABLE a (id bigint);"), ("0001_b", 2000, "CREATE TABLE b (id int);")]
    )
    with pytest.raises(DriftError, match="0000_a.sql"):
        lambda_handler({}, None, secrets_client=secrets)
    result = lambda_handler({"allow_drift": True}, None, secrets_client=secrets)
    assert result["applied"] == ["0001_b"] and result["drift"] == ["0000_a.sql"]


def test_app_role_comes_from_its_secret_and_logs_in(pg_server, database, lambda_env, secrets):
    import pg8000.native

    lambda_handler({}, None, secrets_client=secrets)
    app = pg8000.native.Connection(
        lambda_env["DB_APP_USER"],
        password="app-password-1",
        host=pg_server.host,
        port=pg_server.port,
        database=database,
    )
    assert app.run("SELECT count(*) FROM agents") == [[0]]
    app.close()


def test_app_secret_username_must_be_the_configured_role(lambda_env, secrets, monkeypatch):
    arn = secrets.create_secret(
        Name="hebo/test/app-other", SecretString=json.dumps({"username": "someone_else", "password": "hunter2-app"})
    )["ARN"]
    monkeypatch.setenv("DB_APP_SECRET_ARN", arn)
    with pytest.raises(ConfigError, match=r"has username 'someone_else' but the services log in as 'app_t_") as info:
        lambda_handler({}, None, secrets_client=secrets)
    assert "hunter2-app" not in str(info.value)
    monkeypatch.delenv("DB_APP_USER")
    with pytest.raises(ConfigError, match="DB_APP_USER is required"):
        lambda_handler({}, None, secrets_client=secrets)


def test_bad_secret_shape_names_the_secret_not_its_value(lambda_env, secrets, monkeypatch):
    arn = secrets.create_secret(Name="hebo/test/bad", SecretString='{"user": "x", "pw": "hunter2"}')
    monkeypatch.setenv("DB_SECRET_ARN", arn["ARN"])
    with pytest.raises(ConfigError, match="must be a JSON object with 'username' and 'password'") as info:
        lambda_handler({}, None, secrets_client=secrets)
    assert "hunter2" not in str(info.value)


def test_missing_env_and_bad_flags_are_config_errors(lambda_env, secrets, monkeypatch):
    with pytest.raises(ConfigError, match="'dry_run' must be true or false"):
        lambda_handler({"dry_run": "yes"}, None, secrets_client=secrets)
    monkeypatch.delenv("DB_HOST")
    with pytest.raises(ConfigError, match="DB_HOST is required"):
        lambda_handler({}, None, secrets_client=secrets)


def test_default_paths_point_into_the_package():
    assert handler.DEFAULT_CA_BUNDLE.is_file()  # lambdas/migrator/ca/rds-combined-ca.pem
    assert handler.DEFAULT_MIGRATIONS_DIR.parent == handler.DEFAULT_CA_BUNDLE.parent.parent

"""Lambda entry point: fetch credentials, connect with verified TLS, migrate, report JSON.

Environment (set by the data stack):
- ``DB_SECRET_ARN`` — Secrets Manager secret whose SecretString is JSON with ``username`` and
  ``password`` (the shape of an RDS-managed master user secret; extra keys are ignored).
- ``DB_APP_SECRET_ARN`` — the application role's secret, same JSON shape; the migrator creates or
  updates that role and its grants after the migrations (app_role.py). Read at run time only.
- ``DB_APP_USER`` — the role name the services are configured with (``PG_USER``); the secret's
  ``username`` must equal it, so a hand-edited secret fails the deploy instead of every login.
- ``DB_HOST``, ``DB_PORT`` (default 5432), ``DB_NAME`` — the writer (or proxy) endpoint.
- ``MIGRATIONS_DIR`` — drizzle-kit folder; default ``<package root>/migrations``.
- ``CA_BUNDLE`` — PEM trust anchors; default ``<package root>/ca/rds-combined-ca.pem``.
- optional ``DB_CONNECT_TIMEOUT`` (s, default 20) and ``DB_CONNECT_ATTEMPTS`` (default 6).

Event: ``{}`` migrates; ``{"dry_run": true}`` lists pending without applying;
``{"allow_drift": true}`` tolerates edited applied migrations. ``aws_lambda_invocation`` in CRUD
lifecycle mode adds ``{"tf": {"action": "create"|"update"|"delete"}}``; delete is a no-op (there
is nothing to un-migrate when the stack goes away). Other keys (e.g. trigger hashes) are ignored.
A failure raises, so the invocation — and the deploy — fails before services roll.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .app_role import AppRole
from .connect import ConnectionSettings, connect
from .journal import read_migrations
from .runner import dry_run, migrate

log = logging.getLogger("migrator")

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIGRATIONS_DIR = PACKAGE_ROOT / "migrations"
DEFAULT_CA_BUNDLE = PACKAGE_ROOT / "ca" / "rds-combined-ca.pem"


class ConfigError(ValueError):
    """The function is mis-configured (missing env var, bad secret, bad event)."""


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def _flag(event: Mapping[str, Any], name: str) -> bool:
    value = event.get(name, False)
    if not isinstance(value, bool):
        raise ConfigError(f"event field {name!r} must be true or false, got {value!r}")
    return value


def fetch_credentials(secret_arn: str, client: Any) -> tuple[str, str]:
    """Read ``username``/``password`` at run time, so they never live in env vars or state."""
    response = client.get_secret_value(SecretId=secret_arn)
    try:
        secret = json.loads(response["SecretString"])
        return str(secret["username"]), str(secret["password"])
    except (KeyError, TypeError, ValueError) as exc:
        # Never echo the secret value; name only what is wrong with its shape.
        raise ConfigError(
            f"secret {secret_arn} must be a JSON object with 'username' and 'password'"
        ) from exc


def app_role_from_env(env: Mapping[str, str], client: Any) -> AppRole:
    """The application role from its secret; its username must be the configured DB_APP_USER."""
    arn, expected = _require(env, "DB_APP_SECRET_ARN"), _require(env, "DB_APP_USER")
    username, password = fetch_credentials(arn, client)
    if username != expected:
        raise ConfigError(
            f"secret {arn} has username {username!r} but the services log in as {expected!r} (DB_APP_USER): "
            "regenerate it with `ops secrets rotate DbAppCredentials`"
        )
    return AppRole(username=username, password=password)


def settings_from_env(env: Mapping[str, str], client: Any) -> ConnectionSettings:
    """Build connection settings from the Lambda environment and the secret."""
    user, password = fetch_credentials(_require(env, "DB_SECRET_ARN"), client)
    try:
        port = int(env.get("DB_PORT", "5432"))
        timeout = float(env.get("DB_CONNECT_TIMEOUT", "20"))
        attempts = int(env.get("DB_CONNECT_ATTEMPTS", "6"))
    except ValueError as exc:
        raise ConfigError(f"bad numeric environment variable: {exc}") from exc
    return ConnectionSettings(
        host=_require(env, "DB_HOST"),
        port=port,
        database=_require(env, "DB_NAME"),
        user=user,
        password=password,
        ca_bundle=Path(env.get("CA_BUNDLE") or DEFAULT_CA_BUNDLE),
        connect_timeout=timeout,
        attempts=attempts,
    )


def run(
    event: Mapping[str, Any] | None,
    *,
    env: Mapping[str, str],
    secrets_client: Any,
) -> dict[str, Any]:
    """Handle one invocation; pure apart from the database and the injected client."""
    started = time.monotonic()
    event = dict(event or {})
    action = (event.get("tf") or {}).get("action") if isinstance(event.get("tf"), dict) else None
    if action == "delete":
        log.info("terraform delete: nothing to do")
        return {"applied": [], "skipped": 0, "duration_ms": 0, "action": "delete"}
    want_dry_run = _flag(event, "dry_run")
    allow_drift = _flag(event, "allow_drift")
    # Read the folder before touching the network: a broken bundle fails fast and clearly.
    migrations = read_migrations(Path(env.get("MIGRATIONS_DIR") or DEFAULT_MIGRATIONS_DIR))
    settings = settings_from_env(env, secrets_client)
    app_role = None if want_dry_run else app_role_from_env(env, secrets_client)
    conn = connect(settings)
    try:
        if want_dry_run:
            result = dry_run(conn, migrations)
        else:
            result = migrate(conn, migrations, allow_drift=allow_drift, app_role=app_role)
    finally:
        conn.close()
    summary = result.summary()
    summary["duration_ms"] = int((time.monotonic() - started) * 1000)
    log.info("%s", json.dumps(summary))
    return summary


def lambda_handler(
    event: Mapping[str, Any] | None, context: Any = None, *, secrets_client: Any = None
) -> dict[str, Any]:
    """AWS Lambda entry point (``migrator.handler.lambda_handler``)."""
    log.setLevel(logging.INFO)  # "migrator" and its children; the root logger is left alone
    if secrets_client is None:
        import boto3  # provided by the Lambda runtime; imported lazily so tests can inject

        secrets_client = boto3.client("secretsmanager")
    try:
        return run(event, env=os.environ, secrets_client=secrets_client)
    except Exception as exc:
        log.error("%s", json.dumps({"error": type(exc).__name__, "message": str(exc)}))
        raise

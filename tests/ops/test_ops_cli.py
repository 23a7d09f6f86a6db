"""CLI conventions: one-line errors naming the fix, exit codes, --help, no cdktf import."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from ops.aws import NO_CREDENTIALS, explain

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "argv",
    [
        ["secrets", "list", "--stage", "dev"],
        ["bootstrap", "--region", "us-east-1"],
        ["zone"],
    ],
)
def test_no_credentials_is_one_clear_line(no_aws, run, argv):
    result = run(*argv)
    assert (result.code, result.out, result.err) == (1, "", f"ops: {NO_CREDENTIALS}\n")


def test_unreachable_endpoint_is_one_clear_line(run, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    result = run("zone")
    assert result.code == 1
    assert result.err.startswith(f"ops: cannot reach http://127.0.0.1:{port}")
    assert result.err.endswith("check the network, the region, or AWS_ENDPOINT_URL\n")
    assert result.err.count("\n") == 1


def _client_error(code: str, status: int = 400, op: str = "PutSecretValue") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, op)


@pytest.mark.parametrize(
    "code, expected",
    [
        (
            "AccessDeniedException",
            "access denied on PutSecretValue: the caller needs that IAM permission (see ops/README.md)",
        ),
        (
            "UnrecognizedClientException",
            "AWS rejected the credentials (UnrecognizedClientException): check AWS_PROFILE",
        ),
        ("ExpiredTokenException", "AWS credentials expired (ExpiredTokenException): refresh them"),
        ("ThrottlingException", "AWS throttled PutSecretValue (ThrottlingException): wait a moment and retry"),
        ("LimitExceededException", "PutSecretValue failed: LimitExceededException: m"),
    ],
)
def test_aws_errors_map_to_fixes(code, expected):
    assert str(explain(_client_error(code))).startswith(expected)
    assert explain(_client_error(code)).exit_code == 1


def test_python_m_ops_subprocess(no_aws):
    """The real entry point: --help, a usage error's exit code, and no cdktf import."""
    env = {k: v for k, v in os.environ.items()}
    help_ = subprocess.run(
        [sys.executable, "-m", "ops", "--help"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert help_.returncode == 0 and "examples:" in help_.stdout and "secrets" in help_.stdout

    bad = subprocess.run(
        [sys.executable, "-m", "ops", "secrets", "list", "--stage", "Prod"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert (
        bad.stderr.startswith("ops: invalid --stage 'Prod': must be a lowercase DNS label")
        and bad.stderr.count("\n") == 1
    )

    nocreds = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ops.cli import main; code = main(['zone']); "
            "assert not [m for m in sys.modules if m.startswith('cdktf')]; sys.exit(code)",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (nocreds.returncode, nocreds.stderr) == (1, f"ops: {NO_CREDENTIALS}\n")


@pytest.mark.parametrize("app", ["hebo-x", "Hebo", "a" * 13])
def test_app_follows_the_settings_rule(run, app):
    """`--app` is checked by the same rule as HEBO_APP: ops never addresses names the stacks cannot build."""
    result = run("secrets", "list", "--stage", "pr-1", "--app", app)
    assert result.code == 2
    assert (
        result.err.startswith(f"ops: invalid --app {app!r}: must be 1-12 lowercase letters or digits")
        and result.err.count("\n") == 1
    )

"""Fixtures for the `ops` tests: one real moto server per session, reset before every test.

The commands reach moto only through the standard AWS environment variables (AWS_ENDPOINT_URL,
fake keys, AWS_DEFAULT_REGION), exactly as they would reach any other emulator or AWS itself.
Every HEBO_*, CDKTF_* and AWS_* variable of the developer's shell is removed first, so a real profile
can never be used by accident.
"""

from __future__ import annotations

import io
import logging
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ops import cli
from config.secrets import SECRET_NAMES, secret_path

STAGE = "dev"  # owns all nine secrets; previews own only the database's (test_ops_secrets.py)
APP = "hebo"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for key in list(os.environ):
        if key.startswith(("AWS_", "HEBO_", "CDKTF_")):
            monkeypatch.delenv(key)
    # No shared config/credentials files and no instance-metadata probe (slow, and not ours).
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> str:
    """Standard AWS env vars pointing at moto, with moto's state reset."""
    _isolate_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return moto_endpoint


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No credentials anywhere and no endpoint override (undoes aws_env)."""
    _isolate_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `ops` in-process: run("secrets", "list", "--stage", "dev", stdin="value")."""

    def _run(*argv: str, stdin: str | None = None) -> Result:
        capsys.readouterr()
        stream = io.StringIO(stdin if stdin is not None else "")
        code = cli.main(list(argv), stdin=stream)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


@pytest.fixture
def sm(aws_env: str) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def containers(sm: Any) -> dict[str, str]:
    """The stage's empty secret containers, as the data stack creates them."""
    paths = {name: secret_path(APP, STAGE, name) for name in SECRET_NAMES}
    for name, path in paths.items():
        sm.create_secret(Name=path, Description=f"{name} (test)")
    return paths

"""The synth-time Lambda zip: reproducible, complete, cached, and runnable on its own."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lambdas.migrator import bundle as bundle_module
from lambdas.migrator.bundle import BundleError, build_bundle

EXAMPLES = Path(__file__).resolve().parents[2] / "lambdas" / "migrator" / "example-migrations"


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Two independent builds (each runs pip into its own out_dir)."""
    return (build_bundle(EXAMPLES, tmp_path_factory.mktemp("a")),
            build_bundle(EXAMPLES, tmp_path_factory.mktemp("b")))  # fmt: skip


def test_two_builds_are_byte_identical(two_builds):
    first, second = two_builds
    assert first.zip_path != second.zip_path
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()
    assert first.code_sha256 == hashlib.sha256(first.zip_path.read_bytes()).hexdigest()
    assert (first.code_sha256, first.code_hash, first.migrations_sha256) == (
        second.code_sha256,
        second.code_hash,
        second.migrations_sha256,
    )
    assert first.source_code_hash == base64.b64encode(hashlib.sha256(first.zip_path.read_bytes()).digest()).decode()


def test_zip_contents(two_builds):
    with zipfile.ZipFile(two_builds[0].zip_path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    for expected in ["migrator/__init__.py", "migrator/handler.py", "migrator/runner.py",
                     "migrator/connect.py", "migrator/journal.py", "ca/rds-combined-ca.pem",
                     "migrations/meta/_journal.json", "migrations/0000_initial_agents.sql",
                     "migrations/0001_branches.sql", "migrations/0002_agent_slug_index.sql",
                     "pg8000/native.py", "scramp/__init__.py", "asn1crypto/__init__.py",
                     "dateutil/__init__.py", "six.py"]:  # fmt: skip
        assert expected in names
    assert not [n for n in names if n.endswith((".pyc", ".pyo")) or "__pycache__" in n]
    assert not [n for n in names if n.startswith(("boto3/", "botocore/", "bin/"))]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert "pg8000-1.31.6.dist-info/METADATA" in names


def test_cached_dependencies_skip_pip(two_builds, monkeypatch):
    def no_pip(args):
        raise AssertionError("pip must not run when the requirements hash is cached")

    monkeypatch.setattr(bundle_module, "_run_pip", no_pip)
    out_dir = two_builds[0].zip_path.parent
    again = build_bundle(EXAMPLES, out_dir)
    assert again == two_builds[0]


def test_migrations_change_only_moves_the_migrations_hash(two_builds, tmp_path):
    folder = tmp_path / "m"
    shutil.copytree(EXAMPLES, folder)
    (folder / "0002_agent_slug_index.sql").write_text("SELECT 1;")
    (folder / "meta" / "0000_snapshot.json").write_text("{}")  # not shipped, not hashed
    changed = build_bundle(folder, two_builds[0].zip_path.parent)
    assert changed.code_hash == two_builds[0].code_hash
    assert changed.migrations_sha256 != two_builds[0].migrations_sha256
    assert changed.code_sha256 != two_builds[0].code_sha256
    with zipfile.ZipFile(changed.zip_path) as zf:
        assert "migrations/meta/0000_snapshot.json" not in zf.namelist()


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: shutil.rmtree(d), "migrations folder .* does not exist"),
        (lambda d: (d / "0001_branches.sql").unlink(), "refers to missing file 0001_branches.sql"),
        (lambda d: (d / "meta" / "_journal.json").write_text("[]"), "expected an object"),
    ],
)
def test_bad_migrations_folder_fails_clearly(tmp_path, break_it, message):
    folder = tmp_path / "m"
    shutil.copytree(EXAMPLES, folder)
    break_it(folder)
    with pytest.raises(BundleError, match=f"invalid migrations folder: .*{message}"):
        build_bundle(folder, tmp_path / "out")


def test_bundle_runs_on_its_own(two_builds, tmp_path, pg_server, database):
    """Unzipped, with no site-packages at all (-S), the bundled handler migrates the database."""
    root = tmp_path / "task"
    with zipfile.ZipFile(two_builds[0].zip_path) as zf:
        zf.extractall(root)
    script = f"""
import json, os, sys
sys.path.insert(0, {str(root)!r})
os.environ.update(DB_SECRET_ARN="arn:test", DB_APP_SECRET_ARN="arn:app", DB_APP_USER="app_{database}",
                  DB_HOST={pg_server.host!r},
                  DB_PORT="{pg_server.port}", DB_NAME={database!r},
                  CA_BUNDLE={str(pg_server.ca_file)!r})
import pg8000
from migrator.handler import lambda_handler
class Secrets:
    def get_secret_value(self, SecretId):
        if SecretId == "arn:app":  # the application role: SCRAM verifier computed by the bundled scramp
            return {{"SecretString": json.dumps({{"username": "app_{database}", "password": "app-pw"}})}}
        return {{"SecretString": json.dumps({{"username": {pg_server.user!r},
                                             "password": {pg_server.password!r}}})}}
out = lambda_handler({{}}, None, secrets_client=Secrets())
print(json.dumps({{"pg8000": pg8000.__file__, "out": out}}))
"""
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["pg8000"].startswith(str(root))
    assert result["out"]["applied"] == ["0000_initial_agents", "0001_branches", "0002_agent_slug_index"]
    assert result["out"]["app_role"] == f"app_{database}"

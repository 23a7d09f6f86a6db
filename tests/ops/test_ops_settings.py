"""One resolver: with `app` and `zone` in cdktf.json's context, `ops` and the stacks agree on names.

The stacks are synthesized with the same context (hebo_testing, `Settings.load`); the moto resources
`ops` must find are created from the synthesized JSON (secret names, the bastion's tags), never from
a name the test or `ops` computes, so any disagreement about `app`, `stage` or `zone` fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from config.settings import Settings, project_context
from modules.cdk_flavour import without_settings

REPO = Path(__file__).resolve().parents[2]
CONTEXT = {"app": "acme", "zone": "example.com"}
STAGE = "dev"  # owns all nine secrets and has a bastion
AMI = "ami-12c6146b"  # one of moto's built-in images


@pytest.fixture(scope="module")
def synthesized() -> dict[str, dict[str, Any]]:
    """The dev stage's data and network stacks, synthesized with CONTEXT as cdktf.json context."""
    from hebo_testing import build_platform

    platform = build_platform(STAGE, {"HEBO_BACKEND": "local"}, CONTEXT)
    outdir = Path(platform.app.outdir) / "stacks"
    return {name: json.loads((outdir / name / "cdk.tf.json").read_text()) for name in ("data", "network")}


@pytest.fixture
def acme_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """CONTEXT as the cdktf CLI hands cdktf.json's context to a process (CDKTF_CONTEXT_JSON)."""
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", json.dumps(CONTEXT))


def _secret_names(synthesized: dict[str, dict[str, Any]]) -> list[str]:
    names = sorted(r["name"] for r in synthesized["data"]["resource"]["aws_secretsmanager_secret"].values())
    assert len(names) == 9  # dev owns every secret of the catalog
    return names


def test_stacks_name_the_secrets_after_the_context_app(synthesized):
    assert all(name.startswith("acme/dev/") for name in _secret_names(synthesized))


def test_ops_secrets_set_and_list_address_the_stacks_secrets(acme_context, run, synthesized):
    sm = boto3.client("secretsmanager", region_name="us-east-1")
    for name in _secret_names(synthesized):  # the containers exactly as the data stack creates them
        sm.create_secret(Name=name)
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin="gsk-test-value\n")
    assert (result.code, result.err) == (0, ""), result.err
    assert result.out.startswith("secret acme/dev/GroqApiKey: value set (version ")
    listed = run("secrets", "list", "--stage", STAGE)
    assert "not set:" in listed.out and "under acme/dev/ not set" in listed.out, listed.out
    assert sm.describe_secret(SecretId="acme/dev/GroqApiKey")["VersionIdsToStages"]


def test_ops_bastion_finds_the_instance_the_network_stack_tags(acme_context, run, synthesized):
    network = synthesized["network"]
    default_tags = network["provider"]["aws"][0]["default_tags"][0]["tags"]
    bastions = [r for r in network["resource"]["aws_instance"].values() if r["tags"]["role"] == "bastion"]
    assert len(bastions) == 1 and default_tags["app"] == "acme"
    tags = [{"Key": k, "Value": v} for k, v in {**default_tags, **bastions[0]["tags"]}.items()]
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t4g.nano",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )["Instances"][0]["InstanceId"]
    result = run("bastion", "stop", "--stage", STAGE)
    assert (result.code, result.out, result.err) == (0, f"{instance}\n", "")


def test_flags_override_the_context_and_say_so(acme_context, run):
    result = run("secrets", "list", "--stage", STAGE, "--app", "other")
    assert result.code == 1 and "secrets under other/dev/ not set" in result.out, result.out + result.err
    bad = run("secrets", "list", "--stage", STAGE, "--app", "Bad")
    assert bad.code == 2 and bad.err.startswith("ops: invalid --app 'Bad': ")


def test_a_bad_context_value_names_the_context_key(run, monkeypatch):
    monkeypatch.setenv("CDKTF_CONTEXT_JSON", json.dumps({"app": "Acme"}))
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 2
    assert result.err.startswith("ops: invalid cdktf context key 'app' (HEBO_APP) 'Acme': must be 1-12 lowercase")


def test_resolver_reads_cdktf_json_and_reports_each_source(tmp_path):
    cdktf_json = tmp_path / "cdktf.json"
    cdktf_json.write_text(json.dumps({"app": "bin/cdktf-app", "context": {**CONTEXT, "enable_caa": False}}))
    env = {"HEBO_ZONE": "example.org"}
    settings = Settings.load(env, project_context(env, cdktf_json), {"stage": ("--stage", "pr-7")})
    assert (settings.app, settings.zone, settings.stage, settings.enable_caa) == ("acme", "example.org", "pr-7", False)
    assert {k: settings.sources[k] for k in ("stage", "app", "zone", "enable_caa", "region")} == {
        "stage": "--stage",
        "app": "context:app",
        "zone": "HEBO_ZONE",
        "enable_caa": "context:enable_caa",
        "region": "default",
    }
    assert settings.names.secret("DbPassword") == "acme/pr-7/DbPassword"  # a preview owns its database secrets
    # The cdktf CLI's copy of the context wins over the file (the CLI read the file itself).
    assert project_context({"CDKTF_CONTEXT_JSON": '{"app": "cli"}'}, cdktf_json) == {"app": "cli"}
    assert project_context({}, tmp_path / "missing.json") == {}
    cdktf_json.write_text("{not json")
    with pytest.raises(ValueError, match=rf"^invalid {cdktf_json}: not valid JSON \("):
        project_context({}, cdktf_json)


def test_python_m_ops_reads_the_projects_cdktf_json(aws_env, tmp_path):
    """The real entry point on a copy of the repository whose cdktf.json has CONTEXT: no variable
    tells `ops` the app, yet it addresses acme/dev/… (exit 1: no container exists there)."""
    for package in ("config", "ops"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "lambdas").symlink_to(REPO / "lambdas")  # the default HEBO_MIGRATIONS_DIR must exist
    document = json.loads((REPO / "cdktf.json").read_text())
    (tmp_path / "cdktf.json").write_text(json.dumps({**document, "context": CONTEXT}))
    env = without_settings(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "ops", "secrets", "list", "--stage", STAGE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stderr) == (1, ""), result.stderr
    assert "secrets under acme/dev/ not set" in result.stdout, result.stdout

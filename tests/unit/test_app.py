"""The app as a whole: backends, default tags, Terraform version, the CLI entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from synth_support import Synth

from modules.cdk_flavour import without_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dns", "network", "data", "compute", "edge")


def test_terraform_version_is_pinned(any_stage: Synth) -> None:
    for name in STACKS:
        assert any_stage.stack(name)["terraform"]["required_version"] == ">= 1.11.0, < 1.12.0"


@pytest.mark.parametrize("stack", STACKS)
def test_s3_backend_block(preview: Synth, stack: str) -> None:
    scope = "global" if stack == "dns" else "pr-42"
    assert preview.stack(stack)["terraform"]["backend"] == {
        "s3": {
            "bucket": "hebo-terraform-state",
            "key": f"{scope}/{stack}.tfstate",
            "region": "us-east-1",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_dynamodb_lock_is_an_explicit_opt_in(synth_variant) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_STATE_LOCK_TABLE="acme-locks")
    for stack in STACKS:
        backend = synth.stack(stack)["terraform"]["backend"]["s3"]
        assert (backend["dynamodb_table"], backend["use_lockfile"]) == ("acme-locks", True)
        for block in synth.stack(stack).get("data", {}).get("terraform_remote_state", {}).values():
            assert "dynamodb_table" not in block["config"]


def test_no_remote_state_carries_deprecated_arguments(any_stage: Synth) -> None:
    """cdktf copies `dynamodb_table` into consumers; Terraform >= 1.11 warns and output parsing breaks."""
    seen = 0
    for name in STACKS:
        for ref, block in any_stage.stack(name).get("data", {}).get("terraform_remote_state", {}).items():
            seen += 1
            assert block["backend"] == "s3"
            assert set(block["config"]) == {"bucket", "key", "region", "encrypt"}, (name, ref)
    assert seen >= 3  # data<-network, compute<-network/data


def test_cloud_backend_block(synth_variant) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_BACKEND="cloud", HEBO_TFC_ORGANIZATION="hebo-team")
    for stack in STACKS:
        scope = "global" if stack == "dns" else "pr-42"
        terraform = synth.stack(stack)["terraform"]
        assert "backend" not in terraform
        assert terraform["cloud"] == {
            "hostname": "app.terraform.io",
            "organization": "hebo-team",
            "workspaces": {"name": f"hebo-{scope}-{stack}"},
        }
    remote = synth.stack("data")["data"]["terraform_remote_state"]["cross-stack-reference-input-network"]
    assert remote["backend"] == "remote"
    assert remote["config"]["workspaces"] == {"name": "hebo-pr-42-network"}


def test_local_backend_block(synth_variant) -> None:
    """State paths are relative to the stack directory: state sits in terraform-state/ beside the
    synth output (the checkout for the default cdktf.out), and every consumer's
    terraform_remote_state names the same file as its producer's backend."""
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_BACKEND="local")
    state_files = {}
    for stack in STACKS:
        scope = "global" if stack == "dns" else "pr-42"
        path = f"../../../terraform-state/{scope}/{stack}.tfstate"
        assert synth.stack(stack)["terraform"]["backend"] == {"local": {"path": path}}
        resolved = (synth.outdir / "stacks" / stack / path).resolve()
        assert resolved == synth.outdir.parent / "terraform-state" / scope / f"{stack}.tfstate"
        state_files[stack] = path
    consumers = 0
    for stack in STACKS:
        for name, remote in synth.stack(stack).get("data", {}).get("terraform_remote_state", {}).items():
            producer = name.removeprefix("cross-stack-reference-input-")
            assert remote["backend"] == "local"
            assert remote["config"]["path"] == state_files[producer], (stack, name)
            consumers += 1
    assert consumers == 3  # data<-network; compute<-network, data (no stage stack reads dns; edge reads no stack)


@pytest.mark.parametrize("stack", STACKS)
def test_default_tags_on_every_provider(production: Synth, stack: str) -> None:
    providers = production.stack(stack)["provider"]["aws"]
    assert providers, stack
    for provider in providers:
        assert provider["default_tags"] == [
            {
                "tags": {
                    "app": "hebo",
                    "stage": "global" if stack == "dns" else "production",
                    "stack": stack,
                    "managed-by": "cdktf",
                }
            }
        ]


def _run_main(env: dict[str, str], outdir: Path) -> subprocess.CompletedProcess[str]:
    clean = without_settings(os.environ)
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=REPO_ROOT,
        env={**clean, **env, "CDKTF_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("stage", ["Prod", "pr_1", "1abc", "-x", "", "a" * 60, "prüf"])
def test_main_rejects_bad_stage_without_output(tmp_path: Path, stage: str) -> None:
    result = _run_main({"HEBO_STAGE": stage}, tmp_path / "out")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: invalid HEBO_STAGE {stage!r}: ")
    assert not (tmp_path / "out").exists()


def test_main_writes_every_stack(tmp_path: Path) -> None:
    result = _run_main({"HEBO_STAGE": "pr-42"}, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(STACKS)
    for stack in STACKS:
        assert (tmp_path / "out" / "stacks" / stack / "cdk.tf.json").is_file()
    assert "Node" not in result.stderr  # no jsii end-of-life banner

"""The CDK CLI as a user runs it after `make synth`: from a plain shell, through cdktf.json.

The CLI is the active flavour's (HEBO_CDK of the test run): `npx cdktf ...`, or for cdktn
`npx --prefix flavours/cdktn cdktn ...`, whose flavours/cdktn/.npmrc sets HEBO_CDK=cdktn for the app.

The environment holds only what a new user's shell has: a system PATH (the directories of `npx`
and `terraform`, plus /usr/bin:/bin; no pipenv, no pyenv shims, no activated virtualenv), an
empty HOME, and the stage. No CHECKPOINT_DISABLE: the project's .npmrc sets it for every Node
process npx starts, and the no-`[ERROR]` assertions below prove it (without it, cdktf's version
check logs `[ERROR] ... getaddrinfo ENOTFOUND checkpoint-api.hashicorp.com` where there is no network).
No `[WARN]` either: .npmrc's node-options carries --max-old-space-size, without which the CLI
prints a six-line NODE_OPTIONS warning on every command.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from modules.cdk_flavour import FLAVOURS, flavour_name

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("compute", "data", "dns", "edge", "network")
NPX = shutil.which("npx")
TERRAFORM = shutil.which("terraform")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
FLAVOUR = FLAVOURS[flavour_name()]
CLI = [*(["--prefix", FLAVOUR.node_dir] if FLAVOUR.node_dir != "." else []), FLAVOUR.cli]
"""What follows `npx` on this flavour (README.md, docs/cdk-terrain.md)."""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NPX is None or TERRAFORM is None, reason="npx and terraform are needed"),
]


def plain_env(home: Path, **settings: str) -> dict[str, str]:
    dirs = dict.fromkeys([str(Path(NPX).parent), str(Path(TERRAFORM).parent), "/usr/bin", "/bin"])  # type: ignore[arg-type]  # shutil.which() is Optional; the module's skipif mark guarantees the executable
    path = ":".join(dirs)
    assert shutil.which("pipenv", path=path) is None, f"pipenv is on the plain PATH {path}"
    home.mkdir(exist_ok=True)
    return {"PATH": path, "HOME": str(home), **settings}


def cdktf(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = subprocess.run(
        [NPX, *CLI, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # type: ignore[list-item]  # shutil.which() is Optional; the module's skipif mark guarantees the executable
    )
    return result.returncode, ANSI.sub("", result.stdout + result.stderr)


def test_app_command_needs_nothing_but_the_project_venv() -> None:
    assert json.loads((REPO_ROOT / "cdktf.json").read_text())["app"] == "bin/cdktf-app"
    assert "pipenv" not in (REPO_ROOT / "bin" / "cdktf-app").read_text().replace("no pipenv", "")


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_app_launcher_uses_the_flavours_venv(flavour: str, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    launcher = tmp_path / "bin" / "cdktf-app"
    shutil.copy2(REPO_ROOT / "bin" / "cdktf-app", launcher)
    result = subprocess.run(
        [str(launcher)], env={"PATH": "/usr/bin:/bin", "HEBO_CDK": flavour}, capture_output=True, text=True, timeout=30
    )
    setup = "make synth" if flavour == "cdktf" else f"HEBO_CDK={flavour} make synth"
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: {tmp_path}/{FLAVOURS[flavour].venv}/bin/python not found: run `{setup}` first (it installs the Python dependencies)\n"
    )


def test_app_launcher_rejects_an_unknown_flavour() -> None:
    result = subprocess.run(
        [str(REPO_ROOT / "bin" / "cdktf-app")],
        env={"PATH": "/usr/bin:/bin", "HEBO_CDK": "cdk8s"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: HEBO_CDK='cdk8s' is not a CDK flavour: use one of cdktf, cdktn (default cdktf)\n"


def test_cdktf_synth_from_a_plain_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = cdktf(["synth", "--output", str(out)], plain_env(tmp_path / "home", HEBO_STAGE="production"))
    assert code == 0, output
    assert "[ERROR]" not in output and "[WARN]" not in output, output  # e.g. the NODE_OPTIONS warning (.npmrc)
    assert "synthesized stage 'production': dns, network, data, compute, edge" in output
    assert f"Generated Terraform code for the stacks: {', '.join(STACKS)}" in output
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(STACKS)
    for stack in STACKS:
        synthesized = json.loads((out / "stacks" / stack / "cdk.tf.json").read_text())
        tags = synthesized["provider"]["aws"][0]["default_tags"][0]["tags"]
        assert tags["stage"] == ("global" if stack == "dns" else "production")
        # The app ran in this flavour's venv (the CLI alone sets nothing else in a plain shell).
        assert synthesized["//"]["metadata"]["version"] == importlib.metadata.version(FLAVOUR.core)


def test_cdktf_synth_hcl_from_a_plain_shell(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = cdktf(["synth", "--hcl", "--output", str(out)], plain_env(tmp_path / "home", HEBO_STAGE="pr-42"))
    assert code == 0, output
    assert "[ERROR]" not in output and "[WARN]" not in output, output  # e.g. the NODE_OPTIONS warning (.npmrc)
    assert sorted(json.loads((out / "manifest.json").read_text())["stacks"]) == sorted(STACKS)
    for stack in STACKS:
        cdk_tf = out / "stacks" / stack / "cdk.tf"
        check = subprocess.run([TERRAFORM, "fmt", "-check", str(cdk_tf)], capture_output=True, text=True, timeout=60)  # type: ignore[list-item]  # shutil.which() is Optional; the module's skipif mark guarantees the executable
        assert check.returncode == 0, (
            stack,
            check.stdout,
            check.stderr,
        )  # canonical: `terraform fmt -check` exits 3 otherwise, 2 if it does not parse


def test_cdktf_deploy_network_data_compute_gets_to_terraform(tmp_path: Path) -> None:
    """cdktf accepts the three stacks without `dns` (no dependency flags), starts with `network`,
    and stops only where Terraform needs the network: the provider download."""
    env = plain_env(tmp_path / "home", HEBO_STAGE="pr-42", HEBO_BACKEND="local")
    code, output = cdktf(
        ["deploy", "network", "data", "compute", "--auto-approve", "--output", str(tmp_path / "out")], env
    )
    assert code == 1, output
    assert "dependencies are not included" not in output
    assert "[WARN]" not in output, output
    assert "synthesized stage 'pr-42'" in output
    assert 'Successfully configured the backend "local"!' in output
    assert "Finding hashicorp/aws versions matching" in output
    assert "Failed to query available provider packages" in output
    assert "could not connect to registry.terraform.io" in output
    assert "terraform init failed" in output
    # Only the first stack in dependency order started.
    started = set(re.findall(r"^(network|data|compute)\s+Initializing", output, re.M))
    assert started == {"network"}, output

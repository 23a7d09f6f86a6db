"""The CDK flavour switch (HEBO_CDK) and what both flavours must share: the chosen provider
versions, the JSON (tools/flavour_identity.py compares the real synth output in CI; here its
comparison is checked on small documents), and child processes that keep the flavour.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from project_files import project_python_files
from synth_support import Synth

from modules.cdk_flavour import FLAVOURS, PROVIDER_VERSIONS, flavour_name, without_settings
from tools.flavour_identity import compare_outputs, normalised

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_provider_versions_are_the_reviewed_choice() -> None:
    """Changing a provider version is its own reviewed change: this expectation moves with it
    (docs/cdk-terrain.md, "Provider upgrade")."""
    assert PROVIDER_VERSIONS == {"aws": "6.25.0", "docker": "3.6.2"}


def test_every_stack_pins_the_chosen_provider_versions(any_stage: Synth) -> None:
    pins = {
        (stack, name): requirement["version"]
        for stack, document in any_stage.stacks.items()
        for name, requirement in document["terraform"]["required_providers"].items()
    }
    assert {name for _, name in pins} == {"aws", "docker"}  # compute builds images: both providers seen
    assert {
        key: version for key, version in pins.items() if version != {"aws": "6.25.0", "docker": "3.6.2"}[key[1]]
    } == {}


def _main(env: dict[str, str], python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "main.py"],
        cwd=REPO_ROOT,
        env={**without_settings({"PATH": "/usr/bin:/bin"}), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unknown_flavour_is_a_one_line_error() -> None:
    result = _main({"HEBO_CDK": "cdk8s"})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "error: HEBO_CDK='cdk8s' is not a CDK flavour: use one of cdktf, cdktn (default cdktf)\n"


def test_a_flavour_not_installed_in_this_python_says_how_to_install_it() -> None:
    other = next(name for name in FLAVOURS if name != flavour_name())
    result = _main({"HEBO_CDK": other})
    setup = "make setup" if other == "cdktf" else f"HEBO_CDK={other} make setup"
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: HEBO_CDK={other}: the {FLAVOURS[other].core} package is not installed in "
        f"{sys.executable}: run `{setup}` and use that flavour's virtualenv\n"
    )


def test_child_environments_keep_the_flavour() -> None:
    """Whole-code check: every place that drops the HEBO_* settings for a child process goes
    through `without_settings`, which keeps HEBO_CDK (a hand-written filter dropped it, and a
    cdktn test run then synthesized with cdktf's package names)."""
    hand_written = re.compile(r"""startswith\(\(?\s*["']HEBO_["']""")  # a filter on the whole prefix
    offenders, checked = [], 0
    for path in project_python_files(REPO_ROOT):
        relative = path.relative_to(REPO_ROOT)
        checked += 1
        if hand_written.search(path.read_text()) and relative != Path("modules/cdk_flavour.py"):
            offenders.append(str(relative))
    assert checked > 100
    assert offenders == []
    assert without_settings(
        {"HEBO_CDK": "cdktn", "HEBO_STAGE": "dev", "CDKTF_OUTDIR": "x", "AWS_REGION": "r", "PATH": "p"}, also=("AWS_",)
    ) == {"HEBO_CDK": "cdktn", "PATH": "p"}


# -- tools/flavour_identity.py: what it normalises, and that it still sees real differences ------
STACK = {
    "//": {"metadata": {"version": "0.21.0", "stackName": "compute"}},
    "terraform": {
        "required_providers": {
            "aws": {"source": "aws", "version": "6.25.0"},
            "docker": {"source": "kreuzwerker/docker", "version": "3.6.2"},
        }
    },
    "resource": {"aws_vpc": {"main": {"//": {"metadata": {"path": "network/main"}}, "cidr_block": "10.0.0.0/16"}}},
}
CDKTN_STACK = {
    "//": {"metadata": {"version": "0.24.0", "stackName": "compute"}},
    "terraform": {
        "required_providers": {
            "aws": {"source": "hashicorp/aws", "version": "6.25.0"},
            "docker": {"source": "kreuzwerker/docker", "version": "3.6.2"},
        }
    },
    "resource": {
        "aws_vpc": {
            "main": {"//": {"metadata": {"path": "network/main", "uniqueId": "main"}}, "cidr_block": "10.0.0.0/16"}
        }
    },
}


def test_normalised_drops_metadata_and_spells_out_the_provider_namespace() -> None:
    assert normalised(STACK) == {
        "terraform": {
            "required_providers": {
                "aws": {"source": "hashicorp/aws", "version": "6.25.0"},
                "docker": {"source": "kreuzwerker/docker", "version": "3.6.2"},
            }
        },
        "resource": {"aws_vpc": {"main": {"cidr_block": "10.0.0.0/16"}}},
    }


def _write(root: Path, stack: dict, manifest_version: str, asset: bytes) -> Path:
    (root / "stacks" / "compute" / "assets").mkdir(parents=True)
    (root / "stacks" / "compute" / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    (root / "stacks" / "compute" / "assets" / "code.zip").write_bytes(asset)
    (root / "manifest.json").write_text(
        json.dumps({"version": manifest_version, "stacks": {"compute": {"annotations": []}}})
    )
    return root


def test_compare_outputs_accepts_only_the_documented_differences(tmp_path: Path) -> None:
    left = _write(tmp_path / "cdktf", STACK, "0.21.0", b"zip")
    right = _write(tmp_path / "cdktn", CDKTN_STACK, "0.24.0", b"zip")
    assert compare_outputs(left, right, PROVIDER_VERSIONS) == ([], 3)


def test_compare_outputs_reports_attributes_pins_assets_and_files(tmp_path: Path) -> None:
    changed = json.loads(json.dumps(CDKTN_STACK))
    changed["resource"]["aws_vpc"]["main"]["cidr_block"] = "10.1.0.0/16"
    changed["terraform"]["required_providers"]["aws"]["version"] = "6.69.1"
    left = _write(tmp_path / "cdktf", STACK, "0.21.0", b"zip")
    right = _write(tmp_path / "cdktn", changed, "0.24.0", b"zip2")
    (right / "stacks" / "compute" / "extra.json").write_text("{}")
    differences, compared = compare_outputs(left, right, PROVIDER_VERSIONS)
    assert compared == 3
    assert differences == [
        "stacks/compute/extra.json: only in cdktn",
        "stacks/compute/assets/code.zip: bytes differ",
        "stacks/compute/cdk.tf.json: cdktn pins aws 6.69.1, not 6.25.0",
        'stacks/compute/cdk.tf.json: .resource.aws_vpc.main.cidr_block: "10.0.0.0/16" != "10.1.0.0/16"',
    ]


def test_the_guide_shows_only_commands_the_suite_runs() -> None:
    """docs/cdk-terrain.md's command block: make targets that exist, and the cdktn CLI commands
    tests/unit/test_cli.py runs on the cdktn flavour (synth, synth --hcl, deploy network data compute)."""
    guide = (REPO_ROOT / "docs" / "cdk-terrain.md").read_text()
    (block,) = re.findall(r"```bash\n(.*?)```", guide, re.S)
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    targets = set(re.findall(r"^([a-z][a-z-]*):.*## ", (REPO_ROOT / "Makefile").read_text(), re.M))
    cli = (REPO_ROOT / "tests" / "unit" / "test_cli.py").read_text()
    tested_cli = {
        "synth": '["synth", "--output"',
        "synth --hcl": '["synth", "--hcl", "--output"',
        "deploy network data compute": '["deploy", "network", "data", "compute"',
    }
    assert len(commands) == 6
    for command in commands:
        make = re.fullmatch(r"HEBO_CDK=cdktn make (\S+)", command)
        if make:
            assert make.group(1) in targets, command
        else:
            args = command.removeprefix("npx --prefix flavours/cdktn cdktn ")
            assert f"npx --prefix {FLAVOURS['cdktn'].node_dir} {FLAVOURS['cdktn'].cli} {args}" == command
            assert tested_cli[args] in cli, command

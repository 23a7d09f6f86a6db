"""`cdktf synth --hcl` for every stage: each `cdk.tf` parses and says everything the JSON says.

Whole-app check for the kind "a construct relies on something cdktf's HCL renderer cannot
print" (a null or multi-line string inside a map crashed it; `terraform` arguments and
override-only blocks were garbled or dropped): every top-level block of `cdk.tf.json`, and
every argument of each block, must appear in `cdk.tf`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from synth_support import STAGE_NAMES

from hcl_output import complete_hcl
from modules.cdk_flavour import without_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dns", "network", "data", "compute", "edge")
TERRAFORM = shutil.which("terraform")

_HEADER = re.compile(
    r'^(resource|data|ephemeral) "([^"]+)" "([^"]+)" \{$|^(variable|output|provider) "([^"]+)" \{$|^(terraform|import) \{$'
)
_ARGUMENT = re.compile(r"^  ([A-Za-z_][\w-]*)\b")


def _synth(stage: str, outdir: Path, hcl: bool) -> None:
    env = without_settings(os.environ)
    env.update(HEBO_STAGE=stage, CDKTF_OUTDIR=str(outdir), SYNTH_HCL_OUTPUT="true" if hcl else "false")
    result = subprocess.run(
        [sys.executable, "main.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr


def hcl_inventory(text: str) -> dict[str, set[str]]:
    """`{block address: first-level argument and block names}` of `terraform fmt`-formatted HCL."""
    blocks: dict[str, set[str]] = {}
    current: str | None = None
    heredoc: str | None = None
    for line in text.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        marker = re.search(r"<<-?([A-Z]+)$", line)
        if current is None:
            match = _HEADER.match(line)
            if match:
                g = match.groups()
                current = f"{g[0]}.{g[1]}.{g[2]}" if g[0] else f"{g[3]}.{g[4]}" if g[3] else g[5]
                if current == "import" or current.startswith("provider."):
                    current += f"#{sum(1 for k in blocks if k.split('#')[0] == current)}"
                blocks[current] = set()
        elif line == "}":
            current = None
        else:
            argument = _ARGUMENT.match(line)
            if argument:
                blocks[current].add(argument.group(1))
        if marker:
            heredoc = marker.group(1)
    return blocks


def json_inventory(config: dict) -> dict[str, set[str]]:
    blocks: dict[str, set[str]] = {}
    for kind in ("resource", "data", "ephemeral"):
        for block_type, items in config.get(kind, {}).items():
            for name, body in items.items():
                blocks[f"{kind}.{block_type}.{name}"] = set(body) - {"//"}
    for kind in ("variable", "output"):
        for name, body in config.get(kind, {}).items():
            blocks[f"{kind}.{name}"] = set(body) - {"//"}
    for name, bodies in config.get("provider", {}).items():
        for i, body in enumerate(bodies):
            blocks[f"provider.{name}#{i}"] = set(body)
    for i, body in enumerate(config.get("import", [])):
        blocks[f"import#{i}"] = set(body)
    blocks["terraform"] = set(config["terraform"]) - {"//"}
    return blocks


def _fmt(path: Path) -> str:
    result = subprocess.run([TERRAFORM, "fmt", "-"], input=path.read_text(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{path} does not parse:\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
@pytest.mark.parametrize("stage", sorted(STAGE_NAMES.values()))
def test_hcl_output_parses_and_matches_the_json(tmp_path: Path, stage: str) -> None:
    _synth(stage, tmp_path / "json", hcl=False)
    _synth(stage, tmp_path / "hcl", hcl=True)
    manifest = json.loads((tmp_path / "hcl" / "manifest.json").read_text())
    assert sorted(manifest["stacks"]) == sorted(STACKS)
    checked = 0
    for stack in STACKS:
        cdk_tf = tmp_path / "hcl" / "stacks" / stack / "cdk.tf"
        assert not (cdk_tf.parent / "cdk.tf.json").exists()
        check = subprocess.run([TERRAFORM, "fmt", "-check", str(cdk_tf)], capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, (
            check.stdout,
            check.stderr,
        )  # canonical (3: formatting differs; 2: does not parse)
        hcl = hcl_inventory(_fmt(cdk_tf))
        expected = json_inventory(json.loads((tmp_path / "json" / "stacks" / stack / "cdk.tf.json").read_text()))
        assert sorted(hcl) == sorted(expected), stack
        for address, arguments in expected.items():
            assert arguments <= hcl[address], (stack, address, sorted(arguments - hcl[address]))
            checked += 1
    assert checked > 200  # every block of five stacks, not an empty comparison


def test_complete_hcl_repairs_terraform_arguments_and_adds_ephemeral_blocks() -> None:
    broken = 'terraform {\nrequired_providers {\n}\n\n  0 = "required_version"\n}\n'
    config = {
        "terraform": {"required_version": ">= 1.11.0"},
        "ephemeral": {"aws_ecr_authorization_token": {"docker_ecr_token": {"provider": "aws.us_east_1"}}},
    }
    assert complete_hcl(broken, config) == (
        'terraform {\nrequired_providers {\n}\n\nrequired_version = ">= 1.11.0"\n}\n\n'
        'ephemeral "aws_ecr_authorization_token" "docker_ecr_token" {\nprovider = aws.us_east_1\n}\n'
    )


def test_complete_hcl_refuses_what_it_cannot_print() -> None:
    config = {"terraform": {}, "ephemeral": {"aws_x": {"y": {"nested": {"a": 1}}}}}
    with pytest.raises(ValueError, match="ephemeral.aws_x.y: nested blocks"):
        complete_hcl("terraform {\n}\n", config)


@pytest.mark.slow
def test_switching_format_leaves_one_file_per_stack(tmp_path: Path) -> None:
    """JSON then HCL into the same directory, and back: Terraform must never see both files."""
    out = tmp_path / "out"
    for hcl, kept, gone in (
        (False, "cdk.tf.json", "cdk.tf"),
        (True, "cdk.tf", "cdk.tf.json"),
        (False, "cdk.tf.json", "cdk.tf"),
    ):
        _synth("dev", out, hcl=hcl)
        for stack in STACKS:
            assert (out / "stacks" / stack / kept).is_file() and not (out / "stacks" / stack / gone).exists(), (
                hcl,
                stack,
            )


def test_complete_hcl_turns_lifecycle_lists_into_blocks_and_references() -> None:
    """The renderer prints `lifecycle` as plain arguments; Terraform needs condition *blocks* and
    unquoted `ignore_changes` references (`terraform validate` on the raw output: "Unsupported argument")."""
    rendered = (
        'lifecycle {\n  postcondition = [\n{\ncondition = "${length(self.names) >= 2}"\nerror_message = "two AZs"\n},\n'
        '{\ncondition = "${self.id != \\"\\"}"\nerror_message = "id"\n},\n]\n}\n'
        'lifecycle {\n  ignore_changes = [\n"ami",\n"tags.owner"\n]\n}\n'
    )
    assert complete_hcl(rendered, {"terraform": {}}) == (
        'lifecycle {\npostcondition {\ncondition = "${length(self.names) >= 2}"\nerror_message = "two AZs"\n}\n'
        'postcondition {\ncondition = "${self.id != \\"\\"}"\nerror_message = "id"\n}\n}\n'
        "lifecycle {\n  ignore_changes = [\nami,\ntags.owner\n]\n}\n"
    )


def test_complete_hcl_prints_untyped_objects_as_blocks_and_references_unquoted() -> None:
    """A WAF rule's `statement` is untyped in the prebuilt provider: the renderer prints it as an
    object argument under a warning comment; Terraform needs nested blocks ("Unsupported argument")."""
    rendered = (
        'rule {\nname = "rate"\n\n# Warning: The following attribute is of an unexpected type. Either ...\n# ...\n\n'
        'statement = {\nrate_based_statement = {\naggregate_key_type = "IP"\nlimit = 2000\n}\n}\n\nvisibility_config {\na = 1\n}\n}\n'
        'provider = "aws.us_east_1"\ndepends_on = [\n"aws_s3_bucket.logs",\n]\n'
    )
    assert complete_hcl(rendered, {"terraform": {}}) == (
        'rule {\nname = "rate"\n\nstatement {\nrate_based_statement {\naggregate_key_type = "IP"\nlimit = 2000\n}\n}\n\n'
        "visibility_config {\na = 1\n}\n}\nprovider = aws.us_east_1\ndepends_on = [\naws_s3_bucket.logs,\n]\n"
    )
    listed = (
        "# Warning: The following attribute is of an unexpected type.\n\nstatement = {\nrules = [\n{\na = 1\n},\n]\n}\n"
    )
    with pytest.raises(ValueError, match="untyped list of objects in HCL output: rules = \\["):
        complete_hcl(listed, {"terraform": {}})


def test_without_terraform_the_hcl_is_left_as_is_with_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil as shutil_module

    from hcl_output import format_hcl

    cdk_tf = tmp_path / "cdk.tf"
    cdk_tf.write_text("locals {\n  a = 1\n  bbb = 2\n}\n")
    monkeypatch.setattr(shutil_module, "which", lambda _name: None)
    assert format_hcl([cdk_tf]) == (
        "note: terraform not found on PATH: the cdk.tf files are not in `terraform fmt` layout (run `terraform fmt` on them)"
    )
    assert cdk_tf.read_text() == "locals {\n  a = 1\n  bbb = 2\n}\n"
    monkeypatch.undo()
    assert format_hcl([cdk_tf]) is None
    assert cdk_tf.read_text() == "locals {\n  a   = 1\n  bbb = 2\n}\n"

"""Terraform Cloud (HEBO_BACKEND=cloud): every stack's `cloud` block and every `remote`-backend
`terraform_remote_state`, for production, a preview and dev, and README's state-sharing table.

Regenerate the README table with `.venv/bin/python tests/unit/test_tfc.py`.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]  # also runnable as a script

from synth_support import Synth, synthesize  # noqa: E402  (needs the sys.path entries above)

STACKS = ("dns", "network", "data", "compute", "edge")
ORG = "hebo-team"
STAGES = ("production", "pr-42", "dev")
CLOUD = {"HEBO_BACKEND": "cloud", "HEBO_TFC_ORGANIZATION": ORG}
EXPECTED_READS = {"dns": [], "network": [], "data": ["network"], "compute": ["data", "network"], "edge": []}
"""Which stacks' state each stack reads: written out here, not derived from the code under test."""


def workspace(stage: str, stack: str) -> str:
    return f"hebo-{'global' if stack == 'dns' else stage}-{stack}"


def remote_reads(synth: Synth) -> dict[str, list[str]]:
    """`{stack: [workspaces whose state it reads]}` from the synthesized remote-state blocks."""
    return {
        stack: sorted(
            block["config"]["workspaces"]["name"]
            for block in synth.data_sources(stack, "terraform_remote_state").values()
        )
        for stack in STACKS
    }


def render_state_sharing(synth: Synth) -> str:
    """README table for any stage: `{stage}` stands for the stage name."""
    reads = remote_reads(synth)
    shared_with: dict[str, list[str]] = {workspace(synth.stage, s): [] for s in STACKS}
    for stack, sources in reads.items():
        for source in sources:
            shared_with[source].append(workspace(synth.stage, stack))

    def cell(names: list[str]) -> str:
        return ", ".join(f"`{n}`" for n in names).replace(synth.stage, "{stage}") or "—"

    rows = ["| Workspace | Reads the state of | Must share its state with |", "|---|---|---|"]
    for stack in STACKS:
        name = workspace(synth.stage, stack)
        rows.append(f"| {cell([name])} | {cell(reads[stack])} | {cell(sorted(shared_with[name]))} |")
    return "\n".join(rows)


def readme_block(text: str) -> str:
    match = re.search(r"<!-- tfc-state-sharing:start -->\n(.*?)\n?<!-- tfc-state-sharing:end -->", text, re.S)
    assert match, "README.md lacks the <!-- tfc-state-sharing:start/end --> markers"
    return match.group(1)


@pytest.fixture(scope="module", params=STAGES)
def cloud(request: pytest.FixtureRequest, synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE=request.param, **CLOUD)


def test_every_stack_has_its_own_workspace(cloud: Synth) -> None:
    for stack in STACKS:
        terraform = cloud.stack(stack)["terraform"]
        assert "backend" not in terraform
        assert terraform["cloud"] == {
            "hostname": "app.terraform.io",
            "organization": ORG,
            "workspaces": {"name": workspace(cloud.stage, stack)},
        }


def test_every_remote_state_reads_the_upstream_workspace(cloud: Synth) -> None:
    checked = 0
    for stack in STACKS:
        for name, block in cloud.data_sources(stack, "terraform_remote_state").items():
            upstream = name.removeprefix("cross-stack-reference-input-")
            assert upstream in EXPECTED_READS[stack], (stack, name)
            assert block == {
                "backend": "remote",
                "config": {
                    "hostname": "app.terraform.io",
                    "organization": ORG,
                    "workspaces": {"name": workspace(cloud.stage, upstream)},
                },
            }
            checked += 1
    assert checked == 3  # data <- network; compute <- network, data
    assert remote_reads(cloud) == {s: [workspace(cloud.stage, u) for u in sorted(EXPECTED_READS[s])] for s in STACKS}


def test_hostname_setting_reaches_cloud_blocks_and_remote_state(synth_variant: Callable[..., Synth]) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_TFC_HOSTNAME="tfe.example.com", **CLOUD)
    assert synth.stack("network")["terraform"]["cloud"]["hostname"] == "tfe.example.com"
    (block,) = synth.data_sources("data", "terraform_remote_state").values()
    assert block["config"]["hostname"] == "tfe.example.com"


def test_readme_state_sharing_table_is_current(synth_variant: Callable[..., Synth]) -> None:
    rendered = render_state_sharing(synth_variant(HEBO_STAGE="pr-42", **CLOUD))
    assert rendered == "\n".join(
        [
            "| Workspace | Reads the state of | Must share its state with |",
            "|---|---|---|",
            "| `hebo-global-dns` | — | — |",
            "| `hebo-{stage}-network` | — | `hebo-{stage}-compute`, `hebo-{stage}-data` |",
            "| `hebo-{stage}-data` | `hebo-{stage}-network` | `hebo-{stage}-compute` |",
            "| `hebo-{stage}-compute` | `hebo-{stage}-data`, `hebo-{stage}-network` | — |",
            "| `hebo-{stage}-edge` | — | — |",
        ]
    )
    assert readme_block((REPO_ROOT / "README.md").read_text()) == rendered, (
        "README state-sharing table is stale: regenerate with `.venv/bin/python tests/unit/test_tfc.py`"
    )


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as out:
        table = render_state_sharing(synthesize({"HEBO_STAGE": "pr-42", **CLOUD}, Path(out)))
    path = REPO_ROOT / "README.md"
    text = re.sub(
        r"(<!-- tfc-state-sharing:start -->\n).*?(<!-- tfc-state-sharing:end -->)",
        lambda m: m.group(1) + table + "\n" + m.group(2),
        path.read_text(),
        flags=re.S,
    )
    path.write_text(text)


if __name__ == "__main__":
    regenerate()

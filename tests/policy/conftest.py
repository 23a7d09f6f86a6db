"""Policy-gate fixtures: the three stages' synthesized stacks, scanned by checkov once per session."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy.checkov_runner import CheckovError, ScanResult, run_checkov
from synth_support import Synth

STAGE_LABELS = ("production", "preview", "dev")


class StacksOnDisk(dict[str, Any]):
    """Stack name -> parsed cdk.tf.json, plus `outdir`: relative file paths in the JSON (docker
    build contexts, uploads) are relative to `outdir/stacks/<stack>`, where Terraform runs."""

    outdir: Any = None


def stacks_on_disk(synth: Synth) -> StacksOnDisk:
    """The stacks exactly as written to the outdir (what Terraform — and checkov — would read)."""
    stacks = StacksOnDisk(
        (name, json.loads((synth.outdir / "stacks" / name / "cdk.tf.json").read_text()))
        for name in synth.manifest["stacks"]
    )
    stacks.outdir = synth.outdir
    return stacks


@pytest.fixture(scope="session")
def stage_synths(production: Synth, preview: Synth, dev: Synth) -> dict[str, Synth]:
    return {"production": production, "preview": preview, "dev": dev}


@pytest.fixture(scope="session")
def checkov_scan(stage_synths: dict[str, Synth], tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    """One checkov run over all 3 stages x 5 stacks (a few seconds), shared by every policy test."""
    workdir: Path = tmp_path_factory.mktemp("checkov")
    try:
        return run_checkov({label: stacks_on_disk(s) for label, s in stage_synths.items()}, workdir)
    except CheckovError as error:
        pytest.fail(str(error), pytrace=False)

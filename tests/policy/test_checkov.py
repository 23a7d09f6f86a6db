"""checkov on every synthesized stack of production, preview and dev, with per-resource suppressions."""

from __future__ import annotations

import pytest

from policy.checkov_runner import ScanResult
from policy.conftest import STAGE_LABELS, stacks_on_disk
from policy.suppressions import SUPPRESSIONS_FILE, apply, load_suppressions
from stacks.base import TERRAFORM_REQUIRED_VERSION

pytestmark = pytest.mark.slow  # checkov scans every stack of three stages (30-60 s): not in `make test-fast`

STACKS = {"dns", "network", "data", "compute", "edge"}


def test_every_stack_was_parsed_and_checked(checkov_scan: ScanResult) -> None:
    """Guards against the green-but-empty scans (checkov#7454, wrong framework): no parsing errors,
    all 15 stacks scanned, and each one produced check results."""
    assert checkov_scan.summary["parsing_errors"] == 0
    assert {stack for _, stack in checkov_scan.scanned} == STACKS
    assert {stage for stage, _ in checkov_scan.scanned} == set(STAGE_LABELS)
    unchecked = [key for key in checkov_scan.scanned if checkov_scan.checks_per_stack.get(key, 0) == 0]
    assert not unchecked, f"checkov ran no checks on {unchecked}: was the stack parsed?"
    assert checkov_scan.summary["passed"] + checkov_scan.summary["failed"] == len(checkov_scan.findings)


def test_scanned_stacks_really_needed_the_required_version_workaround(stage_synths) -> None:
    """Every real stack pins Terraform >= 1.11 — the key checkov#7454 chokes on — so the clean
    parse above is the workaround at work (test_gate_can_fail proves the unstripped parse fails)."""
    checked = 0
    for synth in stage_synths.values():
        for name, body in stacks_on_disk(synth).items():
            assert body["terraform"]["required_version"] == TERRAFORM_REQUIRED_VERSION, name
            checked += 1
    assert checked == 15  # 3 stages x 5 stacks


@pytest.mark.parametrize("stage", STAGE_LABELS)
def test_no_unsuppressed_failures(checkov_scan: ScanResult, stage: str) -> None:
    suppressions = load_suppressions()
    unsuppressed, _ = apply(checkov_scan.failed(stage), suppressions)
    if unsuppressed:
        rows = "\n".join(
            f"  {f.describe()}\n      {f.file}:{f.lines[0]}-{f.lines[1]}" + (f"  {f.guideline}" if f.guideline else "")
            for f in sorted(unsuppressed, key=lambda f: (f.stack, f.address, f.check_id))
        )
        pytest.fail(
            f"{len(unsuppressed)} failed checkov check(s) in stage {stage}:\n{rows}\n"
            f"Fix the resource, or — only with a real reason — add to {SUPPRESSIONS_FILE.name}:\n"
            '  [[suppression]]\n  check = "<id>"\n  stack = "<stack>"\n  resource = "<address above>"\n'
            '  stages = ["<stage>", ...]  # optional, default all\n  reason = "<why this is acceptable>"\n'
            "then `python tests/policy/render_docs.py` to refresh docs/security.md.",
            pytrace=False,
        )


def test_no_stale_suppressions(checkov_scan: ScanResult) -> None:
    """Every suppression still matches a failed check in at least one of its stages."""
    suppressions = load_suppressions()
    _, used = apply(checkov_scan.failed(), suppressions)
    stale = [s.key for i, s in enumerate(suppressions) if i not in used]
    assert not stale, f"stale suppressions (matched nothing; delete them from {SUPPRESSIONS_FILE.name}): {stale}"

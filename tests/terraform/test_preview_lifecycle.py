"""pr-42's whole life on its own moto server, as the preview deploy role (tools/lifecycle.py);
production's five stacks are planned in test_production_plan.py.

Every expectation here is written out by hand from the design (docs/previews.md, docs/compute.md):
which stacks, which addresses and which attributes a redeploy changes, which types the sweep
checks. None is computed by the code under test.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import pytest

from tools.lifecycle import (
    REDEPLOY_HEALTH_CHECK_PATH,
    REDEPLOY_IMAGES,
    Lifecycle,
    LifecycleRun,
    start_server,
)

STAGE = "pr-42"


pytestmark = pytest.mark.lifecycle
"""Its own lane of `make test` (tools/test_lanes.py), alongside the others; alone:
`make lifecycle-local` or `.venv/bin/python -m pytest -m lifecycle tests/terraform`."""


@pytest.fixture(scope="module")
def runs(tf_root: Path, tf_report) -> Iterator[LifecycleRun]:
    """The lifecycle of pr-42 on its own moto server and work directory."""
    work = tf_root / "lifecycle-pr-42"
    work.mkdir()
    server, call_log = start_server(work)
    try:
        lifecycle = Lifecycle(STAGE, work, server, log=lambda _: None)
        lifecycle.run.call_log = call_log
        run = lifecycle.execute()
    finally:
        server.stop()
    summary = run.summary()
    tf_report(f"lifecycle {STAGE}: error {summary.get('error')}; emulator errors {summary['emulator_errors']}")
    tf_report(
        f"lifecycle {STAGE}: {summary['calls_evaluated']} calls evaluated, {summary['calls_denied']} denied: {summary['denied'][:10]}"
    )
    tf_report(
        f"lifecycle {STAGE}: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in summary["phase_seconds"].items())
        + f"; total {summary['seconds']:.0f} s"
    )
    tf_report(f"lifecycle {STAGE}: re-create retried {summary['lost_answers']['count']} creates after a lost answer")
    yield run


INTENDED_REDEPLOY = {
    "aws_ecs_task_definition.api_service_task_5056AD6C": ["delete", "create"],
    "aws_ecs_task_definition.gateway_service_task_4DAFBD15": ["delete", "create"],
    "aws_lb_target_group.shared_alb_api_targets_A34D4858": ["update"],
    "aws_lb_target_group.shared_alb_gateway_targets_0F98C3D8": ["update"],
    "aws_ecs_service.api_service_ED8481C2": ["update"],
    "aws_ecs_service.gateway_service_6BE5D292": ["update"],
}
"""Everything the new images and the new health-check path change (compute only): both task
definitions replaced (immutable; new `container_definitions`), both target groups' health check
updated in place, and each service updated in place to its new `task_definition`."""


def actions(changes: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return {address: change["actions"] for address, change in changes.items()}


@pytest.mark.slow
def test_every_stack_applied_and_every_resource_compared_again(runs) -> None:
    run = runs
    summary = run.summary()
    assert summary["applied"] == ["dns", "network", "data", "compute", "edge"]
    assert summary["role"] == "hebo-preview-deploy"
    assert set(run.second_plans) == {"dns", "network", "data", "compute", "edge"}
    for stack, second in run.second_plans.items():
        created = sum(run.first_plans[stack].count("create").values())
        # every resource was compared (not a vacuous plan): as many as the first plan created
        assert created >= 2 and len(second.changes) == created, stack


@pytest.mark.slow
def test_second_plans_of_every_stack_are_empty(runs) -> None:
    """Applied resources read back exactly as planned (docs/terraform-checks.md: every moto answer
    that differed from AWS's is fixed in the emulator process, tests/terraform/test_emulator_fixes.py)."""
    summary = runs.summary()
    assert summary["second_plan_pending"] == {}
    assert summary["second_plan_changes"] == {"dns": 0, "network": 0, "data": 0, "compute": 0, "edge": 0}


@pytest.mark.slow
def test_redeploy_plans_exactly_the_new_images_and_health_check(runs) -> None:
    run = runs
    changes = run.summary()["redeploy_changes"]
    assert {stack: actions(found) for stack, found in changes.items()} == {
        "network": {},
        "data": {},
        "compute": INTENDED_REDEPLOY,
        "edge": {},
    }
    compute = changes["compute"]
    for name in ("api_service_ED8481C2", "gateway_service_6BE5D292"):
        assert compute[f"aws_ecs_service.{name}"]["attributes"] == ["task_definition"]
    for name in ("shared_alb_api_targets_A34D4858", "shared_alb_gateway_targets_0F98C3D8"):
        assert compute[f"aws_lb_target_group.{name}"]["attributes"] == ["health_check"]
    images = {}
    for rc in run.redeploy_plans["compute"].changes:
        if rc["type"] == "aws_ecs_task_definition":
            assert rc["change"]["replace_paths"] == [["container_definitions"]], rc["address"]
            (container,) = json.loads(rc["change"]["after"]["container_definitions"])
            images[rc["name"]] = container["image"]
        if rc["type"] == "aws_lb_target_group":
            (check,) = rc["change"]["after"]["health_check"]
            assert check["path"] == REDEPLOY_HEALTH_CHECK_PATH, rc["address"]
    assert sorted(images.values()) == sorted(REDEPLOY_IMAGES.values())


@pytest.mark.slow
def test_destroy_leaves_nothing_of_the_stage(runs) -> None:
    run = runs
    summary = run.summary()
    assert summary["destroyed"] == ["edge", "compute", "data", "network"]
    assert run.sweep is not None and run.presweep is not None
    assert run.sweep.unenumerable == [] and [str(f) for f in run.sweep.found] == []
    # The sweep is not vacuous: while the stage was deployed, every enumerated type found its objects.
    found_types = {f.type for f in run.presweep.found}
    assert sorted(set(run.presweep.enumerated) - found_types) == []
    assert len(run.presweep.enumerated) >= 30


@pytest.mark.slow
def test_the_stage_comes_back_under_the_same_names(runs) -> None:
    run = runs
    summary = run.summary()
    assert summary.get("error") is None
    assert summary["recreated"] is True
    for stack in ("network", "data", "compute", "edge"):
        assert run.recreate_plans[stack].count("create") == run.first_plans[stack].count("create"), stack


@pytest.mark.slow
def test_every_create_survives_a_lost_answer(runs) -> None:
    """The re-create ran with the emulator losing the first answer of every request that changes
    something (tools/emulator_idempotency.py): each was retried by the provider and answered with
    the first attempt's result — by its client token, or by the SDK's invocation id — and the
    re-created stage holds exactly the objects of the first deploy (a create carried out twice
    would be one more object, or a failed apply: `InvalidPermission.Duplicate`,
    `EntityAlreadyExists`)."""
    run = runs
    lost = set(run.lost_answers)
    assert {"ec2 CreateFlowLogs", "ec2 RunInstances", "ecs CreateService", "acm RequestCertificate"} <= lost, lost
    assert {"ec2 AuthorizeSecurityGroupEgress", "iam CreateRole", "elbv2 CreateLoadBalancer"} <= lost, lost
    assert run.presweep is not None and run.resweep is not None
    assert Counter(f.type for f in run.resweep.found) == Counter(f.type for f in run.presweep.found)


@pytest.mark.slow
def test_template_stage_removed_under_a_preview(runs) -> None:
    """docs/previews.md, "When the template stage goes away"."""
    dependents = runs.dependents
    recreated = dependents["template_recreated"]["compute"]
    # the template's new secret ARNs reach the preview: new task definitions, execution roles may read them
    for address in (
        "aws_ecs_task_definition.api_service_task_5056AD6C",
        "aws_ecs_task_definition.gateway_service_task_4DAFBD15",
    ):
        assert (
            recreated[address]["actions"] == ["delete", "create"]
            and "container_definitions" in recreated[address]["attributes"]
        )
    for address in (
        "aws_iam_role_policy.api_execution_role_policy_1F37CC17",
        "aws_iam_role_policy.gateway_execution_role_policy_6F8CB69E",
    ):
        assert recreated[address] == {"actions": ["update"], "attributes": ["policy"]}
    # destroyed: the next deploy stops at plan, naming the missing secret
    assert dependents["template_destroyed_plan_errors"] == {
        "compute": "Error: reading Secrets Manager Secret (hebo/dev/GroqApiKey): couldn't find resource",
        "edge": "Error: reading Secrets Manager Secret Version (hebo/dev/StackProjectId|AWSCURRENT): couldn't find resource",
    }
    # ... and the preview is still destroyed (the destroy runs with the template's secrets gone)
    assert runs.destroyed == ["edge", "compute", "data", "network"]


@pytest.mark.slow
def test_summary_line_and_every_call_of_the_role_evaluated(runs) -> None:
    summary = runs.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["calls_evaluated"] >= 300, summary.get("evaluation_note")
    assert isinstance(summary["calls_denied"], int) and summary["calls_denied"] <= summary["calls_evaluated"]


@pytest.mark.slow
def test_no_call_of_the_deploy_role_is_denied(runs) -> None:
    """Every call the preview's life makes as the deploy role is allowed by its policies
    (docs/terraform-checks.md, "Call evaluation": the denials the first run found and their fixes)."""
    summary = runs.summary()
    assert summary["calls_evaluated"] >= 2000
    assert summary["calls_denied"] == 0, summary["denied"]


@pytest.mark.slow
def test_every_grant_of_the_role_is_used_or_justified(runs) -> None:
    """Least privilege by use (issue 25): every action the role grants is used by a recorded call
    or justified in ops.deploy_role.NOT_EXERCISED (docs/security.md)."""
    from ops.deploy_role import NOT_EXERCISED
    from tools.emulator_calls import read_calls
    from tools.iam_eval.unused import role_calls, role_documents, usage_report

    assert runs.call_log is not None and runs.role == "hebo-preview-deploy"
    calls = read_calls(runs.call_log)
    _, account = role_calls(calls, runs.role)
    report = usage_report(calls, runs.role, role_documents(STAGE, account), NOT_EXERCISED)
    assert len(report.evaluation.actions_used) >= 200
    assert report.unjustified == [], f"granted, never used, not justified in NOT_EXERCISED: {report.unjustified}"

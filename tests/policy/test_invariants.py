"""Whole-app invariants on the synthesized JSON of production, preview and dev (design.md §8, §9)."""

from __future__ import annotations

import pytest

from policy import invariants as inv
from policy.conftest import STAGE_LABELS, stacks_on_disk
from expectations import TAG_STAGE, expect
from synth_support import Synth

@pytest.fixture(scope="module", params=STAGE_LABELS)
def stage(request: pytest.FixtureRequest, stage_synths: dict[str, Synth]) -> tuple[Synth, dict]:
    synth = stage_synths[request.param]
    return synth, stacks_on_disk(synth)


def expected_tags(synth: Synth):
    def expected(stack: str) -> dict[str, str]:
        return {"app": synth.settings.app, "stage": TAG_STAGE.get(stack, expect(synth).stage),
                "stack": stack, "managed-by": "cdktf"}
    return expected


def _report(problems: list[str]) -> str:
    return "\n".join(f"  - {p}" for p in problems)


def test_default_tags_on_every_provider_and_never_overridden(stage) -> None:
    synth, stacks = stage
    problems = inv.check_default_tags(stacks, expected_tags(synth))
    assert not problems, "\n" + _report(problems)


def test_no_world_open_ingress_except_alb_http_https(stage) -> None:
    synth, stacks = stage
    problems = inv.check_world_ingress(stacks, f"hebo-{expect(synth).stage}-alb")
    assert not problems, "\n" + _report(problems)


@pytest.mark.parametrize(
    "check",
    [inv.check_iam, inv.check_encryption, inv.check_no_nulls, inv.check_task_definitions, inv.check_image_pushes,
     inv.check_exec_session_logging, inv.check_role_trust],
    ids=["iam-statements-scoped", "storage-encrypted", "no-nulls-inside-blocks", "no-secrets-in-task-environment",
         "no-push-can-collide-with-an-immutable-tag", "exec-logging-has-script-and-cat", "role-trust-documented-keys-only"],
)
def test_whole_app_invariant(stage, check) -> None:  # type: ignore[no-untyped-def]
    _, stacks = stage
    problems = check(stacks)
    assert not problems, "\n" + _report(problems)


def test_production_data_is_protected(production: Synth) -> None:
    problems = inv.check_protected(stacks_on_disk(production))
    assert not problems, "\n" + _report(problems)


def test_hosted_zone_is_protected_in_every_stage(stage) -> None:
    """The zone is account-wide: even a preview's synth must never make it destroyable."""
    _, stacks = stage
    problems = [p for p in inv.check_protected({"dns": stacks["dns"]})]
    assert not problems, "\n" + _report(problems)


def test_invariants_have_something_to_check(stage) -> None:
    """Non-vacuity: the rules above really met the resources they are about."""
    _, stacks = stage
    kms_keys = list(inv.resources(stacks, "aws_kms_key"))
    assert kms_keys and len(inv.key_policy_documents(stacks)) == len(kms_keys), "every KMS key uses a policy document"
    statements = sum(len(c.get("statement") or []) for body in stacks.values()
                     for c in body.get("data", {}).get("aws_iam_policy_document", {}).values())
    assert statements >= 10
    trusts = list(inv.role_trusts(stacks))
    usage = {kind for kinds in inv._ecs_role_usage(stacks).values() for kind in kinds}
    assert len(trusts) >= 6 and usage == {"execution", "task"}, "role trust check met ECS execution and task roles"
    types = {rtype for _, rtype, _, _ in inv.resources(stacks)}
    assert {"aws_s3_bucket", "aws_rds_cluster", "aws_cloudwatch_log_group", "aws_secretsmanager_secret",
            "aws_ecr_repository", "aws_instance", "aws_vpc_security_group_ingress_rule",
            "aws_ecs_task_definition"} <= types


def test_image_invariants_met_every_push_and_every_exec_enabled_container(stage) -> None:
    """Non-vacuity of the two image rules: both services push in build mode, and ECS Exec (with
    logged sessions) is on for exactly the non-production services, each built from `debug`."""
    synth, stacks = stage
    pushes = list(inv.resources(stacks, "docker_registry_image"))
    assert len(pushes) == 2 and all(stack == "compute" for stack, _, _, _ in pushes)
    checked = list(inv.exec_enabled_images(stacks))
    if not expect(synth)["ecs_exec"]:
        assert checked == []
    else:
        assert sorted(where.rsplit(" ", 1)[-1] for where, _, _, _ in checked) == ["HeboApiService", "HeboGatewayService"]
        assert {mode for _, mode, _, _ in checked} == {"OVERRIDE"}
        assert {built["build"]["target"] for _, _, _, built in checked} == {"debug"}

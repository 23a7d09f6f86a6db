"""Whole-app invariants on the synthesized JSON of production, preview and dev (design.md §8, §9)."""

from __future__ import annotations

import copy

import pytest

from config.secrets import MASTER_SECRET_NAMES

from policy import invariants as inv
from policy.conftest import STAGE_LABELS, stacks_on_disk
from stacks.backends import state_scope
from synth_support import Synth

ACCOUNT_WIDE = {"dns"}


@pytest.fixture(scope="module", params=STAGE_LABELS)
def stage(request: pytest.FixtureRequest, stage_synths: dict[str, Synth]) -> tuple[Synth, dict]:
    synth = stage_synths[request.param]
    return synth, stacks_on_disk(synth)


def expected_tags(synth: Synth):
    def expected(stack: str) -> dict[str, str]:
        return {"app": synth.settings.app, "stage": state_scope(synth.settings, stack in ACCOUNT_WIDE),
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
    problems = inv.check_world_ingress(stacks, synth.settings.names.security_group("alb"))
    assert not problems, "\n" + _report(problems)


@pytest.mark.parametrize(
    "check",
    [inv.check_iam, inv.check_encryption, inv.check_no_nulls, inv.check_task_definitions],
    ids=["iam-statements-scoped", "storage-encrypted", "no-nulls-inside-blocks", "no-secrets-in-task-environment"],
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


def test_services_never_reference_a_master_credential_secret(stage) -> None:
    """The compute stack (both services) reads only the application role's secret, never the master's."""
    synth, stacks = stage
    problems = inv.check_no_master_secret(stacks, "compute", MASTER_SECRET_NAMES)
    assert not problems, "\n" + _report(problems)
    referenced = inv.secrets_referenced(stacks, "compute")
    assert f"hebo/{synth.stage}/DbAppCredentials" in referenced  # the rule met real secret references
    # ...and it catches one: point a copy's task definition back at the master's JSON secret.
    broken = copy.deepcopy(dict(stacks))
    tasks = broken["compute"]["resource"]["aws_ecs_task_definition"]
    name = next(iter(tasks))
    tasks[name]["container_definitions"] = tasks[name]["container_definitions"].replace(
        "secret_DbAppCredentialsarn", "secret_DbCredentialsarn")
    broken["data"]["output"]["cross-stack-output-aws_secretsmanager_secretsecret_DbCredentialsarn"] = {
        "value": "${aws_secretsmanager_secret.secret_DbCredentials.arn}"}  # what cdktf would export for it
    assert any("references the master credential secret hebo/" in p and p.endswith("/DbCredentials")
               for p in inv.check_no_master_secret(broken, "compute", MASTER_SECRET_NAMES))


def test_invariants_have_something_to_check(stage) -> None:
    """Non-vacuity: the rules above really met the resources they are about."""
    _, stacks = stage
    kms_keys = list(inv.resources(stacks, "aws_kms_key"))
    assert kms_keys and len(inv.key_policy_documents(stacks)) == len(kms_keys), "every KMS key uses a policy document"
    statements = sum(len(c.get("statement") or []) for body in stacks.values()
                     for c in body.get("data", {}).get("aws_iam_policy_document", {}).values())
    assert statements >= 10
    types = {rtype for _, rtype, _, _ in inv.resources(stacks)}
    assert {"aws_s3_bucket", "aws_rds_cluster", "aws_cloudwatch_log_group", "aws_secretsmanager_secret",
            "aws_ecr_repository", "aws_instance", "aws_vpc_security_group_ingress_rule",
            "aws_ecs_task_definition"} <= types

"""Whole-app invariants on the synthesized JSON of production, preview and dev (docs/security.md)."""

from __future__ import annotations

import copy

import pytest

from config.secrets import MASTER_SECRET_NAMES

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
        return {
            "app": synth.settings.app,
            "stage": TAG_STAGE.get(stack, expect(synth).stage),
            "stack": stack,
            "managed-by": "cdktf",
        }

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
    [
        inv.check_iam,
        inv.check_encryption,
        inv.check_no_nulls,
        inv.check_task_definitions,
        inv.check_image_pushes,
        inv.check_exec_session_logging,
        inv.check_role_trust,
    ],
    ids=[
        "iam-statements-scoped",
        "storage-encrypted",
        "no-nulls-inside-blocks",
        "no-secrets-in-task-environment",
        "no-push-can-collide-with-an-immutable-tag",
        "exec-logging-has-script-and-cat",
        "role-trust-documented-keys-only",
    ],
)
def test_whole_app_invariant(stage, check) -> None:
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
        "secret_DbAppCredentialsarn", "secret_DbCredentialsarn"
    )
    broken["data"]["output"]["cross-stack-output-aws_secretsmanager_secretsecret_DbCredentialsarn"] = {
        "value": "${aws_secretsmanager_secret.secret_DbCredentials.arn}"
    }  # what cdktf would export for it
    assert any(
        "references the master credential secret hebo/" in p and p.endswith("/DbCredentials")
        for p in inv.check_no_master_secret(broken, "compute", MASTER_SECRET_NAMES)
    )


def test_invariants_have_something_to_check(stage) -> None:
    """Non-vacuity: the rules above really met the resources they are about."""
    _, stacks = stage
    kms_keys = list(inv.resources(stacks, "aws_kms_key"))
    assert kms_keys and len(inv.key_policy_documents(stacks)) == len(kms_keys), "every KMS key uses a policy document"
    statements = sum(
        len(c.get("statement") or [])
        for body in stacks.values()
        for c in body.get("data", {}).get("aws_iam_policy_document", {}).values()
    )
    assert statements >= 10
    trusts = list(inv.role_trusts(stacks))
    usage = {kind for kinds in inv._ecs_role_usage(stacks).values() for kind in kinds}
    assert len(trusts) >= 6 and usage == {"execution", "task"}, "role trust check met ECS execution and task roles"
    types = {rtype for _, rtype, _, _ in inv.resources(stacks)}
    assert {
        "aws_s3_bucket",
        "aws_rds_cluster",
        "aws_cloudwatch_log_group",
        "aws_secretsmanager_secret",
        "aws_ecr_repository",
        "aws_instance",
        "aws_vpc_security_group_ingress_rule",
        "aws_ecs_task_definition",
    } <= types


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
        assert sorted(where.rsplit(" ", 1)[-1] for where, _, _, _ in checked) == [
            "HeboApiService",
            "HeboGatewayService",
        ]
        assert {mode for _, mode, _, _ in checked} == {"OVERRIDE"}
        assert {built["build"]["target"] for _, _, _, built in checked} == {"debug"}


# -- apply-time defects (issue #14): one whole-app rule per kind ------------------------------------
APPLY_TIME_CHECKS = [
    inv.check_aws_managed_values_not_pinned,
    inv.check_elb_aliases_dualstack,
    inv.check_no_reserved_lambda_concurrency,
    inv.check_lambdas_bypass_rds_proxy,
    inv.check_ssm_roles_have_an_agent,
    inv.check_ecs_strategy_changes_can_apply,
    inv.check_backends_and_terraform_version,
]


@pytest.mark.parametrize("check", APPLY_TIME_CHECKS, ids=[c.__name__.removeprefix("check_") for c in APPLY_TIME_CHECKS])
def test_apply_time_invariant(stage, check) -> None:
    _, stacks = stage
    problems = check(stacks)
    assert not problems, "\n" + _report(problems)


def test_apply_time_invariants_have_something_to_check(stage) -> None:
    """Each rule met real instances of what it is about in every stage."""
    synth, stacks = stage
    production = expect(synth).production
    # writer + reader (+ secondary) instances, clusters, global cluster, NAT AMI lookups, two services
    assert inv.aws_managed_pins(stacks) >= (2 + 2 + 1 + 1 + 2 + 2 if production else 1 + 1 + 2 + 2)
    assert sum(1 for *_, dualstack in inv.elb_alias_targets(stacks) if dualstack) == 4  # api, gateway x A, AAAA
    assert len(list(inv.resources(stacks, "aws_lambda_function"))) >= 1
    assert len(list(inv.resources(stacks, "aws_ecs_service"))) == 2
    ssm_instances = [n for s, _, n, c in inv.resources(stacks, "aws_instance") if inv._instance_ssm_role(stacks, s, c)]
    assert len(ssm_instances) == (0 if production else 1)  # the bastion, on standard AL2023
    assert sum("backend" in body.get("terraform", {}) for body in stacks.values()) == 5


def _set(stacks: dict, stack: str, rtype: str, predicate, **changes) -> str:
    for name, config in stacks[stack]["resource"][rtype].items():
        if predicate(config):
            config.update(changes)
            return name
    raise AssertionError(f"no {rtype} in {stack} to mutate")


def test_apply_time_invariants_fail_on_each_kind(production: Synth, preview: Synth) -> None:
    """Mutated copies: one instance of each defect kind, each reported by name."""
    import copy

    stacks = copy.deepcopy(stacks_on_disk(production))
    instance = _set(stacks, "data", "aws_rds_cluster_instance", lambda c: True, lifecycle={"prevent_destroy": True})
    assert inv.check_aws_managed_values_not_pinned(stacks) == [
        f"data: aws_rds_cluster_instance.{instance} pins engine_version without ignore_changes: auto_minor_version_upgrade "
        "moves it; RDS refuses the 'downgrade' (terraform-provider-aws#49396, #20086)"
    ]
    nat = _set(stacks, "network", "aws_instance", lambda c: c["tags"]["role"] == "nat", lifecycle={})
    assert any(f"aws_instance.{nat} pins ami" in p for p in inv.check_aws_managed_values_not_pinned(stacks))

    record = _set(
        stacks,
        "compute",
        "aws_route53_record",
        lambda c: "alias" in c,
        alias={"name": "${aws_lb.gateway_alb_lb_0C2B1D07.dns_name}", "zone_id": "Z", "evaluate_target_health": True},
    )
    assert [p for p in inv.check_elb_aliases_dualstack(stacks)] == [
        f"compute: aws_route53_record.{record} aliases '${{aws_lb.gateway_alb_lb_0C2B1D07.dns_name}}' without the "
        "'dualstack.' prefix (no IPv6 answers)"
    ]

    fn = _set(stacks, "data", "aws_lambda_function", lambda c: True, reserved_concurrent_executions=1)
    assert inv.check_no_reserved_lambda_concurrency(stacks) == [
        f"data: aws_lambda_function.{fn} reserves 1 executions (fails on accounts whose concurrency quota is below "
        "100 + the reservation)"
    ]
    stacks["data"]["resource"]["aws_lambda_function"][fn]["environment"]["variables"]["DB_HOST"] = (
        "${aws_db_proxy.proxy_5B0EBCF1.endpoint}"
    )
    assert inv.check_lambdas_bypass_rds_proxy(stacks) == [
        f"data: aws_lambda_function.{fn} environment DB_HOST points at RDS Proxy (${{aws_db_proxy.proxy_5B0EBCF1.endpoint}})"
    ]

    service = _set(stacks, "compute", "aws_ecs_service", lambda c: True, force_new_deployment=False)
    assert [p.split(" has ")[0] for p in inv.check_ecs_strategy_changes_can_apply(stacks)] == [
        f"compute: aws_ecs_service.{service}"
    ]

    stacks["data"]["terraform"]["required_version"] = ">= 1.11.0"
    stacks["dns"]["terraform"]["backend"]["s3"]["dynamodb_table"] = "locks"
    assert sorted(inv.check_backends_and_terraform_version(stacks)) == [
        "data: required_version '>= 1.11.0' is not bounded above (>= 1.x.0, < 1.y.0: the versions CI tests)",
        "dns: S3 backend carries the deprecated dynamodb_table by default",
    ]

    # The SSM kind: the preview bastion's role on fck-nat's minimal image.
    broken = copy.deepcopy(stacks_on_disk(preview))
    bastion = _set(
        broken,
        "network",
        "aws_instance",
        lambda c: c["tags"]["role"] == "bastion",
        ami="${data.aws_ami.nat_ami}".replace("}", ".id}"),
    )
    assert [p.split(" has ")[0] for p in inv.check_ssm_roles_have_an_agent(broken)] == [
        f"network: aws_instance.{bastion}"
    ]

"""The service pattern (modules/service/pattern.py): props validation, grants, and the logical
ids it must keep (a changed id replaces a live load balancer or service)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synth

from modules import cdk
from modules.cdk import TerraformStack
from modules.errors import ValidationError
from modules.logical_ids import LogicalIdStack
from modules.iam import ServiceRole, ServiceRoleProps, Statement
from modules.service.alarms import ServiceAlarms
from modules.service.autoscaling import METRIC_KEYS
from modules.service.cluster import FargateCluster, FargateClusterProps
from modules.service.pattern import LoadBalancedFargateService
from modules.service.pattern_props import (
    Capacity,
    ContainerSecret,
    DedicatedLoadBalancer,
    LoadBalancedFargateServiceProps,
    SharedLoadBalancerRoute,
)
from modules.service.load_balancer import (
    AlbSettings,
    SharedHttpsLoadBalancer,
    SharedHttpsLoadBalancerProps,
    TargetGroupProps,
)

SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf"
OTHER_SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:app/key-GhIjKl"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REPO = "arn:aws:ecr:us-east-1:111122223333:repository/app"
ALB = AlbSettings(subnet_ids=["subnet-3", "subnet-4"], security_group_ids=["sg-2"])


@dataclass(frozen=True)
class Network:
    """Stands in for NetworkOutputs (the pattern reads these two fields)."""

    vpc_id: str = "vpc-1"
    private_subnet_ids: tuple[str, ...] = ("subnet-1", "subnet-2")


def new_stack() -> TerraformStack:
    """A fresh stack holding the ECS cluster every test service joins (id `cluster`); a
    `LogicalIdStack`, like every stack of the app, so the pattern can keep its logical ids."""
    stack = LogicalIdStack(cdk.Testing.app(), "t")
    FargateCluster(
        stack,
        "cluster",
        FargateClusterProps(name="t", default_capacity_provider="FARGATE", container_insights=False, kms_key_arn=KEY),
    )
    return stack


def cluster(stack: TerraformStack) -> FargateCluster:
    return stack.node.find_child("cluster")


def props(stack: TerraformStack, **changes: Any) -> LoadBalancedFargateServiceProps:
    """A complete, valid set of props joining `stack`'s cluster; `changes` replaces fields (capacity: a dict of its fields)."""
    capacity = Capacity(cpu=256, memory_mib=512, min_tasks=1, max_tasks=2)
    if "capacity" in changes:
        capacity = replace(capacity, **changes.pop("capacity"))
    base = LoadBalancedFargateServiceProps(
        name="App",
        family="t-App",
        image="111122223333.dkr.ecr.us-east-1.amazonaws.com/app@sha256:" + "a" * 64,
        image_repository_arns=[REPO],
        port=3001,
        environment={"PORT": "3001"},
        secrets={"PG_PASSWORD": ContainerSecret(arn=SECRET, json_key="password")},
        secrets_kms_key_arns=[KEY],
        capacity=capacity,
        cluster=cluster(stack),
        network=Network(),
        security_group_ids=["sg-1"],
        load_balancer=DedicatedLoadBalancer(
            name="t-app",
            target_group_name="t-app",
            domain="app.example.com",
            zone_id="Z1",
            settings=ALB,
        ),
        log_group_name="/ecs/t/App",
        log_retention_days=7,
        log_kms_key_arn=KEY,
        region="us-east-1",
        execution_role_name="t-app-exec",
        task_role_name="t-app-task",
        alarm_topic_arn="arn:aws:sns:us-east-1:111122223333:t-alarms",
        alarm_names={what: f"t-app-{what}" for what in ServiceAlarms.KEYS},
        alarm_label="App (t)",
        scaling_policy_names={"cpu": "t-app-cpu", "memory": "t-app-memory"},
    )
    return replace(base, **changes)


def build(**changes: Any) -> tuple[TerraformStack, LoadBalancedFargateService]:
    stack = new_stack()
    return stack, LoadBalancedFargateService(stack, "app", props(stack, **changes))


@pytest.mark.parametrize(
    ("changes", "prop", "value", "message"),
    [
        ({"port": 0}, "port", 0, r"^service 'App': port 0 is outside 1-65535$"),
        ({"port": 65536}, "port", 65536, r"^service 'App': port 65536 is outside 1-65535$"),
        ({"capacity": {"min_tasks": 0}}, "min_tasks", 0, r"^service 'App': min_tasks 0 must be at least 1$"),
        (
            {"capacity": {"min_tasks": 3}},
            "min_tasks",
            3,
            r"^service 'App': min_tasks 3 must not exceed max_tasks \(2\)$",
        ),
        (
            {"capacity": {"cpu": 300}},
            "cpu",
            300,
            r"^service 'App': cpu 300 is not a Fargate size; allowed are \[256, 512, 1024, 2048, 4096, 8192, 16384\]$",
        ),
        (
            {"capacity": {"memory_mib": 4096}},
            "memory_mib",
            4096,
            r"^service 'App': memory_mib 4096 does not fit cpu 256; allowed are 512-2048 MiB in steps of 512$",
        ),
        (
            {"capacity": {"cpu": 1024, "memory_mib": 2500}},
            "memory_mib",
            2500,
            r"memory_mib 2500 does not fit cpu 1024; allowed are 2048-8192 MiB in steps of 1024$",
        ),
        (
            {"environment": {"PG_PASSWORD": "x"}},
            "environment",
            ["PG_PASSWORD"],
            r"^service 'App': environment \['PG_PASSWORD'\] are given both as plain environment and as secrets$",
        ),
        (
            {"health_check_path": "health"},
            "health_check_path",
            "health",
            r"^service 'App': health_check_path 'health' must start with '/'$",
        ),
        (
            {"alarm_names": {"p99-latency": "x"}},
            "alarm_names",
            ["p99-latency"],
            r"^service 'App': alarm_names \['p99-latency'\] lacks \['alb-5xx-rate', 'target-5xx-rate', 'unhealthy-hosts'\] "
            r"\(needed: \['alb-5xx-rate', 'target-5xx-rate', 'unhealthy-hosts', 'p99-latency'\]\)$",
        ),
        (
            {"scaling_policy_names": {"cpu": "x"}},
            "scaling_policy_names",
            ["cpu"],
            r"^service 'App': scaling_policy_names \['cpu'\] lacks \['memory'\] \(needed: \['cpu', 'memory'\]\)$",
        ),
    ],
)
def test_contradictory_props_fail_before_anything_is_created(
    changes: dict[str, Any], prop: str, value: Any, message: str
) -> None:
    stack = new_stack()
    with pytest.raises(ValidationError, match=message) as raised:
        LoadBalancedFargateService(stack, "app", props(stack, **changes))
    assert (raised.value.construct, raised.value.prop, raised.value.value) == ("service 'App'", prop, value)
    assert [c.node.id for c in stack.node.children] == ["cluster"], "validation must run before the first resource"


def test_valid_fargate_sizes_are_accepted() -> None:
    for cpu, memory in ((256, 2048), (512, 4096), (1024, 2048), (4096, 30720), (16384, 122880)):
        build(capacity={"cpu": cpu, "memory_mib": memory})


def test_the_execution_role_reads_exactly_the_secrets_the_container_gets() -> None:
    stack, _ = build(
        secrets={
            "PG_PASSWORD": ContainerSecret(arn=SECRET, json_key="password"),
            "PG_USER": ContainerSecret(arn=SECRET, json_key="username"),
            "KEY": ContainerSecret(arn=OTHER_SECRET),
        }
    )
    synthesized = json.loads(cdk.Testing.synth(stack))
    (task,) = synthesized["resource"]["aws_ecs_task_definition"].values()
    assert "PG_PASSWORD" in task["container_definitions"] and f"{SECRET}:username::" in task["container_definitions"]
    (read,) = [s for s in _policy(stack, "app_execution_role") if s["sid"] == "ReadSecrets"]
    assert read["resources"] == [SECRET, OTHER_SECRET]


def test_account_and_partition_come_from_the_stacks_one_data_source_each() -> None:
    stack, _ = build()
    LoadBalancedFargateService(
        stack,
        "other",
        props(
            stack,
            name="Other",
            load_balancer=DedicatedLoadBalancer(
                name="t-other", target_group_name="t-other", domain="other.example.com", zone_id="Z1", settings=ALB
            ),
        ),
    )
    synthesized = json.loads(cdk.Testing.synth(stack))
    assert list(synthesized["data"]["aws_caller_identity"]) == ["account"]
    assert list(synthesized["data"]["aws_partition"]) == ["partition"]
    trust = synthesized["data"]["aws_iam_policy_document"]
    (task_trust,) = [v for k, v in trust.items() if k.startswith("app_task_role_trust")]
    assert task_trust["statement"][0]["condition"] == [
        {
            "test": "StringEquals",
            "variable": "aws:SourceAccount",
            "values": ["${data.aws_caller_identity.account.account_id}"],
        },
        {
            "test": "ArnLike",
            "variable": "aws:SourceArn",
            "values": [
                "arn:${data.aws_partition.partition.partition}:ecs:us-east-1:${data.aws_caller_identity.account.account_id}:*"
            ],
        },
    ]


def _policy(stack: TerraformStack, role_prefix: str) -> list[dict[str, Any]]:
    synthesized = json.loads(cdk.Testing.synth(stack))
    (document,) = [
        v
        for k, v in synthesized["data"]["aws_iam_policy_document"].items()
        if k.startswith(f"{role_prefix}_permissions")
    ]
    return document["statement"]


def test_grants_add_numbered_statements_to_the_execution_role() -> None:
    stack, service = build()
    service.grant_secret_read([OTHER_SECRET])
    service.grant_image_pull(["arn:aws:ecr:us-east-1:444455556666:repository/shared"])
    statements = _policy(stack, "app_execution_role")
    assert [(s["sid"], s["resources"]) for s in statements] == [
        ("EcrLogin", ["*"]),
        ("PullImage", [REPO]),
        ("WriteLogs", ["${aws_cloudwatch_log_group.app_logs.arn}:log-stream:*"]),
        ("ReadSecrets", [SECRET]),
        ("DecryptSecrets", [KEY]),
        ("ReadSecrets2", [OTHER_SECRET]),
        ("PullImage2", ["arn:aws:ecr:us-east-1:444455556666:repository/shared"]),
    ]
    assert statements[4]["condition"] == [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": ["secretsmanager.us-east-1.amazonaws.com"]}
    ]


def test_public_image_and_no_secrets_grant_only_logs() -> None:
    stack, _ = build(image="ghcr.io/org/app:1", image_repository_arns=[], secrets={})
    assert [s["sid"] for s in _policy(stack, "app_execution_role")] == ["WriteLogs"]


def test_a_role_refuses_a_duplicate_sid() -> None:
    stack = TerraformStack(cdk.Testing.app(), "t")
    role = ServiceRole(stack, "r", ServiceRoleProps(name="r", service="ecs-tasks.amazonaws.com", description="d"))
    role.grant(Statement(sid="Read", actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"]))
    with pytest.raises(ValidationError, match=r"^role r: statement sids \['Read'\] are granted twice$"):
        role.grant(Statement(sid="Read", actions=["s3:PutObject"], resources=["arn:aws:s3:::b/*"]))


PRODUCTION_IDS = {
    "aws_lb": ["api_alb_674ECFBF", "gateway_alb_8FDBDE96"],
    "aws_lb_target_group": ["api_alb_targets_F107ED7A", "gateway_alb_targets_3C3B8002"],
    "aws_lb_listener": [
        "api_alb_http_A4E05762",
        "api_alb_https_FB99D165",
        "gateway_alb_http_9676E336",
        "gateway_alb_https_DCC2B6B1",
    ],
    "aws_ecs_service": ["api_service_ED8481C2", "gateway_service_6BE5D292"],
    "aws_ecs_task_definition": ["api_service_task_5056AD6C", "gateway_service_task_4DAFBD15"],
    "aws_acm_certificate": ["api_certificate_4FC88B03", "gateway_certificate_48B4407C"],
    "aws_wafv2_web_acl_association": ["waf_api_association_30481D7A", "waf_gateway_association_E94BB369"],
    "aws_route53_record": [
        "api_alias_a",
        "api_alias_aaaa",
        "api_certificate_validation_AC257A47",
        "gateway_alias_a",
        "gateway_alias_aaaa",
        "gateway_certificate_validation_8CFADF80",
    ],
    "aws_iam_role": [
        "api_execution_role_FF026D73",
        "api_task_role_29C40CE2",
        "gateway_execution_role_AB24E779",
        "gateway_task_role_291E2521",
    ],
    "aws_cloudwatch_log_group": ["api_logs", "gateway_logs", "waf_logs"],
    "aws_appautoscaling_target": ["api_scaling_target_70FBD5B6", "gateway_scaling_target_56F6C5AD"],
}
"""Production's live load balancers, services and their neighbours, by the logical ids they were
first applied with. Changing one makes Terraform destroy and re-create that resource."""


def test_production_logical_ids_are_pinned(production: Synth) -> None:
    assert {rtype: sorted(production.resources("compute", rtype)) for rtype in PRODUCTION_IDS} == PRODUCTION_IDS


SHARED_ALB_IDS = {
    "aws_lb": ["shared_alb_FBFA9692"],
    "aws_lb_target_group": ["shared_alb_api_targets_A34D4858", "shared_alb_gateway_targets_0F98C3D8"],
    "aws_lb_listener": ["shared_alb_http_4BD8FDD0", "shared_alb_https_DEDD0F1C"],
    "aws_lb_listener_rule": ["shared_alb_api_rule_C0ADEBED", "shared_alb_gateway_rule_3D632B32"],
    "aws_ecs_service": ["api_service_ED8481C2", "gateway_service_6BE5D292"],
    "aws_ecs_task_definition": ["api_service_task_5056AD6C", "gateway_service_task_4DAFBD15"],
    "aws_acm_certificate": ["shared_alb_certificate_E42A4D9A"],
    "aws_route53_record": [
        "api_alias_a",
        "api_alias_aaaa",
        "gateway_alias_a",
        "gateway_alias_aaaa",
        "shared_alb_certificate_validation_41463F9C",
    ],
    "aws_iam_role": [
        "api_execution_role_FF026D73",
        "api_task_role_29C40CE2",
        "gateway_execution_role_AB24E779",
        "gateway_task_role_291E2521",
    ],
    "aws_cloudwatch_log_group": ["api_logs", "exec_logs", "gateway_logs"],
    "aws_appautoscaling_target": ["api_scaling_target_70FBD5B6", "gateway_scaling_target_56F6C5AD"],
}
"""dev's shared load balancer, its routes and the services behind it, by their applied logical ids."""


def test_shared_alb_logical_ids_are_pinned(dev: Synth) -> None:
    assert {rtype: sorted(dev.resources("compute", rtype)) for rtype in SHARED_ALB_IDS} == SHARED_ALB_IDS
    assert sorted(dev.data_sources("compute", "aws_caller_identity")) == ["account"]
    assert sorted(dev.data_sources("compute", "aws_partition")) == ["partition"]


COMPUTE_LOGICAL_IDS = Path(__file__).resolve().parents[1] / "fixtures" / "compute-logical-ids.json"
"""Every resource, data source and output id of production's and pr-42's compute stack, written
from their JSON before the pattern became a construct node (`kind -> type -> [ids]`)."""


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_every_logical_id_of_compute_is_the_one_first_deployed(stage: str, request: pytest.FixtureRequest) -> None:
    """A changed logical id makes Terraform destroy and re-create that resource: compute's ids
    (load balancers, services, roles, alarms, ...) equal the ones recorded before the refactoring."""
    synth: Synth = request.getfixturevalue(stage)
    expected = json.loads(COMPUTE_LOGICAL_IDS.read_text())[synth.stage]
    compute = synth.stack("compute")
    actual: dict[str, Any] = {
        kind: {t: sorted(ids) for t, ids in sorted(compute.get(kind, {}).items())} for kind in ("resource", "data")
    }
    actual["output"] = sorted(compute.get("output", {}))
    assert sum(len(ids) for ids in expected["resource"].values()) >= 60
    assert actual == expected


def test_the_pattern_is_a_node_of_the_construct_tree() -> None:
    """Its children live under it (`t/app/...`), while their logical ids stay flat (`app_...`)."""
    stack, service = build()
    assert service.node.path == "t/app"
    assert sorted(c.node.id for c in service.node.children) == [
        "alarms",
        "alb",
        "alias_a",
        "alias_aaaa",
        "certificate",
        "execution_role",
        "logs",
        "scaling",
        "service",
        "task_role",
    ]
    assert service.fargate.node.path == "t/app/service"
    synthesized = json.loads(cdk.Testing.synth(stack))
    assert sorted(synthesized["resource"]["aws_lb"]) == ["app_alb_E0D5076B"]
    assert sorted(synthesized["resource"]["aws_cloudwatch_log_group"]) == ["app_logs"]


def test_the_pattern_refuses_a_stack_that_would_rename_its_resources() -> None:
    stack = TerraformStack(cdk.Testing.app(), "plain")
    with pytest.raises(
        TypeError, match=r"^LoadBalancedFargateService 'app' keeps its resources' logical ids only in a "
    ):
        LoadBalancedFargateService(stack, "app", props(new_stack()))
    assert stack.node.children == []


def _shared_alb(stack: TerraformStack) -> SharedHttpsLoadBalancer:
    return SharedHttpsLoadBalancer(
        stack,
        "shared",
        SharedHttpsLoadBalancerProps(
            name="t-shared",
            settings=AlbSettings(subnet_ids=["subnet-3"], security_group_ids=["sg-2"]),
            certificate_arn="arn:aws:acm:us-east-1:1:certificate/x",
        ),
    )


def test_a_service_on_a_shared_alb_gets_a_host_rule_and_target_group_alarms() -> None:
    stack = new_stack()
    alb = _shared_alb(stack)
    service = LoadBalancedFargateService(
        stack,
        "app",
        props(
            stack,
            load_balancer=SharedLoadBalancerRoute(
                load_balancer=alb, host="app.example.com", priority=7, target_group_name="t-tg3001"
            ),
        ),
    )
    assert (service.certificate, service.waf_association, service.aliases) == (None, None, [])
    synthesized = json.loads(cdk.Testing.synth(stack))
    (rule,) = synthesized["resource"]["aws_lb_listener_rule"].values()
    (group_id,) = synthesized["resource"]["aws_lb_target_group"]
    (https_id,) = [k for k, v in synthesized["resource"]["aws_lb_listener"].items() if v["port"] == 443]
    assert {k: v for k, v in rule.items() if k != "//"} == {
        "listener_arn": f"${{aws_lb_listener.{https_id}.arn}}",
        "priority": 7,
        "condition": [{"host_header": {"values": ["app.example.com"]}}],
        "action": [{"type": "forward", "target_group_arn": f"${{aws_lb_target_group.{group_id}.arn}}"}],
    }
    alarms = synthesized["resource"]["aws_cloudwatch_metric_alarm"]
    assert sorted(a["alarm_name"] for a in alarms.values()) == [
        "t-app-p99-latency",
        "t-app-target-5xx-rate",
        "t-app-unhealthy-hosts",
    ]
    assert "aws_acm_certificate" not in synthesized["resource"] and "aws_route53_record" not in synthesized["resource"]


def test_shared_alb_refuses_clashing_routes() -> None:
    alb = _shared_alb(TerraformStack(cdk.Testing.app(), "t"))
    group = TargetGroupProps(name="t-tg1", vpc_id="vpc-1", port=3001)
    alb.add_host_route("a", host="a.example.com", priority=10, target_group=group)
    with pytest.raises(ValidationError, match=r"^load balancer route 'b': priority 10 is already used by route 'a'$"):
        alb.add_host_route("b", host="b.example.com", priority=10, target_group=group)
    with pytest.raises(
        ValidationError,
        match=r"^load balancer route 'c': host 'a.example.com' is already routed on this load balancer$",
    ):
        alb.add_host_route("c", host="a.example.com", priority=11, target_group=group)
    with pytest.raises(
        ValidationError,
        match=r"^load balancer route 'd': priority 50001 is outside 1-50000 \(listener rule priorities\)$",
    ):
        alb.add_host_route("d", host="d.example.com", priority=50001, target_group=group)


@pytest.mark.parametrize(
    ("priority", "host", "message"),
    [
        (0, "app.example.com", r"^service 'App': priority 0 is outside 1-50000 \(listener rule priorities\)$"),
        (10, "new.example.com", r"^service 'App': priority 10 is already used by route 'taken'$"),
        (11, "taken.example.com", r"^service 'App': host 'taken.example.com' is already routed on this load balancer$"),
    ],
)
def test_a_route_the_shared_alb_would_refuse_fails_up_front(priority: int, host: str, message: str) -> None:
    stack = new_stack()
    alb = _shared_alb(stack)
    alb.add_host_route(
        "taken",
        host="taken.example.com",
        priority=10,
        target_group=TargetGroupProps(name="t-tg1", vpc_id="vpc-1", port=1),
    )
    route = SharedLoadBalancerRoute(load_balancer=alb, host=host, priority=priority, target_group_name="t-tg3001")
    with pytest.raises(ValidationError, match=message):
        LoadBalancedFargateService(stack, "app", props(stack, load_balancer=route))
    assert [c.node.id for c in stack.node.children] == ["cluster", "shared"]
    assert list(alb.routes) == ["taken"]


def test_the_alarm_and_metric_keys_config_names_are_the_ones_the_constructs_use() -> None:
    """config/naming.py names (and validates) one alarm per key and one policy per metric; the
    constructs in modules/ call for exactly those keys (the two floors cannot import each other)."""
    from config.naming import SCALING_METRICS, SERVICE_ALARMS

    assert sorted(SERVICE_ALARMS) == sorted(ServiceAlarms.KEYS)
    assert tuple(SCALING_METRICS) == METRIC_KEYS

"""Plan and apply the pr-42 stage against a local moto server, in dependency order.

`dns`, `network` and `data` are applied (their state feeds the next stacks through the local
backend's stack-relative paths); `compute` and `edge` are planned with that real remote state.
The network stack is planned a second time after its apply: the plan must be empty. The emulator
loses the first answer of every request with a client token (HTTP 500 after carrying it out), so
every such create of these stacks is retried as after a lost answer on AWS and must still leave one
object. What moto cannot emulate, and how each gap is handled, is in docs/terraform-checks.md.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Callable, Iterator

import pytest

from tools.emulator_calls import read_calls, undecoded
from tools.moto_emulator import EMULATOR_SECRETS, MotoServer, StageRun, run_stage
from tools.terraform_check import PREBUILT_IMAGES, Workspace

STAGE = "pr-42"
CALL_LOG = "emulator-calls.jsonl"
"""Every AWS API call of the run, decoded to IAM actions (tools/emulator_calls), beside the workspace."""


@pytest.fixture(scope="module")
def stage_run(
    tf_variant: Callable[..., Workspace], terraform_for, tf_report
) -> Iterator[tuple[StageRun, Workspace, MotoServer]]:
    workspace = tf_variant(STAGE, "prebuilt")
    terraform, choices = terraform_for(workspace)
    assert choices["aws"] is not None, "no source for hashicorp/aws"
    started = time.monotonic()
    with MotoServer(call_log=workspace.root / CALL_LOG, lose_first_answers=True) as server:
        run = run_stage(terraform, workspace, server)
        tf_report(
            f"moto {STAGE}: "
            + ", ".join(f"{s} {run.seconds[s]:.0f} s" for s in run.seconds)
            + f"; total {time.monotonic() - started:.0f} s"
        )
        yield run, workspace, server


def _declared(stack: dict[str, Any]) -> tuple[Counter[str], set[str]]:
    """Resource instances a stack's JSON declares (literal `for_each` maps and `count`
    expanded), and the types with an expression-sized `for_each` (counted by hand below)."""
    counts: Counter[str] = Counter()
    open_sized: set[str] = set()
    for rtype, resources in stack.get("resource", {}).items():
        for config in resources.values():
            each, count = config.get("for_each"), config.get("count")
            if isinstance(each, str) or isinstance(count, str):
                open_sized.add(rtype)
            counts[rtype] += len(each) if isinstance(each, dict) else count if isinstance(count, int) else 1
    return counts, open_sized


@pytest.mark.slow
def test_every_stack_plans_exactly_what_it_declares(stage_run) -> None:
    run, workspace, _ = stage_run
    assert list(run.plans) == ["dns", "network", "data", "compute", "edge"]
    assert run.applied == ["dns", "network", "data"]
    open_sized = {}
    for stack, summary in run.plans.items():
        declared, open_types = _declared(workspace.stack_json(stack))
        planned = summary.count("create")
        assert {t: n for t, n in planned.items() if t not in open_types} == {
            t: n for t, n in declared.items() if t not in open_types
        }, stack
        assert summary.count("delete") == Counter() and summary.count("update") == Counter(), stack
        open_sized[stack] = {t: planned[t] for t in open_types}
    # Nothing is sized at apply time: certificate validation records are keyed by the names known
    # at synth (keys from domain_validation_options are unknown at plan with a SAN: found here).
    assert open_sized == {"dns": {}, "network": {}, "data": {}, "compute": {}, "edge": {}}


@pytest.mark.slow
def test_preview_shape_in_the_plans(stage_run) -> None:
    """The preview topology (StagePolicy of a preview: one NAT, a bastion, no proxy, a shared ALB), as Terraform plans it."""
    plans = stage_run[0].plans
    network, data, compute, edge = (plans[s].count("create") for s in ("network", "data", "compute", "edge"))
    assert (network["aws_vpc"], network["aws_subnet"], network["aws_instance"], network["aws_eip"]) == (
        1,
        4,
        2,
        1,
    )  # 2 AZs; one NAT + bastion
    # a preview owns only the database secrets; the five shared ones are dev's (seeded, looked up by name)
    assert (data["aws_rds_cluster"], data["aws_rds_cluster_instance"], data["aws_secretsmanager_secret"]) == (1, 1, 4)
    assert stage_run[0].template_secrets is True
    assert (data["aws_lambda_function"], data["aws_lambda_invocation"]) == (1, 1)
    assert (compute["aws_ecs_cluster"], compute["aws_ecs_service"], compute["aws_ecs_task_definition"]) == (1, 2, 2)
    assert compute["aws_lb_target_group"] == 2
    assert (edge["aws_cloudfront_distribution"], edge["aws_s3_object"]) == (1, 2)  # placeholder page + runtime config


@pytest.mark.slow
def test_network_second_plan_is_empty(stage_run) -> None:
    second = stage_run[0].second_network
    assert second.pending == [], json.dumps([rc for rc in second.changes if rc["address"] in second.pending], indent=1)[
        :4000
    ]
    created = sum(stage_run[0].plans["network"].count("create").values())
    assert created >= 50 and len(second.changes) == created  # every resource was compared, not a vacuous plan


@pytest.mark.slow
def test_applied_network_is_in_the_emulator(stage_run) -> None:
    run, _, server = stage_run
    outputs = run.outputs["network"]
    ec2 = server.client("ec2")
    (vpc,) = ec2.describe_vpcs(VpcIds=[outputs["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == "10.0.0.0/16"
    assert [a["Ipv6CidrBlockState"]["State"] for a in vpc["Ipv6CidrBlockAssociationSet"]] == ["associated"]
    (nat,) = [
        i
        for r in ec2.describe_instances(InstanceIds=outputs["nat_instance_ids"])["Reservations"]
        for i in r["Instances"]
    ]
    assert nat["PublicIpAddress"] == outputs["nat_public_ips"][0]  # the Elastic IP, no address of its own
    assert nat["SourceDestCheck"] is False


@pytest.mark.slow
def test_downstream_plans_use_known_upstream_values(stage_run) -> None:
    """Values from applied stacks are known at plan time (remote state really read)."""
    run = stage_run[0]
    network = run.outputs["network"]
    private = sorted(network["private_subnet_ids"])
    compute, data, edge = run.plans["compute"], run.plans["data"], run.plans["edge"]
    checked = 0
    for rc in compute.changes:
        after = rc["change"]["after"]
        if rc["type"] == "aws_lb_target_group":
            assert after["vpc_id"] == network["vpc_id"]
            checked += 1
        if rc["type"] == "aws_ecs_service":
            (config,) = after["network_configuration"]
            assert sorted(config["subnets"]) == private
            assert config["security_groups"] == [network["security_group_ids"]["service"]]
            assert config["assign_public_ip"] is False and after["desired_count"] == 1
            checked += 1
        if rc["type"] == "aws_ecs_task_definition":
            (container,) = json.loads(after["container_definitions"])
            assert container["image"] in PREBUILT_IMAGES.values()
            checked += 1
    assert checked == 6
    (cluster,) = [rc["change"]["after"] for rc in data.changes if rc["type"] == "aws_rds_cluster"]
    assert cluster["vpc_security_group_ids"] == [network["security_group_ids"]["database"]]
    assert cluster["serverlessv2_scaling_configuration"] == [
        {"max_capacity": 4, "min_capacity": 0, "seconds_until_auto_pause": 1200}
    ]
    (subnets,) = [rc["change"]["after"] for rc in data.changes if rc["type"] == "aws_db_subnet_group"]
    assert sorted(subnets["subnet_ids"]) == private
    (config,) = [
        rc["change"]["after"] for rc in edge.changes if rc["address"].startswith("aws_s3_object.content_config")
    ]
    runtime = json.loads(config["content"])
    assert runtime["VITE_STACK_PROJECT_ID"] == EMULATOR_SECRETS["StackProjectId"]  # read from Secrets Manager at plan
    assert runtime["VITE_API_URL"] == "https://pr-42.dev.api.hebo.ai"
    (cdn,) = [rc["change"]["after"] for rc in edge.changes if rc["type"] == "aws_cloudfront_distribution"]
    assert cdn["aliases"] == ["pr-42.dev.console.hebo.ai"]


@pytest.mark.slow
def test_every_call_of_the_stage_decodes_to_iam_actions(stage_run) -> None:
    """Every request Terraform and `ops` sent to the emulator has an IAM action and filled resource
    ARNs (a new resource type whose calls the decoder cannot read fails here, by operation)."""
    _run, workspace, _server = stage_run
    calls = read_calls(workspace.root / CALL_LOG)
    assert len({c.seq for c in calls}) > 300
    assert {"ec2", "iam", "kms", "logs", "rds", "lambda", "secretsmanager", "route53", "sts"} <= {
        c.service for c in calls
    }
    assert [(c.seq, c.operation, c.action, [r.arn for r in c.resources], c.error) for c in undecoded(calls)] == []


@pytest.mark.slow
def test_lost_answers_leave_one_object_each(stage_run) -> None:
    """Each create whose first answer was lost was retried and answered with the first attempt's
    result (tools/emulator_idempotency.py) — by its client token, or, without one, by the SDK's
    invocation id: the emulator holds exactly the objects the plans created, no second flow log,
    route table, instance, secret or security group rule (a rule carried out twice fails the apply
    with `InvalidPermission.Duplicate`). A create of a new resource type is covered by the same run."""
    run, _, server = stage_run
    lost = Counter(server.lost_answers())
    assert {"ec2 CreateFlowLogs", "ec2 RunInstances", "ec2 CreateRouteTable", "secretsmanager CreateSecret"} <= set(
        lost
    ), lost
    network = run.plans["network"].count("create")
    rules = network["aws_vpc_security_group_egress_rule"] + network["aws_vpc_security_group_ingress_rule"]
    assert lost["ec2 AuthorizeSecurityGroupEgress"] + lost["ec2 AuthorizeSecurityGroupIngress"] == rules > 10
    assert {
        "ec2 CreateSecurityGroup",
        "ec2 CreateVpc",
        "iam CreateRole",
        "kms CreateKey",
        "rds CreateDBCluster",
    } <= set(lost), lost  # no client token: lost on the way back, delivered to the retry
    assert server.server_errors() == []
    ec2 = server.client("ec2")
    group_rules = ec2.describe_security_group_rules(
        Filters=[{"Name": "tag:stage", "Values": ["pr-42"]}], MaxResults=1000
    )["SecurityGroupRules"]
    assert len(group_rules) == rules
    in_vpc = [{"Name": "vpc-id", "Values": [run.outputs["network"]["vpc_id"]]}]
    flow_logs = ec2.describe_flow_logs()["FlowLogs"]
    tables = [
        t
        for t in ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]
        if not any(a.get("Main") for a in t["Associations"])
    ]
    instances = [
        i
        for r in ec2.describe_instances(
            Filters=[*in_vpc, {"Name": "instance-state-name", "Values": ["running", "stopped"]}]  # the bastion: stopped
        )["Reservations"]
        for i in r["Instances"]
    ]
    assert (len(flow_logs), len(tables), len(instances)) == (
        network["aws_flow_log"],
        network["aws_route_table"],
        network["aws_instance"],
    )
    declared = {
        rc["change"]["after"]["name"] for rc in run.plans["data"].changes if rc["type"] == "aws_secretsmanager_secret"
    }
    held = [s["Name"] for s in server.client("secretsmanager").list_secrets(MaxResults=100)["SecretList"]]
    assert len(declared) >= 3 and sorted(n for n in held if n in declared) == sorted(declared)

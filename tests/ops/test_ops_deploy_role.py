"""`ops deploy-role` against the moto server: exact trust, exact scoping, idempotence, drift, dry run."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from ops import deploy_role

REPO = "hebo-ai/hebo-infra"
ACCOUNT = "123456789012"  # moto's default account
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "hebo-preview-deploy"


def _doc(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else json.loads(unquote(raw))


def role_state(iam: Any, name: str = ROLE) -> dict[str, Any]:
    role = iam.get_role(RoleName=name)["Role"]
    return {
        "trust": _doc(role["AssumeRolePolicyDocument"]),
        "max_session": role["MaxSessionDuration"],
        "policies": iam.list_role_policies(RoleName=name)["PolicyNames"],
        "policy": _doc(iam.get_role_policy(RoleName=name, PolicyName="preview-deploy")["PolicyDocument"]),
        "attached": iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"],
    }


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert len(statements) == len(policy["Statement"]), "every statement has its own Sid"
    return statements


def test_creates_provider_and_role_trusted_only_by_this_repository(run):
    result = run("deploy-role", "--github-repo", REPO)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == f"HEBO_PREVIEW_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    iam = boto3.client("iam")
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER)
    assert provider["Url"].removeprefix("https://") == "token.actions.githubusercontent.com"
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    state = role_state(iam)
    assert state["trust"] == {"Version": "2012-10-17", "Statement": [{
        "Sid": "GitHubActionsOfThisRepository",
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": [f"repo:{REPO}:pull_request", f"repo:{REPO}:ref:refs/heads/main"],
        }},
    }]}
    assert state["max_session"] == 10800
    assert state["policies"] == ["preview-deploy"] and state["attached"] == []

    again = run("deploy-role", "--github-repo", REPO)
    assert again.code == 0
    assert again.out.splitlines()[:2] == ["oidc provider token.actions.githubusercontent.com: up to date",
                                          f"role {ROLE}: up to date"]
    assert role_state(iam) == state


def test_state_access_is_preview_keys_only_and_production_is_denied(run):
    assert run("deploy-role", "--github-repo", REPO).code == 0
    policy = role_state(boto3.client("iam"))["policy"]
    s = by_sid(policy)
    assert s["StatePreviewKeys"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert s["StatePreviewKeys"]["Resource"] == ["arn:aws:s3:::hebo-terraform-state/pr-*"]
    assert s["StateReadDnsOutputs"] == {"Sid": "StateReadDnsOutputs", "Effect": "Allow", "Action": ["s3:GetObject"],
                                        "Resource": ["arn:aws:s3:::hebo-terraform-state/global/dns.tfstate"]}
    assert s["StateLockPreviewKeys"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["hebo-terraform-state/pr-*"]}}
    assert s["DenyProductionState"] == {"Sid": "DenyProductionState", "Effect": "Deny", "Action": ["s3:*"],
                                        "Resource": ["arn:aws:s3:::hebo-terraform-state/production/*"]}
    assert s["DenyWritingAccountWideState"]["Resource"] == ["arn:aws:s3:::hebo-terraform-state/global/*"]
    assert s["DenyProductionByTag"]["Condition"] == {"StringEquals": {"aws:ResourceTag/stage": "production"}}
    assert s["DenyTaggingAsProduction"]["Condition"] == {"StringEquals": {"aws:RequestTag/stage": "production"}}
    assert f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/production/*" in s["DenyProductionByName"]["Resource"]
    # Every Allow is scoped: a preview name/key, a stage=pr-* tag, a condition, or read-only discovery.
    allows = [st for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert len(allows) >= 15
    for st in allows:
        assert "*" not in st["Action"], st["Sid"]
        unscoped = [r for r in st["Resource"] if "pr-*" not in r and "preview" not in r]
        if unscoped and "Condition" not in st:
            assert st["Sid"] in ("StateReadDnsOutputs", "StateListBucket", "LaunchFromPublicImages",
                                 "CloudFrontUntaggableConfig", "ReadOnlyDiscovery"), st["Sid"]
        if st["Sid"] == "ReadOnlyDiscovery":
            verbs = {a.split(":")[1] for a in st["Action"]}
            assert all(v.startswith(("Describe", "List", "Get")) for v in verbs), verbs
    assert "production" not in json.dumps(allows)


def test_iam_scoping_names_tags_managed_policies_and_passed_services(run):
    assert run("deploy-role", "--github-repo", REPO, "--secrets-from", "dev").code == 0
    s = by_sid(role_state(boto3.client("iam"))["policy"])
    assert s["PreviewIam"]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/hebo-pr-*", f"arn:aws:iam::{ACCOUNT}:instance-profile/hebo-pr-*"]
    assert s["AttachOnlyTheStacksManagedPolicies"]["Condition"] == {"ArnEquals": {"iam:PolicyARN": [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    ]}}
    assert s["PassPreviewRolesToTheirServices"]["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "rds.amazonaws.com", "monitoring.rds.amazonaws.com",
        "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com"]
    assert s["CreateTaggedAsPreview"]["Condition"] == {"StringLike": {"aws:RequestTag/stage": "pr-*"}}
    assert s["ManageTaggedAsPreview"]["Condition"] == {"StringLike": {"aws:ResourceTag/stage": "pr-*"}}
    assert s["PreviewDnsRecordsOnly"]["Condition"] == {"ForAllValues:StringLike": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["pr-*.dev.*.hebo.ai", "_*.pr-*.dev.*.hebo.ai"]}}
    assert s["PreviewSecrets"]["Resource"] == [f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/pr-*"]
    template = f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/dev/"
    assert s["DescribeTemplateSecrets"]["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"]
    assert s["DescribeTemplateSecrets"]["Resource"] == [
        f"{template}{n}-??????" for n in ("StackProjectId", "StackSecretServerKey", "StackPublishableClientKey", "GroqApiKey", "VoyageApiKey")]
    publishable = [f"{template}StackProjectId-??????", f"{template}StackPublishableClientKey-??????"]
    assert (s["ReadTemplatePublishableValues"]["Action"], s["ReadTemplatePublishableValues"]["Resource"]) == (
        ["secretsmanager:GetSecretValue"], publishable)
    assert s["DecryptTemplatePublishableValues"]["Action"] == ["kms:Decrypt"]
    assert s["DecryptTemplatePublishableValues"]["Condition"] == {"StringLike": {
        "kms:ViaService": "secretsmanager.*.amazonaws.com", "kms:EncryptionContext:SecretARN": publishable}}
    assert "ReadTemplateSecrets" not in s  # previews no longer copy the template's values


def test_policy_fits_the_inline_policy_quota():
    config = deploy_role.DeployRoleConfig(github_repo=REPO, state_bucket="a-rather-long-terraform-state-bucket-name",
                                          lock_table="hebo-terraform-locks", zone="hebo.ai", secrets_from="staging")
    size = deploy_role.policy_size(deploy_role.permissions_policy(config, ACCOUNT))
    assert 5000 < size <= deploy_role.INLINE_POLICY_MAX_CHARS == 10240


def test_converges_drift_in_trust_session_and_policy(run):
    assert run("deploy-role", "--github-repo", REPO).code == 0
    iam = boto3.client("iam")
    wanted = role_state(iam)
    wide = json.loads(json.dumps(wanted["trust"]))
    wide["Statement"][0]["Condition"]["StringLike"] = {"token.actions.githubusercontent.com:sub": "repo:*"}
    del wide["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(wide))
    iam.update_role(RoleName=ROLE, MaxSessionDuration=3600)
    iam.put_role_policy(RoleName=ROLE, PolicyName="preview-deploy", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))

    dry = run("deploy-role", "--github-repo", REPO, "--dry-run")
    assert dry.code == 0
    assert [line for line in dry.out.splitlines() if line.startswith("role ")] == [
        f"role {ROLE}: would replace the trust policy",
        f"role {ROLE}: would set the maximum session to 10800 s",
        f"role {ROLE}: would set inline policy preview-deploy (21 statements)",
    ]
    assert role_state(iam)["max_session"] == 3600

    fixed = run("deploy-role", "--github-repo", REPO)
    assert [line for line in fixed.out.splitlines() if line.startswith("role ")] == [
        f"role {ROLE}: trust policy replaced",
        f"role {ROLE}: maximum session set to 10800 s",
        f"role {ROLE}: inline policy preview-deploy set (21 statements)",
    ]
    assert role_state(iam) == wanted


def test_dry_run_creates_nothing(run):
    result = run("deploy-role", "--github-repo", REPO, "--dry-run")
    assert result.code == 0, result.err
    assert result.out.splitlines()[:4] == [
        "oidc provider token.actions.githubusercontent.com: would create it (audience sts.amazonaws.com)",
        f"role {ROLE}: would create it (trusted by repo:{REPO}:pull_request, repo:{REPO}:ref:refs/heads/main)",
        f"role {ROLE}: would set inline policy preview-deploy (21 statements)",
        "dry run: 3 change(s) planned, nothing written",
    ]
    iam = boto3.client("iam")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"] == ROLE] == []


def test_existing_provider_without_our_audience_gets_it():
    """moto does not implement AddClientIDToOpenIDConnectProvider, so the IAM calls are stubbed (exact params)."""
    import io

    from botocore.stub import Stubber

    iam = boto3.client("iam")
    out = io.StringIO()
    with Stubber(iam) as stub:
        stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER}]}, {})
        stub.add_response("get_open_id_connect_provider", {"ClientIDList": ["other"]}, {"OpenIDConnectProviderArn": PROVIDER})
        stub.add_response("add_client_id_to_open_id_connect_provider", {},
                          {"OpenIDConnectProviderArn": PROVIDER, "ClientID": "sts.amazonaws.com"})
        assert deploy_role.converge_provider(iam, out, False, ACCOUNT, "aws") == (PROVIDER, 1)
        stub.assert_no_pending_responses()
    assert out.getvalue() == "oidc provider token.actions.githubusercontent.com: added audience sts.amazonaws.com\n"


@pytest.mark.parametrize("argv, message", [
    (["--github-repo", "hebo-infra"], "invalid --github-repo 'hebo-infra': must be owner/name"),
    (["--github-repo", "hebo-ai/hebo infra"], "invalid --github-repo"),
    (["--github-repo", "repo:*"], "invalid --github-repo"),
    (["--github-repo", REPO, "--secrets-from", "production"], "invalid --secrets-from 'production': previews never read production's secrets"),
    (["--github-repo", REPO, "--secrets-from", "pr-7"], "invalid --secrets-from 'pr-7': a preview owns no app secrets to share"),
    (["--github-repo", REPO, "--secrets-from", "Dev"], "invalid --secrets-from 'Dev'"),
])
def test_bad_arguments_exit_2_before_any_call(run, argv, message):
    result = run("deploy-role", *argv)
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1
    assert boto3.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []

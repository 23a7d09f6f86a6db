"""`ops deploy-role` against the moto server: exact trust, exact scoping, idempotence, drift, dry run."""

from __future__ import annotations

import json
from pathlib import Path
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


BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/hebo-preview-boundary"
GUARDRAILS = f"arn:aws:iam::{ACCOUNT}:policy/hebo-preview-deploy-guardrails"
GRANTS = f"arn:aws:iam::{ACCOUNT}:policy/hebo-preview-deploy-grants"
ACCOUNT_DENIES = f"arn:aws:iam::{ACCOUNT}:policy/hebo-preview-deploy-account-denies"
CONFIG = deploy_role.DeployRoleConfig(
    github_repo=REPO, state_bucket="hebo-terraform-state", lock_table="", zone="hebo.ai", secrets_from="dev"
)
"""What `ops deploy-role` converges with no flags but --github-repo: the settings' defaults
(HEBO_PREVIEW_SECRETS_FROM=dev)."""


def managed_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return _doc(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def role_state(iam: Any, name: str = ROLE) -> dict[str, Any]:
    role = iam.get_role(RoleName=name)["Role"]
    return {
        "trust": _doc(role["AssumeRolePolicyDocument"]),
        "max_session": role["MaxSessionDuration"],
        "policies": iam.list_role_policies(RoleName=name)["PolicyNames"],
        "policy": _doc(iam.get_role_policy(RoleName=name, PolicyName="preview-deploy")["PolicyDocument"]),
        "attached": [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]],
        "boundary": managed_document(iam, BOUNDARY),
        "guardrails": managed_document(iam, GUARDRAILS),
        "grants": managed_document(iam, GRANTS),
        "account_denies": managed_document(iam, ACCOUNT_DENIES),
        "own_boundary": role.get("PermissionsBoundary"),
    }


def account_facts() -> deploy_role.AccountFacts:
    """What `ops deploy-role` finds in a fresh moto account: its default VPC (untagged) and nothing
    else, in the client's region."""
    ec2 = boto3.client("ec2")
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert len(vpcs) == 1
    return deploy_role.AccountFacts(other_vpcs=tuple(vpcs), region=ec2.meta.region_name)


def by_sid(*policies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    every = [s for policy in policies for s in policy["Statement"]]
    statements = {s["Sid"]: s for s in every}
    assert len(statements) == len(every), "every statement has its own Sid"
    return statements


def test_creates_provider_boundary_guardrails_and_role_trusted_only_by_the_preview_environment(run):
    result = run("deploy-role", "--github-repo", REPO)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == f"HEBO_PREVIEW_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    iam = boto3.client("iam")
    provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=PROVIDER)
    assert provider["Url"].removeprefix("https://") == "token.actions.githubusercontent.com"
    assert provider["ClientIDList"] == ["sts.amazonaws.com"]
    state = role_state(iam)
    assert state["trust"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOfThisRepositorysPreviewEnvironment",
                "Effect": "Allow",
                "Principal": {"Federated": PROVIDER},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                        "token.actions.githubusercontent.com:sub": f"repo:{REPO}:environment:preview",
                    }
                },
            }
        ],
    }
    assert state["max_session"] == 10800
    assert state["policies"] == ["preview-deploy"] and state["attached"] == [ACCOUNT_DENIES, GRANTS, GUARDRAILS]
    assert state["own_boundary"] is None  # the deploy role itself is an administrator's, bounded by its own denies
    assert state["boundary"] == deploy_role.boundary_policy(CONFIG, ACCOUNT)
    assert state["guardrails"] == deploy_role.guardrails_policy(CONFIG, ACCOUNT, facts=account_facts())
    assert state["account_denies"] == deploy_role.account_denies_policy(CONFIG, ACCOUNT, facts=account_facts())
    assert state["grants"] == deploy_role.grants_policy(CONFIG, ACCOUNT)
    assert state["policy"] == deploy_role.permissions_policy(CONFIG, ACCOUNT)

    again = run("deploy-role", "--github-repo", REPO)
    assert again.code == 0
    assert again.out.splitlines()[1:7] == [
        "oidc provider token.actions.githubusercontent.com: up to date",
        "policy hebo-preview-boundary: up to date",
        "policy hebo-preview-deploy-grants: up to date",
        "policy hebo-preview-deploy-guardrails: up to date",
        "policy hebo-preview-deploy-account-denies: up to date",
        f"role {ROLE}: up to date",
    ]
    assert role_state(iam) == state


def test_state_access_is_preview_keys_only_and_production_is_denied(run):
    assert run("deploy-role", "--github-repo", REPO).code == 0
    state = role_state(boto3.client("iam"))
    policy = state["policy"]
    s = by_sid(policy, state["grants"], state["guardrails"])
    assert s["StatePreviewKeys"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert s["StatePreviewKeys"]["Resource"] == ["arn:aws:s3:::hebo-terraform-state/pr-*"]
    assert s["StateReadDnsOutputs"] == {
        "Sid": "StateReadDnsOutputs",
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::hebo-terraform-state/global/dns.tfstate"],
    }
    assert s["StateLockPreviewKeys"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["hebo-terraform-state/pr-*"]}
    }
    assert s["DenyProductionState"] == {
        "Sid": "DenyProductionState",
        "Effect": "Deny",
        "Action": ["s3:*"],
        "Resource": ["arn:aws:s3:::hebo-terraform-state/production/*"],
    }
    assert s["DenyWritingAccountWideState"]["Resource"] == ["arn:aws:s3:::hebo-terraform-state/global/*"]
    assert s["DenyProductionByTag"]["Condition"] == {"StringEquals": {"aws:ResourceTag/stage": "production"}}
    assert s["DenyTaggingAsAnotherStage"]["Condition"] == {
        "StringNotLike": {"aws:RequestTag/stage": "pr-*"},
        "Null": {"aws:RequestTag/stage": "false"},
    }
    assert f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/production/*" in s["DenyProductionByName"]["Resource"]
    # Every Allow is scoped: a preview name/key, a stage=pr-* tag, a condition, or read-only discovery.
    allows = [st for doc in (policy, state["grants"]) for st in doc["Statement"] if st["Effect"] == "Allow"]
    assert len(allows) >= 20
    for st in allows:
        assert "*" not in st["Action"], st["Sid"]
        # the template's secrets (the default HEBO_PREVIEW_SECRETS_FROM=dev) are named one by one
        unscoped = [
            r for r in st["Resource"] if "pr-*" not in r and "preview" not in r and ":secret:hebo/dev/" not in r
        ]
        if unscoped and "Condition" not in st:
            assert st["Sid"] in deploy_role.UNSCOPED_ALLOWS, st["Sid"]
        if st["Sid"] == "ReadOnlyDiscovery":
            verbs = {a.split(":")[1] for a in st["Action"]}
            assert all(v.startswith(("Describe", "List", "Get")) for v in verbs), verbs
            assert not {"ssm:GetParameter", "ssm:GetParameters"} & set(st["Action"]), "no stack reads SSM"
    assert "production" not in json.dumps(allows)


def test_iam_only_with_the_boundary_and_each_role_to_its_service(run):
    assert run("deploy-role", "--github-repo", REPO, "--secrets-from", "dev").code == 0
    state = role_state(boto3.client("iam"))
    s = by_sid(state["policy"], state["grants"], state["guardrails"])
    roles = f"arn:aws:iam::{ACCOUNT}:role/hebo-pr-*"
    assert s["PreviewRolesOnlyWithTheBoundary"] == {
        "Sid": "PreviewRolesOnlyWithTheBoundary",
        "Effect": "Allow",
        "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
        "Resource": [roles],
        "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}},
    }
    assert s["AttachOnlyTheStacksManagedPolicies"]["Condition"] == {
        "StringEquals": {"iam:PermissionsBoundary": BOUNDARY},
        "ArnEquals": {
            "iam:PolicyARN": [
                "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ]
        },
    }
    assert s["AttachOnlyTheStacksManagedPolicies"]["Action"] == ["iam:AttachRolePolicy"]
    assert s["DetachFromPreviewRoles"] == {
        "Sid": "DetachFromPreviewRoles",
        "Effect": "Allow",
        "Action": ["iam:DetachRolePolicy"],
        "Resource": [roles],
        "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}},
    }
    assert s["DenyRolesWithoutTheBoundary"]["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": BOUNDARY}}
    assert s["DenyRemovingBoundaries"]["Action"] == [
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary",
        "iam:PutUserPermissionsBoundary",
    ]
    assert s["DenyChangingTheBoundaryGuardrailsOrThisRole"]["Resource"] == [
        BOUNDARY,
        GUARDRAILS,
        GRANTS,
        ACCOUNT_DENIES,
        f"arn:aws:iam::{ACCOUNT}:role/{ROLE}",
    ]
    passes = {
        sid: (st["Resource"], st["Condition"]["StringEquals"]["iam:PassedToService"])
        for sid, st in s.items()
        if "iam:PassRole" in st.get("Action", [])
    }
    assert passes == {
        "PassPreviewRolesToEcsTasks": ([f"{roles}-exec", f"{roles}-task"], "ecs-tasks.amazonaws.com"),
        "PassPreviewRolesToLambda": ([f"{roles}-migrator"], "lambda.amazonaws.com"),
        "PassPreviewRolesToEc2": ([f"{roles}-bastion", f"{roles}-nat"], "ec2.amazonaws.com"),
        "PassPreviewRolesToVpcFlowLogs": ([f"{roles}-flow-logs"], "vpc-flow-logs.amazonaws.com"),
    }
    assert s["EcsOnlyInPreviewClusters"]["Condition"] == {
        "ArnNotLike": {"ecs:cluster": f"arn:aws:ecs:*:{ACCOUNT}:cluster/hebo-pr-*"}
    }
    assert s["CreateTaggedAsPreview"]["Condition"] == {"StringLike": {"aws:RequestTag/stage": "pr-*"}}
    assert s["ManageTaggedAsPreview"]["Condition"] == {"StringLike": {"aws:ResourceTag/stage": "pr-*"}}
    assert s["PreviewDnsRecordsOnly"]["Condition"] == {
        "ForAllValues:StringLike": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["pr-*.dev.*.hebo.ai", "_*.pr-*.dev.*.hebo.ai"]
        },
        "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["A", "AAAA", "CNAME"]},
        "Null": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": "false"},
    }
    assert s["CreateTaggedAsPreview"]["Action"].count("acm:RequestCertificate") == 0
    assert s["PreviewCertificatesOnly"]["Condition"] == {
        "StringLike": {"aws:RequestTag/stage": "pr-*"},
        "ForAllValues:StringLike": {"acm:DomainNames": ["pr-*.dev.*.hebo.ai"]},
    }
    assert s["PreviewDnsRecordsOnly"]["Resource"] == ["arn:aws:route53:::hostedzone/*"]  # moto holds no zone hebo.ai
    assert s["PreviewSecrets"]["Resource"] == [f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/pr-*"]
    template = f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/dev/"
    assert s["DescribeTemplateSecrets"]["Action"] == [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
    ]
    shared = ("StackProjectId", "StackSecretServerKey", "StackPublishableClientKey", "GroqApiKey", "VoyageApiKey")
    # each by its ARN (random suffix) and by its exact name (how a name no longer there is authorized)
    assert s["DescribeTemplateSecrets"]["Resource"] == [f"{template}{n}-??????" for n in shared] + [
        f"{template}{n}" for n in shared
    ]
    publishable = [f"{template}StackProjectId-??????", f"{template}StackPublishableClientKey-??????"]
    assert (s["ReadTemplatePublishableValues"]["Action"], s["ReadTemplatePublishableValues"]["Resource"]) == (
        ["secretsmanager:GetSecretValue"],
        publishable + [f"{template}StackProjectId", f"{template}StackPublishableClientKey"],
    )
    assert s["DecryptTemplatePublishableValues"]["Condition"] == {
        "StringLike": {
            "kms:ViaService": "secretsmanager.*.amazonaws.com",
            "kms:EncryptionContext:SecretARN": publishable,
        }
    }
    # The template's other secrets are exempt from the other-stage deny only to be described.
    assert s["DenyOtherStagesResources"]["NotResource"][2:] == s["DescribeTemplateSecrets"]["Resource"][:5]


def test_policies_fit_the_iam_quotas():
    """Inline policies of a role: 10,240 characters in total; a managed policy: 6,144 (IAM User Guide,
    "IAM and AWS STS quotas"). Measured with a long bucket name and a template stage."""
    config = deploy_role.DeployRoleConfig(
        github_repo="a-long-organization-name/a-long-repository-name",
        state_bucket="a-rather-long-terraform-state-bucket-name",
        lock_table="hebo-terraform-locks",
        zone="hebo.ai",
        secrets_from="staging",
    )
    # the inline policy with the facts it grows by: a hosted zone id and three VPCs' security-group deny
    facts = deploy_role.AccountFacts(hosted_zone_id="Z0123456789ABCDEFGHIJ", other_vpcs=("vpc-0123456789abcdef0",) * 3)
    inline = deploy_role.policy_size(deploy_role.permissions_policy(config, ACCOUNT, facts=facts))
    grants = deploy_role.policy_size(deploy_role.grants_policy(config, ACCOUNT))
    guardrails = deploy_role.policy_size(deploy_role.guardrails_policy(config, ACCOUNT))
    boundary = deploy_role.policy_size(deploy_role.boundary_policy(config, ACCOUNT))
    assert 5000 < inline <= deploy_role.INLINE_POLICY_MAX_CHARS == 10240
    assert 2000 < grants <= deploy_role.MANAGED_POLICY_MAX_CHARS == 6144
    assert 2000 < guardrails <= deploy_role.MANAGED_POLICY_MAX_CHARS - 1000  # room left: nothing in it grows
    assert 2000 < boundary <= deploy_role.MANAGED_POLICY_MAX_CHARS


def test_an_oversized_managed_policy_is_refused_before_any_call():
    import io

    document = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "X" * 7000, "Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    with pytest.raises(deploy_role.UsageError, match=r"policy big is 70\d\d characters; IAM allows 6144"):
        deploy_role.converge_managed_policy(object(), "big", document, "d", ACCOUNT, "aws", io.StringIO(), False)


def test_converges_drift_in_trust_session_policy_boundary_and_attachment(run):
    assert run("deploy-role", "--github-repo", REPO).code == 0
    iam = boto3.client("iam")
    wanted = role_state(iam)
    wide = json.loads(json.dumps(wanted["trust"]))
    wide["Statement"][0]["Condition"]["StringLike"] = {"token.actions.githubusercontent.com:sub": "repo:*"}
    del wide["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(wide))
    iam.update_role(RoleName=ROLE, MaxSessionDuration=3600)
    open_policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    iam.put_role_policy(RoleName=ROLE, PolicyName="preview-deploy", PolicyDocument=open_policy)
    iam.detach_role_policy(RoleName=ROLE, PolicyArn=GUARDRAILS)
    for _ in range(4):  # IAM keeps five versions: the converge must delete the oldest non-default one
        iam.create_policy_version(PolicyArn=BOUNDARY, PolicyDocument=open_policy, SetAsDefault=True)
    statements = len(wanted["policy"]["Statement"])

    dry = run("deploy-role", "--github-repo", REPO, "--dry-run")
    assert dry.code == 0
    assert [line for line in dry.out.splitlines() if line.startswith(("role ", "policy "))] == [
        f"policy hebo-preview-boundary: would set a new default version ({len(wanted['boundary']['Statement'])} statements)",
        "policy hebo-preview-deploy-grants: up to date",
        "policy hebo-preview-deploy-guardrails: up to date",
        "policy hebo-preview-deploy-account-denies: up to date",
        f"role {ROLE}: would replace the trust policy",
        f"role {ROLE}: would set the maximum session to 10800 s",
        f"role {ROLE}: would set inline policy preview-deploy ({statements} statements)",
        f"role {ROLE}: would attach hebo-preview-deploy-guardrails",
    ]
    assert role_state(iam)["max_session"] == 3600

    fixed = run("deploy-role", "--github-repo", REPO)
    assert fixed.code == 0, fixed.err
    assert [line for line in fixed.out.splitlines() if line.startswith(("role ", "policy "))] == [
        f"policy hebo-preview-boundary: set a new default version ({len(wanted['boundary']['Statement'])} statements)",
        "policy hebo-preview-deploy-grants: up to date",
        "policy hebo-preview-deploy-guardrails: up to date",
        "policy hebo-preview-deploy-account-denies: up to date",
        f"role {ROLE}: trust policy replaced",
        f"role {ROLE}: maximum session set to 10800 s",
        f"role {ROLE}: inline policy preview-deploy set ({statements} statements)",
        f"role {ROLE}: hebo-preview-deploy-guardrails attached",
    ]
    assert role_state(iam) == wanted
    assert len(iam.list_policy_versions(PolicyArn=BOUNDARY)["Versions"]) == 5


def test_dry_run_creates_nothing(run):
    result = run("deploy-role", "--github-repo", REPO, "--dry-run")
    assert result.code == 0, result.err
    statements = len(deploy_role.permissions_policy(CONFIG, ACCOUNT)["Statement"])
    guardrails = deploy_role.guardrails_policy(CONFIG, ACCOUNT, facts=account_facts())
    denies = deploy_role.account_denies_policy(CONFIG, ACCOUNT, facts=account_facts())
    assert result.out.splitlines()[:12] == [
        "protected CloudFront config (used by distributions not tagged pr-*): 0; untagged keys and distributions: 0; "
        "other stages' subnets: 0; VPCs not tagged pr-*: 1; hosted zone hebo.ai: not found, records allowed in any zone",
        "oidc provider token.actions.githubusercontent.com: would create it (audience sts.amazonaws.com)",
        f"policy hebo-preview-boundary: would create it ({len(deploy_role.boundary_policy(CONFIG, ACCOUNT)['Statement'])} statements)",
        f"policy hebo-preview-deploy-grants: would create it ({len(deploy_role.grants_policy(CONFIG, ACCOUNT)['Statement'])} statements)",
        f"policy hebo-preview-deploy-guardrails: would create it ({len(guardrails['Statement'])} statements)",
        f"policy hebo-preview-deploy-account-denies: would create it ({len(denies['Statement'])} statements)",
        f"role {ROLE}: would create it (trusted by repo:{REPO}:environment:preview)",
        f"role {ROLE}: would set inline policy preview-deploy ({statements} statements)",
        f"role {ROLE}: would attach hebo-preview-deploy-grants",
        f"role {ROLE}: would attach hebo-preview-deploy-guardrails",
        f"role {ROLE}: would attach hebo-preview-deploy-account-denies",
        "dry run: 10 change(s) planned, nothing written",
    ]
    iam = boto3.client("iam")
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"] == ROLE] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []


def test_existing_provider_without_our_audience_gets_it():
    """moto does not implement AddClientIDToOpenIDConnectProvider, so the IAM calls are stubbed (exact params)."""
    import io

    from botocore.stub import Stubber

    iam = boto3.client("iam")
    out = io.StringIO()
    with Stubber(iam) as stub:
        stub.add_response("list_open_id_connect_providers", {"OpenIDConnectProviderList": [{"Arn": PROVIDER}]}, {})
        stub.add_response(
            "get_open_id_connect_provider", {"ClientIDList": ["other"]}, {"OpenIDConnectProviderArn": PROVIDER}
        )
        stub.add_response(
            "add_client_id_to_open_id_connect_provider",
            {},
            {"OpenIDConnectProviderArn": PROVIDER, "ClientID": "sts.amazonaws.com"},
        )
        assert deploy_role.converge_provider(iam, out, False, ACCOUNT, "aws") == (PROVIDER, 1)
        stub.assert_no_pending_responses()
    assert out.getvalue() == "oidc provider token.actions.githubusercontent.com: added audience sts.amazonaws.com\n"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--github-repo", "hebo-infra"], "invalid --github-repo 'hebo-infra': must be owner/name"),
        (["--github-repo", "hebo-ai/hebo infra"], "invalid --github-repo"),
        (["--github-repo", "repo:*"], "invalid --github-repo"),
        (["--github-repo", "hebo-ai@12/hebo-infra@x"], "invalid --github-repo"),
        (
            ["--github-repo", REPO, "--secrets-from", "production"],
            "invalid --secrets-from 'production': previews never read production's secrets",
        ),
        (
            ["--github-repo", REPO, "--secrets-from", "pr-7"],
            "invalid --secrets-from 'pr-7': a preview owns no app secrets to share",
        ),
        (["--github-repo", REPO, "--secrets-from", "Dev"], "invalid --secrets-from 'Dev'"),
    ],
)
def test_bad_arguments_exit_2_before_any_call(run, argv, message):
    result = run("deploy-role", *argv)
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1
    assert boto3.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_every_wildcard_resource_has_a_written_reason():
    config = deploy_role.DeployRoleConfig(
        github_repo=REPO, state_bucket="s", lock_table="l", zone="hebo.ai", secrets_from="dev"
    )
    documents = [
        deploy_role.permissions_policy(config, ACCOUNT),
        deploy_role.grants_policy(config, ACCOUNT),
        deploy_role.guardrails_policy(config, ACCOUNT),
        deploy_role.account_denies_policy(config, ACCOUNT),
        deploy_role.boundary_policy(config, ACCOUNT),
    ]
    wildcard = {
        st["Sid"] for doc in documents for st in doc["Statement"] if st["Effect"] == "Allow" and "*" in st["Resource"]
    }
    assert wildcard == set(deploy_role.WILDCARD_RESOURCE_REASONS)
    docs = (Path(__file__).parents[2] / "docs" / "previews.md").read_text()
    assert [sid for sid in wildcard if f"`{sid}`" not in docs] == []


def _oac(cloudfront: Any, name: str) -> str:
    return cloudfront.create_origin_access_control(
        OriginAccessControlConfig={
            "Name": name,
            "SigningProtocol": "sigv4",
            "SigningBehavior": "always",
            "OriginAccessControlOriginType": "s3",
        }
    )["OriginAccessControl"]["Id"]


def _summary(ident: str, access_control: str | None = None, headers_policy: str | None = None) -> dict[str, Any]:
    """A ListDistributions summary as the CloudFront API returns it (botocore's model checks it)."""
    origin: dict[str, Any] = {
        "Id": "console",
        "DomainName": "b.s3.us-east-1.amazonaws.com",
        "S3OriginConfig": {"OriginAccessIdentity": ""},
    }
    if access_control:
        origin["OriginAccessControlId"] = access_control
    behaviour: dict[str, Any] = {"TargetOriginId": "console", "ViewerProtocolPolicy": "redirect-to-https"}
    if headers_policy:
        behaviour["ResponseHeadersPolicyId"] = headers_policy
    return {
        "Id": ident,
        "ARN": f"arn:aws:cloudfront::{ACCOUNT}:distribution/{ident}",
        "Status": "Deployed",
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "DomainName": f"{ident.lower()}.cloudfront.net",
        "Aliases": {"Quantity": 0},
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": behaviour,
        "CacheBehaviors": {"Quantity": 0},
        "CustomErrorResponses": {"Quantity": 0},
        "Comment": "",
        "PriceClass": "PriceClass_100",
        "Enabled": True,
        "ViewerCertificate": {},
        "Restrictions": {"GeoRestriction": {"RestrictionType": "none", "Quantity": 0}},
        "WebACLId": "",
        "HttpVersion": "http2and3",
        "IsIPV6Enabled": True,
        "Staging": False,
    }


def _tags(stage: str | None) -> dict[str, Any]:
    return {"Tags": {"Items": [{"Key": "stage", "Value": stage}] if stage else []}}


def test_cloudfront_config_is_protected_by_reference_and_untagged_objects_by_arn():
    """Origin access controls and response headers policies take no tag and no condition key: the
    ones that distributions not tagged pr-* use are denied Update/Delete (a PR's own objects, under
    any name, do not grow the list); untagged distributions, untagged customer managed keys and the
    state bucket's key may not be tagged (adopted). CloudFront's listings against botocore's model
    (Stubber: moto drops OriginAccessControlId from summaries), the rest on moto."""
    from botocore.stub import Stubber

    from ops.account_facts import discover_account

    cloudfront, kms, s3 = boto3.client("cloudfront"), boto3.client("kms"), boto3.client("s3")
    untagged_key = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_key(Tags=[{"TagKey": "stage", "TagValue": "pr-7"}])
    kms.create_key(Tags=[{"TagKey": "stage", "TagValue": "production"}])  # DenyOtherStagesResources covers it
    state_key = kms.create_key(Tags=[{"TagKey": "stage", "TagValue": "global"}])["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="hebo-terraform-state")
    s3.put_bucket_encryption(
        Bucket="hebo-terraform-state",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": state_key}}]
        },
    )
    pages = [
        {
            "DistributionList": {
                "Marker": "",
                "MaxItems": 2,
                "IsTruncated": True,
                "NextMarker": "m2",
                "Quantity": 2,
                "Items": [_summary("EPROD", "E2PRODOAC", "rhp-production"), _summary("EPR7", "EPR7OAC", "rhp-pr-7")],
            }
        },
        {
            "DistributionList": {
                "Marker": "m2",
                "MaxItems": 2,
                "IsTruncated": False,
                "Quantity": 1,
                "Items": [_summary("EHANDMADE", None, "rhp-handmade")],
            }
        },
    ]
    with Stubber(cloudfront) as stub:
        stub.add_response("list_distributions", pages[0], {})
        stub.add_response("list_distributions", pages[1], {"Marker": "m2"})
        for ident, stage in (("EPROD", "production"), ("EPR7", "pr-7"), ("EHANDMADE", None)):
            arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/{ident}"
            stub.add_response("list_tags_for_resource", _tags(stage), {"Resource": arn})
        clients = {
            "cloudfront": cloudfront,
            "route53": boto3.client("route53"),
            "ec2": boto3.client("ec2"),
            "kms": kms,
            "s3": s3,
        }
        facts = discover_account(clients, "hebo.ai", "hebo-terraform-state", "aws", ACCOUNT)
        stub.assert_no_pending_responses()
    assert facts.protected_cloudfront == (
        f"arn:aws:cloudfront::{ACCOUNT}:origin-access-control/E2PRODOAC",
        f"arn:aws:cloudfront::{ACCOUNT}:response-headers-policy/rhp-handmade",
        f"arn:aws:cloudfront::{ACCOUNT}:response-headers-policy/rhp-production",
    )
    assert facts.unadoptable == tuple(
        sorted([f"arn:aws:cloudfront::{ACCOUNT}:distribution/EHANDMADE", untagged_key, state_key])
    )
    s = by_sid(deploy_role.account_denies_policy(CONFIG, ACCOUNT, facts=facts))
    assert s["DenyAdoptingUntaggedKeysAndDistributions"] == {
        "Sid": "DenyAdoptingUntaggedKeysAndDistributions",
        "Effect": "Deny",
        "Action": ["kms:TagResource", "cloudfront:*"],
        "Resource": list(facts.unadoptable),
    }
    assert s["DenyOtherStagesCloudFrontConfig"]["Resource"] == list(facts.protected_cloudfront)
    # the role reads and writes its own state through S3 with the bucket's key, and is never denied it
    assert facts.state_key == state_key
    grants = by_sid(deploy_role.grants_policy(CONFIG, ACCOUNT, facts=facts))
    assert grants["StateBucketKey"] == {
        "Sid": "StateBucketKey",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": [state_key],
        "Condition": {
            "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"},
            "StringLike": {
                "kms:EncryptionContext:aws:s3:arn": [
                    "arn:aws:s3:::hebo-terraform-state",
                    "arn:aws:s3:::hebo-terraform-state/pr-*",
                ]
            },
        },
    }
    guardrails = by_sid(deploy_role.guardrails_policy(CONFIG, ACCOUNT, facts=facts))
    assert guardrails["DenyOtherStagesResources"]["NotResource"][2] == state_key
    assert "StateBucketKey" not in by_sid(deploy_role.grants_policy(CONFIG, ACCOUNT))  # SSE-S3: no key


def test_other_stages_subnets_and_zone_are_read_at_converge(run):
    """Services may not use other stages' subnets; PreviewDnsRecordsOnly names the configured zone's
    id; an untagged key created later is denied tagging after the next run (a dry run shows the drift)."""
    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(Name="hebo.ai", CallerReference="t")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = {}
    for n, stage in enumerate(("production", "dev", "pr-7")):
        subnets[stage] = ec2.create_subnet(
            VpcId=vpc,
            CidrBlock=f"10.9.{n}.0/24",
            TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "stage", "Value": stage}]}],
        )["Subnet"]["SubnetId"]
    result = run("deploy-role", "--github-repo", REPO)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == (
        "protected CloudFront config (used by distributions not tagged pr-*): 0; untagged keys and distributions: 0; "
        f"other stages' subnets: 2; VPCs not tagged pr-*: 2; hosted zone hebo.ai: {zone_id}"
    )
    state = role_state(boto3.client("iam"))
    s = by_sid(state["policy"], state["grants"], state["guardrails"], state["account_denies"])
    assert "DenyAdoptingUntaggedKeysAndDistributions" not in s
    assert s["PreviewDnsRecordsOnly"]["Resource"] == [f"arn:aws:route53:::hostedzone/{zone_id}"]
    # production's and dev's subnets (not the preview's, not the default VPC's untagged ones)
    assert s["EcsServicesOnlyInPreviewSubnets"] == {
        "Sid": "EcsServicesOnlyInPreviewSubnets",
        "Effect": "Deny",
        "Action": ["ecs:CreateService", "ecs:UpdateService"],
        "Resource": ["*"],
        "Condition": {"ForAnyValue:StringEquals": {"ecs:subnet": sorted([subnets["production"], subnets["dev"]])}},
    }

    # someone creates a key by hand: a dry run shows the guardrails drift, a run converges it
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    dry = run("deploy-role", "--github-repo", REPO, "--dry-run")
    statements = len(state["account_denies"]["Statement"])
    assert (
        f"policy hebo-preview-deploy-account-denies: would set a new default version ({statements + 1} statements)"
        in dry.out.splitlines()
    )
    assert run("deploy-role", "--github-repo", REPO).code == 0
    denied = by_sid(managed_document(boto3.client("iam"), ACCOUNT_DENIES))["DenyAdoptingUntaggedKeysAndDistributions"]
    assert denied["Resource"] == [key]


def test_too_many_untagged_keys_fail_before_any_write(run):
    kms = boto3.client("kms")
    for _ in range(80):
        kms.create_key()
    result = run("deploy-role", "--github-repo", REPO)
    assert result.code == 2
    assert result.err.startswith("ops: policy hebo-preview-deploy-account-denies would be ")
    assert (
        "characters with 0 protected CloudFront origin access controls/response headers policies, 80 untagged KMS "
        "keys and distributions and 0 other stages' subnets; IAM allows 6144: tag the account's own KMS keys and "
        "distributions with their stage (e.g. stage=global)"
    ) in result.err
    assert boto3.client("iam").list_open_id_connect_providers()["OpenIDConnectProviderList"] == []


def test_how_many_protected_objects_fit():
    """The guardrails' headroom under the 6,144-character managed policy quota, with a long bucket
    name, a template stage, 18 other stages' subnets, three VPCs not tagged pr-* (production's,
    dev's, the default VPC) and production's and dev's four CloudFront objects: 49 untagged KMS keys
    or distributions fit; docs/previews.md repeats it."""
    config = deploy_role.DeployRoleConfig(
        github_repo=REPO,
        state_bucket="a-rather-long-terraform-state-bucket-name",
        lock_table="l",
        zone="hebo.ai",
        secrets_from="staging",
    )
    cloudfront = f"arn:aws:cloudfront::{ACCOUNT}:response-headers-policy/" + "5cc3b908-e619-4b99-88e5-2cf7f45965bd"
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/" + "1234abcd-12ab-34cd-56ef-1234567890ab"
    subnets = tuple(f"subnet-{n:017x}" for n in range(18))  # three VPCs of six subnets (production, dev, global)
    vpcs = tuple(f"vpc-{n:017x}" for n in range(3))
    fits = max(
        n
        for n in range(60)
        if deploy_role.policy_size(
            deploy_role.account_denies_policy(
                config,
                ACCOUNT,
                facts=deploy_role.AccountFacts(
                    protected_cloudfront=(cloudfront,) * 4,
                    unadoptable=(key,) * n,
                    other_stage_subnets=subnets,
                    other_vpcs=vpcs,
                    region="us-east-1",
                ),
            )
        )
        <= deploy_role.MANAGED_POLICY_MAX_CHARS
    )
    assert fits == 49


def test_secrets_from_defaults_to_the_stacks_setting(run, monkeypatch):
    """A re-run without --secrets-from keeps the template grants running previews need: the value is
    the stacks' own HEBO_PREVIEW_SECRETS_FROM (default dev), validated under the name it came from."""
    assert run("deploy-role", "--github-repo", REPO).code == 0
    described = by_sid(role_state(boto3.client("iam"))["policy"])["DescribeTemplateSecrets"]["Resource"]
    assert described[0] == f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:hebo/dev/StackProjectId-??????"
    bad = run("deploy-role", "--github-repo", REPO, "--secrets-from", "production")
    assert bad.code == 2 and "invalid --secrets-from 'production'" in bad.err
    monkeypatch.setenv("HEBO_PREVIEW_SECRETS_FROM", "pr-3")  # the variable the stacks read is the default
    bad = run("deploy-role", "--github-repo", REPO)
    assert bad.code == 2 and bad.err.startswith(
        "ops: invalid HEBO_PREVIEW_SECRETS_FROM 'pr-3': a preview owns no app secrets"
    )


def test_an_immutable_repository_form_trusts_only_the_immutable_subject():
    """GitHub's immutable subject (`owner@<id>/name@<id>`): a repository that re-registers the
    recycled names gets another id, so its token's subject does not match (GitHub, "OpenID Connect",
    "Immutable subject claims")."""
    from tools.iam_eval import evaluate_trust

    config = deploy_role.DeployRoleConfig(
        github_repo="hebo-ai@1234/hebo-infra@5678", state_bucket="s", lock_table="", zone="hebo.ai"
    )
    config.validate()
    trust = deploy_role.trust_policy(config, PROVIDER)

    def allowed(sub: str) -> bool:
        claims = {
            "token.actions.githubusercontent.com:sub": sub,
            "token.actions.githubusercontent.com:aud": deploy_role.AUDIENCE,
        }
        return evaluate_trust(trust, "sts:AssumeRoleWithWebIdentity", {"Federated": PROVIDER}, claims).allowed

    assert allowed("repo:hebo-ai@1234/hebo-infra@5678:environment:preview")
    assert not allowed("repo:hebo-ai@9999/hebo-infra@7777:environment:preview")  # the recycled names
    assert not allowed("repo:hebo-ai/hebo-infra:environment:preview")

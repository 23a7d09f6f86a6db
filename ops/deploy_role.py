"""`ops deploy-role`: the GitHub OIDC provider and the preview workflow's deploy role, as code.

The role must exist before the first preview deploy and outlives every stage, so like the state
bucket it is created by `ops` with boto3, not by a stack. Re-running converges the
provider, the trust policy, the session length and the permissions, and prints `up to date`
otherwise. The role's exact policy is `permissions_policy()`; docs/previews.md ("The deploy role")
explains each statement and what AWS does not let us scope.

Sources:
- GitHub's OIDC claims (`aud` = `sts.amazonaws.com` for configure-aws-credentials, `sub` =
  `repo:<owner>/<repo>:pull_request` for pull_request events and `repo:<owner>/<repo>:ref:refs/heads/main`
  for pushes to main): https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
  ("Example subject claims").
- AWS: "Configuring a role for GitHub OIDC identity provider" (IAM user guide, id_roles_create_for-idp_oidc);
  AWS no longer uses the thumbprint for GitHub's provider (it trusts GitHub's CA), but the API still
  accepts a list, so GitHub's two published thumbprints are sent.
- Inline role policies are limited to 10,240 characters in total (IAM quotas, "Role policy size");
  `permissions_policy()` stays under it (tested).
- Route 53 record-name conditions: `route53:ChangeResourceRecordSetsNormalizedRecordNames`
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

from config.secrets import SECRETS, SHARED_BY_PREVIEWS
from config.settings import SETTINGS
from config.stage import ConfigError
from ops.aws import UsageError, client, error_code

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
DEFAULT_ROLE_NAME = "hebo-preview-deploy"
POLICY_NAME = "preview-deploy"
MAX_SESSION_SECONDS = 10800
"""3 h: a preview deploy may run 90 minutes (the workflow's timeout), longer than the default 1 h session."""
INLINE_POLICY_MAX_CHARS = 10240
"""IAM quota: aggregate inline policy size per role (whitespace not counted)."""
PREVIEW = "pr-*"
"""Preview stage names (`pr-<number>`, HEBO_PREVIEW_PATTERN in the workflow)."""
PASSED_TO_SERVICES = [
    "ecs-tasks.amazonaws.com", "lambda.amazonaws.com", "rds.amazonaws.com", "monitoring.rds.amazonaws.com",
    "ec2.amazonaws.com", "vpc-flow-logs.amazonaws.com",
]
"""Every service a stage role is handed to (modules/*: ServiceRole(service=...))."""
MANAGED_POLICIES = [
    "service-role/AWSLambdaVPCAccessExecutionRole", "service-role/AmazonRDSEnhancedMonitoringRole",
    "AmazonSSMManagedInstanceCore",
]
"""The only AWS managed policies the stacks attach (modules/lambda_function.py, stacks/data.py, modules/network/instance.py)."""
SERVICE_LINKED = [
    "ecs.amazonaws.com", "rds.amazonaws.com", "elasticloadbalancing.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
]
TAGGED_SERVICES = [
    "acm", "application-autoscaling", "cloudfront", "cloudwatch", "ec2", "ecr", "ecs", "elasticloadbalancing",
    "kms", "lambda", "logs", "rds", "sns",
]
"""Services whose resources carry the provider's default tag `stage` and whose create calls accept
`aws:RequestTag` / other calls `aws:ResourceTag`: preview resources are matched by `stage=pr-*`."""
READ_ONLY = [
    "acm:DescribeCertificate", "acm:ListCertificates", "acm:ListTagsForCertificate",
    "application-autoscaling:Describe*", "cloudfront:Get*", "cloudfront:List*", "cloudwatch:Describe*",
    "cloudwatch:ListTagsForResource", "ec2:Describe*", "ecr:Describe*", "ecr:GetAuthorizationToken", "ecs:Describe*",
    "ecs:List*", "elasticloadbalancing:Describe*", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions",
    "kms:DescribeKey", "kms:ListAliases", "lambda:GetAccountSettings", "logs:Describe*", "logs:ListTagsForResource",
    "rds:Describe*", "rds:ListTagsForResource", "route53:GetChange", "route53:GetHostedZone", "route53:ListHostedZones*",
    "route53:ListResourceRecordSets", "route53:ListTagsForResource", "secretsmanager:ListSecrets", "sns:GetTopicAttributes",
    "sns:ListTagsForResource", "ssm:GetParameter", "ssm:GetParameters", "tag:GetResources",
]
"""Discovery calls Terraform makes (data sources, refresh); most have no resource-level permissions."""

_REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_ROLE_RE = re.compile(r"[\w+=,.@-]{1,64}")


@dataclass(frozen=True)
class DeployRoleConfig:
    """What `ops deploy-role` converges: one role per repository (names default to the settings)."""

    github_repo: str
    """`owner/name` exactly as GitHub spells it (the `sub` claim is case-sensitive)."""
    state_bucket: str
    lock_table: str
    zone: str
    app: str = "hebo"
    role_name: str = DEFAULT_ROLE_NAME
    secrets_from: str | None = None
    """Template stage whose shared secrets previews read (HEBO_PREVIEW_SECRETS_FROM): the role may
    describe those five and read (and decrypt) the two publishable values the edge stack needs."""

    def validate(self) -> None:
        """Reject bad input before any AWS call (exit 2); never allow production as a template."""
        if not _REPO_RE.fullmatch(self.github_repo):
            raise UsageError(f"invalid --github-repo {self.github_repo!r}: must be owner/name, e.g. hebo-ai/hebo-infra")
        if not _ROLE_RE.fullmatch(self.role_name):
            raise UsageError(f"invalid --role-name {self.role_name!r}: 1-64 of letters, digits and +=,.@_-")
        if self.secrets_from is not None:
            # The rule of HEBO_PREVIEW_SECRETS_FROM, the setting this mirrors: a stage that owns its
            # app secrets and is not production (config/settings.py).
            try:
                SETTINGS["preview_secrets_from"].parse("--secrets-from", self.secrets_from)
            except ConfigError as error:
                raise UsageError(str(error)) from None

    @property
    def subjects(self) -> list[str]:
        """The only `sub` claims trusted: pull_request events and the main branch of this repository."""
        return [f"repo:{self.github_repo}:pull_request", f"repo:{self.github_repo}:ref:refs/heads/main"]


def trust_policy(config: DeployRoleConfig, provider_arn: str) -> dict[str, Any]:
    """AssumeRoleWithWebIdentity from GitHub's provider, for this repository's PRs and main only."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "GitHubActionsOfThisRepository",
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": config.subjects}},
        }],
    }


def _allow(sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def permissions_policy(config: DeployRoleConfig, account: str, partition: str = "aws") -> dict[str, Any]:
    """The role's inline policy: deploy and destroy `pr-*` stages, nothing of production.

    Scoping, strongest first: resource names (`hebo-pr-*`, `hebo/pr-*`, state keys `pr-*/…`), then the
    `stage` tag every resource gets from the provider's default tags, then read-only discovery on `*`.
    Explicit denies on production's state key, secrets, names and `stage=production` tags win over
    every allow.
    """
    p, a, app, bucket = partition, account, config.app, config.state_bucket
    named = f"{app}-{PREVIEW}"
    zone = config.zone.rstrip(".")
    statements = [
        _allow("StatePreviewKeys", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], [f"arn:{p}:s3:::{bucket}/{PREVIEW}"]),
        _allow("StateReadDnsOutputs", ["s3:GetObject"], [f"arn:{p}:s3:::{bucket}/global/dns.tfstate"]),
        _allow("StateListBucket", ["s3:ListBucket"], [f"arn:{p}:s3:::{bucket}"]),
        _allow("StateLockPreviewKeys", ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
               [f"arn:{p}:dynamodb:*:{a}:table/{config.lock_table}"],
               {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{bucket}/{PREVIEW}"]}}),
        _allow("PreviewSecrets", [
            "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
            "secretsmanager:GetResourcePolicy", "secretsmanager:GetSecretValue", "secretsmanager:ListSecretVersionIds",
            "secretsmanager:PutSecretValue", "secretsmanager:RestoreSecret", "secretsmanager:TagResource",
            "secretsmanager:UntagResource", "secretsmanager:UpdateSecret"], [f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{PREVIEW}"]),
        _allow("PreviewIam", [
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
            "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole", "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy",
            "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile", "iam:TagInstanceProfile",
            "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile"],
            [f"arn:{p}:iam::{a}:role/{named}", f"arn:{p}:iam::{a}:instance-profile/{named}"]),
        _allow("AttachOnlyTheStacksManagedPolicies", ["iam:AttachRolePolicy", "iam:DetachRolePolicy"], [f"arn:{p}:iam::{a}:role/{named}"],
               {"ArnEquals": {"iam:PolicyARN": [f"arn:{p}:iam::aws:policy/{m}" for m in MANAGED_POLICIES]}}),
        _allow("PassPreviewRolesToTheirServices", ["iam:PassRole"], [f"arn:{p}:iam::{a}:role/{named}"],
               {"StringEquals": {"iam:PassedToService": PASSED_TO_SERVICES}}),
        _allow("ServiceLinkedRoles", ["iam:CreateServiceLinkedRole"], ["*"],
               {"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}}),
        _allow("PreviewNamedResources", ["lambda:*", "logs:*", "ecr:*", "sns:*", "rds:*", "ecs:*", "cloudwatch:*",
                                         "elasticloadbalancing:*", "kms:*", "cloudfront:*", "s3:*"], [
            f"arn:{p}:lambda:*:{a}:function:{named}",
            f"arn:{p}:logs:*:{a}:log-group:/aws/lambda/{named}", f"arn:{p}:logs:*:{a}:log-group:/ecs/{named}",
            f"arn:{p}:logs:*:{a}:log-group:/vpc/{named}", f"arn:{p}:logs:*:{a}:log-group:/aws/rds/cluster/{named}",
            f"arn:{p}:ecr:*:{a}:repository/{named}", f"arn:{p}:sns:*:{a}:{named}",
            f"arn:{p}:rds:*:{a}:cluster:{named}", f"arn:{p}:rds:*:{a}:db:{named}", f"arn:{p}:rds:*:{a}:subgrp:{named}",
            f"arn:{p}:rds:*:{a}:cluster-pg:{named}", f"arn:{p}:rds:*:{a}:pg:{named}",
            f"arn:{p}:ecs:*:{a}:cluster/{named}", f"arn:{p}:ecs:*:{a}:service/{named}", f"arn:{p}:ecs:*:{a}:task-definition/{named}",
            f"arn:{p}:elasticloadbalancing:*:{a}:loadbalancer/app/{named}", f"arn:{p}:elasticloadbalancing:*:{a}:targetgroup/{named}",
            f"arn:{p}:elasticloadbalancing:*:{a}:listener/app/{named}", f"arn:{p}:elasticloadbalancing:*:{a}:listener-rule/app/{named}",
            f"arn:{p}:cloudwatch:*:{a}:alarm:{named}", f"arn:{p}:kms:*:{a}:alias/{named}",
            f"arn:{p}:cloudfront::{a}:function/{named}", f"arn:{p}:s3:::{named}"]),
        _allow("CreateTaggedAsPreview", [f"{s}:*" for s in TAGGED_SERVICES], ["*"], {"StringLike": {"aws:RequestTag/stage": PREVIEW}}),
        _allow("ManageTaggedAsPreview", [f"{s}:*" for s in TAGGED_SERVICES], ["*"], {"StringLike": {"aws:ResourceTag/stage": PREVIEW}}),
        # RunInstances is also authorized against the (untagged, public) NAT/bastion image.
        _allow("LaunchFromPublicImages", ["ec2:RunInstances"], [f"arn:{p}:ec2:*::image/*"]),
        _allow("PreviewDnsRecordsOnly", ["route53:ChangeResourceRecordSets"], [f"arn:{p}:route53:::hostedzone/*"],
               {"ForAllValues:StringLike": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": [
                   f"{PREVIEW}.dev.*.{zone}", f"_*.{PREVIEW}.dev.*.{zone}"]}}),
        # Untaggable CloudFront objects are addressed by generated ids: no name or tag to scope by.
        _allow("CloudFrontUntaggableConfig", [
            "cloudfront:CreateOriginAccessControl", "cloudfront:UpdateOriginAccessControl", "cloudfront:DeleteOriginAccessControl",
            "cloudfront:CreateResponseHeadersPolicy", "cloudfront:UpdateResponseHeadersPolicy", "cloudfront:DeleteResponseHeadersPolicy",
            "cloudfront:CreateInvalidation"], ["*"]),
        _allow("ReadOnlyDiscovery", READ_ONLY, ["*"]),
    ]
    if config.secrets_from:
        # A preview reads the template's shared secrets by name (config/secrets.py): the plan looks up
        # each one's metadata (compute: `aws_secretsmanager_secret`, which also reads the resource
        # policy) and the edge stack reads the two publishable values. Secrets Manager decrypts with
        # the caller's kms:Decrypt, under the encryption context `SecretARN`
        # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
        template = f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{config.secrets_from}/"
        publishable = [f"{template}{s.name}-??????" for s in SECRETS if s.shared_by_previews and s.publishable]
        statements += [
            _allow("DescribeTemplateSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
                   [f"{template}{name}-??????" for name in SHARED_BY_PREVIEWS]),
            _allow("ReadTemplatePublishableValues", ["secretsmanager:GetSecretValue"], publishable),
            _allow("DecryptTemplatePublishableValues", ["kms:Decrypt"], ["*"],
                   {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com",
                                   "kms:EncryptionContext:SecretARN": publishable}}),
        ]
    statements += [
        {"Sid": "DenyProductionState", "Effect": "Deny", "Action": ["s3:*"],
         "Resource": [f"arn:{p}:s3:::{bucket}/production/*"]},
        {"Sid": "DenyWritingAccountWideState", "Effect": "Deny", "Action": ["s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"arn:{p}:s3:::{bucket}/global/*"]},
        {"Sid": "DenyProductionByName", "Effect": "Deny", "Action": ["*"], "Resource": [
            f"arn:{p}:secretsmanager:*:{a}:secret:{app}/production/*", f"arn:{p}:iam::{a}:role/{app}-production-*",
            f"arn:{p}:s3:::{app}-production-*", f"arn:{p}:lambda:*:{a}:function:{app}-production-*",
            f"arn:{p}:rds:*:{a}:cluster:{app}-production-*", f"arn:{p}:rds:*:{a}:global-cluster:{app}-production-*"]},
        {"Sid": "DenyProductionByTag", "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
         "Condition": {"StringEquals": {"aws:ResourceTag/stage": "production"}}},
        {"Sid": "DenyTaggingAsProduction", "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
         "Condition": {"StringEquals": {"aws:RequestTag/stage": "production"}}},
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_size(document: dict[str, Any]) -> int:
    """Characters IAM counts toward the inline policy quota (JSON without whitespace)."""
    return len(json.dumps(document, separators=(",", ":")))


def _document(raw: Any) -> dict[str, Any]:
    """boto3 returns policy documents decoded, or URL-encoded JSON text (depending on the endpoint)."""
    return raw if isinstance(raw, dict) else json.loads(unquote(str(raw)))


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True)


def converge_provider(iam: Any, out: TextIO, dry_run: bool, account: str, partition: str) -> tuple[str, int]:
    """GitHub's OIDC provider with audience sts.amazonaws.com; returns (ARN, changes)."""
    arn = f"arn:{partition}:iam::{account}:oidc-provider/{GITHUB_OIDC_HOST}"
    existing = [p["Arn"] for p in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])]
    subject = f"oidc provider {GITHUB_OIDC_HOST}"
    if arn not in existing:
        if dry_run:
            print(f"{subject}: would create it (audience {AUDIENCE})", file=out)
        else:
            arn = iam.create_open_id_connect_provider(Url=GITHUB_OIDC_URL, ClientIDList=[AUDIENCE],
                                                      ThumbprintList=GITHUB_THUMBPRINTS)["OpenIDConnectProviderArn"]
            print(f"{subject}: created (audience {AUDIENCE})", file=out)
        return arn, 1
    clients = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("ClientIDList", [])
    if AUDIENCE in clients:
        print(f"{subject}: up to date", file=out)
        return arn, 0
    if not dry_run:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=AUDIENCE)
    print(f"{subject}: {'would add' if dry_run else 'added'} audience {AUDIENCE}", file=out)
    return arn, 1


def converge_role(iam: Any, config: DeployRoleConfig, provider_arn: str, account: str, partition: str,
                  out: TextIO, dry_run: bool) -> tuple[str, int]:
    """Create the role or bring trust, session length and inline policy to the desired values."""
    trust, permissions = trust_policy(config, provider_arn), permissions_policy(config, account, partition)
    if policy_size(permissions) > INLINE_POLICY_MAX_CHARS:  # pragma: no cover - guarded by a test
        raise UsageError(f"the deploy role's policy is {policy_size(permissions)} characters; IAM allows {INLINE_POLICY_MAX_CHARS}")
    subject, changes = f"role {config.role_name}", 0
    arn = f"arn:{partition}:iam::{account}:role/{config.role_name}"
    try:
        role = iam.get_role(RoleName=config.role_name)["Role"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        role = None

    def change(doing: str, done: str, apply: Any) -> None:
        nonlocal changes
        changes += 1
        if not dry_run:
            apply()
        print(f"{subject}: {'would ' + doing if dry_run else done}", file=out)

    if role is None:
        change("create it (trusted by " + ", ".join(config.subjects) + ")", "created (trusted by " + ", ".join(config.subjects) + ")",
               lambda: iam.create_role(RoleName=config.role_name, AssumeRolePolicyDocument=json.dumps(trust),
                                       MaxSessionDuration=MAX_SESSION_SECONDS,
                                       Description=f"GitHub Actions of {config.github_repo}: deploy and destroy preview stages",
                                       Tags=[{"Key": "app", "Value": config.app}, {"Key": "managed-by", "Value": "hebo-ops"}]))
        current_policy = None
    else:
        if _canonical(_document(role["AssumeRolePolicyDocument"])) != _canonical(trust):
            change("replace the trust policy", "trust policy replaced",
                   lambda: iam.update_assume_role_policy(RoleName=config.role_name, PolicyDocument=json.dumps(trust)))
        if role.get("MaxSessionDuration") != MAX_SESSION_SECONDS:
            change(f"set the maximum session to {MAX_SESSION_SECONDS} s", f"maximum session set to {MAX_SESSION_SECONDS} s",
                   lambda: iam.update_role(RoleName=config.role_name, MaxSessionDuration=MAX_SESSION_SECONDS))
        try:
            current_policy = _document(iam.get_role_policy(RoleName=config.role_name, PolicyName=POLICY_NAME)["PolicyDocument"])
        except ClientError as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            current_policy = None
    if current_policy is None or _canonical(current_policy) != _canonical(permissions):
        change(f"set inline policy {POLICY_NAME} ({len(permissions['Statement'])} statements)",
               f"inline policy {POLICY_NAME} set ({len(permissions['Statement'])} statements)",
               lambda: iam.put_role_policy(RoleName=config.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(permissions)))
    if not changes:
        print(f"{subject}: up to date", file=out)
    return arn, changes


def run(session: boto3.Session, config: DeployRoleConfig, out: TextIO, dry_run: bool = False) -> int:
    """Converge provider and role, then print the repository variable to set; returns the exit code."""
    region = session.region_name or "us-east-1"
    iam = client(session, "iam", region)
    account = client(session, "sts", region).get_caller_identity()["Account"]
    partition = session.get_partition_for_region(region)
    provider_arn, changes = converge_provider(iam, out, dry_run, account, partition)
    role_arn, role_changes = converge_role(iam, config, provider_arn, account, partition, out, dry_run)
    if dry_run:
        print(f"dry run: {changes + role_changes} change(s) planned, nothing written", file=out)
    print("repository variable for .github/workflows/preview.yml (Settings -> Secrets and variables -> Actions):", file=out)
    print(f"HEBO_PREVIEW_ROLE_ARN={role_arn}", file=out)
    return 0

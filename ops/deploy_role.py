"""`ops deploy-role`: the GitHub OIDC provider, the preview permissions boundary, the grants,
guardrails and account-denies policies and the preview workflow's deploy role, as code.

The role must exist before the first preview deploy and outlives every stage, so like the state
bucket it is created by `ops` with boto3 (README, "Deploying"), not by a stack. Re-running converges the provider, the
four managed policies (a new default version when the document changed), the trust policy, the
session length, the inline policy and the grants, guardrails and account-denies attachments, and
prints `up to date` otherwise. The documents are `boundary_policy()`, `grants_policy()`,
`guardrails_policy()`, `account_denies_policy()` (what the account holds, read at converge time
by ops/account_facts.py) and `permissions_policy()`; docs/previews.md ("The deploy role") explains each statement and what
AWS does not let us scope; tests/security/scenarios.txt are the attacks they must deny. The tag-
and name-scoped grants list exactly the actions the recorded preview lifecycle uses
(ops/deploy_actions.py); what else the role grants and no recorded call uses is justified in
`NOT_EXERCISED` (docs/security.md, "Least privilege by use").

Sources:
- GitHub's OIDC claims (`aud` = `sts.amazonaws.com` for configure-aws-credentials; a job that
  references an environment gets `sub` = `repo:<owner>/<repo>:environment:<name>`): GitHub,
  "OpenID Connect reference" (https://docs.github.com/en/actions/reference/security/oidc).
- Permissions boundaries and delegated role creation with `iam:PermissionsBoundary`: IAM User
  Guide, "Permissions boundaries for IAM entities"
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
- Condition keys per action (`ecs:cluster`, `ec2:CreateAction`, `iam:PermissionsBoundary`, ...):
  the Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/).
- AWS: "Configuring a role for GitHub OIDC identity provider" (IAM user guide, id_roles_create_for-idp_oidc);
  AWS no longer uses the thumbprint for GitHub's provider (it trusts GitHub's CA), but the API still
  accepts a list, so GitHub's two published thumbprints are sent.
- Inline role policies are limited to 10,240 characters in total, a managed policy to 6,144 (IAM
  User Guide, "IAM and AWS STS quotas"); the documents stay under them (tested).
- Route 53 record-name and record-type conditions: `route53:ChangeResourceRecordSetsNormalizedRecordNames`,
  `route53:ChangeResourceRecordSetsRecordTypes`
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).
- Alarm actions: `cloudwatch:AlarmActions` covers the actions of every alarm state (CloudWatch User
  Guide, "Using condition keys to limit alarm actions",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-alarm-actions.html).
- `ecs:subnet` (CreateService, UpdateService): ECS Developer Guide, "How Amazon Elastic Container
  Service works with IAM" (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security_iam_service-with-iam.html).
- Untaggable objects and other stages' subnets are listed when `ops deploy-role` runs
  (`discover_account`): re-run it after production or dev creates new ones; `--dry-run` shows the drift.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TextIO
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

from ops.account_facts import NO_FACTS, PREVIEW, AccountFacts, discover_account

from config.secrets import SECRETS, SHARED_BY_PREVIEWS
from config.naming import (
    deploy_account_denies_name,
    deploy_grants_name,
    deploy_guardrails_name,
    permissions_boundary_arn,
    permissions_boundary_name,
)
from config.settings import SETTINGS
from config.stage import ConfigError, stage_domain
from ops.aws import UsageError, client, error_code
from ops.deploy_actions import CREATE_TAGGED, MANAGE_TAGGED, PREVIEW_NAMED, listed

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"
GITHUB_THUMBPRINTS = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
DEFAULT_ROLE_NAME = "hebo-preview-deploy"
POLICY_NAME = "preview-deploy"
ENVIRONMENT = "preview"
"""The GitHub environment every job of .github/workflows/preview.yml runs in: its OIDC subject is
`repo:<owner>/<name>:environment:preview`, the only one the role trusts."""
MAX_SESSION_SECONDS = 10800
"""3 h: a preview deploy may run 90 minutes (the workflow's timeout), longer than the default 1 h session."""
INLINE_POLICY_MAX_CHARS = 10240
"""IAM quota: aggregate inline policy size per role, whitespace not counted (IAM User Guide, "IAM and
AWS STS quotas", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html)."""
MANAGED_POLICY_MAX_CHARS = 6144
"""IAM quota: a customer managed policy (the permissions boundary), whitespace not counted (same page)."""
MANAGED_POLICY_MAX_VERSIONS = 5
"""IAM keeps at most five versions of a managed policy; the oldest non-default one is deleted first."""
PASSED_ROLES = {
    "ecs-tasks.amazonaws.com": ("-exec", "-task"),
    "lambda.amazonaws.com": ("-migrator",),
    "ec2.amazonaws.com": ("-bastion", "-nat"),
    "vpc-flow-logs.amazonaws.com": ("-flow-logs",),
}
"""Which preview role (by the suffix of `Names.iam_role`) may be handed to which service
(modules/*: `ServiceRoleProps(service=...)`). Previews have no RDS Proxy, so no `-db-proxy` role,
and no Enhanced Monitoring (`StagePolicy.db_enhanced_monitoring`), so no `-db-monitoring` role."""
MANAGED_POLICIES = [
    "service-role/AWSLambdaVPCAccessExecutionRole",
    "AmazonSSMManagedInstanceCore",
]
"""The only AWS managed policies previews' stacks attach (modules/lambda_function.py, modules/network/instance.py);
stacks/data.py's AmazonRDSEnhancedMonitoringRole is dev's and production's only."""
SERVICE_LINKED = [
    "ecs.amazonaws.com",
    "rds.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
]
CREATE_ACTION_KEYS = {
    "ec2": ["ec2:CreateTags", "ec2:DeleteTags"],
    "ecs": ["ecs:TagResource", "ecs:UntagResource"],
    "elasticloadbalancing": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
}
"""Tagging actions of the services that mark tag-on-create with a `<service>:CreateAction` key
(Service Authorization Reference: `ec2:CreateAction`, `ecs:CreateAction`, `elasticloadbalancing:CreateAction`)."""
NAMED_TAGGING = [
    "lambda:TagResource",
    "lambda:UntagResource",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:TagLogGroup",
    "logs:UntagLogGroup",
    "rds:AddTagsToResource",
    "rds:RemoveTagsFromResource",
    "sns:TagResource",
    "sns:UntagResource",
    "ecr:TagResource",
    "ecr:UntagResource",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
    "s3:PutBucketTagging",
]
"""Tagging actions of services without a create-action key whose preview resources are named
`hebo-pr-*`: on an untagged resource they are allowed only under a preview name."""
ECS_CLUSTER_ACTIONS = [
    "ecs:CreateService",
    "ecs:UpdateService",
    "ecs:DeleteService",
    "ecs:RunTask",
    "ecs:StartTask",
    "ecs:StopTask",
    "ecs:ExecuteCommand",
    "ecs:CreateTaskSet",
    "ecs:UpdateTaskSet",
    "ecs:DeleteTaskSet",
    "ecs:UpdateServicePrimaryTaskSet",
]
"""ECS actions whose cluster is the `ecs:cluster` condition key, not the authorized resource
(Service Authorization Reference, "Actions, resources, and condition keys for Amazon Elastic Container Service")."""
ECS_TASK_DEFINITION_ACTIONS = ["ecs:CreateService", "ecs:UpdateService", "ecs:CreateTaskSet"]
"""ECS actions whose task definition is the `ecs:task-definition` condition key, not an authorized
resource (Service Authorization Reference, Amazon ECS); RunTask and StartTask authorize the task
definition itself, so DenyProductionByName/-ByTag and DenyOtherStagesResources cover those."""
READ_ONLY = [
    "acm:DescribeCertificate",
    "acm:ListTagsForCertificate",
    "application-autoscaling:Describe*",
    "cloudfront:Get*",
    "cloudfront:List*",
    "cloudwatch:Describe*",
    "cloudwatch:ListTagsForResource",
    "ec2:Describe*",
    "ecr:Describe*",
    "ecr:GetAuthorizationToken",
    "ecs:Describe*",
    "ecs:List*",
    "elasticloadbalancing:Describe*",
    "kms:DescribeKey",
    "kms:ListAliases",
    "logs:Describe*",
    "logs:ListTagsForResource",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "route53:GetChange",
    "route53:GetHostedZone",
    "route53:ListHostedZones",
    "route53:ListResourceRecordSets",
    "route53:ListTagsForResource",
    "sns:GetTopicAttributes",
    "sns:ListTagsForResource",
]
"""Discovery calls Terraform makes (data sources, refresh); most have no resource-level permissions.
No `ssm:GetParameter(s)`: no stack reads SSM (the NAT/bastion AMI is an `aws_ami` lookup)."""

WILDCARD_RESOURCE_REASONS = {
    "ServiceLinkedRoles": "iam:CreateServiceLinkedRole names a role AWS chooses; scoped by the iam:AWSServiceName condition instead",
    "CreateTaggedAsPreview": "a resource being created has no ARN to name yet (EC2 ids, KMS keys, distributions); "
    "scoped by aws:RequestTag/stage, and the guardrails deny other stages' resources the call references",
    "ManageTaggedAsPreview": "id-named resources (subnets, keys, certificates, distributions, scalable targets) have no preview name; "
    "scoped by aws:ResourceTag/stage",
    "CloudFrontUntaggableConfig": "origin access controls and response headers policies support no tags and get generated ids "
    "(Service Authorization Reference: no condition keys); other stages' ones are denied "
    "Update/Delete by id (DenyOtherStagesCloudFrontConfig, listed at converge time)",
    "ReadOnlyDiscovery": "Describe*/List* calls of Terraform's refresh and data sources; most support no resource-level "
    "permissions (Service Authorization Reference: no resource type)",
    "DecryptTemplatePublishableValues": "a KMS key ARN is an id; scoped by kms:ViaService and the SecretARN encryption context",
    "NoResourceLevelPermissions": "ecr:GetAuthorizationToken, logs:DescribeLogGroups, ssmmessages, ec2messages, "
    "ssm:UpdateInstanceInformation and the Lambda VPC reads support no resource-level permissions; the "
    "interfaces Lambda creates are untagged and id-named, so Delete/Assign/UnassignPrivateIpAddresses (which name "
    "a network-interface) have no preview scope; new interfaces outside preview subnets are denied "
    "(DenyInterfacesOutsidePreviewNetworks)",
    "UsePreviewKeys": "a KMS key ARN is an id; scoped by aws:ResourceTag/stage",
    "DeregisterTaskDefinitions": "ecs:DeregisterTaskDefinition supports no resource-level permissions and no "
    "condition keys (Service Authorization Reference, Amazon ECS); a deregistered revision keeps its running "
    "tasks and services (ECS API reference, DeregisterTaskDefinition)",
    "ScalingPermissionValidation": "Application Auto Scaling validates the caller's CloudWatch permissions with "
    "PutMetricAlarm/DeleteAlarms calls that name no alarm and carry no tags (AAS_VALIDATION); alarm actions, "
    "other stages' and target-tracking alarms stay denied by the guardrails",
    "PreviewCertificatesOnly": "acm:RequestCertificate creates a certificate, which has no ARN yet (Service "
    "Authorization Reference: no resource type); scoped by aws:RequestTag/stage and acm:DomainNames",
    "DecryptTemplateSecrets": "a KMS key ARN is an id; scoped by kms:ViaService and the SecretARN encryption context",
}
"""Why each Allow statement of the three documents has `Resource: "*"` (tested: exactly these
Sids; docs/previews.md repeats the reasons)."""
UNSCOPED_ALLOWS = (
    "StateReadDnsOutputs",
    "StateListBucket",
    "LaunchFromPublicImages",
    "CloudFrontUntaggableConfig",
    "ReadOnlyDiscovery",
    "ScalingPermissionValidation",
    "DeregisterTaskDefinitions",
    "DisassociatePreviewAddresses",
)
"""Allow statements with neither a preview name nor a condition: the dns stack's outputs (read
only), ListBucket (authorized on the bucket, not keys), the public NAT/bastion image, the two
above, Application Auto Scaling's permission validation (AAS_VALIDATION), task definition
deregistration (no resource type) and the interface side of a preview address' disassociation."""

WORKLOAD_UNSCOPED_ACTIONS = [
    "ecr:GetAuthorizationToken",
    "logs:DescribeLogGroups",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
    "ec2messages:*",
    "ssm:UpdateInstanceInformation",
    "ssm:ListInstanceAssociations",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
"""What preview workloads call that supports no resource-level permissions (the boundary's
NoResourceLevelPermissions): image pulls, Session Manager channels of the SSM agent and ECS Exec,
and the network interfaces of a VPC Lambda (Service Authorization Reference: no resource type)."""
CLOUDFRONT_UNTAGGABLE_CONFIG = [
    "cloudfront:CreateOriginAccessControl",
    "cloudfront:UpdateOriginAccessControl",
    "cloudfront:DeleteOriginAccessControl",
    "cloudfront:CreateResponseHeadersPolicy",
    "cloudfront:UpdateResponseHeadersPolicy",
    "cloudfront:DeleteResponseHeadersPolicy",
    "cloudfront:CreateInvalidation",
]
"""CloudFrontUntaggableConfig's actions: objects addressed by generated ids, and invalidations."""
AAS_VALIDATION = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"]
"""Before it registers a scalable target or puts a scaling policy, Application Auto Scaling "issues a
series of calls to validate the IAM permissions" of the caller, among them CloudWatch PutMetricAlarm
and DeleteAlarms that name no alarm and carry no tags, and fails the request when they are denied
(Application Auto Scaling user guide, "Permissions validation for API calls on target resources",
https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_permission_validation.html;
the ECS developer guide, "IAM permissions required for Amazon ECS service auto scaling", grants them
on `Resource: *`). No name or tag scopes such a call, and AWS documents no condition key that marks
it, so ScalingPermissionValidation allows both on `*`. What a PR could do with that grant is bounded
by the guardrails: an alarm's actions may only target preview topics (AlarmActionsOnlyPreviewTopics),
other stages' alarms are denied by tag (DenyProductionByTag, DenyOtherStagesResources), and the
untagged alarms Application Auto Scaling creates for target tracking (`TargetTracking-…`, made by
its service-linked role, never by this role) by name (DenyTargetTrackingAlarms)."""
CLOUDFRONT_UNTAGGABLE_WRITES = [
    "cloudfront:UpdateOriginAccessControl",
    "cloudfront:DeleteOriginAccessControl",
    "cloudfront:UpdateResponseHeadersPolicy",
    "cloudfront:DeleteResponseHeadersPolicy",
]
"""Update/Delete of the two untaggable CloudFront objects a preview creates (CloudFrontUntaggableConfig).
They take no tag and no condition key (Service Authorization Reference, "Actions, resources, and
condition keys for Amazon CloudFront": `origin-access-control` and `response-headers-policy` resource
types, no condition keys), so the objects of other stages are denied by ARN, listed at converge time
(`discover_account`). Cache policies and functions need no such list: the role may touch only
`function/hebo-pr-*` and no cache policy at all."""
PREVIEW_RECORD_TYPES = ["A", "AAAA", "CNAME"]
"""Record types a preview creates in the public zone (aws_route53_record in the synthesized pr-42
JSON: A/AAAA aliases of the API, gateway and console, CNAME for ACM DNS validation). No NS or DS:
a preview can never delegate its name (`route53:ChangeResourceRecordSetsRecordTypes`, Route 53
Developer Guide, "Using IAM policy conditions for fine-grained access control")."""
ROLE_CHAINING = [
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
    "sts:TagSession",
    "sts:SetSourceIdentity",
]
"""The deploy role's session never assumes another role: the workflow's only STS call is its own
AssumeRoleWithWebIdentity, which is unsigned and authorized by this role's trust policy alone
(tools/emulator_calls record exactly that one), so the role's identity policies may deny every chaining call."""


_REFRESH_READS = (
    "read-only discovery (READ_ONLY): Terraform's refresh and data sources read with Describe/List/Get calls "
    "that mostly support no resource-level permissions; which ones a plan makes depends on the provider's "
    "paths (waiters on real AWS, a resource type a stack adds), and they return metadata, never secret values "
    "or state"
)
NOT_EXERCISED: dict[str, str] = {
    **{
        pattern: _REFRESH_READS
        for pattern in (
            "application-autoscaling:Describe*",
            "cloudfront:Get*",
            "cloudfront:List*",
            "cloudwatch:Describe*",
            "ec2:Describe*",
            "ecr:Describe*",
            "ecs:Describe*",
            "ecs:List*",
            "elasticloadbalancing:Describe*",
            "logs:Describe*",
            "rds:Describe*",
        )
    },
    **{
        f"ecr:{action}": "the compute stack's image push to the preview's own repository (build mode, the "
        "workflow's default; AWS's list for a push: Amazon ECR User Guide, 'IAM permissions for pushing an "
        "image'); the lifecycle deploys prebuilt images"
        for action in (
            "BatchCheckLayerAvailability",
            "BatchGetImage",
            "CompleteLayerUpload",
            "InitiateLayerUpload",
            "PutImage",
            "UploadLayerPart",
        )
    },
    "ecr:GetAuthorizationToken": "the workflow's image push logs in to ECR (the compute stack's ECR token); "
    "the lifecycle deploys prebuilt images",
    "dynamodb:*": "StateLockPreviewKeys: the S3 backend's lock items when a lock table is configured "
    "(HEBO_STATE_LOCK_TABLE); the lifecycle runs with the local backend",
    "kms:Decrypt": "DecryptTemplatePublishableValues: on AWS, Secrets Manager decrypts the template's publishable "
    "values with the caller's kms:Decrypt, a call that never reaches the emulator",
    "iam:PutRolePermissionsBoundary": "puts the boundary on a preview role created before it existed "
    "(Terraform updates permissions_boundary in place); the lifecycle creates every role with it",
    "cloudfront:UpdateOriginAccessControl": "a PR that changes the edge stack's origin access settings "
    "updates the preview's own object in place (the redeploy changes images and a health check only)",
    "cloudfront:UpdateResponseHeadersPolicy": "a PR that changes the security headers (CSP, HSTS) updates "
    "the preview's own policy in place (the redeploy changes images and a health check only)",
    "elasticloadbalancing:ModifyListener": "a PR that changes the HTTPS listener (its certificate, TLS policy "
    "or default action) updates the preview's own listener in place (the redeploy changes images and a health "
    "check only)",
    "lambda:UpdateFunctionConfiguration": "a PR that changes the migrator's memory, timeout, environment or "
    "logging updates the preview's own function in place (the redeploy changes images and a health check only)",
    "rds:ModifyDBCluster": "a PR that changes Aurora settings (capacity in ACU, backup retention, parameter "
    "group) updates the preview's own cluster in place (the redeploy changes images and a health check only)",
    "rds:ModifyDBInstance": "a PR that changes the writer instance (class, Performance Insights) "
    "updates the preview's own instance in place (the redeploy changes images and a health check only)",
}
"""Granted actions (patterns) that no call of the recorded lifecycle uses, each with why it stays;
`python -m tools.iam_eval.unused <call log>` lists every other unused grant, which must be removed
or added here (docs/security.md, "Grants not exercised by the lifecycle, and why they stay")."""


_REPO_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(@[0-9]+)?/[A-Za-z0-9._-]{1,100}(@[0-9]+)?")
"""`owner/name`, or GitHub's immutable form `owner@<owner id>/name@<repository id>` (GitHub, "OpenID
Connect", "Immutable subject claims": the default subject of repositories created or renamed from
2026-07-15, opt-in for older ones), which a recycled owner or repository name can never match."""
_ROLE_RE = re.compile(r"[\w+=,.@-]{1,64}")


@dataclass(frozen=True)
class DeployRoleConfig:
    """What `ops deploy-role` converges: one role per repository (names default to the settings)."""

    github_repo: str
    """`owner/name` exactly as GitHub spells it (the `sub` claim is case-sensitive), or
    `owner@<owner id>/name@<repository id>` when the repository issues immutable subject claims."""
    state_bucket: str
    """The S3 bucket of the Terraform state (HEBO_STATE_BUCKET): the role reads and writes only
    `pr-*/…` keys in it."""
    lock_table: str
    """The DynamoDB lock table of that state (HEBO_STATE_LOCK_TABLE), or "" when S3 native locking
    is used: the role may lock items of `pr-*` keys only."""
    zone: str
    """The public DNS zone (HEBO_ZONE, e.g. `hebo.ai`) whose preview records the role may change."""
    app: str = "hebo"
    """The app name (HEBO_APP): prefix of every name the role may touch (`<app>-pr-*`, `<app>/pr-*/…`)."""
    role_name: str = DEFAULT_ROLE_NAME
    """Name of the deploy role (1–64 of letters, digits and `+=,.@_-`, IAM CreateRole's RoleName rule)."""
    secrets_from: str | None = None
    """Template stage whose shared secrets previews read (HEBO_PREVIEW_SECRETS_FROM): the role may
    describe those five and read (and decrypt) the two publishable values the edge stack needs."""

    def validate(self) -> None:
        """Reject bad input before any AWS call (exit 2); never allow production as a template."""
        if not _REPO_RE.fullmatch(self.github_repo):
            raise UsageError(
                f"invalid --github-repo {self.github_repo!r}: must be owner/name or, with immutable subject "
                "claims, owner@<owner id>/name@<repository id>, e.g. hebo-ai/hebo-infra"
            )
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
        """The only `sub` claim trusted: jobs of this repository that run in the `preview` environment
        (GitHub, "OpenID Connect reference", "Filtering for a specific environment")."""
        return [f"repo:{self.github_repo}:environment:{ENVIRONMENT}"]

    @property
    def boundary_name(self) -> str:
        """Name of the managed permissions boundary every preview role carries (`<app>-preview-boundary`)."""
        return permissions_boundary_name(self.app)


def trust_policy(config: DeployRoleConfig, provider_arn: str) -> dict[str, Any]:
    """AssumeRoleWithWebIdentity from GitHub's provider, for this repository's `preview` environment only."""
    subjects = config.subjects
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActionsOfThisRepositorysPreviewEnvironment",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
                    }
                },
            }
        ],
    }


def _allow(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _deny(
    sid: str,
    actions: list[str],
    resources: list[str] | None = None,
    condition: dict[str, Any] | None = None,
    not_resources: list[str] | None = None,
    not_actions: bool = False,
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Deny", ("NotAction" if not_actions else "Action"): actions}
    if not_resources is not None:
        statement["NotResource"] = not_resources
    else:
        statement["Resource"] = resources or ["*"]
    if condition:
        statement["Condition"] = condition
    return statement


def _template_secrets(config: DeployRoleConfig, p: str, a: str, names: Any) -> list[str]:
    return [f"arn:{p}:secretsmanager:*:{a}:secret:{config.app}/{config.secrets_from}/{n}-??????" for n in names]


def _production_names(config: DeployRoleConfig, p: str, a: str, bucket: str) -> list[str]:
    app = config.app
    return [
        f"arn:{p}:s3:::{bucket}",
        f"arn:{p}:s3:::{bucket}/*",
        f"arn:{p}:secretsmanager:*:{a}:secret:{app}/production/*",
        f"arn:{p}:iam::{a}:role/{app}-production-*",
        f"arn:{p}:s3:::{app}-production-*",
        f"arn:{p}:lambda:*:{a}:function:{app}-production-*",
        f"arn:{p}:rds:*:{a}:*:{app}-production-*",
        f"arn:{p}:ecs:*:{a}:*/{app}-production*",
    ]


def boundary_policy(config: DeployRoleConfig, account: str, partition: str = "aws") -> dict[str, Any]:
    """The permissions boundary of every role a preview creates: only what preview workloads do.

    Workloads (read from modules/ and stacks/): ECS execution roles (pull the stage's images, write
    their log streams, read the stage's and the template's secrets), ECS task roles (ECS Exec:
    Session Manager channels, the exec log group, the stage key), the migrator Lambda (its log group,
    VPC network interfaces, the database secrets), VPC flow logs, the SSM-managed bastion/NAT
    instances. Not RDS Enhanced Monitoring: it writes to the account's shared `RDSOSMetrics` log
    group, and a role a PR creates under any name can be assumed by whoever its PR-written trust
    policy names, so no boundary statement could reserve that group for RDS (previews run without
    it: `StagePolicy.db_enhanced_monitoring`).
    Explicit denies: the state bucket, production by name and tag, resources of any other stage,
    IAM/STS/Organizations, and network interfaces outside preview subnets and security groups
    (Lambda creates a VPC function's interfaces with the function's own role, so this binds
    a migrator placed in another stage's subnets: Lambda developer guide, "Giving Lambda functions
    access to resources in an Amazon VPC").
    """
    p, a = partition, account
    template = _template_secrets(config, p, a, SHARED_BY_PREVIEWS) if config.secrets_from else []
    statements = _boundary_allows(config, p, a, template) + _boundary_denies(config, p, a, template)
    return {"Version": "2012-10-17", "Statement": statements}


def _boundary_allows(config: DeployRoleConfig, p: str, a: str, template: list[str]) -> list[dict[str, Any]]:
    """What preview workloads do (boundary_policy)."""
    app = config.app
    named = f"{app}-{PREVIEW}"
    log_groups = [
        f"arn:{p}:logs:*:{a}:log-group:{g}" for g in (f"/ecs/{named}", f"/aws/lambda/{named}", f"/vpc/{named}")
    ]
    preview_secrets = [f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{PREVIEW}"]
    statements = [
        _allow(
            "PullPreviewImages",
            ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            [f"arn:{p}:ecr:*:{a}:repository/{named}"],
        ),
        _allow("NoResourceLevelPermissions", WORKLOAD_UNSCOPED_ACTIONS, ["*"]),
        _allow(
            "WritePreviewLogs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            log_groups + [f"{g}:log-stream:*" for g in log_groups],
        ),
        _allow("ReadPreviewSecrets", ["secretsmanager:GetSecretValue"], preview_secrets + template),
        _allow(
            "UsePreviewKeys",
            ["kms:Decrypt", "kms:GenerateDataKey"],
            ["*"],
            {"StringLike": {"aws:ResourceTag/stage": PREVIEW}},
        ),
    ]
    if template:
        statements.append(
            _allow(
                "DecryptTemplateSecrets",
                ["kms:Decrypt"],
                ["*"],
                {
                    "StringLike": {
                        "kms:ViaService": "secretsmanager.*.amazonaws.com",
                        "kms:EncryptionContext:SecretARN": template,
                    }
                },
            )
        )
    return statements


def _boundary_denies(config: DeployRoleConfig, p: str, a: str, template: list[str]) -> list[dict[str, Any]]:
    """State, production, other stages, identity changes and foreign networks (boundary_policy)."""
    app = config.app
    return [
        _deny("DenyStateAndProduction", ["*"], _production_names(config, p, a, config.state_bucket)),
        _deny("DenyProductionByTag", ["*"], condition={"StringEquals": {"aws:ResourceTag/stage": "production"}}),
        # kms:Decrypt of the template's key stays possible only through DecryptTemplateSecrets.
        _deny(
            "DenyOtherStagesResources",
            ["kms:Decrypt"],
            not_resources=template or [f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{PREVIEW}"],
            condition={"StringNotLike": {"aws:ResourceTag/stage": PREVIEW}, "Null": {"aws:ResourceTag/stage": "false"}},
            not_actions=True,
        ),
        _deny(
            "DenyIdentityAndAccountChanges",
            ["iam:*", "sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "organizations:*", "account:*"],
        ),
        _deny(
            "DenyInterfacesOutsidePreviewNetworks",
            ["ec2:CreateNetworkInterface", "ec2:RunInstances"],
            [f"arn:{p}:ec2:*:{a}:subnet/*", f"arn:{p}:ec2:*:{a}:security-group/*"],
            {"StringNotLike": {"aws:ResourceTag/stage": PREVIEW}},
        ),
    ]


def permissions_policy(
    config: DeployRoleConfig, account: str, partition: str = "aws", facts: AccountFacts = NO_FACTS
) -> dict[str, Any]:
    """The role's inline policy: deploy and destroy `pr-*` stages, nothing of production.

    Scoping, strongest first: resource names (`hebo-pr-*`, `hebo/pr-*`, state keys `pr-*/…`), then the
    `stage` tag every resource gets from the provider's default tags, then read-only discovery on `*`.
    Explicit denies win over every allow: production's state, names and tags; any resource tagged
    with another stage; tags naming another stage; tagging an untagged resource outside a create
    call or a preview name; ECS work outside a preview cluster; instances and network interfaces
    outside preview subnets; and every way around the permissions boundary (roles without it,
    removing it, editing it, editing this role).
    """
    p, a = partition, account
    statements = _state_and_iam_allows(config, p, a) + _service_allows(config, p, a, facts)
    statements += _template_secret_allows(config, p, a) + _boundary_guard_denies(config, p, a)
    return {"Version": "2012-10-17", "Statement": statements}


def _state_and_iam_allows(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """State keys and lock items of previews, preview secrets, then `_iam_allows` (permissions_policy)."""
    app, bucket = config.app, config.state_bucket
    statements = [
        _allow(
            "StatePreviewKeys",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            [f"arn:{p}:s3:::{bucket}/{PREVIEW}"],
        ),
        _allow("StateReadDnsOutputs", ["s3:GetObject"], [f"arn:{p}:s3:::{bucket}/global/dns.tfstate"]),
        _allow("StateListBucket", ["s3:ListBucket"], [f"arn:{p}:s3:::{bucket}"]),
        _allow(
            "StateLockPreviewKeys",
            ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            [f"arn:{p}:dynamodb:*:{a}:table/{config.lock_table}"],
            {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{bucket}/{PREVIEW}"]}},
        ),
        _allow(
            "PreviewSecrets",
            [
                "secretsmanager:CreateSecret",
                "secretsmanager:DeleteSecret",
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetResourcePolicy",
                "secretsmanager:GetSecretValue",
                "secretsmanager:ListSecretVersionIds",
                "secretsmanager:PutSecretValue",
                "secretsmanager:TagResource",
            ],
            [f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{PREVIEW}"],
        ),
    ]
    return statements + _iam_allows(config, p, a)


def _iam_allows(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """Preview roles and instance profiles, only with the boundary, each passed to its own service."""
    named = f"{config.app}-{PREVIEW}"
    boundary = permissions_boundary_arn(config.app, a, p)
    preview_roles = f"arn:{p}:iam::{a}:role/{named}"
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    statements = [
        _allow(
            "PreviewRolesOnlyWithTheBoundary",
            ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
            [preview_roles],
            with_boundary,
        ),
        _allow(
            "AttachOnlyTheStacksManagedPolicies",
            ["iam:AttachRolePolicy"],
            [preview_roles],
            {
                **with_boundary,
                "ArnEquals": {"iam:PolicyARN": [f"arn:{p}:iam::aws:policy/{m}" for m in MANAGED_POLICIES]},
            },
        ),
        # Any policy: detaching only removes permissions, and a preview made before a policy left
        # MANAGED_POLICIES (AmazonRDSEnhancedMonitoringRole) must still redeploy and destroy.
        _allow("DetachFromPreviewRoles", ["iam:DetachRolePolicy"], [preview_roles], with_boundary),
        _allow(
            "ManagePreviewRoles",
            [
                "iam:DeleteRole",
                "iam:GetRole",
                "iam:TagRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
                "iam:GetRolePolicy",
            ],
            [preview_roles],
        ),
        _allow(
            "PreviewInstanceProfiles",
            [
                "iam:CreateInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:GetInstanceProfile",
                "iam:TagInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
            ],
            [f"arn:{p}:iam::{a}:instance-profile/{named}"],
        ),
    ]
    return statements + _pass_role_allows(preview_roles)


def _pass_role_allows(preview_roles: str) -> list[dict[str, Any]]:
    """Each preview role only to the service that assumes it (PASSED_ROLES)."""
    return [
        _allow(
            f"PassPreviewRolesTo{service.split('.')[0].replace('-', ' ').title().replace(' ', '')}",
            ["iam:PassRole"],
            [f"{preview_roles}{suffix}" for suffix in suffixes],
            {"StringEquals": {"iam:PassedToService": service}},
        )
        for service, suffixes in PASSED_ROLES.items()
    ]


def _service_allows(config: DeployRoleConfig, p: str, a: str, facts: AccountFacts) -> list[dict[str, Any]]:
    """Preview-named and preview-tagged resources, DNS records, untaggable CloudFront config and
    read-only discovery (permissions_policy)."""
    named = f"{config.app}-{PREVIEW}"
    return [
        _allow(
            "ServiceLinkedRoles",
            ["iam:CreateServiceLinkedRole"],
            ["*"],
            {"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}},
        ),
        # resources with no `stage` tag to scope by: CloudFront functions, KMS aliases, the site bucket
        _allow(
            "PreviewNamedResources",
            listed(PREVIEW_NAMED),
            [
                f"arn:{p}:cloudfront::{a}:function/{named}",
                f"arn:{p}:kms:*:{a}:alias/{named}",
                f"arn:{p}:s3:::{named}",
            ],
        ),
        # Application Auto Scaling checks the caller's CloudWatch permissions with calls that name no
        # alarm and carry no tags before RegisterScalableTarget/PutScalingPolicy (AAS_VALIDATION).
        _allow("ScalingPermissionValidation", AAS_VALIDATION, ["*"]),
        # a redeploy replaces the task definitions: the old revision is deregistered by ARN, an action
        # with no resource type and no condition key (Service Authorization Reference, Amazon ECS)
        _allow("DeregisterTaskDefinitions", ["ecs:DeregisterTaskDefinition"], ["*"]),
        # DisassociateAddress is also authorized on the interface the address is on: the NAT
        # instance's primary interface, which RunInstances does not tag. The address itself must be
        # the preview's (ManageTaggedAsPreview; other stages' are denied by tag).
        _allow("DisassociatePreviewAddresses", ["ec2:DisassociateAddress"], [f"arn:{p}:ec2:*:{a}:network-interface/*"]),
        # RunInstances is also authorized against the (untagged, public) NAT/bastion image.
        _allow("LaunchFromPublicImages", ["ec2:RunInstances"], [f"arn:{p}:ec2:*::image/*"]),
        _allow(
            "PreviewDnsRecordsOnly",
            ["route53:ChangeResourceRecordSets"],
            [f"arn:{p}:route53:::hostedzone/{facts.hosted_zone_id or '*'}"],
            {
                "ForAllValues:StringLike": {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": _preview_names(config.zone)
                },
                "ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": PREVIEW_RECORD_TYPES},
                # ForAllValues holds for an absent key: without names, no allow (fail closed)
                "Null": {"route53:ChangeResourceRecordSetsNormalizedRecordNames": "false"},
            },
        ),
        # Untaggable CloudFront objects are addressed by generated ids: no name or tag to scope by.
        _allow("CloudFrontUntaggableConfig", CLOUDFRONT_UNTAGGABLE_CONFIG, ["*"]),
    ]


def _preview_names(zone: str) -> list[str]:
    """DNS names of previews in `zone` (`pr-<n>.dev.<app>.hebo.ai`, config/stage.py `stage_domain`)
    and of their ACM validation records (`_<token>.pr-<n>.dev.<app>.hebo.ai`), as IAM wildcards."""
    domain = stage_domain(PREVIEW, "*", zone.rstrip("."))
    return [domain, f"_*.{domain}"]


def _template_secret_allows(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """The template stage's shared secrets a preview reads ([] without a template stage)."""
    if not config.secrets_from:
        return []
    # A preview reads the template's shared secrets by name (config/secrets.py): the plan looks up
    # each one's metadata (compute: `aws_secretsmanager_secret`, which also reads the resource
    # policy) and the edge stack reads the two publishable values. Secrets Manager decrypts with
    # the caller's kms:Decrypt, under the encryption context `SecretARN`
    # (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html).
    # A name that no longer exists (the template stage destroyed) is authorized on the ARN without
    # the random suffix, so the exact names are listed as well: the preview's plan then stops on
    # "couldn't find resource", not on AccessDenied (docs/previews.md, "When the template stage goes away").
    described = _template_secrets(config, p, a, SHARED_BY_PREVIEWS)
    publishable_names = [s.name for s in SECRETS if s.shared_by_previews and s.publishable]
    publishable = _template_secrets(config, p, a, publishable_names)
    return [
        _allow(
            "DescribeTemplateSecrets",
            ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"],
            described + [arn.removesuffix("-??????") for arn in described],
        ),
        _allow(
            "ReadTemplatePublishableValues",
            ["secretsmanager:GetSecretValue"],
            publishable + [arn.removesuffix("-??????") for arn in publishable],
        ),
        _allow(
            "DecryptTemplatePublishableValues",
            ["kms:Decrypt"],
            ["*"],
            {
                "StringLike": {
                    "kms:ViaService": "secretsmanager.*.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": publishable,
                }
            },
        ),
    ]


def _boundary_guard_denies(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """Every way around the permissions boundary: roles without it, removing or editing it, editing
    the grants, the guardrails or this role; role chaining and role paths; and the service denies
    (`_service_guard_denies`). permissions_policy: static denies kept here, where there is room."""
    boundary = permissions_boundary_arn(config.app, a, p)
    return [
        _deny(
            "DenyRolesWithoutTheBoundary",
            [
                "iam:CreateRole",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
            ],
            condition={"StringNotEquals": {"iam:PermissionsBoundary": boundary}},
        ),
        _deny(
            "DenyRemovingBoundaries",
            [
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteUserPermissionsBoundary",
                "iam:PutUserPermissionsBoundary",
            ],
        ),
        _deny(
            "DenyChangingTheBoundaryGuardrailsOrThisRole",
            ["iam:*"],
            [
                boundary,
                f"arn:{p}:iam::{a}:policy/{guardrails_name(config.app)}",
                f"arn:{p}:iam::{a}:policy/{grants_name(config.app)}",
                f"arn:{p}:iam::{a}:policy/{account_denies_name(config.app)}",
                f"arn:{p}:iam::{a}:role/{config.role_name}",
            ],
        ),
        *_service_guard_denies(config, p, a),
        _deny("DenyRoleChaining", ROLE_CHAINING),
        # A path makes role/hebo-pr-x/anything match role/hebo-pr-*: no preview role has a path.
        _deny(
            "DenyRolePaths",
            ["iam:CreateRole", "iam:CreateInstanceProfile"],
            [f"arn:{p}:iam::{a}:role/*/*", f"arn:{p}:iam::{a}:instance-profile/*/*"],
        ),
    ]


def _service_guard_denies(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """Application Auto Scaling's own alarms, and other stages' task definitions in a preview service."""
    named = f"{config.app}-{PREVIEW}"
    return [
        # the target-tracking alarms Application Auto Scaling creates (untagged, named
        # `TargetTracking-<resource id>-AlarmHigh-<uuid>`) are its own: no PR overwrites or deletes them
        _deny("DenyTargetTrackingAlarms", AAS_VALIDATION, [f"arn:{p}:cloudwatch:*:{a}:alarm:TargetTracking-*"]),
        # The task definition of a service or task set is only the ecs:task-definition condition key
        # (Service Authorization Reference, Amazon ECS: CreateService, UpdateService, CreateTaskSet), so
        # without this a preview service could run production's or dev's task definition, with their
        # roles and secrets, in a preview cluster. Only when named: an UpdateService that keeps the task
        # definition (Application Auto Scaling's validation, a desired-count change) names none, and
        # a negated operator alone would deny it (IAM User Guide, "Condition operators"): hence Null.
        _deny(
            "EcsOnlyPreviewTaskDefinitions",
            ECS_TASK_DEFINITION_ACTIONS,
            condition={
                "ArnNotLike": {"ecs:task-definition": f"arn:{p}:ecs:*:{a}:task-definition/{named}"},
                "Null": {"ecs:task-definition": "false"},
            },
        ),
    ]


guardrails_name = deploy_guardrails_name
"""The guardrails policy's name (config/naming.py)."""
account_denies_name = deploy_account_denies_name
"""The account-denies policy's name (config/naming.py)."""
grants_name = deploy_grants_name
"""The grants policy's name (config/naming.py)."""


def grants_policy(
    config: DeployRoleConfig, account: str, partition: str = "aws", facts: AccountFacts = NO_FACTS
) -> dict[str, Any]:
    """The deploy role's grants scoped by the `stage` tag, and its read-only discovery: what does not
    fit the inline policy (IAM quota 10,240 characters), attached as a customer managed policy
    (6,144). Creates must carry `stage=pr-*` (aws:RequestTag), other calls find it on the resource
    (aws:ResourceTag); the guardrails deny re-tagging another stage's or an untagged resource. The
    inline policy forbids detaching or editing it."""
    statements = [
        _allow(
            "CreateTaggedAsPreview", listed(CREATE_TAGGED), ["*"], {"StringLike": {"aws:RequestTag/stage": PREVIEW}}
        ),
        # Only certificates for preview names (acm:DomainNames: the DomainName and every subject
        # alternative name; ACM User Guide, "Use condition keys with ACM"): a preview cannot request
        # one for production's names, which email validation would let a mailbox owner approve.
        # (ForAllValues holds when the key is absent; ACM documents it for every RequestCertificate,
        # and the emulator's recorder supplies it, so the lifecycle evaluates the real names.)
        _allow(
            "PreviewCertificatesOnly",
            ["acm:RequestCertificate"],
            ["*"],
            {
                "StringLike": {"aws:RequestTag/stage": PREVIEW},
                "ForAllValues:StringLike": {"acm:DomainNames": _preview_names(config.zone)[:1]},
            },
        ),
        _allow(
            "ManageTaggedAsPreview", listed(MANAGE_TAGGED), ["*"], {"StringLike": {"aws:ResourceTag/stage": PREVIEW}}
        ),
        # CreateFlowLogs authorizes the new flow log and what it watches (VPC, subnets or interfaces,
        # Service Authorization Reference, Amazon EC2). A request-tag allow on `*` would cover the
        # watched ones too, so any untagged AWS-created interface of any stage (Fargate tasks, load
        # balancers, databases) could be logged to a PR's bucket: the request tag allows only the
        # flow log; the watched VPC must carry `stage=pr-*` (ManageTaggedAsPreview).
        _allow(
            "PreviewFlowLogs",
            ["ec2:CreateFlowLogs"],
            [f"arn:{partition}:ec2:*:{account}:vpc-flow-log/*"],
            {"StringLike": {"aws:RequestTag/stage": PREVIEW}},
        ),
        _allow("ReadOnlyDiscovery", READ_ONLY, ["*"]),
    ]
    if facts.state_key:
        statements.append(_state_key_allow(config, partition, facts.state_key))
    return {"Version": "2012-10-17", "Statement": statements}


def _state_key_allow(config: DeployRoleConfig, p: str, key_arn: str) -> dict[str, Any]:
    """The state bucket's KMS key (`ops bootstrap --kms-key-id`) for the role's own state objects:
    S3 calls `kms:GenerateDataKey` to write and `kms:Decrypt` to read an SSE-KMS object with the
    caller's permissions (S3 User Guide, "Using server-side encryption with AWS KMS keys"), only
    through S3 (`kms:ViaService`) and for this bucket (`kms:EncryptionContext:aws:s3:arn`: the
    bucket's ARN with an S3 Bucket Key, which bootstrap enables; an object's ARN without one). Which
    objects the role reaches is S3's decision first: StatePreviewKeys, DenyProductionState."""
    region = key_arn.split(":")[3]
    bucket = f"arn:{p}:s3:::{config.state_bucket}"
    return _allow(
        "StateBucketKey",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        [key_arn],
        {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": [bucket, f"{bucket}/{PREVIEW}"]},
        },
    )


def guardrails_policy(
    config: DeployRoleConfig, account: str, partition: str = "aws", facts: AccountFacts = NO_FACTS
) -> dict[str, Any]:
    """The deploy role's explicit denies that do not fit its inline policy (IAM quota 10,240
    characters), attached as a customer managed policy (6,144): production's state, names and
    tags; any resource tagged with another stage; tags naming another stage; tagging an untagged
    resource outside a create call or a preview name ("untagged AWS-created resources are not
    adoptable"); ECS work outside a preview cluster; instances and interfaces outside preview
    subnets and security groups. The inline policy forbids detaching or editing it."""
    p, a = partition, account
    statements = _stage_and_tag_denies(config, p, a, facts) + _placement_denies(config, p, a)
    return {"Version": "2012-10-17", "Statement": statements}


def _stage_and_tag_denies(config: DeployRoleConfig, p: str, a: str, facts: AccountFacts) -> list[dict[str, Any]]:
    """Production's state, names and tags, other stages' resources (the state bucket's key exempt:
    StateBucketKey), tags naming another stage and adopting untagged resources (guardrails_policy);
    untagged security groups only of `facts.region` (None: any)."""
    region = facts.region
    app, bucket = config.app, config.state_bucket
    named = f"{app}-{PREVIEW}"
    exempt = [f"arn:{p}:route53:::hostedzone/*", f"arn:{p}:route53:::change/*"]
    if facts.state_key:  # tagged with the account's stage (stage=global) or not: StateBucketKey decides
        exempt.append(facts.state_key)
    if config.secrets_from:
        exempt += _template_secrets(config, p, a, SHARED_BY_PREVIEWS)
    not_preview = {"StringNotLike": {"aws:ResourceTag/stage": PREVIEW}, "Null": {"aws:ResourceTag/stage": "false"}}
    statements = [
        _deny("DenyProductionState", ["s3:*"], [f"arn:{p}:s3:::{bucket}/production/*"]),
        _deny("DenyWritingAccountWideState", ["s3:PutObject", "s3:DeleteObject"], [f"arn:{p}:s3:::{bucket}/global/*"]),
        _deny("DenyProductionByName", ["*"], _production_names(config, p, a, bucket)[2:]),
        _deny("DenyProductionByTag", ["*"], condition={"StringEquals": {"aws:ResourceTag/stage": "production"}}),
        # kms:Decrypt of the template's key is allowed only through Secrets Manager under the
        # publishable secrets' encryption context (DecryptTemplatePublishableValues).
        _deny(
            "DenyOtherStagesResources", ["kms:Decrypt"], not_resources=exempt, condition=not_preview, not_actions=True
        ),
        _deny(
            "DenyTaggingAsAnotherStage",
            ["*"],
            condition={"StringNotLike": {"aws:RequestTag/stage": PREVIEW}, "Null": {"aws:RequestTag/stage": "false"}},
        ),
        _deny(
            "DenyAdoptingUntaggedByName",
            NAMED_TAGGING,
            not_resources=[f"arn:{p}:*{named}", f"arn:{p}:secretsmanager:*:{a}:secret:{app}/{PREVIEW}"],
            condition={"Null": {"aws:ResourceTag/stage": "true"}},
        ),
    ]
    security_groups = [f"arn:{p}:ec2:{region or '*'}:{a}:security-group/*"]
    statements += [
        _deny(
            f"DenyAdoptingUntagged{service.title().replace('-', '')}",
            actions,
            condition={"Null": {"aws:ResourceTag/stage": "true", f"{service}:CreateAction": "true"}},
            # a preview's VPC comes with an untagged `default` security group the network stack adopts
            # (aws_default_security_group); other VPCs' groups: DenyAdoptingSecurityGroupsOfOtherVpcs,
            # and other regions' (whose VPCs are not listed) stay denied here
            not_resources=security_groups if service == "ec2" else None,
        )
        for service, actions in CREATE_ACTION_KEYS.items()
    ]
    return statements


def _placement_denies(config: DeployRoleConfig, p: str, a: str) -> list[dict[str, Any]]:
    """ECS work, instances, interfaces and alarm actions only where previews live (guardrails_policy)."""
    named = f"{config.app}-{PREVIEW}"
    statements = [
        _deny(
            "EcsOnlyInPreviewClusters",
            ECS_CLUSTER_ACTIONS,
            condition={"ArnNotLike": {"ecs:cluster": f"arn:{p}:ecs:*:{a}:cluster/{named}"}},
        ),
        _deny(
            "InstancesOnlyInPreviewNetworks",
            ["ec2:RunInstances", "ec2:CreateNetworkInterface"],
            [f"arn:{p}:ec2:*:{a}:subnet/*", f"arn:{p}:ec2:*:{a}:security-group/*"],
            {"StringNotLike": {"aws:ResourceTag/stage": PREVIEW}},
        ),
        # Alarm actions can stop, terminate or reboot any instance (arn:aws:automate:...) or publish to
        # any topic; a preview's alarms notify only its own topic (cloudwatch:AlarmActions, Service
        # Authorization Reference, "Actions, resources, and condition keys for Amazon CloudWatch").
        _deny(
            "AlarmActionsOnlyPreviewTopics",
            ["cloudwatch:PutMetricAlarm", "cloudwatch:PutCompositeAlarm"],
            condition={"ForAnyValue:StringNotLike": {"cloudwatch:AlarmActions": f"arn:{p}:sns:*:{a}:{named}"}},
        ),
    ]
    return statements


def account_denies_policy(
    config: DeployRoleConfig, account: str, partition: str = "aws", facts: AccountFacts = NO_FACTS
) -> dict[str, Any]:
    """The deploy role's denies about the account's own objects, attached as a customer managed
    policy of its own (6,144 characters, beside the guardrails) so that the account's size never
    crowds out the fixed denies: no KMS key whose policy locks the account out, and by id what
    `ops deploy-role` found at converge time (AccountFacts: other stages' subnets, the security
    groups of VPCs not tagged pr-*, the CloudFront config other stages' distributions use, untagged
    keys and distributions). The inline policy forbids detaching or editing it."""
    p, a = partition, account
    # A key policy that locks every principal of the account out makes a key nobody can delete
    # (KMS API reference, CreateKey, BypassPolicyLockoutSafetyCheck; condition key
    # kms:BypassPolicyLockoutSafetyCheck, Service Authorization Reference, AWS KMS).
    statements = [
        _deny(
            "DenyKeyPolicyLockout",
            ["kms:CreateKey", "kms:PutKeyPolicy"],
            condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        )
    ]
    statements += _network_fact_denies(p, a, facts) + _key_and_cloudfront_fact_denies(facts)
    return {"Version": "2012-10-17", "Statement": statements}


def _network_fact_denies(p: str, a: str, facts: AccountFacts) -> list[dict[str, Any]]:
    """Other stages' subnets and the untagged security groups of VPCs not tagged pr-*, by id (account_denies_policy)."""
    statements: list[dict[str, Any]] = []
    if facts.other_stage_subnets:
        # ecs:subnet (the awsvpc subnets of a service) exists for CreateService and UpdateService
        # only: ECS developer guide, "How Amazon Elastic Container Service works with IAM", and the
        # Service Authorization Reference's ECS page; RunTask has no such key (docs/previews.md).
        statements.append(
            _deny(
                "EcsServicesOnlyInPreviewSubnets",
                ["ecs:CreateService", "ecs:UpdateService"],
                condition={"ForAnyValue:StringEquals": {"ecs:subnet": list(facts.other_stage_subnets)}},
            )
        )
    if facts.other_vpcs:
        # ec2:Vpc: the VPC of the security group a CreateTags/DeleteTags names (Service Authorization
        # Reference, Amazon EC2, resource type security-group)
        statements.append(
            _deny(
                "DenyAdoptingSecurityGroupsOfOtherVpcs",
                CREATE_ACTION_KEYS["ec2"],
                [f"arn:{p}:ec2:*:{a}:security-group/*"],
                {
                    "Null": {"aws:ResourceTag/stage": "true", "ec2:CreateAction": "true"},
                    "ArnLike": {"ec2:Vpc": [f"arn:{p}:ec2:*:{a}:vpc/{vpc}" for vpc in facts.other_vpcs]},
                },
            )
        )
    return statements


def _key_and_cloudfront_fact_denies(facts: AccountFacts) -> list[dict[str, Any]]:
    """The CloudFront config other stages use, untagged keys and distributions, and keys outside the
    previews' region (account_denies_policy)."""
    statements: list[dict[str, Any]] = []
    if facts.protected_cloudfront:
        statements.append(
            _deny("DenyOtherStagesCloudFrontConfig", CLOUDFRONT_UNTAGGABLE_WRITES, list(facts.protected_cloudfront))
        )
    if facts.unadoptable:
        # KMS and CloudFront have no create-action condition key to tell tag-on-create from adoption
        # (Service Authorization Reference), so the untagged ones are denied tagging by ARN, and a
        # hand-made distribution anything (no preview uses one; its config names its origins' headers).
        statements.append(
            _deny(
                "DenyAdoptingUntaggedKeysAndDistributions",
                ["kms:TagResource", "cloudfront:*"],
                list(facts.unadoptable),
            )
        )
    if facts.region:
        # Only the previews' region's untagged keys are listed above: no key is created or tagged in
        # any other (previews have none there; aws:RequestedRegion, IAM User Guide, "AWS global
        # condition context keys").
        statements.append(
            _deny(
                "KeysOnlyInThePreviewsRegion",
                ["kms:CreateKey", "kms:TagResource"],
                condition={"StringNotEquals": {"aws:RequestedRegion": facts.region}},
            )
        )
    return statements


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
            arn = iam.create_open_id_connect_provider(
                Url=GITHUB_OIDC_URL, ClientIDList=[AUDIENCE], ThumbprintList=GITHUB_THUMBPRINTS
            )["OpenIDConnectProviderArn"]
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


def converge_managed_policy(
    iam: Any,
    name: str,
    document: dict[str, Any],
    description: str,
    account: str,
    partition: str,
    out: TextIO,
    dry_run: bool,
) -> tuple[str, int]:
    """Create the customer managed policy `name`, or make `document` its default version (deleting
    the oldest non-default version when IAM's five are used). Returns (ARN, changes).

    Raises UsageError when the document exceeds the managed policy quota (6,144 characters)."""
    if policy_size(document) > MANAGED_POLICY_MAX_CHARS:
        raise UsageError(f"policy {name} is {policy_size(document)} characters; IAM allows {MANAGED_POLICY_MAX_CHARS}")
    arn = f"arn:{partition}:iam::{account}:policy/{name}"
    subject = f"policy {name}"
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        policy = None
    if policy is None:
        if not dry_run:
            iam.create_policy(
                PolicyName=name,
                PolicyDocument=json.dumps(document),
                Description=description,
                Tags=[{"Key": "managed-by", "Value": "hebo-ops"}],
            )
        print(
            f"{subject}: {'would create it' if dry_run else 'created'} ({len(document['Statement'])} statements)",
            file=out,
        )
        return arn, 1
    current = _document(
        iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]
    )
    if _canonical(current) == _canonical(document):
        print(f"{subject}: up to date", file=out)
        return arn, 0
    if not dry_run:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        if len(versions) >= MANAGED_POLICY_MAX_VERSIONS:
            oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
            iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    print(
        f"{subject}: {'would set' if dry_run else 'set'} a new default version ({len(document['Statement'])} statements)",
        file=out,
    )
    return arn, 1


def converge_role(
    iam: Any,
    config: DeployRoleConfig,
    provider_arn: str,
    account: str,
    partition: str,
    out: TextIO,
    dry_run: bool,
    facts: AccountFacts = NO_FACTS,
) -> tuple[str, int]:
    """Create the role or bring trust, session length and inline policy to the desired values."""
    trust, permissions = trust_policy(config, provider_arn), permissions_policy(config, account, partition, facts)
    if policy_size(permissions) > INLINE_POLICY_MAX_CHARS:  # pragma: no cover - guarded by a test
        raise UsageError(
            f"the deploy role's policy is {policy_size(permissions)} characters; IAM allows {INLINE_POLICY_MAX_CHARS}"
        )
    changes = _Changes(f"role {config.role_name}", out, dry_run)
    role = _get_or_none(lambda: iam.get_role(RoleName=config.role_name)["Role"])
    if role is None:
        _create_role(iam, config, trust, changes)
        current_policy = None
    else:
        _converge_trust_and_session(iam, config, role, trust, changes)
        current_policy = _get_or_none(
            lambda: _document(iam.get_role_policy(RoleName=config.role_name, PolicyName=POLICY_NAME)["PolicyDocument"])
        )
    if current_policy is None or _canonical(current_policy) != _canonical(permissions):
        changes.make(
            f"set inline policy {POLICY_NAME} ({len(permissions['Statement'])} statements)",
            f"inline policy {POLICY_NAME} set ({len(permissions['Statement'])} statements)",
            lambda: iam.put_role_policy(
                RoleName=config.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(permissions)
            ),
        )
    _attach_managed(iam, config, account, partition, role is None, changes)
    if not changes.count:
        print(f"{changes.subject}: up to date", file=out)
    return f"arn:{partition}:iam::{account}:role/{config.role_name}", changes.count


class _Changes:
    """Counts and prints the changes of one converged object; applies them unless a dry run."""

    def __init__(self, subject: str, out: TextIO, dry_run: bool) -> None:
        self.subject, self.out, self.dry_run, self.count = subject, out, dry_run, 0

    def make(self, doing: str, done: str, apply: Any) -> None:
        self.count += 1
        if not self.dry_run:
            apply()
        print(f"{self.subject}: {'would ' + doing if self.dry_run else done}", file=self.out)


def _get_or_none(read: Any) -> Any:
    """`read()`, or None when IAM answers NoSuchEntity (other ClientErrors propagate)."""
    try:
        return read()
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        return None


def _create_role(iam: Any, config: DeployRoleConfig, trust: dict[str, Any], changes: _Changes) -> None:
    trusted = ", ".join(config.subjects)
    changes.make(
        f"create it (trusted by {trusted})",
        f"created (trusted by {trusted})",
        lambda: iam.create_role(
            RoleName=config.role_name,
            AssumeRolePolicyDocument=json.dumps(trust),
            MaxSessionDuration=MAX_SESSION_SECONDS,
            Description=f"GitHub Actions of {config.github_repo}: deploy and destroy preview stages",
            Tags=[{"Key": "app", "Value": config.app}, {"Key": "managed-by", "Value": "hebo-ops"}],
        ),
    )


def _converge_trust_and_session(
    iam: Any, config: DeployRoleConfig, role: dict[str, Any], trust: dict[str, Any], changes: _Changes
) -> None:
    if _canonical(_document(role["AssumeRolePolicyDocument"])) != _canonical(trust):
        changes.make(
            "replace the trust policy",
            "trust policy replaced",
            lambda: iam.update_assume_role_policy(RoleName=config.role_name, PolicyDocument=json.dumps(trust)),
        )
    if role.get("MaxSessionDuration") != MAX_SESSION_SECONDS:
        changes.make(
            f"set the maximum session to {MAX_SESSION_SECONDS} s",
            f"maximum session set to {MAX_SESSION_SECONDS} s",
            lambda: iam.update_role(RoleName=config.role_name, MaxSessionDuration=MAX_SESSION_SECONDS),
        )


def _attach_managed(
    iam: Any, config: DeployRoleConfig, account: str, partition: str, created: bool, changes: _Changes
) -> None:
    """Attach the grants, guardrails and account-denies policies where they are not attached yet."""
    attached = (
        []
        if created
        else [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=config.role_name)["AttachedPolicies"]]
    )
    for name in (grants_name(config.app), guardrails_name(config.app), account_denies_name(config.app)):
        arn = f"arn:{partition}:iam::{account}:policy/{name}"
        if arn not in attached:
            changes.make(
                f"attach {name}",
                f"{name} attached",
                lambda arn=arn: iam.attach_role_policy(RoleName=config.role_name, PolicyArn=arn),
            )


def run(session: boto3.Session, config: DeployRoleConfig, out: TextIO, dry_run: bool = False) -> int:
    """Converge the provider, the permissions boundary, the grants, guardrails and account-denies
    policies and the role, then print the repository variable to set; returns the exit code."""
    region = session.region_name or "us-east-1"
    iam = client(session, "iam", region)
    account = client(session, "sts", region).get_caller_identity()["Account"]
    partition = session.get_partition_for_region(region)
    clients = {
        "cloudfront": client(session, "cloudfront", "us-east-1"),
        "route53": client(session, "route53", "us-east-1"),
        "ec2": client(session, "ec2", region),
        "kms": client(session, "kms", region),
        "s3": client(session, "s3", region),
    }
    facts = discover_account(clients, config.zone, config.state_bucket, partition, account)
    account_denies = _checked_account_denies(config, account, partition, facts)
    print(
        f"protected CloudFront config (used by distributions not tagged pr-*): {len(facts.protected_cloudfront)}; "
        f"untagged keys and distributions: {len(facts.unadoptable)}; "
        f"other stages' subnets: {len(facts.other_stage_subnets)}; VPCs not tagged pr-*: {len(facts.other_vpcs)}; "
        f"hosted zone {config.zone}: {facts.hosted_zone_id or 'not found, records allowed in any zone'}",
        file=out,
    )
    provider_arn, changes = converge_provider(iam, out, dry_run, account, partition)
    # The managed policies first: the role's policy names the boundary, a preview deploy creates roles
    # with it, and the role attaches the other three.
    for name, document, description in (
        (
            config.boundary_name,
            boundary_policy(config, account, partition),
            "Permissions boundary of every role a preview stage creates (ops deploy-role)",
        ),
        (
            grants_name(config.app),
            grants_policy(config, account, partition, facts),
            f"Grants of {config.role_name} (ops deploy-role)",
        ),
        (
            guardrails_name(config.app),
            guardrails_policy(config, account, partition, facts),
            f"Explicit denies of {config.role_name} (ops deploy-role)",
        ),
        (
            account_denies_name(config.app),
            account_denies,
            f"Denies of {config.role_name} about the account's own objects, listed at converge time (ops deploy-role)",
        ),
    ):
        changes += converge_managed_policy(iam, name, document, description, account, partition, out, dry_run)[1]
    role_arn, role_changes = converge_role(iam, config, provider_arn, account, partition, out, dry_run, facts)
    changes += role_changes
    if dry_run:
        print(f"dry run: {changes} change(s) planned, nothing written", file=out)
    print(
        "repository variable for .github/workflows/preview.yml (Settings -> Secrets and variables -> Actions):",
        file=out,
    )
    print(f"HEBO_PREVIEW_ROLE_ARN={role_arn}", file=out)
    return 0


def _checked_account_denies(
    config: DeployRoleConfig, account: str, partition: str, facts: AccountFacts
) -> dict[str, Any]:
    """The account-denies document; UsageError when the account's facts make it exceed the managed
    policy quota (6,144 characters, IAM User Guide, "IAM and AWS STS quotas")."""
    denies = account_denies_policy(config, account, partition, facts)
    if policy_size(denies) > MANAGED_POLICY_MAX_CHARS:
        raise UsageError(
            f"policy {account_denies_name(config.app)} would be {policy_size(denies)} characters with "
            f"{len(facts.protected_cloudfront)} protected CloudFront origin access controls/response headers "
            f"policies, {len(facts.unadoptable)} untagged KMS keys and distributions and "
            f"{len(facts.other_stage_subnets)} other stages' subnets; IAM allows {MANAGED_POLICY_MAX_CHARS}: "
            "tag the account's own KMS keys and distributions with their stage (e.g. stage=global)"
        )
    return denies

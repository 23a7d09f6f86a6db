"""AWS's rules for the names the app derives (`RULES`): per kind of name, the longest name AWS
accepts and the characters it allows, each with its source. `Names.problems()` (config/naming.py)
checks every name of a stage against them; the rules change only when AWS documents a change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameRule:
    """An AWS naming rule: maximum length and allowed characters (sources: `RULES`)."""

    label: str
    """What the name names, as messages say it (`ALB name`)."""
    max_length: int
    """Longest name AWS accepts, in characters."""
    pattern: str
    """Regular expression the whole name must match (`re.fullmatch`)."""

    def check(self, name: str) -> str | None:
        """None when `name` is valid, else one sentence naming the label, the name and the broken
        limit (`ALB name 'x…' is 33 characters (limit 32)`); never raises."""
        if len(name) > self.max_length:
            return f"{self.label} {name!r} is {len(name)} characters (limit {self.max_length})"
        if not re.fullmatch(self.pattern, name):
            return f"{self.label} {name!r} does not match {self.pattern}"
        return None


_HYPHENATED = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
RULES: dict[str, NameRule] = {
    "alb": NameRule("ALB name", 32, _HYPHENATED),
    "target_group": NameRule("target group name", 32, _HYPHENATED),
    "rds": NameRule("RDS identifier", 63, r"[a-z](?:[a-z0-9-]*[a-z0-9])?"),
    "db_proxy": NameRule("RDS Proxy name", 60, r"[a-z](?:[a-z0-9-]*[a-z0-9])?"),
    "db_group": NameRule("RDS subnet/parameter group name", 255, r"[a-z][a-z0-9-]*"),
    "s3_bucket_prefix": NameRule("S3 bucket prefix", 37, r"[a-z0-9][a-z0-9.-]*"),
    "iam_role": NameRule("IAM role name", 64, r"[\w+=,.@-]+"),
    "iam_policy": NameRule("IAM policy name", 128, r"[\w+=,.@-]+"),
    "lambda": NameRule("Lambda function name", 64, r"[A-Za-z0-9_-]+"),
    "log_group": NameRule("CloudWatch log group name", 512, r"[\w./#-]+"),
    "secret": NameRule("Secrets Manager secret name", 512, r"[\w/+=.@-]+"),
    "kms_alias": NameRule("KMS alias", 256, r"alias/[\w/-]+"),
    "ecs": NameRule("ECS name", 255, r"[A-Za-z][A-Za-z0-9_-]*"),
    "ecr": NameRule("ECR repository name", 256, r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"),
    "security_group": NameRule("security group name", 255, r"[\w .:/()#,@\[\]+=&;{}!$*-]+"),
    "cloudfront": NameRule("CloudFront resource name", 64, r"[A-Za-z0-9_-]+"),
    "route53_ksk": NameRule("Route 53 key-signing key name", 128, r"[A-Za-z0-9_]{3,}"),
    "sns": NameRule("SNS topic name", 256, r"[A-Za-z0-9_-]+"),
    "alarm": NameRule("CloudWatch alarm name", 255, r"[^\x00-\x1f]+"),
    "scaling_policy": NameRule("Application Auto Scaling policy name", 256, r"[^:/\x00-\x1f]+"),
    "dns_name": NameRule("domain name", 253, r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"),
    "acm_domain": NameRule("ACM certificate domain", 64, r"[a-z0-9.-]+"),
    "wafv2": NameRule("WAFv2 name", 128, r"[\w-]+"),
    "waf_log_group": NameRule("WAF log group name", 512, r"aws-waf-logs-[\w.#/-]+"),
    "iam_instance_profile": NameRule("IAM instance profile name", 128, r"[\w+=,.@-]+"),
    "name_tag": NameRule("Name tag value", 256, r"[\w .:/=+@-]+"),
    "state_key": NameRule("S3 state object key", 1024, r"[\w./-]+"),
    "tfc_workspace": NameRule("Terraform Cloud workspace name", 90, r"[A-Za-z0-9_-]+"),
}
"""Rule key -> the limit AWS enforces on that kind of name. Sources, each the API reference of the
call that takes the name unless named otherwise: ALB and target group, CreateLoadBalancer and
CreateTargetGroup (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html);
RDS cluster/instance identifiers, CreateDBCluster
(https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html), subnet and
parameter groups 255, CreateDBSubnetGroup; RDS Proxy, CreateDBProxy (the API allows 63; 60 kept
as the stricter bound); S3 `bucket_prefix` 37 (the provider appends a 26-character unique suffix
within S3's 63: https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/s3_bucket);
Lambda 64, CreateFunction (https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html);
log groups 512, CreateLogGroup; secrets 512, CreateSecret; KMS aliases 256, CreateAlias; ECS
names 255, CreateCluster/RegisterTaskDefinition/CreateService; ECR 256, CreateRepository;
security groups 255, CreateSecurityGroup; CloudFront functions, OACs and response headers
policies 64, CloudFront CreateFunction; key-signing keys 3-128, Route 53 CreateKeySigningKey;
SNS topics 256, CreateTopic; alarms 255, PutMetricAlarm; scaling policies 256, Application Auto
Scaling PutScalingPolicy; domain names 253 (RFC 1035 labels); the certificate's first domain 64
(ACM RequestCertificate); WAFv2 names 128, CreateWebACL, and WAF's `aws-waf-logs-` log group
prefix (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
IAM quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
role 64, instance profile 128, policy 128); tag values 256 characters
(https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html); S3 object keys 1,024
bytes (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html); Terraform Cloud
workspace names: letters, numbers, `-` and `_`
(https://developer.hashicorp.com/terraform/cloud-docs/api-docs/workspaces), 90 characters."""

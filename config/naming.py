"""Every AWS name and domain the app derives from (app, stage), with the limits AWS enforces.

All physical names are built by `Names`; `Names.catalog()` lists each one with its rule, so
stage validation checks the *real* names instead of a guessed maximum length, and a test can
prove that every accepted stage yields only valid names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.secrets import secret_path
from config.topology import APPS, SERVICES
from config.stage import ConfigError, StageKind, check_stage_syntax


@dataclass(frozen=True)
class NameRule:
    """An AWS naming rule: maximum length and allowed characters."""

    label: str
    max_length: int
    pattern: str

    def check(self, name: str) -> str | None:
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
}

IAM_ROLES = (
    "api-exec",
    "api-task",
    "gateway-exec",
    "gateway-task",
    "migrator",
    "nat",
    "bastion",
    "flow-logs",
    "db-proxy",
    "db-monitoring",
)
SECURITY_GROUPS = ("alb", "service", "database", "migrator", "bastion", "nat", "db-proxy")


@dataclass(frozen=True)
class Names:
    """Physical names for one (app, stage, zone). `global` names live in the account-wide dns stack."""

    app: str
    stage: str
    zone: str
    kind: StageKind

    @property
    def prefix(self) -> str:
        return f"{self.app}-{self.stage}"

    # -- per-resource names; add new ones here and to catalog() -------------------------------
    def alb(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def target_group(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def db_cluster(self, region_role: str = "primary") -> str:
        return f"{self.prefix}-db" if region_role == "primary" else f"{self.prefix}-db-{region_role}"

    def db_global_cluster(self) -> str:
        return f"{self.prefix}-global"

    def db_instance(self, role: str, index: int = 0) -> str:
        return f"{self.prefix}-db-{role}-{index}"

    def db_proxy(self) -> str:
        return f"{self.prefix}-db-proxy"

    def db_final_snapshot(self, region_role: str = "primary") -> str:
        return f"{self.db_cluster(region_role)}-final"

    def db_log_group(self, region_role: str = "primary") -> str:
        """Fixed by RDS (`/aws/rds/cluster/<id>/postgresql`); created by Terraform to set KMS + retention."""
        return f"/aws/rds/cluster/{self.db_cluster(region_role)}/postgresql"

    def db_group(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def console_bucket_prefix(self) -> str:
        return f"{self.prefix}-console-"

    def alb_logs_bucket_prefix(self) -> str:
        return f"{self.prefix}-alb-logs-"

    def web_acl(self) -> str:
        """The stage's regional WAFv2 web ACL (one for both ALBs); also the stem of its metric names."""
        return f"{self.prefix}-albs"

    def waf_log_group(self) -> str:
        """WAF only delivers to log groups whose name starts with `aws-waf-logs-`."""
        return f"aws-waf-logs-{self.prefix}"

    def iam_role(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def lambda_function(self, purpose: str) -> str:
        return f"{self.prefix}-{purpose}"

    def lambda_log_group(self, purpose: str) -> str:
        return f"/aws/lambda/{self.lambda_function(purpose)}"

    def service_log_group(self, service_name: str) -> str:
        return f"/ecs/{self.prefix}/{service_name}"

    def exec_log_group(self) -> str:
        """Where ECS Exec session transcripts go (stages with ECS Exec only)."""
        return f"/ecs/{self.prefix}/exec"

    def flow_log_group(self) -> str:
        return f"/vpc/{self.prefix}/flow-logs"

    def secret(self, name: str) -> str:
        return secret_path(self.app, self.stage, name)

    def kms_alias(self, purpose: str) -> str:
        return f"alias/{self.prefix}-{purpose}"

    def ecs_cluster(self) -> str:
        return self.prefix

    def task_family(self, service_name: str) -> str:
        return f"{self.prefix}-{service_name}"

    def ecr_repository(self, service: str) -> str:
        return f"{self.prefix}/{service}"

    def security_group(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def cloudfront(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def sns_topic(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def scaling_policy(self, service: str, metric: str) -> str:
        return f"{self.prefix}-{service}-{metric}"

    def alarm(self, service: str, what: str) -> str:
        return f"{self.prefix}-{service}-{what}"

    def dnssec_key_alias(self) -> str:
        """Account-wide (dns stack): one per app, not per stage."""
        return f"alias/{self.app}-dnssec"

    def dnssec_key_signing_key(self) -> str:
        return f"{self.app}_ksk"

    def domain(self, app: str) -> str:
        """`{app}.{zone}` in production, `{stage}.dev.{app}.{zone}` everywhere else."""
        if app not in APPS:
            raise ConfigError(f"unknown app {app!r}: allowed are {list(APPS)}")
        if self.kind is StageKind.PRODUCTION:
            return f"{app}.{self.zone}"
        return f"{self.stage}.dev.{app}.{self.zone}"

    # -- the catalog --------------------------------------------------------------------------
    def catalog(self) -> list[tuple[str, str]]:
        """Every derived name with its rule key; stage validation and tests walk this list."""
        items: list[tuple[str, str]] = []
        for svc in SERVICES:
            service_name = service_display_name(svc)
            items += [
                ("alb", self.alb(svc)),
                ("target_group", self.target_group(svc)),
                ("log_group", self.service_log_group(service_name)),
                ("ecs", self.task_family(service_name)),
                ("ecr", self.ecr_repository(svc)),
                ("alarm", self.alarm(svc, "target-5xx-rate")),
                ("scaling_policy", self.scaling_policy(svc, "requests")),
            ]
        for app in APPS:
            items += [("dns_name", self.domain(app)), ("acm_domain", self.domain(app))]
        items += [("rds", self.db_cluster()), ("rds", self.db_cluster("secondary")), ("rds", self.db_global_cluster())]
        items += [("rds", self.db_instance("reader", 15)), ("db_proxy", self.db_proxy())]
        items += [("rds", self.db_instance("secondary", 15)), ("rds", self.db_final_snapshot())]
        items += [("log_group", self.db_log_group("secondary"))]
        items += [
            ("db_group", self.db_group(g + suffix))
            for g in ("db-subnets", "db-cluster-params", "db-instance-params")
            for suffix in ("", "-secondary")
        ]
        items += [("iam_role", self.iam_role(r)) for r in IAM_ROLES]
        items += [("iam_policy", self.iam_role(r)) for r in IAM_ROLES]
        items += [("security_group", self.security_group(r)) for r in SECURITY_GROUPS]
        items += [
            ("s3_bucket_prefix", self.console_bucket_prefix()),
            ("s3_bucket_prefix", self.alb_logs_bucket_prefix()),
            ("wafv2", self.web_acl()),
            ("log_group", self.waf_log_group()),
            ("waf_log_group", self.waf_log_group()),
            ("lambda", self.lambda_function("migrator")),
            ("log_group", self.lambda_log_group("migrator")),
            ("log_group", self.flow_log_group()),
            ("log_group", self.exec_log_group()),
            ("secret", self.secret("StackPublishableClientKey")),
            ("kms_alias", self.kms_alias("data-secondary")),
            ("kms_alias", self.kms_alias("network")),
            ("kms_alias", self.kms_alias("stage")),
            ("kms_alias", self.kms_alias("network-secondary")),
            ("ecs", self.ecs_cluster()),
            ("cloudfront", self.cloudfront("console-security-headers")),
            ("cloudfront", self.cloudfront("console-spa-router")),
            ("cloudfront", self.cloudfront("console-oac")),
            ("kms_alias", self.kms_alias("console")),
            ("kms_alias", self.dnssec_key_alias()),
            ("route53_ksk", self.dnssec_key_signing_key()),
            ("sns", self.sns_topic("alarms")),
        ]
        return items

    def problems(self) -> list[str]:
        return [p for rule, name in self.catalog() if (p := RULES[rule].check(name))]


def service_display_name(service: str) -> str:
    """`api` -> `HeboApiService`: the name operators know from the SST deployment's logs."""
    return f"Hebo{service.capitalize()}Service"


def build_names(app: str, stage: str, zone: str, preview_pattern: str | None = None) -> Names:
    """Validate the stage against every derived name and return the naming helper."""
    kind = check_stage_syntax(stage, preview_pattern)
    if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", app):
        raise ConfigError(f"invalid app name {app!r}: must be 1-12 lowercase letters/digits, starting with a letter")
    names = Names(app=app, stage=stage, zone=zone, kind=kind)
    problems = names.problems()
    if problems:
        limit = max_stage_length(app, zone)
        raise ConfigError(
            f"invalid stage {stage!r}: {problems[0]}; with app {app!r} and zone {zone!r} "
            f"stage names may be at most {limit} characters"
        )
    return names


def max_stage_length(app: str, zone: str) -> int:
    """The longest preview name for which every derived name fits, computed from the catalog."""
    longest = 0
    for length in range(1, 64):
        candidate = Names(app=app, stage="p" * length, zone=zone, kind=StageKind.PREVIEW)
        if candidate.problems():
            break
        longest = length
    return longest

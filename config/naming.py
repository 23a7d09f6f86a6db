"""Every AWS name and domain the app derives from (app, stage).

All physical names are built by `Names`; `Names.catalog()` lists each one with its rule (the
limits AWS enforces: config/name_rules.py), so
stage validation checks the *real* names instead of a guessed maximum length, and a test can
prove that every accepted stage yields only valid names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.secrets import SECRETS, secret_path, secret_stage
from config.topology import APPS, NAT_SECURITY_GROUP, SECURITY_GROUP_ROLES, SERVICE_PORTS, SERVICES
from config.errors import ConfigError
from config.name_rules import RULES
from config.stage import DEV, StagePolicy, policy_for


GLOBAL_SCOPE = "global"
"""The pseudo-stage of account-wide stacks in state keys, workspace names and tags."""

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
"""The purpose of every IAM role a stage may have (its name is `Names.iam_role(purpose)`)."""
SECURITY_GROUPS = (*SECURITY_GROUP_ROLES, NAT_SECURITY_GROUP)
"""Every security group a stage may have: the exportable roles (config/topology.py) and the NAT's."""
KMS_KEYS = ("stage", "data", "data-secondary", "network", "network-secondary", "compute", "console")
"""The purpose of every stage KMS key (its alias is `Names.kms_alias(purpose)`)."""
REGION_ROLES = ("primary", "secondary")
"""Where a database or network part lives: the stage's region or the global database's second one."""
STACKS = ("dns", "network", "data", "compute", "edge")
"""The five stacks of every stage, in deploy order (`dns` is account-wide). The one list: state keys
and workspaces here, main.py (checks the stacks it builds against it), hebo_testing and tools/."""
SCALING_METRICS = ("cpu", "memory", "requests")
"""Target-tracking metrics a service may scale on (modules/service/autoscaling.py)."""
SERVICE_ALARMS = ("unhealthy-hosts", "p99-latency", "target-5xx-rate", "alb-5xx-rate")
"""Per-service alarms (modules/service/alarms.py)."""
MAX_DB_INSTANCES = 16
"""Aurora: one writer and up to 15 readers per cluster (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Replication.html)."""
MAX_AZS = 6
"""HEBO_AZ_COUNT's upper bound: one NAT instance per AZ at most."""


PERMISSIONS_BOUNDARY_SUFFIX = "preview-boundary"
"""The account-wide customer managed policy every preview role carries as its permissions boundary
(created and converged by `ops deploy-role`, never by a stack)."""


def permissions_boundary_name(app: str) -> str:
    """`{app}-preview-boundary`: the managed policy name of the preview permissions boundary."""
    return f"{app}-{PERMISSIONS_BOUNDARY_SUFFIX}"


def deploy_guardrails_name(app: str) -> str:
    """`{app}-preview-deploy-guardrails`: the customer managed policy of the preview deploy role's
    explicit denies (`ops deploy-role`)."""
    return f"{app}-preview-deploy-guardrails"


def deploy_account_denies_name(app: str) -> str:
    """`{app}-preview-deploy-account-denies`: the customer managed policy of the preview deploy
    role's denies about the account's own objects, most listed by id at converge time (`ops deploy-role`)."""
    return f"{app}-preview-deploy-account-denies"


def deploy_grants_name(app: str) -> str:
    """`{app}-preview-deploy-grants`: the customer managed policy of the preview deploy role's
    tag-scoped grants and read-only discovery (`ops deploy-role`)."""
    return f"{app}-preview-deploy-grants"


def permissions_boundary_arn(app: str, account: str, partition: str = "aws") -> str:
    """`arn:{partition}:iam::{account}:policy/{app}-preview-boundary` (IAM policy ARNs have no region)."""
    return f"arn:{partition}:iam::{account}:policy/{permissions_boundary_name(app)}"


@dataclass(frozen=True)
class Names:
    """Physical names for one (app, stage policy, zone). `global` names live in the account-wide
    dns stack. The stage's name and kind, and the domain scheme, come from the policy."""

    app: str
    """HEBO_APP: 1-12 lowercase letters/digits (`build_names` checks), the first part of every name."""
    zone: str
    """HEBO_ZONE: the public hosted zone the domains live in (`example.com`)."""
    policy: StagePolicy
    """The stage's policy: its name, kind and domain scheme."""
    secrets_from: str = DEV
    """Template stage of the secrets this stage does not own (HEBO_PREVIEW_SECRETS_FROM)."""

    @property
    def stage(self) -> str:
        """The stage name (`policy.name`)."""
        return self.policy.name

    @property
    def prefix(self) -> str:
        """`{app}-{stage}`: the first part of almost every physical name of the stage."""
        return f"{self.app}-{self.stage}"

    # -- per-resource names; add new ones here and to catalog() -------------------------------
    def alb(self, service: str) -> str:
        """`{prefix}-{service}`: a service's own ALB (rule `alb`: ≤ 32 characters)."""
        return f"{self.prefix}-{service}"

    def target_group(self, service: str) -> str:
        """`{prefix}-{service}`: the target group of a service's own ALB (rule `target_group`: ≤ 32)."""
        return f"{self.prefix}-{service}"

    def shared_alb(self) -> str:
        """The one ALB of a stage whose policy shares it between the services."""
        return f"{self.prefix}-shared"

    def routed_target_group(self, service: str) -> str:
        """A service's target group on the shared ALB, named by its port: distinct from
        `target_group()`, so a stage switching to the shared ALB creates new groups beside the old
        ones instead of colliding with a name that is still in use."""
        return f"{self.prefix}-tg{SERVICE_PORTS[service]}"

    def shared_alb_alarm(self, what: str) -> str:
        """`{prefix}-shared-{what}`: an alarm on the shared ALB itself (`what`: `alb-5xx-rate`; rule `alarm`)."""
        return f"{self.shared_alb()}-{what}"

    def db_cluster(self, region_role: str = "primary") -> str:
        """`{prefix}-db`, or `{prefix}-db-{region_role}` outside the primary region (rule `rds`: ≤ 63, starts with a letter)."""
        return f"{self.prefix}-db" if region_role == "primary" else f"{self.prefix}-db-{region_role}"

    def db_global_cluster(self) -> str:
        """`{prefix}-global`: the Aurora global database (rule `rds`)."""
        return f"{self.prefix}-global"

    def db_instance(self, role: str, index: int = 0) -> str:
        """`{prefix}-db-{role}-{index}` (`role`: writer, reader, secondary; index 0-15; rule `rds`)."""
        return f"{self.prefix}-db-{role}-{index}"

    def db_instances(self) -> str:
        """`{prefix}-db-*`: a wildcard (IAM `ArnLike`) matching every DB instance name of the stage
        (`db_instance`), in either region."""
        return f"{self.prefix}-db-*"

    def db_proxy(self) -> str:
        """`{prefix}-db-proxy`: the RDS Proxy (rule `db_proxy`: ≤ 60)."""
        return f"{self.prefix}-db-proxy"

    def db_final_snapshot(self, region_role: str = "primary") -> str:
        """`{db_cluster}-final`: the snapshot RDS takes when a protected cluster is destroyed (rule `rds`)."""
        return f"{self.db_cluster(region_role)}-final"

    def db_log_group(self, region_role: str = "primary") -> str:
        """Fixed by RDS (`/aws/rds/cluster/<id>/postgresql`); created by Terraform to set KMS + retention."""
        return f"/aws/rds/cluster/{self.db_cluster(region_role)}/postgresql"

    def _regional(self, stem: str, region_role: str) -> str:
        """`{prefix}-{stem}` in the primary region, `{prefix}-{stem}-{region_role}` elsewhere."""
        return f"{self.prefix}-{stem}" if region_role == "primary" else f"{self.prefix}-{stem}-{region_role}"

    def db_subnet_group(self, region_role: str = "primary") -> str:
        """`{prefix}-db-subnets[-{region_role}]` (rule `db_group`: ≤ 255, lowercase)."""
        return self._regional("db-subnets", region_role)

    def db_cluster_parameter_group(self, region_role: str = "primary") -> str:
        """`{prefix}-db-cluster-params[-{region_role}]` (rule `db_group`)."""
        return self._regional("db-cluster-params", region_role)

    def db_instance_parameter_group(self, region_role: str = "primary") -> str:
        """`{prefix}-db-instance-params[-{region_role}]` (rule `db_group`)."""
        return self._regional("db-instance-params", region_role)

    def vpc(self, region_role: str = "primary") -> str:
        """The VPC's Name tag, also the stem of its subnets', route tables' and gateway's tags."""
        return self.prefix if region_role == "primary" else f"{self.prefix}-{region_role}"

    def flow_log(self, region_role: str = "primary") -> str:
        """A VPC flow log's Name tag: the name of the VPC it records."""
        return self.vpc(region_role)

    def nat_instance(self, index: int) -> str:
        """Name tag of the NAT instance (and its Elastic IP) in the `index`-th public subnet."""
        return f"{self.prefix}-nat-{index}"

    def bastion(self) -> str:
        """Name tag of the SSM bastion instance."""
        return f"{self.prefix}-bastion"

    def state_scope(self, account_wide: bool) -> str:
        """The stage, or GLOBAL_SCOPE for account-wide stacks: first part of state keys and workspaces."""
        return GLOBAL_SCOPE if account_wide else self.stage

    def state_key(self, stack: str, account_wide: bool = False) -> str:
        """`{scope}/{stack}.tfstate`: the stack's S3 state key (also its path under terraform-state/)."""
        return f"{self.state_scope(account_wide)}/{stack}.tfstate"

    def tfc_workspace(self, stack: str, account_wide: bool = False) -> str:
        """`{app}-{scope}-{stack}`: the stack's Terraform Cloud workspace."""
        return f"{self.app}-{self.state_scope(account_wide)}-{stack}"

    def console_bucket_prefix(self) -> str:
        """`{prefix}-console-`: the console bucket's `bucket_prefix` (rule `s3_bucket_prefix`: ≤ 37)."""
        return f"{self.prefix}-console-"

    def alb_logs_bucket_prefix(self) -> str:
        """`{prefix}-alb-logs-`: the ALB access-log bucket's `bucket_prefix` (rule `s3_bucket_prefix`)."""
        return f"{self.prefix}-alb-logs-"

    def web_acl(self) -> str:
        """The stage's regional WAFv2 web ACL (one for both ALBs); also the stem of its metric names."""
        return f"{self.prefix}-albs"

    def waf_log_group(self) -> str:
        """WAF only delivers to log groups whose name starts with `aws-waf-logs-`."""
        return f"aws-waf-logs-{self.prefix}"

    def iam_role(self, purpose: str) -> str:
        """`{prefix}-{purpose}` (`purpose` one of `IAM_ROLES`): the role, and its inline policy (rules `iam_role`: ≤ 64, `iam_policy`)."""
        return f"{self.prefix}-{purpose}"

    def lambda_function(self, purpose: str) -> str:
        """`{prefix}-{purpose}`: a Lambda function (`migrator`; rule `lambda`: ≤ 64)."""
        return f"{self.prefix}-{purpose}"

    def lambda_log_group(self, purpose: str) -> str:
        """`/aws/lambda/{function}`: the log group Lambda writes to, fixed by Lambda (rule `log_group`)."""
        return f"/aws/lambda/{self.lambda_function(purpose)}"

    def service_log_group(self, service_name: str) -> str:
        """`/ecs/{prefix}/{service_name}` (`HeboApiService`): a service's container logs (rule `log_group`: ≤ 512)."""
        return f"/ecs/{self.prefix}/{service_name}"

    def exec_log_group(self) -> str:
        """Where ECS Exec session transcripts go (stages with ECS Exec only)."""
        return f"/ecs/{self.prefix}/exec"

    def flow_log_group(self) -> str:
        """`/vpc/{prefix}/flow-logs`: the VPC flow logs' log group (rule `log_group`)."""
        return f"/vpc/{self.prefix}/flow-logs"

    def secret(self, name: str) -> str:
        """`{app}/{stage}/{name}`, or `{app}/{secrets_from}/{name}` for a secret shared by previews
        in a stage that does not own its app secrets (`StagePolicy.owns_app_secrets`)."""
        return secret_path(
            self.app, secret_stage(name, self.stage, self.policy.owns_app_secrets, self.secrets_from), name
        )

    def kms_alias(self, purpose: str) -> str:
        """`alias/{prefix}-{purpose}` (`purpose` one of `KMS_KEYS`; rule `kms_alias`: ≤ 256)."""
        return f"alias/{self.prefix}-{purpose}"

    def ecs_cluster(self) -> str:
        """`{prefix}`: the stage's ECS cluster (rule `ecs`: ≤ 255)."""
        return self.prefix

    def ecs_service(self, service: str) -> str:
        """The ECS service's name (unique within the stage's cluster): `api` -> `HeboApiService`."""
        return service_display_name(service)

    def task_family(self, service_name: str) -> str:
        """`{prefix}-{service_name}`: a service's task definition family (rule `ecs`)."""
        return f"{self.prefix}-{service_name}"

    def ecr_repository(self, service: str) -> str:
        """`{prefix}/{service}`: a service's ECR repository (rule `ecr`: ≤ 256, lowercase)."""
        return f"{self.prefix}/{service}"

    def security_group(self, role: str) -> str:
        """`{prefix}-{role}` (`role` one of `SECURITY_GROUPS`; rule `security_group`: ≤ 255)."""
        return f"{self.prefix}-{role}"

    def cloudfront(self, what: str) -> str:
        """`{prefix}-{what}`: a CloudFront function, OAC or response headers policy (rule `cloudfront`: ≤ 64)."""
        return f"{self.prefix}-{what}"

    def sns_topic(self, what: str) -> str:
        """`{prefix}-{what}`: an SNS topic (`alarms`; rule `sns`: ≤ 256)."""
        return f"{self.prefix}-{what}"

    def scaling_policy(self, service: str, metric: str) -> str:
        """`{prefix}-{service}-{metric}` (`metric` one of `SCALING_METRICS`; rule `scaling_policy`: ≤ 256)."""
        return f"{self.prefix}-{service}-{metric}"

    def alarm(self, service: str, what: str) -> str:
        """`{prefix}-{service}-{what}` (`what` one of `SERVICE_ALARMS`; rule `alarm`: ≤ 255)."""
        return f"{self.prefix}-{service}-{what}"

    def dnssec_key_alias(self) -> str:
        """Account-wide (dns stack): one per app, not per stage."""
        return f"alias/{self.app}-dnssec"

    def dnssec_key_signing_key(self) -> str:
        """`{app}_ksk`: the zone's Route 53 key-signing key, account-wide (rule `route53_ksk`: 3-128, letters, digits, `_`)."""
        return f"{self.app}_ksk"

    def domain(self, app: str) -> str:
        """The domain of one of APPS, by the policy's scheme (StagePolicy.domain); ConfigError for other apps."""
        if app not in APPS:
            raise ConfigError("app", app, rule=f"allowed are {list(APPS)}", problem="unknown")
        return self.policy.domain(app, self.zone)

    # -- the catalog --------------------------------------------------------------------------
    def catalog(self) -> list[tuple[str, str]]:
        """Every name any stage may use, with its rule key (indexes up to their maxima, both region
        roles): stage validation checks each one, and tests/policy/test_names.py proves every
        literal name in the synthesized stacks is one of them."""
        return [*self._service_names(), *self._database_and_network_names(), *self._stage_names()]

    def _service_names(self) -> list[tuple[str, str]]:
        """Per service: ALB, target groups, logs, ECS, ECR, alarms, scaling policies; the domains."""
        items: list[tuple[str, str]] = []
        for svc in SERVICES:
            service_name = service_display_name(svc)
            items += [
                ("alb", self.alb(svc)),
                ("target_group", self.target_group(svc)),
                ("target_group", self.routed_target_group(svc)),
                ("log_group", self.service_log_group(service_name)),
                ("ecs", self.task_family(service_name)),
                ("ecs", self.ecs_service(svc)),
                ("ecr", self.ecr_repository(svc)),
            ]
            items += [("alarm", self.alarm(svc, what)) for what in SERVICE_ALARMS]
            items += [("scaling_policy", self.scaling_policy(svc, metric)) for metric in SCALING_METRICS]
        for app in APPS:
            items += [("dns_name", self.domain(app)), ("acm_domain", self.domain(app))]
        return items + [("dns_name", self.zone)]

    def _database_and_network_names(self) -> list[tuple[str, str]]:
        """Per region role: the database's and the VPC's names; every DB instance index."""
        items = [("rds", self.db_global_cluster()), ("db_proxy", self.db_proxy())]
        for role in REGION_ROLES:
            items += [
                ("rds", self.db_cluster(role)),
                ("rds", self.db_final_snapshot(role)),
                ("log_group", self.db_log_group(role)),
                ("db_group", self.db_subnet_group(role)),
                ("db_group", self.db_cluster_parameter_group(role)),
                ("db_group", self.db_instance_parameter_group(role)),
                ("name_tag", self.vpc(role)),
                ("name_tag", self.flow_log(role)),
            ]
        items += [
            ("rds", self.db_instance(role, i))
            for role in ("writer", "reader", "secondary")
            for i in range(MAX_DB_INSTANCES)
        ]
        return items

    def _stage_names(self) -> list[tuple[str, str]]:
        """The stage's one-of names: shared ALB, roles, groups, keys, secrets, state, edge, alarms."""
        items: list[tuple[str, str]] = []
        items += [("alb", self.shared_alb()), ("alarm", self.shared_alb_alarm("alb-5xx-rate"))]
        items += [("iam_role", self.iam_role(r)) for r in IAM_ROLES]
        items += [("iam_policy", self.iam_role(r)) for r in IAM_ROLES]
        items += [("iam_instance_profile", self.iam_role(r)) for r in ("nat", "bastion")]
        items += [("iam_policy", permissions_boundary_name(self.app)), ("iam_policy", deploy_guardrails_name(self.app))]
        items += [("iam_policy", deploy_grants_name(self.app)), ("iam_policy", deploy_account_denies_name(self.app))]
        items += [("security_group", self.security_group(r)) for r in SECURITY_GROUPS]
        items += [("kms_alias", self.kms_alias(purpose)) for purpose in KMS_KEYS]
        items += [("secret", self.secret(s.name)) for s in SECRETS]
        items += [("name_tag", self.nat_instance(i)) for i in range(MAX_AZS)]
        items += [("name_tag", self.bastion())]
        for account_wide in (False, True):
            items += [("state_key", self.state_key(stack, account_wide)) for stack in STACKS]
            items += [("tfc_workspace", self.tfc_workspace(stack, account_wide)) for stack in STACKS]
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
            ("ecs", self.ecs_cluster()),
            ("cloudfront", self.cloudfront("console-security-headers")),
            ("cloudfront", self.cloudfront("console-spa-router")),
            ("cloudfront", self.cloudfront("console-oac")),
            ("kms_alias", self.dnssec_key_alias()),
            ("route53_ksk", self.dnssec_key_signing_key()),
            ("sns", self.sns_topic("alarms")),
        ]
        return items

    def problems(self) -> list[str]:
        """Every name of `catalog()` that breaks its rule, as `NameRule.check` words it; empty when all fit."""
        return [p for rule, name in self.catalog() if (p := RULES[rule].check(name))]


def service_display_name(service: str) -> str:
    """`api` -> `HeboApiService`: the name operators know from the SST deployment's logs."""
    return f"Hebo{service.capitalize()}Service"


def build_names(app: str, policy: StagePolicy, zone: str, secrets_from: str = DEV) -> Names:
    """Validate the app name and every derived name of the policy's stage; return the naming helper.

    Raises ConfigError for an app name that is not 1-12 lowercase letters/digits, or a stage
    whose derived names break an AWS rule in RULES (the message gives the longest stage that fits).
    """
    if not re.fullmatch(r"[a-z][a-z0-9]{0,11}", app):
        raise ConfigError("app name", app, rule="must be 1-12 lowercase letters/digits, starting with a letter")
    names = Names(app=app, zone=zone, policy=policy, secrets_from=secrets_from)
    problems = names.problems()
    if problems:
        limit = max_stage_length(app, zone)
        raise ConfigError(
            "stage",
            policy.name,
            reason=problems[0],
            hint=f"with app {app!r} and zone {zone!r} stage names may be at most {limit} characters",
        )
    return names


def max_stage_length(app: str, zone: str) -> int:
    """The longest preview name for which every derived name fits, computed from the catalog."""
    longest = 0
    for length in range(1, 64):
        candidate = Names(app=app, zone=zone, policy=policy_for("p" * length))
        if candidate.problems():
            break
        longest = length
    return longest

"""The stage policy: every stage-dependent setting of the platform, decided in one place.

Stacks read a `StagePolicy`; nothing else in the code base compares stage names. The policy
is a frozen dataclass so a stack cannot change it behind another stack's back, its field
invariants are checked when it is built (`StagePolicy.__post_init__`), `policy_for()` is the only
function that maps a stage name to its kind, and the domain scheme (`StagePolicy.domain`) is
policy too: `Names` takes the policy instead of classifying the stage again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, Literal, Mapping

from config.errors import ConfigError


class StageKind(str, Enum):
    """The three kinds of stage; `policy_for` maps a stage name to one (any other name is a preview)."""

    PRODUCTION = "production"
    DEV = "dev"
    PREVIEW = "preview"


PRODUCTION = "production"
DEV = "dev"

# A stage name becomes part of DNS labels, S3 buckets and RDS identifiers: a lowercase DNS
# label that starts with a letter is the common subset of all of them.
STAGE_NAME_RULE = "a lowercase DNS label: a-z, 0-9 and '-', starting with a letter, not ending with '-'"
_STAGE_NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]*[a-z0-9])?$")

# Previews are created on demand, so a typo of `production` must not silently become a new
# preview environment next to the real one.
_PRODUCTION_ALIASES = frozenset({"prod", "prd", "live", "prodution", "producton", "productin"})


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def check_stage_syntax(stage: str, preview_pattern: str | None = None) -> StageKind:
    """Classify a stage name, or raise ConfigError naming the value and the broken rule."""
    if not isinstance(stage, str) or not _STAGE_NAME_RE.fullmatch(stage):
        raise ConfigError("stage", stage, rule=f"must be {STAGE_NAME_RULE}")
    if "--" in stage:
        raise ConfigError("stage", stage, rule="must not contain '--' (reserved in S3 and DNS names)")
    if stage == PRODUCTION:
        return StageKind.PRODUCTION
    if stage == DEV:
        return StageKind.DEV
    if stage in _PRODUCTION_ALIASES or _edit_distance(stage, PRODUCTION) <= 3:
        raise ConfigError(
            "stage",
            stage,
            reason="too close to 'production' to be a preview",
            hint="use 'production' exactly, or a clearly different preview name such as 'pr-123'",
        )
    if preview_pattern and not re.fullmatch(preview_pattern, stage):
        raise ConfigError("stage", stage, rule=f"preview stages must match HEBO_PREVIEW_PATTERN {preview_pattern!r}")
    return StageKind.PREVIEW


CapacityProvider = Literal["FARGATE", "FARGATE_SPOT"]


@dataclass(frozen=True, kw_only=True)
class StagePolicy:
    """What differs between production, dev and previews (README, "Stages")."""

    name: str
    """The stage name as typed (HEBO_STAGE), already checked by `check_stage_syntax`: a lowercase DNS label."""
    kind: StageKind
    """Production, dev or a preview (`policy_for` decides; nothing else compares stage names)."""

    # network
    nat_per_az: bool
    """One NAT instance per AZ (an AZ outage keeps egress elsewhere) or one shared (cost)."""
    bastion: bool
    """An SSM-only bastion instance, created stopped (`ops bastion start`); never in production."""
    secondary_region_network: bool
    """A second VPC in HEBO_SECONDARY_REGION for the global database's secondary cluster."""

    # data
    db_min_acu: float
    """Aurora Serverless v2 floor in ACUs (1 ACU ≈ 2 GiB memory), a multiple of 0.5 from 0 to 256;
    0 allows auto-pause (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html)."""
    db_max_acu: float
    """Aurora Serverless v2 ceiling in ACUs, a multiple of 0.5 from 1 to 256 and ≥ `db_min_acu`; the
    one field a deployment may override (HEBO_DB_MAX_ACU)."""
    db_reader_count: int
    """Reader instances beside the writer (Aurora allows up to 15 replicas per cluster: `MAX_DB_INSTANCES`)."""
    db_seconds_until_auto_pause: int | None
    """None: never pause (min ACU > 0)."""
    db_global_cluster: bool
    """An Aurora global database with a secondary cluster in HEBO_SECONDARY_REGION; needs
    `secondary_region_network`."""
    db_proxy: bool
    """RDS Proxy blocks auto-pause, so previews connect to the cluster directly."""
    db_backup_retention_days: int
    """Days of automated backups, 1-35 (RDS `BackupRetentionPeriod`, https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html)."""
    db_enhanced_monitoring: bool
    """RDS Enhanced Monitoring (OS metrics every 60 s, a `-db-monitoring` role RDS assumes). Off in
    previews: Enhanced Monitoring writes to the account-wide `RDSOSMetrics` log group, production's
    too (RDS User Guide, "Monitoring OS metrics with Enhanced Monitoring"), and a role only RDS
    writes there with cannot be told apart from one a pull request creates under that name with
    a trust policy of its own choosing (IAM has no condition key on a trust policy's content), so
    the preview boundary grants no access to that group at all (docs/security.md). Performance
    Insights stays on in every stage."""
    migrate_on_deploy: bool
    """The data stack invokes the migrator Lambda on every deploy whose migrations changed (dev migrates by hand)."""

    # compute
    service_min_tasks: int
    """Tasks per service: autoscaling floor and the initial desired count; ≥ 1 and ≤ `service_max_tasks`."""
    service_max_tasks: int
    """Tasks per service: autoscaling ceiling (equal to the floor: no scaling)."""
    capacity_provider: CapacityProvider
    """`FARGATE` (on demand) or `FARGATE_SPOT` (up to 70 % cheaper, may be interrupted with two minutes' notice)."""
    wait_for_steady_state: bool
    """`apply` waits until new tasks are healthy, and fails when the circuit breaker rolled back."""
    task_cpu: int
    """CPU units per task (1024 = 1 vCPU); a Fargate size (`FARGATE_SIZES`, modules/service/fargate_service.py)."""
    task_memory_mib: int
    """Memory per task in MiB; a size Fargate offers for `task_cpu`."""
    log_level: Literal["info", "debug"]
    """`LOG_LEVEL` of the services' containers."""
    container_insights: bool
    """ECS Container Insights on the cluster (per-task metrics; billed as custom metrics)."""
    ecs_exec: bool
    """ECS Exec into running tasks (SSM channels on the task role, transcripts logged, the `debug` image)."""
    alb_log_retention_days: int
    """ALB access logs (S3) expire after this many days."""
    waf: bool
    """A WAFv2 web ACL (rate limit + AWS managed rules) in front of the ALBs (~$8/month + requests)."""
    shared_load_balancer: bool
    """One ALB for both services, routed by host header, with one certificate naming both
    (~$16/month + a public IPv4 less per stage); False: one ALB per service (isolation). See docs/compute.md."""

    # lifecycle and protection
    protect: bool
    """prevent_destroy, deletion protection and final snapshots on stateful resources."""
    log_retention_days: int
    """Days CloudWatch keeps the stage's log groups; one of the values CloudWatch Logs accepts
    (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)."""
    secret_recovery_window_days: int
    """Days a deleted secret can be restored, 7-30, or 0: deleted at once so a preview can be
    re-created under the same name (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html)."""
    kms_deletion_window_days: int
    """Days a destroyed KMS key waits before deletion, 7-30 (https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html)."""
    shared_stage_key: bool
    """One KMS key for the stage's network, data and compute stacks (network owns it), instead of
    one per stack. The edge stack has no key in any stage (the console bucket is SSE-S3: docs/edge.md)."""
    force_destroy: bool
    """Let `destroy` empty S3 buckets and ECR repositories (never in production)."""
    permissions_boundary: bool
    """Every IAM role of the stage carries the preview permissions boundary (`{app}-preview-boundary`,
    created by `ops deploy-role`): previews are deployed by the GitHub deploy role, which may create
    roles only under that boundary (docs/security.md). Dev and production are deployed by
    administrators, and the preview boundary denies every other stage's resources, so they carry none."""
    owns_app_secrets: bool
    """The stage owns its third-party and publishable secrets (the catalog's `shared_by_previews`:
    Stack Auth, Groq, Voyage). False (previews): it creates only its database secrets and reads
    the others, by name, from the template stage HEBO_PREVIEW_SECRETS_FROM ($0.40/month per secret
    less; rotation in one place). See docs/previews.md, "Secrets"."""

    def __post_init__(self) -> None:
        """Invariants between fields: a combination the stacks could only half-build (or that
        AWS rejects at apply time) fails at synth with a ConfigError naming the fields."""
        problems = [message for broken, message in _invariants(self) if broken]
        if problems:
            raise ConfigError("stage policy", self.name, reason=problems[0])

    @property
    def is_production(self) -> bool:
        """True for the one production stage (its protections, sizes and domain scheme)."""
        return self.kind is StageKind.PRODUCTION

    @property
    def image_target(self) -> Literal["runtime", "debug"]:
        """Dockerfile stage the service images are built from (docker/Dockerfile.*): `debug` (the
        same binary on Debian slim, with the `script` and `cat` that ECS Exec session logging runs
        in the container) where ECS Exec is on, else the distroless `runtime`."""
        return "debug" if self.ecs_exec else "runtime"

    def domain(self, app: str, zone: str) -> str:
        """The stage's domain (`stage_domain`): `{app}.{zone}` in production,
        `{stage}.dev.{app}.{zone}` for dev and every preview."""
        return stage_domain(self.name, app, zone, production=self.is_production)


NON_PRODUCTION_LABEL = "dev"
"""The DNS label under each app's domain that holds every non-production stage (`pr-42.dev.api.hebo.ai`)."""


def stage_domain(stage: str, app: str, zone: str, production: bool = False) -> str:
    """The one domain scheme: `{app}.{zone}` for production, `{stage}.dev.{app}.{zone}` for dev and
    every preview (so non-production stages share one delegated subtree). `stage` and `app` may be
    IAM wildcards (`pr-*`, `*`): the deploy role scopes previews' DNS records and certificates with
    the same scheme (ops/deploy_role.py)."""
    if production:
        return f"{app}.{zone}"
    return f"{stage}.{NON_PRODUCTION_LABEL}.{app}.{zone}"


AUTO_PAUSE_SECONDS = (300, 86_400)
"""Aurora Serverless v2 SecondsUntilAutoPause range, seconds (RDS API reference,
ServerlessV2ScalingConfiguration: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html)."""


def _invariants(policy: StagePolicy) -> list[tuple[bool, str]]:
    """(broken, message) for every rule between policy fields."""
    pause = policy.db_seconds_until_auto_pause
    low, high = AUTO_PAUSE_SECONDS
    return [
        (
            policy.db_global_cluster and not policy.secondary_region_network,
            "db_global_cluster needs secondary_region_network (the secondary cluster's VPC)",
        ),
        (
            policy.db_proxy and pause is not None,
            "db_proxy needs db_seconds_until_auto_pause=None (RDS Proxy keeps Aurora from auto-pausing)",
        ),
        (
            pause is not None and policy.db_min_acu != 0,
            "db_seconds_until_auto_pause needs db_min_acu=0 (Aurora pauses only at 0 ACU)",
        ),
        (
            pause is not None and not low <= pause <= high,
            f"db_seconds_until_auto_pause must be from {low} to {high} seconds, not {pause}",
        ),
        (
            policy.db_min_acu > policy.db_max_acu,
            f"db_min_acu {policy.db_min_acu} exceeds db_max_acu {policy.db_max_acu}",
        ),
        (
            policy.service_min_tasks > policy.service_max_tasks,
            f"service_min_tasks {policy.service_min_tasks} exceeds service_max_tasks {policy.service_max_tasks}",
        ),
    ]


_PRODUCTION = dict(
    nat_per_az=True,
    bastion=False,
    secondary_region_network=True,
    db_min_acu=0.5,
    db_max_acu=16.0,
    db_reader_count=1,
    db_seconds_until_auto_pause=None,
    db_global_cluster=True,
    db_proxy=True,
    db_backup_retention_days=14,
    db_enhanced_monitoring=True,
    migrate_on_deploy=True,
    service_min_tasks=4,
    service_max_tasks=16,
    capacity_provider="FARGATE",
    wait_for_steady_state=True,
    task_cpu=1024,
    task_memory_mib=2048,
    log_level="info",
    container_insights=True,
    ecs_exec=False,
    alb_log_retention_days=90,
    waf=True,
    shared_load_balancer=False,
    protect=True,
    log_retention_days=365,
    secret_recovery_window_days=30,
    kms_deletion_window_days=30,
    shared_stage_key=False,
    force_destroy=False,
    permissions_boundary=False,
    owns_app_secrets=True,
)

_PREVIEW = dict(
    nat_per_az=False,
    bastion=True,
    secondary_region_network=False,
    db_min_acu=0.0,
    db_max_acu=4.0,
    db_reader_count=0,
    db_seconds_until_auto_pause=1200,
    db_global_cluster=False,
    db_proxy=False,
    db_backup_retention_days=1,
    db_enhanced_monitoring=False,
    migrate_on_deploy=True,
    service_min_tasks=1,
    service_max_tasks=1,
    capacity_provider="FARGATE_SPOT",
    wait_for_steady_state=False,
    task_cpu=256,
    task_memory_mib=512,
    log_level="debug",
    container_insights=False,
    ecs_exec=True,
    alb_log_retention_days=7,
    waf=False,
    shared_load_balancer=True,
    protect=False,
    log_retention_days=7,
    secret_recovery_window_days=0,
    kms_deletion_window_days=7,
    shared_stage_key=True,
    force_destroy=True,
    permissions_boundary=True,
    owns_app_secrets=False,
)

_DEV = {
    **_PREVIEW,
    "migrate_on_deploy": False,
    "db_enhanced_monitoring": True,  # dev's role is made by administrators, under no preview boundary
    "owns_app_secrets": True,  # dev is the previews' template,
    "permissions_boundary": False,
}  # deployed by administrators, not by the preview deploy role

_DEFAULTS: Mapping[StageKind, Mapping[str, Any]] = {
    StageKind.PRODUCTION: _PRODUCTION,
    StageKind.PREVIEW: _PREVIEW,
    StageKind.DEV: _DEV,
}

OVERRIDABLE = frozenset({"db_max_acu"})
"""Settings a user may override per deployment (HEBO_DB_MAX_ACU, …); the rest is policy."""


def policy_for(
    stage: str, overrides: Mapping[str, Any] | None = None, preview_pattern: str | None = None
) -> StagePolicy:
    """Build the policy of `stage`, applying the allowed user overrides."""
    kind = check_stage_syntax(stage, preview_pattern)
    policy = StagePolicy(name=stage, kind=kind, **_DEFAULTS[kind])
    overrides = dict(overrides or {})
    unknown = set(overrides) - OVERRIDABLE
    if unknown:
        raise ConfigError(
            "stage overrides", sorted(unknown), rule=f"allowed are {sorted(OVERRIDABLE)}", problem="unknown"
        )
    if "db_max_acu" in overrides:
        max_acu = float(overrides["db_max_acu"])
        if not (max(1.0, policy.db_min_acu) <= max_acu <= 256 and (max_acu * 2).is_integer()):
            raise ConfigError("db_max_acu", overrides["db_max_acu"], rule="must be a multiple of 0.5 from 1 to 256")
        overrides["db_max_acu"] = max_acu
    return replace(policy, **overrides)  # replace() re-runs __post_init__: the invariants hold


def policy_table() -> dict[str, dict[str, Any]]:
    """The policy for each kind of stage, for docs and tests."""
    samples = {"production": PRODUCTION, "preview": "pr-123", "dev": DEV}
    return {
        label: {
            f.name: getattr(policy_for(stage), f.name) for f in fields(StagePolicy) if f.name not in ("name", "kind")
        }
        for label, stage in samples.items()
    }

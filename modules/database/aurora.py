"""An Aurora PostgreSQL Serverless v2 cluster: subnet and parameter groups, log group, cluster, instances.

One construct serves a standalone cluster, the primary of a global database and a global
secondary (no credentials, no database name: both are replicated from the primary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.iam import Condition
from modules.logs import log_group

ENGINE = "aurora-postgresql"
SERVERLESS_INSTANCE_CLASS = "db.serverless"

AWS_MANAGED_ATTRIBUTES = ("engine_version",)
"""What AWS changes on its own: instances run with `auto_minor_version_upgrade`, so RDS moves the
cluster and its instances to newer 17.x minors; a pinned version would then plan a "downgrade"
that RDS refuses (InvalidParameterCombination). terraform-provider-aws only suppresses that diff
for clusters from PR #49396 on (after 6.25), never for instances. `engine_version` is therefore
the version a cluster is *created* with; upgrades are AWS's (minor) or deliberate (major)."""

# Parameters RDS applies only after a reboot; everything else is applied immediately.
STATIC_PARAMETERS = frozenset({"rds.force_ssl", "shared_preload_libraries"})


def parameter_group_family(engine_version: str) -> str:
    """`17.5` -> `aurora-postgresql17`."""
    return f"{ENGINE}{engine_version.split('.')[0]}"


def monitoring_trust_conditions(partition: str, account_id: str, instance_names: str) -> list[Condition]:
    """Confused-deputy guard of an Enhanced Monitoring role: RDS may assume it only for this
    account's DB instances named like `instance_names` (e.g. `hebo-production-db-*`), in any region
    (production's secondary writer is in its second region). The keys and the `db` ARN are AWS's
    (RDS User Guide, "Setting up and enabling Enhanced Monitoring", "Protecting against the confused
    deputy problem": https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html)."""
    return [
        Condition(test="StringEquals", variable="aws:SourceAccount", values=[account_id]),
        Condition(
            test="ArnLike", variable="aws:SourceArn", values=[f"arn:{partition}:rds:*:{account_id}:db:{instance_names}"]
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class MasterCredentials:
    """The master user; the password is write-only (never in state or plan)."""

    username: str
    """Master user name (1-63 letters/digits, starting with a letter; not a PostgreSQL reserved word)."""
    password_wo: str
    """An ephemeral value (ephemeral variable or resource); write-only attributes accept nothing else usefully."""
    password_wo_version: int
    """Terraform sends `password_wo` to RDS only when this number changes."""


@dataclass(frozen=True, kw_only=True)
class AuroraClusterProps:
    """One Aurora PostgreSQL Serverless v2 cluster; names come in finished."""

    identifier: str
    """Cluster identifier (≤ 63 characters, letters, digits, hyphens; RDS naming constraints)."""
    engine_version: str
    """Version the cluster is created with, e.g. `17.5` (later minors are AWS's: AWS_MANAGED_ATTRIBUTES)."""
    instance_identifiers: Sequence[str]
    """The first is the writer, the rest are readers (promotion tier `reader_promotion_tier`)."""
    subnet_group_name: str
    """Name of the DB subnet group."""
    subnet_ids: Sequence[str]
    """Private subnets (in at least two AZs, an RDS requirement for a subnet group)."""
    security_group_ids: Sequence[str]
    """Security groups of the cluster."""
    cluster_parameter_group_name: str
    """Name of the cluster parameter group."""
    instance_parameter_group_name: str
    """Name of the instance parameter group."""
    cluster_parameters: Mapping[str, str]
    """Cluster parameters; STATIC_PARAMETERS apply at the next reboot, the rest immediately."""
    kms_key_arn: str
    """Storage, Performance Insights and the log group are encrypted with it."""
    min_acu: float
    """Serverless v2 floor in ACUs (0-256 in steps of 0.5; 0 allows auto-pause)."""
    max_acu: float
    """Serverless v2 ceiling in ACUs (1-256, ≥ `min_acu`;
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html)."""
    seconds_until_auto_pause: int | None
    """Only with `min_acu == 0`; None leaves the instances running."""
    log_group_name: str
    """`/aws/rds/cluster/<identifier>/postgresql`: created here so it has KMS and a retention."""
    log_retention_days: int
    """Days CloudWatch keeps the PostgreSQL log."""
    backup_retention_days: int
    """Days of automated backups (1-35)."""
    deletion_protection: bool
    """RDS refuses to delete the cluster while it is on."""
    final_snapshot_identifier: str | None
    """None skips the final snapshot (disposable clusters, global secondaries)."""
    prevent_destroy: bool
    """Terraform refuses any plan that destroys the cluster or an instance."""
    database_name: str | None = None
    """None for a global secondary (it replicates the primary's databases)."""
    credentials: MasterCredentials | None = None
    """None for a global secondary."""
    global_cluster_identifier: str | None = None
    """The global database this cluster belongs to (primary or secondary); None: standalone."""
    reader_promotion_tier: int = 1
    """0-1 keeps readers sized like the writer (fast failover); 2-15 lets them pause on their own."""
    performance_insights_retention_days: int = 7
    """7 days is the free tier."""
    monitoring_role_arn: str | None = None
    """Enhanced Monitoring (OS metrics every `monitoring_interval_seconds`); None turns it off."""
    monitoring_interval_seconds: int = 60
    """Enhanced Monitoring interval (1, 5, 10, 15, 30 or 60 seconds)."""
    port: int = 5432
    """PostgreSQL port of the cluster (and its instances)."""
    depends_on: Sequence[Any] = ()
    """The cluster is created after these (e.g. the global cluster)."""
    ignore_changes: Sequence[str] = ()
    """Cluster attributes to ignore besides AWS_MANAGED_ATTRIBUTES (always ignored)."""


class AuroraCluster(Construct):
    """Subnet group, cluster and instance parameter groups, the KMS log group, the cluster and its
    Serverless v2 instances (the first the writer). Storage, Performance Insights and logs are
    encrypted with `kms_key_arn`; every instance is private."""

    def __init__(self, scope: Construct, construct_id: str, props: AuroraClusterProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self._props, self._provider = props, provider
        self._create_parameter_and_subnet_groups()
        logs = log_group(
            self,
            "postgresql_logs",
            name=props.log_group_name,
            retention_days=props.log_retention_days,
            kms_key_arn=props.kms_key_arn,
            provider=provider,
        )
        self.cluster = self._create_cluster(logs)
        self.instances = [
            self._create_instance(index, identifier) for index, identifier in enumerate(props.instance_identifiers)
        ]

    def _create_parameter_and_subnet_groups(self) -> None:
        """The DB subnet group and the parameter groups of the engine's major version."""
        props, provider = self._props, self._provider
        family = parameter_group_family(props.engine_version)
        self.subnet_group = aws.db_subnet_group.DbSubnetGroup(
            self,
            "subnets",
            name=props.subnet_group_name,
            description=f"Private subnets of {props.identifier}",
            subnet_ids=list(props.subnet_ids),
            provider=provider,
        )
        self.cluster_parameter_group = aws.rds_cluster_parameter_group.RdsClusterParameterGroup(
            self,
            "cluster_params",
            name=props.cluster_parameter_group_name,
            family=family,
            description=f"Cluster parameters of {props.identifier}",
            parameter=[
                aws.rds_cluster_parameter_group.RdsClusterParameterGroupParameter(
                    name=name,
                    value=value,
                    apply_method="pending-reboot" if name in STATIC_PARAMETERS else "immediate",
                )
                for name, value in sorted(props.cluster_parameters.items())
            ],
            provider=provider,
        )
        self.instance_parameter_group = aws.db_parameter_group.DbParameterGroup(
            self,
            "instance_params",
            name=props.instance_parameter_group_name,
            family=family,
            description=f"Instance parameters of {props.identifier}",
            provider=provider,
        )

    def _create_cluster(self, logs: Any) -> Any:
        """The encrypted cluster, created after its log group (RDS would create one without KMS)."""
        props, credentials = self._props, self._props.credentials
        scaling = aws.rds_cluster.RdsClusterServerlessv2ScalingConfiguration(
            min_capacity=props.min_acu,
            max_capacity=props.max_acu,
            seconds_until_auto_pause=props.seconds_until_auto_pause if props.min_acu == 0 else None,
        )
        return aws.rds_cluster.RdsCluster(
            self,
            "cluster",
            cluster_identifier=props.identifier,
            engine=ENGINE,
            engine_mode="provisioned",
            engine_version=props.engine_version,
            global_cluster_identifier=props.global_cluster_identifier,
            database_name=props.database_name,
            master_username=credentials.username if credentials else None,
            master_password_wo=credentials.password_wo if credentials else None,
            master_password_wo_version=credentials.password_wo_version if credentials else None,
            port=props.port,
            db_subnet_group_name=self.subnet_group.name,
            vpc_security_group_ids=list(props.security_group_ids),
            db_cluster_parameter_group_name=self.cluster_parameter_group.name,
            db_instance_parameter_group_name=self.instance_parameter_group.name,
            serverlessv2_scaling_configuration=scaling,
            storage_encrypted=True,
            kms_key_id=props.kms_key_arn,
            enabled_cloudwatch_logs_exports=["postgresql"],
            backup_retention_period=props.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=props.deletion_protection,
            skip_final_snapshot=props.final_snapshot_identifier is None,
            final_snapshot_identifier=props.final_snapshot_identifier,
            # Allowed, not used: without an `rds-db:connect` grant nobody can log in this way.
            iam_database_authentication_enabled=True,
            depends_on=[logs, *props.depends_on],
            provider=self._provider,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=props.prevent_destroy,
                ignore_changes=list(dict.fromkeys([*props.ignore_changes, *AWS_MANAGED_ATTRIBUTES])),
            ),
        )

    def _create_instance(self, index: int, identifier: str) -> Any:
        """Instance `index`: 0 is the writer (promotion tier 0), the others readers."""
        props = self._props
        return aws.rds_cluster_instance.RdsClusterInstance(
            self,
            "writer" if index == 0 else f"reader_{index}",
            identifier=identifier,
            cluster_identifier=self.cluster.id,
            engine=ENGINE,
            engine_version=props.engine_version,
            instance_class=SERVERLESS_INSTANCE_CLASS,
            db_subnet_group_name=self.subnet_group.name,
            db_parameter_group_name=self.instance_parameter_group.name,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            promotion_tier=0 if index == 0 else props.reader_promotion_tier,
            performance_insights_enabled=True,
            performance_insights_kms_key_id=props.kms_key_arn,
            performance_insights_retention_period=props.performance_insights_retention_days,
            monitoring_role_arn=props.monitoring_role_arn,
            monitoring_interval=props.monitoring_interval_seconds if props.monitoring_role_arn else 0,
            copy_tags_to_snapshot=True,
            provider=self._provider,
            lifecycle=TerraformResourceLifecycle(
                prevent_destroy=props.prevent_destroy, ignore_changes=list(AWS_MANAGED_ATTRIBUTES)
            ),
        )

    @property
    def writer(self) -> Any:
        """The writer instance (`aws_rds_cluster_instance`, id `writer`)."""
        return self.instances[0]

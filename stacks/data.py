"""The per-stage `data` stack: Aurora PostgreSQL, its KMS keys, the stage secrets, the migrator.

Everything stage-dependent comes from the StagePolicy; docs/data.md explains the choices
(why previews have no proxy and no global cluster, how the master password stays out of state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.account import account_id, partition
from modules.cdk import Construct, TerraformResourceLifecycle, TerraformVariable, TerraformVariableValidationConfig, aws
from modules.database.aurora import AuroraCluster, AuroraClusterProps, MasterCredentials, monitoring_trust_conditions
from modules.database.proxy import DatabaseProxy, DatabaseProxyProps
from modules.iam import ServiceRole, ServiceRoleProps, Statement
from modules.lambda_function import PythonFunction, PythonFunctionProps
from modules.secrets import SecretContainerProps, secret_container
from stacks.base import HeboStack
from stacks.network import NetworkOutputs
from config.secrets import DB_PASSWORD_RULE, db_password_condition, owned_secrets
from config.settings import REPO_ROOT, Settings
from config.errors import ConfigError
from config.topology import DATABASE_NAME, DB_APP_USER, POSTGRES_PORT
from lambdas.migrator.bundle import Bundle, BundleError, build_bundle

CLUSTER_PARAMETERS = {
    "rds.force_ssl": "1",  # no plaintext connections, whoever connects
    "log_min_duration_statement": "1000",  # ms: slow statements are logged with their text
    "log_statement": "none",  # not even `ddl`: `CREATE/ALTER ROLE ... PASSWORD '...'` is DDL and would be logged verbatim
    "log_min_error_statement": "error",  # the statement that failed, next to its error
}

CREDENTIALS_SECRET = "DbCredentials"
"""JSON {username, password} of the master: what RDS Proxy and the migrator read."""
APP_CREDENTIALS_SECRET = "DbAppCredentials"
"""JSON {username, password} of the application role: the services' login (through RDS Proxy in
production); the migrator reads it to create that role, so its password never passes Terraform."""

PASSWORD_VARIABLE = "db_password"
"""`TF_VAR_db_password`: ephemeral, so Terraform keeps it out of state and plan files."""

MIGRATOR_HANDLER = "migrator.handler.lambda_handler"
MIGRATOR_BUILD_DIR = REPO_ROOT / "build" / "migrator"


@dataclass(frozen=True, kw_only=True)
class DataOutputs:
    """What compute may use from the data stack (cross-stack references). Every field is
    required: a consumer never sees an empty placeholder for something the stack did not set."""

    kms_key_arn: str
    """The key of this stage's secrets (and database)."""
    secret_arns: dict[str, str]
    """The containers this stage owns, keyed by the names in config/secrets.py (a preview's lacks
    the `shared_by_previews` ones: compute finds those in the template stage by name)."""
    db_endpoint: str
    """Whichever endpoint the stage's services use: RDS Proxy or the cluster writer."""
    db_port: int | str
    """PostgreSQL port (a number, or a reference)."""
    db_name: str
    """The application database."""
    db_username: str
    """The master user (migrator and proxy only)."""
    cluster_arn: str
    """ARN of the primary Aurora cluster."""
    cluster_identifier: str
    """Identifier of the primary Aurora cluster."""
    db_credentials_secret_arn: str
    """The master's JSON {username, password} (migrator and proxy only; never the services)."""
    db_app_username: str
    """The role the services log in as (`PG_USER`); its password is the `DbAppCredentials` secret."""
    migrator_function_name: str
    """The migration Lambda (`ops` and CI invoke it)."""


def build_migrator_bundle(migrations_dir: Path, out_dir: Path = MIGRATOR_BUILD_DIR) -> Bundle:
    """Build the migrator zip at synth; a missing or malformed folder is a ConfigError."""
    migrations_dir = Path(migrations_dir)
    if not migrations_dir.is_dir():
        raise ConfigError(
            "HEBO_MIGRATIONS_DIR",
            str(migrations_dir),
            reason="not a directory (point it at the app repo's drizzle-kit migrations folder)",
        )
    try:
        return build_bundle(migrations_dir, out_dir)
    except BundleError as error:
        raise ConfigError("HEBO_MIGRATIONS_DIR", str(migrations_dir), reason=str(error)) from None


class DataStack(HeboStack):
    """Aurora and everything around it, built in this order: data key, secret containers, the
    ephemeral master-password variable, Enhanced Monitoring role (not in previews), global cluster
    (production), primary cluster, secondary cluster (production), RDS Proxy (production), migrator
    and its run."""

    stack_name = "data"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs) -> None:
        super().__init__(scope, settings)
        self.network = network
        self.key = self.stage_key(
            "key",
            "data",
            f"{self.names.prefix} data: Aurora, Performance Insights, secrets, logs",
            logs_region=settings.region,
            shared=network.stage_key_arn,
        )
        self.secrets = self._create_secrets()
        self.credentials_arn = self.secrets[CREDENTIALS_SECRET].arn
        self.app_credentials_arn = self.secrets[APP_CREDENTIALS_SECRET].arn
        password = self._create_password_variable()
        self.monitoring_role = self._create_monitoring_role() if self.policy.db_enhanced_monitoring else None
        global_cluster = self._create_global_cluster()
        self.primary = self._create_primary_cluster(password, global_cluster)
        if global_cluster is not None:
            self._create_secondary_cluster(settings, network, global_cluster, self.primary)
        self.endpoint, migration_dependencies = self._create_proxy()
        self.migrator, bundle = self._create_migrator()
        if self.policy.migrate_on_deploy:
            self._create_migration_run(bundle, migration_dependencies)
        self.outputs = DataOutputs(
            kms_key_arn=self.key.arn,
            secret_arns={name: s.arn for name, s in self.secrets.items()},
            db_endpoint=self.endpoint,
            db_port=POSTGRES_PORT,
            db_name=DATABASE_NAME,
            db_username=settings.db_username,
            cluster_arn=self.primary.cluster.arn,
            cluster_identifier=self.primary.cluster.cluster_identifier,
            db_credentials_secret_arn=self.credentials_arn,
            db_app_username=DB_APP_USER,
            migrator_function_name=self.migrator.function_name,
        )
        self._create_outputs()

    # -- steps, in the order __init__ runs them -------------------------------------------------
    def _create_secrets(self) -> dict[str, Any]:
        """One container per secret the stage owns (all of them, or only the database's where the
        policy reads the others from the template stage); values are set with `ops secrets set`."""
        policy, names = self.policy, self.names
        return {
            s.name: secret_container(
                self,
                f"secret_{s.name}",
                SecretContainerProps(
                    name=names.secret(s.name),
                    description=s.description,
                    kms_key_arn=self.key.arn,
                    recovery_window_days=policy.secret_recovery_window_days,
                    prevent_destroy=policy.protect,
                ),
            )
            for s in owned_secrets(policy.owns_app_secrets)
        }

    def _create_password_variable(self) -> TerraformVariable:
        """The master password: an ephemeral variable feeding a write-only attribute, so it is
        never in state or plan; its validation is the DbPassword catalog rule (config/secrets.py)."""
        password = TerraformVariable(
            self,
            PASSWORD_VARIABLE,
            type="string",
            sensitive=True,
            nullable=False,
            description="Aurora master password, read from the DbPassword secret at deploy time "
            "(export TF_VAR_db_password=...). Ephemeral: never stored in state or plan.",
            validation=[
                TerraformVariableValidationConfig(
                    condition=db_password_condition(PASSWORD_VARIABLE),
                    error_message=f"TF_VAR_db_password must be {DB_PASSWORD_RULE} (is the DbPassword secret set?).",
                )
            ],
        )
        password.add_override("ephemeral", True)
        # Also as an override: cdktf's HCL renderer drops a false `nullable` (`synth --hcl`).
        password.add_override("nullable", False)
        return password

    def _create_monitoring_role(self) -> ServiceRole:
        """The Enhanced Monitoring role both clusters' instances publish OS metrics with (stages whose
        policy has `db_enhanced_monitoring`; without it the instances get no role and interval 0)."""
        return ServiceRole(
            self,
            "monitoring_role",
            ServiceRoleProps(
                name=self.names.iam_role("db-monitoring"),
                service="monitoring.rds.amazonaws.com",
                description="RDS Enhanced Monitoring publishes OS metrics to CloudWatch Logs",
                trust_conditions=monitoring_trust_conditions(
                    partition(self), account_id(self), self.names.db_instances()
                ),
                managed_policy_arns=[
                    f"arn:{partition(self)}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
                ],
            ),
        )

    def _create_global_cluster(self) -> Any:
        """The Aurora global database (stages whose policy has `db_global_cluster`), else None."""
        policy = self.policy
        if not policy.db_global_cluster:
            return None
        return aws.rds_global_cluster.RdsGlobalCluster(
            self,
            "global_cluster",
            global_cluster_identifier=self.names.db_global_cluster(),
            engine="aurora-postgresql",
            engine_version=self.settings.db_engine_version,
            storage_encrypted=True,
            deletion_protection=policy.protect,
            # Minor upgrades are AWS's (see AWS_MANAGED_ATTRIBUTES in modules/database/aurora.py).
            lifecycle=TerraformResourceLifecycle(prevent_destroy=policy.protect, ignore_changes=["engine_version"]),
        )

    def _create_primary_cluster(self, password: TerraformVariable, global_cluster: Any) -> AuroraCluster:
        """The writer and the policy's readers in the primary region's private subnets."""
        settings, policy, names, network = self.settings, self.policy, self.names, self.network
        return AuroraCluster(
            self,
            "primary",
            AuroraClusterProps(
                **self._cluster_common(settings, kms_key_arn=self.key.arn, region_role="primary"),
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[network.security_group_ids["database"]],
                database_name=DATABASE_NAME,
                credentials=MasterCredentials(
                    username=settings.db_username,
                    password_wo=password.string_value,
                    password_wo_version=settings.db_password_version,
                ),
                global_cluster_identifier=global_cluster.id if global_cluster else None,
                backup_retention_days=policy.db_backup_retention_days,
                final_snapshot_identifier=names.db_final_snapshot() if policy.protect else None,
                instance_identifiers=[names.db_instance("writer", 0)]
                + [names.db_instance("reader", i + 1) for i in range(policy.db_reader_count)],
            ),
        )

    def _create_proxy(self) -> tuple[str, list[Any]]:
        """RDS Proxy where the policy has one (it pins no auto-pause and pools the services'
        connections). Returns the endpoint the services use and what a migration run waits for."""
        primary, network = self.primary, self.network
        endpoint = primary.cluster.endpoint
        migration_dependencies: list[Any] = list(primary.instances)
        self.proxy: DatabaseProxy | None = None
        if not self.policy.db_proxy:
            return endpoint, migration_dependencies
        proxy = DatabaseProxy(
            self,
            "proxy",
            DatabaseProxyProps(
                name=self.names.db_proxy(),
                role_name=self.names.iam_role("db-proxy"),
                cluster_identifier=primary.cluster.cluster_identifier,
                secret_arns={
                    "master user (migrator)": self.credentials_arn,
                    "application role (services)": self.app_credentials_arn,
                },
                kms_key_arn=self.key.arn,
                region=self.settings.region,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[network.security_group_ids["db-proxy"]],
                require_tls=True,
                depends_on=list(primary.instances),
            ),
        )
        self.proxy = proxy
        return proxy.endpoint, migration_dependencies

    def _create_migrator(self) -> tuple[PythonFunction, Any]:
        """The migration Lambda (bundle built at synth from HEBO_MIGRATIONS_DIR) and the bundle."""
        names, network, credentials_arn = self.names, self.network, self.credentials_arn
        bundle = build_migrator_bundle(self.settings.migrations_dir)
        migrator = PythonFunction(
            self,
            "migrator",
            PythonFunctionProps(
                function_name=names.lambda_function("migrator"),
                role_name=names.iam_role("migrator"),
                description="Applies the app's drizzle-kit migrations (see docs/data.md)",
                zip_path=bundle.zip_path,
                source_code_hash=bundle.source_code_hash,
                handler=MIGRATOR_HANDLER,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[network.security_group_ids["migrator"]],
                log_group_name=names.lambda_log_group("migrator"),
                log_retention_days=self.policy.log_retention_days,
                kms_key_arn=self.key.arn,
                timeout_seconds=300,
                memory_mb=512,
                environment={
                    # Always the writer, never RDS Proxy: advisory locks and session state pin proxy
                    # sessions, and a proxy target is registered before it is available (docs/data.md).
                    "DB_HOST": self.primary.cluster.endpoint,
                    "DB_PORT": str(POSTGRES_PORT),
                    "DB_NAME": DATABASE_NAME,
                    "DB_SECRET_ARN": credentials_arn,
                    "DB_APP_SECRET_ARN": self.app_credentials_arn,  # the app role's password: read at run time only
                    "DB_APP_USER": DB_APP_USER,
                },
                statements=[
                    Statement(
                        sid="ReadDbCredentials",
                        actions=["secretsmanager:GetSecretValue"],
                        resources=[credentials_arn, self.app_credentials_arn],
                    ),
                    Statement(sid="DecryptWithDataKey", actions=["kms:Decrypt"], resources=[self.key.arn]),
                ],
            ),
        )
        return migrator, bundle

    def _create_migration_run(self, bundle: Any, migration_dependencies: list[Any]) -> None:
        """Invoke the migrator on deploy. Re-runs only when the migrations or the runner change;
        a failure fails this stack's apply, so compute never rolls out against an unmigrated schema."""
        aws.lambda_invocation.LambdaInvocation(
            self,
            "migrate",
            function_name=self.migrator.function_name,
            input=json.dumps({}),
            triggers={"migrations": bundle.migrations_sha256, "code": bundle.code_hash},
            depends_on=migration_dependencies,
        )

    def _create_outputs(self) -> None:
        primary, migrator = self.primary, self.migrator
        self.output(
            "db_endpoint", self.endpoint, "Endpoint the services use (RDS Proxy in production, else the writer)"
        )
        self.output("db_writer_endpoint", primary.cluster.endpoint, "Aurora writer endpoint (bastion tunnels)")
        self.output("db_port", POSTGRES_PORT, "PostgreSQL port")
        self.output("db_name", DATABASE_NAME, "Database name")
        self.output("cluster_identifier", primary.cluster.cluster_identifier, "Aurora cluster identifier")
        self.output(
            "migrator_function_name", migrator.function_name, "Run by hand: aws lambda invoke --function-name ..."
        )
        self.output("kms_key_arn", self.key.arn, "Data KMS key")

    def _cluster_common(self, settings: Settings, *, kms_key_arn: str, region_role: str) -> dict[str, Any]:
        """Props shared by the primary and the secondary cluster."""
        policy, names = self.policy, self.names
        return dict(
            identifier=names.db_cluster(region_role),
            port=POSTGRES_PORT,
            engine_version=settings.db_engine_version,
            subnet_group_name=names.db_subnet_group(region_role),
            cluster_parameter_group_name=names.db_cluster_parameter_group(region_role),
            instance_parameter_group_name=names.db_instance_parameter_group(region_role),
            cluster_parameters=CLUSTER_PARAMETERS,
            kms_key_arn=kms_key_arn,
            monitoring_role_arn=self.monitoring_role.arn if self.monitoring_role else None,
            min_acu=policy.db_min_acu,
            max_acu=policy.db_max_acu,
            seconds_until_auto_pause=policy.db_seconds_until_auto_pause,
            log_group_name=names.db_log_group(region_role),
            log_retention_days=policy.log_retention_days,
            deletion_protection=policy.protect,
            prevent_destroy=policy.protect,
        )

    def _create_secondary_cluster(
        self, settings: Settings, network: NetworkOutputs, global_cluster: Any, primary: AuroraCluster
    ) -> None:
        """The global database's second region: own key, subnets and security group; replicates everything else."""
        secondary = network.secondary
        if secondary is None:  # StagePolicy.__post_init__ makes db_global_cluster imply secondary_region_network
            raise ConfigError(
                "stage policy",
                self.policy.name,
                reason="db_global_cluster needs the network stack's secondary-region VPC",
            )
        provider = self.provider_for(secondary.region)
        key = self.stage_key(
            "secondary_key",
            "data-secondary",
            f"{self.names.prefix} data ({secondary.region}): Aurora secondary",
            logs_region=secondary.region,
            provider=provider,
        )
        self.secondary = AuroraCluster(
            self,
            "secondary",
            AuroraClusterProps(
                **self._cluster_common(settings, kms_key_arn=key.arn, region_role="secondary"),
                subnet_ids=secondary.private_subnet_ids,
                security_group_ids=[secondary.database_security_group_id],
                global_cluster_identifier=global_cluster.id,
                backup_retention_days=self.policy.db_backup_retention_days,
                # A secondary's data is the primary's; its own final snapshot would only collide.
                final_snapshot_identifier=None,
                instance_identifiers=[self.names.db_instance("secondary", 0)],
                # Joining the global cluster sets the replication source; engine upgrades go global.
                ignore_changes=["replication_source_identifier", "engine_version"],
                depends_on=[primary.writer],
            ),
            provider=provider,
        )

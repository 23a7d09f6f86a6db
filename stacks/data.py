"""The per-stage `data` stack: Aurora PostgreSQL, its KMS keys, the stage secrets, the migrator.

Everything stage-dependent comes from the StagePolicy; docs/data.md explains the choices
(why previews have no proxy and no global cluster, how the master password stays out of state).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from modules.cdk import Construct, TerraformResourceLifecycle, TerraformVariable, TerraformVariableValidationConfig, aws
from modules.database.aurora import AuroraCluster, AuroraClusterProps, MasterCredentials
from modules.database.proxy import DatabaseProxy, DatabaseProxyProps
from modules.iam import ServiceRole, ServiceRoleProps, Statement
from modules.lambda_function import PythonFunction, PythonFunctionProps
from modules.secrets import SecretContainerProps, secret_container
from stacks.base import HeboStack
from stacks.network import NetworkOutputs
from config.secrets import DB_PASSWORD_MAX, DB_PASSWORD_MIN, DB_PASSWORD_RULE, SECRETS
from config.settings import REPO_ROOT, Settings
from config.stage import ConfigError
from config.topology import DATABASE_NAME, POSTGRES_PORT

ENGINE_VERSION_RULE = r"17\.\d+"
"""Aurora PostgreSQL 17.x; a major upgrade is a deliberate change (parameter group family too)."""

CLUSTER_PARAMETERS = {
    "rds.force_ssl": "1",  # no plaintext connections, whoever connects
    "log_min_duration_statement": "1000",  # ms: slow statements are logged with their text
    "log_statement": "none",  # not even `ddl`: `CREATE/ALTER ROLE ... PASSWORD '...'` is DDL and would be logged verbatim
    "log_min_error_statement": "error",  # the statement that failed, next to its error
}

CREDENTIALS_SECRET = "DbCredentials"
"""JSON {username, password}: what RDS Proxy and the migrator read."""

PASSWORD_VARIABLE = "db_password"
"""`TF_VAR_db_password`: ephemeral, so Terraform keeps it out of state and plan files."""

MIGRATOR_HANDLER = "migrator.handler.lambda_handler"
MIGRATOR_BUILD_DIR = REPO_ROOT / "build" / "migrator"
MIGRATOR_BUNDLE_SOURCE = REPO_ROOT / "lambdas" / "migrator" / "bundle.py"


@dataclass(frozen=True)
class DataOutputs:
    """What compute may use from the data stack (cross-stack references)."""

    kms_key_arn: str
    secret_arns: dict[str, str]
    """Keyed by the names in config/secrets.py."""
    db_endpoint: str = ""
    """Whichever endpoint the stage's services use: RDS Proxy or the cluster writer."""
    db_port: int | str = 5432
    db_name: str = DATABASE_NAME
    db_username: str = ""
    cluster_arn: str = ""
    cluster_identifier: str = ""
    db_credentials_secret_arn: str = ""
    """JSON {username, password}; `f"{arn}:password::"` is a valid ECS `valueFrom`."""
    migrator_function_name: str = ""


def _load_bundle_module() -> ModuleType:
    """lambdas/migrator/bundle.py is a script-style module, not part of an installed package."""
    name = "hebo_migrator_bundle"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, MIGRATOR_BUNDLE_SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


def build_migrator_bundle(migrations_dir: Path, out_dir: Path = MIGRATOR_BUILD_DIR) -> Any:
    """Build the migrator zip at synth; a missing or malformed folder is a ConfigError."""
    migrations_dir = Path(migrations_dir)
    if not migrations_dir.is_dir():
        raise ConfigError(
            f"invalid HEBO_MIGRATIONS_DIR {str(migrations_dir)!r}: not a directory "
            "(point it at the app repo's drizzle-kit migrations folder)"
        )
    bundle = _load_bundle_module()
    try:
        return bundle.build_bundle(migrations_dir, out_dir)
    except bundle.BundleError as error:
        raise ConfigError(f"invalid HEBO_MIGRATIONS_DIR {str(migrations_dir)!r}: {error}") from None


class DataStack(HeboStack):
    stack_name = "data"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs) -> None:
        super().__init__(scope, settings)
        if not re.fullmatch(ENGINE_VERSION_RULE, settings.db_engine_version):
            raise ConfigError(
                f"invalid HEBO_DB_ENGINE_VERSION {settings.db_engine_version!r}: must be an Aurora PostgreSQL 17.x version such as 17.5"
            )
        policy, names = self.policy, self.names
        key = self.stage_key(
            "key", "data", f"{names.prefix} data: Aurora, Performance Insights, secrets, logs", logs_region=settings.region
        )

        # -- secrets: containers only; values are set with `python -m ops secrets set` ----------
        secrets = {
            s.name: secret_container(
                self,
                f"secret_{s.name}",
                SecretContainerProps(
                    name=names.secret(s.name),
                    description=s.description,
                    kms_key_arn=key.arn,
                    recovery_window_days=policy.secret_recovery_window_days,
                    prevent_destroy=policy.protect,
                ),
            )
            for s in SECRETS
        }
        credentials_arn = secrets[CREDENTIALS_SECRET].arn

        # -- the master password: an ephemeral variable into a write-only attribute -------------
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
                    condition=(
                        f"${{length(var.{PASSWORD_VARIABLE}) >= {DB_PASSWORD_MIN} && length(var.{PASSWORD_VARIABLE}) <= {DB_PASSWORD_MAX}"
                        f" && can(regex(\"^[ -~]+$\", var.{PASSWORD_VARIABLE}))"
                        f" && !can(regex(\"[/\\\"@]\", var.{PASSWORD_VARIABLE}))}}"
                    ),
                    error_message=f"TF_VAR_db_password must be {DB_PASSWORD_RULE} (is the DbPassword secret set?).",
                )
            ],
        )
        password.add_override("ephemeral", True)
        # Also as an override: cdktf's HCL renderer drops a false `nullable` (`synth --hcl`).
        password.add_override("nullable", False)

        # -- the cluster(s) -------------------------------------------------------------------
        partition = aws.data_aws_partition.DataAwsPartition(self, "partition")
        self.monitoring_role = ServiceRole(
            self,
            "monitoring_role",
            ServiceRoleProps(
                name=names.iam_role("db-monitoring"),
                service="monitoring.rds.amazonaws.com",
                description="RDS Enhanced Monitoring publishes OS metrics to CloudWatch Logs",
                managed_policy_arns=[f"arn:{partition.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"],
            ),
        )
        global_cluster = None
        if policy.db_global_cluster:
            global_cluster = aws.rds_global_cluster.RdsGlobalCluster(
                self,
                "global_cluster",
                global_cluster_identifier=names.db_global_cluster(),
                engine="aurora-postgresql",
                engine_version=settings.db_engine_version,
                storage_encrypted=True,
                deletion_protection=policy.protect,
                lifecycle=TerraformResourceLifecycle(prevent_destroy=policy.protect),
            )
        primary = AuroraCluster(
            self,
            "primary",
            AuroraClusterProps(
                **self._cluster_common(settings, kms_key_arn=key.arn, region_role="primary"),
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
                # Engine upgrades of a global database go through the global cluster.
                ignore_changes=["engine_version"] if global_cluster else (),
            ),
        )
        if global_cluster is not None:
            self._secondary_cluster(settings, network, global_cluster, primary)

        # -- RDS Proxy (production): pins no auto-pause, pools the services' connections ----------
        endpoint = primary.cluster.endpoint
        migration_dependencies: list[Any] = list(primary.instances)
        if policy.db_proxy:
            proxy = DatabaseProxy(
                self,
                "proxy",
                DatabaseProxyProps(
                    name=names.db_proxy(),
                    role_name=names.iam_role("db-proxy"),
                    cluster_identifier=primary.cluster.cluster_identifier,
                    secret_arn=credentials_arn,
                    kms_key_arn=key.arn,
                    region=settings.region,
                    subnet_ids=network.private_subnet_ids,
                    security_group_ids=[network.security_group_ids["db-proxy"]],
                    require_tls=True,
                    depends_on=list(primary.instances),
                ),
            )
            endpoint = proxy.endpoint
            migration_dependencies.append(proxy.target)

        # -- the migrator ---------------------------------------------------------------------
        bundle = build_migrator_bundle(settings.migrations_dir)
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
                log_retention_days=policy.log_retention_days,
                kms_key_arn=key.arn,
                reserved_concurrency=1,
                timeout_seconds=300,
                memory_mb=512,
                environment={
                    "DB_HOST": endpoint,
                    "DB_PORT": str(POSTGRES_PORT),
                    "DB_NAME": DATABASE_NAME,
                    "DB_SECRET_ARN": credentials_arn,
                },
                statements=[
                    Statement(sid="ReadDbCredentials", actions=["secretsmanager:GetSecretValue"], resources=[credentials_arn]),
                    Statement(sid="DecryptWithDataKey", actions=["kms:Decrypt"], resources=[key.arn]),
                ],
            ),
        )
        if policy.migrate_on_deploy:
            # Re-runs only when the migrations or the runner change; a failure fails this stack's
            # apply, so compute never rolls out against an unmigrated schema.
            aws.lambda_invocation.LambdaInvocation(
                self,
                "migrate",
                function_name=migrator.function_name,
                input=json.dumps({}),
                triggers={"migrations": bundle.migrations_sha256, "code": bundle.code_hash},
                depends_on=migration_dependencies,
            )

        self.outputs = DataOutputs(
            kms_key_arn=key.arn,
            secret_arns={name: s.arn for name, s in secrets.items()},
            db_endpoint=endpoint,
            db_port=POSTGRES_PORT,
            db_name=DATABASE_NAME,
            db_username=settings.db_username,
            cluster_arn=primary.cluster.arn,
            cluster_identifier=primary.cluster.cluster_identifier,
            db_credentials_secret_arn=credentials_arn,
            migrator_function_name=migrator.function_name,
        )
        self.output("db_endpoint", endpoint, "Endpoint the services use (RDS Proxy in production, else the writer)")
        self.output("db_writer_endpoint", primary.cluster.endpoint, "Aurora writer endpoint (bastion tunnels)")
        self.output("db_port", POSTGRES_PORT, "PostgreSQL port")
        self.output("db_name", DATABASE_NAME, "Database name")
        self.output("cluster_identifier", primary.cluster.cluster_identifier, "Aurora cluster identifier")
        self.output("migrator_function_name", migrator.function_name, "Run by hand: aws lambda invoke --function-name ...")
        self.output("kms_key_arn", key.arn, "Data KMS key")

    def _cluster_common(self, settings: Settings, *, kms_key_arn: str, region_role: str) -> dict[str, Any]:
        """Props shared by the primary and the secondary cluster."""
        policy, names = self.policy, self.names
        suffix = "" if region_role == "primary" else f"-{region_role}"
        return dict(
            identifier=names.db_cluster(region_role),
            port=POSTGRES_PORT,
            engine_version=settings.db_engine_version,
            subnet_group_name=names.db_group(f"db-subnets{suffix}"),
            cluster_parameter_group_name=names.db_group(f"db-cluster-params{suffix}"),
            instance_parameter_group_name=names.db_group(f"db-instance-params{suffix}"),
            cluster_parameters=CLUSTER_PARAMETERS,
            kms_key_arn=kms_key_arn,
            monitoring_role_arn=self.monitoring_role.arn,
            min_acu=policy.db_min_acu,
            max_acu=policy.db_max_acu,
            seconds_until_auto_pause=policy.db_seconds_until_auto_pause,
            log_group_name=names.db_log_group(region_role),
            log_retention_days=policy.log_retention_days,
            deletion_protection=policy.protect,
            prevent_destroy=policy.protect,
        )

    def _secondary_cluster(self, settings: Settings, network: NetworkOutputs, global_cluster: Any, primary: AuroraCluster) -> None:
        """The global database's second region: own key, subnets and security group; replicates everything else."""
        secondary = network.secondary
        # StagePolicy guarantees db_global_cluster implies secondary_region_network.
        assert secondary is not None, "the network stack exports no secondary-region VPC"
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

"""RDS Proxy in front of an Aurora PostgreSQL cluster, authenticating with one Secrets Manager secret.

The proxy keeps a connection open to every instance, so a cluster behind a proxy never
auto-pauses (AWS, "Situations where Aurora Serverless v2 doesn't auto-pause"): use it only
where the database runs all the time anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, aws
from modules.iam import Condition, ServiceRole, ServiceRoleProps, Statement


@dataclass(frozen=True, kw_only=True)
class DatabaseProxyProps:
    """One RDS Proxy in front of one Aurora cluster; names come in finished."""

    name: str
    """Proxy name (≤ 60 characters, letters, digits, hyphens)."""
    role_name: str
    """IAM name of the proxy's role."""
    cluster_identifier: str
    """The Aurora cluster the proxy connects to."""
    secret_arns: Mapping[str, str]
    """`{description: secret ARN}`, one auth entry (database login) each; every value is JSON
    `{"username": ..., "password": ...}`, the only shape RDS Proxy reads. The proxy accepts a client
    only as one of these users and logs in to the database as that same user (AWS, "Setting up
    database credentials in AWS Secrets Manager for RDS Proxy")."""
    kms_key_arn: str
    """Key of those secrets; the role may decrypt with it only through Secrets Manager."""
    region: str
    """Region of the secrets (`kms:ViaService`)."""
    subnet_ids: Sequence[str]
    """Private subnets of the proxy (at least two AZs)."""
    security_group_ids: Sequence[str]
    """Security groups of the proxy."""
    require_tls: bool = True
    """Clients must use TLS; the proxy always uses TLS towards Aurora when the cluster forces it."""
    idle_client_timeout_seconds: int = 1800
    """Seconds an idle client connection stays open (1-28800)."""
    max_connections_percent: int = 90
    """Of the cluster's max_connections; the rest stays free for operators and the migrator's direct use."""
    connection_borrow_timeout_seconds: int = 120
    """Seconds a client waits for a pooled connection before an error (0-3600)."""
    depends_on: Sequence[Any] = ()
    """Usually the cluster's instances: a target needs an available instance to register."""


class DatabaseProxy(Construct):
    """RDS Proxy for PostgreSQL with its role (read the credentials secrets, decrypt through
    Secrets Manager only), pool settings and the cluster as target."""

    def __init__(self, scope: Construct, construct_id: str, props: DatabaseProxyProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self.role = ServiceRole(
            self,
            "role",
            ServiceRoleProps(
                name=props.role_name,
                service="rds.amazonaws.com",
                description=f"RDS Proxy {props.name} reads its credentials secrets",
                statements=[
                    Statement(
                        sid="ReadCredentials",
                        actions=["secretsmanager:GetSecretValue"],
                        resources=list(props.secret_arns.values()),
                    ),
                    Statement(
                        sid="DecryptCredentials",
                        actions=["kms:Decrypt"],
                        resources=[props.kms_key_arn],
                        conditions=[
                            Condition(
                                test="StringEquals",
                                variable="kms:ViaService",
                                values=[f"secretsmanager.{props.region}.amazonaws.com"],
                            )
                        ],
                    ),
                ],
            ),
            provider=provider,
        )
        self.proxy = self._create_proxy(props, provider)
        self.target_group, self.target = self._create_target(props, provider)

    def _create_proxy(self, props: DatabaseProxyProps, provider: Any) -> Any:
        """The proxy: TLS from clients, one SCRAM auth entry per credentials secret, no debug logging."""
        return aws.db_proxy.DbProxy(
            self,
            "proxy",
            name=props.name,
            engine_family="POSTGRESQL",
            role_arn=self.role.arn,
            require_tls=props.require_tls,
            idle_client_timeout=props.idle_client_timeout_seconds,
            debug_logging=False,  # would log SQL text, including any secrets in statements
            vpc_subnet_ids=list(props.subnet_ids),
            vpc_security_group_ids=list(props.security_group_ids),
            auth=[
                aws.db_proxy.DbProxyAuth(
                    auth_scheme="SECRETS",
                    iam_auth="DISABLED",
                    client_password_auth_type="POSTGRES_SCRAM_SHA_256",
                    secret_arn=arn,
                    description=description,
                )
                for description, arn in props.secret_arns.items()
            ],
            provider=provider,
        )

    def _create_target(self, props: DatabaseProxyProps, provider: Any) -> tuple[Any, Any]:
        """The default target group (connection pool limits) and the cluster as its target."""
        target_group = aws.db_proxy_default_target_group.DbProxyDefaultTargetGroup(
            self,
            "target_group",
            db_proxy_name=self.proxy.name,
            connection_pool_config=aws.db_proxy_default_target_group.DbProxyDefaultTargetGroupConnectionPoolConfig(
                max_connections_percent=props.max_connections_percent,
                connection_borrow_timeout=props.connection_borrow_timeout_seconds,
            ),
            provider=provider,
        )
        target = aws.db_proxy_target.DbProxyTarget(
            self,
            "target",
            db_proxy_name=self.proxy.name,
            target_group_name=target_group.name,
            db_cluster_identifier=props.cluster_identifier,
            depends_on=list(props.depends_on),
            provider=provider,
        )
        return target_group, target

    @property
    def endpoint(self) -> str:
        """The proxy's read/write endpoint (host name)."""
        return self.proxy.endpoint

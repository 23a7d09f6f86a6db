"""The per-stage `data` stack: Aurora PostgreSQL, its KMS key, the stage secrets, the migrator."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.cdk import aws
from stacks.base import HeboStack
from stacks.network import NetworkOutputs
from stacks.secrets import SECRETS
from stacks.settings import Settings


@dataclass(frozen=True)
class DataOutputs:
    """What compute may use from the data stack (cross-stack references)."""

    kms_key_arn: str
    secret_arns: dict[str, str]
    """Keyed by the names in stacks/secrets.py."""
    db_endpoint: str = ""
    """Whichever endpoint the stage's services use: RDS Proxy or the cluster writer."""
    db_port: int | str = 5432
    db_name: str = "hebo"
    db_username: str = ""
    cluster_arn: str = ""


class DataStack(HeboStack):
    stack_name = "data"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs) -> None:
        super().__init__(scope, settings)
        key = aws.kms_key.KmsKey(self, "key", description=f"{self.names.prefix} data", enable_key_rotation=True,
                                 deletion_window_in_days=self.policy.kms_deletion_window_days)
        aws.kms_alias.KmsAlias(self, "key_alias", name=self.names.kms_alias("data"), target_key_id=key.key_id)
        secret_arns = {}
        for s in SECRETS:
            secret = aws.secretsmanager_secret.SecretsmanagerSecret(
                self, f"secret_{s.name}", name=self.names.secret(s.name), description=s.description,
                kms_key_id=key.arn, recovery_window_in_days=self.policy.secret_recovery_window_days)
            secret_arns[s.name] = secret.arn
        aws.db_subnet_group.DbSubnetGroup(self, "db_subnets", name=self.names.db_group("db-subnets"),
                                          subnet_ids=network.private_subnet_ids)
        self.outputs = DataOutputs(kms_key_arn=key.arn, secret_arns=secret_arns)

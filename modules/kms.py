"""A customer-managed KMS key with rotation, an alias, and a key policy naming its users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.iam import Condition, Statement, policy_document


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyProps:
    """One customer-managed symmetric key: its alias, deletion window and who may use it."""

    description: str
    """Shown in the KMS console: which stack and data the key encrypts."""
    alias: str
    """`alias/...`; one per key so aliases never collide when a stage is re-created."""
    deletion_window_days: int
    """7 (shortest) in previews, 30 in production."""
    prevent_destroy: bool
    """Terraform refuses any plan that schedules the key's deletion."""
    service_principals: Sequence[str] = ()
    """Services that encrypt on the account's behalf (e.g. `logs.us-east-1.amazonaws.com`)."""
    logs_region: str | None = None
    """When set, CloudWatch Logs in this region may use the key for this account's log groups."""
    extra_statements: Sequence[Statement] = ()
    """Further key-policy statements, e.g. CloudFront decrypting for one distribution (none by default)."""


@dataclass(frozen=True)
class KeyReference:
    """A key another stack owns (`arn` is a cross-stack reference); what a stack needs from a
    key it encrypts with but does not manage."""

    arn: str
    """The key's ARN."""


class EncryptionKey(Construct):
    """One KMS key per stack and region: the account administers it, named services use it."""

    def __init__(self, scope: Construct, construct_id: str, props: EncryptionKeyProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        identity = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account", provider=provider)
        partition = aws.data_aws_partition.DataAwsPartition(self, "partition", provider=provider)
        account = identity.account_id
        statements = [
            Statement(
                sid="AccountAdministers",
                actions=["kms:*"],
                resources=["*"],  # in a key policy, "*" means this key
                principals={"AWS": [f"arn:{partition.partition}:iam::{account}:root"]},
            )
        ]
        if props.service_principals:
            statements.append(
                Statement(
                    sid="ServicesEncrypt",
                    actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                    resources=["*"],
                    principals={"Service": list(props.service_principals)},
                    conditions=[Condition(test="StringEquals", variable="aws:SourceAccount", values=[account])],
                )
            )
        if props.logs_region:
            statements.append(
                Statement(
                    sid="CloudWatchLogsEncrypt",
                    actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    resources=["*"],
                    principals={"Service": [f"logs.{props.logs_region}.amazonaws.com"]},
                    conditions=[
                        Condition(
                            test="ArnLike",
                            variable="kms:EncryptionContext:aws:logs:arn",
                            values=[f"arn:{partition.partition}:logs:{props.logs_region}:{account}:log-group:*"],
                        )
                    ],
                )
            )
        statements.extend(props.extra_statements)
        document = policy_document(self, "policy", statements, provider=provider)
        self.key = aws.kms_key.KmsKey(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=document.json,
            provider=provider,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=props.prevent_destroy),
        )
        aws.kms_alias.KmsAlias(self, "alias", name=props.alias, target_key_id=self.key.key_id, provider=provider)

    @property
    def arn(self) -> str:
        """The key's ARN (key policies, resources' `kms_key_id`)."""
        return self.key.arn

    @property
    def key_id(self) -> str:
        """The key's id (UUID), for the alias."""
        return self.key.key_id

"""DNSSEC signing of a Route 53 public hosted zone with a KMS key-signing key (KSK).

Route 53 manages the zone-signing keys; we own the KSK: an asymmetric ECC_NIST_P256 KMS key in
us-east-1 (Route 53 accepts no other region) that only the Route 53 DNSSEC service of this
account may use. After apply, publish the `ds_record` at the registrar — until then resolvers
ignore the signatures; removing signing later must happen in the reverse order (DS first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.iam import Condition, Statement, policy_document


@dataclass(frozen=True, kw_only=True)
class ZoneSigningProps:
    """DNSSEC for one public hosted zone."""

    zone_id: str
    """The public hosted zone to sign."""
    key_signing_key_name: str
    """3-128 letters, digits and underscores; unique in the zone."""
    key_alias: str
    """KMS alias of the KSK key (`alias/...`)."""
    deletion_window_days: int = 30
    """Longest window: a deleted KSK key makes the whole domain fail validation."""


class ZoneSigning(Construct):
    """KMS key (us-east-1, rotation impossible for asymmetric keys) → KSK → zone signing on."""

    def __init__(self, scope: Construct, construct_id: str, props: ZoneSigningProps, us_east_1_provider: Any) -> None:
        super().__init__(scope, construct_id)
        document = self._key_policy(us_east_1_provider)
        self.key = aws.kms_key.KmsKey(
            self,
            "key",
            description="Route 53 DNSSEC key-signing key",
            customer_master_key_spec="ECC_NIST_P256",
            key_usage="SIGN_VERIFY",
            enable_key_rotation=False,  # asymmetric keys cannot rotate; roll the KSK instead
            deletion_window_in_days=props.deletion_window_days,
            policy=document.json,
            provider=us_east_1_provider,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        aws.kms_alias.KmsAlias(
            self, "alias", name=props.key_alias, target_key_id=self.key.key_id, provider=us_east_1_provider
        )
        self.key_signing_key = aws.route53_key_signing_key.Route53KeySigningKey(
            self,
            "ksk",
            hosted_zone_id=props.zone_id,
            key_management_service_arn=self.key.arn,
            name=props.key_signing_key_name,
            status="ACTIVE",
        )
        self.signing = aws.route53_hosted_zone_dnssec.Route53HostedZoneDnssec(
            self,
            "signing",
            hosted_zone_id=self.key_signing_key.hosted_zone_id,
            signing_status="SIGNING",
            depends_on=[self.key_signing_key],
        )

    def _key_policy(self, us_east_1_provider: Any) -> Any:
        """The KSK key's policy: the account administers it; only Route 53 DNSSEC of this account
        may sign with it and create grants (confused-deputy conditions)."""
        identity = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account", provider=us_east_1_provider)
        partition = aws.data_aws_partition.DataAwsPartition(self, "partition", provider=us_east_1_provider)
        account, part = identity.account_id, partition.partition
        route53 = {"Service": ["dnssec-route53.amazonaws.com"]}
        this_account = Condition(test="StringEquals", variable="aws:SourceAccount", values=[account])
        return policy_document(
            self,
            "policy",
            [
                Statement(
                    sid="AccountAdministers",
                    actions=["kms:*"],
                    resources=["*"],  # in a key policy, "*" means this key
                    principals={"AWS": [f"arn:{part}:iam::{account}:root"]},
                ),
                Statement(
                    sid="Route53DnssecSigns",
                    actions=["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
                    resources=["*"],
                    principals=route53,
                    conditions=[
                        this_account,
                        Condition(
                            test="ArnLike", variable="aws:SourceArn", values=[f"arn:{part}:route53:::hostedzone/*"]
                        ),
                    ],
                ),
                Statement(
                    sid="Route53DnssecCreatesGrants",
                    actions=["kms:CreateGrant"],
                    resources=["*"],
                    principals=route53,
                    conditions=[
                        this_account,
                        Condition(test="Bool", variable="kms:GrantIsForAWSResource", values=["true"]),
                    ],
                ),
            ],
            provider=us_east_1_provider,
        )

    @property
    def ds_record(self) -> str:
        """The DS record to publish at the registrar (completes the chain of trust)."""
        return self.key_signing_key.ds_record

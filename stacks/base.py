"""The small base every stack builds on: provider with default tags, backend, naming."""

from __future__ import annotations

from typing import Any, ClassVar

from modules.cdk import Construct, TerraformOutput, aws, pin_provider_version
from modules import account
from modules.logical_ids import LogicalIdStack
from modules.kms import EncryptionKey, EncryptionKeyProps, KeyReference
from stacks.backends import configure_backend
from config.naming import permissions_boundary_name
from config.settings import Settings

STAGE_KEY_SERVICE_PRINCIPALS = ("cloudwatch.amazonaws.com",)
"""Services that encrypt with a stage's key on the account's behalf beyond CloudWatch Logs:
CloudWatch alarms publishing to the KMS-encrypted alarm topic (compute), per
https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services."""

TERRAFORM_VERSIONS = ("1.11.0", "1.12.0")
"""Terraform releases the stacks support: from the first (inclusive) to the second (exclusive).
Write-only attributes (the database master password) need Terraform 1.11."""
TERRAFORM_REQUIRED_VERSION = f">= {TERRAFORM_VERSIONS[0]}, < {TERRAFORM_VERSIONS[1]}"
"""`terraform.required_version` of every stack (Terraform's constraint syntax)."""
TARGET_VERSIONS_CONTEXT = "targetVersions"
"""cdktn's context key (cdktn/lib/validations/target-versions.js): the Terraform releases a project
targets, as an npm semver range; cdktn refuses write-only attributes unless it excludes Terraform
< 1.11. cdktf ignores the key."""
TARGET_VERSIONS = {"terraform": f">={TERRAFORM_VERSIONS[0]} <{TERRAFORM_VERSIONS[1]}"}
MANAGED_BY = "cdktf"
DISABLE_STACK_TRACE_IN_METADATA = "@cdktf/disable_stack_trace_in_metadata"
"""cdktf's context key (cdktf/lib/annotations.js) that keeps stack traces out of annotations."""


class HeboStack(LogicalIdStack):
    """A stack of one stage (or account-wide): AWS provider, default tags, backend. A
    `LogicalIdStack` (modules/logical_ids.py), so constructs that keep their resources' first
    logical ids (the service pattern) can be built in it."""

    stack_name: ClassVar[str]
    """The stack's construct id, one of `STACKS` (config/naming.py): its directory in cdktf.out,
    its state key and Terraform Cloud workspace."""
    account_wide: ClassVar[bool] = False
    """One stack per account (`dns`), not per stage: state key and tags use `global`."""

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, self.stack_name)
        # No Node stack traces (jsii kernel temp paths) in the manifest's annotations: the
        # synthesized output must not name the machine that produced it.
        self.node.set_context(DISABLE_STACK_TRACE_IN_METADATA, True)
        self.node.set_context(TARGET_VERSIONS_CONTEXT, TARGET_VERSIONS)
        self.settings = settings
        self.policy = settings.policy
        self.names = settings.names
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        configure_backend(self, settings, self.stack_name, self.account_wide)
        self.provider = self.aws_provider("aws", settings.region)
        self._providers: dict[str, Any] = {settings.region: self.provider}

    @property
    def default_tags(self) -> dict[str, str]:
        """Tags every resource of the stack carries (provider default tags): app, stage (`global` for
        account-wide stacks), stack, managed-by. `ops bastion` finds the bastion by them."""
        return {
            "app": self.settings.app,
            "stage": self.names.state_scope(self.account_wide),
            "stack": self.stack_name,
            "managed-by": MANAGED_BY,
        }

    def aws_provider(self, construct_id: str, region: str, alias: str | None = None) -> Any:
        """An AWS provider for `region` (with `alias` for a second region), carrying the stack's default tags
        and the provider version chosen in `PROVIDER_VERSIONS` (modules/cdk_flavour.py)."""
        provider = aws.provider.AwsProvider(
            self,
            construct_id,
            region=region,
            alias=alias,
            default_tags=[aws.provider.AwsProviderDefaultTags(tags=self.default_tags)],
        )
        return pin_provider_version(provider)

    def provider_for(self, region: str) -> Any:
        """The provider of `region`: the default one, or an alias created on first use."""
        if region not in self._providers:
            alias = region.replace("-", "_")
            self._providers[region] = self.aws_provider(f"aws_{alias}", region, alias=alias)
        return self._providers[region]

    def us_east_1_provider(self) -> Any:
        """An explicit `us_east_1` alias for what AWS accepts only in us-east-1 (CloudFront
        certificates, DNSSEC signing keys), even when the default region is us-east-1 too: the
        resources then name the same provider whatever HEBO_REGION is, so changing the primary
        region never moves them."""
        if self.settings.region != "us-east-1":
            return self.provider_for("us-east-1")
        if not hasattr(self, "_us_east_1"):
            self._us_east_1 = self.aws_provider("aws_us_east_1", "us-east-1", alias="us_east_1")
        return self._us_east_1

    def hosted_zone_id(self) -> str:
        """Id of the public hosted zone HEBO_ZONE (created once per account by the `dns` stack).

        Stage stacks never reference the `dns` stack (no cdktf dependency, so
        `cdktf deploy network data compute` works as typed): they take `HEBO_ZONE_ID` when it is
        set, else one `aws_route53_zone` data source per stack finds the zone by name
        (`private_zone = false`, so a private zone of the same name is never picked).

        A missing zone stops `terraform plan` (before anything is created) with the provider's
        `Error: no matching Route 53 Hosted Zone found` on `data.aws_route53_zone.hosted_zone`:
        deploy `dns` first. A postcondition cannot word it better, because it only runs after a
        successful read, and a `check` block turns the same provider error into a warning
        without its own message (tried with hashicorp/aws 5.100.0).
        Data source: https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/route53_zone
        """
        if self.settings.zone_id:
            return self.settings.zone_id
        if not hasattr(self, "_hosted_zone"):
            self._hosted_zone = aws.data_aws_route53_zone.DataAwsRoute53Zone(
                self, "hosted_zone", name=self.settings.zone, private_zone=False
            )
        return self._hosted_zone.zone_id

    @property
    def permissions_boundary_arn(self) -> str | None:
        """The preview permissions boundary's ARN for every role of this stack, or None where the
        stage policy has none (`StagePolicy.permissions_boundary`). modules/iam.py's `ServiceRole`
        reads it from its stack, so no role can be built without it. The ARN is composed from the
        account and partition (no IAM read at plan time); `ops deploy-role` creates the policy."""
        if not self.policy.permissions_boundary:
            return None
        if not hasattr(self, "_boundary_arn"):
            # the stack's one account/partition pair (modules/account.py), shared with every other ARN
            self._boundary_arn = (
                f"arn:{account.partition(self)}:iam::{account.account_id(self)}:policy/"
                f"{permissions_boundary_name(self.settings.app)}"
            )
        return self._boundary_arn

    def output(self, name: str, value: Any, description: str, sensitive: bool = False) -> TerraformOutput:
        """A stack output with a stable name (what `cdktf output` and operators see)."""
        return TerraformOutput(self, name, value=value, description=description, sensitive=sensitive, static_id=True)

    def stage_key(
        self,
        construct_id: str,
        purpose: str,
        description: str,
        *,
        logs_region: str | None = None,
        provider: Any = None,
        shared: str | None = None,
        **extra: Any,
    ) -> EncryptionKey | KeyReference:
        """The stack's customer-managed KMS key; alias, deletion window and protection come from
        the stage policy, so every stack's key follows the same preview/production rules.

        `shared`: the ARN of the stage key the network stack owns. Where the policy asks for
        one key per stage (`shared_stage_key`), that key is returned instead of a new one; its
        policy already grants what this stack's services need (`STAGE_KEY_SERVICE_PRINCIPALS`,
        CloudWatch Logs in the primary region)."""
        if shared is not None and self.policy.shared_stage_key:
            return KeyReference(arn=shared)
        props = EncryptionKeyProps(
            description=description,
            alias=self.names.kms_alias(purpose),
            deletion_window_days=self.policy.kms_deletion_window_days,
            prevent_destroy=self.policy.protect,
            logs_region=logs_region,
            **extra,
        )
        return EncryptionKey(self, construct_id, props, provider=provider)

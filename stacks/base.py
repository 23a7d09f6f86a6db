"""The small base every stack builds on: provider with default tags, backend, naming."""

from __future__ import annotations

from typing import Any, ClassVar

from modules.cdk import Construct, TerraformOutput, TerraformStack, aws
from modules.kms import EncryptionKey, EncryptionKeyProps
from stacks.backends import configure_backend, state_scope
from config.settings import Settings

TERRAFORM_REQUIRED_VERSION = ">= 1.11.0"
"""Write-only attributes (the database master password) need Terraform 1.11."""
MANAGED_BY = "cdktf"
DISABLE_STACK_TRACE_IN_METADATA = "@cdktf/disable_stack_trace_in_metadata"
"""cdktf's context key (cdktf/lib/annotations.js) that keeps stack traces out of annotations."""


class HeboStack(TerraformStack):
    """A stack of one stage (or account-wide): AWS provider, default tags, backend."""

    stack_name: ClassVar[str]
    account_wide: ClassVar[bool] = False

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, self.stack_name)
        # No Node stack traces (jsii kernel temp paths) in the manifest's annotations: the
        # synthesized output must not name the machine that produced it.
        self.node.set_context(DISABLE_STACK_TRACE_IN_METADATA, True)
        self.settings = settings
        self.policy = settings.policy
        self.names = settings.names
        self.add_override("terraform.required_version", TERRAFORM_REQUIRED_VERSION)
        configure_backend(self, settings, self.stack_name, self.account_wide)
        self.provider = self.aws_provider("aws", settings.region)
        self._providers: dict[str, Any] = {settings.region: self.provider}

    @property
    def default_tags(self) -> dict[str, str]:
        return {
            "app": self.settings.app,
            "stage": state_scope(self.settings, self.account_wide),
            "stack": self.stack_name,
            "managed-by": MANAGED_BY,
        }

    def aws_provider(self, construct_id: str, region: str, alias: str | None = None) -> Any:
        return aws.provider.AwsProvider(
            self,
            construct_id,
            region=region,
            alias=alias,
            default_tags=[aws.provider.AwsProviderDefaultTags(tags=self.default_tags)],
        )

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
        **extra: Any,
    ) -> EncryptionKey:
        """The stack's customer-managed KMS key; alias, deletion window and protection come from
        the stage policy, so every stack's key follows the same preview/production rules."""
        props = EncryptionKeyProps(
            description=description,
            alias=self.names.kms_alias(purpose),
            deletion_window_days=self.policy.kms_deletion_window_days,
            prevent_destroy=self.policy.protect,
            logs_region=logs_region,
            **extra,
        )
        return EncryptionKey(self, construct_id, props, provider=provider)

"""Secrets Manager containers: Terraform owns the secret, never its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, TerraformResourceLifecycle, aws



@dataclass(frozen=True, kw_only=True)
class SecretContainerProps:
    name: str
    description: str
    kms_key_arn: str
    """Customer-managed key; readers need kms:Decrypt on it as well as GetSecretValue."""
    recovery_window_days: int
    """0 deletes at once (a re-created stage can reuse the name); 7-30 keeps it restorable."""
    prevent_destroy: bool


def secret_container(scope: Construct, construct_id: str, props: SecretContainerProps, provider: Any = None) -> Any:
    """An empty secret. Values are written out of band, so they never reach Terraform state;
    this module deliberately has no way to create an `aws_secretsmanager_secret_version`."""
    return aws.secretsmanager_secret.SecretsmanagerSecret(
        scope,
        construct_id,
        name=props.name,
        description=props.description,
        kms_key_id=props.kms_key_arn,
        recovery_window_in_days=props.recovery_window_days,
        provider=provider,
        lifecycle=TerraformResourceLifecycle(prevent_destroy=props.prevent_destroy),
    )

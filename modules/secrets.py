"""Secrets Manager containers: Terraform owns the secret, never its value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, TerraformResourceLifecycle, aws, cdktf


@dataclass(frozen=True, kw_only=True)
class SecretContainerProps:
    """One Secrets Manager secret without a value (the value is written out of band)."""

    name: str
    """Secret name (≤ 512 characters; `/` separates the path, e.g. `hebo/dev/StackSecretServerKey`)."""
    description: str
    """Shown in the Secrets Manager console: what the value is and who reads it."""
    kms_key_arn: str
    """Customer-managed key; readers need kms:Decrypt on it as well as GetSecretValue."""
    recovery_window_days: int
    """0 deletes at once (a re-created stage can reuse the name); 7-30 keeps it restorable."""
    prevent_destroy: bool
    """Terraform refuses any plan that deletes the secret."""


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


def existing_secret(scope: Construct, construct_id: str, name: str, provider: Any = None) -> Any:
    """Another stage's secret, found by its name at plan time (`aws_secretsmanager_secret` data
    source): `.arn` for ECS `valueFrom` and IAM, `.kms_key_id` for the key it is encrypted with.
    A missing secret fails the plan with the provider's error, never the apply. Metadata only: no
    value is read.

    `.kms_key_id` is what DescribeSecret returns: the key as the secret was created with it (the
    template stage's data stack gives its key's ARN), a bare key id for a secret created in the
    console, nothing for one on the AWS managed key
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html). IAM
    refuses a policy whose `Resource` is not an ARN or `*` (`MalformedPolicyDocument`), so a
    postcondition fails the *plan* with the secret's name unless it is a key ARN — never the
    execution role's policy halfway through an apply."""
    return aws.data_aws_secretsmanager_secret.DataAwsSecretsmanagerSecret(
        scope,
        construct_id,
        name=name,
        provider=provider,
        lifecycle=TerraformResourceLifecycle(
            postcondition=[
                cdktf.Postcondition(
                    condition='${can(regex("^arn:", self.kms_key_id))}',
                    error_message=(
                        f"secret {name} must be encrypted with a customer managed KMS key named by its ARN "
                        "(as the template stage's data stack creates it), so that the preview's execution "
                        "roles can be granted kms:Decrypt on it; it reports another key id or none"
                    ),
                )
            ]
        ),
    )

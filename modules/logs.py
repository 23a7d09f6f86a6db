"""CloudWatch log groups: always a retention and a customer-managed key."""

from __future__ import annotations

from typing import Any

from modules.cdk import Construct, aws


def log_group(
    scope: Construct, construct_id: str, *, name: str, retention_days: int, kms_key_arn: str, provider: Any = None
) -> Any:
    """A KMS-encrypted log group. Terraform owns the name, so re-creating a stage reuses it cleanly."""
    return aws.cloudwatch_log_group.CloudwatchLogGroup(
        scope,
        construct_id,
        name=name,
        retention_in_days=retention_days,
        kms_key_id=kms_key_arn,
        provider=provider,
    )

"""The account and partition a stack deploys into, as Terraform references.

Each stack reads them from one `aws_caller_identity` (id `account`) and one `aws_partition` (id
`partition`) data source. A construct that needs them asks here instead of taking them as props:
the first caller creates the two data sources in its stack, every later one (in any construct of
that stack) gets the same ones, so a stack never holds two of either.
"""

from __future__ import annotations

from typing import Any

from modules.cdk import Construct, TerraformStack, aws

ACCOUNT_ID = "account"
"""Construct id of the stack's `aws_caller_identity` data source (its logical id in the JSON)."""
PARTITION_ID = "partition"
"""Construct id of the stack's `aws_partition` data source (its logical id in the JSON)."""


def _stack_singleton(scope: Construct, construct_id: str, kind: Any) -> Any:
    """The `kind` data source with `construct_id` directly under `scope`'s stack, created on first use.

    Raises TypeError when the stack has something else under that id."""
    stack = TerraformStack.of(scope)
    existing = stack.node.try_find_child(construct_id)
    if existing is None:
        return kind(stack, construct_id)
    if not isinstance(existing, kind):
        raise TypeError(f"{stack.node.id}: construct id {construct_id!r} is taken by a {type(existing).__name__}")
    return existing


def account_id(scope: Construct) -> str:
    """The 12-digit id of the account `scope`'s stack deploys into (a token resolved at plan)."""
    return _stack_singleton(scope, ACCOUNT_ID, aws.data_aws_caller_identity.DataAwsCallerIdentity).account_id


def partition(scope: Construct) -> str:
    """The partition (`aws`, `aws-cn`, `aws-us-gov`) of `scope`'s stack, for ARNs (a token)."""
    return _stack_singleton(scope, PARTITION_ID, aws.data_aws_partition.DataAwsPartition).partition

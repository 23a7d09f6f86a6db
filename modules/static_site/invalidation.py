"""Invalidate a CloudFront distribution when content changes (Terraform has no such resource).

A `terraform_data` resource is replaced whenever `triggers` change; its create-time
`local-exec` provisioner runs `aws cloudfront create-invalidation`. Needs the AWS CLI v2 on the
machine running `terraform apply`, with the same credentials (cloudfront:CreateInvalidation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, cdktf


COMMAND = 'aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION_ID" --paths "$INVALIDATION_PATH" --output text --query Invalidation.Id'
"""Values come in through the environment, never spliced into the shell text."""


@dataclass(frozen=True, kw_only=True)
class InvalidationProps:
    """One CloudFront invalidation, re-run whenever `triggers` change."""

    distribution_id: str
    """The distribution to invalidate."""
    triggers: Mapping[str, str]
    """Any change of these values replaces the resource and so re-runs the invalidation."""
    path: str = "/*"
    """One path pattern; `/*` counts as a single path (the first 1,000 paths a month are free)."""
    depends_on: Sequence[Any] = ()
    """The uploads: invalidate only after the new objects are in place."""


class Invalidation(Construct):
    """A `terraform_data` whose local-exec runs `aws cloudfront create-invalidation` when it is
    (re)created; the AWS provider has no invalidation resource."""

    def __init__(self, scope: Construct, construct_id: str, props: InvalidationProps) -> None:
        super().__init__(scope, construct_id)
        self.resource = cdktf.TerraformResource(
            self,
            "invalidation",
            terraform_resource_type="terraform_data",
            depends_on=list(props.depends_on),
            provisioners=[
                cdktf.LocalExecProvisioner(
                    type="local-exec",
                    command=COMMAND,
                    environment={"DISTRIBUTION_ID": props.distribution_id, "INVALIDATION_PATH": props.path},
                )
            ],
        )
        self.resource.add_override("triggers_replace", dict(props.triggers))

"""`terraform validate` of every stack with the real AWS provider: production (DNSSEC on), a
preview and dev, in prebuilt-image mode; build-image mode when the docker provider is available.

The provider comes from the registry (pinned version) or a filesystem mirror, possibly another
version than the pin: the terminal summary says which (tools/terraform_check.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest

from config.naming import STACKS
from tools.terraform_check import STAGE_VARIANTS, Terraform, Workspace, validate_stack


VALIDATE_WORKERS = 2
"""Stacks validated at once: each `validate` is one CPU-bound provider schema load; two in
parallel measured faster than one at a time on the 2-core CI machine (see docs/terraform-checks.md)."""


def _validate_all(terraform: Terraform, workspace: Workspace) -> tuple[list[str], list[str]]:
    stacks = workspace.stacks()
    with ThreadPoolExecutor(max_workers=VALIDATE_WORKERS if terraform.parallel_safe else 1) as pool:
        results = list(pool.map(lambda stack: validate_stack(terraform, workspace, stack), stacks))
    errors = [str(d) for found in results for d in found if d.severity == "error"]
    return errors, stacks


@pytest.mark.slow
@pytest.mark.parametrize("stage", sorted(STAGE_VARIANTS))
def test_every_stack_validates(stage: str, tf_variant: Callable[..., Workspace], terraform_for, tf_report) -> None:
    workspace = tf_variant(stage, "prebuilt")
    terraform, choices = terraform_for(workspace)
    assert choices["aws"] is not None, (
        "no source for hashicorp/aws: no filesystem mirror holds it and the registry is unreachable"
    )
    started = time.monotonic()
    errors, checked = _validate_all(terraform, workspace)
    tf_report(f"validate {stage} (prebuilt images): {len(checked)} stacks in {time.monotonic() - started:.0f} s")
    assert checked == list(STACKS)
    assert errors == [], "\n".join(errors)


def test_production_variant_signs_the_zone(tf_variant: Callable[..., Workspace]) -> None:
    """The validated production variant is the one with DNSSEC, so its resources are checked too."""
    dns = tf_variant("production", "prebuilt").stack_json("dns")
    assert len(dns["resource"]["aws_route53_key_signing_key"]) == 1
    assert len(dns["resource"]["aws_route53_hosted_zone_dnssec"]) == 1


@pytest.mark.slow
def test_build_image_mode_validates(tf_variant: Callable[..., Workspace], terraform_for, tf_report) -> None:
    """Build mode needs kreuzwerker/docker; without a source for it this is a named skip."""
    workspace = tf_variant("pr-42", "build")
    terraform, choices = terraform_for(workspace)
    missing = [name for name, choice in choices.items() if choice is None]
    if missing:
        tf_report(
            f"build-image mode NOT validated: no source for {', '.join(missing)} (not in any mirror, registry unreachable)"
        )
        pytest.skip(
            f"build-image mode not validated: provider(s) {', '.join(missing)} in no filesystem mirror and the registry is unreachable"
        )
    errors, checked = _validate_all(terraform, workspace)
    assert checked == list(STACKS)
    assert errors == [], "\n".join(errors)


def test_diagnostics_name_stack_address_and_message() -> None:
    """The failure text of the gate, from a real `validate -json` diagnostic shape."""
    from tools.terraform_check import diagnostics

    found = diagnostics(
        "network",
        {
            "diagnostics": [
                {
                    "severity": "error",
                    "summary": "Missing required argument",
                    "detail": 'The argument "vpc_id" is required, but no definition was found.',
                    "range": {"filename": "cdk.tf.json", "start": {"line": 988}},
                    "snippet": {"context": "resource.aws_subnet.main_public_0"},
                }
            ]
        },
    )
    assert [str(d) for d in found] == [
        'network: error at resource.aws_subnet.main_public_0: Missing required argument The argument "vpc_id" is required, but no definition was found.'
    ]

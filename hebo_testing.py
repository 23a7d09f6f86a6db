"""Build the Hebo app, or one of its stacks, for your own `Testing` assertions, on either CDK
flavour (cdktf or cdktn, `HEBO_CDK`):

    >>> from hebo_testing import Testing, build_stack
    >>> synthesized = Testing.synth(build_stack("compute", stage="pr-42"))
    >>> Testing.to_have_resource_with_properties(synthesized, "aws_lb", {"ip_address_type": "dualstack"})
    True

`Testing` is the active flavour's class (`cdktf.Testing` or `cdktn.Testing`, the same matchers),
and this import configures the jsii kernel before any jsii package loads, so synth stays fast.
(`from cdktf import Testing` still works on the cdktf flavour, ~10 s slower with a
`JsiiKernelAlreadyRunning` warning, and fails on cdktn.) README.md, "Writing your own
assertions", has a complete pytest example, which the test suite runs.
"""

from __future__ import annotations

from typing import Any, Mapping

from modules.cdk import Testing  # first: configures the jsii kernel before any other jsii import
from config.settings import Settings
from main import Platform, build_app

STACK_NAMES = ("dns", "network", "data", "compute", "edge")
"""The five stacks of every stage, in deploy order."""


def build_platform(stage: str = "dev", env: Mapping[str, str] | None = None) -> Platform:
    """All five stacks of `stage`, synthesized into a fresh `cdktf.Testing.app()`.

    `stage`: `production`, `dev` or a preview name such as `pr-42` (the value of HEBO_STAGE).
    `env`: further settings by their variable name, e.g. `{"HEBO_BACKEND": "local"}`; the
    process environment is *not* read, so a developer's HEBO_* variables never change a test.
    Returns a `Platform` (`.app`, `.stacks` by name). The app is synthesized once (into the
    temporary directory `Testing.app()` picks), so `Testing.synth(stack)` then shows each stack
    exactly as deployed, cross-stack references resolved to `terraform_remote_state` outputs.
    Raises `config.stage.ConfigError` for a bad stage or setting (the message names it).
    """
    settings = Settings.load({**(env or {}), "HEBO_STAGE": stage}, {})
    platform = build_app(settings, app=Testing.app())
    platform.app.synth()
    return platform


def build_stack(stack: str, stage: str = "dev", env: Mapping[str, str] | None = None) -> Any:
    """One stack (`dns`, `network`, `data`, `compute` or `edge`) of `build_platform(stage, env)`:
    a `cdktf.TerraformStack`, ready for `Testing.synth(...)`.

    Raises `ValueError` for another stack name, `ConfigError` as `build_platform`.
    """
    if stack not in STACK_NAMES:
        raise ValueError(f"unknown stack {stack!r}: expected one of {', '.join(STACK_NAMES)}")
    return build_platform(stage, env).stacks[stack]


__all__ = ["STACK_NAMES", "Testing", "build_platform", "build_stack"]

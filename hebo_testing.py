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
from config.naming import STACKS
from config.settings import Settings
from main import Platform, build_app

STACK_NAMES = STACKS
"""The five stacks of every stage, in deploy order (`config.naming.STACKS`)."""


def build_platform(
    stage: str = "dev", env: Mapping[str, str] | None = None, context: Mapping[str, Any] | None = None
) -> Platform:
    """All five stacks of `stage`, synthesized into a fresh `cdktf.Testing.app()`.

    Settings come from the resolver main.py and `ops` use (`Settings.load`), fed only what is passed:
    `stage`: `production`, `dev` or a preview name such as `pr-42` (the value of HEBO_STAGE).
    `env`: further settings by their variable name, e.g. `{"HEBO_BACKEND": "local"}`; the
    process environment is *not* read, so a developer's HEBO_* variables never change a test.
    `context`: cdktf.json-style context, e.g. `{"app": "acme"}` (below `env`); default none, so
    the project's cdktf.json does not change a test either (`config.settings.project_context`
    reads one).
    Returns a `Platform` (`.app`, `.stacks` by name). The app is synthesized once (into the
    temporary directory `Testing.app()` picks), so `Testing.synth(stack)` then shows each stack
    exactly as deployed, cross-stack references resolved to `terraform_remote_state` outputs.
    Raises `config.stage.ConfigError` for a bad stage or setting (the message names it).
    """
    settings = Settings.load({**(env or {}), "HEBO_STAGE": stage}, dict(context or {}))
    platform = build_app(settings, app=Testing.app())
    platform.app.synth()
    return platform


def build_stack(
    stack: str, stage: str = "dev", env: Mapping[str, str] | None = None, context: Mapping[str, Any] | None = None
) -> Any:
    """One stack (`dns`, `network`, `data`, `compute` or `edge`) of `build_platform(stage, env)`:
    a `cdktf.TerraformStack`, ready for `Testing.synth(...)`.

    Raises `ValueError` for another stack name, `ConfigError` as `build_platform`.
    """
    if stack not in STACK_NAMES:
        raise ValueError(f"unknown stack {stack!r}: expected one of {', '.join(STACK_NAMES)}")
    return build_platform(stage, env, context).stacks[stack]


def provider_types(kind: str = "resource") -> frozenset[str]:
    """Every Terraform type the app's prebuilt providers define (`kind`: "resource" or "data"),
    read from the installed provider packages' submodule names (`cdktf_cdktf_provider_aws/lb` is
    `aws_lb`, `…/data_aws_route53_zone` the data source `aws_route53_zone`; the docker
    provider's `image` is `docker_image`), plus Terraform's built-in `terraform_data`.
    Raises `ValueError` for another `kind`."""
    import importlib.util
    from pathlib import Path

    from modules.cdk import AWS_PACKAGE, DOCKER_PACKAGE

    if kind not in ("resource", "data"):
        raise ValueError(f"kind must be 'resource' or 'data', not {kind!r}")
    found: set[str] = {"terraform_data"} if kind == "resource" else set()
    for package, prefix in ((AWS_PACKAGE, "aws"), (DOCKER_PACKAGE, "docker")):
        spec = importlib.util.find_spec(package)
        for directory in Path(next(iter(spec.submodule_search_locations or []))).iterdir() if spec else []:
            name = directory.name
            if not directory.is_dir() or name.startswith("_"):
                continue
            if name.startswith(f"data_{prefix}_"):
                if kind == "data":
                    found.add(name.removeprefix("data_"))
            elif kind == "resource" and name != "provider":
                found.add(f"{prefix}_{name}")
    return frozenset(found)


def lacks_resource_with_properties(
    synthesized: str, resource_type: str, properties: Mapping[str, Any], kind: str = "resource"
) -> bool:
    """True when no `resource_type` resource (or data source, `kind="data"`) of the synthesized
    stack matches `properties` the way `Testing.to_have_resource_with_properties` matches.

    Use it instead of `not Testing.to_have_resource_with_properties(...)`, which is also true
    for a misspelled type (`"aws_rds_clustr"`) and so checks nothing: this raises `ValueError`
    naming the closest known types when the providers have no such type. A known type the stack
    does not contain at all still returns True (nothing matches).
    """
    import difflib

    known = provider_types(kind)
    if resource_type not in known:
        close = difflib.get_close_matches(resource_type, sorted(known), n=3)
        raise ValueError(
            f"unknown {kind} type {resource_type!r}"
            + (f": did you mean {', '.join(map(repr, close))}?" if close else "")
        )
    matcher = (
        Testing.to_have_data_source_with_properties if kind == "data" else Testing.to_have_resource_with_properties
    )
    return not matcher(synthesized, resource_type, dict(properties))


__all__ = [
    "STACK_NAMES",
    "Testing",
    "build_platform",
    "build_stack",
    "lacks_resource_with_properties",
    "provider_types",
]

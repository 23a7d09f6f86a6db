"""Which CDK binding the app runs on: `HEBO_CDK` (`cdktf`, the default, or `cdktn`).

No jsii import here, so `main.py`, `bench/`, `tools/` and the tests can name the flavour's
packages, the chosen provider versions (`PROVIDER_VERSIONS`), or report a bad `HEBO_CDK`, without
starting the jsii kernel; modules/cdk.py imports the packages and applies the pins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Flavour:
    """One CDK binding: the Python packages of its core and of the two prebuilt providers, where
    `make` installs it (paths relative to the repository root) and its CLI's executable."""

    name: str
    """The `HEBO_CDK` value: `cdktf` or `cdktn`."""
    core: str
    """The core package (`cdktf`, `cdktn`): App, TerraformStack, Testing, ..."""
    aws: str
    """The prebuilt AWS provider package, e.g. `cdktn_provider_aws`."""
    docker: str
    """The prebuilt docker provider package, e.g. `cdktn_provider_docker`."""
    venv: str
    """The flavour's virtualenv (`make setup` builds it from the flavour's Pipfile.lock)."""
    node_dir: str
    """The directory whose package.json/package-lock.json hold the flavour's CLI."""
    cli: str
    """The CLI executable (`npx <cli> synth`)."""


FLAVOURS = {
    "cdktf": Flavour(
        "cdktf",
        core="cdktf",
        aws="cdktf_cdktf_provider_aws",
        docker="cdktf_cdktf_provider_docker",
        venv=".venv",
        node_dir=".",
        cli="cdktf",
    ),
    "cdktn": Flavour(
        "cdktn",
        core="cdktn",
        aws="cdktn_provider_aws",
        docker="cdktn_provider_docker",
        venv="flavours/cdktn/.venv",
        node_dir="flavours/cdktn",
        cli="cdktn",
    ),
}
"""`HEBO_CDK` value -> binding. cdktf: cdktf 0.21.0 + cdktf-cdktf-provider-aws 21.22.1 (generated
for AWS provider 6.25.0) + cdktf-cdktf-provider-docker 12.0.3 (docker 3.6.2). cdktn: cdktn 0.24.0
+ cdktn-provider-aws 25.8.1 (AWS 6.69.1) + cdktn-provider-docker 16.1.0 (docker 4.6.0)."""
DEFAULT_FLAVOUR = "cdktf"

PROVIDER_VERSIONS = {"aws": "6.25.0", "docker": "3.6.2"}
"""The exact provider versions every stack pins (`terraform.required_providers.<name>.version`),
whichever binding synthesizes it. Both flavours pin the versions the cdktf bindings were generated
for, so switching the binding moves no provider (state stays readable by either flavour, and a
rollback is a re-synth): the newer bindings (AWS 6.69.1, docker 4.6.0) only emit the arguments the
code sets, all of which these versions accept (tests/terraform validates the cdktn output). Raising
a version is its own reviewed change: a state written by a newer AWS provider may not be readable
by an older one (docs/cdk-terrain.md, "Provider upgrade")."""


class CdkFlavourError(ImportError):
    """`HEBO_CDK` names no flavour, or its packages are not installed in this Python."""


def flavour_name(env: Mapping[str, str] = os.environ) -> str:
    """The `HEBO_CDK` value: `cdktf` (default, also when empty) or `cdktn`.

    Raises `CdkFlavourError` for anything else (one line: the setting, the value, what is allowed).
    """
    name = env.get("HEBO_CDK", "") or DEFAULT_FLAVOUR
    if name not in FLAVOURS:
        raise CdkFlavourError(
            f"HEBO_CDK={name!r} is not a CDK flavour: use one of {', '.join(FLAVOURS)} (default {DEFAULT_FLAVOUR})"
        )
    return name


SETTING_PREFIXES = ("HEBO_", "CDKTF_")
"""Environment variables that configure the app (its settings, the cdktf CLI's hand-over)."""


def without_settings(env: Mapping[str, str], also: tuple[str, ...] = ()) -> dict[str, str]:
    """A copy of `env` without the app's settings (`SETTING_PREFIXES`, plus the prefixes in `also`),
    for a child process that must not read a developer's settings. `HEBO_CDK` stays: it is no
    setting of the app but names the packages the child's Python has installed (without it a
    child of a cdktn run would look for cdktf and stop with `CdkFlavourError`)."""
    prefixes = SETTING_PREFIXES + also
    return {k: v for k, v in env.items() if k == "HEBO_CDK" or not k.startswith(prefixes)}

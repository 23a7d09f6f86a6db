#!/usr/bin/env python
"""Synthesize the Hebo platform's five stacks for one stage into cdktf.out/.

The stage and every other setting come from HEBO_* environment variables or cdktf.json's
context (`Settings.load`, config/settings.py: the resolver `ops` uses too). Bad input stops here, before any construct is built,
with a one-line error and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from config.naming import STACKS
from config.settings import Settings
from hcl_output import complete_hcl_stacks, remove_other_format
from modules.cdk_flavour import CdkFlavourError


@dataclass(frozen=True)
class Platform:
    """The built app: the cdktf `App` (`app`) and its five stacks by name (`stacks`, in the
    order of `config.naming.STACKS`)."""

    app: Any
    stacks: dict[str, Any]


def build_app(settings: Settings, outdir: str | None = None, app: Any = None) -> Platform:
    """Build all five stacks into `app` (default: a new `App`, writing to `outdir` if given), with
    the explicit dependencies `network → data → compute` and `data → edge` (README, "What it deploys").

    No stage stack depends on the account-wide `dns` stack (they look the zone up by name, see
    `HeboStack.hosted_zone_id`), so `cdktf deploy network data compute` needs no extra flags.
    """
    from modules.cdk import App
    from stacks.compute import ComputeStack
    from stacks.data import DataStack
    from stacks.dns import DnsStack
    from stacks.edge import EdgeStack
    from stacks.network import NetworkStack

    if app is None:
        app = App(outdir=outdir) if outdir else App()
    dns = DnsStack(app, settings)
    network = NetworkStack(app, settings)
    data = DataStack(app, settings, network=network.outputs)
    compute = ComputeStack(app, settings, network=network.outputs, data=data.outputs)
    edge = EdgeStack(app, settings)
    # Declared as well as implied by references, so the deploy order holds even while a stack
    # happens not to read a value from its upstream.
    data.add_dependency(network)
    for upstream in (network, data):
        compute.add_dependency(upstream)
    # The console's runtime config reads the publishable secrets, whose containers `data` creates.
    edge.add_dependency(data)
    stacks = {s.stack_name: s for s in (dns, network, data, compute, edge)}
    if tuple(stacks) != STACKS:  # the one list of stacks (state keys, tools, hebo_testing) must be this app's
        raise RuntimeError(f"main.py builds {tuple(stacks)}, config.naming.STACKS says {STACKS}")
    return Platform(app=app, stacks=stacks)


CDKTF_CLI_MARKER = "CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS"
"""Set only by the cdktf CLI when it runs the app (cli-core `synth-stack.js`)."""


def warning_lines(manifest_path: Path) -> list[str]:
    """`warning: <stack>: <message>` for each warning annotation in the synthesized manifest."""
    manifest = json.loads(manifest_path.read_text())
    return [
        f"warning: {name}: {annotation['message']}"
        for name, stack in manifest["stacks"].items()
        for annotation in stack.get("annotations", [])
        if annotation.get("level") in ("@cdktf/warn", "warn")
    ]


def main() -> int:
    """Synthesize the stage the settings name into cdktf.out/; exit code 0, or 2 with one line on stderr for bad input."""
    try:
        settings = Settings.load()  # HEBO_* over cdktf.json context over defaults (config/settings.py)
        if os.environ.get("CDKTF_OUTDIR"):  # cdktf creates only the last path component
            Path(os.environ["CDKTF_OUTDIR"]).parent.mkdir(parents=True, exist_ok=True)
        platform = build_app(settings)
    except (ConfigError, CdkFlavourError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    platform.app.synth()
    from modules.terraform_data import pin_working_data

    outdir = Path(platform.app.outdir)
    notes = []
    if platform.app.hcl_output:  # `cdktf synth --hcl` (SYNTH_HCL_OUTPUT=true)
        notes.append(complete_hcl_stacks(outdir, platform.stacks))
    remove_other_format(outdir, platform.stacks, hcl=platform.app.hcl_output)
    pin_working_data(outdir, platform.stacks)  # one `.terraform` per backend: stages share a checkout
    # Informational output goes to stdout: the cdktf CLI shows an app's stderr as errors.
    if not os.environ.get(CDKTF_CLI_MARKER):  # the CLI prints the annotations itself ("WARN [edge]: ...")
        for line in warning_lines(outdir / "manifest.json"):
            print(line)
    for note in filter(None, notes):
        print(note)
    print(f"synthesized stage {settings.stage!r}: {', '.join(platform.stacks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Synthesize the Hebo platform's five stacks for one stage into cdktf.out/.

The stage and every other setting come from HEBO_* environment variables or the cdktf
context (see `config/settings.py`). Bad input stops here, before any construct is built,
with a one-line error and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from config.stage import ConfigError
from config.settings import Settings
from modules.cdk_flavour import CdkFlavourError


@dataclass(frozen=True)
class Platform:
    app: Any
    stacks: dict[str, Any]


def build_app(settings: Settings, outdir: str | None = None, app: Any = None) -> Platform:
    """Build all five stacks into `app` (default: a new `App`, writing to `outdir` if given); the
    explicit dependencies mirror design.md §1.

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
    return Platform(app=app, stacks={s.stack_name: s for s in (dns, network, data, compute, edge)})


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


def cli_context(env: Mapping[str, str]) -> dict[str, Any]:
    """The cdktf CLI passes cdktf.json's `context` as CDKTF_CONTEXT_JSON."""
    raw = env.get("CDKTF_CONTEXT_JSON")
    if not raw:
        return {}
    try:
        context = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"CDKTF_CONTEXT_JSON is not valid JSON: {error}") from None
    return context if isinstance(context, dict) else {}


def main() -> int:
    try:
        settings = Settings.load(os.environ, cli_context(os.environ))
        if os.environ.get("CDKTF_OUTDIR"):  # cdktf creates only the last path component
            Path(os.environ["CDKTF_OUTDIR"]).parent.mkdir(parents=True, exist_ok=True)
        platform = build_app(settings)
    except (ConfigError, CdkFlavourError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    platform.app.synth()
    from modules.hcl_output import complete_hcl_stacks, remove_other_format

    outdir = Path(platform.app.outdir)
    if platform.app.hcl_output:  # `cdktf synth --hcl` (SYNTH_HCL_OUTPUT=true)
        complete_hcl_stacks(outdir, platform.stacks)
    remove_other_format(outdir, platform.stacks, hcl=platform.app.hcl_output)
    # Informational output goes to stdout: the cdktf CLI shows an app's stderr as errors.
    if not os.environ.get(CDKTF_CLI_MARKER):  # the CLI prints the annotations itself ("WARN [edge]: ...")
        for line in warning_lines(outdir / "manifest.json"):
            print(line)
    print(f"synthesized stage {settings.stage!r}: {', '.join(platform.stacks)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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


@dataclass(frozen=True)
class Platform:
    app: Any
    stacks: dict[str, Any]


def build_app(settings: Settings, outdir: str | None = None) -> Platform:
    """Build all five stacks; the explicit dependencies mirror design.md §1."""
    from modules.cdk import App
    from stacks.compute import ComputeStack
    from stacks.data import DataStack
    from stacks.dns import DnsStack
    from stacks.edge import EdgeStack
    from stacks.network import NetworkStack

    app = App(outdir=outdir) if outdir else App()
    dns = DnsStack(app, settings)
    network = NetworkStack(app, settings)
    data = DataStack(app, settings, network=network.outputs)
    compute = ComputeStack(app, settings, network=network.outputs, data=data.outputs, dns=dns.outputs)
    edge = EdgeStack(app, settings, dns=dns.outputs)
    # Declared as well as implied by references, so the deploy order holds even while a stack
    # happens not to read a value from its upstream.
    data.add_dependency(network)
    for upstream in (network, data, dns):
        compute.add_dependency(upstream)
    edge.add_dependency(dns)
    # The console's runtime config reads the publishable secrets, whose containers `data` creates.
    edge.add_dependency(data)
    return Platform(app=app, stacks={s.stack_name: s for s in (dns, network, data, compute, edge)})


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
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    platform.app.synth()
    print(f"synthesized stage {settings.stage!r}: {', '.join(platform.stacks)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Paths to local files in the synthesized JSON: relative to the stack directory.

Terraform runs in `<outdir>/stacks/<stack>` (cdktf's layout, the manifest's
`workingDirectory`), so a path relative to that directory stays valid when the checkout moves
to another machine or CI workspace, while an absolute one names the machine that ran synth.
cdktf's own assets (`TerraformAsset.path`) are relative the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

from modules.cdk import App, Construct, TerraformStack


def stack_directory(scope: Construct) -> Path:
    """Absolute directory Terraform runs in for the stack that contains `scope`."""
    stack = TerraformStack.of(scope)
    return Path(App.of(scope).outdir).resolve() / "stacks" / stack.node.id


def stack_relative(scope: Construct, path: Path) -> str:
    """`path` (absolute or relative to the working directory) relative to the stack directory,
    POSIX-style, e.g. `../../../docker/example-app`."""
    return Path(os.path.relpath(Path(path).resolve(), stack_directory(scope))).as_posix()

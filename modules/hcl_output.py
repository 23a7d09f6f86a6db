"""Complete what cdktf 0.21's HCL renderer (`cdktf synth --hcl`) leaves out of `cdk.tf`.

`cdktf/lib/hcl/render.js` (the final release, so it will not be fixed upstream) has two gaps
this app meets; the JSON output has neither:

* `renderTerraform` prints the `terraform` block's plain arguments as their list index
  (`0 = "required_version"`), which Terraform refuses to parse.
* `TerraformStack.toHclTerraform` keeps only the `terraform` key of stack-level overrides, so
  top-level blocks that exist only as overrides are dropped silently; here that is the
  `ephemeral "aws_ecr_authorization_token"` block (cdktf has no class for ephemeral blocks).

Constructs avoid the renderer's other limits themselves (no null and no multi-line string inside a
map; see `modules/static_site/content.py`). `tests/unit/test_hcl.py` compares every block and
argument of the HCL output with the JSON output for every stage, so a new gap fails the tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

_BROKEN_TERRAFORM_ARGUMENT = re.compile(r'^[ \t]*\d+ = "([a-z_]+)"[ \t]*$', re.M)
_REFERENCE_ARGUMENTS = frozenset({"provider"})
"""Arguments whose JSON string is a reference in HCL (`provider = aws.us_east_1`)."""


def _value(name: str, value: Any) -> str:
    if name in _REFERENCE_ARGUMENTS and isinstance(value, str):
        return value
    return json.dumps(value)  # JSON literals are valid HCL expressions


def _block(header: str, body: Mapping[str, Any]) -> str:
    lines = [f"{name} = {_value(name, value)}" for name, value in body.items() if name != "//"]
    return "\n".join([f"{header} {{", *lines, "}"])


def complete_hcl(hcl: str, terraform_json: Mapping[str, Any]) -> str:
    """`hcl` (one stack's `cdk.tf`) with the gaps above filled from the same stack's JSON form
    (`TerraformStack.to_terraform()`). Raises `ValueError` if an override block has a shape this
    function cannot print (a nested block), so a gap never passes silently."""
    terraform = terraform_json.get("terraform", {})

    def argument(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name} = {_value(name, terraform[name])}"

    hcl = _BROKEN_TERRAFORM_ARGUMENT.sub(argument, hcl)
    extra = []
    for block_type, blocks in terraform_json.get("ephemeral", {}).items():
        for name, body in blocks.items():
            if any(isinstance(v, dict) for v in body.values()):
                raise ValueError(f"ephemeral.{block_type}.{name}: nested blocks are not supported in HCL output")
            extra.append(_block(f'ephemeral "{block_type}" "{name}"', body))
    return hcl if not extra else hcl.rstrip("\n") + "\n\n" + "\n\n".join(extra) + "\n"


def complete_hcl_stacks(outdir: Path, stacks: Mapping[str, Any]) -> None:
    """Rewrite `outdir/stacks/<name>/cdk.tf` of every stack in `stacks` ({name: TerraformStack})
    after an HCL synth."""
    for name, stack in stacks.items():
        path = outdir / "stacks" / name / "cdk.tf"
        path.write_text(complete_hcl(path.read_text(), stack.to_terraform()))


def remove_other_format(outdir: Path, stack_names: Iterable[str], hcl: bool) -> None:
    """Delete `cdk.tf.json` after an HCL synth and `cdk.tf` after a JSON one. cdktf leaves the
    other format's file of an earlier synth in place, and Terraform would load both (every
    block defined twice)."""
    stale = "cdk.tf.json" if hcl else "cdk.tf"
    for name in stack_names:
        (outdir / "stacks" / name / stale).unlink(missing_ok=True)

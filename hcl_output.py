"""Complete what cdktf 0.21's HCL renderer (`cdktf synth --hcl`) leaves out of `cdk.tf`.

`cdktf/lib/hcl/render.js` (the final release, so it will not be fixed upstream) has these gaps
this app meets; the JSON output has none of them:

* `renderTerraform` prints the `terraform` block's plain arguments as their list index
  (`0 = "required_version"`), which Terraform refuses to parse.
* `lifecycle` is printed as plain arguments, so `precondition`/`postcondition` blocks become
  list arguments Terraform rejects (`Unsupported argument`), and `ignore_changes` holds quoted
  references (deprecated).
* References are printed as quoted strings (`provider = "aws.us_east_1"`, `depends_on`):
  deprecated, Terraform warns.
* Arguments the prebuilt provider left untyped (too deep to generate, e.g. a WAF rule's
  `statement`) are printed as object arguments (`statement = { ... }`) under a warning comment,
  where Terraform needs nested blocks.
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
_CONDITION_LIST = re.compile(r"^[ \t]*(precondition|postcondition) = \[\n(.*?)\n\]\n", re.M | re.S)
_CONDITION_ITEM = re.compile(r"^\{\n(.*?)\n\},?$", re.M | re.S)
_REFERENCE_LIST = re.compile(r"^([ \t]*(?:ignore_changes|depends_on) = \[\n)(.*?)(\n\])", re.M | re.S)
_QUOTED_PROVIDER = re.compile(r'^([ \t]*provider = )"([\w.]+)"$', re.M)
_UNTYPED_WARNING = "# Warning: The following attribute is of an unexpected type."
_REFERENCE_ARGUMENTS = frozenset({"provider"})
"""Arguments whose JSON string is a reference in HCL (`provider = aws.us_east_1`)."""


def _value(name: str, value: Any) -> str:
    if name in _REFERENCE_ARGUMENTS and isinstance(value, str):
        return value
    return json.dumps(value)  # JSON literals are valid HCL expressions


def _block(header: str, body: Mapping[str, Any]) -> str:
    lines = [f"{name} = {_value(name, value)}" for name, value in body.items() if name != "//"]
    return "\n".join([f"{header} {{", *lines, "}"])


def _untyped_objects_as_blocks(hcl: str) -> str:
    """Rewrite each `name = {` ... `}` the renderer printed under its "unexpected type" comment as
    nested blocks (`name {` ...), dropping the comment. Raises `ValueError` for a list of objects
    there (repeated blocks), which this function does not rewrite."""
    lines = hcl.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(_UNTYPED_WARNING):
            out.append(lines[i])
            i += 1
            continue
        while i < len(lines) and (lines[i].startswith("#") or not lines[i].strip()):
            i += 1  # the comment block and the blank line after it
        depth = 0
        while True:
            line = lines[i]
            if re.match(r"^\s*[A-Za-z_][\w-]* = \[$", line) and lines[i + 1].strip() == "{":
                raise ValueError(f"untyped list of objects in HCL output: {line.strip()}")
            block = re.match(r"^(\s*)([A-Za-z_][\w-]*) = \{$", line)
            out.append(f"{block.group(1)}{block.group(2)} {{" if block else line)
            depth += line.rstrip().endswith("{") - (line.strip() == "}")
            i += 1
            if depth == 0:
                break
    return "\n".join(out)


def complete_hcl(hcl: str, terraform_json: Mapping[str, Any]) -> str:
    """`hcl` (one stack's `cdk.tf`) with the gaps above filled from the same stack's JSON form
    (`TerraformStack.to_terraform()`). Raises `ValueError` if an override block has a shape this
    function cannot print (a nested block), so a gap never passes silently."""
    terraform = terraform_json.get("terraform", {})

    def argument(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{name} = {_value(name, terraform[name])}"

    hcl = _BROKEN_TERRAFORM_ARGUMENT.sub(argument, hcl)
    hcl = _CONDITION_LIST.sub(
        lambda m: "".join(f"{m.group(1)} {{\n{body}\n}}\n" for body in _CONDITION_ITEM.findall(m.group(2))), hcl
    )
    hcl = _REFERENCE_LIST.sub(
        lambda m: m.group(1) + re.sub(r'^"([\w.]+)"(,?)$', r"\1\2", m.group(2), flags=re.M) + m.group(3), hcl
    )
    hcl = _QUOTED_PROVIDER.sub(r"\1\2", hcl)
    hcl = _untyped_objects_as_blocks(hcl)
    extra = []
    for block_type, blocks in terraform_json.get("ephemeral", {}).items():
        for name, body in blocks.items():
            if any(isinstance(v, dict) for v in body.values()):
                raise ValueError(f"ephemeral.{block_type}.{name}: nested blocks are not supported in HCL output")
            extra.append(_block(f'ephemeral "{block_type}" "{name}"', body))
    return hcl if not extra else hcl.rstrip("\n") + "\n\n" + "\n\n".join(extra) + "\n"


def complete_hcl_stacks(outdir: Path, stacks: Mapping[str, Any]) -> str | None:
    """Rewrite `outdir/stacks/<name>/cdk.tf` of every stack in `stacks` ({name: TerraformStack})
    after an HCL synth, then bring them into `terraform fmt`'s canonical layout (`format_hcl`).
    Returns `format_hcl`'s note (None when formatted)."""
    paths = []
    for name, stack in stacks.items():
        path = outdir / "stacks" / name / "cdk.tf"
        path.write_text(complete_hcl(path.read_text(), stack.to_terraform()))
        paths.append(path)
    return format_hcl(paths)


def format_hcl(paths: Iterable[Path], terraform: str | None = None) -> str | None:
    """`terraform fmt` the given files in place, so `terraform fmt -check` accepts them (cdktf's
    renderer aligns neither `=` signs nor blank lines the way fmt does). `terraform`: the binary
    (default: `terraform` on PATH). Without one, returns a one-line note saying the files are not
    canonical and why (a synth needs no Terraform); returns None once formatted. Raises
    `RuntimeError` with fmt's message if fmt refuses a file (it does not parse)."""
    import shutil
    import subprocess

    binary = terraform or shutil.which("terraform")
    files = [str(p) for p in paths]
    if binary is None:
        return "note: terraform not found on PATH: the cdk.tf files are not in `terraform fmt` layout (run `terraform fmt` on them)"
    if files:
        done = subprocess.run([binary, "fmt", "-list=false", *files], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"terraform fmt refused the HCL output: {done.stderr.strip()}")
    return None


def remove_other_format(outdir: Path, stack_names: Iterable[str], hcl: bool) -> None:
    """Delete `cdk.tf.json` after an HCL synth and `cdk.tf` after a JSON one. cdktf leaves the
    other format's file of an earlier synth in place, and Terraform would load both (every
    block defined twice)."""
    stale = "cdk.tf.json" if hcl else "cdk.tf"
    for name in stack_names:
        (outdir / "stacks" / name / stale).unlink(missing_ok=True)

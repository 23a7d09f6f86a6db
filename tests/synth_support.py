"""Types and helpers shared by the synth-based tests (import as `from synth_support import Synth`).

One of each: `without_metadata` (drop cdktf's `//`), `ref` / `parse_ref` (Terraform references),
`Synth.reference` (the reference to a stack's one resource of a type), and `parse_jsonencode`
(the HCL literal inside cdktf's `${jsonencode(...)}`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAGE_NAMES = {"production": "production", "preview": "pr-42", "dev": "dev"}

# A fixed, explicit environment: tests never read the developer's HEBO_* variables.
BASE_ENV: dict[str, str] = {}


@dataclass(frozen=True)
class Synth:
    """The synthesized app: parsed stacks, the manifest and the output directory."""

    stage: str
    outdir: Path
    stacks: dict[str, dict[str, Any]]
    manifest: dict[str, Any]
    settings: Any

    def stack(self, name: str) -> dict[str, Any]:
        return self.stacks[name]

    def resources(self, stack: str, resource_type: str) -> dict[str, dict[str, Any]]:
        """`{logical name: config}` of one resource type in one stack."""
        return self.stacks[stack].get("resource", {}).get(resource_type, {})

    def resource(self, stack: str, resource_type: str, name: str | None = None) -> dict[str, Any]:
        """The one resource of a type (or the named one); fails when ambiguous."""
        found = self.resources(stack, resource_type)
        if name is not None:
            return found[name]
        assert len(found) == 1, f"expected one {resource_type} in {stack}, found {sorted(found)}"
        return next(iter(found.values()))

    def data_sources(self, stack: str, data_type: str) -> dict[str, dict[str, Any]]:
        return self.stacks[stack].get("data", {}).get(data_type, {})

    def reference(self, stack: str, resource_type: str, attribute: str, name: str | None = None) -> str:
        """`${type.logical.attribute}` of the one resource of a type in `stack` (or the named one)."""
        found = self.resources(stack, resource_type)
        if name is None:
            assert len(found) == 1, f"expected one {resource_type} in {stack}, found {sorted(found)}"
            (name,) = found
        assert name in found, f"no {resource_type}.{name} in {stack}"
        return ref(resource_type, name, attribute)

    def raw(self, stack: str) -> str:
        return (self.outdir / "stacks" / stack / "cdk.tf.json").read_text()


SHARED_STAGE_KEY = (
    "${data.terraform_remote_state.cross-stack-reference-input-network.outputs."
    "cross-stack-output-aws_kms_keykms_key_28C05A0Farn}"
)
"""How data and compute name the network stack's stage key where the policy shares one key."""


def stack_key(synth: Synth, own: str) -> str:
    """The key ARN a stack's resources must name: `own` (the stack's own key, as the test spells
    its reference) in production, the network stack's shared stage key in previews and dev."""
    return SHARED_STAGE_KEY if synth.settings.policy.shared_stage_key else own


def synthesize(env: dict[str, str], outdir: Path) -> Synth:
    """Synthesize the app with exactly `env` (in-process) into `outdir`, and read it back."""
    from main import build_app
    from config.settings import Settings

    build_app(Settings.load({**BASE_ENV, **env}, {}), outdir=str(outdir)).app.synth()
    return load_synth(env, outdir)


def load_synth(env: dict[str, str], outdir: Path) -> Synth:
    """The `Synth` of an app `synthesize(env, outdir)` wrote (in this process or another)."""
    from config.settings import Settings

    settings = Settings.load({**BASE_ENV, **env}, {})
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in manifest["stacks"]}
    return Synth(stage=settings.stage, outdir=outdir, stacks=stacks, manifest=manifest, settings=settings)


def without_metadata(value: Any) -> Any:
    """Drop cdktf's `//` metadata so whole resources can be compared exactly."""
    if isinstance(value, dict):
        return {k: without_metadata(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value


_REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


def ref(resource_type: str, logical: str, attribute: str) -> str:
    """`${resource_type.logical.attribute}`: how cdktf writes a reference to a resource attribute."""
    return f"${{{resource_type}.{logical}.{attribute}}}"


def parse_ref(value: str) -> tuple[str, str, str]:
    """`${aws_x.name.attr}` -> (type, name, attr); fails on anything else."""
    match = _REF.match(value)
    assert match, f"not a plain reference: {value!r}"
    return match.group(1), match.group(2), match.group(3)


# -- `${jsonencode(...)}` -------------------------------------------------------------------------
# `Fn.jsonencode(...)` synthesizes as `${jsonencode([{"name" = "x", "value" = data.foo.bar}])}`:
# HCL object syntax whose values are literals or bare references. This small parser handles
# exactly that subset: strings (with `${...}` interpolations), numbers, true/false/null, lists,
# objects with `=` or `:`, and bare references, which come back as the string `${<reference>}`.
_BARE_END = set(",}]) \n\t")


class HclLiteralError(ValueError):
    pass


def parse_jsonencode(expression: str) -> Any:
    """`${jsonencode(<hcl>)}` -> Python value; a plain JSON string is parsed as JSON."""
    text = expression.strip()
    if not (text.startswith("${jsonencode(") and text.endswith(")}")):
        return json.loads(text)
    parser = _Parser(text[len("${jsonencode(") : -2])
    value = parser.value()
    parser.skip_ws()
    if parser.pos != len(parser.text):
        raise HclLiteralError(f"trailing text at {parser.pos}: {parser.text[parser.pos : parser.pos + 40]!r}")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \n\t\r":
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise HclLiteralError(f"expected {char!r} at {self.pos}: {self.text[self.pos : self.pos + 40]!r}")
        self.pos += 1

    def value(self) -> Any:
        char = self.peek()
        if char == "[":
            return self.sequence("[", "]", self.value)
        if char == "{":
            return dict(self.sequence("{", "}", self.member))
        if char == '"':
            return self.string()
        return self.bare()

    def sequence(self, open_: str, close: str, item: Any) -> list[Any]:
        self.expect(open_)
        items = []
        while self.peek() != close:
            items.append(item())
            if self.peek() == ",":
                self.pos += 1
        self.expect(close)
        return items

    def member(self) -> tuple[str, Any]:
        key = self.string() if self.peek() == '"' else str(self.bare())
        if self.peek() not in ("=", ":"):
            raise HclLiteralError(f"expected '=' after key {key!r} at {self.pos}")
        self.pos += 1
        return key, self.value()

    def string(self) -> str:
        self.expect('"')
        out, depth = [], 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and depth == 0:
                out.append(
                    json.loads(f'"{self.text[self.pos : self.pos + 2]}"')
                    if self.text[self.pos + 1] != "u"
                    else json.loads(f'"{self.text[self.pos : self.pos + 6]}"')
                )
                self.pos += 2 if self.text[self.pos + 1] != "u" else 6
                continue
            if self.text.startswith("${", self.pos):
                depth += 1
                out.append("${")
                self.pos += 2
                continue
            if char == "}" and depth:
                depth -= 1
            elif char == '"' and depth == 0:
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise HclLiteralError("unterminated string")

    def bare(self) -> Any:
        start, depth = self.pos, 0
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in "([":
                depth += 1
            elif char in ")]" and depth:
                depth -= 1
            elif depth == 0 and char in _BARE_END:
                break
            self.pos += 1
        token = self.text[start : self.pos]
        if not token:
            raise HclLiteralError(f"empty value at {start}")
        if token in ("true", "false", "null"):
            return json.loads(token)
        try:
            return json.loads(token)  # numbers
        except json.JSONDecodeError:
            return "${" + token + "}"

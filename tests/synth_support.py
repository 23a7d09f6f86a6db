"""Types and helpers shared by the synth-based tests (import as `from synth_support import Synth`)."""

from __future__ import annotations

import json
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
    from main import build_app
    from config.settings import Settings

    settings = Settings.load({**BASE_ENV, **env}, {})
    platform = build_app(settings, outdir=str(outdir))
    platform.app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = {
        name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in manifest["stacks"]
    }
    return Synth(stage=settings.stage, outdir=outdir, stacks=stacks, manifest=manifest, settings=settings)


def without_metadata(value: Any) -> Any:
    """Drop cdktf's `//` metadata so whole resources can be compared exactly."""
    if isinstance(value, dict):
        return {k: without_metadata(v) for k, v in value.items() if k != "//"}
    if isinstance(value, list):
        return [without_metadata(v) for v in value]
    return value

"""No synthesized JSON names the machine that ran synth (whole app, every stage, both image modes).

A path on this machine (the checkout, its parent, the synth output, the home or temp directory,
the Python prefix), absolute or as a relative climb through it, would break the output on any
other machine or CI workspace. Local-file fields are checked positively too: relative to the
stack directory, and resolving to the file they mean.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from synth_support import STAGE_NAMES, Synth

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_BUILD = REPO_ROOT / "tests" / "fixtures" / "console-build"
PREBUILT = {
    "HEBO_API_IMAGE": "public.ecr.aws/hebo/api:1.0.0",
    "HEBO_GATEWAY_IMAGE": "public.ecr.aws/hebo/gateway:1.0.0",
}
MODES = {
    # Build mode: docker build contexts; no console build, so the manifest carries a warning.
    "build": {},
    # Prebuilt images, with the fixture console build uploaded file by file.
    "prebuilt": {**PREBUILT, "HEBO_CONSOLE_BUILD_DIR": str(FIXTURE_BUILD)},
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _machine_markers(outdir: Path) -> list[re.Pattern[str]]:
    """Each machine directory as whole path components, absolute (`/work/main/...`) or inside a
    relative climb (`../../work/main/...`), followed by more path; the checkout also on its own.
    Never a substring of a longer name (`network/main` is no `work/main`), and never a bare
    container path (`/tmp` in a task definition is the container's)."""
    roots = {REPO_ROOT, REPO_ROOT.parent, outdir.resolve(), Path.home(), Path(tempfile.gettempdir()), Path(sys.prefix)}
    start = r"(?:(?<![\w.-])/|\.\./)"
    markers = [re.compile(rf"{start}{re.escape(str(r).lstrip(os.sep))}/") for r in roots if r != Path("/")]
    markers.append(re.compile(rf"{start}{re.escape(str(REPO_ROOT).lstrip(os.sep))}(?:/|$)"))
    return markers


@pytest.fixture(
    scope="module", params=[(s, m) for s in sorted(STAGE_NAMES) for m in MODES], ids=lambda p: f"{p[0]}-{p[1]}"
)
def variant(request: pytest.FixtureRequest, synth_variant: Callable[..., Synth]) -> Synth:
    stage, mode = request.param
    return synth_variant(HEBO_STAGE=STAGE_NAMES[stage], HEBO_BACKEND="local", **MODES[mode])


def test_no_machine_path_in_any_synthesized_json(variant: Synth) -> None:
    files = sorted(variant.outdir.rglob("*.json"))
    assert len(files) >= 6  # manifest + five stacks
    markers = _machine_markers(variant.outdir)
    found = [
        (str(path.relative_to(variant.outdir)), text[:160])
        for path in files
        for text in _strings(json.loads(path.read_text()))
        if any(marker.search(text) for marker in markers)
    ]
    assert found == []


def test_local_file_fields_are_stack_relative(variant: Synth) -> None:
    """Backend and remote-state paths, docker build context, uploaded files, Lambda zips."""
    checked = 0
    for stack, config in variant.stacks.items():
        stack_dir = variant.outdir / "stacks" / stack
        paths = [config["terraform"]["backend"]["local"]["path"]]
        paths += [r["config"]["path"] for r in config.get("data", {}).get("terraform_remote_state", {}).values()]
        for path in paths:
            assert not path.startswith("/"), (stack, path)
            assert (stack_dir / path).resolve().is_relative_to(variant.outdir.parent / "terraform-state"), (stack, path)
            checked += 1
        existing = [f["filename"] for f in config.get("resource", {}).get("aws_lambda_function", {}).values()]
        existing += [i["build"]["context"] for i in config.get("resource", {}).get("docker_image", {}).values()]
        for obj in config.get("resource", {}).get("aws_s3_object", {}).values():
            if isinstance(obj.get("for_each"), dict):
                existing += [e["source"] for e in obj["for_each"].values() if e.get("source")]
        for path in existing:
            assert not path.startswith("/") and (stack_dir / path).exists(), (stack, path)
            checked += 1
    # 5 backends, 3 remote states (data<-network, compute<-network, data), the migrator zip, and the
    # fixture build's 8 files (prebuilt variant) or the 2 docker build contexts (build variant)
    assert checked == 5 + 3 + 1 + (8 if variant.settings.image_mode == "prebuilt" else 2)

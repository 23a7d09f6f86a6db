#!/usr/bin/env python
"""Both CDK flavours synthesize the same Terraform: production, pr-42 and dev, each synthesized by
cdktf and by cdktn (each in its own virtualenv, fresh processes), compared file by file.

    python -m tools.flavour_identity            # needs both flavours installed (make setup twice)

Compared after exactly these normalisations, each because Terraform reads both sides alike:

* `//` keys are dropped everywhere. They hold the CDK's own metadata (its version, 0.21.0 vs
  0.24.0, and construct paths); Terraform ignores a `//` property in JSON configuration
  (https://developer.hashicorp.com/terraform/language/syntax/json, "Comment Properties").
* A one-part provider `source` in `terraform.required_providers` is spelled out: cdktf writes
  `"source": "aws"`, cdktn `"hashicorp/aws"`. Terraform reads a bare type as a provider in the
  `hashicorp` namespace of registry.terraform.io (https://github.com/hashicorp/terraform-registry-address,
  "ambiguous provider addresses"); `npx cdktf deploy` and `npx cdktn deploy` both print
  `Finding hashicorp/aws versions` (tests/unit/test_cli.py).
* `manifest.json` (read only by the CDK CLI, never by Terraform) is compared as parsed JSON
  without its top-level `version` (the CDK's version); cdktn also formats empty lists on one line.

Provider version pins are *not* normalised: both flavours pin `modules.cdk.PROVIDER_VERSIONS`,
(modules/cdk_flavour.py), which this tool checks in every stack. Every other file (assets) must be byte-identical.
Exit status 0 when all is identical, 1 with one line per difference.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from modules.cdk_flavour import FLAVOURS, PROVIDER_VERSIONS, without_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
STAGES = ("production", "pr-42", "dev")
PARALLEL_SYNTHS = 2
"""Synth processes at once (each is one Python and one node process; CI has two cores)."""


def normalised(document: Any) -> Any:
    """`document` (a parsed `cdk.tf.json`) without `//` keys, with one-part provider sources spelled
    `hashicorp/<type>`. Pure: returns a new value."""
    if isinstance(document, list):
        return [normalised(item) for item in document]
    if not isinstance(document, dict):
        return document
    result = {key: normalised(value) for key, value in document.items() if key != "//"}
    for requirement in result.get("terraform", {}).get("required_providers", {}).values():
        if isinstance(requirement, dict) and "/" not in requirement.get("source", "/"):
            requirement["source"] = f"hashicorp/{requirement['source']}"
    return result


def first_difference(left: Any, right: Any, path: str = "") -> str | None:
    """The JSON path of the first place `left` and `right` differ (`None` when equal)."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(set(left) | set(right)):
            if key not in left or key not in right:
                return f"{path}.{key} only in {'cdktn' if key in right else 'cdktf'}"
            found = first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list) and isinstance(right, list) and len(left) == len(right):
        return next(
            (
                d
                for i, (a, b) in enumerate(zip(left, right, strict=True))
                if (d := first_difference(a, b, f"{path}[{i}]"))
            ),
            None,
        )
    return None if left == right else f"{path}: {json.dumps(left)[:120]} != {json.dumps(right)[:120]}"


def compare_outputs(left: Path, right: Path, pins: dict[str, str]) -> tuple[list[str], int]:
    """Differences between two synth output directories (cdktf's `left`, cdktn's `right`), and
    the number of files compared. Also reports a stack whose provider pins are not `pins`."""
    files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()}
    other = {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    differences = [f"{name}: only in {'cdktf' if name in files else 'cdktn'}" for name in sorted(files ^ other)]
    for name in sorted(files & other):
        a, b = left / name, right / name
        if name.name == "cdk.tf.json":
            docs = [json.loads(a.read_text()), json.loads(b.read_text())]
            found = first_difference(normalised(docs[0]), normalised(docs[1]))
            for flavour, doc in zip(("cdktf", "cdktn"), docs, strict=True):
                for provider, requirement in doc.get("terraform", {}).get("required_providers", {}).items():
                    if requirement.get("version") != pins.get(provider):
                        differences.append(
                            f"{name}: {flavour} pins {provider} {requirement.get('version')}, not {pins.get(provider)}"
                        )
        elif name == Path("manifest.json"):
            docs = [json.loads(a.read_text()), json.loads(b.read_text())]
            left_doc, right_doc = ({k: v for k, v in d.items() if k != "version"} for d in docs)
            found = first_difference(left_doc, right_doc)
        else:
            found = None if a.read_bytes() == b.read_bytes() else "bytes differ"
        if found:
            differences.append(f"{name}: {found}")
    return differences, len(files & other)


def synth(flavour: str, stage: str, outdir: Path) -> float:
    """`main.py` of `stage` on `flavour`, in that flavour's virtualenv, into `outdir`; seconds."""
    python = REPO_ROOT / FLAVOURS[flavour].venv / "bin" / "python"
    env = {**without_settings(os.environ), "HEBO_CDK": flavour, "HEBO_STAGE": stage, "CDKTF_OUTDIR": str(outdir)}
    started = time.monotonic()
    done = subprocess.run([str(python), "main.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"error: {flavour} synth of {stage} failed: {done.stderr.strip()[-2000:]}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flavour_identity", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work",
        default=str(REPO_ROOT / "build" / "flavour-identity"),
        help="scratch directory inside the checkout (asset paths are relative to it)",
    )
    args = parser.parse_args(argv)
    missing = [
        f"HEBO_CDK={name} make setup"
        for name, f in FLAVOURS.items()
        if not (REPO_ROOT / f.venv / "bin" / "python").exists()
    ]
    if missing:
        print(f"error: both flavours must be installed: run {' and '.join(missing)}", file=sys.stderr)
        return 2
    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    jobs = [(flavour, stage) for stage in STAGES for flavour in sorted(FLAVOURS)]
    with ThreadPoolExecutor(max_workers=PARALLEL_SYNTHS) as pool:
        seconds = dict(
            zip(jobs, pool.map(lambda job: synth(job[0], job[1], work / job[0] / job[1]), jobs), strict=True)
        )
    failures = []
    for stage in STAGES:
        differences, compared = compare_outputs(work / "cdktf" / stage, work / "cdktn" / stage, PROVIDER_VERSIONS)
        timing = ", ".join(f"{flavour} {seconds[(flavour, stage)]:.1f} s" for flavour in sorted(FLAVOURS))
        print(
            f"{stage}: {compared} files, {'identical' if not differences else f'{len(differences)} difference(s)'} ({timing})"
        )
        failures += [f"{stage}/{d}" for d in differences]
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

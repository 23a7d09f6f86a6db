#!/usr/bin/env python
"""Cold synth of the whole app: shipped import style vs the conventional provider import.

Each run is a fresh `python main.py` process (plus its node jsii child) synthesizing every
stack of one stage into a temporary directory. Runs alternate between the two styles so
machine noise hits both alike. Reported: median wall time, median peak RSS of the whole
process tree (sampled from /proc), and the ratios shipped/conventional.

    pipenv run python bench/synth.py [--stage pr-42] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.05


@dataclass(frozen=True)
class Run:
    """One cold synth: wall-clock seconds and the peak resident memory (MiB) of the process tree
    (Python and the jsii Node child), sampled from /proc."""

    wall_seconds: float
    peak_rss_mib: float


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [int(p) for p in handle.read().split()]
    except OSError:
        return []


def _tree_rss_kib(root: int) -> int:
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(_children(pid))
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


def synth_once(stage: str, conventional: bool) -> Run:
    """One cold `python main.py` of `stage` in a clean environment, with the shipped import style or the conventional one (HEBO_CONVENTIONAL_IMPORTS)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEBO_", "CDKTF_"))}
    env["HEBO_STAGE"] = stage
    if conventional:
        env["HEBO_CONVENTIONAL_IMPORTS"] = "1"
    with tempfile.TemporaryDirectory(prefix="hebo-bench-") as outdir:
        env["CDKTF_OUTDIR"] = outdir
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "main.py"], cwd=REPO_ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss_kib(process.pid))
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise SystemExit(f"synth failed ({'conventional' if conventional else 'shipped'}): {stderr.strip()}")
        if not (Path(outdir) / "manifest.json").exists():
            raise SystemExit("synth wrote no manifest.json")
    return Run(wall_seconds=wall, peak_rss_mib=peak / 1024)


def main() -> int:
    """Synthesize with both import styles and print their wall time and peak memory side by side. Returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="production", help="stage to synthesize (default: production, the largest)")
    parser.add_argument("--runs", type=int, default=3, help="runs per style (default 3)")
    args = parser.parse_args()

    synth_once(args.stage, conventional=False)  # warm the jsii package cache and build/ so both start equal
    runs: dict[str, list[Run]] = {"shipped": [], "conventional": []}
    for _ in range(args.runs):
        runs["shipped"].append(synth_once(args.stage, conventional=False))
        runs["conventional"].append(synth_once(args.stage, conventional=True))

    medians = {
        style: (statistics.median(r.wall_seconds for r in rs), statistics.median(r.peak_rss_mib for r in rs))
        for style, rs in runs.items()
    }
    print(f"cold synth of all stacks, stage {args.stage!r}, {args.runs} runs each (median)")
    print(f"{'style':<14}{'wall s':>10}{'peak RSS MiB':>16}")
    for style, (wall, rss) in medians.items():
        print(f"{style:<14}{wall:>10.2f}{rss:>16.0f}")
    wall_ratio = medians["shipped"][0] / medians["conventional"][0]
    rss_ratio = medians["shipped"][1] / medians["conventional"][1]
    print(f"{'ratio':<14}{wall_ratio:>10.2f}{rss_ratio:>16.2f}   (shipped / conventional; targets <= 0.40 and <= 0.50)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

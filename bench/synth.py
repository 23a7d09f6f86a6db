#!/usr/bin/env python
"""Cold synth of the whole app: shipped import style vs the conventional provider import, for
each CDK flavour (cdktf, and cdktn when `HEBO_CDK=cdktn make setup` has installed it).

Each run is a fresh `python main.py` process (plus its node jsii child), in the flavour's own
virtualenv, synthesizing every stack of one stage into a temporary directory. Runs alternate
between the styles and flavours so machine noise hits all alike. Reported: median wall time,
median peak RSS of the whole process tree (sampled from /proc), and the ratios
shipped/conventional per flavour.

    python bench/synth.py [--stage pr-42] [--runs 3] [--flavour cdktn]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from modules.cdk_flavour import FLAVOURS, without_settings  # after the sys.path line; no jsii import

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


def synth_once(stage: str, conventional: bool, flavour: str = "cdktf") -> Run:
    """One cold `python main.py` of `stage` on `flavour` in a clean environment, with the shipped import style or the conventional one (HEBO_CONVENTIONAL_IMPORTS)."""
    env = without_settings(os.environ)
    env["HEBO_STAGE"] = stage
    env["HEBO_CDK"] = flavour
    if conventional:
        env["HEBO_CONVENTIONAL_IMPORTS"] = "1"
    with tempfile.TemporaryDirectory(prefix="hebo-bench-") as outdir:
        env["CDKTF_OUTDIR"] = outdir
        started = time.perf_counter()
        python = REPO_ROOT / FLAVOURS[flavour].venv / "bin" / "python"
        process = subprocess.Popen(
            [str(python), "main.py"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _tree_rss_kib(process.pid))
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - started
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise SystemExit(
                f"synth failed ({flavour}, {'conventional' if conventional else 'shipped'}): {stderr.strip()}"
            )
        if not (Path(outdir) / "manifest.json").exists():
            raise SystemExit("synth wrote no manifest.json")
    return Run(wall_seconds=wall, peak_rss_mib=peak / 1024)


def installed_flavours() -> list[str]:
    """The flavours whose virtualenv exists (cdktf always after `make setup`)."""
    return [name for name, flavour in FLAVOURS.items() if (REPO_ROOT / flavour.venv / "bin" / "python").exists()]


def main() -> int:
    """Synthesize with both import styles and print their wall time and peak memory side by side. Returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="production", help="stage to synthesize (default: production, the largest)")
    parser.add_argument("--runs", type=int, default=3, help="runs per style and flavour (default 3)")
    parser.add_argument(
        "--flavour",
        action="append",
        choices=sorted(FLAVOURS),
        help="only this flavour (repeatable; default: every installed one)",
    )
    args = parser.parse_args()
    flavours = args.flavour or installed_flavours()

    runs: dict[tuple[str, str], list[Run]] = {}
    for flavour in flavours:
        synth_once(args.stage, conventional=False, flavour=flavour)  # warm the caches and build/ so all start equal
        runs[(flavour, "shipped")], runs[(flavour, "conventional")] = [], []
    for _ in range(args.runs):
        for flavour in flavours:
            runs[(flavour, "shipped")].append(synth_once(args.stage, conventional=False, flavour=flavour))
            runs[(flavour, "conventional")].append(synth_once(args.stage, conventional=True, flavour=flavour))

    medians = {
        key: (statistics.median(r.wall_seconds for r in rs), statistics.median(r.peak_rss_mib for r in rs))
        for key, rs in runs.items()
    }
    print(f"cold synth of all stacks, stage {args.stage!r}, {args.runs} runs each (median)")
    print(f"{'flavour':<9}{'style':<14}{'wall s':>10}{'peak RSS MiB':>16}")
    for flavour in flavours:
        for style in ("shipped", "conventional"):
            wall, rss = medians[(flavour, style)]
            print(f"{flavour:<9}{style:<14}{wall:>10.2f}{rss:>16.0f}")
        wall_ratio = medians[(flavour, "shipped")][0] / medians[(flavour, "conventional")][0]
        rss_ratio = medians[(flavour, "shipped")][1] / medians[(flavour, "conventional")][1]
        print(f"{flavour:<9}{'ratio':<14}{wall_ratio:>10.2f}{rss_ratio:>16.2f}   (shipped / conventional)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

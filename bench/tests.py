#!/usr/bin/env python
"""Where the test suite's time goes: `make test`'s concurrent lanes side by side with the same
tests in one serial `pytest` process (`make bench-tests`). A benchmark, not a timed test: it
asserts nothing about the numbers.

    .venv/bin/python bench/tests.py                    # lanes, then serial; ~2 × the lifecycle lane
    .venv/bin/python bench/tests.py --no-lifecycle     # both runs without the preview lifecycle
    .venv/bin/python bench/tests.py --no-serial        # the lanes only (the serial column stays empty)
    .venv/bin/python bench/tests.py -- -k compute      # pytest arguments after `--` go to both runs

Printed: per lane (tools/test_lanes.py `LANES`), the lane's wall time in the lanes run and the
sum of its tests' times in the serial run; both runs' wall times; then the ten slowest tests of
each run, side by side. A test's time is pytest's JUnit `time` (setup + call + teardown, so a
module fixture counts for the first test that uses it). Each run's output is kept in
`build/bench-tests/` (`lanes/<lane>.log`, `serial.log`, and their JUnit XML), with the load
average before and after each run, since on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.test_lanes import LANES, lane_of  # after the sys.path line

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT = REPO_ROOT / "build" / "bench-tests"
"""Where both runs' output goes (`--out`)."""
SLOWEST = 10


def test_times(junit: Path) -> dict[str, float]:
    """`{"tests/unit/test_app.py::test_x": seconds}` from a pytest JUnit XML file (empty if missing)."""
    if not junit.is_file():
        return {}
    found: dict[str, float] = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        parts, name = case.get("classname", "").split("."), case.get("name", "")
        test = "::".join([*parts, name])  # classname: the dotted module path, then a class if any
        for n in range(len(parts), 0, -1):
            if (REPO_ROOT / ("/".join(parts[:n]) + ".py")).is_file():
                test = "::".join(["/".join(parts[:n]) + ".py", *parts[n:], name])
                break
        found[test] = float(case.get("time", 0))
    return found


def by_lane(times: dict[str, float]) -> dict[str, float]:
    """Sum of test times per lane (tools/test_lanes.py `lane_of`)."""
    sums: dict[str, float] = {}
    for test, seconds in times.items():
        lane = lane_of(test.split("::", 1)[0])
        sums[lane] = sums.get(lane, 0.0) + seconds
    return sums


def load() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(argv: Sequence[str], log: Path) -> tuple[float, int]:
    """Run `argv` from the repository root with its output to `log`; (wall seconds, exit code)."""
    started = time.monotonic()
    with log.open("wb") as handle:
        code = subprocess.run(argv, cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT).returncode
    return time.monotonic() - started, code


def lanes_line(log: Path) -> dict[str, float]:
    """The `lanes: {json}` line of a `tools.test_lanes` run ({} when it printed none)."""
    import json

    for line in reversed(log.read_text(errors="replace").splitlines() if log.is_file() else []):
        if line.startswith("lanes: "):
            return json.loads(line.removeprefix("lanes: "))
    return {}


def table(lanes: dict[str, float], serial: dict[str, float], walls: tuple[float, float | None]) -> list[str]:
    """The per-lane table: lane wall time (lanes run), sum of the lane's test times (serial run)."""
    rows = [f"{'lane':<12}{'lanes run s':>14}{'serial run s':>15}"]
    for lane in [lane.name for lane in LANES]:
        if lane in lanes or lane in serial:
            lanes_s = f"{lanes[lane]:.0f}" if lane in lanes else "-"
            serial_s = f"{serial[lane]:.0f}" if lane in serial else "-"
            rows.append(f"{lane:<12}{lanes_s:>14}{serial_s:>15}")
    rows.append(f"{'wall':<12}{walls[0]:>14.0f}{(f'{walls[1]:.0f}' if walls[1] is not None else '-'):>15}")
    return rows


def slowest(lanes: dict[str, float], serial: dict[str, float]) -> list[str]:
    """The ten slowest tests of each run, side by side (seconds, test id)."""
    left = sorted(lanes.items(), key=lambda kv: -kv[1])[:SLOWEST]
    right = sorted(serial.items(), key=lambda kv: -kv[1])[:SLOWEST]
    width = min(max([len(t) for t, _ in left] + [20]) + 12, 100)
    rows = [f"{'slowest, lanes run':<{width}}slowest, serial run"]
    for i in range(max(len(left), len(right))):
        a = f"{left[i][1]:7.1f}  {left[i][0]}"[: width - 2] if i < len(left) else ""
        b = f"{right[i][1]:7.1f}  {right[i][0]}" if i < len(right) else ""
        rows.append(f"{a:<{width}}{b}")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the lanes, then (unless --no-serial) the serial suite, and print both side by side.
    Returns 1 when a run had a failing test (the numbers are still printed), else 0."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-lifecycle", action="store_true", help="leave out the preview lifecycle in both runs")
    parser.add_argument("--no-serial", action="store_true", help="run the lanes only")
    parser.add_argument("--out", type=Path, default=OUT, help="where the runs' output goes (default build/bench-tests)")
    parser.add_argument("pytest_args", nargs="*", help="after `--`: pytest arguments for both runs")
    args = parser.parse_args(argv)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    lifecycle = ["--no-lifecycle"] if args.no_lifecycle else []
    print(f"lanes run (load {load()}) ...", flush=True)
    lanes_wall, lanes_code = timed(
        [python, "-m", "tools.test_lanes", *lifecycle, "--lane-logs", str(out / "lanes"), *args.pytest_args],
        out / "lanes.log",
    )
    lane_walls = lanes_line(out / "lanes.log")
    lane_tests: dict[str, float] = {}
    for lane in LANES:
        lane_tests.update(test_times(out / "lanes" / f"{lane.name}.xml"))
    print(f"lanes run: exit {lanes_code}, {lanes_wall:.0f} s (load after {load()}); {out / 'lanes.log'}")
    serial_wall, serial_tests, serial_code = None, {}, 0
    if not args.no_serial:
        print(f"serial run (load {load()}) ...", flush=True)
        deselect = ["-m", "not lifecycle"] if args.no_lifecycle else []
        serial_wall, serial_code = timed(
            [python, "-m", "pytest", f"--junitxml={out / 'serial.xml'}", *deselect, *args.pytest_args],
            out / "serial.log",
        )
        serial_tests = test_times(out / "serial.xml")
        print(f"serial run: exit {serial_code}, {serial_wall:.0f} s (load after {load()}); {out / 'serial.log'}")
    print()
    print(
        "\n".join(
            table(
                {k: v for k, v in lane_walls.items() if k != "total"}, by_lane(serial_tests), (lanes_wall, serial_wall)
            )
        )
    )
    print()
    print("\n".join(slowest(lane_tests, serial_tests)))
    return 0 if lanes_code == serial_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

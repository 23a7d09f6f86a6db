#!/usr/bin/env python
"""`make test`: the whole suite as concurrent lanes, so its wall time is about the longest lane's,
not the sum of all of them.

    .venv/bin/python -m tools.test_lanes [--no-lifecycle] [--lanes unit,cli] [PYTEST ARGS...]

Each lane is its own `pytest` process running one part of the suite (`LANES`: files by path; every
test belongs to exactly one lane, the first whose patterns match its file, else `unit`). The lanes
that mostly sleep on the AWS provider's waiters against moto (`lifecycle`, `production`,
`emulator`) overlap with the ones that compute (`cli`, `ops`, `services`, `policy`, `stacks`,
`unit`), which run at the lowest CPU priority (`NICE`; the other Terraform lanes at `NICE_WAITING`),
so on a small machine the longest lane, the preview lifecycle, is not kept waiting for a core.
Arguments that name test files or directories start only the lanes that own them.

The lanes share one synth cache (`SYNTH_CACHE_ENV`, tools/synth_cache.py): each configuration
variant is synthesized once per run, by whichever lane asks first. Each lane's output goes to
`build/test-lanes/<lane>.log`; the runner prints one line per lane as it finishes, the summary
sections of each lane (skips, xfails, failures, the Terraform timings), the lines of a failing
lane's failures, and last one line

    lanes: {"lifecycle": 695.9, "production": 313.7, "emulator": 265.6, "cli": 226.9, "ops": 142.6, "services": 111.9, "policy": 57.0, "stacks": 120.5, "unit": 265.5, "total": 695.9}

(wall seconds per lane and of the whole run). The exit code is 0 when every lane passed (a lane
that `PYTEST ARGS` such as `-k compute` leave empty counts as passed), else 1.

Used as a pytest plugin (`-p tools.test_lanes --lane NAME`) it collects only that lane's test files.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator, Sequence

from config.naming import STACKS
from tools.synth_cache import SYNTH_CACHE_ENV, tally

if TYPE_CHECKING:  # the runner itself needs no pytest import
    import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

LIFECYCLE_IN_MAKE_TEST = True
"""The one switch for the preview lifecycle lane in `make test` (issue 26): True runs it (and
`make test` fails when it fails); False leaves it out (`--no-lifecycle` does the same per run)."""

NICE = 19
"""CPU priority offset (nice(2)) of the lanes that compute, when the run includes the lifecycle lane,
whose wall time is the run's: its Terraform commands get a core first (a nice-19 process weighs
15 against 1,024 for nice 0 in Linux's scheduler, sched(7)); the others use what it leaves, and
it mostly sleeps on the provider's waiters. Measured: nice 5 let the lifecycle lane take 731 s
beside the others against 628 s alone."""
NICE_WAITING = 10
"""CPU priority offset of the other Terraform lanes (production, emulator) beside the lifecycle:
they wait on waiters too, but their plans and applies compete for the same cores."""


@dataclass(frozen=True)
class Lane:
    """One `pytest` process: the test files it runs (`fnmatch` patterns on the path from the
    repository root) and whether it mostly sleeps (Terraform against moto) or computes."""

    name: str
    patterns: tuple[str, ...]
    sleeps: bool


LANES: tuple[Lane, ...] = (
    Lane("lifecycle", ("tests/terraform/test_preview_lifecycle.py",), sleeps=True),
    Lane("production", ("tests/terraform/test_production_plan.py",), sleeps=True),
    Lane("emulator", ("tests/terraform/test_emulator*.py",), sleeps=True),
    Lane(
        "cli",
        (
            "tests/terraform/*",
            "tests/unit/test_cli.py",
            "tests/unit/test_hcl.py",
            "tests/unit/test_flavours.py",
            "tests/policy/test_checkov.py",
            "tests/policy/test_gate_can_fail.py",
        ),
        sleeps=False,
    ),
    Lane("ops", ("tests/ops/*",), sleeps=False),
    Lane("services", ("tests/lambdas/*", "tests/workflows/*"), sleeps=False),
    Lane("policy", ("tests/policy/*", "tests/iam_eval/*", "tests/security/*"), sleeps=False),
    # the tests of each stack's JSON and of the app around them: half the synth-bound unit tests
    Lane(
        "stacks",
        tuple(f"tests/unit/test_{name}.py" for name in (*STACKS, "app", "service_pattern", "tfc", "cost"))
        + ("tests/edge/*",),
        sleeps=False,
    ),
    Lane("unit", ("*",), sleeps=False),
)
"""In match order: a test's lane is the first whose patterns match its file (`unit` takes the rest)."""

LANE_NAMES = tuple(lane.name for lane in LANES)


def lane_of(path: str) -> str:
    """The lane of a test file, given as its path from the rootdir (`tests/unit/test_app.py`)."""
    return next(lane.name for lane in LANES if any(fnmatch.fnmatch(path, p) for p in lane.patterns))


# --------------------------------------------------------------------------- the pytest plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--lane", choices=LANE_NAMES, default=None, help="run only this lane's tests (tools/test_lanes.py)"
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """With `--lane`, other lanes' test files are not even imported (each lane collects only its own)."""
    lane = config.getoption("--lane")
    if lane is None or collection_path.suffix != ".py":
        return None
    try:
        path = collection_path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        return None
    return True if lane_of(path) != lane else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With `--lane`, a test file named on the command line that belongs to another lane is not run
    here either (pytest collects named files without asking `pytest_ignore_collect`)."""
    lane = config.getoption("--lane")
    if lane is None:
        return
    root = config.rootpath.resolve()
    kept: list[pytest.Item] = []
    other: list[pytest.Item] = []
    for item in items:
        try:
            path = item.path.resolve().relative_to(root).as_posix()
        except ValueError:
            kept.append(item)
            continue
        (kept if lane_of(path) == lane else other).append(item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = kept


def lanes_for_paths(pytest_args: Sequence[str], root: Path = REPO_ROOT) -> set[str] | None:
    """The lanes that own the test files under the paths among `pytest_args` (`tests/unit/x.py`,
    `tests/ops`, `checks`, `file.py::test_name`); None when the arguments name no existing path
    (then every lane runs, e.g. for `-k compute`), or when one lies outside `root`. Test files:
    `test_*.py` and `*_test.py`."""
    paths = [Path(a.split("::")[0]) for a in pytest_args if not a.startswith("-")]
    paths = [p if p.is_absolute() else root / p for p in paths]
    paths = [p for p in paths if p.exists()]
    if not paths or not all(p.resolve().is_relative_to(root.resolve()) for p in paths):
        return None  # nothing named, or a suite elsewhere (its own --rootdir): every lane decides
    owners: set[str] = set()
    for path in paths:
        files = [path] if path.is_file() else [*path.rglob("test_*.py"), *path.rglob("*_test.py")]
        for file in files:
            try:
                owners.add(lane_of(file.resolve().relative_to(root.resolve()).as_posix()))
            except ValueError:
                continue
    return owners


# --------------------------------------------------------------------------- the runner

_COUNTS = re.compile(r"(\d+) (passed|failed|skipped|deselected|xfailed|xpassed|errors?|warnings?)")
_SECTION = re.compile(r"^[=-]+ (.+?) [=-]+$")
SHOWN_SECTIONS = ("short test summary info", "terraform checks")
"""The sections of a lane's output the runner repeats (failures: the whole FAILURES section too)."""


@dataclass
class Running:
    """One started lane: its process, its log file (and open handle), when it started and, once it
    has ended, its wall time in seconds."""

    lane: Lane
    process: subprocess.Popen[bytes]
    log: Path
    handle: IO[bytes]
    started: float
    seconds: float | None = None


def lane_command(lane: str, pytest_args: Sequence[str], log_dir: Path) -> list[str]:
    """The `pytest` command of one lane; its JUnit XML (per-test times, bench/tests.py reads them)
    goes to `<log_dir>/<lane>.xml`."""
    junit = f"--junitxml={log_dir / f'{lane}.xml'}"
    return [sys.executable, "-m", "pytest", "-p", "tools.test_lanes", "--lane", lane, junit, *pytest_args]


def counts(log_text: str) -> dict[str, int]:
    """`{"passed": n, "skipped": n, ...}` from the last line of a pytest run (deselected left out:
    every lane deselects the others' tests)."""
    lines = [line for line in log_text.splitlines() if _COUNTS.match(line.strip("= ")) and " in " in line]
    found: dict[str, int] = {}
    for number, kind in _COUNTS.findall(lines[-1] if lines else ""):
        kind = {"error": "errors", "warning": "warnings"}.get(kind, kind)
        if kind != "deselected":
            found[kind] = int(number)
    return found


def sections(log_text: str, wanted: Sequence[str]) -> list[str]:
    """The lines of the named `=== name ===` / `--- name ---` sections of a pytest output."""
    out: list[str] = []
    keep = False
    for line in log_text.splitlines():
        header = _SECTION.match(line)
        if header:
            keep = header.group(1) in wanted
        if keep:
            out.append(line)
    return out


def _yielding(lane: Lane, yielding: bool) -> Callable[[], None] | None:
    """What the lane's process runs before pytest: lower its CPU priority when the run includes the
    lifecycle lane (`NICE` for the lanes that compute, `NICE_WAITING` for the other Terraform
    lanes); None for the lifecycle lane itself or a run without it."""
    if not yielding or lane.name == "lifecycle":
        return None
    offset = NICE_WAITING if lane.sleeps else NICE

    def lower_priority() -> None:
        os.nice(offset)

    return lower_priority


def run_lanes(lanes: Sequence[Lane], pytest_args: Sequence[str], log_dir: Path, cache: Path) -> dict[str, float]:
    """Start every lane at once, report each as it ends; returns `{lane: wall seconds, "total": s}`
    and raises SystemExit(1) after the report when a lane failed."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, SYNTH_CACHE_ENV: str(cache)}
    started = time.monotonic()
    running: list[Running] = []
    yielding = any(lane.name == "lifecycle" for lane in lanes)  # only the lifecycle needs the others to yield
    for lane in lanes:
        log = log_dir / f"{lane.name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            lane_command(lane.name, pytest_args, log_dir),
            cwd=REPO_ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_yielding(lane, yielding),
        )
        running.append(Running(lane, process, log, handle, time.monotonic()))
    print(
        f"==> {len(running)} lanes at once: {', '.join(r.lane.name for r in running)} (logs in {_shown(log_dir)}/)",
        flush=True,
    )
    try:
        failed, totals = _wait(running, pytest_args)
    except KeyboardInterrupt:  # the terminal sent SIGINT to every lane too: let each stop its servers
        for item in running:
            try:
                item.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                item.process.kill()
        raise
    for item in running:
        text = item.log.read_text(errors="replace")
        shown = sections(text, (*SHOWN_SECTIONS, *(("FAILURES", "ERRORS") if item in failed else ())))
        if item in failed and not shown:
            shown = text.splitlines()[-60:]
        if shown:
            print(f"\n---- lane {item.lane.name} ({_shown(item.log)})")
            print("\n".join(shown))
    timings = {r.lane.name: round(r.seconds or 0.0, 1) for r in running}
    timings["total"] = round(time.monotonic() - started, 1)
    print("\n==> tests: " + ", ".join(f"{n} {k}" for k, n in totals.items()))
    synths = tally(cache)
    print(f"==> synths: {synths['made']} made, {synths['reused']} reused from the run's cache (tools/synth_cache.py)")
    if failed:
        print(f"==> FAILED lanes: {', '.join(r.lane.name for r in failed)} (their logs: {_shown(log_dir)}/)")
    print("lanes: " + json.dumps(timings), flush=True)
    if failed:
        raise SystemExit(1)
    return timings


def _wait(running: Sequence[Running], pytest_args: Sequence[str]) -> tuple[list[Running], dict[str, int]]:
    """Wait for every lane, printing one line for each as it ends; returns the failed lanes and
    the summed test counts."""
    failed: list[Running] = []
    totals: dict[str, int] = {}
    pending = list(running)
    while pending:
        time.sleep(0.5)
        for item in [r for r in pending if r.process.poll() is not None]:
            pending.remove(item)
            item.seconds = time.monotonic() - item.started
            item.handle.close()
            text = item.log.read_text(errors="replace")
            found = counts(text)
            for kind, number in found.items():
                totals[kind] = totals.get(kind, 0) + number
            code = item.process.returncode
            ok = code == 0 or (code == 5 and pytest_args)  # 5: the ARGS left this lane no test
            what = ", ".join(f"{n} {k}" for k, n in found.items()) or ("no tests" if code == 5 else f"exit {code}")
            print(f"==> lane {item.lane.name}: {'ok' if ok else 'FAILED'}: {what} in {item.seconds:.0f} s", flush=True)
            if not ok:
                failed.append(item)
    return failed, totals


@contextlib.contextmanager
def log_directory(chosen: Path | None) -> Iterator[Path]:
    """`chosen`, else build/test-lanes; while a run holds that one (a run started from a test of
    another run, e.g. `make test ARGS=checks/...`), build/test-lanes-<pid>, so no run truncates
    the logs another is writing. Held (flock on `.lock`) until the run ends."""
    log_dir = chosen or REPO_ROOT / "build" / "test-lanes"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if chosen:
                raise SystemExit(f"error: --lane-logs {chosen}: another run is writing there") from None
            with log_directory(REPO_ROOT / "build" / f"test-lanes-{os.getpid()}") as own:
                yield own
            return
        yield log_dir


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """`make test`; unknown arguments go to every lane's pytest."""
    parser = argparse.ArgumentParser(prog="test_lanes", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--no-lifecycle", action="store_true", help="leave out the preview lifecycle lane")
    parser.add_argument("--lanes", default=None, help=f"comma-separated subset of {','.join(LANE_NAMES)}")
    parser.add_argument("--lane-logs", default=None, help="where the lanes' logs go (default build/test-lanes)")
    args, pytest_args = parser.parse_known_args(argv)
    chosen = args.lanes.split(",") if args.lanes else list(LANE_NAMES)
    unknown = sorted(set(chosen) - set(LANE_NAMES))
    if unknown:
        parser.error(f"--lanes {args.lanes!r}: unknown {', '.join(unknown)}; allowed: {', '.join(LANE_NAMES)}")
    if args.no_lifecycle or not LIFECYCLE_IN_MAKE_TEST:
        chosen = [name for name in chosen if name != "lifecycle"]
    owners = lanes_for_paths(pytest_args)
    if owners is not None:  # named test files or directories: only the lanes that own them
        chosen = [name for name in chosen if name in owners]
        if not chosen:
            print(f"==> no test files under {' '.join(a for a in pytest_args if not a.startswith('-'))}")
            return 0
    lanes = [lane for lane in LANES if lane.name in chosen]
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="test-synth-", dir=REPO_ROOT / "build"))
    try:
        with log_directory(Path(args.lane_logs) if args.lane_logs else None) as log_dir:
            run_lanes(lanes, pytest_args, log_dir, cache)
    except SystemExit as exit_:
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
            return 1
        return int(exit_.code or 0)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make test`'s lanes (tools/test_lanes.py), the run's shared synth cache (tools/synth_cache.py)
and the two benchmarks that read their output (bench/tests.py, bench/lifecycle_floor.py).

The runner is exercised on a small suite of its own in a temporary directory (its own pytest.ini,
so none of this checkout's conftest files load): one file per lane, real pytest processes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import lifecycle_floor
from bench import tests as bench_tests
from tools import test_lanes
from tools.synth_cache import SYNTH_LOG, cached, tally, variant_key

REPO_ROOT = Path(__file__).resolve().parents[2]

LANE_FILES = {
    "lifecycle": "tests/terraform/test_preview_lifecycle.py",
    "production": "tests/terraform/test_production_plan.py",
    "emulator": "tests/terraform/test_emulator_calls.py",
    "cli": "tests/unit/test_cli.py",
    "ops": "tests/ops/test_ops_cli.py",
    "services": "tests/lambdas/test_handler.py",
    "policy": "tests/security/test_attack_scenarios.py",
    "stacks": "tests/unit/test_compute.py",
    "unit": "tests/unit/test_stage.py",
}
"""One file per lane, written out by hand from the lanes' purpose (tools/test_lanes.py)."""


def test_each_file_has_the_lane_its_work_needs() -> None:
    assert {lane: test_lanes.lane_of(path) for lane, path in LANE_FILES.items()} == {name: name for name in LANE_FILES}
    assert test_lanes.lane_of("tests/terraform/test_emulator.py") == "emulator"
    assert test_lanes.lane_of("tests/terraform/test_validate.py") == "cli"
    assert test_lanes.lane_of("tests/policy/test_checkov.py") == "cli"
    assert test_lanes.lane_of("checks/test_mine.py") == "unit"
    assert test_lanes.LANE_NAMES[-1] == "unit" and test_lanes.LANES[-1].patterns == ("*",)
    assert [lane.name for lane in test_lanes.LANES if lane.sleeps] == ["lifecycle", "production", "emulator"]


def test_every_test_file_of_the_suite_is_in_exactly_one_lane_and_the_lifecycle_lane_is_the_lifecycle() -> None:
    files = sorted(
        p.relative_to(REPO_ROOT).as_posix() for d in ("tests", "checks") for p in (REPO_ROOT / d).rglob("test_*.py")
    )
    assert len(files) > 60
    lanes = {path: test_lanes.lane_of(path) for path in files}
    assert set(lanes.values()) == set(test_lanes.LANE_NAMES)  # no lane is empty
    marking = re.compile(r"^(pytestmark = .*|@)pytest\.mark\.lifecycle\b", re.M)
    marked = sorted(path for path in files if marking.search((REPO_ROOT / path).read_text()))
    assert marked
    assert marked == sorted(path for path, lane in lanes.items() if lane == "lifecycle")


@pytest.mark.slow  # a fresh process
def test_make_targets_run_the_lanes() -> None:
    """`make test` is every lane; `make test-fast` the five lanes without Terraform, the emulator
    and the CDK CLI, without their `slow` tests. Dry run, installs skipped (`-o test-setup`)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", "test-setup", "test", "test-fast", "bench-tests"],
        cwd=REPO_ROOT,
        env={**os.environ, "HEBO_CDK": "cdktf"},  # the default flavour's recipes (.ci/cdktn sets cdktn: another venv)
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [line.strip() for line in done.stdout.splitlines()] == [
        ".venv/bin/python -m tools.test_lanes",
        '.venv/bin/python -m tools.test_lanes --lanes ops,services,policy,stacks,unit -m "not slow"',
        ".venv/bin/python bench/tests.py",
    ]


def _suite(root: Path, failing: str | None = None) -> Path:
    """A pytest.ini and one test file per lane (`failing`: the lane whose test fails)."""
    root.mkdir(exist_ok=True)
    (root / "pytest.ini").write_text("[pytest]\naddopts = -ra\nmarkers =\n    lifecycle: x\n")
    for lane, path in LANE_FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"def test_{lane}():\n    assert {lane != failing}\n\ndef test_{lane}_two():\n    pass\n")
    return root


@pytest.mark.slow  # a fresh process
@pytest.mark.parametrize("lane", sorted(LANE_FILES))
def test_the_plugin_keeps_only_its_lanes_tests(lane: str, tmp_path: Path) -> None:
    _suite(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tools.test_lanes", "--lane", lane, "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("2 passed in ")  # the other files not even collected
    assert test_lanes.counts(done.stdout) == {"passed": 2}


def _run_lanes(suite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.test_lanes",
            "--lane-logs",
            str(suite / "logs"),
            *args,
            f"--rootdir={suite}",
            str(suite),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_runner_runs_every_lane_and_ends_with_the_lanes_line(tmp_path: Path) -> None:
    done = _run_lanes(_suite(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("lanes: ")
    timings = json.loads(last.removeprefix("lanes: "))
    assert list(timings) == [*test_lanes.LANE_NAMES, "total"]
    assert all(0 < timings[lane] <= timings["total"] for lane in test_lanes.LANE_NAMES)
    assert "==> tests: 18 passed" in done.stdout  # two per lane, nine lanes
    for lane in test_lanes.LANE_NAMES:
        assert f"==> lane {lane}: ok: 2 passed in " in done.stdout
    # each lane's JUnit XML, as bench/tests.py reads it: the lane's own two tests
    times = bench_tests.test_times(tmp_path / "logs" / "emulator.xml")
    assert sorted(times) == [
        "tests/terraform/test_emulator_calls.py::test_emulator",
        "tests/terraform/test_emulator_calls.py::test_emulator_two",
    ]


@pytest.mark.slow
def test_a_failing_lane_fails_the_run_and_shows_its_failure(tmp_path: Path) -> None:
    done = _run_lanes(_suite(tmp_path, failing="lifecycle"), "--lanes", "lifecycle,unit")
    assert done.returncode == 1
    assert "==> lane lifecycle: FAILED: 1 failed, 1 passed in " in done.stdout
    assert re.search(r"^FAILED \S*tests/terraform/test_preview_lifecycle\.py::test_lifecycle\b", done.stdout, re.M)
    assert "\n>       assert False\nE       assert False\n" in done.stdout  # the lane's FAILURES section
    assert "==> FAILED lanes: lifecycle" in done.stdout
    assert list(json.loads(done.stdout.strip().splitlines()[-1].removeprefix("lanes: "))) == [
        "lifecycle",
        "unit",
        "total",
    ]


@pytest.mark.slow
def test_no_lifecycle_leaves_out_only_that_lane(tmp_path: Path) -> None:
    done = _run_lanes(_suite(tmp_path, failing="lifecycle"), "--no-lifecycle")
    assert done.returncode == 0, done.stdout
    assert list(json.loads(done.stdout.strip().splitlines()[-1].removeprefix("lanes: "))) == [
        "production",
        "emulator",
        "cli",
        "ops",
        "services",
        "policy",
        "stacks",
        "unit",
        "total",
    ]


@pytest.mark.slow  # a fresh process
def test_an_unknown_lane_is_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.test_lanes", "--lanes", "unit,fast"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "test_lanes: error: --lanes 'unit,fast': unknown fast; allowed: lifecycle, production, emulator, cli, ops, services, policy, stacks, unit"
    )


def test_sections_and_counts_read_a_pytest_output() -> None:
    output = textwrap.dedent(
        """\
        ..s
        =========================== short test summary info ============================
        SKIPPED [1] tests/x.py:3: no npx
        ---------------------------------- terraform checks ----------------------------------
        provider hashicorp/aws 5.100.0
        ================= 2 passed, 1 skipped, 7 deselected, 1 warning in 3.10s =================
        """
    )
    assert test_lanes.counts(output) == {"passed": 2, "skipped": 1, "warnings": 1}
    assert test_lanes.sections(output, ("terraform checks",)) == [
        "---------------------------------- terraform checks ----------------------------------",
        "provider hashicorp/aws 5.100.0",
    ]


# --------------------------------------------------------------------------- the synth cache

_MAKE = """
import sys, time
from pathlib import Path
from tools.synth_cache import cached
def make(target):
    time.sleep(1)
    (target / "out.json").write_text("{}")
    with open(sys.argv[2], "a") as log:
        log.write("made\\n")
print(cached(Path(sys.argv[1]), "synth", {"HEBO_STAGE": "dev"}, make))
"""


@pytest.mark.slow  # a fresh process
def test_two_processes_asking_at_once_synthesize_once(tmp_path: Path) -> None:
    cache, made = tmp_path / "cache", tmp_path / "made.txt"
    argv = [sys.executable, "-c", _MAKE, str(cache), str(made)]
    first, second = (subprocess.Popen(argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2))
    outputs = {first.communicate(timeout=60)[0].strip(), second.communicate(timeout=60)[0].strip()}
    assert outputs == {str(cache / variant_key("synth", {"HEBO_STAGE": "dev"}))}
    assert made.read_text() == "made\n"
    assert (cache / variant_key("synth", {"HEBO_STAGE": "dev"}) / "out.json").read_text() == "{}"
    assert tally(cache) == {"made": 1, "reused": 1}
    assert len((cache / SYNTH_LOG).read_text().splitlines()) == 2


def test_a_failed_synth_is_made_again_and_keys_differ_by_kind_and_settings(tmp_path: Path) -> None:
    def broken(target: Path) -> None:
        (target / "half.json").write_text("{")
        raise RuntimeError("synth failed")

    with pytest.raises(RuntimeError, match="synth failed"):
        cached(tmp_path, "synth", {"HEBO_STAGE": "dev"}, broken)
    out = cached(tmp_path, "synth", {"HEBO_STAGE": "dev"}, lambda target: (target / "ok.json").write_text("{}"))
    assert sorted(p.name for p in out.iterdir()) == [".done", "ok.json"]
    assert tally(tmp_path) == {"made": 1, "reused": 0}
    keys = {variant_key("synth", {"HEBO_STAGE": "dev"}), variant_key("workspace", {"HEBO_STAGE": "dev"})}
    keys.add(variant_key("synth", {"HEBO_STAGE": "dev", "HEBO_BACKEND": "local"}))
    assert len(keys) == 3
    assert variant_key("synth", {"A": "1", "B": "2"}) == variant_key("synth", {"B": "2", "A": "1"})


def test_the_session_fixtures_share_the_runs_cache(synth_root: Path, dev) -> None:
    """`dev` came from the cache: its directory is one of the cache's, and the log says so."""
    assert dev.outdir.parent == synth_root and (dev.outdir / ".done").is_file()
    assert dev.outdir.name == variant_key("synth", {"HEBO_STAGE": "dev"})
    if os.environ.get("HEBO_TEST_SYNTH_CACHE"):
        assert Path(os.environ["HEBO_TEST_SYNTH_CACHE"]) == synth_root


# --------------------------------------------------------------------------- the benchmarks


def test_bench_table_and_slowest_columns() -> None:
    assert bench_tests.table({"lifecycle": 1100.4, "unit": 50.2}, {"unit": 120.0, "cli": 80.0}, (1101.0, 1400.0)) == [
        "lane           lanes run s   serial run s",
        "lifecycle             1100              -",
        "cli                      -             80",
        "unit                    50            120",
        "wall                  1101           1400",
    ]
    rows = bench_tests.slowest({"a::t": 3.0, "b::t": 9.0}, {"a::t": 4.0})
    assert rows[1].split() == ["9.0", "b::t", "4.0", "a::t"] and rows[2].split() == ["3.0", "a::t"]
    assert bench_tests.by_lane(
        {"tests/unit/test_stage.py::x": 1.5, "tests/unit/test_cli.py::y": 2.0, "tests/unit/test_stage.py::z": 1.0}
    ) == {
        "unit": 2.5,
        "cli": 2.0,
    }


def test_floor_is_the_longest_chain_of_waits() -> None:
    stack = {
        "resource": {
            "aws_vpc": {"vpc": {"cidr_block": "10.0.0.0/16"}},
            "aws_subnet": {"a": {"vpc_id": "${aws_vpc.vpc.id}"}},
            "aws_instance": {"nat": {"subnet_id": "${aws_subnet.a.id}", "ami": "${data.aws_ami.al.id}"}},
            "aws_kms_key": {"key": {}},
            "aws_route53_record": {"r": {"depends_on": ["aws_kms_key.key"]}},
        },
        "data": {"aws_ami": {"al": {}}},
    }
    graph = lifecycle_floor.dependencies(stack)
    assert graph == {
        "aws_vpc.vpc": set(),
        "aws_subnet.a": {"aws_vpc.vpc"},
        "aws_instance.nat": {"aws_subnet.a", "data.aws_ami.al"},
        "aws_kms_key.key": set(),
        "aws_route53_record.r": {"aws_kms_key.key"},
        "data.aws_ami.al": set(),
    }
    durations = {
        "aws_vpc.vpc": 20,
        "aws_subnet.a": 1,
        "aws_instance.nat": 11,
        "aws_kms_key.key": 13,
        "aws_route53_record.r": 17,
    }
    assert lifecycle_floor.critical_path(durations, graph) == (
        32,
        ["aws_vpc.vpc 20s", "aws_subnet.a 1s", "aws_instance.nat 11s"],
    )
    assert lifecycle_floor.seconds("1m5s") == 65 and lifecycle_floor.resource_key('aws_subnet.a["x"]') == "aws_subnet.a"


def _transcript(path: Path, commands: list[tuple[str, str, int, int, str]]) -> Path:
    """A HEBO_TF_TRANSCRIPT file: one line per (directory, command, started, ended, stdout)."""
    path.write_text(
        "".join(
            json.dumps({"cwd": c, "argv": ["terraform", v], "started": s, "ended": e, "exit": 0, "stdout": o}) + "\n"
            for c, v, s, e, o in commands
        )
    )
    return path


FLOOR_COMMANDS = [
    (
        "network",
        "apply",
        0,
        40,
        "aws_vpc.a: Creation complete after 20s [id=vpc-1]\naws_subnet.b[0]: Creation complete after 1s\n"
        "aws_subnet.b[1]: Creation complete after 3s\naws_instance.x: Destruction complete after 5s\n"
        "aws_instance.x: Creation complete after 7s\naws_eip.y: Destruction complete after 4s",
    ),
    ("compute", "apply", 41, 80, "aws_lb.c: Creation complete after 1m5s"),
    ("edge", "apply", 42, 90, "aws_cloudfront_distribution.d: Creation complete after 45s"),
    ("data", "plan", 91, 99, "Plan: 1 to add"),
]
"""A lifecycle's commands by hand: network alone, then compute and edge at once, then a plan."""


def test_floor_reads_a_transcript_and_groups_what_overlapped(tmp_path: Path) -> None:
    lines = [(f"lifecycle-pr-42/scan/stacks/{s}", *rest) for s, *rest in FLOOR_COMMANDS]
    lines.append(("production-plan/scan/stacks/dns", "apply", 0, 9, "aws_kms_key.k: Creation complete after 13s"))
    commands = lifecycle_floor.read_commands(_transcript(tmp_path / "t.jsonl", lines), "lifecycle-")
    assert [(c.stack, c.verb, c.durations) for c in commands] == [
        # instances of a block side by side (the longest), a replacement's create, a removal's destroy
        ("network", "apply", {"aws_vpc.a": 20, "aws_subnet.b": 3, "aws_instance.x": 7, "aws_eip.y": 4}),
        ("compute", "apply", {"aws_lb.c": 65}),
        ("edge", "apply", {"aws_cloudfront_distribution.d": 45}),
        ("data", "plan", {}),
    ]
    assert [[c.stack for c in group] for group in lifecycle_floor.overlapping(commands)] == [
        ["network"],
        ["compute", "edge"],
        ["data"],
    ]


@pytest.mark.slow
def test_bench_runs_the_lanes_and_the_serial_suite_side_by_side(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite")
    done = subprocess.run(
        [sys.executable, "bench/tests.py", "--out", str(tmp_path / "out"), "--", f"--rootdir={suite}", str(suite)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line.strip()}
    assert rows["lane"] == ["lanes", "run", "s", "serial", "run", "s"]
    for lane in test_lanes.LANE_NAMES:  # a lanes-run wall time and a serial-run sum for every lane
        assert len(rows[lane]) == 2 and all(re.fullmatch(r"\d+", cell) for cell in rows[lane]), rows[lane]
    assert re.search(r"^slowest, lanes run +slowest, serial run$", done.stdout, re.M)
    slow_rows = done.stdout.split("slowest, serial run\n", 1)[1].strip().splitlines()
    assert len(slow_rows) == 10 and all(row.count("tests/") == 2 for row in slow_rows)
    assert (tmp_path / "out" / "serial.xml").is_file() and (tmp_path / "out" / "lanes" / "unit.log").is_file()


@pytest.mark.slow
def test_floor_of_a_recorded_transcript(tmp_path: Path) -> None:
    """Sequential commands add up, overlapping ones count by the longest; plans wait for nothing."""
    stacks = tmp_path / "lifecycle-pr-42" / "pr-42" / "scan" / "stacks"
    transcript = _transcript(tmp_path / "transcript.jsonl", [(str(stacks / s), *rest) for s, *rest in FLOOR_COMMANDS])
    done = subprocess.run(
        [sys.executable, "bench/lifecycle_floor.py", str(transcript), "--lane-seconds", "170"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "floor (sum of the critical paths of the provider's waiters): 85 s" in done.stdout  # 20 + max(65, 45)
    assert "lane 170 s = 2.00 x the floor" in done.stdout
    assert "Terraform commands: 4; first start to last end 99 s" in done.stdout


def test_named_files_start_only_the_lanes_that_own_them() -> None:
    """`make test ARGS=tests/unit/test_docs.py` runs that file in its lane only (it ran in all nine);
    a directory starts every lane that owns a file under it; `-k` names no path: every lane."""
    assert test_lanes.lanes_for_paths(["tests/unit/test_docs.py", "-q"]) == {"unit"}
    assert test_lanes.lanes_for_paths(["tests/terraform/test_emulator_idempotency.py::test_x"]) == {"emulator"}
    assert test_lanes.lanes_for_paths(["tests/terraform"]) == {"lifecycle", "production", "emulator", "cli"}
    assert test_lanes.lanes_for_paths(["-k", "compute"]) is None
    assert test_lanes.lanes_for_paths(["checks"]) == set()  # only a README in a fresh clone


@pytest.mark.slow  # a fresh process
def test_a_named_file_of_another_lane_is_deselected_by_the_plugin() -> None:
    """pytest collects a file named on its command line without asking `pytest_ignore_collect`:
    the ops lane must still not run a unit file (it did, so `make test ARGS=<file>` ran it nine times)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tools.test_lanes", "--lane", "ops", "-q", "-p", "no:cacheprovider"]
        + ["tests/unit/test_docs.py"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 5, done.stdout + done.stderr  # 5: no test left to run
    assert done.stdout.strip().splitlines()[-1].startswith("2 deselected in ")

"""The quick start: exactly two commands on a fresh machine, the ones CI runs; `make synth`
installs no test tooling; `make help` lists every documented target."""

from __future__ import annotations

import re
import sys
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def quick_start_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start (fresh machine)\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)[:1]
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_quick_start_is_the_two_commands_ci_runs() -> None:
    assert quick_start_commands() == ["make synth", "make test"]
    ci = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("make ")]
    assert ci == quick_start_commands()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_help_lists_every_documented_target() -> None:
    result = subprocess.run(
        [MAKE, "--no-print-directory", "help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  make (\S+)\s+\S", result.stdout, re.M)
    documented = re.findall(r"^([a-z][a-z-]*):.*## ", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert listed == documented and {"help", "setup", "synth", "test"} <= set(listed)


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_synth_installs_no_test_tooling() -> None:
    """Dry run (`make -n`) from a state where nothing is installed: checkov appears only for `make test`."""

    def plan(target: str) -> str:
        result = subprocess.run(
            [MAKE, "--no-print-directory", "-n", "-B", target],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    synth, test = plan("synth"), plan("test")
    assert "pipenv sync --dev" in synth and "npm ci" in synth and ".venv/bin/python main.py" in synth
    assert "checkov" not in synth
    assert "checkov-requirements.txt" in test and "tools.test_lanes" in test  # the lanes runner starts pytest
    assert "--quiet" not in synth + test  # installs show their progress


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_synth_names_each_missing_tool_in_one_line(tmp_path: Path) -> None:
    """`make setup` (so `make synth`) starts with tools/prerequisites.sh: on a machine with no
    Node.js and no Python 3.11, one line for each, naming what to install, and no install step.
    Run in a copy of the Makefile and tools/ (a fresh clone has no node_modules/.bin/node)."""
    clone = tmp_path / "clone"
    (clone / "tools").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "Makefile", clone / "Makefile")
    for script in ("prerequisites.sh", "step.sh"):
        shutil.copy2(REPO_ROOT / "tools" / script, clone / "tools" / script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "bash", "dirname", "cat"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(
        [MAKE, "--no-print-directory", "synth", "PYTHON=python3"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: make synth needs python3 (Python 3.11): install it (Debian/Ubuntu: apt install python3.11 python3.11-venv), or pass PYTHON=/path/to/python3.11",
        "error: make synth needs Node.js (20 or newer) and npm: install them (https://nodejs.org, or Debian/Ubuntu: apt install nodejs npm)",
    ]
    assert re.search(r"^make: \*\*\* \[Makefile:\d+: prerequisites\] Error 1$", result.stderr, re.M), result.stderr


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_prerequisites_pass_here_and_name_an_old_python(tmp_path: Path) -> None:
    ok = subprocess.run(
        [str(REPO_ROOT / "tools" / "prerequisites.sh"), sys.executable], capture_output=True, text=True, timeout=60
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    python39 = tmp_path / "python3.9"  # answers the two questions the script asks as Python 3.9 would
    python39.write_text('#!/bin/sh\ncase "$2" in *version_info*) exit 1;; *python_version*) echo 3.9.2;; esac\n')
    python39.chmod(0o755)
    old = subprocess.run(
        [str(REPO_ROOT / "tools" / "prerequisites.sh"), str(python39)], capture_output=True, text=True, timeout=60
    )
    assert old.returncode == 1
    assert (
        old.stderr
        == f"error: make synth needs Python 3.11 or newer, {python39} is 3.9.2: install python3.11 and pass PYTHON=python3.11\n"
    )


def test_install_steps_are_quiet_and_show_progress(tmp_path: Path) -> None:
    """tools/step.sh: name, a progress line per tick, the time; the command's output only on
    failure (its tail) or with VERBOSE=1."""
    step = str(REPO_ROOT / "tools" / "step.sh")
    env = {"PATH": "/usr/bin:/bin", "STEP_TICK": "1", "TMPDIR": str(tmp_path)}
    quiet = subprocess.run(
        [step, "demo", "echo probing", "--", "sh", "-c", "echo noisy fetch line; sleep 2.5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.returncode == 0
    lines = quiet.stdout.splitlines()
    assert lines[0] == "==> demo" and re.fullmatch(r"==> demo: done in [2-9] s", lines[-1]), (
        lines
    )  # a 2.5 s step: 2-3 s, more on a loaded machine (it once took 4 s in CI)
    assert 1 <= len(lines[1:-1]) <= 3 and all(
        re.fullmatch(r"    \.\.\. \d s: probing", line) for line in lines[1:-1]
    ), lines
    assert "noisy" not in quiet.stdout + quiet.stderr
    failed = subprocess.run(
        [step, "demo", "echo probing", "--", "sh", "-c", "echo the reason; exit 7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 7 and failed.stdout == "==> demo\n"
    assert failed.stderr == "==> demo FAILED (exit 7); its last output:\nthe reason\n"
    verbose = subprocess.run(
        [step, "demo", "echo probing", "--", "echo", "all of it"],
        env={**env, "VERBOSE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verbose.stdout.splitlines()[:2] == ["==> demo", "all of it"]
    assert list(tmp_path.iterdir()) == []  # no log file left behind

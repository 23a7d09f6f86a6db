"""The quick start: exactly two commands on a fresh machine, the ones CI runs; `make synth`
installs no test tooling; `make help` lists every documented target."""

from __future__ import annotations

import re
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
    result = subprocess.run([MAKE, "--no-print-directory", "help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  make (\S+)\s+\S", result.stdout, re.M)
    documented = re.findall(r"^([a-z][a-z-]*):.*## ", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert listed == documented and {"help", "setup", "synth", "test"} <= set(listed)


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_make_synth_installs_no_test_tooling() -> None:
    """Dry run (`make -n`) from a state where nothing is installed: checkov appears only for `make test`."""
    def plan(target: str) -> str:
        result = subprocess.run(
            [MAKE, "--no-print-directory", "-n", "-B", target], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    synth, test = plan("synth"), plan("test")
    assert "pipenv sync --dev" in synth and "npm ci" in synth and ".venv/bin/python main.py" in synth
    assert "checkov" not in synth
    assert "checkov-requirements.txt" in test and "pytest" in test
    assert "--quiet" not in synth + test  # installs show their progress

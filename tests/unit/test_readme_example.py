"""README.md's "Writing your own assertions" example, extracted and run as a user would run it.

It runs in a fresh pytest process from a directory outside `tests/` (so this suite's conftest
does not prepare the jsii kernel) with only the repository on PYTHONPATH, on the flavour of this
run (HEBO_CDK): `from hebo_testing import Testing` must work on cdktf and cdktn alike and
prepare the kernel itself (no `JsiiKernelAlreadyRunning` warning).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from modules.cdk_flavour import without_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def readme_example() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("\n## Writing your own assertions\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if b.startswith("# checks/test_")]
    assert len(blocks) == 1, "the section has exactly one complete test file (`# checks/test_….py`)"
    return blocks[0]


def test_example_is_a_complete_test_file() -> None:
    example = readme_example()
    assert example.splitlines()[1] == "from hebo_testing import Testing, build_stack, lacks_resource_with_properties"
    assert "Testing.synth(" in example and "Testing.to_have_resource_with_properties(" in example
    assert len(re.findall(r"^def test_", example, re.M)) == 2


@pytest.mark.slow
def test_readme_example_passes(tmp_path: Path) -> None:
    test_file = tmp_path / "test_my_rules.py"
    test_file.write_text(readme_example())
    env = without_settings(os.environ, also=("PYTEST_",))
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(test_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^2 passed in ", result.stdout, re.M), result.stdout  # no warning at all

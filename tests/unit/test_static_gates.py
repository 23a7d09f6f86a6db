"""Static gates, so `make test` runs them: ruff (lint and format check) and mypy over the project's
own code with the committed configuration (pyproject.toml), every suppression specific and
explained, and a docstring on every public class of config/, ops/, tools/, stacks/ and the
top-level modules.

The tools are pinned in the Pipfile's [dev-packages] and run from this interpreter's environment.
"""

from __future__ import annotations

import ast
import hashlib
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

PENDING_MERGE = {"tools/moto_emulator.py"}
"""MERGE NOTE: owned by the lifecycle branch while these gates land (its suppressions and its one
public class without a docstring are that branch's to explain); remove it from here after merging."""

SUPPRESSION = re.compile(r"#\s*(?:type:\s*ignore|noqa)\b.*$")
EXPLAINED = re.compile(
    r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S.{8,}"
    r"|#\s*noqa:\s*[A-Z]+[0-9]+(?:,\s*[A-Z]+[0-9]+)*\s+(?:[-(#]|\u2014)\s*\S.{8,}"
)
"""A suppression names its codes and then says why in words (at least ten characters): the mypy
form is the ignore with its codes in brackets, then a second comment with the reason; the ruff
form is the codes after the colon, then the reason after a dash, an opening parenthesis or a `#`."""

DOCUMENTED_PACKAGES = ("config", "ops", "tools", "stacks", "bench", "lambdas")
DOCUMENTED_MODULES = ("main.py", "hebo_testing.py", "hcl_output.py")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def _tracked_python() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    files = [f for f in listed.stdout.split() if (REPO_ROOT / f).is_file()]
    assert len(files) > 100, files  # the whole project, not an empty listing
    return files


def test_ruff_lint_passes() -> None:
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_check_passes() -> None:
    """The lead formats the merged tree once (`ruff format .`); from then on this keeps it so."""
    result = _run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, "\n".join((result.stdout + result.stderr).splitlines()[-20:])


def test_mypy_passes() -> None:
    """mypy's incremental cache lives in the git-ignored build/, one per virtualenv (the flavours'
    packages differ): a warm run re-checks only what changed (about 1 s instead of 10), with the
    same result (https://mypy.readthedocs.io/en/stable/additional_features.html#incremental-mode)."""
    cache = REPO_ROOT / "build" / f"mypy-cache-{hashlib.sha256(sys.prefix.encode()).hexdigest()[:12]}"
    result = _run("mypy", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_lint_gate_can_fail(tmp_path: Path) -> None:
    """The configuration really lints: an unused import and a blanket noqa are reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx = 1  # noqa\n")
    result = _run("ruff", "check", "--no-cache", "--config", str(REPO_ROOT / "pyproject.toml"), str(bad))
    assert result.returncode == 1
    assert "F401" in result.stdout and "PGH004" in result.stdout, result.stdout


def _comments(name: str) -> list[tuple[int, str]]:
    """(line, text) of every comment token of a file (strings that merely contain `#` are not comments)."""
    with tokenize.open(REPO_ROOT / name) as handle:
        return [(t.start[0], t.string) for t in tokenize.generate_tokens(handle.readline) if t.type == tokenize.COMMENT]


def test_every_suppression_names_its_codes_and_a_reason() -> None:
    found, unexplained = 0, []
    for name in _tracked_python():
        if name in PENDING_MERGE:
            continue
        for number, comment in _comments(name):
            match = SUPPRESSION.search(comment)
            if match:
                found += 1
                if not EXPLAINED.search(match.group(0)):
                    unexplained.append(f"{name}:{number}: {match.group(0)}")
    assert found >= 10  # the scan sees the suppressions that exist (there are more than ten)
    assert unexplained == []


@pytest.mark.parametrize(
    ("comment", "explained"),
    [
        ("# type: ignore[misc]  # frozen on purpose: the test expects it to fail", True),
        ("# noqa: E402  (needs the sys.path entry above)", True),
        ("# noqa: E731 - a one-line local projection", True),
        ("# type: ignore[misc]", False),
        ("# type: ignore  # no code given, whatever the reason", False),
        ("# noqa: E402", False),
        ("# noqa", False),
    ],
)
def test_suppression_rule(comment: str, explained: bool) -> None:
    assert bool(EXPLAINED.search(comment)) is explained


def test_every_public_class_has_a_docstring() -> None:
    checked, missing = 0, []
    for name in _tracked_python():
        if not (name.startswith(tuple(f"{p}/" for p in DOCUMENTED_PACKAGES)) or name in DOCUMENTED_MODULES):
            continue
        if name in PENDING_MERGE:
            continue
        for node in ast.walk(ast.parse((REPO_ROOT / name).read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                checked += 1
                if not ast.get_docstring(node):
                    missing.append(f"{name}:{node.lineno}: {node.name}")
    assert checked >= 40
    assert missing == []

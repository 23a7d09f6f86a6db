"""The project's own Python files, for whole-code checks (tests/unit/test_imports.py,
tests/unit/test_flavours.py)."""

from __future__ import annotations

import os
from pathlib import Path

NOT_OURS = frozenset(
    {".venv", ".venv-checkov", ".venv-awscli", ".venv-tools", "node_modules", "build", "cdktf.out", ".git", "flavours"}
)
"""Directories whose Python files are installed packages or build output (flavours/cdktn/.venv too):
never entered, so another run's temporary directories under build/ appearing or vanishing meanwhile
cannot fail a walk (a CI run with `.ci/cdktn` alongside removed one under it)."""


def project_python_files(root: Path) -> list[Path]:
    """Every `*.py` under `root` outside NOT_OURS, sorted; the walk prunes those directories."""
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in NOT_OURS)
        found += [Path(directory) / f for f in files if f.endswith(".py")]
    return sorted(found)

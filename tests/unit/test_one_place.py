"""Each platform fact is stated once in the project's code (tests restate facts by hand on purpose):
the stack list, the security-group roles and the Aurora password rule. A second copy would drift."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

FACTS = {
    "the stack list": ("dns", "network", "data", "compute", "edge"),
    "the exportable security-group roles": ("alb", "service", "database", "migrator", "bastion", "db-proxy"),
}
"""Literal tuples that must appear in exactly one place (config/naming.py, config/topology.py)."""


def _project_sources() -> dict[str, ast.Module]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    files = [f for f in listed.stdout.split() if not f.startswith("tests/") and (REPO_ROOT / f).is_file()]
    assert len(files) > 50
    return {f: ast.parse((REPO_ROOT / f).read_text()) for f in files}


def _string_tuples(tree: ast.Module) -> list[tuple[str, ...]]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, (ast.Tuple, ast.List))
            and node.elts
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)
        ):
            found.append(tuple(e.value for e in node.elts))
    return found


@pytest.mark.parametrize("fact", FACTS)
def test_fact_is_stated_once(fact: str) -> None:
    wanted = set(FACTS[fact])
    places = [name for name, tree in _project_sources().items() for t in _string_tuples(tree) if set(t) >= wanted]
    assert len(places) == 1, f"{fact} is stated in {places}: state it once and import it"


def test_password_rule_is_stated_once() -> None:
    """The forbidden characters and the length bounds live in config/secrets.py; the data stack's
    Terraform validation is built from them (no regex of its own)."""
    offenders = [
        name
        for name, tree in _project_sources().items()
        if name != "config/secrets.py"
        and any(isinstance(n, ast.Constant) and isinstance(n.value, str) and '/\\"@' in n.value for n in ast.walk(tree))
    ]
    assert offenders == []
    from config.secrets import db_password_condition

    assert db_password_condition("db_password") == (
        '${length(var.db_password) >= 8 && length(var.db_password) <= 41 && can(regex("^[ -~]+$", var.db_password))'
        ' && !can(regex("[/\\"@]", var.db_password))}'
    )

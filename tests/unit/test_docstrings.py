"""Every public class, function and method in modules/, stacks/, config/ and ops/ says what it
is, and every field of a class (props, outputs, settings, policy) says what it holds (units,
limits, the default's behaviour): a construct's props are its manual, and so are the stage
policy, the names and the settings."""

from __future__ import annotations

import ast
from pathlib import Path

from config.settings import SETTINGS

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("modules", "stacks", "config", "ops")
FIELDS_DOCUMENTED_BY_SETTINGS = {"config/settings.py:Settings"}
"""Classes whose fields named like a `SETTINGS` key are documented by that row (variable, default,
allowed values, meaning: the README's settings table), not a second time beside the field."""


def _is_docstring(node: ast.stmt | None) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _class_members(where: str, node: ast.ClassDef, missing: list[str], counts: dict[str, int]) -> None:
    """Record the public fields (annotated class attributes) and methods of `node` lacking a docstring."""
    for index, statement in enumerate(node.body):
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
            if name.startswith("_"):
                continue
            counts["fields"] += 1
            following = node.body[index + 1] if index + 1 < len(node.body) else None
            by_settings = f"{where}:{node.name}" in FIELDS_DOCUMENTED_BY_SETTINGS and name in SETTINGS
            if not _is_docstring(following) and not by_settings:
                missing.append(f"{where}:{node.name}.{name}")
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and not statement.name.startswith("_"):
            counts["methods"] += 1
            if ast.get_docstring(statement) is None:
                missing.append(f"{where}:{node.name}.{statement.name}")


def _check_module(where: str, tree: ast.Module, missing: list[str], counts: dict[str, int]) -> None:
    """Record the public functions, classes and class members of one module lacking a docstring."""
    for function in tree.body:
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and not function.name.startswith("_"):
            counts["functions"] += 1
            if ast.get_docstring(function) is None:
                missing.append(f"{where}:{function.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            counts["classes"] += 1
            if ast.get_docstring(node) is None:
                missing.append(f"{where}:{node.name}")
            _class_members(where, node, missing, counts)


def _undocumented() -> tuple[list[str], dict[str, int]]:
    """(`<path>:<what>` lacking a docstring, counts of what was checked, per kind and package)."""
    missing: list[str] = []
    counts = {"classes": 0, "fields": 0, "methods": 0, "functions": 0, **{package: 0 for package in PACKAGES}}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            where = path.relative_to(REPO_ROOT).as_posix()
            counts[package] += 1
            _check_module(where, ast.parse(path.read_text()), missing, counts)
    return missing, counts


def test_every_public_class_field_method_and_function_is_documented() -> None:
    missing, counts = _undocumented()
    assert all(counts[package] >= 5 for package in PACKAGES), counts
    assert counts["classes"] >= 100 and counts["fields"] >= 450, counts
    assert counts["methods"] >= 100 and counts["functions"] >= 100, counts
    assert missing == []


def test_settings_fields_are_documented_by_their_settings_row() -> None:
    """The fields the test above lets `SETTINGS` document have a non-empty meaning and rule there."""
    documented = [key for key in SETTINGS if SETTINGS[key].doc.strip() and SETTINGS[key].context_key == key]
    assert len(documented) == len(SETTINGS) >= 30


def test_the_check_sees_a_missing_docstring(tmp_path: Path) -> None:
    """A props field, a class, a method and a function without a docstring are each reported."""
    source = (
        "from dataclasses import dataclass\n"
        "@dataclass\nclass Props:\n    '''Props.'''\n    size_mib: int\n    name: str\n    '''Documented.'''\n"
        "class Bare:\n    def run(self) -> None:\n        pass\n"
        "def helper() -> None:\n    pass\n"
    )
    missing: list[str] = []
    counts = {"classes": 0, "fields": 0, "methods": 0, "functions": 0}
    _check_module("x.py", ast.parse(source), missing, counts)
    assert missing == ["x.py:helper", "x.py:Props.size_mib", "x.py:Bare", "x.py:Bare.run"]
    assert counts == {"classes": 2, "fields": 2, "methods": 1, "functions": 1}

"""Import rules: cdktf/cdktn and the prebuilt providers are imported in exactly one place
(modules/cdk.py), and the layering contracts of .importlinter hold.

modules/cdk.py configures the jsii kernel (lazy provider loading, Node 22) before the first jsii
import, and it picks the CDK flavour (HEBO_CDK): nothing else may import either binding.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from project_files import project_python_files

from modules.cdk_flavour import FLAVOURS

REPO_ROOT = Path(__file__).resolve().parents[2]
JSII_PACKAGES = sorted({"constructs", "jsii", *(p for f in FLAVOURS.values() for p in (f.core, f.aws, f.docker))})
"""Every jsii package either flavour installs (core, the two providers), constructs and jsii."""
DIRECT_IMPORT = re.compile(rf"^\s*(from|import)\s+({'|'.join(JSII_PACKAGES)})\b", re.M)


@pytest.mark.parametrize(
    ("line", "direct"),
    [
        ("from cdktf import Testing", True),
        ("import cdktn", True),
        ("    from cdktn import TerraformStack", True),
        ("from cdktn_provider_aws import vpc", True),
        ("import cdktf_cdktf_provider_docker.provider", True),
        ("from constructs import Construct", True),
        ("from modules.cdk import Testing", False),
        ("from hebo_testing import Testing, build_stack", False),
        ("import cdktn_helpers", False),
    ],
)
def test_direct_import_rule_knows_both_flavours(line: str, direct: bool) -> None:
    assert bool(DIRECT_IMPORT.match(line)) is direct


USER_TEST_IMPORTS = ("from cdktf import Testing", "from cdktn import Testing")
"""The one direct import a user's test file may make."""


def test_only_modules_cdk_imports_jsii_packages() -> None:
    offenders, checked = [], 0
    for path in project_python_files(REPO_ROOT):
        relative = path.relative_to(REPO_ROOT)
        if relative == Path("modules/cdk.py"):
            continue
        checked += 1
        lines = [m.group(0) for m in re.finditer(r"^.*$", path.read_text(), re.M) if DIRECT_IMPORT.match(m.group(0))]
        if relative.name.startswith("test_"):
            # A platform engineer's own test file anywhere in the checkout (tests/, checks/, ...) may
            # import Testing the way cdktf's and cdktn's docs show: the root conftest.py imports
            # modules.cdk first, so the kernel is configured anyway (README, "Writing your own assertions").
            lines = [line for line in lines if line.strip() not in USER_TEST_IMPORTS]
        if lines:
            offenders.append(str(relative))
    assert checked > 100  # the app, tools and tests were read
    assert offenders == [], (
        f"import cdktf/cdktn/constructs/providers through modules.cdk (or hebo_testing) only: {offenders}"
    )


# -- the layering (.importlinter) ------------------------------------------------------------------
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
STACK_MODULES = ("dns", "network", "data", "compute", "edge")
"""Modules of stacks/ that define a stack; base.py and backends.py are what every stack builds on."""


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache", "--no-logo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_contracts_are_kept() -> None:
    """modules, config and lambdas import neither each other nor anything above; ops imports no
    stack or construct; no cycles (the contracts in .importlinter)."""
    result = _lint_imports(REPO_ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 kept, 0 broken" in result.stdout


def test_import_contracts_see_the_real_imports(tmp_path: Path) -> None:
    """A contract the code breaks (stacks import modules) is reported broken, naming an import."""
    config = tmp_path / "broken.ini"
    shutil.copy(REPO_ROOT / ".importlinter", config)
    with config.open("a") as handle:
        handle.write(
            "\n[importlinter:contract:canary]\nname = canary\ntype = forbidden\n"
            "source_modules =\n    stacks.data\nforbidden_modules =\n    modules.database\n"
        )
    result = _lint_imports(config)
    assert result.returncode == 1
    assert "canary BROKEN" in result.stdout and "stacks.data -> modules.database" in result.stdout


def test_stacks_import_each_other_only_for_outputs() -> None:
    """A stack may name another stack's `*Outputs` type (its cross-stack interface), nothing else."""
    checked, offenders = 0, []
    for path in sorted((REPO_ROOT / "stacks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                offenders += [f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("stacks.")]
            elif isinstance(node, ast.ImportFrom) and node.module == "stacks":
                offenders += [f"{path.name}: from stacks import {a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").removeprefix("stacks.") in STACK_MODULES:
                checked += 1
                offenders += [
                    f"{path.name}: {node.module}.{a.name}" for a in node.names if not a.name.endswith("Outputs")
                ]
    assert checked == 3, "compute imports NetworkOutputs and DataOutputs, data imports NetworkOutputs"
    assert offenders == []


MAX_FUNCTION_LINES = 60
"""Constructors read as steps (`_validate`, then `_create_*`) and stacks only compose: a longer
function in modules/, stacks/, config/ or ops/ is a named step (or a construct) waiting to be
extracted."""
FUNCTION_LENGTH_DIRS = ("modules", "stacks", "config", "ops")


def _function_lengths() -> dict[str, int]:
    """`<path>:<function>` → lines (decorators excluded) of every function and method, nested ones too."""
    import ast

    lengths = {}
    for top in FUNCTION_LENGTH_DIRS:
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    where = f"{path.relative_to(REPO_ROOT).as_posix()}:{node.name}"
                    lengths[where] = max(lengths.get(where, 0), node.end_lineno - node.lineno + 1)
    return lengths


def test_no_function_in_modules_stacks_config_or_ops_is_longer_than_60_lines() -> None:
    lengths = _function_lengths()
    for top in FUNCTION_LENGTH_DIRS:
        assert sum(where.startswith(f"{top}/") for where in lengths) >= 20, f"{top}/ was read"
    too_long = {where: n for where, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert too_long == {}, f"split these into named steps (`_validate`, `_create_*`) or constructs: {too_long}"


def test_modules_raise_only_their_validation_error() -> None:
    """A construct refuses bad props with `ValidationError` (modules/errors.py), naming itself and the
    prop; no other exception type is raised in modules/ (modules/cdk.py, the jsii loader, aside)."""
    import ast

    raised: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "modules").rglob("*.py")):
        if path.name == "cdk.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name):
                raised.setdefault(node.exc.func.id, []).append(path.relative_to(REPO_ROOT).as_posix())
    assert len(raised.get("ValidationError", [])) >= 15
    others = {kind: sorted(set(paths)) for kind, paths in raised.items() if kind != "ValidationError"}
    assert others == {
        # a synthesized backend block that is not one type: not props; a logical id of no path component
        "ValueError": ["modules/logical_ids.py", "modules/terraform_data.py"],
        # programming errors: the stack's construct id is taken; a PrefixingConstruct outside a LogicalIdStack
        "TypeError": ["modules/account.py", "modules/logical_ids.py"],
        "FileNotFoundError": ["modules/service/image.py"],  # context_hash(): a missing build directory
        "CdkFlavourError": ["modules/cdk_flavour.py"],  # HEBO_CDK names no flavour: the environment, not props
    }

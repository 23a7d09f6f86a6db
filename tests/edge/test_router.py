"""Run the CloudFront SPA router's Node tests (tests/edge/router.test.mjs) under pytest."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_NODE = REPO_ROOT / "node_modules" / ".bin" / "node"


def _node() -> str:
    if LOCAL_NODE.exists():
        return str(LOCAL_NODE)
    found = shutil.which("node")
    if found is None:
        pytest.fail("Node.js not found: run `npm ci` (installs node_modules/.bin/node)")
    return found


def test_router_routing_table_passes_on_node() -> None:
    result = subprocess.run(
        [_node(), "--test", "--test-reporter=tap", str(Path(__file__).with_name("router.test.mjs"))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # A run that discovers no tests also exits 0: insist the table was really exercised.
    assert "# fail 0" in result.stdout
    passed = int(next(line for line in result.stdout.splitlines() if line.startswith("# pass ")).split()[-1])
    assert passed >= 19, result.stdout

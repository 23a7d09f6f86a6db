"""Loaded by pytest for every test file in this checkout (the suite in tests/ and your own, e.g.
in checks/): puts the repository on sys.path and prepares the jsii kernel before any test file
imports cdktf (`from cdktf import Testing` first would otherwise cost ~10 s per run and a
`JsiiKernelAlreadyRunning` warning; see modules/cdk.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import modules.cdk  # noqa: F401 - imported for its side effect: starts the jsii kernel once

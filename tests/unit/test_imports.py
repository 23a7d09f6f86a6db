"""cdktf and the prebuilt providers are imported in exactly one place (modules/cdk.py).

That module configures the jsii kernel (lazy provider loading, Node 22) before the first jsii
import, and it is the one file to change when moving to CDK Terrain (cdktn).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DIRECT_IMPORT = re.compile(r"^\s*(from|import)\s+(cdktf|constructs|cdktf_cdktf_provider_\w+|jsii)\b", re.M)


def test_only_modules_cdk_imports_jsii_packages() -> None:
    offenders = []
    for path in sorted(REPO_ROOT.glob("**/*.py")):
        relative = path.relative_to(REPO_ROOT)
        if relative.parts[0] in (".venv", ".venv-checkov", "node_modules", "build", "cdktf.out") or relative == Path("modules/cdk.py"):
            continue
        if DIRECT_IMPORT.search(path.read_text()):
            offenders.append(str(relative))
    assert offenders == [], f"import cdktf/constructs/providers through modules.cdk only: {offenders}"

"""The Node-side lazy provider index (modules/jsii_lazy_index.js) is active on every flavour.

The hook leaves an index it does not recognise untouched, so a new package layout would switch it
off silently (synth ~2.5x slower, ~3x the memory). These tests count the provider modules the
jsii kernel actually compiles, shipped against the conventional import in the same run, for each
installed flavour (the active one must be installed), and run the hook on both known layouts.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from modules.cdk_flavour import FLAVOURS, flavour_name, without_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
HOOK = REPO_ROOT / "modules" / "jsii_lazy_index.js"
NODE = REPO_ROOT / "node_modules" / ".bin" / "node"

COUNTER = """
const fs = require("fs"), Module = require("module"), compile = Module.prototype._compile;
let n = 0;
Module.prototype._compile = function (content, filename) {
  if (/[\\\\/]@cdkt[fn][\\\\/]provider-aws[\\\\/]lib[\\\\/]/.test(filename)) fs.writeFileSync(process.env.COUNT_FILE, String(++n));
  return compile.call(this, content, filename);
};
"""
"""Preloaded before modules/cdk.py's hook: counts every compiled file of the AWS provider's
JavaScript (written as it goes: the kernel is killed at the end, not exited)."""

APP = """
import sys
import modules.cdk as cdk
app = cdk.App(outdir=sys.argv[1])
stack = cdk.TerraformStack(app, "s")
cdk.aws.provider.AwsProvider(stack, "aws", region="eu-west-1")
cdk.aws.vpc.Vpc(stack, "vpc", cidr_block="10.0.0.0/16")
app.synth()
"""
"""The smallest app that loads the AWS assembly and two of its classes."""


def compiled_provider_modules(flavour: str, conventional: bool, tmp_path: Path) -> int:
    python = REPO_ROOT / FLAVOURS[flavour].venv / "bin" / "python"
    style = "conventional" if conventional else "shipped"
    counter, count_file = tmp_path / "counter.js", tmp_path / f"{flavour}-{style}.count"
    counter.write_text(COUNTER)
    env = without_settings(os.environ, also=("JSII_", "NODE_OPTIONS"))
    env.update(
        HEBO_CDK=flavour, COUNT_FILE=str(count_file), NODE_OPTIONS=f"--require {counter}", PYTHONPATH=str(REPO_ROOT)
    )
    if conventional:
        env["HEBO_CONVENTIONAL_IMPORTS"] = "1"
    result = subprocess.run(
        [str(python), "-c", APP, str(tmp_path / f"out-{flavour}-{style}")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return int(count_file.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_kernel_compiles_only_the_provider_modules_the_app_uses(flavour: str, tmp_path: Path) -> None:
    venv = REPO_ROOT / FLAVOURS[flavour].venv
    # installed = its core package is in the virtualenv (a setup stopped half-way leaves an empty one)
    if not any(venv.glob(f"lib/python3*/site-packages/{FLAVOURS[flavour].core}/__init__.py")):
        assert flavour != flavour_name(), f"the active flavour {flavour} is not installed"
        pytest.skip(f"{flavour} is not installed (HEBO_CDK={flavour} make setup)")
    conventional = compiled_provider_modules(flavour, conventional=True, tmp_path=tmp_path)
    shipped = compiled_provider_modules(flavour, conventional=False, tmp_path=tmp_path)
    assert conventional > 2000  # every resource module of the provider: the counter sees them
    # index, provider, vpc and their helpers; an inert hook compiles all of `conventional`.
    assert 3 <= shipped <= 20, (flavour, shipped, conventional)


LAYOUTS = {
    "@cdktf/provider-fake": ('exports.vpc = require("./vpc");\nexports.subnet = require("./subnet");\n', "./{}"),
    "@cdktn/provider-fake": (
        'exports.vpc = __importStar(require("./vpc/index"));\n'
        'exports.subnet = __importStar(require("./subnet/index"));\n',
        "./{}/index",
    ),
}
"""Each known index shape (lines copied from the published provider packages) and where the
submodule files live relative to lib/."""

IMPORT_STAR = "var __importStar = (m) => (m && m.__esModule ? m : { default: m });\n"


@pytest.mark.parametrize("package", sorted(LAYOUTS))
def test_hook_turns_each_index_layout_into_getters(package: str, tmp_path: Path) -> None:
    index_lines, submodule = LAYOUTS[package]
    lib = tmp_path / "node_modules" / package / "lib"
    lib.mkdir(parents=True)
    (lib / "index.js").write_text('"use strict";\n' + IMPORT_STAR + index_lines)
    for name in ("vpc", "subnet"):
        path = lib / (submodule.format(name) + ".js")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f'"use strict";\nObject.defineProperty(exports, "__esModule", {{ value: true }});\n'
            f'globalThis.loaded = [...(globalThis.loaded || []), "{name}"];\nexports.Name = "{name}";\n'
        )
    script = (
        f"const index = require({json.dumps(str(lib / 'index.js'))});\n"
        "const before = globalThis.loaded || [];\n"
        "const name = index.vpc.Name;\n"
        "console.log(JSON.stringify({before, after: globalThis.loaded, name, keys: Object.keys(index)}));\n"
    )
    result = subprocess.run(
        [str(NODE), "--require", str(HOOK), "-e", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"before": [], "after": ["vpc"], "name": "vpc", "keys": ["vpc", "subnet"]}

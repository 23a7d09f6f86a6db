"""Terraform itself on the synthesized stacks (tools/terraform_check.py and tools/moto_emulator.py do the work).

Each variant is synthesized once per session, in-process, into `<root>/<variant>/cdktf.out`
under the checkout's git-ignored build/, beside the scan copies Terraform runs in and the
local `terraform-state/` the stack-relative backend paths point at.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from synth_support import synthesize
from tools.synth_cache import cached
from tools.terraform_check import (
    PREBUILT_IMAGES,
    STAGE_VARIANTS,
    ProviderChoice,
    Terraform,
    Workspace,
    required_providers,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
_REPORT: list[str] = []


@pytest.fixture(scope="session")
def tf_root() -> Iterator[Path]:
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="terraform-", dir=REPO_ROOT / "build"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def tf_variant(tf_root: Path, synth_root: Path) -> Callable[..., Workspace]:
    """`tf_variant("pr-42", mode="prebuilt")`: the stage synthesized with the local backend.

    The synth comes from the run's synth cache (`<synth_root>/<key>/cdktf.out`, made once per run,
    tools/synth_cache.py); the workspace (`<tf_root>/<stage>-<mode>`: scan copies, local state) is
    this session's own, its `cdktf.out` a link to the cached synth at the same depth below build/."""
    cache: dict[tuple[str, str], Workspace] = {}

    def get(stage: str, mode: str = "prebuilt") -> Workspace:
        if (stage, mode) not in cache:
            env = {**STAGE_VARIANTS[stage], "HEBO_BACKEND": "local", **(PREBUILT_IMAGES if mode == "prebuilt" else {})}
            synthesized = cached(synth_root, "workspace", env, lambda target: synthesize(env, target / "cdktf.out"))
            root = tf_root / f"{stage}-{mode}"
            root.mkdir(parents=True, exist_ok=True)
            (root / "cdktf.out").symlink_to(synthesized / "cdktf.out", target_is_directory=True)
            cache[(stage, mode)] = Workspace(root=root, env=env)
        return cache[(stage, mode)]

    return get


@pytest.fixture(scope="session")
def terraform_for(tf_root: Path) -> Callable[[Workspace], tuple[Terraform, dict[str, ProviderChoice | None]]]:
    """Terraform with providers for a workspace's pins (chosen once per distinct pin set)."""
    cache: dict[tuple[tuple[str, tuple[str, str]], ...], tuple[Terraform, dict[str, ProviderChoice | None]]] = {}

    def get(workspace: Workspace) -> tuple[Terraform, dict[str, ProviderChoice | None]]:
        pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
        key = tuple(sorted(pins.items()))
        if key not in cache:
            cache[key] = Terraform.prepare(tf_root / f"tf-{len(cache)}", pins)
            for name, choice in sorted(cache[key][1].items()):
                line = choice.describe() if choice else f"{pins[name][0]} {pins[name][1]}: not available"
                if f"provider {line}" not in _REPORT:
                    _REPORT.append(f"provider {line}")
        return cache[key]

    return get


@pytest.fixture(scope="session")
def tf_report() -> Callable[[str], None]:
    """Adds a line to the terminal summary's "terraform checks" section (versions, timings)."""
    return _REPORT.append


def pytest_terminal_summary(terminalreporter) -> None:
    if _REPORT:
        terminalreporter.section("terraform checks")
        for line in _REPORT:
            terminalreporter.write_line(line)

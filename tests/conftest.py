"""Session-wide synth fixtures: each stage (and each configuration variant) is synthesized once.

A full synth costs seconds and hundreds of MB, so tests never synthesize on their own: they
ask for `production`, `preview` or `dev` (or `synth_variant(...)`) and assert on the JSON.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import modules.cdk  # noqa: E402,F401  (before any test module's `from cdktf import Testing`: keeps the jsii kernel's lazy provider loading)
from synth_support import STAGE_NAMES, Synth, load_synth, synthesize  # noqa: E402  (needs the sys.path entry above)
from tools.synth_cache import SYNTH_CACHE_ENV, cached  # noqa: E402  (after the sys.path entry, like the lines above)
from botocore_models import share_parsed_models  # noqa: E402  (tests/ is on sys.path as pytest's rootdir conftest dir)

share_parsed_models()


@pytest.fixture(scope="session")
def synth_root() -> Iterator[Path]:
    """The run's synth cache (tools/synth_cache.py): the directory `SYNTH_CACHE_ENV` names (the lanes
    of `make test` share it), else a new one for this session. Inside the checkout's git-ignored
    build/ (like cdktf.out), so the stack-relative paths of the JSON (`../../../../../docker/example-app`)
    reach the checkout without naming the machine."""
    shared = os.environ.get(SYNTH_CACHE_ENV)
    if shared:
        yield Path(shared)
        return
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hebo-synth-", dir=REPO_ROOT / "build") as root:
        yield Path(root)


@pytest.fixture(scope="session")
def synth_variant(synth_root: Path) -> Callable[..., Synth]:
    """`synth_variant(HEBO_STAGE="pr-42", HEBO_BACKEND="cloud", ...)`: synthesized once per distinct
    env per run (`synth_root`), read once per session."""
    cache: dict[tuple[tuple[str, str], ...], Synth] = {}

    def get(**env: str) -> Synth:
        key = tuple(sorted(env.items()))
        if key not in cache:
            outdir = cached(synth_root, "synth", env, lambda target: synthesize(dict(env), target))
            cache[key] = load_synth(dict(env), outdir)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def production(synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE=STAGE_NAMES["production"])


@pytest.fixture(scope="session")
def preview(synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE=STAGE_NAMES["preview"])


@pytest.fixture(scope="session")
def dev(synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE=STAGE_NAMES["dev"])


@pytest.fixture(scope="session", params=sorted(STAGE_NAMES))
def any_stage(request: pytest.FixtureRequest) -> Synth:
    """Parametrized over production, preview and dev."""
    return request.getfixturevalue(request.param)

"""One parsed copy of each botocore data file per test process.

Every boto3 `Session` builds its own botocore `Loader`, and a loader caches what it parsed only for
itself, so each test that makes a client re-reads and re-parses the service model JSON (about
0.1 s per client; the `ops` tests make hundreds). `share_parsed_models()` makes every loader of
the process share one cache keyed by the loader's search paths and the file name — the same data a
single session would reuse (botocore's own `instance_cache` already returns one object per
loader). Test-only: the product code creates one session per command.
"""

from __future__ import annotations

from typing import Any

import botocore.loaders

_PARSED: dict[tuple[tuple[str, ...], str], Any] = {}


def share_parsed_models() -> None:
    """Patch `botocore.loaders.Loader.load_data_with_path` (idempotent) to share parsed files
    process-wide. Raises nothing; a loader with other search paths gets its own entries."""
    loader = botocore.loaders.Loader
    if getattr(loader.load_data_with_path, "_shared", False):
        return
    original = loader.load_data_with_path

    def load_data_with_path(self: botocore.loaders.Loader, name: str) -> Any:
        key = (tuple(self.search_paths), name)
        if key not in _PARSED:
            _PARSED[key] = original(self, name)
        return _PARSED[key]

    load_data_with_path._shared = True  # type: ignore[attr-defined]  # a marker on the function object: patched once
    loader.load_data_with_path = load_data_with_path  # type: ignore[method-assign]  # the patch itself (test processes only)

"""One synth per configuration variant per test run, shared by every pytest process of the run
(the lanes of `make test`, tools/test_lanes.py) and every test module in them.

The cache is a directory: the environment variable `SYNTH_CACHE_ENV` names it when the runner
started the process, else the session's own temporary directory (a plain `pytest` run). Each variant
lives in `<cache>/<key>` (`key`: a hash of its kind and its settings), made under an exclusive
`flock` on `<cache>/<key>.lock`: the first process to ask synthesizes, the others wait for it
and then read the finished output. `<key>/.done` marks a finished synth (a process that died
half-way leaves none, and the next one starts over). Each request appends one line to
`<cache>/synths.jsonl`: `{"kind", "env", "made": true|false, "seconds", "pid"}`, which the
runner totals.

The cache lives under the checkout's build/ at the depth the fixtures always used, so the
stack-relative paths in the JSON (`../../../../../docker/example-app`) reach the checkout.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable, Mapping

SYNTH_CACHE_ENV = "HEBO_TEST_SYNTH_CACHE"
"""The variable naming the cache directory the processes of one test run share."""

SYNTH_LOG = "synths.jsonl"
"""Per cache directory: one JSON line per request (made or reused)."""


def variant_key(kind: str, env: Mapping[str, str]) -> str:
    """A short stable name for one variant: `kind` (the fixture's layout) and its settings."""
    return hashlib.sha256(json.dumps([kind, sorted(env.items())]).encode()).hexdigest()[:16]


def cached(root: Path, kind: str, env: Mapping[str, str], make: Callable[[Path], object]) -> Path:
    """`<root>/<key>`, made once by `make(<root>/<key>)` across every process sharing `root`.

    `make` gets a new empty directory and must leave the output there;
    an exception from it propagates and leaves the variant unmade.
    """
    root.mkdir(parents=True, exist_ok=True)
    key = variant_key(kind, env)
    target = root / key
    started = time.monotonic()
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = not (target / ".done").exists()
        if made:
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            make(target)
            (target / ".done").write_text(json.dumps(dict(env)))
    with open(root / SYNTH_LOG, "a") as log:
        line = {"kind": kind, "env": dict(env), "made": made, "seconds": round(time.monotonic() - started, 2)}
        log.write(json.dumps({**line, "pid": os.getpid()}) + "\n")
    return target


def tally(root: Path) -> dict[str, int]:
    """`{"made": n, "reused": n}` over every request logged in `root` (0 and 0 without a log)."""
    lines = (root / SYNTH_LOG).read_text().splitlines() if (root / SYNTH_LOG).exists() else []
    made = sum(1 for line in lines if json.loads(line)["made"])
    return {"made": made, "reused": len(lines) - made}

"""The emulator call log: every AWS API request that reaches the moto emulator, decoded to the
IAM actions it is authorized as, with resource ARNs, the target resources' tags before the
request ran, and the condition keys the request determines. See docs/emulator-calls.md.

Readers need only `read_calls`, `Call`, `Resource` (no moto import); `install` runs inside the
moto child process (tools/moto_emulator.py does it when HEBO_EMULATOR_CALL_LOG is set).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tools.emulator_calls.record import (
    Call,
    Resource,
    read_calls,
    session_roles,
    undecoded,
)

if TYPE_CHECKING:
    from tools.emulator_calls.hook import Recorder

ENV = "HEBO_EMULATOR_CALL_LOG"


def install(path: Path | str | None = None) -> Recorder | None:
    """See `tools.emulator_calls.hook.install` (imported lazily: it needs moto)."""
    from tools.emulator_calls.hook import install as _install

    return _install(path)


__all__ = ["ENV", "Call", "Resource", "install", "read_calls", "session_roles", "undecoded"]

"""The decoded emulator call, as INTERFACES.md §1 defines it (`tools/emulator_calls.py` owns the
canonical copy; these are field-for-field the same so the lead can fold them together at merge).

`Call.context` holds every condition key the request determines (`aws:RequestTag/stage`,
`aws:TagKeys`, `ecs:cluster`, ...): a string for a single-valued key, a list for a multivalued one.
`Resource.tags` are the target's tags read before the request ran; the evaluator turns them into
`aws:ResourceTag/<key>` for that resource only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Resource:
    """One resource an action is authorized against: its ARN (`*` for actions without
    resource-level permissions) and its tags at call time."""

    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One authorization of one IAM action (an API operation authorized as several actions is
    several `Call`s with the same `seq`)."""

    seq: int
    access_key_id: str
    service: str
    operation: str
    action: str
    resources: tuple[Resource, ...]
    context: Mapping[str, str | list[str]]
    status: int = 200
    region: str = "us-east-1"


def call_from_json(line: Mapping[str, object]) -> Call:
    """A `Call` from one decoded JSON line of the emulator's call log (INTERFACES.md §1)."""
    resources = tuple(Resource(arn=str(r["arn"]), tags=dict(r.get("tags") or {})) for r in line.get("resources") or ())  # type: ignore[union-attr, attr-defined]
    return Call(
        seq=int(line["seq"]),  # type: ignore[arg-type]
        access_key_id=str(line.get("access_key_id", "")),
        service=str(line.get("service", "")),
        operation=str(line.get("operation", "")),
        action=str(line["action"]),
        resources=resources or (Resource("*"),),
        context=dict(line.get("context") or {}),  # type: ignore[arg-type]
        status=int(line.get("status", 200)),  # type: ignore[arg-type]
        region=str(line.get("region", "us-east-1")),
    )


def read_call_lines(path: Path) -> list[dict[str, object]]:
    """The raw JSON lines of a call log (blank lines skipped)."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]

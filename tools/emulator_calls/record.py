"""The call log's line format and its reader (no moto or botocore imports: readers such as the
IAM evaluator load this without an emulator).

One JSON object per line; an operation that IAM authorizes as several actions is several lines
with the same `seq`. Fields (see `Call`): seq, access_key_id, service, operation, action (null when
the call could not be decoded), resources [{arn, tags}], context {condition key: str | [str]},
status, region; the STS web-identity line also has issued_access_key_id and role_arn, and a
request AWS refuses before authorizing it has `rejected` (the reason).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Resource:
    """One resource an action is authorized on: `arn` ("*" when the action supports no
    resource-level permission) and the tags it had before the request ran ({} for a resource the
    request creates)."""

    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        """False when a variable of the ARN format could not be filled (`${...}` left in it)."""
        return "${" not in self.arn


@dataclass(frozen=True)
class Call:
    """One IAM action that one request to the emulator was authorized as.

    `service` is the SigV4 signing name (`monitoring`, `elasticloadbalancing`, ...), `operation`
    the API operation (`CreateService`), `action` the IAM action (`ecs:CreateService`) or None
    when the request could not be decoded, `context` the condition keys of the action the request
    determines (`aws:RequestTag/stage`, `aws:TagKeys`, `ecs:cluster`, ...), `status` the HTTP status
    moto answered. `issued_access_key_id`/`role_arn` only on `sts:AssumeRoleWithWebIdentity` (and
    other AssumeRole*) lines: the session key the response issued and the role it belongs to.
    """

    seq: int
    access_key_id: str
    service: str
    operation: str
    action: str | None
    resources: tuple[Resource, ...]
    context: Mapping[str, str | list[str]]
    status: int = 200
    region: str = "us-east-1"
    issued_access_key_id: str | None = None
    role_arn: str | None = None
    error: str | None = field(default=None, compare=False)
    """Why the call could not be decoded (action None), for a reader listing the gaps."""
    rejected: str | None = field(default=None, compare=False)
    """Why AWS refuses this request whatever the caller's permissions (a malformed id): such a
    call needs no grant, and readers do not evaluate it (`tools.iam_eval.report`)."""

    @property
    def decoded(self) -> bool:
        """The action is known and every resource ARN is filled."""
        return self.action is not None and all(r.resolved for r in self.resources)


def line_for(call: Call) -> str:
    """The JSON line of `call` (keys in the documented order; optional keys only when set)."""
    data: dict[str, Any] = {
        "seq": call.seq,
        "access_key_id": call.access_key_id,
        "service": call.service,
        "operation": call.operation,
        "action": call.action,
        "resources": [{"arn": r.arn, "tags": dict(r.tags)} for r in call.resources],
        "context": dict(call.context),
        "status": call.status,
        "region": call.region,
    }
    for key in ("issued_access_key_id", "role_arn", "error", "rejected"):
        if getattr(call, key) is not None:
            data[key] = getattr(call, key)
    return json.dumps(data, sort_keys=False)


def call_from(data: Mapping[str, Any]) -> Call:
    """The `Call` of one parsed JSON line. Raises KeyError naming a missing field."""
    return Call(
        seq=int(data["seq"]),
        access_key_id=data["access_key_id"],
        service=data["service"],
        operation=data["operation"],
        action=data["action"],
        resources=tuple(Resource(r["arn"], dict(r["tags"])) for r in data["resources"]),
        context=dict(data["context"]),
        status=int(data["status"]),
        region=data["region"],
        issued_access_key_id=data.get("issued_access_key_id"),
        role_arn=data.get("role_arn"),
        error=data.get("error"),
        rejected=data.get("rejected"),
    )


def read_calls(path: Path | str) -> list[Call]:
    """Every line of the call log at `path`, in file order (seq order per writer thread).

    Raises ValueError naming the file and line number of a line that is not a call."""
    calls = []
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            calls.append(call_from(json.loads(text)))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a call log line ({error})") from None
    return calls


def undecoded(calls: list[Call]) -> list[Call]:
    """The calls a reader cannot evaluate: action unknown, or an ARN variable left unfilled."""
    return [c for c in calls if not c.decoded]


def session_roles(calls: list[Call]) -> dict[str, str]:
    """access key id -> role ARN, from the successful AssumeRole* lines of the log."""
    return {
        c.issued_access_key_id: c.role_arn for c in calls if c.issued_access_key_id and c.role_arn and c.status == 200
    }

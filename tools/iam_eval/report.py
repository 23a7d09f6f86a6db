"""Evaluate a recorded emulator call log as one role, and report grants no call used."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote

from tools.emulator_calls.record import Call, read_calls, session_roles
from tools.iam_eval.catalogue import expand
from tools.iam_eval.engine import Decision, evaluate

NOT_DECODED = "not decoded: the recorder could not name the action or fill its resource ARN"
"""`Decision.statement` of a role call the evaluator cannot judge: counted as denied, never skipped."""


@dataclass
class EvaluationReport:
    """INTERFACES.md §2: how many calls of the role were evaluated, the denied ones, the actions used."""

    calls_evaluated: int = 0
    denied: list[Decision] = field(default_factory=list)
    actions_used: set[str] = field(default_factory=set)
    rejected: list[Call] = field(default_factory=list)
    """Calls AWS refuses before authorizing them (`Call.rejected`, a malformed id): not evaluated,
    not counted in `calls_evaluated`; they need no grant."""


def _document(raw: Any) -> dict[str, Any]:
    return raw if isinstance(raw, dict) else json.loads(unquote(str(raw)))


def role_policies(iam_client: Any, role_name: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(identity policies: inline then attached managed, permissions boundary or None) of a role."""
    policies = [
        _document(iam_client.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        for name in iam_client.list_role_policies(RoleName=role_name)["PolicyNames"]
    ]

    def managed(arn: str) -> dict[str, Any]:
        version = iam_client.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        return _document(iam_client.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])

    policies += [
        managed(p["PolicyArn"]) for p in iam_client.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    ]
    boundary_arn = (iam_client.get_role(RoleName=role_name)["Role"].get("PermissionsBoundary") or {}).get(
        "PermissionsBoundaryArn"
    )
    return policies, managed(boundary_arn) if boundary_arn else None


def _role_keys(calls: list[Call], role_name: str) -> set[str]:
    """Access key ids issued for `role_name` by a recorded, successful AssumeRole* call."""
    return {key for key, arn in session_roles(calls).items() if arn.endswith(f":role/{role_name}")}


def evaluate_calls(
    calls: list[Call], identity_policies: list[dict[str, Any]], boundary: dict[str, Any] | None
) -> EvaluationReport:
    """Evaluate already-selected calls (one `Call` per authorized action)."""
    report = EvaluationReport()
    for call in calls:
        if call.rejected:
            report.rejected.append(call)
            continue
        report.calls_evaluated += 1
        if not call.decoded or call.action is None:
            report.denied.append(
                Decision(
                    False,
                    call.action or f"{call.service}:{call.operation}",
                    ", ".join(r.arn for r in call.resources) or "?",
                    NOT_DECODED,
                )
            )
            continue
        report.actions_used.add(call.action)
        decision = evaluate(call, identity_policies, boundary)
        if not decision.allowed:
            report.denied.append(decision)
    return report


def evaluate_call_log(log: Path, role_name: str, iam_client: Any) -> EvaluationReport:
    """INTERFACES.md §2: the calls made with `role_name`'s session keys, each evaluated against the
    role's inline and attached policies and its permissions boundary as the emulator's IAM holds them
    (`iam_client`: an administrator's boto3 IAM client of the emulator)."""
    every = read_calls(Path(log))
    keys = _role_keys(every, role_name)
    calls = [call for call in every if call.access_key_id in keys]
    identity, boundary = role_policies(iam_client, role_name)
    return evaluate_calls(calls, identity, boundary)


def allowed_actions(policy: Mapping[str, Any]) -> list[str]:
    """Every catalogue action some Allow statement's `Action` names (NotAction statements expand to
    every action they do not exclude)."""
    found: set[str] = set()
    for statement in policy.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        if "Action" in statement:
            for pattern in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
                found.update(expand(pattern))
        elif "NotAction" in statement:
            excluded = statement["NotAction"] if isinstance(statement["NotAction"], list) else [statement["NotAction"]]
            excluded_set = {a.lower() for p in excluded for a in expand(p)}
            found.update(a for a in expand("*") if a.lower() not in excluded_set)
    return sorted(found)


def unused_grants(policy: Mapping[str, Any], actions_used: set[str]) -> list[str]:
    """INTERFACES.md §2: allowed actions (expanded with the catalogue) that no recorded call used."""
    used = {a.lower() for a in actions_used}
    return [a for a in allowed_actions(policy) if a.lower() not in used]

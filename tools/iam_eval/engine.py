"""Policy evaluation for one principal in one account, per the IAM User Guide, "Policy evaluation
logic" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
and "Permissions boundaries for IAM entities"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html):

1. an explicit `Deny` in any identity policy or in the permissions boundary wins;
2. otherwise an identity-based `Allow` is required;
3. with a permissions boundary, the boundary must also allow (the effective permissions are the
   intersection; a boundary never grants anything by itself).

One `Call` is one action authorized against each of its resources; it is allowed only when every
resource is. `aws:ResourceTag/<key>` comes from that resource's tags, everything else from
`Call.context`. Service control policies, session policies and resource-based policies are not
part of this model (the account has none for these principals); trust policies are evaluated on
their own by `evaluate_trust`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from tools.iam_eval.conditions import evaluate_condition, glob_match, lookup
from tools.emulator_calls.record import Call, Resource

IMPLICIT_DENY = "implicit deny: no statement allows"
NO_PERMISSION_REQUIRED = frozenset({"sts:getcalleridentity"})
"""Actions IAM never evaluates: "No permissions are required to perform this operation. If an
administrator attaches a policy to your identity that explicitly denies access to the
sts:GetCallerIdentity action, you can still perform this operation" (STS API reference,
GetCallerIdentity). Terraform's `aws_caller_identity` data source makes this call."""
BOUNDARY_DENY = "implicit deny: the permissions boundary has no statement that allows"


@dataclass(frozen=True)
class Decision:
    """The outcome for one action on one resource. `statement`: the Sid that decided (the explicit
    Deny, or the identity Allow that granted it), or IMPLICIT_DENY / BOUNDARY_DENY."""

    allowed: bool
    action: str
    resource: str
    statement: str


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_MISSING = "\x00unresolved-policy-variable\x00"


def substituter(context: Mapping[str, Any]) -> Callable[[str], str]:
    """Policy variables (`${aws:username}`, `${aws:PrincipalTag/x}`, `${*}`...) replaced from the
    context; an unresolvable one becomes a value that matches nothing (IAM User Guide, "IAM policy
    elements: Variables and tags")."""

    def substitute(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in ("*", "?", "$"):
                return name
            name, _, default = name.partition(",")
            value = lookup(context, name.strip())
            if value is None:
                default = default.strip()
                return default.strip("'") if default else _MISSING
            return str(value[0] if isinstance(value, (list, tuple)) and value else value)

        return _VARIABLE.sub(one, text)

    return substitute


def action_matches(patterns: Iterable[str], action: str) -> bool:
    """Action names are case-insensitive; `*` and `?` are wildcards."""
    return any(glob_match(p, action, ignore_case=True) for p in patterns)


def resource_matches(patterns: Iterable[str], arn: str, substitute: Callable[[str], str]) -> bool:
    """Resource patterns are case-sensitive globs over the whole ARN (`*` crosses `:` and `/`);
    `substitute` (from `substituter`) resolves policy variables in each pattern first."""
    return any(p == "*" or glob_match(substitute(p), arn) for p in patterns)


def request_context(call: Call, resource: Resource) -> dict[str, Any]:
    """The call's context plus the target resource's tags as `aws:ResourceTag/<key>`, and
    `aws:RequestedRegion` (the region the call was signed for; every AWS request carries it: IAM
    User Guide, "AWS global condition context keys") unless the context names it."""
    context = {k: v for k, v in call.context.items() if not k.lower().startswith("aws:resourcetag/")}
    context.update({f"aws:ResourceTag/{key}": value for key, value in resource.tags.items()})
    if call.region and not any(k.lower() == "aws:requestedregion" for k in context):
        context["aws:RequestedRegion"] = call.region
    return context


def statement_applies(statement: Mapping[str, Any], action: str, arn: str, context: Mapping[str, Any]) -> bool:
    """Whether one statement's Action/NotAction, Resource/NotResource and Condition all match."""
    substitute = substituter(context)
    if "Action" in statement and not action_matches(_list(statement["Action"]), action):
        return False
    if "NotAction" in statement and action_matches(_list(statement["NotAction"]), action):
        return False
    if "Resource" in statement and not resource_matches(_list(statement["Resource"]), arn, substitute):
        return False
    if "NotResource" in statement and resource_matches(_list(statement["NotResource"]), arn, substitute):
        return False
    return evaluate_condition(statement.get("Condition"), context, substitute)


def _statements(policies: Iterable[Mapping[str, Any] | None]) -> list[tuple[int, int, Mapping[str, Any]]]:
    found = []
    for p_index, policy in enumerate(policies):
        if policy:
            for s_index, statement in enumerate(_list(policy.get("Statement"))):
                found.append((p_index, s_index, statement))
    return found


def _name(statement: Mapping[str, Any], p_index: int, s_index: int, where: str) -> str:
    return statement.get("Sid") or f"{where} policy {p_index} statement {s_index}"


def evaluate_one(
    action: str,
    arn: str,
    context: Mapping[str, Any],
    identity_policies: Sequence[Mapping[str, Any]],
    boundary: Mapping[str, Any] | None,
) -> Decision:
    """One action against one resource with an explicit context."""
    if action.lower() in NO_PERMISSION_REQUIRED:
        return Decision(True, action, arn, "no permission required")
    identity = _statements(identity_policies)
    bounds = _statements([boundary]) if boundary else []
    for where, items in (("identity", identity), ("boundary", bounds)):
        for p_index, s_index, statement in items:
            if statement.get("Effect") == "Deny" and statement_applies(statement, action, arn, context):
                return Decision(False, action, arn, _name(statement, p_index, s_index, where))
    allow = next(
        (
            _name(s, p, i, "identity")
            for p, i, s in identity
            if s.get("Effect") == "Allow" and statement_applies(s, action, arn, context)
        ),
        None,
    )
    if allow is None:
        return Decision(False, action, arn, IMPLICIT_DENY)
    if boundary is not None and not any(
        s.get("Effect") == "Allow" and statement_applies(s, action, arn, context) for _, _, s in bounds
    ):
        return Decision(False, action, arn, BOUNDARY_DENY)
    return Decision(True, action, arn, allow)


def evaluate(
    call: Call, identity_policies: Sequence[Mapping[str, Any]], boundary: Mapping[str, Any] | None
) -> Decision:
    """The decision for `call` (INTERFACES.md §2): the first denied resource's decision, else the
    allowing decision of the last resource. A call without resources is evaluated against `*`.
    Raises ValueError for an undecoded call (`action` None): `report.evaluate_calls` counts those as
    denied (NOT_DECODED) without evaluating them."""
    action = call.action
    if action is None:
        raise ValueError(
            f"{call.service} {call.operation} (call {call.seq}) was not decoded: no IAM action to evaluate"
        )
    decision = None
    for resource in call.resources or (Resource("*"),):
        decision = evaluate_one(action, resource.arn, request_context(call, resource), identity_policies, boundary)
        if not decision.allowed:
            return decision
    assert decision is not None
    return decision


def principal_matches(principal_element: Any, principal: Mapping[str, str]) -> bool:
    """A trust policy's `Principal` against the caller, e.g. `{"Federated": provider_arn}`."""
    if principal_element == "*":
        return True
    for kind, values in (principal_element or {}).items():
        if kind in principal and any(v == "*" or glob_match(v, principal[kind]) for v in _list(values)):
            return True
    return False


def evaluate_trust(
    trust_policy: Mapping[str, Any],
    action: str,
    principal: Mapping[str, str],
    context: Mapping[str, Any],
    role_arn: str = "*",
) -> Decision:
    """Whether a role's trust policy lets `principal` perform `action` (e.g.
    `sts:AssumeRoleWithWebIdentity`) with the token's claims as condition keys
    (`token.actions.githubusercontent.com:sub`, `...:aud`)."""
    statements = _statements([trust_policy])
    for p_index, s_index, statement in statements:
        if (
            statement.get("Effect") == "Deny"
            and principal_matches(statement.get("Principal"), principal)
            and statement_applies(statement, action, role_arn, context)
        ):
            return Decision(False, action, role_arn, _name(statement, p_index, s_index, "trust"))
    for p_index, s_index, statement in statements:
        if (
            statement.get("Effect") == "Allow"
            and principal_matches(statement.get("Principal"), principal)
            and statement_applies(statement, action, role_arn, context)
        ):
            return Decision(True, action, role_arn, _name(statement, p_index, s_index, "trust"))
    return Decision(False, action, role_arn, IMPLICIT_DENY)

"""IAM `Condition` element semantics, per the IAM User Guide, "IAM JSON policy elements:
Condition operators" and "Set operators for multivalued context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html):

- several operators in one block, and several keys under one operator, are ANDed; several values
  for one key are ORed (for a negated operator: the request value must match none of them);
- a key absent from the request context makes a condition false, except for negated operators
  (`StringNotLike`, `ArnNotEquals`, ...), which are then true; `...IfExists` is true when the key is
  absent; `Null` tests presence (`"true"`: absent);
- `ForAllValues:` is true when every request value matches (and when the key is absent or empty);
  `ForAnyValue:` when at least one does (false when absent or empty);
- condition key names are case-insensitive, values case-sensitive except the `IgnoreCase`
  operators; `StringLike`/`ArnLike` take `*` and `?`; the ARN operators compare the six
  colon-separated parts one by one.

A multivalued request value under an operator without a set qualifier matches when any value
does (negated: when none does) - the User Guide advises against that use; our policies do not
rely on it. Unknown operators raise `UnsupportedCondition` (never silently true or false).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence


class UnsupportedCondition(ValueError):
    """A condition operator this evaluator does not implement (the message names it)."""


Context = Mapping[str, Any]


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """`*` (any run of characters) and `?` (one character), everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """Whether `value` matches the IAM wildcard pattern (`*`, `?`)."""
    return bool(_glob(pattern, ignore_case).match(value))


def arn_match(pattern: str, value: str) -> bool:
    """ArnLike/ArnEquals: each of the six colon-delimited parts matched separately with wildcards."""
    p_parts, v_parts = pattern.split(":", 5), value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return False
    return all(glob_match(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def _number(text: str) -> float:
    return float(text)


def _date(text: str) -> datetime:
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text))
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _bool(text: Any) -> str:
    return str(text).lower()


def _ordered(family: str, parse: Callable[[Any], Any]) -> dict[str, tuple[Callable[[Any, Any], bool], bool]]:
    """The six comparison operators of `family` (`Numeric`, `Date`): (match(policy value, context
    value), negated), the context value on the left as the IAM User Guide states them."""
    return {
        f"{family}Equals": (lambda p, v: parse(p) == parse(v), False),
        f"{family}NotEquals": (lambda p, v: parse(p) == parse(v), True),
        f"{family}LessThan": (lambda p, v: parse(v) < parse(p), False),
        f"{family}LessThanEquals": (lambda p, v: parse(v) <= parse(p), False),
        f"{family}GreaterThan": (lambda p, v: parse(v) > parse(p), False),
        f"{family}GreaterThanEquals": (lambda p, v: parse(v) >= parse(p), False),
    }


# base operator -> (matches(policy_value, request_value), negated)
_BASE: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda p, v: p == v, False),
    "StringNotEquals": (lambda p, v: p == v, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda p, v: p.lower() == v.lower(), True),
    "StringLike": (glob_match, False),
    "StringNotLike": (glob_match, True),
    "ArnEquals": (arn_match, False),
    "ArnLike": (arn_match, False),
    "ArnNotEquals": (arn_match, True),
    "ArnNotLike": (arn_match, True),
    **_ordered("Numeric", _number),
    **_ordered("Date", _date),
    "Bool": (lambda p, v: _bool(p) == _bool(v), False),
    "IpAddress": (lambda p, v: ipaddress.ip_address(v) in ipaddress.ip_network(p, strict=False), False),
    "NotIpAddress": (lambda p, v: ipaddress.ip_address(v) in ipaddress.ip_network(p, strict=False), True),
}


def lookup(context: Context, key: str) -> Any:
    """The request value of `key` (case-insensitive name), or None when absent."""
    if key in context:
        return context[key]
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def _values(raw: Any) -> list[str]:
    if isinstance(raw, (list, tuple)):
        return [str(v) for v in raw]
    if isinstance(raw, bool):
        return ["true" if raw else "false"]
    return [str(raw)]


def _present(raw: Any) -> bool:
    return raw is not None and not (isinstance(raw, (list, tuple)) and len(raw) == 0)


def evaluate_operator(
    operator: str,
    key: str,
    policy_values: Sequence[str],
    context: Context,
    substitute: Callable[[str], str] = lambda s: s,
) -> bool:
    """One `"Operator": {"key": values}` entry against the request context."""
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists") and base != "IfExists"
    if if_exists:
        base = base[: -len("IfExists")]
    raw = lookup(context, key)
    wanted = [substitute(str(v)) if not isinstance(v, bool) else _bool(v) for v in policy_values]
    if base == "Null":
        if qualifier:
            raise UnsupportedCondition(f"unsupported condition operator {operator!r}")
        return any((_bool(w) == "true") != _present(raw) for w in wanted)
    if base not in _BASE:
        raise UnsupportedCondition(f"unsupported condition operator {operator!r}")
    matches, negated = _BASE[base]

    def one(value: str) -> bool:
        hit = any(_safe(matches, w, value) for w in wanted)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in _values(raw)) if _present(raw) else True
    if qualifier == "ForAnyValue":
        return any(one(v) for v in _values(raw)) if _present(raw) else False
    if qualifier:
        raise UnsupportedCondition(f"unsupported set operator {qualifier!r} in {operator!r}")
    if not _present(raw):
        return True if if_exists else negated
    values = _values(raw)
    if negated:
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _safe(matches: Callable[[str, str], bool], wanted: str, value: str) -> bool:
    """A value of the wrong type (a non-number under NumericEquals) does not match (IAM: no match)."""
    try:
        return matches(wanted, value)
    except (ValueError, TypeError):
        return False


def evaluate_condition(
    block: Mapping[str, Mapping[str, Any]] | None, context: Context, substitute: Callable[[str], str] = lambda s: s
) -> bool:
    """A whole `Condition` element: every operator, every key (AND)."""
    for operator, keys in (block or {}).items():
        for key, values in keys.items():
            if not evaluate_operator(
                operator, key, values if isinstance(values, list) else [values], context, substitute
            ):
                return False
    return True

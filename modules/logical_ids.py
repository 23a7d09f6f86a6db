"""Logical ids that survive a refactoring of the construct tree.

cdktf names every resource and data source in the JSON by a logical id derived from its construct
path below the stack (`TerraformStack.allocateLogicalId`, lib/terraform-stack.ts, and
`makeUniqueId`, lib/private/unique.ts, in cdktf 0.21.0 and cdktn 0.24.0 alike): one path
component is used as it is (`api_logs`), several are joined with `_` and suffixed with the first
8 hex digits of the MD5 of the path (`api_alb/alb` → `api_alb_674ECFBF`). Terraform addresses
resources by that id, so wrapping resources that are already deployed in a new construct node
would rename them, and Terraform would destroy and re-create them (a live load balancer, a
running service).

`PrefixingConstruct` is a construct node whose id is instead joined to its children's ids, as
if the children still sat directly in its parent: a child `alb` of a `PrefixingConstruct` `api`
keeps the logical id of the former `api_alb`. The stack allocates logical ids, so this needs a
`LogicalIdStack` (every stack of the app is one, stacks/base.py); a `PrefixingConstruct` refuses
any other stack. Elements outside a `PrefixingConstruct` get cdktf's own ids, computed by cdktf.
The `//` metadata `path` of an element shows the real construct path (`compute/api/alb/alb`);
Terraform never reads that comment.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Sequence

from modules.cdk import Construct, TerraformElement, TerraformStack

HASH_LENGTH = 8
"""Hex digits of the path's MD5 that end a multi-component logical id (cdktf's `HASH_LEN`)."""
MAX_ID_LENGTH = 255
"""Longest logical id cdktf uses as it is for a single component (`MAX_ID_LEN`)."""
MAX_HUMAN_LENGTH = 240
"""Longest readable part of a multi-component logical id (`MAX_HUMAN_LEN`)."""
HIDDEN_ID = "Default"
"""A path component cdktf leaves out of the logical id entirely."""
HIDDEN_FROM_HUMAN_ID = "Resource"
"""A path component cdktf hashes but leaves out of the readable part."""
_DISALLOWED = re.compile(r"[^A-Za-z0-9_-]")


def make_unique_id(components: Sequence[str]) -> str:
    """cdktf's logical id for these path components below the stack (`makeUniqueId`).

    `["api_logs"]` → `api_logs`; `["api_alb", "alb"]` → `api_alb_674ECFBF` (a component that the
    previous one ends with is left out of the readable part, not out of the hash). Raises
    ValueError for no components (cdktf: "Unable to calculate a unique id for an empty set of
    components")."""
    components = [c for c in components if c != HIDDEN_ID]
    if not components:
        raise ValueError("a logical id needs at least one path component")
    if len(components) == 1 and len(candidate := _DISALLOWED.sub("", components[0])) <= MAX_ID_LENGTH:
        return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()
    readable: list[str] = []
    for component in components:
        if not readable or not readable[-1].endswith(component):
            readable.append(component)
    human = "_".join(_DISALLOWED.sub("", c) for c in readable if c != HIDDEN_FROM_HUMAN_ID)
    return f"{human[:MAX_HUMAN_LENGTH]}_{digest[:HASH_LENGTH].upper()}"


class PrefixingConstruct(Construct):
    """A construct node whose children keep the logical ids they had directly in its parent
    (`<this id>_<child id>`; see the module docstring).

    Raises TypeError when `scope` is not in a `LogicalIdStack` (only such a stack honours it)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        stack = TerraformStack.of(scope)
        if not isinstance(stack, LogicalIdStack):
            raise TypeError(
                f"{type(self).__name__} {construct_id!r} keeps its resources' logical ids only in a "
                f"LogicalIdStack (modules/logical_ids.py); stack {stack.node.id!r} is a {type(stack).__name__}"
            )
        super().__init__(scope, construct_id)


class LogicalIdStack(TerraformStack):
    """A stack that allocates `PrefixingConstruct` children their flat logical ids; every other
    element gets cdktf's own id."""

    def _allocate_logical_id(self, tf_element: Any) -> str:
        """cdktf's hook for naming an element (`allocateLogicalId`, overridable by design),
        called once per element when its id is first needed."""
        node = tf_element.node if isinstance(tf_element, TerraformElement) else tf_element
        below = node.scopes[node.scopes.index(self) + 1 :] if self in node.scopes else []
        if not any(isinstance(scope, PrefixingConstruct) for scope in below[:-1]):
            return str(super()._allocate_logical_id(tf_element))
        return make_unique_id(flat_components(below))


def flat_components(scopes: Sequence[Any]) -> list[str]:
    """The path components below the stack with each `PrefixingConstruct`'s id joined to the
    next one's: `[api, alb, alb]` (api a `PrefixingConstruct`) → `["api_alb", "alb"]`."""
    components: list[str] = []
    prefix = ""
    for index, scope in enumerate(scopes):
        component = f"{prefix}_{scope.node.id}" if prefix else scope.node.id
        if isinstance(scope, PrefixingConstruct) and index < len(scopes) - 1:
            prefix = component
            continue
        prefix = ""
        components.append(component)
    return components

"""The one error every construct in modules/ raises for props it cannot build.

A construct checks its props before it creates its first resource and raises `ValidationError`
naming itself, the prop as the caller typed it, the value received and what is allowed. The
message is rendered here only, from those fields; callers that need the parts read the
attributes, never the text.
"""

from __future__ import annotations

from typing import Any


class ValidationError(ValueError):
    """Props a construct cannot build, raised before any of its resources exist (one line).

    Attributes: `construct` (who refused, e.g. ``service 'App'``), `prop` (the prop's name,
    dotted for nested props: ``capacity.memory_mib``), `value` (what was received) and `rule`
    (what is allowed, phrased to follow the value). `str(error)` is
    ``"<construct>: <prop> <value!r> <rule>"``.

    A `ValueError`, so a caller that already catches bad values keeps working.
    """

    def __init__(self, construct: str, prop: str, value: Any, rule: str) -> None:
        self.construct, self.prop, self.value, self.rule = construct, prop, value, rule
        super().__init__(f"{construct}: {prop} {value!r} {rule}")

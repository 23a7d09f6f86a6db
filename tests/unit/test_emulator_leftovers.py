"""The lifecycle's leftover sweep covers every resource type any stage synthesizes, and matches a
stage's objects by tag and by whole-token name (tools/emulator_leftovers.py).

The whole-app check: a resource type added to any stack of production, a preview or dev must be
enumerated, be part of an enumerated parent, or be declared to create nothing in AWS — otherwise
the lifecycle would report it as `unenumerable` (and fail) only when it next runs.
"""

from __future__ import annotations

import pytest

from tools.emulator_leftovers import (
    ENUMERATORS,
    GLOBAL_TYPES,
    NO_AWS_OBJECT,
    PART_OF,
    Matcher,
    declared_types,
    stack_regions,
)


def test_every_synthesized_type_is_covered(any_stage) -> None:
    types = declared_types(any_stage.stacks[s] for s in ("network", "data", "compute", "edge"))
    assert len(types) >= 40
    uncovered = [t for t in types if t not in ENUMERATORS and t not in PART_OF and t not in NO_AWS_OBJECT]
    assert uncovered == []


def test_parents_are_enumerated_and_kinds_do_not_overlap() -> None:
    assert set(PART_OF.values()) <= set(ENUMERATORS)
    assert (
        not (set(ENUMERATORS) & set(PART_OF))
        and not (set(ENUMERATORS) & set(NO_AWS_OBJECT))
        and not (set(PART_OF) & set(NO_AWS_OBJECT))
    )
    assert GLOBAL_TYPES <= set(ENUMERATORS)


@pytest.mark.parametrize(
    ("names", "tags", "why"),
    [
        (["hebo-pr-42-api"], {}, "name"),
        (["hebo/pr-42/DbPassword"], {}, "name"),
        (["pr-42.dev.api.hebo.ai"], {}, "name"),
        (["_0123abcd.pr-42.dev.gateway.hebo.ai"], {}, "name"),
        (["vpc-123"], {"stage": "pr-42"}, "tag"),
        (["hebo-pr-42-shared"], {"stage": "pr-42"}, "tag+name"),
        (["hebo-pr-420-api", "hebo/pr-420/DbPassword", "pr-420.dev.api.hebo.ai"], {"stage": "pr-420"}, None),
        (["hebo-dev-api", None], {"stage": "dev"}, None),
    ],
)
def test_matcher_takes_the_stage_as_a_whole_token(names, tags, why) -> None:
    assert Matcher("pr-42").why(names, tags) == why


def test_regions_come_from_the_provider_blocks(production) -> None:
    assert stack_regions([production.stacks[s] for s in ("network", "data", "compute", "edge")], "us-east-1") == [
        "us-east-1",
        "us-west-2",
    ]

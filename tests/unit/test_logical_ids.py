"""modules/logical_ids.py: cdktf's logical-id rule as the app relies on it, and a
`PrefixingConstruct`'s children keeping the ids they had directly in the parent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modules import cdk
from modules.cdk import Construct, TerraformStack, aws
from modules.logical_ids import LogicalIdStack, PrefixingConstruct, flat_components, make_unique_id

PATHS = [
    ("api_logs",),
    ("api_alb", "alb"),
    ("api_alb", "targets"),
    ("alb_logs", "bucket", "bucket"),
    ("shared_alb", "api_rule"),
    ("a-b.c", "x y"),
    ("Default", "inner"),
    ("outer", "Default", "inner"),
    ("outer", "Resource"),
    ("outer", "Resource", "leaf"),
    ("long" * 70,),
    ("long" * 70, "leaf"),
]
"""Construct paths below a stack: single and nested, a child whose name the parent's ends with,
characters cdktf drops, its hidden ids (`Default`, `Resource`), ids over its length limits."""


def _element(stack: TerraformStack, path: tuple[str, ...]) -> Any:
    scope: Construct = stack
    for component in path[:-1]:
        scope = scope.node.try_find_child(component) or Construct(scope, component)
    return aws.cloudwatch_log_group.CloudwatchLogGroup(scope, path[-1], name="x")


def test_make_unique_id_is_cdktfs_own_rule() -> None:
    """For every path, the id cdktf itself allocates in a plain stack is the one we compute."""
    stack = TerraformStack(cdk.Testing.app(), "t")
    elements = {path: _element(stack, path) for path in PATHS}
    synthesized = json.loads(cdk.Testing.synth(stack))["resource"]["aws_cloudwatch_log_group"]
    assert len(synthesized) == len(PATHS)
    assert {path: e.friendly_unique_id for path, e in elements.items()} == {
        path: make_unique_id(path) for path in PATHS
    }
    assert sorted(make_unique_id(path) for path in PATHS) == sorted(synthesized)


def test_known_ids() -> None:
    """Written out from production's compute JSON, and by cdktf's rule for the rest."""
    assert make_unique_id(["api_logs"]) == "api_logs"
    assert make_unique_id(["api_alb", "alb"]) == "api_alb_674ECFBF"
    assert make_unique_id(["api_service", "task"]) == "api_service_task_5056AD6C"
    assert make_unique_id(["waf", "api_association"]) == "waf_api_association_30481D7A"
    with pytest.raises(ValueError, match="at least one path component"):
        make_unique_id(["Default"])


class _Group(PrefixingConstruct):
    """A PrefixingConstruct with nothing of its own."""


def test_children_of_a_prefixing_construct_keep_their_flat_ids() -> None:
    """`api/alb/alb` in a `PrefixingConstruct` `api` gets the id `api_alb/alb` had; a nested one
    joins too; elements elsewhere are untouched; references use the same ids."""
    stack = LogicalIdStack(cdk.Testing.app(), "t")
    api = _Group(stack, "api")
    alb = Construct(api, "alb")
    aws.cloudwatch_log_group.CloudwatchLogGroup(api, "logs", name="logs")
    inner = aws.cloudwatch_log_group.CloudwatchLogGroup(alb, "alb", name="inner")
    nested = _Group(api, "worker")
    aws.cloudwatch_log_group.CloudwatchLogGroup(nested, "logs", name="nested")
    aws.cloudwatch_log_group.CloudwatchLogGroup(stack, "other", name=inner.arn)
    groups = json.loads(cdk.Testing.synth(stack))["resource"]["aws_cloudwatch_log_group"]
    assert {k: v["name"] for k, v in groups.items()} == {
        "api_logs": "logs",
        "api_alb_674ECFBF": "inner",
        "api_worker_logs": "nested",
        "other": "${aws_cloudwatch_log_group.api_alb_674ECFBF.arn}",
    }
    assert flat_components([stack.node.find_child("api"), alb, inner]) == ["api_alb", "alb"]


def test_a_prefixing_construct_refuses_a_plain_stack() -> None:
    stack = TerraformStack(cdk.Testing.app(), "plain")
    with pytest.raises(
        TypeError, match=r"^_Group 'api' keeps .* LogicalIdStack .*; stack 'plain' is a TerraformStack$"
    ):
        _Group(stack, "api")

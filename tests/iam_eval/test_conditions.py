"""Each condition operator against the semantics of the IAM User Guide, "IAM JSON policy elements:
Condition operators" and "Set operators for multivalued context keys" (expected values written by
hand from those pages, one case per rule)."""

from __future__ import annotations

import pytest

from tools.iam_eval.conditions import UnsupportedCondition, arn_match, evaluate_condition, evaluate_operator, glob_match

CASES = [
    # (operator, key, policy values, context, expected, rule)
    ("StringEquals", "k", ["a"], {"k": "a"}, True, "exact match"),
    ("StringEquals", "k", ["a"], {"k": "A"}, False, "case-sensitive"),
    ("StringEquals", "k", ["a", "b"], {"k": "b"}, True, "values are ORed"),
    ("StringEquals", "k", ["a"], {}, False, "absent key: false"),
    ("StringEquals", "K", ["a"], {"k": "a"}, True, "key names are case-insensitive"),
    ("StringNotEquals", "k", ["a"], {"k": "b"}, True, "negated match"),
    ("StringNotEquals", "k", ["a", "b"], {"k": "b"}, False, "negated: must match none of the values"),
    ("StringNotEquals", "k", ["a"], {}, True, "negated with absent key: true"),
    ("StringEqualsIgnoreCase", "k", ["abc"], {"k": "ABC"}, True, "ignore case"),
    ("StringNotEqualsIgnoreCase", "k", ["abc"], {"k": "ABC"}, False, "negated ignore case"),
    ("StringLike", "k", ["pr-*"], {"k": "pr-42"}, True, "multi-character wildcard"),
    ("StringLike", "k", ["pr-?"], {"k": "pr-42"}, False, "single-character wildcard"),
    ("StringLike", "k", ["pr-??"], {"k": "pr-42"}, True, "two single-character wildcards"),
    ("StringLike", "k", ["pr-*"], {"k": "PR-42"}, False, "StringLike is case-sensitive"),
    ("StringLike", "k", ["pr.*"], {"k": "prx42"}, False, "a dot is literal"),
    ("StringLike", "k", ["pr-*"], {}, False, "absent key: false"),
    ("StringNotLike", "k", ["pr-*"], {"k": "dev"}, True, "negated like"),
    ("StringNotLike", "k", ["pr-*"], {"k": "pr-1"}, False, "negated like on a match"),
    ("StringNotLike", "k", ["pr-*"], {}, True, "negated like with absent key: true"),
    ("StringLikeIfExists", "k", ["pr-*"], {}, True, "IfExists: absent key is true"),
    ("StringLikeIfExists", "k", ["pr-*"], {"k": "dev"}, False, "IfExists: present key is tested"),
    ("StringNotLikeIfExists", "k", ["pr-*"], {"k": "pr-3"}, False, "negated IfExists on a match"),
    (
        "ArnLike",
        "k",
        ["arn:aws:ecs:*:1:cluster/hebo-pr-*"],
        {"k": "arn:aws:ecs:us-east-1:1:cluster/hebo-pr-7"},
        True,
        "ARN wildcards per part",
    ),
    (
        "ArnLike",
        "k",
        ["arn:aws:ecs:*:1:cluster/hebo-pr-*"],
        {"k": "arn:aws:ecs:us-east-1:2:cluster/hebo-pr-7"},
        False,
        "account part differs",
    ),
    (
        "ArnLike",
        "k",
        ["arn:aws:iam::*"],
        {"k": "arn:aws:iam:us-east-1:1:role/x"},
        False,
        "a part's * does not cross ':'",
    ),
    ("ArnEquals", "k", ["arn:aws:iam::aws:policy/A"], {"k": "arn:aws:iam::aws:policy/A"}, True, "ArnEquals exact"),
    (
        "ArnNotLike",
        "k",
        ["arn:aws:ecs:*:1:cluster/hebo-pr-*"],
        {"k": "arn:aws:ecs:us-east-1:1:cluster/hebo-production"},
        True,
        "negated ARN",
    ),
    ("ArnNotLike", "k", ["arn:aws:ecs:*:1:cluster/hebo-pr-*"], {}, True, "negated ARN with absent key: true"),
    ("ArnNotEquals", "k", ["arn:aws:s3:::b"], {"k": "arn:aws:s3:::b"}, False, "ArnNotEquals on an equal ARN"),
    ("Null", "k", ["true"], {}, True, "Null true: key absent"),
    ("Null", "k", ["true"], {"k": "x"}, False, "Null true with key present"),
    ("Null", "k", ["false"], {"k": "x"}, True, "Null false: key present"),
    ("Null", "k", ["false"], {}, False, "Null false with key absent"),
    ("Null", "k", ["true"], {"k": []}, True, "an empty multivalued key counts as absent"),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:SecureTransport": "false"}, True, "Bool"),
    ("Bool", "aws:SecureTransport", ["false"], {"aws:SecureTransport": True}, False, "Bool on a real boolean"),
    ("BoolIfExists", "aws:MultiFactorAuthPresent", ["false"], {}, True, "BoolIfExists with absent key"),
    ("NumericLessThanEquals", "n", ["10"], {"n": "10"}, True, "numeric <="),
    ("NumericLessThan", "n", ["10"], {"n": "10"}, False, "numeric <"),
    ("NumericGreaterThan", "n", ["10"], {"n": "11"}, True, "numeric >"),
    ("NumericEquals", "n", ["10"], {"n": "ten"}, False, "a non-number does not match"),
    (
        "DateGreaterThan",
        "aws:CurrentTime",
        ["2026-01-01T00:00:00Z"],
        {"aws:CurrentTime": "2026-06-01T00:00:00Z"},
        True,
        "dates",
    ),
    ("IpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:SourceIp": "10.1.2.3"}, True, "CIDR"),
    ("NotIpAddress", "aws:SourceIp", ["10.0.0.0/8"], {"aws:SourceIp": "10.1.2.3"}, False, "negated CIDR"),
    # set operators
    (
        "ForAllValues:StringLike",
        "aws:TagKeys",
        ["stage", "app"],
        {"aws:TagKeys": ["stage", "app"]},
        True,
        "ForAllValues: every value matches",
    ),
    (
        "ForAllValues:StringLike",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": ["stage", "owner"]},
        False,
        "ForAllValues: one value does not",
    ),
    ("ForAllValues:StringLike", "aws:TagKeys", ["stage"], {}, True, "ForAllValues on an absent key: true"),
    (
        "ForAllValues:StringLike",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": []},
        True,
        "ForAllValues on an empty set: true",
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": ["owner", "stage"]},
        True,
        "ForAnyValue: one matches",
    ),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": ["owner"]},
        False,
        "ForAnyValue: none matches",
    ),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["stage"], {}, False, "ForAnyValue on an absent key: false"),
    (
        "ForAnyValue:StringEquals",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": []},
        False,
        "ForAnyValue on an empty set: false",
    ),
    (
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": ["a", "b"]},
        True,
        "ForAllValues negated: no value is stage",
    ),
    (
        "ForAllValues:StringNotEquals",
        "aws:TagKeys",
        ["stage"],
        {"aws:TagKeys": ["a", "stage"]},
        False,
        "ForAllValues negated: one is",
    ),
    (
        "ForAnyValue:StringNotLike",
        "aws:TagKeys",
        ["st*"],
        {"aws:TagKeys": ["stage", "x"]},
        True,
        "ForAnyValue negated: one is not like",
    ),
    (
        "ForAllValues:StringLike",
        "route53:ChangeResourceRecordSetsNormalizedRecordNames",
        ["pr-*.dev.*.hebo.ai"],
        {"route53:ChangeResourceRecordSetsNormalizedRecordNames": ["pr-1.dev.api.hebo.ai", "dev.api.hebo.ai"]},
        False,
        "record names: one outside",
    ),
]


@pytest.mark.parametrize("operator,key,values,context,expected,rule", CASES, ids=[c[-1] for c in CASES])
def test_operator(operator, key, values, context, expected, rule):
    assert evaluate_operator(operator, key, values, context) is expected, rule


def test_block_ands_operators_and_keys():
    block = {"StringEquals": {"a": "1", "b": "2"}, "StringLike": {"c": "x*"}}
    assert evaluate_condition(block, {"a": "1", "b": "2", "c": "xyz"}) is True
    assert evaluate_condition(block, {"a": "1", "b": "3", "c": "xyz"}) is False
    assert evaluate_condition(block, {"a": "1", "b": "2", "c": "yz"}) is False
    assert evaluate_condition(None, {}) is True


def test_unknown_operator_is_an_error_not_a_guess():
    with pytest.raises(UnsupportedCondition, match="'StringSortOf'"):
        evaluate_operator("StringSortOf", "k", ["a"], {"k": "a"})
    with pytest.raises(UnsupportedCondition, match="ForSomeValues"):
        evaluate_operator("ForSomeValues:StringEquals", "k", ["a"], {"k": "a"})


def test_wildcards():
    assert glob_match("hebo-pr-*", "hebo-pr-1-api")
    assert not glob_match("hebo-pr-*", "hebo-production-api")
    assert glob_match("ec2:describe*", "ec2:DescribeVpcs", ignore_case=True)
    assert arn_match("arn:aws:s3:::bucket/pr-*", "arn:aws:s3:::bucket/pr-1/x")
    assert not arn_match("arn:aws:s3:::bucket", "not-an-arn")

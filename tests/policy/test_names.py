"""Every derived AWS name fits its limits for any accepted stage, and synth uses exactly those names."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config.naming import RULES, SECURITY_GROUPS, build_names, max_stage_length
from config.secrets import SECRETS
from config.stage import ConfigError, check_stage_syntax, policy_for
from synth_support import Synth

ZONE = "hebo.ai"
_FIRST, _MIDDLE, _LAST = "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0123456789-", "abcdefghijklmnopqrstuvwxyz0123456789"


@st.composite
def stage_names(draw: st.DrawFn, app: str) -> str:
    """Random names of the stage grammar (a DNS label starting with a letter), up to the limit."""
    limit = max_stage_length(app, ZONE)
    length = draw(st.integers(min_value=1, max_value=limit))
    if length == 1:
        return draw(st.sampled_from(_FIRST))
    middle = draw(st.text(_MIDDLE, min_size=length - 2, max_size=length - 2))
    return draw(st.sampled_from(_FIRST)) + middle + draw(st.sampled_from(_LAST))


def _accepted(stage: str) -> bool:
    try:
        check_stage_syntax(stage)
    except ConfigError:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), app=st.sampled_from(["hebo", "h", "hebo12345678"]))
def test_every_accepted_stage_yields_only_valid_names(data: st.DataObject, app: str) -> None:
    stage = data.draw(stage_names(app))
    assume(_accepted(stage))
    names = build_names(app, policy_for(stage), ZONE)
    assert names.problems() == []
    assert all(RULES[rule].check(name) is None for rule, name in names.catalog())


@pytest.mark.parametrize("app", ["hebo", "h", "hebo12345678"])
def test_one_character_past_the_limit_is_rejected_with_the_limit(app: str) -> None:
    limit = max_stage_length(app, ZONE)
    assert limit >= 8, "preview names like pr-12345 must fit"
    build_names(app, policy_for("p" * limit), ZONE)
    with pytest.raises(ConfigError, match=rf"at most {limit} characters"):
        build_names(app, policy_for("p" * (limit + 1)), ZONE)


# --- the synthesized preview uses the Names output -------------------------------------------
def _literal(value: object) -> bool:
    return isinstance(value, str) and "${" not in value


def test_preview_security_group_names(preview: Synth) -> None:
    names = preview.settings.names
    synthesized = {c["name"] for c in preview.resources("network", "aws_security_group").values()}
    assert synthesized <= {names.security_group(role) for role in SECURITY_GROUPS}
    assert names.security_group("alb") in synthesized


def test_preview_secret_names(preview: Synth) -> None:
    names = preview.settings.names
    synthesized = sorted(c["name"] for c in preview.resources("data", "aws_secretsmanager_secret").values())
    assert synthesized == sorted(names.secret(s.name) for s in SECRETS)


@pytest.mark.parametrize(
    ("stack", "rtype", "attribute", "rule"),
    [
        ("compute", "aws_ecs_cluster", "name", "ecs"),
        ("data", "aws_db_subnet_group", "name", "db_group"),
        ("data", "aws_kms_alias", "name", "kms_alias"),
        ("compute", "aws_lb", "name", "alb"),
        ("compute", "aws_lb_target_group", "name", "target_group"),
        ("data", "aws_rds_cluster", "cluster_identifier", "rds"),
        ("data", "aws_db_proxy", "name", "db_proxy"),
        ("data", "aws_lambda_function", "function_name", "lambda"),
    ],
)
def test_preview_names_follow_the_catalog(preview: Synth, stack: str, rtype: str, attribute: str, rule: str) -> None:
    """Literal names of these types start with the stage prefix, satisfy their rule, and — where
    the catalog lists that exact kind of name — are one of the catalog's names."""
    names = preview.settings.names
    catalog = {name for r, name in names.catalog() if r == rule}
    for logical, config in preview.resources(stack, rtype).items():
        value = config.get(attribute)
        if not _literal(value):
            continue
        assert re.match(rf"^(alias/)?{re.escape(names.prefix)}", value), f"{rtype}.{logical} {value!r}"
        assert RULES[rule].check(value) is None
        if rtype in ("aws_lb", "aws_lb_target_group", "aws_ecs_cluster"):
            assert value in catalog, f"{rtype}.{logical} {value!r} not in {sorted(catalog)}"

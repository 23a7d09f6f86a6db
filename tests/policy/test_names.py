"""Every derived AWS name fits its limits for any accepted stage, and synth uses exactly those names."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from config.name_rules import RULES
from config.naming import SECURITY_GROUPS, build_names, max_stage_length
from config.secrets import SECRETS
from config.stage import ConfigError, check_stage_syntax, policy_for
from synth_support import Synth

ZONE = "hebo.ai"
_FIRST, _MIDDLE, _LAST = (
    "abcdefghijklmnopqrstuvwxyz",
    "abcdefghijklmnopqrstuvwxyz0123456789-",
    "abcdefghijklmnopqrstuvwxyz0123456789",
)


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
    assert synthesized == sorted(names.secret(s.name) for s in SECRETS if not s.shared_by_previews)
    assert names.secret("GroqApiKey") == "hebo/dev/GroqApiKey"  # read from the template stage, not owned


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
def test_names_follow_the_catalog(
    stage_synths: dict[str, Synth], stack: str, rtype: str, attribute: str, rule: str
) -> None:
    """Literal names of these types, in every stage that has them, start with the stage prefix,
    satisfy their rule and are one of the catalog's names (at least one checked: the preview
    has no RDS Proxy, production has one)."""
    checked = 0
    for synth in stage_synths.values():
        prefix = f"hebo-{synth.stage}"
        catalog = {name for r, name in synth.settings.names.catalog() if r == rule}
        for logical, config in synth.resources(stack, rtype).items():
            value = config.get(attribute)
            assert _literal(value), f"{rtype}.{logical}.{attribute} is not a literal: {value!r}"
            assert re.match(rf"^(alias/)?{re.escape(prefix)}(-|$)", value), f"{rtype}.{logical} {value!r}"
            assert RULES[rule].check(value) is None
            assert value in catalog, f"{rtype}.{logical} {value!r} not in {sorted(catalog)}"
            checked += 1
    assert checked >= 1, f"no {rtype} name checked in any stage"


# --- every literal physical name in the app comes from Names ----------------------------------
NOT_PHYSICAL_NAMES = {
    ("aws_cloudwatch_metric_alarm", "metric_name"): "a metric AWS defines (TargetResponseTime, ...)",
    ("aws_db_parameter_group", "family"): "an engine family AWS defines (aurora-postgresql17)",
    ("aws_rds_cluster_parameter_group", "family"): "an engine family AWS defines",
    ("aws_rds_cluster", "database_name"): "the PostgreSQL database inside the cluster (config/topology.py)",
}
"""Attributes that look like names but name nothing Names builds, with the reason."""


PART_TAGGED = frozenset(
    {
        "aws_subnet",
        "aws_route_table",
        "aws_default_security_group",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
    }
)
"""Resources modules/network tags `{vpc or group name}-{part}`; every other Name tag is a Names name."""


def _is_name_attribute(attribute: str) -> bool:
    return attribute in ("name", "name_prefix", "bucket_prefix", "family", "secret_id") or attribute.endswith(
        ("_name", "identifier")
    )


def _physical_names(synth: Synth) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(where, literal) of every name attribute of every resource and data source, and
    (type, where, literal) of every `Name` tag; state keys and workspace names of the backend and remote-state sources count too."""
    names, tags = [], []
    for stack_name, stack in synth.stacks.items():
        for block in ("resource", "data"):
            for rtype, items in stack.get(block, {}).items():
                for logical, config in items.items():
                    where = f"{stack_name}: {rtype}.{logical}"
                    for attribute, value in config.items():
                        if (
                            _literal(value)
                            and _is_name_attribute(attribute)
                            and (rtype, attribute) not in NOT_PHYSICAL_NAMES
                        ):
                            names.append((f"{where}.{attribute}", value))
                    if rtype == "terraform_remote_state" and _literal(config.get("config", {}).get("key")):
                        names.append((f"{where}.config.key", config["config"]["key"]))
                    tag = (config.get("tags") or {}).get("Name") if isinstance(config.get("tags"), dict) else None
                    if _literal(tag):
                        tags.append((rtype, f"{where}.tags.Name", tag))
        for kind, backend in stack.get("terraform", {}).get("backend", {}).items():
            if "key" in backend:
                names.append((f"{stack_name}: backend {kind}.key", backend["key"]))
        cloud = stack.get("terraform", {}).get("cloud")
        if cloud:
            names.append((f"{stack_name}: cloud workspace", cloud["workspaces"]["name"]))
    return names, tags


def _check_physical_names(synth: Synth) -> int:
    catalog: dict[str, set[str]] = {}
    for rule, name in synth.settings.names.catalog():
        catalog.setdefault(name, set()).add(rule)
    names, tags = _physical_names(synth)
    for where, value in names:
        assert value in catalog, f"{where} = {value!r} is not a name Names produced (add it to Names and its catalog)"
        assert all(RULES[rule].check(value) is None for rule in catalog[value])
    stems = sorted((n for n, rules in catalog.items() if rules & {"name_tag", "security_group"}), key=len, reverse=True)
    for rtype, where, value in tags:
        if value in catalog:
            continue
        # The network modules tag the parts of a named VPC or group `{name}-{part}`.
        stem = next((s for s in stems if re.fullmatch(rf"{re.escape(s)}-[\w-]+", value)), None)
        assert rtype in PART_TAGGED and stem is not None, (
            f"{where} = {value!r} is neither a Names name nor one of its parts"
        )
        assert RULES["name_tag"].check(value) is None
    return len(names) + len(tags)


def test_every_physical_name_in_the_app_comes_from_names(any_stage: Synth) -> None:
    checked = _check_physical_names(any_stage)
    assert checked >= 60, f"only {checked} names checked in {any_stage.stage}"


def test_terraform_cloud_workspace_names_come_from_names(synth_variant) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_BACKEND="cloud", HEBO_TFC_ORGANIZATION="hebo-team")
    workspaces = sorted(s["terraform"]["cloud"]["workspaces"]["name"] for s in synth.stacks.values())
    assert workspaces == ["hebo-global-dns"] + [f"hebo-pr-42-{s}" for s in ("compute", "data", "edge", "network")]
    assert _check_physical_names(synth) >= 60


def test_a_name_built_outside_names_is_caught(preview: Synth) -> None:
    """The whole-app check fails on a hand-built name (so it can fail)."""
    stacks = {k: dict(v) for k, v in preview.stacks.items()}
    stacks["network"] = {
        **stacks["network"],
        "resource": {**stacks["network"]["resource"], "aws_instance": {"x": {"tags": {"Name": "hebo-pr-42-natbox"}}}},
    }
    tampered = Synth(preview.stage, preview.outdir, stacks, preview.manifest, preview.settings)
    with pytest.raises(AssertionError, match="hebo-pr-42-natbox"):
        _check_physical_names(tampered)
    stacks["network"] = {**stacks["network"], "resource": {"aws_iam_role": {"x": {"name": "hebo-pr-42-extra"}}}}
    with pytest.raises(AssertionError, match="is not a name Names produced"):
        _check_physical_names(Synth(preview.stage, preview.outdir, stacks, preview.manifest, preview.settings))

"""Stage policy, stage-name validation, naming and domains (no synth needed)."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from config.name_rules import RULES
from config.naming import Names, build_names, max_stage_length
from config.settings import REPO_ROOT, Settings
from config.stage import ConfigError, StageKind, StagePolicy, policy_for, policy_table
from expectations import POLICY


def test_policy_table_matches_design() -> None:
    """Every field of every kind's policy, as README "Stages" states it (tests/expectations.py)."""
    table = policy_table()
    assert set(table) == set(POLICY)
    for label, expected in POLICY.items():
        assert table[label] == expected, label
    assert len(POLICY["production"]) == len(fields(StagePolicy)) - 2  # all but name and kind


@pytest.mark.parametrize(
    ("stage", "kind"),
    [
        ("production", StageKind.PRODUCTION),
        ("dev", StageKind.DEV),
        ("pr-123", StageKind.PREVIEW),
        ("feature-x", StageKind.PREVIEW),
    ],
)
def test_stage_kinds(stage: str, kind: StageKind) -> None:
    assert policy_for(stage).kind is kind


@pytest.mark.parametrize(
    ("stage", "changes", "message"),
    [
        ("pr-1", {"db_global_cluster": True}, "db_global_cluster needs secondary_region_network"),
        ("pr-1", {"db_proxy": True}, r"db_proxy needs db_seconds_until_auto_pause=None"),
        ("pr-1", {"db_min_acu": 0.5}, "db_seconds_until_auto_pause needs db_min_acu=0"),
        (
            "pr-1",
            {"db_seconds_until_auto_pause": 299},
            "db_seconds_until_auto_pause must be from 300 to 86400 seconds, not 299",
        ),
        (
            "pr-1",
            {"db_seconds_until_auto_pause": 86401},
            "db_seconds_until_auto_pause must be from 300 to 86400 seconds, not 86401",
        ),
        ("production", {"db_min_acu": 32.0}, "db_min_acu 32.0 exceeds db_max_acu 16.0"),
        ("production", {"service_min_tasks": 17}, "service_min_tasks 17 exceeds service_max_tasks 16"),
    ],
)
def test_policy_field_invariants_are_config_errors(stage: str, changes: dict[str, object], message: str) -> None:
    """Every kind's policy is built (so holds the invariants); a change breaking one is a
    ConfigError naming the stage and the fields, also under `python -O` (no assert)."""
    policy = policy_for(stage)
    with pytest.raises(ConfigError, match=rf"^invalid stage policy '{stage}': {message}"):
        replace(policy, **changes)


def test_policy_invariants_hold_without_asserts_under_python_O() -> None:
    import subprocess
    import sys

    code = (
        "from dataclasses import replace; from config.stage import policy_for, ConfigError\n"
        "try:\n    replace(policy_for('pr-1'), db_proxy=True)\nexcept ConfigError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert out.stdout.startswith("invalid stage policy 'pr-1': db_proxy needs"), out.stdout + out.stderr


def test_policy_is_frozen() -> None:
    policy = policy_for("production")
    with pytest.raises(AttributeError):
        policy.protect = False  # type: ignore[misc]  # frozen on purpose: the test expects the assignment to fail


def test_db_max_acu_override_is_validated() -> None:
    assert policy_for("production", {"db_max_acu": "32"}).db_max_acu == 32.0
    with pytest.raises(ConfigError, match=r"invalid db_max_acu '0.7'"):
        policy_for("production", {"db_max_acu": "0.7"})
    with pytest.raises(ConfigError, match="unknown stage overrides"):
        policy_for("production", {"protect": False})


BAD_STAGES = {
    "Prod": "lowercase DNS label",
    "pr_1": "lowercase DNS label",
    "1abc": "lowercase DNS label",
    "-x": "lowercase DNS label",
    "x-": "lowercase DNS label",
    "": "lowercase DNS label",
    "a" * 60: "at most 19 characters",
    "prüfung": "lowercase DNS label",
    "pr--1": "must not contain '--'",
    "prodution": "too close to 'production'",
    "prod": "too close to 'production'",
    "production\n": "lowercase DNS label",
}


@pytest.mark.parametrize("stage", sorted(BAD_STAGES), ids=repr)
def test_bad_stage_names_fail_with_the_rule(stage: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load({"HEBO_STAGE": stage}, {})
    message = str(error.value)
    assert repr(stage) in message and BAD_STAGES[stage] in message
    assert "\n" not in message.replace(repr(stage), "")


def test_preview_pattern_is_enforced() -> None:
    env = {"HEBO_PREVIEW_PATTERN": r"pr-[0-9]+"}
    assert Settings.load({**env, "HEBO_STAGE": "pr-7"}, {}).stage == "pr-7"
    assert Settings.load({**env, "HEBO_STAGE": "dev"}, {}).stage == "dev"
    with pytest.raises(ConfigError, match="must match HEBO_PREVIEW_PATTERN"):
        Settings.load({**env, "HEBO_STAGE": "feature-x"}, {})


def test_max_stage_length_comes_from_the_alb_name_limit() -> None:
    # "hebo-" + stage + "-gateway" must fit the 32-character ALB/target-group limit.
    assert max_stage_length("hebo", "hebo.ai") == 32 - len("hebo-") - len("-gateway") == 19
    assert build_names("hebo", policy_for("p" * 19), "hebo.ai").problems() == []
    with pytest.raises(ConfigError, match="ALB name"):
        build_names("hebo", policy_for("p" * 20), "hebo.ai")


stage_names = st.from_regex(r"[a-z]([a-z0-9]|-(?=[a-z0-9])){0,18}", fullmatch=True).filter(
    lambda s: not s.endswith("-") and "--" not in s
)


@hsettings(max_examples=300, deadline=None)
@given(stage_names)
def test_every_accepted_stage_yields_valid_aws_names(stage: str) -> None:
    try:
        names = build_names("hebo", policy_for(stage), "hebo.ai")
    except ConfigError as error:
        assert "production" in str(error)  # only the near-miss guard may refuse a well-formed name
        return
    for rule, name in names.catalog():
        assert RULES[rule].check(name) is None


@pytest.mark.parametrize(
    ("stage", "app", "domain"),
    [
        ("production", "api", "api.hebo.ai"),
        ("production", "gateway", "gateway.hebo.ai"),
        ("production", "console", "console.hebo.ai"),
        ("pr-123", "api", "pr-123.dev.api.hebo.ai"),
        ("dev", "console", "dev.dev.console.hebo.ai"),
    ],
)
def test_domains(stage: str, app: str, domain: str) -> None:
    assert build_names("hebo", policy_for(stage), "hebo.ai").domain(app) == domain


def test_unknown_domain_app_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown app 'web'"):
        build_names("hebo", policy_for("dev"), "hebo.ai").domain("web")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEBO_BACKEND": "gcs"}, "invalid HEBO_BACKEND 'gcs': must be one of s3, cloud, local"),
        ({"HEBO_BACKEND": "cloud"}, "needs HEBO_TFC_ORGANIZATION"),
        ({"HEBO_REGION": "mars-1"}, "invalid HEBO_REGION 'mars-1'"),
        ({"HEBO_AZ_COUNT": "1"}, "invalid HEBO_AZ_COUNT '1': must be a whole number from 2 to 6"),
        ({"HEBO_VPC_CIDR": "10.0.0.0/8"}, "invalid HEBO_VPC_CIDR '10.0.0.0/8'"),
        ({"HEBO_API_IMAGE": "ghcr.io/acme/api:1"}, "needs both HEBO_API_IMAGE and HEBO_GATEWAY_IMAGE"),
        ({"HEBO_SECONDARY_REGION": "us-east-1"}, "must differ from HEBO_REGION"),
        ({"HEBO_SECONDARY_VPC_CIDR": "10.0.128.0/20"}, "must not overlap HEBO_VPC_CIDR '10.0.0.0/16'"),
        (
            {"HEBO_DB_USERNAME": "hebo_admin"},
            "invalid HEBO_DB_USERNAME 'hebo_admin': must be 1-16 lowercase letters or digits",
        ),
        ({"HEBO_DB_USERNAME": "a" * 17}, "must be 1-16 lowercase letters or digits"),
        ({"HEBO_DB_USERNAME": "postgres"}, "not a reserved name"),
    ],
)
def test_bad_settings_name_value_and_rule(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.load(env, {})


def test_env_beats_context_beats_default() -> None:
    assert Settings.load({}, {}).stage == "dev"
    assert Settings.load({}, {"stage": "pr-9"}).stage == "pr-9"
    loaded = Settings.load({"HEBO_STAGE": "pr-1"}, {"stage": "pr-9"})
    assert loaded.stage == "pr-1" and loaded.sources["stage"] == "HEBO_STAGE"


def test_names_are_prefixed_by_app_and_stage() -> None:
    names = Names(app="hebo", zone="hebo.ai", policy=policy_for("pr-1"))
    assert names.alb("gateway") == "hebo-pr-1-gateway"
    assert names.secret("DbPassword") == "hebo/pr-1/DbPassword"
    assert names.service_log_group("HeboApiService") == "/ecs/hebo-pr-1/HeboApiService"

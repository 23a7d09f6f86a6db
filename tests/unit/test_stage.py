"""Stage policy, stage-name validation, naming and domains (no synth needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from config.naming import RULES, Names, build_names, max_stage_length
from config.settings import Settings
from config.stage import ConfigError, StageKind, policy_for, policy_table


def test_policy_table_matches_design() -> None:
    table = policy_table()
    expected = {
        # setting: (production, preview, dev)
        "nat_per_az": (True, False, False),
        "bastion": (False, True, True),
        "db_min_acu": (0.5, 0.0, 0.0),
        "db_max_acu": (16.0, 4.0, 4.0),
        "db_reader_count": (1, 0, 0),
        "db_seconds_until_auto_pause": (None, 1200, 1200),
        "db_global_cluster": (True, False, False),
        "db_proxy": (True, False, False),
        "service_min_tasks": (4, 1, 1),
        "service_max_tasks": (16, 1, 1),
        "capacity_provider": ("FARGATE", "FARGATE_SPOT", "FARGATE_SPOT"),
        "wait_for_steady_state": (True, False, False),
        "migrate_on_deploy": (True, True, False),
        "protect": (True, False, False),
        "force_destroy": (False, True, True),
        "secret_recovery_window_days": (30, 0, 0),
        "log_level": ("info", "debug", "debug"),
        "ecs_exec": (False, True, True),
    }
    for key, (prod, prev, dev) in expected.items():
        assert (table["production"][key], table["preview"][key], table["dev"][key]) == (prod, prev, dev), key
    assert table["production"]["log_retention_days"] > table["preview"]["log_retention_days"]
    assert table["production"]["db_backup_retention_days"] >= 14
    assert table["preview"]["kms_deletion_window_days"] == 7


@pytest.mark.parametrize(
    ("stage", "kind"),
    [("production", StageKind.PRODUCTION), ("dev", StageKind.DEV), ("pr-123", StageKind.PREVIEW), ("feature-x", StageKind.PREVIEW)],
)
def test_stage_kinds(stage: str, kind: StageKind) -> None:
    assert policy_for(stage).kind is kind


def test_policy_field_invariants_hold_for_every_kind() -> None:
    for stage in ("production", "pr-1", "dev"):
        policy = policy_for(stage)
        assert not policy.db_global_cluster or policy.secondary_region_network
        assert not policy.db_proxy or policy.db_seconds_until_auto_pause is None


def test_policy_is_frozen() -> None:
    policy = policy_for("production")
    with pytest.raises(AttributeError):
        policy.protect = False  # type: ignore[misc]


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
    assert build_names("hebo", "p" * 19, "hebo.ai").problems() == []
    with pytest.raises(ConfigError, match="ALB name"):
        build_names("hebo", "p" * 20, "hebo.ai")


stage_names = st.from_regex(r"[a-z]([a-z0-9]|-(?=[a-z0-9])){0,18}", fullmatch=True).filter(
    lambda s: not s.endswith("-") and "--" not in s
)


@hsettings(max_examples=300, deadline=None)
@given(stage_names)
def test_every_accepted_stage_yields_valid_aws_names(stage: str) -> None:
    try:
        names = build_names("hebo", stage, "hebo.ai")
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
    assert build_names("hebo", stage, "hebo.ai").domain(app) == domain


def test_unknown_domain_app_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown app 'web'"):
        build_names("hebo", "dev", "hebo.ai").domain("web")


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
        ({"HEBO_DB_USERNAME": "hebo_admin"}, "invalid HEBO_DB_USERNAME 'hebo_admin': must be 1-16 lowercase letters or digits"),
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
    names = Names(app="hebo", stage="pr-1", zone="hebo.ai", kind=StageKind.PREVIEW)
    assert names.alb("gateway") == "hebo-pr-1-gateway"
    assert names.secret("DbPassword") == "hebo/pr-1/DbPassword"
    assert names.service_log_group("HeboApiService") == "/ecs/hebo-pr-1/HeboApiService"

"""Every HEBO_* setting: typed values, one rule each, and bad values refused in one line.

Each setting has a table of bad values (with a word of the reason the error must give) and good
values (with the typed value they must parse to). The error names the setting as the user typed
it: `HEBO_X` for a variable, the cdktf context key for a context value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.settings import REPO_ROOT, SETTINGS, Settings, settings_reference
from config.stage import ConfigError
from modules.cdk_flavour import without_settings

A_DIGEST = "sha256:" + "ab" * 32

BAD: dict[str, list[tuple[str, str]]] = {
    "HEBO_STAGE": [
        ("Prod", "lowercase DNS label"),
        ("pr_1", "lowercase DNS label"),
        ("pr--1", "'--'"),
        ("prodution", "too close to 'production'"),
        ("a" * 20, "at most 19 characters"),
        ("", "lowercase"),
    ],
    "HEBO_APP": [
        ("Hebo", "1-12 lowercase"),
        ("hebo-x", "1-12 lowercase"),
        ("a" * 13, "1-12 lowercase"),
        ("1hebo", "letter"),
    ],
    "HEBO_REGION": [
        ("us-east-9", "did you mean 'us-east-2'"),
        ("mars-1", "no such region"),
        ("US-EAST-1", "no such region"),
        ("cn-north-1", "no such region"),
        ("us-gov-west-1", "no such region"),
        ("", "no such region"),
    ],
    "HEBO_SECONDARY_REGION": [("eu-west-9", "no such region"), ("us-east-1", "must differ from HEBO_REGION")],
    "HEBO_ZONE": [
        ("Hebo.AI", "write it in lowercase ('hebo.ai')"),
        ("hebo", "two or more labels"),
        ("hebo.ai.", "no trailing dot"),
        ("-hebo.ai", "lowercase DNS name"),
        ("hebo..ai", "lowercase DNS name"),
        ("hebo.a1", "alphabetic top-level"),
        (("a" * 64) + ".ai", "1-63 characters"),
        ("he_bo.ai", "DNS name"),
    ],
    "HEBO_ZONE_ID": [
        ("/hostedzone/Z123ABC", "drop the '/hostedzone/' prefix ('Z123ABC')"),
        ("z123", "Route 53 hosted zone id"),
        ("Z" + "A" * 32, "at most 32 characters"),
        ("Z12-34", "hosted zone id"),
    ],
    "HEBO_PREVIEW_PATTERN": [
        ("([", "not a regular expression (unterminated character set"),
        ("pr-[0-9", "not a regular expression"),
        ("*", "nothing to repeat"),
    ],
    "HEBO_BACKEND": [("gcs", "one of s3, cloud, local"), ("S3", "did you mean 's3'"), ("", "one of s3")],
    "HEBO_STATE_BUCKET": [
        ("Hebo-State", "S3 general purpose bucket name"),
        ("ab", "3-63"),
        ("a" * 64, "3-63"),
        ("hebo..state", "two adjacent periods"),
        ("192.168.1.10", "IP address"),
        ("xn--hebo", "reserved prefix"),
        ("hebo-s3alias", "reserved prefix or suffix"),
        ("hebo--x-s3", "reserved"),
        ("-hebo", "starting and ending"),
        ("hebo_state", "a-z, 0-9"),
    ],
    "HEBO_STATE_LOCK_TABLE": [("ab", "3-255"), ("locks!", "DynamoDB table name"), ("a" * 256, "3-255")],
    "HEBO_STATE_REGION": [("us-east-7", "no such region")],
    "HEBO_TFC_ORGANIZATION": [
        ("hebo team", "letters, digits, '_' and '-'"),
        ("hebo/team", "Terraform Cloud organization"),
    ],
    "HEBO_TFC_HOSTNAME": [
        ("https://app.terraform.io", "DNS name"),
        ("App.Terraform.io", "lowercase"),
        ("localhost", "two or more"),
    ],
    "HEBO_AZ_COUNT": [
        ("1", "from 2 to 6"),
        ("7", "from 2 to 6"),
        ("two", "whole number"),
        ("2.0", "whole number"),
        ("", "whole"),
    ],
    "HEBO_VPC_CIDR": [
        ("10.0.0.0/8", "/8 is outside /16-/20"),
        ("10.0.0.0/24", "outside /16-/20"),
        ("10.0.0.1/16", "host bits set"),
        ("8.8.0.0/16", "RFC 1918"),
        ("fd00::/56", "IPv4"),
        ("10.0.0.0", "outside /16-/20"),
    ],
    "HEBO_SECONDARY_VPC_CIDR": [("10.0.0.0/20", "must not overlap HEBO_VPC_CIDR"), ("172.32.0.0/16", "RFC 1918")],
    "HEBO_NAT_AMI_ID": [
        ("ami-123", "8 or 17"),
        ("ami-0123456789ABCDEF0", "lowercase hexadecimal"),
        ("0123456789abcdef0", "ami-"),
        ("ami-0123456789abcdef01", "8 or 17"),
    ],
    "HEBO_DB_MAX_ACU": [
        ("abc", "not a number in 0.5 steps"),
        ("0.5", "out of range"),
        ("257", "out of range"),
        ("12.3", "0.5 steps"),
        ("nan", "0.5 steps"),
        ("1e2", "0.5 steps"),
        ("-4", "0.5 steps"),
    ],
    "HEBO_DB_ENGINE_VERSION": [
        ("16.4", "Aurora PostgreSQL 17"),
        ("17", "17.N"),
        ("17.3", "N >= 4"),
        ("17.5.1", "17.N"),
        ("v17.5", "17.N"),
    ],
    "HEBO_DB_USERNAME": [
        ("hebo_admin", "1-16 lowercase"),
        ("a" * 17, "1-16"),
        ("postgres", "a reserved name"),
        ("rdsadmin", "a reserved name"),
        ("user", "a reserved name"),
        ("select", "a reserved name"),
        ("1admin", "letter"),
    ],
    "HEBO_DB_PASSWORD_VERSION": [("0", "from 1 to 1000000"), ("-1", "whole number"), ("v2", "whole number")],
    "HEBO_MIGRATIONS_DIR": [
        ("no/such/folder", "not a directory"),
        ("README.md", "not a directory"),
        ("", "existing directory"),
    ],
    "HEBO_APP_REPO": [("README.md", "exists but is not a directory")],
    "HEBO_API_IMAGE": [
        ("nginx", "no tag or digest"),
        ("Nginx:1", "container image reference"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo/api", "no tag or digest"),
        ("ecr.us-east-1.amazonaws.com/api:1", "not an ECR registry host"),
        ("repo/api@sha256:abc", "container image reference"),
        ("repo/api:" + "t" * 129, "container image"),
        ("registry.example.com/" + "a" * 250 + ":1", "at most 255"),
    ],
    "HEBO_GATEWAY_IMAGE": [("gateway latest", "container image reference")],
    "HEBO_HEALTH_CHECK_PATH": [
        ("health", "starting with '/'"),
        ("/health check", "RFC 3986"),
        ("/" + "a" * 1024, "1024"),
        ("/%zz", "RFC 3986"),
    ],
    "HEBO_ALARM_EMAIL": [
        ("ops", "e-mail address"),
        ("ops@", "e-mail"),
        ("ops@hebo", "the domain is not a DNS name"),
        ("o..ps@hebo.ai", "e-mail"),
        ("ops@@hebo.ai", "e-mail"),
        ("a" * 65 + "@hebo.ai", "64 characters"),
    ],
    "HEBO_CONSOLE_BUILD_DIR": [("README.md", "exists but is not a directory")],
    "HEBO_PRICE_CLASS": [
        ("PriceClass_300", "one of PriceClass_100, PriceClass_200, PriceClass_All"),
        ("all", "one of"),
    ],
    "HEBO_ENABLE_DNSSEC": [("yes", "`true` or `false`"), ("True", "`true` or `false`"), ("1", "`true`")],
    "HEBO_ENABLE_CAA": [("off", "`true` or `false`")],
    "HEBO_CAA_EXTRA_ISSUERS": [
        ("letsencrypt", "'letsencrypt' is not a CA domain name"),
        ("letsencrypt.org,Sectigo.com", "'Sectigo.com' is not a CA domain name"),
    ],
    "HEBO_CSP_EXTRA_ORIGINS": [
        ("http://auth.example.com", "entry 'http://auth.example.com' is not an https origin"),
        ("https://a.example.com, 'unsafe-eval'", "entry \"'unsafe-eval'\" is not an https origin"),
        ("https:", "entry 'https:' is not an https origin"),
    ],
    "HEBO_CSP_REPORT_ONLY": [("yes", "`true` or `false`")],
    "HEBO_CAA_IODEF": [
        ("security@hebo.ai", "CAA iodef URL"),
        ("mailto:security", "e-mail"),
        ("ftp://hebo.ai/x", "CAA iodef URL"),
        ('https://hebo.ai/"x', "RFC 3986"),
    ],
    "HEBO_PREVIEW_SECRETS_FROM": [
        ("production", "never read production's secrets"),
        ("pr-7", "a preview owns no app secrets"),
        ("prod", "too close to 'production'"),
        ("Dev", "lowercase DNS label"),
        ("", "lowercase DNS label"),
    ],
}

GOOD: dict[str, list[tuple[str, Any]]] = {
    "HEBO_STAGE": [("production", "production"), ("dev", "dev"), ("pr-42", "pr-42"), ("feature-x", "feature-x")],
    "HEBO_APP": [("hebo", "hebo"), ("acme2", "acme2")],
    "HEBO_REGION": [("us-east-1", "us-east-1"), ("eu-central-2", "eu-central-2"), ("ap-southeast-7", "ap-southeast-7")],
    "HEBO_SECONDARY_REGION": [("eu-west-1", "eu-west-1")],
    "HEBO_ZONE": [("hebo.ai", "hebo.ai"), ("dev.hebo.co.uk", "dev.hebo.co.uk"), ("my-company.com", "my-company.com")],
    "HEBO_ZONE_ID": [
        ("Z0123456789ABCDEFGHIJ", "Z0123456789ABCDEFGHIJ"),
        ("Z2FDTNDATAQYW2", "Z2FDTNDATAQYW2"),
        ("", None),
    ],
    "HEBO_PREVIEW_PATTERN": [("pr-[0-9]+", "pr-[0-9]+"), ("", None)],
    "HEBO_BACKEND": [("s3", "s3"), ("local", "local")],
    "HEBO_STATE_BUCKET": [("acme-hebo-state", "acme-hebo-state"), ("state.acme.io", "state.acme.io"), ("abc", "abc")],
    "HEBO_STATE_LOCK_TABLE": [
        ("", None),
        ("hebo-terraform-locks", "hebo-terraform-locks"),
        ("Locks_v2.x", "Locks_v2.x"),
    ],
    "HEBO_STATE_REGION": [("", None), ("eu-west-1", "eu-west-1")],
    "HEBO_TFC_ORGANIZATION": [("", None), ("Hebo_Team-1", "Hebo_Team-1")],
    "HEBO_TFC_HOSTNAME": [("tfe.acme.io", "tfe.acme.io")],
    "HEBO_AZ_COUNT": [("2", 2), ("6", 6)],
    "HEBO_VPC_CIDR": [
        ("10.0.0.0/16", "10.0.0.0/16"),
        ("172.20.16.0/20", "172.20.16.0/20"),
        ("192.168.0.0/16", "192.168.0.0/16"),
    ],
    "HEBO_SECONDARY_VPC_CIDR": [("10.2.0.0/16", "10.2.0.0/16")],
    "HEBO_NAT_AMI_ID": [
        ("ami-0123456789abcdef0", "ami-0123456789abcdef0"),
        ("ami-1a2b3c4d", "ami-1a2b3c4d"),
        ("", None),
    ],
    "HEBO_DB_MAX_ACU": [("32", 32.0), ("12.5", 12.5), ("1", 1.0), ("256", 256.0), ("", None)],
    "HEBO_DB_ENGINE_VERSION": [("17.5", "17.5"), ("17.4", "17.4"), ("17.10", "17.10")],
    "HEBO_DB_USERNAME": [("heboadmin", "heboadmin"), ("a", "a"), ("migrator2", "migrator2")],
    "HEBO_DB_PASSWORD_VERSION": [("1", 1), ("42", 42)],
    "HEBO_MIGRATIONS_DIR": [
        ("lambdas/migrator/example-migrations", REPO_ROOT / "lambdas/migrator/example-migrations"),
        (str(REPO_ROOT / "lambdas"), REPO_ROOT / "lambdas"),
    ],
    "HEBO_APP_REPO": [
        ("docker/example-app", REPO_ROOT / "docker/example-app"),
        ("/nonexistent/app", Path("/nonexistent/app")),
    ],
    "HEBO_API_IMAGE": [
        (
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo/api@" + A_DIGEST,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo/api@" + A_DIGEST,
        ),
        ("ghcr.io/acme/api:1.2.3", "ghcr.io/acme/api:1.2.3"),
        ("localhost:5000/api:v1", "localhost:5000/api:v1"),
    ],
    "HEBO_HEALTH_CHECK_PATH": [("/", "/"), ("/health?full=1", "/health?full=1"), ("/a%20b", "/a%20b")],
    "HEBO_ALARM_EMAIL": [
        ("ops@hebo.ai", "ops@hebo.ai"),
        ("ops+alarms@mail.hebo.ai", "ops+alarms@mail.hebo.ai"),
        ("", None),
    ],
    "HEBO_CONSOLE_BUILD_DIR": [("../console/build/client", REPO_ROOT / "../console/build/client")],
    "HEBO_PRICE_CLASS": [("PriceClass_All", "PriceClass_All")],
    "HEBO_ENABLE_DNSSEC": [("true", True), ("false", False)],
    "HEBO_ENABLE_CAA": [("false", False)],
    "HEBO_CAA_EXTRA_ISSUERS": [("", ()), ("letsencrypt.org, sectigo.com", ("letsencrypt.org", "sectigo.com"))],
    "HEBO_CSP_EXTRA_ORIGINS": [
        ("", ()),
        ("https://auth.example.com,https://*.sentry.io:443", ("https://auth.example.com", "https://*.sentry.io:443")),
    ],
    "HEBO_CSP_REPORT_ONLY": [("true", True)],
    "HEBO_CAA_IODEF": [
        ("mailto:security@hebo.ai", "mailto:security@hebo.ai"),
        ("https://hebo.ai/caa", "https://hebo.ai/caa"),
    ],
    "HEBO_PREVIEW_SECRETS_FROM": [("dev", "dev")],
}

# Settings whose good values need a partner (the other one of a pair must be set too).
PARTNERS = {
    "HEBO_API_IMAGE": {"HEBO_GATEWAY_IMAGE": "ghcr.io/acme/gateway:1"},
    "HEBO_TFC_ORGANIZATION": {"HEBO_BACKEND": "s3"},
}


def key_of(env: str) -> str:
    return next(k for k, s in SETTINGS.items() if s.env == env)


def test_every_setting_has_a_rule_and_bad_and_good_values() -> None:
    envs = {s.env for s in SETTINGS.values()}
    assert set(BAD) == envs and set(GOOD) - {"HEBO_GATEWAY_IMAGE"} <= envs
    missing_good = envs - set(GOOD) - {"HEBO_GATEWAY_IMAGE"}  # shares HEBO_API_IMAGE's rule and table
    assert not missing_good, missing_good
    assert all(BAD[env] for env in envs)
    for setting in SETTINGS.values():
        assert len(setting.allowed) >= 10 and setting.allowed != "any text", setting.env


def test_every_default_is_valid_and_typed() -> None:
    settings = Settings.load({}, {})
    assert settings.sources == {key: "default" for key in SETTINGS}
    assert (settings.enable_caa, settings.enable_dnssec, settings.az_count, settings.db_password_version) == (
        True,
        False,
        2,
        1,
    )
    assert (settings.db_max_acu, settings.state_lock_table, settings.zone_id, settings.caa_extra_issuers) == (
        None,
        None,
        None,
        (),
    )
    assert settings.migrations_dir == REPO_ROOT / "lambdas/migrator/example-migrations"


BAD_CASES = [(env, value, reason) for env, rows in BAD.items() for value, reason in rows]


@pytest.mark.parametrize(("env", "value", "reason"), BAD_CASES, ids=[f"{e}={v[:24]!r}" for e, v, _ in BAD_CASES])
def test_bad_value_is_one_line_naming_setting_value_and_rule(env: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.load({env: value}, {})
    message = str(error.value)
    assert env in message and repr(value) in message and reason in message, message
    assert "\n" not in message.replace(repr(value), "")


GOOD_CASES = [(env, value, parsed) for env, rows in GOOD.items() for value, parsed in rows]


@pytest.mark.parametrize(("env", "value", "parsed"), GOOD_CASES, ids=[f"{e}={v[:24]!r}" for e, v, _ in GOOD_CASES])
def test_good_value_parses_to_its_typed_value(env: str, value: str, parsed: Any) -> None:
    settings = Settings.load({env: value, **PARTNERS.get(env, {})}, {})
    assert getattr(settings, key_of(env)) == parsed
    assert settings.sources[key_of(env)] == env


def test_context_keys_are_named_as_context_keys() -> None:
    with pytest.raises(ConfigError, match=r"^invalid cdktf context key 'region' \(HEBO_REGION\) 'us-east-9': "):
        Settings.load({}, {"region": "us-east-9"})
    with pytest.raises(
        ConfigError, match=r"^invalid cdktf context key 'stage' \(HEBO_STAGE\) 'feature-x': .*pr-\[0-9\]\+"
    ):
        Settings.load({"HEBO_PREVIEW_PATTERN": "pr-[0-9]+"}, {"stage": "feature-x"})


def test_context_json_booleans_and_numbers_are_typed() -> None:
    """cdktf.json is JSON: `true` and `3` arrive as Python bool and int."""
    settings = Settings.load(
        {},
        {
            "enable_dnssec": True,
            "enable_caa": False,
            "az_count": 3,
            "db_max_acu": 8,
            "caa_extra_issuers": ["letsencrypt.org", "sectigo.com"],
        },
    )
    assert (settings.enable_dnssec, settings.enable_caa, settings.az_count, settings.db_max_acu) == (
        True,
        False,
        3,
        8.0,
    )
    assert settings.caa_extra_issuers == ("letsencrypt.org", "sectigo.com")
    assert settings.policy.db_max_acu == 8.0


def test_zone_in_capitals_is_a_zone_error_not_a_stage_error() -> None:
    with pytest.raises(ConfigError, match=r"^invalid HEBO_ZONE 'Hebo.AI': write it in lowercase"):
        Settings.load({"HEBO_ZONE": "Hebo.AI", "HEBO_STAGE": "pr-5"}, {})


def test_stage_that_fits_no_name_with_a_long_zone_names_the_stage_setting() -> None:
    zone = "platform-engineering-teams.internal-example.com"  # 47 characters: room for `dev`, not `pr-42`
    with pytest.raises(
        ConfigError,
        match=r"^invalid HEBO_STAGE 'pr-42': ACM certificate domain .* is 65 characters "
        r"\(limit 64\); .* stage names may be at most 4 characters$",
    ):
        Settings.load({"HEBO_STAGE": "pr-42", "HEBO_ZONE": zone}, {})


def test_zone_too_long_for_any_stage_is_a_zone_error() -> None:
    zone = "platform-engineering-team-of-acme.internal-examples-co.com"  # 58 characters
    with pytest.raises(
        ConfigError,
        match=r"^invalid HEBO_ZONE 'platform-.*': too long for the names derived from it "
        r"\(ACM certificate domain 'dev.dev.api.platform-.*' is 70 characters \(limit 64\)",
    ):
        Settings.load({"HEBO_ZONE": zone}, {})


def test_max_acu_override_reaches_the_policy_typed() -> None:
    settings = Settings.load({"HEBO_STAGE": "production", "HEBO_DB_MAX_ACU": "64"}, {})
    assert settings.db_max_acu == 64.0 and settings.policy.db_max_acu == 64.0


def test_settings_are_frozen_and_typed_fields_match_the_table() -> None:
    from dataclasses import FrozenInstanceError, fields

    settings = Settings.load({}, {})
    with pytest.raises(FrozenInstanceError):
        settings.region = "eu-west-1"  # type: ignore[misc]  # frozen on purpose: the test expects the assignment to fail
    assert [f.name for f in fields(Settings)][: len(SETTINGS)] == list(SETTINGS)


def test_readme_allowed_column_is_each_rule() -> None:
    reference = settings_reference()
    assert reference.splitlines()[0] == "| Variable | Context key | Default | Meaning | Allowed |"
    region_row = next(line for line in reference.splitlines() if line.startswith("| `HEBO_REGION`"))
    assert region_row.endswith(f"| {SETTINGS['region'].allowed} |")


def _run_main(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = without_settings(os.environ)
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "main.py")],
        env={**clean, **env, "CDKTF_OUTDIR": str(tmp_path / "out")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HEBO_DB_MAX_ACU": "abc"}, "error: invalid HEBO_DB_MAX_ACU 'abc': not a number in 0.5 steps; "),
        ({"HEBO_PREVIEW_PATTERN": "(["}, "error: invalid HEBO_PREVIEW_PATTERN '([': not a regular expression "),
        ({"HEBO_ZONE": "Hebo.AI", "HEBO_STAGE": "pr-5"}, "error: invalid HEBO_ZONE 'Hebo.AI': write it in lowercase"),
        ({"HEBO_REGION": "us-east-9"}, "error: invalid HEBO_REGION 'us-east-9': no such region"),
        (
            {"CDKTF_CONTEXT_JSON": json.dumps({"nat_ami_id": "ami-xyz"})},
            "error: invalid cdktf context key 'nat_ami_id' (HEBO_NAT_AMI_ID) 'ami-xyz': ",
        ),
    ],
    ids=["max-acu", "preview-pattern", "zone", "region", "context-key"],
)
def test_main_prints_one_line_and_exits_2_without_output(env: dict[str, str], expected: str, tmp_path: Path) -> None:
    result = _run_main(env, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()

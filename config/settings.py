"""Deployment settings that are not stage policy: regions, zone, backend, image mode, paths.

Each setting is read from an environment variable (`HEBO_*`) or, failing that, from the cdktf
context key of the same name without the prefix, lowercased (`stage`, `region`, …), then its
default. `SETTINGS` is the single table behind parsing, validation and the README reference.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from config.naming import Names, build_names
from config.stage import ConfigError, StagePolicy, policy_for

REPO_ROOT = Path(__file__).resolve().parent.parent

BACKENDS = ("s3", "cloud", "local")
IMAGE_MODES = ("build", "prebuilt")
_REGION_RE = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d")


def _choice(allowed: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(key: str, value: str) -> str:
        if value not in allowed:
            raise ConfigError(f"invalid {key} {value!r}: allowed are {', '.join(allowed)}")
        return value

    return parse


def _region(key: str, value: str) -> str:
    if not _REGION_RE.fullmatch(value):
        raise ConfigError(f"invalid {key} {value!r}: must be an AWS region such as us-east-1")
    return value


def _text(key: str, value: str) -> str:
    return value


def _optional(key: str, value: str) -> str | None:
    return value or None


def _int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"invalid {key} {value!r}: must be a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(f"invalid {key} {value!r}: must be a whole number from {low} to {high}")
        return number

    return parse


def _path(key: str, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (REPO_ROOT / path)


def _cidr16(key: str, value: str) -> str:
    import ipaddress

    try:
        net = ipaddress.ip_network(value)
    except ValueError:
        raise ConfigError(f"invalid {key} {value!r}: must be an IPv4 CIDR such as 10.0.0.0/16") from None
    if net.version != 4 or not 16 <= net.prefixlen <= 20:
        raise ConfigError(f"invalid {key} {value!r}: must be an IPv4 network from /16 to /20")
    return str(net)


def _pg_username(key: str, value: str) -> str:
    """Aurora's MasterUsername rule (RDS API, CreateDBCluster): 1-16 letters or digits, a letter first."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", value) or value in ("postgres", "rdsadmin", "admin"):
        raise ConfigError(f"invalid {key} {value!r}: must be 1-16 lowercase letters or digits, starting with a letter, and not a reserved name")
    return value


@dataclass(frozen=True)
class Setting:
    env: str
    default: str
    parse: Callable[[str, str], Any]
    doc: str

    @property
    def context_key(self) -> str:
        return self.env.removeprefix("HEBO_").lower()


SETTINGS: dict[str, Setting] = {
    "stage": Setting("HEBO_STAGE", "dev", _text, "Stage to synthesize: `production`, `dev`, or a preview name such as `pr-123`."),
    "app": Setting("HEBO_APP", "hebo", _text, "App name, the first part of every physical name."),
    "region": Setting("HEBO_REGION", "us-east-1", _region, "Primary AWS region."),
    "secondary_region": Setting("HEBO_SECONDARY_REGION", "us-west-2", _region, "Second region of the production global database."),
    "zone": Setting("HEBO_ZONE", "hebo.ai", _text, "Route 53 public hosted zone the domains live in."),
    "zone_id": Setting("HEBO_ZONE_ID", "", _optional, "Hosted zone id (see `ops zone`): `dns` adopts that zone with an `import` block, stage stacks use it instead of looking the zone up by name. Empty: `dns` creates the zone."),
    "preview_pattern": Setting("HEBO_PREVIEW_PATTERN", "", _optional, "Optional regex preview stage names must match, e.g. `pr-[0-9]+`."),
    "backend": Setting("HEBO_BACKEND", "s3", _choice(BACKENDS), "State backend: `s3` (default), `cloud` (Terraform Cloud) or `local`."),
    "state_bucket": Setting("HEBO_STATE_BUCKET", "hebo-terraform-state", _text, "S3 bucket holding Terraform state (`ops bootstrap` creates it)."),
    "state_lock_table": Setting("HEBO_STATE_LOCK_TABLE", "hebo-terraform-locks", _text, "DynamoDB lock table (`ops bootstrap` creates it)."),
    "state_region": Setting("HEBO_STATE_REGION", "", _optional, "Region of the state bucket; defaults to HEBO_REGION."),
    "tfc_organization": Setting("HEBO_TFC_ORGANIZATION", "", _optional, "Terraform Cloud organization (required with HEBO_BACKEND=cloud)."),
    "tfc_hostname": Setting("HEBO_TFC_HOSTNAME", "app.terraform.io", _text, "Terraform Cloud / Enterprise hostname."),
    "az_count": Setting("HEBO_AZ_COUNT", "2", _int_range(2, 6), "Number of availability zones the VPC spans."),
    "vpc_cidr": Setting("HEBO_VPC_CIDR", "10.0.0.0/16", _cidr16, "VPC CIDR (/16 to /20); subnets are derived from it."),
    "secondary_vpc_cidr": Setting("HEBO_SECONDARY_VPC_CIDR", "10.1.0.0/16", _cidr16, "CIDR of the production secondary-region VPC."),
    "nat_ami_id": Setting("HEBO_NAT_AMI_ID", "", _optional, "Pin the NAT instance AMI instead of the newest fck-nat image."),
    "db_max_acu": Setting("HEBO_DB_MAX_ACU", "", _optional, "Override the stage's maximum Aurora capacity (ACU)."),
    "db_engine_version": Setting("HEBO_DB_ENGINE_VERSION", "17.5", _text, "Aurora PostgreSQL 17.x engine version."),
    "db_username": Setting("HEBO_DB_USERNAME", "heboadmin", _pg_username, "Aurora master user name (not secret; the password comes from the `DbPassword` secret)."),
    "db_password_version": Setting("HEBO_DB_PASSWORD_VERSION", "1", _int_range(1, 1_000_000), "Bump to push the current `DbPassword` into Aurora (`master_password_wo_version`); keep it in cdktf.json context."),
    "migrations_dir": Setting("HEBO_MIGRATIONS_DIR", "lambdas/migrator/example-migrations", _path, "drizzle-kit migrations folder of the app repo."),
    "app_repo": Setting("HEBO_APP_REPO", "docker/example-app", _path, "Application repository holding Dockerfile.api / Dockerfile.gateway (build mode)."),
    "api_image": Setting("HEBO_API_IMAGE", "", _optional, "Pre-built API image URI; with HEBO_GATEWAY_IMAGE selects prebuilt mode (no docker provider)."),
    "gateway_image": Setting("HEBO_GATEWAY_IMAGE", "", _optional, "Pre-built Gateway image URI."),
    "health_check_path": Setting("HEBO_HEALTH_CHECK_PATH", "/", _text, "Target group health check path."),
    "alarm_email": Setting("HEBO_ALARM_EMAIL", "", _optional, "E-mail address subscribed to the alarm topic."),
    "console_build_dir": Setting("HEBO_CONSOLE_BUILD_DIR", "../console/build/client", _path, "Console build output (`build/client`); missing deploys a placeholder page."),
    "price_class": Setting("HEBO_PRICE_CLASS", "PriceClass_100", _choice(("PriceClass_100", "PriceClass_200", "PriceClass_All")), "CloudFront price class."),
    "enable_dnssec": Setting("HEBO_ENABLE_DNSSEC", "false", _choice(("true", "false")), "Sign the hosted zone with DNSSEC (KMS key in us-east-1)."),
    "enable_caa": Setting("HEBO_ENABLE_CAA", "true", _choice(("true", "false")), "CAA records allowing only Amazon to issue certificates."),
    "caa_extra_issuers": Setting("HEBO_CAA_EXTRA_ISSUERS", "", _text, "Comma-separated CAs allowed besides Amazon (e.g. `letsencrypt.org` if the apex site uses it)."),
    "caa_iodef": Setting("HEBO_CAA_IODEF", "", _optional, "Where CAs report refused requests (`mailto:security@hebo.ai`); empty: no iodef record."),
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Parsed, validated settings plus the derived stage policy and naming helper."""

    values: Mapping[str, Any]
    policy: StagePolicy
    names: Names
    sources: Mapping[str, str] = field(default_factory=dict)

    def __getattr__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise AttributeError(key) from None

    @property
    def stage(self) -> str:
        return self.policy.name

    @property
    def image_mode(self) -> str:
        return "prebuilt" if self.values["api_image"] or self.values["gateway_image"] else "build"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, context: Mapping[str, Any] | None = None) -> "Settings":
        """Read env (default: os.environ) over context over defaults; raise ConfigError on bad input."""
        env = os.environ if env is None else env
        context = context or {}
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for key, setting in SETTINGS.items():
            if setting.env in env:
                raw, sources[key] = env[setting.env], setting.env
            elif context.get(setting.context_key) is not None:
                raw, sources[key] = str(context[setting.context_key]), f"context:{setting.context_key}"
            else:
                raw, sources[key] = setting.default, "default"
            values[key] = setting.parse(setting.env, raw)
        return cls.from_values(values, sources)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], sources: Mapping[str, str] | None = None) -> "Settings":
        values = dict(values)
        if values["backend"] == "cloud" and not values["tfc_organization"]:
            raise ConfigError("HEBO_BACKEND=cloud needs HEBO_TFC_ORGANIZATION (the Terraform Cloud organization)")
        if bool(values["api_image"]) != bool(values["gateway_image"]):
            raise ConfigError("prebuilt image mode needs both HEBO_API_IMAGE and HEBO_GATEWAY_IMAGE (or neither to build)")
        if values["region"] == values["secondary_region"]:
            raise ConfigError(f"HEBO_SECONDARY_REGION {values['secondary_region']!r} must differ from HEBO_REGION")
        if values["vpc_cidr"] == values["secondary_vpc_cidr"]:
            raise ConfigError("HEBO_SECONDARY_VPC_CIDR must differ from HEBO_VPC_CIDR (the VPCs may be peered later)")
        names = build_names(values["app"], values["stage"], values["zone"], values["preview_pattern"])
        overrides = {"db_max_acu": values["db_max_acu"]} if values["db_max_acu"] else {}
        policy = policy_for(values["stage"], overrides, values["preview_pattern"])
        return cls(values=values, policy=policy, names=names, sources=dict(sources or {}))

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some raw values changed (tests use this for variants)."""
        values = dict(self.values)
        for key, raw in changes.items():
            setting = SETTINGS[key]
            values[key] = setting.parse(setting.env, raw) if isinstance(raw, str) else raw
        return Settings.from_values(values, self.sources)


def settings_reference() -> str:
    """The README configuration table, generated from SETTINGS."""
    rows = ["| Variable | Context key | Default | Meaning |", "|---|---|---|---|"]
    for setting in SETTINGS.values():
        default = f"`{setting.default}`" if setting.default else "—"
        rows.append(f"| `{setting.env}` | `{setting.context_key}` | {default} | {setting.doc} |")
    return "\n".join(rows)


__all__ = ["Settings", "SETTINGS", "ConfigError", "settings_reference", "REPO_ROOT", "fields"]

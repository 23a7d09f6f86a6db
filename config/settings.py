"""Deployment settings that are not stage policy: regions, zone, backend, image mode, paths.

`Settings.load` is the one resolver every consumer uses (main.py and the stacks, `ops`,
hebo_testing, tools, bench). Each setting comes from, in this order:

1. an explicit override (`ops --stage/--app/--region/...`, labelled by its flag),
2. its environment variable (`HEBO_*`),
3. the cdktf context key of the same name without the prefix, lowercased (`stage`, `region`, …):
   cdktf.json's `context`, as the cdktf CLI passes it (CDKTF_CONTEXT_JSON), else as read from
   cdktf.json at the repository root (`project_context`),
4. its default,

and `Settings.sources` records which one it was. `SETTINGS` is the single table behind parsing,
validation, the typed `Settings` fields and the README reference (its "Allowed" column is each
rule's text, config/rules.py). Errors are `ConfigError`s naming the setting as the user spelled it.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from config import rules
from config.csp import EXTRA_ORIGIN_RULE, extra_origins
from config.errors import ConfigError
from config.naming import Names, build_names, max_stage_length
from config.rules import Rule, optional
from config.stage import StagePolicy, check_stage_syntax, policy_for

REPO_ROOT = Path(__file__).resolve().parent.parent
CDKTF_JSON = REPO_ROOT / "cdktf.json"
"""The project's cdktf configuration; its `context` is the second source of every setting."""
CONTEXT_ENV = "CDKTF_CONTEXT_JSON"
"""How the cdktf CLI hands cdktf.json's `context` to the app (@cdktf/commons, config.js)."""

BACKENDS = ("s3", "cloud", "local")


class _StageRule(Rule):
    """The stage's syntax (config/stage.py states the rule); its fit with app, zone and
    HEBO_PREVIEW_PATTERN is checked in `Settings.from_values`."""

    def __call__(self, label: str, raw: str) -> str:
        try:
            check_stage_syntax(raw)
        except ConfigError as error:  # name the setting as the user spelled it
            raise error.relabel(label) from None
        return raw


_STAGE = _StageRule(
    "`production`, `dev`, or a preview name: a lowercase DNS label (a-z, 0-9, '-', a letter first, no '--'), "
    "short enough for every derived AWS name (19 characters with the default app), not a near-miss of `production`",
    str,
)


def _template_stage(raw: str) -> str:
    """HEBO_PREVIEW_SECRETS_FROM: a stage that owns its app secrets and is not production."""
    try:
        policy = policy_for(raw)
    except ConfigError as error:
        raise rules.Invalid(error.detail) from None
    if policy.is_production:
        raise rules.Invalid("previews never read production's secrets")
    if not policy.owns_app_secrets:
        raise rules.Invalid("a preview owns no app secrets to share")
    return raw


_TEMPLATE_STAGE = Rule(
    "a stage name that is neither `production` nor a preview, i.e. a stage that owns its app secrets (today: `dev`)",
    _template_stage,
)


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: `HEBO_X` variable, default (text, parsed like any input),
    parser and the README's "Meaning" text. The cdktf context key is derived from `env`."""

    env: str
    """The `HEBO_X` environment variable (the context key is derived from it)."""
    default: str
    """The default as text, parsed like any input; empty: not set."""
    parse: Callable[[str, str], Any]
    """`parse(label, raw) -> typed value`; raises ConfigError naming `label`. A `Rule` also documents itself."""
    doc: str
    """The README's "Meaning" text (Markdown, one sentence or two)."""

    @property
    def context_key(self) -> str:
        """The cdktf.json context key: `HEBO_DB_MAX_ACU` -> `db_max_acu`."""
        return self.env.removeprefix("HEBO_").lower()

    @property
    def allowed(self) -> str:
        """The rule's text ("must be …" completes with it), also the README's Allowed column."""
        return str(getattr(self.parse, "allowed", ""))

    def label(self, source: str) -> str:
        """How the user spelled this setting, from its source (see `Settings.sources`): the
        `HEBO_X` variable, `cdktf context key 'x' (HEBO_X)`, or a command-line flag (`--x`)."""
        if source.startswith("context:"):
            return f"cdktf context key {self.context_key!r} ({self.env})"
        if source.startswith("--"):
            return source
        return self.env


SETTINGS: dict[str, Setting] = {
    "stage": Setting(
        "HEBO_STAGE", "dev", _STAGE, "Stage to synthesize: `production`, `dev`, or a preview name such as `pr-123`."
    ),
    "app": Setting("HEBO_APP", "hebo", rules.APP, "App name, the first part of every physical name."),
    "region": Setting("HEBO_REGION", "us-east-1", rules.REGION, "Primary AWS region."),
    "secondary_region": Setting(
        "HEBO_SECONDARY_REGION",
        "us-west-2",
        rules.REGION,
        "Second region of the production global database; must differ from HEBO_REGION.",
    ),
    "zone": Setting("HEBO_ZONE", "hebo.ai", rules.HOSTNAME, "Route 53 public hosted zone the domains live in."),
    "zone_id": Setting(
        "HEBO_ZONE_ID",
        "",
        optional(rules.HOSTED_ZONE_ID),
        "Hosted zone id (see `ops zone`): `dns` adopts that zone with an `import` block, stage stacks use it instead of looking the zone up by name. Empty: `dns` creates the zone and stage stacks find it by `HEBO_ZONE`.",
    ),
    "preview_pattern": Setting(
        "HEBO_PREVIEW_PATTERN",
        "",
        optional(rules.REGEX),
        "Optional regex preview stage names must match, e.g. `pr-[0-9]+`.",
    ),
    "backend": Setting(
        "HEBO_BACKEND",
        "s3",
        rules.choice(BACKENDS),
        "State backend: `s3` (default), `cloud` (Terraform Cloud) or `local`.",
    ),
    "state_bucket": Setting(
        "HEBO_STATE_BUCKET",
        "hebo-terraform-state",
        rules.BUCKET,
        "S3 bucket holding Terraform state (`ops bootstrap` creates it).",
    ),
    "state_lock_table": Setting(
        "HEBO_STATE_LOCK_TABLE",
        "",
        optional(rules.DYNAMODB_TABLE),
        "Opt-in DynamoDB lock table, only for teams migrating off it (deprecated by Terraform); empty: S3 native locking only. `ops bootstrap --lock-table` creates it.",
    ),
    "state_region": Setting(
        "HEBO_STATE_REGION", "", optional(rules.REGION), "Region of the state bucket; defaults to HEBO_REGION."
    ),
    "tfc_organization": Setting(
        "HEBO_TFC_ORGANIZATION",
        "",
        optional(rules.TFC_ORGANIZATION),
        "Terraform Cloud organization (required with HEBO_BACKEND=cloud).",
    ),
    "tfc_hostname": Setting(
        "HEBO_TFC_HOSTNAME", "app.terraform.io", rules.HOSTNAME, "Terraform Cloud / Enterprise hostname."
    ),
    "az_count": Setting("HEBO_AZ_COUNT", "2", rules.int_range(2, 6), "Number of availability zones the VPC spans."),
    "vpc_cidr": Setting(
        "HEBO_VPC_CIDR", "10.0.0.0/16", rules.VPC_CIDR, "VPC CIDR (/16 to /20); subnets are derived from it."
    ),
    "secondary_vpc_cidr": Setting(
        "HEBO_SECONDARY_VPC_CIDR",
        "10.1.0.0/16",
        rules.VPC_CIDR,
        "CIDR of the production secondary-region VPC; must not overlap HEBO_VPC_CIDR.",
    ),
    "nat_ami_id": Setting(
        "HEBO_NAT_AMI_ID", "", optional(rules.AMI_ID), "Pin the NAT instance AMI instead of the newest fck-nat image."
    ),
    "db_max_acu": Setting(
        "HEBO_DB_MAX_ACU", "", optional(rules.ACU), "Override the stage's maximum Aurora capacity (ACU)."
    ),
    "db_engine_version": Setting(
        "HEBO_DB_ENGINE_VERSION",
        "17.5",
        rules.ENGINE_VERSION,
        "Aurora PostgreSQL version a new cluster is created with; later minor upgrades are AWS's (docs/data.md).",
    ),
    "db_username": Setting(
        "HEBO_DB_USERNAME",
        "heboadmin",
        rules.PG_USERNAME,
        "Aurora master user name (not secret; the password comes from the `DbPassword` secret).",
    ),
    "db_password_version": Setting(
        "HEBO_DB_PASSWORD_VERSION",
        "1",
        rules.int_range(1, 1_000_000),
        "Bump to push the current `DbPassword` into Aurora (`master_password_wo_version`); keep it in cdktf.json context.",
    ),
    "migrations_dir": Setting(
        "HEBO_MIGRATIONS_DIR",
        "lambdas/migrator/example-migrations",
        rules.path_rule(
            REPO_ROOT,
            must_exist=True,
            allowed="an existing directory (the app repo's drizzle-kit migrations folder), relative to the repository root or absolute",
        ),
        "drizzle-kit migrations folder of the app repo.",
    ),
    "app_repo": Setting(
        "HEBO_APP_REPO",
        "docker/example-app",
        rules.path_rule(
            REPO_ROOT,
            must_exist=False,
            allowed="a directory path, relative to the repository root or absolute (must exist in build mode)",
        ),
        "Application repository holding Dockerfile.api / Dockerfile.gateway (build mode).",
    ),
    "api_image": Setting(
        "HEBO_API_IMAGE",
        "",
        optional(rules.IMAGE_URI),
        "Pre-built API image URI; with HEBO_GATEWAY_IMAGE selects prebuilt mode (no docker provider).",
    ),
    "gateway_image": Setting("HEBO_GATEWAY_IMAGE", "", optional(rules.IMAGE_URI), "Pre-built Gateway image URI."),
    "health_check_path": Setting("HEBO_HEALTH_CHECK_PATH", "/", rules.URL_PATH, "Target group health check path."),
    "alarm_email": Setting(
        "HEBO_ALARM_EMAIL", "", optional(rules.EMAIL), "E-mail address subscribed to the alarm topic."
    ),
    "console_build_dir": Setting(
        "HEBO_CONSOLE_BUILD_DIR",
        "../console/build/client",
        rules.path_rule(
            REPO_ROOT,
            must_exist=False,
            allowed="a directory path, relative to the repository root or absolute (missing: a placeholder page)",
        ),
        "Console build output (`build/client`); missing deploys a placeholder page.",
    ),
    "price_class": Setting(
        "HEBO_PRICE_CLASS",
        "PriceClass_100",
        rules.choice(("PriceClass_100", "PriceClass_200", "PriceClass_All")),
        "CloudFront price class.",
    ),
    "enable_dnssec": Setting(
        "HEBO_ENABLE_DNSSEC", "false", rules.FLAG, "Sign the hosted zone with DNSSEC (KMS key in us-east-1)."
    ),
    "enable_caa": Setting(
        "HEBO_ENABLE_CAA", "true", rules.FLAG, "CAA records allowing only Amazon to issue certificates."
    ),
    "caa_extra_issuers": Setting(
        "HEBO_CAA_EXTRA_ISSUERS",
        "",
        rules.CAA_ISSUERS,
        "Comma-separated CAs allowed besides Amazon (e.g. `letsencrypt.org` if the apex site uses it).",
    ),
    "csp_extra_origins": Setting(
        "HEBO_CSP_EXTRA_ORIGINS",
        "",
        rules.Rule(EXTRA_ORIGIN_RULE, extra_origins),
        "Origins the console may call besides its own, this stage's API/Gateway and Stack Auth (`connect-src`), comma-separated `https://host`; see docs/edge.md.",
    ),
    "csp_report_only": Setting(
        "HEBO_CSP_REPORT_ONLY",
        "false",
        rules.FLAG,
        "Send the console's Content-Security-Policy as `…-Report-Only` (violations reported, nothing blocked): for a first rollout.",
    ),
    "caa_iodef": Setting(
        "HEBO_CAA_IODEF",
        "",
        optional(rules.IODEF),
        "Where CAs report refused requests (`mailto:security@hebo.ai`); empty: no iodef record.",
    ),
    "preview_secrets_from": Setting(
        "HEBO_PREVIEW_SECRETS_FROM",
        "dev",
        _TEMPLATE_STAGE,
        'Template stage whose Stack Auth, Groq and Voyage secrets previews read by name instead of owning copies (docs/previews.md, "Secrets").',
    ),
}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Parsed, validated, typed settings (one field per `SETTINGS` entry) plus the derived stage
    policy and naming helper. Stacks read typed values; nothing downstream parses a string.

    A field named like a `SETTINGS` key is documented by that row (variable, default, allowed
    values, meaning: the README's settings table, one place); the other fields by their own
    docstrings. Raises ConfigError from `load` (errors.py renders it)."""

    stage: str
    app: str
    region: str
    secondary_region: str
    zone: str
    zone_id: str | None
    preview_pattern: str | None
    backend: Literal["s3", "cloud", "local"]
    state_bucket: str
    state_lock_table: str | None
    """None (default): S3 native locking only; a name adds the deprecated DynamoDB lock (opt-in)."""
    state_region: str | None
    tfc_organization: str | None
    tfc_hostname: str
    az_count: int
    vpc_cidr: str
    secondary_vpc_cidr: str
    nat_ami_id: str | None
    db_max_acu: float | None
    """ACU; None keeps the stage policy's maximum."""
    db_engine_version: str
    db_username: str
    db_password_version: int
    migrations_dir: Path
    app_repo: Path
    api_image: str | None
    gateway_image: str | None
    health_check_path: str
    alarm_email: str | None
    console_build_dir: Path
    price_class: str
    enable_dnssec: bool
    enable_caa: bool
    caa_extra_issuers: tuple[str, ...]
    csp_extra_origins: tuple[str, ...]
    """Extra `connect-src` origins of the console's Content-Security-Policy."""
    csp_report_only: bool
    caa_iodef: str | None
    preview_secrets_from: str
    """Template stage of the secrets a preview does not own (`StagePolicy.owns_app_secrets`)."""

    policy: StagePolicy
    """The stage policy (config/stage.py) of `stage`, with `db_max_acu` applied."""
    names: Names
    """Every physical name of the stage (config/naming.py), validated against AWS's rules."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Setting key -> where its value came from: a flag (`--stage`), `HEBO_X`, `context:<key>` or `default`."""

    @property
    def values(self) -> dict[str, Any]:
        """The typed setting values by key (not the derived policy and names)."""
        return {key: getattr(self, key) for key in SETTINGS}

    @property
    def image_mode(self) -> str:
        """`prebuilt` when image URIs are set (HEBO_API_IMAGE/HEBO_GATEWAY_IMAGE), else `build`."""
        return "prebuilt" if self.api_image or self.gateway_image else "build"

    def label(self, key: str) -> str:
        """How the user spelled setting `key` (from its source): `HEBO_X`, a context key or a flag."""
        return SETTINGS[key].label(self.sources.get(key, "default"))

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        context: Mapping[str, Any] | None = None,
        overrides: Mapping[str, tuple[str, str]] | None = None,
    ) -> Settings:
        """The one resolver: overrides over env over context over defaults (module docstring).

        `env`: the environment (default: os.environ). `context`: cdktf.json's context (default:
        `project_context(env)`; pass `{}` to ignore cdktf.json). `overrides`: setting key ->
        (flag as typed, raw value), e.g. `{"stage": ("--stage", "pr-1")}`, for command-line flags.
        Raises ConfigError naming the setting as the user spelled it.
        """
        env = os.environ if env is None else env
        context = project_context(env) if context is None else context
        raws, sources = resolve_raw(env, context, overrides or {})
        values = {key: SETTINGS[key].parse(SETTINGS[key].label(sources[key]), raw) for key, raw in raws.items()}
        return cls.from_values(values, sources)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], sources: Mapping[str, str] | None = None) -> "Settings":
        """Check the rules between settings and derive the policy and names; raise ConfigError."""
        values, sources = dict(values), dict(sources or {})

        def label(key: str) -> str:
            return SETTINGS[key].label(sources.get(key, "default"))

        _check_between(values, label)
        try:
            overrides = {"db_max_acu": values["db_max_acu"]} if values["db_max_acu"] else {}
            policy = policy_for(values["stage"], overrides, values["preview_pattern"])
            names = build_names(values["app"], policy, values["zone"], values["preview_secrets_from"])
        except ConfigError as error:  # the stage against app, zone and pattern: name what the user typed
            if max_stage_length(values["app"], values["zone"]) < len("dev"):  # no stage fits: the zone is the culprit
                raise ConfigError(
                    label("zone"), values["zone"], reason=f"too long for the names derived from it ({error.detail})"
                ) from None
            key = _SETTING_OF.get(error.setting)
            raise (error.relabel(label(key)) if key else error) from None
        return cls(**values, policy=policy, names=names, sources=sources)


_SETTING_OF = {"stage": "stage", "app name": "app", "db_max_acu": "db_max_acu"}
"""config/stage.py and config/naming.py name what they check plainly; the setting each one is."""


def resolve_raw(
    env: Mapping[str, str], context: Mapping[str, Any], overrides: Mapping[str, tuple[str, str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Every setting's raw text and its source (flag, `HEBO_X`, `context:<key>`, `default`), by
    precedence; unknown override keys raise KeyError (a programming error, not user input)."""
    unknown = set(overrides) - set(SETTINGS)
    if unknown:
        raise KeyError(f"unknown settings overridden: {sorted(unknown)}")
    raws: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key, setting in SETTINGS.items():
        if key in overrides:
            sources[key], raws[key] = overrides[key]
        elif setting.env in env:
            raws[key], sources[key] = env[setting.env], setting.env
        elif context.get(setting.context_key) is not None:
            raws[key], sources[key] = _context_text(context[setting.context_key]), f"context:{setting.context_key}"
        else:
            raws[key], sources[key] = setting.default, "default"
    return raws, sources


def project_context(env: Mapping[str, str], cdktf_json: Path = CDKTF_JSON) -> dict[str, Any]:
    """cdktf.json's `context` object: as the cdktf CLI passed it (CDKTF_CONTEXT_JSON in `env`), else
    read from `cdktf_json` (absent file or key: `{}`). Raises ConfigError for JSON that is not an object."""
    raw = env.get(CONTEXT_ENV)
    if raw:
        return _json_object(CONTEXT_ENV, raw)
    try:
        text = cdktf_json.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    context = _json_object(str(cdktf_json), text).get("context") or {}
    if not isinstance(context, dict):
        raise ConfigError(f"{cdktf_json} context", reason=f"must be a JSON object, not {type(context).__name__}")
    return context


def _json_object(label: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(label, reason=f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ConfigError(label, reason=f"must be a JSON object, not {type(value).__name__}")
    return value


def _check_between(values: Mapping[str, Any], label: Callable[[str], str]) -> None:
    """The rules between settings (each one alone has passed its own rule); ConfigError names the first broken."""
    if values["backend"] == "cloud" and not values["tfc_organization"]:
        raise ConfigError(
            label("backend"), "cloud", rule=f"needs {label('tfc_organization')} (the Terraform Cloud organization)"
        )
    if bool(values["api_image"]) != bool(values["gateway_image"]):
        given = "api_image" if values["api_image"] else "gateway_image"
        raise ConfigError(
            label(given),
            values[given],
            rule=f"prebuilt image mode needs both {label('api_image')} and {label('gateway_image')} (or neither to build)",
        )
    if values["region"] == values["secondary_region"]:
        raise ConfigError(
            label("secondary_region"), values["secondary_region"], rule=f"must differ from {label('region')}"
        )
    if ipaddress.ip_network(values["vpc_cidr"]).overlaps(ipaddress.ip_network(values["secondary_vpc_cidr"])):
        raise ConfigError(
            label("secondary_vpc_cidr"),
            values["secondary_vpc_cidr"],
            rule=f"must not overlap {label('vpc_cidr')} {values['vpc_cidr']!r} (the VPCs may be peered later)",
        )


def _context_text(value: Any) -> str:
    """cdktf.json context is JSON: `true` must read as the flag `true` (not Python's `True`), and a
    list (CAA issuers) as the comma-separated text the variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_context_text(item) for item in value)
    return str(value)


_DERIVED = {"policy", "names", "sources"}
_FIELDS = {f.name for f in fields(Settings)} - _DERIVED
if _FIELDS != set(SETTINGS):  # a setting added to the table needs its typed field, and back
    raise RuntimeError(f"config.settings: SETTINGS and Settings fields differ: {sorted(_FIELDS ^ set(SETTINGS))}")


def settings_reference() -> str:
    """The README configuration table, generated from SETTINGS (Allowed: each setting's rule)."""
    rows = ["| Variable | Context key | Default | Meaning | Allowed |", "|---|---|---|---|---|"]
    for setting in SETTINGS.values():
        default = f"`{setting.default}`" if setting.default else "—"
        allowed = setting.allowed.replace("|", "\\|")
        rows.append(f"| `{setting.env}` | `{setting.context_key}` | {default} | {setting.doc} | {allowed} |")
    return "\n".join(rows)


__all__ = [
    "CDKTF_JSON",
    "REPO_ROOT",
    "SETTINGS",
    "ConfigError",
    "Setting",
    "Settings",
    "project_context",
    "resolve_raw",
    "settings_reference",
]

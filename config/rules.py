"""Format rules for the HEBO_* settings, each taken from the format AWS or Terraform documents.

A `Rule` parses one raw string into a typed value or raises `ConfigError` with one line that
names the setting as the user typed it (`HEBO_REGION`, `cdktf context key 'region'`, `--region`),
the bad value and what is allowed. `Rule.allowed` is also the README's "Allowed" column, so the
documentation and the check cannot drift apart. A rule is never looser than AWS: a value it
accepts may still fail for account reasons (quota, opt-in region), never for its format.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Sequence

from config.errors import ConfigError

PLATFORM_ENDPOINT_PREFIXES = (
    "ec2",
    "ecs",
    "rds",
    "lambda",
    "elasticloadbalancing",
    "kms",
    "secretsmanager",
    "logs",
    "api.ecr",
    "wafv2",
    "sns",
    "monitoring",
    "application-autoscaling",
    "s3",
    "sts",
)
"""Endpoint prefixes (botocore endpoints.json) of every regional service a stage deploys."""


class Invalid(ValueError):
    """Raised by a rule's check with the specific reason; `Rule` turns it into a ConfigError."""


@dataclass(frozen=True)
class Rule:
    """A parser with its documented format.

    `check(raw) -> value` raises `Invalid(reason)` (reason may be empty). `allowed` completes
    "must be …" in errors and fills the README's Allowed column; `source` is where the rule
    comes from (AWS/Terraform documentation URL).
    """

    allowed: str
    """Completes "must be …": the format in words (`a region such as us-east-1`)."""
    check: Callable[[str], Any]
    """`check(raw) -> typed value`; raises `Invalid(reason)` for a value that breaks the rule."""
    source: str = ""
    """Where the rule comes from (an AWS/Terraform documentation URL); empty for the app's own rules."""
    set_allowed: str = ""
    """What a value that is set must be, where that differs from `allowed` (optional rules: a bad
    `ami-x` is told "must be an AMI id", not "must be empty, or an AMI id")."""

    def __call__(self, label: str, raw: str) -> Any:
        """`check(raw)`, or ConfigError naming `label` (the setting as typed), `raw` and the rule."""
        try:
            return self.check(raw)
        except Invalid as error:
            raise ConfigError(
                label, raw, reason=str(error), rule=f"must be {self.set_allowed or self.allowed}"
            ) from None


def matching(pattern: str, allowed: str, source: str = "") -> Rule:
    """A rule that is one regular expression over the whole value."""
    compiled = re.compile(pattern)

    def check(raw: str) -> str:
        if not compiled.fullmatch(raw):
            raise Invalid("")
        return raw

    return Rule(allowed, check, source)


def optional(rule: Rule) -> Rule:
    """The same rule, with the empty string meaning "not set" (None)."""
    return Rule(f"empty, or {rule.allowed}", lambda raw: rule.check(raw) if raw else None, rule.source, rule.allowed)


# -- enumerations and numbers --------------------------------------------------------------------
def _closest(raw: str, candidates: Sequence[str]) -> str | None:
    """The candidate the user probably meant (same letters in another case, or a near miss)."""
    by_case = {c.lower(): c for c in candidates}
    if raw.lower() in by_case:
        return by_case[raw.lower()]
    close = difflib.get_close_matches(raw, candidates, n=1)
    return close[0] if close else None


def choice(allowed: Sequence[str]) -> Rule:
    """A rule accepting exactly one of `allowed` (case-sensitive), suggesting the closest on a miss."""

    def check(raw: str) -> str:
        if raw not in allowed:
            close = _closest(raw, allowed)
            raise Invalid(f"did you mean {close!r}?" if close else "")
        return raw

    return Rule(f"one of {', '.join(allowed)}", check)


def _flag(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise Invalid("")
    return raw == "true"


FLAG = Rule("`true` or `false`", _flag)


def int_range(low: int, high: int) -> Rule:
    """A rule accepting a whole number from `low` to `high` (inclusive), written in decimal digits only."""

    def check(raw: str) -> int:
        if not re.fullmatch(r"[0-9]+", raw) or not low <= int(raw) <= high:
            raise Invalid("")
        return int(raw)

    return Rule(f"a whole number from {low} to {high}", check)


def _acu(raw: str) -> float:
    if not re.fullmatch(r"[0-9]+(?:\.[05])?", raw):
        raise Invalid("not a number in 0.5 steps")
    value = float(raw)
    if not (1 <= value <= 256 and math.isfinite(value)):
        raise Invalid("out of range")
    return value


ACU = Rule(
    "a number of ACUs from 1 to 256 in steps of 0.5 (e.g. `32` or `12.5`)",
    _acu,
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html",
)


# -- regions -------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def platform_regions() -> tuple[str, ...]:
    """Regions of the commercial `aws` partition where every service a stage uses has an endpoint,
    from the endpoint data botocore bundles (endpoints.json; read from disk, no network call).

    Commercial only: the fck-nat images and CloudFront's us-east-1 certificates exist only there.
    """
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    regions = set(resolver.get_available_endpoints(PLATFORM_ENDPOINT_PREFIXES[0], "aws"))
    for prefix in PLATFORM_ENDPOINT_PREFIXES[1:]:
        regions &= set(resolver.get_available_endpoints(prefix, "aws"))
    return tuple(sorted(regions))


def _region(raw: str) -> str:
    regions = platform_regions()
    if raw not in regions:
        close = _closest(raw, regions) if raw else None
        raise Invalid(f"no such region in botocore's endpoint data{f' (did you mean {close!r}?)' if close else ''}")
    return raw


REGION = Rule(
    "a commercial AWS region that has every service the platform uses, per botocore's bundled endpoint data "
    "(e.g. `us-east-1`, `eu-west-1`)",
    _region,
    "botocore/data/endpoints.json (https://docs.aws.amazon.com/general/latest/gr/rande.html)",
)


# -- DNS names -----------------------------------------------------------------------------------
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)+[a-z]{{2,63}}")


def _hostname(raw: str) -> str:
    if raw != raw.lower() and _HOSTNAME.fullmatch(raw.lower()):
        raise Invalid(f"write it in lowercase ({raw.lower()!r})")
    if raw.endswith("."):
        raise Invalid("no trailing dot")
    if len(raw) > 253 or not _HOSTNAME.fullmatch(raw):
        raise Invalid("")
    return raw


HOSTNAME = Rule(
    "a lowercase DNS name of two or more labels (a-z, 0-9, '-', 1-63 characters each, no leading or trailing '-'), "
    "an alphabetic top-level label, at most 253 characters",
    _hostname,
    "RFC 1035 §2.3.1; https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html",
)


def _hosted_zone_id(raw: str) -> str:
    if raw.startswith("/hostedzone/"):
        raise Invalid(f"drop the '/hostedzone/' prefix ({raw.removeprefix('/hostedzone/')!r})")
    if not re.fullmatch(r"Z[A-Z0-9]{1,31}", raw):
        raise Invalid("")
    return raw


HOSTED_ZONE_ID = Rule(
    "a Route 53 hosted zone id: `Z` then uppercase letters and digits, at most 32 characters (`ops zone` prints it)",
    _hosted_zone_id,
    "https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHostedZone.html (Id: max length 32)",
)


# -- S3 and DynamoDB -----------------------------------------------------------------------------
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _bucket(raw: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", raw):
        raise Invalid("")
    if ".." in raw:
        raise Invalid("two adjacent periods")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", raw):
        raise Invalid("formatted as an IP address")
    if raw.startswith(_BUCKET_PREFIXES) or raw.endswith(_BUCKET_SUFFIXES):
        raise Invalid("reserved prefix or suffix")
    return raw


BUCKET = Rule(
    "an S3 general purpose bucket name: 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter "
    "or digit, no '..', not an IP address, no reserved prefix (xn--, sthree-, amzn-s3-demo-) or suffix "
    "(-s3alias, --ol-s3, .mrap, --x-s3, --table-s3)",
    _bucket,
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
)


DYNAMODB_TABLE = matching(
    r"[A-Za-z0-9_.-]{3,255}",
    "a DynamoDB table name: 3-255 characters of A-Z, a-z, 0-9, '_', '.', '-'",
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html",
)


# -- identifiers ---------------------------------------------------------------------------------
APP = matching(
    r"[a-z][a-z0-9]{0,11}",
    "1-12 lowercase letters or digits, starting with a letter (it prefixes every physical name, "
    "and ALB names are at most 32 characters)",
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
)


TFC_ORGANIZATION = matching(
    r"[A-Za-z0-9_-]+",
    "a Terraform Cloud organization name: letters, digits, '_' and '-'",
    "https://registry.terraform.io/providers/hashicorp/tfe/latest/docs/resources/organization",
)


AMI_ID = matching(
    r"ami-(?:[0-9a-f]{8}|[0-9a-f]{17})",
    "an AMI id: `ami-` and 8 or 17 lowercase hexadecimal digits",
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Image.html (imageId)",
)


def _engine_version(raw: str) -> str:
    match = re.fullmatch(r"17\.([0-9]{1,2})", raw)
    if not match or int(match[1]) < 4:
        raise Invalid("")
    return raw


ENGINE_VERSION = Rule(
    "an Aurora PostgreSQL 17 version `17.N` with N >= 4 (17.4 was the first; a major upgrade also changes the "
    "parameter group family and is a deliberate change)",
    _engine_version,
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraPostgreSQLReleaseNotes/AuroraPostgreSQL.Updates.html",
)

POSTGRES_RESERVED_WORDS = frozenset(
    """all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
    collation column concurrently constraint create cross default deferrable desc distinct do else end except
    false fetch for foreign freeze from full grant group having ilike in initially inner intersect into is isnull
    join lateral leading left like limit localtime localtimestamp natural not notnull null offset on only or
    order outer overlaps placing primary references returning right select similar some symmetric table
    tablesample then to trailing true union unique user using variadic verbose when where window with""".split()
)
"""PostgreSQL 17's reserved key words (Appendix C, "reserved" and "reserved (can be function or type)")
that fit the user-name rule; RDS refuses a reserved word as master user name."""
RDS_RESERVED_USERS = frozenset({"postgres", "rdsadmin", "admin", "rdsproxyadmin", "rdsrepladmin"})


def _pg_username(raw: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", raw):
        raise Invalid("")
    if raw in RDS_RESERVED_USERS or raw in POSTGRES_RESERVED_WORDS:
        raise Invalid("a reserved name")
    return raw


PG_USERNAME = Rule(
    "1-16 lowercase letters or digits, starting with a letter, and not a reserved name (postgres, rdsadmin, "
    "a PostgreSQL reserved key word such as `user`)",
    _pg_username,
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html (MasterUsername); "
    "https://www.postgresql.org/docs/17/sql-keywords-appendix.html",
)


# -- networks ------------------------------------------------------------------------------------
_PRIVATE_RANGES = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def _vpc_cidr(raw: str) -> str:
    try:
        net = ipaddress.IPv4Network(raw)
    except ValueError as error:
        raise Invalid(str(error)) from None
    if not 16 <= net.prefixlen <= 20:
        raise Invalid(f"/{net.prefixlen} is outside /16-/20")
    if not any(net.subnet_of(r) for r in _PRIVATE_RANGES):
        raise Invalid("not in an RFC 1918 private range")
    return str(net)


VPC_CIDR = Rule(
    "an IPv4 network from /16 to /20 inside an RFC 1918 range (10/8, 172.16/12, 192.168/16), "
    "without host bits (e.g. `10.0.0.0/16`)",
    _vpc_cidr,
    "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html",
)


# -- images, paths, addresses --------------------------------------------------------------------
# The OCI distribution reference grammar (distribution/reference, regexp.go): domain, path, tag, digest.
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
ECR_DOMAIN = re.compile(r"[0-9]{12}\.dkr\.ecr(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com")


def _image(raw: str) -> str:
    match = _IMAGE.fullmatch(raw)
    if not match or len(raw) > 255:
        raise Invalid("")
    if not (match["tag"] or match["digest"]):
        raise Invalid("no tag or digest (a moving `latest` is not a deploy)")
    domain = match["domain"] or ""
    if "amazonaws.com" in domain and not ECR_DOMAIN.fullmatch(domain):
        raise Invalid("not an ECR registry host (ACCOUNT.dkr.ecr.REGION.amazonaws.com)")
    return raw


IMAGE_URI = Rule(
    "a container image reference `[registry/]repository:tag` or `…@sha256:<64 hex>` (digest preferred), "
    "at most 255 characters; ECR registries are `ACCOUNT.dkr.ecr.REGION.amazonaws.com`",
    _image,
    "https://github.com/distribution/reference/blob/main/regexp.go; "
    "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html (image)",
)


def _url_path(raw: str) -> str:
    if not raw.startswith("/") or len(raw) > 1024:
        raise Invalid("")
    if not re.fullmatch(r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*", raw):
        raise Invalid("characters outside RFC 3986 (percent-encode them)")
    return raw


URL_PATH = Rule(
    "an absolute URL path (and optional query) starting with '/', at most 1024 characters of RFC 3986 "
    "path characters or %XX escapes",
    _url_path,
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html "
    "(HealthCheckPath: 1-1024 characters)",
)

_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"


def _email(raw: str) -> str:
    local, at, domain = raw.rpartition("@")
    if not at or len(raw) > 254 or len(local) > 64 or not re.fullmatch(_LOCAL_PART, local):
        raise Invalid("")
    if not _HOSTNAME.fullmatch(domain.lower()):
        raise Invalid("the domain is not a DNS name")
    return raw


EMAIL = Rule(
    "an e-mail address `local@domain.tld` (RFC 5322 dot-atom local part of at most 64 characters, a DNS domain, "
    "at most 254 characters in all)",
    _email,
    "RFC 5321 §4.5.3.1; https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html (email protocol)",
)


def _iodef(raw: str) -> str:
    if raw.startswith("mailto:"):
        _email(raw.removeprefix("mailto:"))
        return raw
    match = re.fullmatch(r"https?://([^/:]+)(?::[0-9]+)?(/.*)?", raw)
    if not match:
        raise Invalid("")
    _hostname(match[1])
    if match[2]:
        _url_path(match[2])
    if '"' in raw or " " in raw:
        raise Invalid("quotes or spaces")
    return raw


IODEF = Rule(
    "a CAA iodef URL: `mailto:<e-mail address>` or `https://host/path`",
    _iodef,
    "RFC 8659 §4.4",
)


def _issuers(raw: str) -> tuple[str, ...]:
    issuers = tuple(i.strip() for i in raw.split(",") if i.strip())
    for issuer in issuers:
        try:
            _hostname(issuer)
        except Invalid:
            raise Invalid(f"{issuer!r} is not a CA domain name") from None
    return issuers


CAA_ISSUERS = Rule(
    "a comma-separated list of CA domain names (e.g. `letsencrypt.org,sectigo.com`), or empty",
    _issuers,
    "RFC 8659 §4.2 (issuer-domain-name)",
)


def _regex(raw: str) -> str:
    try:
        re.compile(raw)
    except re.error as error:
        raise Invalid(f"not a regular expression ({error})") from None
    return raw


REGEX = Rule(
    "a Python regular expression the whole preview stage name must match (e.g. `pr-[0-9]+`)",
    _regex,
    "https://docs.python.org/3/library/re.html#regular-expression-syntax",
)


def path_rule(repo_root: Path, *, must_exist: bool, allowed: str) -> Rule:
    """A file system path, relative to the repository root unless absolute."""

    def check(raw: str) -> Path:
        if not raw:
            raise Invalid("")
        path = Path(raw)
        path = path if path.is_absolute() else repo_root / path
        if must_exist and not path.is_dir():
            raise Invalid("not a directory")
        if not must_exist and path.exists() and not path.is_dir():
            raise Invalid("exists but is not a directory")
        return path

    return Rule(allowed, check)

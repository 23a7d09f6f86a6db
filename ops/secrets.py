"""`ops secrets`: set, list and unset the stage secrets (`{app}/{stage}/{Name}`) out of band.

Terraform (the data stack) owns the secret *containers*; this module only writes *values*, so
Terraform state never holds them (design.md §5). Consequences, all deliberate:

* A value is never printed, logged or accepted on the command line; it comes from stdin, a
  hidden prompt, `--from-file` or a dotenv file, and DEBUG logging is silenced while it is sent.
* A missing container is an error ("deploy the data stack first"): creating it here would give
  Terraform a resource it does not know about, and the next deploy would fail on the name.
* `unset` cannot delete a value (Secrets Manager keeps AWSCURRENT on some version for as long
  as the secret exists, and deleting the secret would fight Terraform). It stores a fixed,
  non-secret placeholder as the new AWSCURRENT version, labelled `HEBO_UNSET`. Consumers stop
  receiving the old value at their next start; `list` reports the secret as `unset` (not set)
  without reading any value; the old value stays as AWSPREVIOUS until the next `set`, so an
  `unset` is not a revocation (rotate the key at its provider for that).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

from botocore.exceptions import ClientError

from ops.aws import OpsError, UsageError, error_code, explain, wire_logs_silenced
from stacks.secrets import SECRET_NAMES, secret_path

UNSET_LABEL = "HEBO_UNSET"
"""Staging label that marks the AWSCURRENT version as the placeholder written by `unset`."""
UNSET_PLACEHOLDER = "hebo-ops-unset"
"""The non-secret value `unset` stores (Secrets Manager refuses empty values)."""
MAX_VALUE_BYTES = 65536  # Secrets Manager's SecretString limit

_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Secrets whose value must be a JSON object with these string members (RDS Proxy's format).
# Checked only when the name is in the catalog, so a rename in stacks/secrets.py cannot break set.
_JSON_MEMBERS: dict[str, tuple[str, ...]] = {"DbCredentials": ("username", "password")}


@dataclass(frozen=True)
class SecretStatus:
    name: str
    path: str
    status: str
    """`set`, `missing` (no value yet), `unset` (placeholder), `no container`, `deleted`."""
    changed: dt.datetime | None

    @property
    def is_set(self) -> bool:
        return self.status == "set"


# ------------------------------------------------------------------------------ validation


def check_name(name: str) -> str:
    if name not in SECRET_NAMES:
        raise UsageError(f"unknown secret {name!r}: valid names are {', '.join(SECRET_NAMES)}")
    return name


def clean_value(name: str, raw: str) -> str:
    """Strip exactly one trailing line ending, then refuse shapes that are almost always mistakes.

    Messages name the secret and the rule, never the value.
    """
    value = raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith("\n") else raw
    if not value:
        raise UsageError(f"empty value for {name}: nothing was written")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise UsageError(f"value for {name} contains a control character or line break: one line only (nothing was written)")
    if value != value.strip():
        raise UsageError(f"value for {name} has leading or trailing whitespace: remove it (nothing was written)")
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise UsageError(f"value for {name} is longer than {MAX_VALUE_BYTES} bytes: nothing was written")
    members = _JSON_MEMBERS.get(name)
    if members:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(parsed.get(m), str) and parsed[m] for m in members):
            shape = ", ".join(f'"{m}": "..."' for m in members)
            raise UsageError(f"value for {name} must be a JSON object {{{shape}}}: nothing was written")
    if value == UNSET_PLACEHOLDER:
        raise UsageError(f"value for {name} is the `unset` placeholder: use `ops secrets unset {name}` instead")
    return value


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse the dotenv subset `set-all` accepts (see ops/README.md); values are cleaned, not echoed.

    `Name=value` per line; blank lines and lines starting with `#` are skipped; whitespace around
    name and `=` is ignored; a value may be wrapped in one pair of single or double quotes (taken
    literally, no escapes). No `export`, no inline comments (a `#` inside a value is part of it),
    no multi-line values. Unknown or duplicate names are refused before anything is written.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"env file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read env file {path}: {type(exc).__name__}") from None
    values: dict[str, str] = {}
    unknown: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        where = f"{path}:{number}"
        if stripped.startswith("export "):
            raise UsageError(f"{where}: `export` is not supported: write Name=value")
        if "=" not in stripped:
            raise UsageError(f"{where}: expected Name=value")
        key, _, raw = stripped.partition("=")
        key, raw = key.strip(), raw.strip()
        if not _KEY_RE.fullmatch(key):
            raise UsageError(f"{where}: invalid name {key!r}: expected Name=value")
        if raw[:1] in ("'", '"'):
            if len(raw) < 2 or raw[-1] != raw[0]:
                raise UsageError(f"{where}: unbalanced quote in the value of {key}")
            raw = raw[1:-1]
        if key in values:
            raise UsageError(f"{where}: {key} is set twice")
        if key not in SECRET_NAMES:
            unknown.append(key)
            continue
        values[key] = clean_value(key, raw)
    if unknown:
        raise UsageError(
            f"unknown secret name(s) in {path}: {', '.join(unknown)} (valid: {', '.join(SECRET_NAMES)}); nothing was written"
        )
    if not values:
        raise UsageError(f"{path} sets no secrets: expected Name=value lines")
    return values


# ---------------------------------------------------------------------------------- AWS


def _version_current(versions: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    for version in versions:
        if "AWSCURRENT" in version.get("VersionStages", []):
            return version
    return None


def status(sm: Any, app: str, stage: str, name: str) -> SecretStatus:
    """Where a secret stands, from DescribeSecret and ListSecretVersionIds only (never the value)."""
    path = secret_path(app, stage, name)
    try:
        desc = sm.describe_secret(SecretId=path)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return SecretStatus(name, path, "no container", None)
        raise
    if desc.get("DeletedDate"):
        return SecretStatus(name, path, "deleted", desc.get("DeletedDate"))
    versions: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"SecretId": path}
    while True:  # boto3 has no paginator for ListSecretVersionIds
        page = sm.list_secret_version_ids(**kwargs)
        versions.extend(page.get("Versions", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    current = _version_current(versions)
    if current is None:
        return SecretStatus(name, path, "missing", None)
    changed = current.get("CreatedDate") or desc.get("LastChangedDate")
    if UNSET_LABEL in current.get("VersionStages", []):
        return SecretStatus(name, path, "unset", changed)
    return SecretStatus(name, path, "set", changed)


def _require_container(sm: Any, path: str) -> None:
    """Fail unless the data stack's secret exists and is not scheduled for deletion."""
    try:
        desc = sm.describe_secret(SecretId=path)
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise OpsError(f"secret {path} does not exist: deploy the data stack first (cdktf deploy data)") from None
        raise
    if desc.get("DeletedDate"):
        raise OpsError(
            f"secret {path} is scheduled for deletion: restore it (aws secretsmanager restore-secret --secret-id {path}) "
            "or redeploy the data stack"
        )


def put_value(sm: Any, path: str, value: str, stages: list[str] | None = None) -> str:
    """PutSecretValue with DEBUG logging off (botocore logs request bodies); returns the version id."""
    kwargs: dict[str, Any] = {"SecretId": path, "SecretString": value}
    if stages:
        kwargs["VersionStages"] = stages
    with wire_logs_silenced():
        try:
            response = sm.put_secret_value(**kwargs)
        except ClientError as exc:
            # `from None`: no chained traceback whose frames could hold the value.
            raise explain(exc, f"secret {path}") from None
    return str(response.get("VersionId", ""))


def set_values(sm: Any, app: str, stage: str, values: dict[str, str], out: TextIO, dry_run: bool) -> int:
    """Check every container first, then write; a missing container aborts before any write."""
    paths = {name: secret_path(app, stage, name) for name in values}
    for path in paths.values():
        _require_container(sm, path)
    for name, value in values.items():
        if dry_run:
            print(f"secret {paths[name]}: would set a new value", file=out)
        else:
            version = put_value(sm, paths[name], value)
            print(f"secret {paths[name]}: value set (version {version})", file=out)
    if dry_run:
        print("dry run: nothing written", file=out)
    return 0


def unset_value(sm: Any, app: str, stage: str, name: str, out: TextIO, dry_run: bool) -> int:
    """Make the placeholder the current version (see the module docstring for why not delete)."""
    current = status(sm, app, stage, name)
    if current.status == "no container":
        print(f"secret {current.path}: does not exist, nothing to unset", file=out)
        return 0
    if current.status in ("missing", "unset", "deleted"):
        print(f"secret {current.path}: already {current.status}, nothing to do", file=out)
        return 0
    if dry_run:
        print(f"secret {current.path}: would replace the current value with the unset placeholder", file=out)
        return 0
    put_value(sm, current.path, UNSET_PLACEHOLDER, ["AWSCURRENT", UNSET_LABEL])
    print(f"secret {current.path}: unset (placeholder is now current; the old value is kept as AWSPREVIOUS)", file=out)
    return 0


def list_statuses(sm: Any, app: str, stage: str, out: TextIO) -> int:
    """Print a table of every required secret; exit 1 when any is not set (pre-deploy check)."""
    rows = [status(sm, app, stage, name) for name in SECRET_NAMES]
    width = max(len(r.name) for r in rows)
    print(f"{'NAME':<{width}}  {'STATUS':<12}  LAST CHANGED (UTC)", file=out)
    for row in rows:
        when = row.changed.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if row.changed else "-"
        print(f"{row.name:<{width}}  {row.status:<12}  {when}", file=out)
    not_set = [r.name for r in rows if not r.is_set]
    prefix = secret_path(app, stage, "")
    if not_set:
        print(f"{len(not_set)} of {len(rows)} secrets under {prefix} not set: {', '.join(not_set)} (ops secrets set NAME --stage {stage})", file=out)
        return 1
    print(f"all {len(rows)} secrets under {prefix} are set", file=out)
    return 0

"""`ops secrets`: set, list and unset the stage secrets (`{app}/{stage}/{Name}`) out of band.

Terraform (the data stack) owns the secret *containers*; this module only writes *values*, so
Terraform state never holds them (values are set out of band); ops/secret_input.py checks every
input before this module calls AWS. Consequences, all deliberate:

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
* Derived secrets (`DbCredentials` = JSON of `DbUsername` + `DbPassword`, see config/secrets.py)
  are never set by hand: every `set`/`set-all` of an input rewrites them from the inputs' current
  values (reading the other input with GetSecretValue), and `unset` of an input unsets them too,
  so the copies cannot disagree. `list` flags a derived secret older than an input as `stale`.
* Generated secrets (`DbAppCredentials` = JSON `{"username": "hebo_app", "password": <random>}`, the
  services' database login) are never typed by anyone: `set-all` generates one when it has no value,
  `rotate` replaces it. The value is made here with `secrets.token_*` and never printed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, TextIO

from botocore.exceptions import ClientError

from config.secrets import (
    DERIVED_SECRETS,
    GENERATED_SECRETS,
    SECRET_NAMES,
    SHARED_BY_PREVIEWS,
    StageSecret,
    secret_path,
)
from ops.aws import OpsError, UsageError, error_code, explain, wire_logs_silenced
from ops.secret_input import (
    MAX_VALUE_BYTES,
    MUST_EQUAL_SETTING,
    UNSET_PLACEHOLDER,
    check_configured,
    check_generated,
    generate_value,
    join_names,
    stage_secret_names,
)
from config.settings import SETTINGS

UNSET_LABEL = "HEBO_UNSET"
"""Staging label that marks the AWSCURRENT version as the placeholder written by `unset`."""

_DERIVED: dict[str, StageSecret] = {d.name: d for d in DERIVED_SECRETS}
_GENERATED: dict[str, StageSecret] = {g.name: g for g in GENERATED_SECRETS}


@dataclass(frozen=True)
class SecretStatus:
    """What `ops secrets list` knows of one secret, from metadata only (never its value)."""

    name: str
    """Catalog name, e.g. `GroqApiKey`."""
    path: str
    """The full Secrets Manager name `{app}/{stage}/{Name}`."""
    status: str
    """`set`, `missing` (no value yet), `unset` (placeholder), `no container`, `deleted`."""
    changed: dt.datetime | None
    """When the current value was written (the AWSCURRENT version's CreatedDate, else the secret's
    LastChangedDate); None when there is neither."""

    @property
    def is_set(self) -> bool:
        """True when a real value (not the `unset` placeholder) is current."""
        return self.status == "set"


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
            raise OpsError(
                f"secret {path} does not exist: deploy the data stack first (npx cdktf deploy network data)"
            ) from None
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


def get_value(sm: Any, path: str) -> str:
    """GetSecretValue (AWSCURRENT) with DEBUG logging off: botocore logs response bodies too."""
    with wire_logs_silenced():
        try:
            return str(sm.get_secret_value(SecretId=path)["SecretString"])
        except ClientError as exc:
            raise explain(exc, f"secret {path}") from None


@dataclass(frozen=True)
class _DerivedPlan:
    secret: StageSecret
    path: str
    value: str | None
    """The new JSON value; None in a dry run or while an input is not set."""
    not_set: tuple[str, ...]
    """Inputs that have no value yet: nothing is written until they do."""


def _plan_derived(
    sm: Any,
    app: str,
    stage: str,
    secret: StageSecret,
    values: Mapping[str, str],
    expected: Mapping[str, str | None],
    dry_run: bool,
) -> _DerivedPlan:
    """Collect a derived secret's inputs (given now, else read from AWS) before anything is written."""
    path = secret_path(app, stage, secret.name)
    _require_container(sm, path)
    known: dict[str, str] = {}
    not_set: list[str] = []
    for source in secret.inputs:
        if source in values:
            known[source] = values[source]
            continue
        current = status(sm, app, stage, source)
        if not current.is_set:
            not_set.append(source)
        elif not dry_run:
            known[source] = get_value(sm, current.path)
            try:
                check_configured(source, known[source], expected)
            except UsageError:
                env = SETTINGS[MUST_EQUAL_SETTING[source]].env
                raise OpsError(
                    f"the stored {source} differs from {env} ({expected[source]!r}): set {source} to that value first "
                    f"(ops secrets set {source} --stage {stage}); nothing was written"
                ) from None
    if not_set or dry_run:
        return _DerivedPlan(secret, path, None, tuple(not_set))
    value = json.dumps({member: known[source] for member, source in secret.derived_from})
    if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
        raise UsageError(f"{secret.name} would be longer than {MAX_VALUE_BYTES} bytes: nothing was written")
    return _DerivedPlan(secret, path, value, ())


def set_values(
    sm: Any,
    app: str,
    stage: str,
    values: dict[str, str],
    out: TextIO,
    dry_run: bool,
    expected: Mapping[str, str | None] | None = None,
    generate_missing: bool = False,
) -> int:
    """Check every container (and read the inputs of affected derived secrets) first, then write.

    A missing container or a stored input that contradicts the settings aborts before any write.
    `expected`: values some secrets must equal (`configured()`); the caller has checked `values`.
    `generate_missing` (set-all): also generate each generated secret that has no value yet.
    """
    expected = expected or {}
    for name, value in values.items():
        check_configured(name, value, expected)
    paths = {name: secret_path(app, stage, name) for name in values}
    for path in paths.values():
        _require_container(sm, path)
    plans = [
        _plan_derived(sm, app, stage, d, values, expected, dry_run)
        for d in DERIVED_SECRETS
        if set(d.inputs) & set(values)
    ]
    to_generate = []
    for generated in GENERATED_SECRETS if generate_missing else ():
        path = secret_path(app, stage, generated.name)
        _require_container(sm, path)
        if not status(sm, app, stage, generated.name).is_set:
            to_generate.append((generated.name, path))
    for name, value in values.items():
        if dry_run:
            print(f"secret {paths[name]}: would set a new value", file=out)
        else:
            version = put_value(sm, paths[name], value)
            print(f"secret {paths[name]}: value set (version {version})", file=out)
    for name, path in to_generate:
        _write_generated(sm, name, path, out, dry_run, "generated (it had no value)")
    for plan in plans:
        inputs = join_names(plan.secret.inputs)
        if plan.not_set:
            print(
                f"secret {plan.path}: not written ({join_names(plan.not_set)} not set yet): "
                f"{plan.secret.name} will be written once {inputs} are both set",
                file=out,
            )
        elif dry_run:
            print(f"secret {plan.path}: would be rewritten from {inputs}", file=out)
        else:
            version = put_value(sm, plan.path, plan.value or "")
            print(f"secret {plan.path}: rewritten from {inputs} (version {version})", file=out)
    if dry_run:
        print("dry run: nothing written", file=out)
    return 0


def _write_generated(sm: Any, name: str, path: str, out: TextIO, dry_run: bool, done: str) -> None:
    if dry_run:
        print(f"secret {path}: would be {done.split(' (')[0]}", file=out)
        return
    version = put_value(sm, path, generate_value(name))
    print(
        f"secret {path}: {done} (version {version}); the migrator applies it to the database role on its next run",
        file=out,
    )


def rotate_value(sm: Any, app: str, stage: str, name: str, out: TextIO, dry_run: bool) -> int:
    """Replace generated secret `name` with a fresh value (the old one stays as AWSPREVIOUS)."""
    path = secret_path(app, stage, check_generated(name))
    _require_container(sm, path)
    _write_generated(sm, name, path, out, dry_run, "rotated")
    if dry_run:
        print("dry run: nothing written", file=out)
    return 0


def _unset_one(sm: Any, app: str, stage: str, name: str, out: TextIO, dry_run: bool) -> None:
    current = status(sm, app, stage, name)
    if current.status == "no container":
        print(f"secret {current.path}: does not exist, nothing to unset", file=out)
    elif current.status in ("missing", "unset", "deleted"):
        print(f"secret {current.path}: already {current.status}, nothing to do", file=out)
    elif dry_run:
        print(f"secret {current.path}: would replace the current value with the unset placeholder", file=out)
    else:
        put_value(sm, current.path, UNSET_PLACEHOLDER, ["AWSCURRENT", UNSET_LABEL])
        print(
            f"secret {current.path}: unset (placeholder is now current; the old value is kept as AWSPREVIOUS)", file=out
        )


def unset_value(sm: Any, app: str, stage: str, name: str, out: TextIO, dry_run: bool) -> int:
    """Make the placeholder the current version (see the module docstring for why not delete),
    of `name` and of every secret derived from it: a derived copy must not outlive its input."""
    _unset_one(sm, app, stage, name, out, dry_run)
    for derived in DERIVED_SECRETS:
        if name in derived.inputs:
            _unset_one(sm, app, stage, derived.name, out, dry_run)
    return 0


def _derived_status(row: SecretStatus, inputs: list[SecretStatus]) -> str:
    """`derived` when set and no older than every input (which must be set); else `stale` or as is."""
    if not row.is_set:
        return row.status
    fresh = all(
        i.is_set and i.changed is not None and row.changed is not None and row.changed >= i.changed for i in inputs
    )
    return "derived" if fresh else "stale"


def list_statuses(sm: Any, app: str, stage: str, out: TextIO, template: str) -> int:
    """Print a table of every secret; exit 1 when a secret is not set or a derived one is not current.
    `template`: the stage a preview reads its shared secrets from (HEBO_PREVIEW_SECRETS_FROM).

    Metadata only (no GetSecretValue): a derived secret is `stale` when its current version is
    older than an input's, i.e. an input changed without `ops` rewriting it.
    """
    rows = [status(sm, app, stage, name) for name in stage_secret_names(stage)]
    by_name = {r.name: r for r in rows}
    shown = {
        r.name: (_derived_status(r, [by_name[i] for i in _DERIVED[r.name].inputs]) if r.name in _DERIVED else r.status)
        for r in rows
    }
    width = max(len(r.name) for r in rows)
    print(f"{'NAME':<{width}}  {'STATUS':<12}  LAST CHANGED (UTC)", file=out)
    for row in rows:
        when = row.changed.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M") if row.changed else "-"
        print(f"{row.name:<{width}}  {shown[row.name]:<12}  {when}", file=out)
    user = [r for r in rows if r.name not in _DERIVED and r.name not in _GENERATED]
    not_set = [r.name for r in user if not r.is_set]
    prefix = secret_path(app, stage, "")
    if not_set:
        print(
            f"{len(not_set)} of {len(user)} secrets under {prefix} not set: {', '.join(not_set)} (ops secrets set NAME --stage {stage})",
            file=out,
        )
    else:
        print(f"all {len(user)} secrets under {prefix} are set", file=out)
    if len(rows) < len(SECRET_NAMES):
        print(
            f"{join_names(SHARED_BY_PREVIEWS)}: not owned by this preview, read from "
            f"{secret_path(app, template, '')} (HEBO_PREVIEW_SECRETS_FROM; ops secrets list --stage {template})",
            file=out,
        )
    generated_ok = _report_generated(by_name, stage, out)
    derived_ok = _report_derived(by_name, shown, stage, out)
    return 0 if not not_set and generated_ok and derived_ok else 1


def _report_generated(by_name: Mapping[str, SecretStatus], stage: str, out: TextIO) -> bool:
    """One line per generated secret; False when one has no value."""
    healthy = True
    for generated in GENERATED_SECRETS:
        row = by_name[generated.name]
        if row.is_set:
            print(f"{generated.name}: generated by ops, set", file=out)
        else:
            healthy = False
            print(
                f"{generated.name}: {row.status}: run `ops secrets rotate {generated.name} --stage {stage}` "
                "(set-all also generates it)",
                file=out,
            )
    return healthy


def _report_derived(by_name: Mapping[str, SecretStatus], shown: Mapping[str, str], stage: str, out: TextIO) -> bool:
    """One line per derived secret, saying what would bring it up to date; False unless all are."""
    healthy = True
    for derived in DERIVED_SECRETS:
        state, inputs = shown[derived.name], join_names(derived.inputs)
        rerun = f"run `ops secrets set {derived.inputs[-1]} --stage {stage}` again"
        if state == "derived":
            print(f"{derived.name}: derived from {inputs}, up to date", file=out)
            continue
        healthy = False
        missing = [i for i in derived.inputs if not by_name[i].is_set]
        if state == "stale" and missing:
            print(
                f"{derived.name}: stale: not derived from {inputs} ({join_names(missing)} not set): "
                f"set {' and '.join(missing)} (ops secrets set NAME --stage {stage})",
                file=out,
            )
        elif state == "stale":
            print(f"{derived.name}: stale (an input changed after it was written): {rerun}", file=out)
        elif state in ("missing", "unset") and not missing:
            print(f"{derived.name}: {state}: {rerun}", file=out)
        elif state in ("missing", "unset"):
            print(f"{derived.name}: {state}: written by ops once {inputs} are both set", file=out)
        else:
            print(f"{derived.name}: {state}", file=out)
    return healthy

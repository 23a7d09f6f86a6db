"""The opt-in DynamoDB state lock table of `ops bootstrap` (`--lock-table` / HEBO_STATE_LOCK_TABLE).

Terraform locks state with a lock file in the bucket (S3 native locking, `use_lockfile`); its S3
backend documentation calls the DynamoDB lock deprecated, to be removed in a future minor version
(https://developer.hashicorp.com/terraform/language/backend/s3). This table exists only for teams
migrating off it. It is created with a `LockID` string hash key, on-demand billing,
SSE, deletion protection and point-in-time recovery, and an existing one is converged to that.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

from botocore.exceptions import ClientError

from ops.aws import OpsError, error_code

LOCK_KEY = "LockID"
"""The hash key Terraform's DynamoDB lock needs (a string attribute)."""


class ChangeReport(Protocol):
    """Where each change goes: `ops bootstrap`'s reporter applies it and prints `done`, or under
    --dry-run prints `would {doing}` only."""

    def change(self, doing: str, done: str, apply: Callable[[], Any]) -> None:
        """Report (and, unless a dry run, apply) one change."""


def _wait_active(ddb: Any, table: str, timeout: float = 300.0) -> dict[str, Any]:
    """Poll until the table is ACTIVE (first look is immediate, unlike the boto3 waiter's 20 s)."""
    deadline = time.monotonic() + timeout
    while True:
        desc = ddb.describe_table(TableName=table)["Table"]
        if desc.get("TableStatus") == "ACTIVE":
            return desc
        if time.monotonic() > deadline:
            raise OpsError(f"table {table} is still {desc.get('TableStatus')} after {int(timeout)} s: re-run later")
        time.sleep(2)


def _sse_spec(kms_key_id: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"Enabled": True, "SSEType": "KMS"}
    if kms_key_id:
        spec["KMSMasterKeyId"] = kms_key_id
    return spec


def _enable_pitr(ddb: Any, table: str) -> None:
    # Right after CreateTable, AWS may answer ContinuousBackupsUnavailable for a short while.
    for attempt in range(30):
        try:
            ddb.update_continuous_backups(
                TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
            )
            return
        except ClientError as exc:
            if error_code(exc) != "ContinuousBackupsUnavailableException" or attempt == 29:
                raise
            time.sleep(2)


def converge(ddb: Any, table: str, kms_key_id: str | None, report: ChangeReport, dry_run: bool) -> None:
    """Create `table` with every setting at once, or refuse one with another key schema and
    converge the settings that differ; each change goes through `report` (which applies it, or
    only says it would under --dry-run). Raises OpsError (another key schema, still not ACTIVE
    after 5 minutes) and ClientError (other AWS errors: ops/aws.py explains them)."""
    try:
        desc: dict[str, Any] | None = ddb.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        desc = None
    if desc is None:
        _create_table(ddb, table, kms_key_id, report)
    else:
        _converge_existing_table(ddb, table, kms_key_id, report, desc, dry_run)


def _create_table(ddb: Any, table: str, kms_key_id: str | None, report: ChangeReport) -> None:
    """CreateTable `table` with every setting at once, then point-in-time recovery."""
    kind = "customer KMS key" if kms_key_id else "AWS managed KMS key"

    def create() -> None:
        ddb.create_table(
            TableName=table,
            AttributeDefinitions=[{"AttributeName": LOCK_KEY, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": LOCK_KEY, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification=_sse_spec(kms_key_id),
            DeletionProtectionEnabled=True,
        )
        _wait_active(ddb, table)

    report.change(
        f"create it ({LOCK_KEY} string hash key, on-demand, SSE with {kind}, deletion protection)",
        f"created ({LOCK_KEY} string hash key, on-demand, SSE with {kind}, deletion protection)",
        create,
    )
    report.change("enable point-in-time recovery", "point-in-time recovery enabled", lambda: _enable_pitr(ddb, table))


def _converge_existing_table(
    ddb: Any, table: str, kms_key_id: str | None, report: ChangeReport, desc: dict[str, Any], dry_run: bool
) -> None:
    """Refuse a table `table` with another key schema; converge
    billing, SSE, deletion protection, PITR with one UpdateTable per setting (AWS rejects some
    combinations in a single call)."""
    attrs = {a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions", [])}
    if desc.get("KeySchema") != [{"AttributeName": LOCK_KEY, "KeyType": "HASH"}] or attrs.get(LOCK_KEY) != "S":
        raise OpsError(
            f"table {table} exists with another key schema (Terraform needs a {LOCK_KEY} string hash key): "
            "choose another name with --lock-table (and HEBO_STATE_LOCK_TABLE)"
        )
    if desc.get("TableStatus") != "ACTIVE" and not dry_run:
        desc = _wait_active(ddb, table)

    def update(**changes: Any) -> Callable[[], None]:
        def apply() -> None:
            ddb.update_table(TableName=table, **changes)
            _wait_active(ddb, table)

        return apply

    if desc.get("BillingModeSummary", {}).get("BillingMode") != "PAY_PER_REQUEST":
        report.change(
            "switch to on-demand billing", "switched to on-demand billing", update(BillingMode="PAY_PER_REQUEST")
        )
    sse = desc.get("SSEDescription") or {}
    if not (
        sse.get("Status") in ("ENABLED", "ENABLING") and (not kms_key_id or sse.get("KMSMasterKeyArn") == kms_key_id)
    ):
        key = kms_key_id or "the AWS managed KMS key"
        report.change(
            f"enable SSE with {key}", f"SSE enabled with {key}", update(SSESpecification=_sse_spec(kms_key_id))
        )
    if desc.get("DeletionProtectionEnabled") is not True:
        report.change(
            "enable deletion protection", "deletion protection enabled", update(DeletionProtectionEnabled=True)
        )
    backups = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    if backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus") not in (
        "ENABLED",
        "ENABLING",
    ):
        report.change(
            "enable point-in-time recovery", "point-in-time recovery enabled", lambda: _enable_pitr(ddb, table)
        )

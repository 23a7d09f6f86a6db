"""`ops bootstrap`: create or converge the Terraform remote-state bucket (and, only when asked, a lock table).

The state backend must exist before the first `cdktf deploy`, so it cannot be managed by the
stacks themselves (README, "Deploying"). State locking is S3-native (`use_lockfile`); the DynamoDB lock
table Terraform deprecates is created only with `--lock-table` / HEBO_STATE_LOCK_TABLE, for teams
migrating off it. Each setting is read back and only changed when it differs,
so the command is safe to re-run and reports `up to date` when nothing was needed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, TextIO

import boto3
from botocore.exceptions import ClientError

from config.rules import BUCKET, DYNAMODB_TABLE
from ops import lock_table
from ops.aws import OpsError, UsageError, client, error_code, http_status

LIFECYCLE_RULE_ID = "hebo-terraform-state"
NONCURRENT_DAYS = 90
ABORT_MULTIPART_DAYS = 7
TLS_SID = "DenyInsecureTransport"
OWNERSHIP = "BucketOwnerEnforced"
PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}

_KMS_ARN_RE = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+$")


@dataclass(frozen=True)
class BootstrapConfig:
    """What `ops bootstrap` creates or converges, resolved from flags over settings (ops/cli.py)."""

    bucket: str
    """The S3 state bucket (HEBO_STATE_BUCKET's rule: config/rules.py BUCKET)."""
    lock_table: str | None
    """None (default): no DynamoDB table; Terraform locks with a lock file in the bucket."""
    region: str
    """Region of the bucket (and table): HEBO_STATE_REGION, else HEBO_REGION."""
    kms_key_id: str | None = None
    """A customer managed KMS key ARN for SSE-KMS (same region); None: SSE-S3."""

    def validate(self) -> None:
        """Reject names AWS would reject, before any call (exit 2 rather than an API error); the
        rules are the settings' own (config/rules.py), so ops and the stacks agree."""
        BUCKET("--bucket", self.bucket)
        if self.lock_table is not None:
            DYNAMODB_TABLE("--lock-table", self.lock_table)
        if self.kms_key_id is not None:
            match = _KMS_ARN_RE.fullmatch(self.kms_key_id)
            if not match:
                raise UsageError(
                    f"invalid --kms-key-id {self.kms_key_id!r}: must be a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)"
                )
            if match["region"] != self.region:
                raise UsageError(
                    f"--kms-key-id is in {match['region']} but --region is {self.region}: use a key in {self.region}"
                )


class _Reporter:
    """Prints one line per change (or planned change under --dry-run) and counts them."""

    def __init__(self, subject: str, out: TextIO, dry_run: bool) -> None:
        self.subject, self.out, self.dry_run, self.changes = subject, out, dry_run, 0

    def change(self, doing: str, done: str, apply: Callable[[], Any]) -> None:
        self.changes += 1
        if self.dry_run:
            print(f"{self.subject}: would {doing}", file=self.out)
        else:
            apply()
            print(f"{self.subject}: {done}", file=self.out)

    def finish(self) -> None:
        if not self.changes:
            print(f"{self.subject}: up to date", file=self.out)


# ---------------------------------------------------------------------------------------- S3


def desired_encryption(kms_key_id: str | None) -> dict[str, Any]:
    """The bucket's default-encryption rule: SSE-KMS with a bucket key for `kms_key_id`, else SSE-S3 (AES256)."""
    if kms_key_id:
        return {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id},
            "BucketKeyEnabled": True,
        }
    return {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}


def tls_statement(bucket: str, partition: str) -> dict[str, Any]:
    """The bucket-policy statement denying every request not made over TLS (`aws:SecureTransport` false)."""
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def lifecycle_rule() -> dict[str, Any]:
    """The state bucket's lifecycle rule: noncurrent versions expire after NONCURRENT_DAYS (90),
    incomplete multipart uploads abort after ABORT_MULTIPART_DAYS (7)."""
    return {
        "ID": LIFECYCLE_RULE_ID,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
    }


def _canonical(statement: dict[str, Any]) -> str:
    statement = dict(statement)
    if isinstance(statement.get("Resource"), list):
        statement["Resource"] = sorted(statement["Resource"])
    if statement.get("Principal") == {"AWS": "*"}:
        statement["Principal"] = "*"
    return json.dumps(statement, sort_keys=True)


def _encryption_ok(rules: list[dict[str, Any]], kms_key_id: str | None) -> bool:
    if len(rules) != 1:
        return False
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    if kms_key_id:
        return (
            default.get("SSEAlgorithm") == "aws:kms"
            and default.get("KMSMasterKeyID") == kms_key_id
            and rules[0].get("BucketKeyEnabled") is True
        )
    return default.get("SSEAlgorithm") == "AES256"


def _lifecycle_rule_ok(rule: dict[str, Any]) -> bool:
    """Our rule as AWS returns it (it may normalise the empty filter to `{}` or `{"Prefix": ""}`)."""
    return (
        rule.get("Status") == "Enabled"
        and rule.get("Filter", {}) in ({}, {"Prefix": ""})
        and not rule.get("Prefix")
        and rule.get("NoncurrentVersionExpiration") == {"NoncurrentDays": NONCURRENT_DAYS}
        and rule.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": ABORT_MULTIPART_DAYS}
        and not any(k in rule for k in ("Expiration", "Transitions", "NoncurrentVersionTransitions"))
    )


def _get_or_none(call: Callable[[], dict[str, Any]], *missing_codes: str) -> dict[str, Any] | None:
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in missing_codes:
            return None
        raise


def bucket_state(s3: Any, config: BootstrapConfig, account: str) -> str:
    """'absent' or 'ours'; another account's bucket or one in another region is an error."""
    bucket = config.bucket
    try:
        # ExpectedBucketOwner makes AWS answer 403 for a bucket we can read but do not own.
        head = s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
    except ClientError as exc:
        status, code = http_status(exc), error_code(exc)
        if status == 404 or code in ("404", "NoSuchBucket", "NotFound"):
            return "absent"
        if status == 403 or code in ("403", "AccessDenied", "Forbidden"):
            raise OpsError(
                f"bucket {bucket} exists but is not owned by account {account} (or you lack s3:ListBucket on it): "
                "choose another name with --bucket (and HEBO_STATE_BUCKET)"
            ) from None
        if status == 301 or code == "PermanentRedirect":
            raise OpsError(f"bucket {bucket} exists in another region: pass that region with --region") from None
        raise
    actual = head.get("BucketRegion")
    if actual and actual != config.region:
        raise OpsError(f"bucket {bucket} exists in {actual}, not {config.region}: pass --region {actual}")
    return "ours"


def create_bucket(s3: Any, config: BootstrapConfig) -> None:
    """CreateBucket; us-east-1 is the one region that takes no LocationConstraint."""
    kwargs: dict[str, Any] = {"Bucket": config.bucket, "ObjectOwnership": OWNERSHIP}
    if config.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
    try:
        s3.create_bucket(**kwargs)
    except ClientError as exc:
        code = error_code(exc)
        if code == "BucketAlreadyOwnedByYou":
            return
        if code == "BucketAlreadyExists":
            raise OpsError(
                f"bucket name {config.bucket} is taken by another AWS account: "
                "choose another name with --bucket (and HEBO_STATE_BUCKET)"
            ) from None
        raise


@dataclass(frozen=True)
class _BucketRun:
    """One converge of the state bucket: its client, settings, reporter, and whether this run
    creates it (a bucket that does not exist yet, in a dry run, has none of its settings)."""

    s3: Any
    config: BootstrapConfig
    report: _Reporter
    created: bool

    @property
    def bucket(self) -> str:
        return self.config.bucket

    def current(self, getter: Callable[[], dict[str, Any]], *missing: str) -> dict[str, Any] | None:
        """What `getter` returns for the existing bucket; None when created now or the setting is `missing`."""
        return None if self.created else _get_or_none(getter, *missing)


def converge_bucket(session: boto3.Session, config: BootstrapConfig, account: str, out: TextIO, dry_run: bool) -> int:
    """Create the bucket if needed and bring each setting to the desired value; returns #changes."""
    s3 = client(session, "s3", config.region)
    report = _Reporter(f"bucket {config.bucket}", out, dry_run)
    created = bucket_state(s3, config, account) == "absent"
    if created:
        where = config.region
        report.change(
            f"create it in {where} (object ownership {OWNERSHIP})",
            f"created in {where} (object ownership {OWNERSHIP})",
            lambda: create_bucket(s3, config),
        )
    run = _BucketRun(s3=s3, config=config, report=report, created=created)
    _converge_versioning(run)
    _converge_encryption(run)
    _converge_public_access_block(run)
    _converge_ownership(run)
    _converge_tls_policy(run, session.get_partition_for_region(config.region))
    _converge_lifecycle(run)
    report.finish()
    return report.changes


def _converge_versioning(run: _BucketRun) -> None:
    """Versioning on: every state write is recoverable."""
    s3, bucket = run.s3, run.bucket
    versioning = run.current(lambda: s3.get_bucket_versioning(Bucket=bucket)) or {}
    if versioning.get("Status") != "Enabled":
        run.report.change(
            "enable versioning",
            "versioning enabled",
            lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
        )


def _converge_encryption(run: _BucketRun) -> None:
    """Default encryption: SSE-KMS with the configured key and a bucket key, else SSE-S3."""
    s3, bucket, kms_key_id = run.s3, run.bucket, run.config.kms_key_id
    enc = run.current(lambda: s3.get_bucket_encryption(Bucket=bucket), "ServerSideEncryptionConfigurationNotFoundError")
    rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    if not _encryption_ok(rules, kms_key_id):
        kind = f"SSE-KMS with key {kms_key_id} and bucket key" if kms_key_id else "SSE-S3 (AES256)"
        run.report.change(
            f"set default encryption {kind}",
            f"default encryption set to {kind}",
            lambda: s3.put_bucket_encryption(
                Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [desired_encryption(kms_key_id)]}
            ),
        )


def _converge_public_access_block(run: _BucketRun) -> None:
    """Public access block: all four flags."""
    s3, bucket = run.s3, run.bucket
    pab = run.current(lambda: s3.get_public_access_block(Bucket=bucket), "NoSuchPublicAccessBlockConfiguration")
    if (pab or {}).get("PublicAccessBlockConfiguration") != PUBLIC_ACCESS_BLOCK:
        run.report.change(
            "block all public access",
            "all public access blocked",
            lambda: s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK),
        )


def _converge_ownership(run: _BucketRun) -> None:
    """Object ownership: ACLs disabled (created buckets already have it; old buckets may not)."""
    if run.created:
        return
    s3, bucket = run.s3, run.bucket
    own = _get_or_none(lambda: s3.get_bucket_ownership_controls(Bucket=bucket), "OwnershipControlsNotFoundError")
    if (own or {}).get("OwnershipControls", {}).get("Rules") != [{"ObjectOwnership": OWNERSHIP}]:
        run.report.change(
            f"set object ownership {OWNERSHIP}",
            f"object ownership set to {OWNERSHIP}",
            lambda: s3.put_bucket_ownership_controls(
                Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": OWNERSHIP}]}
            ),
        )


def _converge_tls_policy(run: _BucketRun, partition: str) -> None:
    """TLS-only policy: keep any other statements, replace ours when it differs."""
    s3, bucket = run.s3, run.bucket
    pol = run.current(lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy")
    policy: dict[str, Any] = json.loads(pol["Policy"]) if pol else {"Version": "2012-10-17", "Statement": []}
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else list(statements)
    wanted = tls_statement(bucket, partition)
    ours = [s for s in statements if s.get("Sid") == TLS_SID]
    if [_canonical(s) for s in ours] != [_canonical(wanted)]:
        policy["Statement"] = [s for s in statements if s.get("Sid") != TLS_SID] + [wanted]
        policy.setdefault("Version", "2012-10-17")
        run.report.change(
            f"add policy statement {TLS_SID} (deny aws:SecureTransport=false)",
            f"policy statement {TLS_SID} set (deny aws:SecureTransport=false)",
            lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy)),
        )


def _converge_lifecycle(run: _BucketRun) -> None:
    """Lifecycle: expire old state versions, abort stale multipart uploads; keep other rules."""
    s3, bucket = run.s3, run.bucket
    lc = run.current(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket), "NoSuchLifecycleConfiguration")
    lc_rules = (lc or {}).get("Rules", [])
    mine = [r for r in lc_rules if r.get("ID") == LIFECYCLE_RULE_ID]
    if len(mine) != 1 or not _lifecycle_rule_ok(mine[0]):
        new_rules = [r for r in lc_rules if r.get("ID") != LIFECYCLE_RULE_ID] + [lifecycle_rule()]
        text = f"noncurrent versions expire after {NONCURRENT_DAYS} days, incomplete uploads abort after {ABORT_MULTIPART_DAYS} days"
        run.report.change(
            f"set lifecycle rule {LIFECYCLE_RULE_ID} ({text})",
            f"lifecycle rule {LIFECYCLE_RULE_ID} set ({text})",
            lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": new_rules}),
        )


# ---------------------------------------------------------------------------------- DynamoDB


def converge_table(session: boto3.Session, config: BootstrapConfig, out: TextIO, dry_run: bool) -> int:
    """Create the opted-in lock table if needed and converge billing, SSE, deletion protection,
    PITR (ops/lock_table.py); returns the number of changes (0 without `config.lock_table`)."""
    table = config.lock_table
    if not table:  # not opted in: S3 native locking needs no table
        return 0
    report = _Reporter(f"table {table}", out, dry_run)
    lock_table.converge(client(session, "dynamodb", config.region), table, config.kms_key_id, report, dry_run)
    report.finish()
    return report.changes


def backend_lines(config: BootstrapConfig) -> list[str]:
    """The settings the stacks' S3 backend reads (config/settings.py)."""
    lines = [f"HEBO_STATE_BUCKET={config.bucket}"]
    if config.lock_table:
        lines.append(f"HEBO_STATE_LOCK_TABLE={config.lock_table}")
    return lines + [f"HEBO_STATE_REGION={config.region}"]


def run(session: boto3.Session, config: BootstrapConfig, out: TextIO, dry_run: bool = False) -> int:
    """Converge the bucket (and the opted-in lock table) and print the backend settings; returns the exit code."""
    account = client(session, "sts", config.region).get_caller_identity()["Account"]
    changes = converge_bucket(session, config, account, out, dry_run)
    if config.lock_table:
        changes += converge_table(session, config, out, dry_run)
    if dry_run:
        print(f"dry run: {changes} change(s) planned, nothing written", file=out)
    print("backend settings (export them, or put them in your shell profile / CI variables):", file=out)
    for line in backend_lines(config):
        print(line, file=out)
    return 0

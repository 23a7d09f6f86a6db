"""`ops bootstrap` against the moto server: exact settings, idempotence, dry run, drift, conflicts."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import bootstrap
from ops.aws import OpsError
from config.settings import SETTINGS

BUCKET = SETTINGS["state_bucket"].default
TABLE = "hebo-terraform-locks"  # opt-in only: the default is no table (S3 native locking)


def snapshot(region: str, bucket: str = BUCKET, table: str = TABLE) -> dict[str, Any]:
    """Everything bootstrap manages, read back through boto3."""
    s3 = boto3.client("s3", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    desc = ddb.describe_table(TableName=table)["Table"]
    return {
        "location": s3.get_bucket_location(Bucket=bucket).get("LocationConstraint"),
        "versioning": s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"],
        "public_access_block": s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
        "ownership": s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"],
        "policy": json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]),
        "lifecycle": s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
        "key_schema": desc["KeySchema"],
        "attributes": desc["AttributeDefinitions"],
        "billing": desc["BillingModeSummary"]["BillingMode"],
        "sse": {k: desc["SSEDescription"].get(k) for k in ("Status", "SSEType", "KMSMasterKeyArn")},
        "deletion_protection": desc["DeletionProtectionEnabled"],
        "pitr": ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
            "PointInTimeRecoveryDescription"
        ]["PointInTimeRecoveryStatus"],
    }


def test_default_creates_the_bucket_only_and_no_lock_table(run):
    """S3 native locking is the default: no DynamoDB table is created unless asked for."""
    result = run("bootstrap", "--region", "us-east-1")
    assert result.code == 0, result.err
    assert f"bucket {BUCKET}: created in us-east-1 (object ownership BucketOwnerEnforced)" in result.out
    assert "table" not in result.out
    assert result.out.splitlines()[-2:] == [f"HEBO_STATE_BUCKET={BUCKET}", "HEBO_STATE_REGION=us-east-1"]
    assert boto3.client("s3", region_name="us-east-1").get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []
    assert SETTINGS["state_lock_table"].default == ""


def test_creates_exactly_the_configured_backend_and_is_idempotent(run):
    first = run("bootstrap", "--region", "us-east-1", "--lock-table", TABLE)
    assert first.code == 0, first.err
    assert f"bucket {BUCKET}: created in us-east-1 (object ownership BucketOwnerEnforced)" in first.out
    assert f"table {TABLE}: point-in-time recovery enabled" in first.out
    assert first.out.splitlines()[-3:] == [
        f"HEBO_STATE_BUCKET={BUCKET}",
        f"HEBO_STATE_LOCK_TABLE={TABLE}",
        "HEBO_STATE_REGION=us-east-1",
    ]
    state = snapshot("us-east-1")
    assert state["location"] is None  # us-east-1: no LocationConstraint
    assert state["versioning"] == "Enabled"
    assert state["encryption"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert state["public_access_block"] == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert state["ownership"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert state["policy"]["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    assert state["lifecycle"] == [
        {
            "ID": "hebo-terraform-state",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]
    assert state["key_schema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert state["attributes"] == [{"AttributeName": "LockID", "AttributeType": "S"}]
    assert state["billing"] == "PAY_PER_REQUEST"
    assert state["sse"]["Status"] == "ENABLED" and state["sse"]["SSEType"] == "KMS"
    assert state["deletion_protection"] is True
    assert state["pitr"] == "ENABLED"

    second = run("bootstrap", "--region", "us-east-1", "--lock-table", TABLE)
    assert second.code == 0, second.err
    assert second.out.splitlines()[:2] == [f"bucket {BUCKET}: up to date", f"table {TABLE}: up to date"]
    assert snapshot("us-east-1") == state


def test_dry_run_creates_nothing(run):
    result = run(
        "bootstrap", "--region", "eu-west-1", "--bucket", "acme-state", "--lock-table", "acme-locks", "--dry-run"
    )
    assert result.code == 0, result.err
    assert "bucket acme-state: would create it in eu-west-1 (object ownership BucketOwnerEnforced)" in result.out
    assert "table acme-locks: would enable point-in-time recovery" in result.out
    assert "dry run: 8 change(s) planned, nothing written" in result.out
    assert boto3.client("s3", region_name="eu-west-1").list_buckets()["Buckets"] == []
    assert boto3.client("dynamodb", region_name="eu-west-1").list_tables()["TableNames"] == []


def test_other_region_names_from_env_and_kms(run, monkeypatch):
    kms = boto3.client("kms", region_name="eu-west-1")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("HEBO_STATE_BUCKET", "acme-hebo-state")
    monkeypatch.setenv("HEBO_STATE_LOCK_TABLE", "acme-hebo-locks")
    monkeypatch.setenv("HEBO_STATE_REGION", "eu-west-1")
    result = run("bootstrap", "--kms-key-id", key)
    assert result.code == 0, result.err
    assert "HEBO_STATE_REGION=eu-west-1" in result.out
    state = snapshot("eu-west-1", "acme-hebo-state", "acme-hebo-locks")
    assert state["location"] == "eu-west-1"
    assert state["encryption"] == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": True,
        }
    ]
    assert state["sse"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": key}
    again = run("bootstrap", "--kms-key-id", key)
    assert "bucket acme-hebo-state: up to date" in again.out and "table acme-hebo-locks: up to date" in again.out

    # Switching back to SSE-S3 converges the bucket only (a table key stays: it is still encrypted).
    back = run("bootstrap")
    assert "bucket acme-hebo-state: default encryption set to SSE-S3 (AES256)" in back.out
    assert "table acme-hebo-locks: up to date" in back.out


def test_converges_drift_and_keeps_foreign_policy_and_rules(run):
    s3 = boto3.client("s3", region_name="us-east-1")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    audit = {
        "Sid": "AllowAuditRead",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [audit]}))
    logs = {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 30}}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [logs]})
    ddb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        SSESpecification={"Enabled": True},
    )  # moto ignores SSE in UpdateTable; see below

    dry = run("bootstrap", "--dry-run", "--lock-table", TABLE)
    assert dry.code == 0
    assert f"bucket {BUCKET}: would enable versioning" in dry.out
    assert f"table {TABLE}: would switch to on-demand billing" in dry.out
    assert f"table {TABLE}: would enable SSE" not in dry.out
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Suspended"

    result = run("bootstrap", "--lock-table", TABLE)
    assert result.code == 0, result.err
    changes = [line for line in result.out.splitlines() if line.startswith(("bucket", "table"))]
    assert changes == [
        f"bucket {BUCKET}: versioning enabled",
        f"bucket {BUCKET}: default encryption set to SSE-S3 (AES256)",
        f"bucket {BUCKET}: all public access blocked",
        f"bucket {BUCKET}: object ownership set to BucketOwnerEnforced",
        f"bucket {BUCKET}: policy statement DenyInsecureTransport set (deny aws:SecureTransport=false)",
        f"bucket {BUCKET}: lifecycle rule hebo-terraform-state set (noncurrent versions expire after 90 days, "
        "incomplete uploads abort after 7 days)",
        f"table {TABLE}: switched to on-demand billing",
        f"table {TABLE}: deletion protection enabled",
        f"table {TABLE}: point-in-time recovery enabled",
    ]
    state = snapshot("us-east-1")
    assert [s["Sid"] for s in state["policy"]["Statement"]] == ["AllowAuditRead", "DenyInsecureTransport"]
    assert [r["ID"] for r in state["lifecycle"]] == ["logs", "hebo-terraform-state"]
    assert state["billing"] == "PAY_PER_REQUEST" and state["pitr"] == "ENABLED"
    again = run("bootstrap", "--lock-table", TABLE).out
    assert f"bucket {BUCKET}: up to date" in again and f"table {TABLE}: up to date" in again


def test_table_without_sse_is_planned_for_encryption(run):
    """A table on the default AWS-owned key gets SSE (KMS); moto cannot apply it, so dry-run only."""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = run("bootstrap", "--dry-run", "--lock-table", TABLE)
    assert f"table {TABLE}: would enable SSE with the AWS managed KMS key" in result.out


def test_lock_table_with_another_schema_is_refused(run):
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = run("bootstrap", "--lock-table", TABLE)
    assert result.code == 1
    assert result.err == (
        f"ops: table {TABLE} exists with another key schema (Terraform needs a LockID string hash key): "
        "choose another name with --lock-table (and HEBO_STATE_LOCK_TABLE)\n"
    )


def test_bucket_name_taken_by_another_account():
    """moto answers HeadBucket for any account, so the name clash surfaces at CreateBucket."""
    creds = boto3.client("sts").assume_role(RoleArn="arn:aws:iam::111111111111:role/other", RoleSessionName="other")[
        "Credentials"
    ]
    boto3.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    ).create_bucket(Bucket="taken-name")
    config = bootstrap.BootstrapConfig(bucket="taken-name", lock_table=TABLE, region="us-east-1")
    with pytest.raises(OpsError, match="bucket name taken-name is taken by another AWS account: choose another name"):
        bootstrap.create_bucket(boto3.client("s3", region_name="us-east-1"), config)


def test_head_bucket_403_means_someone_elses_bucket():
    """Real S3 answers 403 when ExpectedBucketOwner differs; moto does not model it, so stub it."""
    s3 = boto3.client("s3", region_name="us-east-1")
    config = bootstrap.BootstrapConfig(bucket="their-bucket", lock_table=TABLE, region="us-east-1")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "head_bucket",
            service_error_code="403",
            http_status_code=403,
            expected_params={"Bucket": "their-bucket", "ExpectedBucketOwner": "123456789012"},
        )
        with pytest.raises(OpsError, match="exists but is not owned by account 123456789012"):
            bootstrap.bucket_state(s3, config, "123456789012")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bucket", "Bad_Bucket"], "invalid --bucket 'Bad_Bucket'"),
        (
            ["--region", "mars-1"],
            "invalid --region 'mars-1': no such region in botocore's endpoint data; must be a commercial AWS region",
        ),
        (["--bucket", "hebo--ol-s3"], "invalid --bucket 'hebo--ol-s3': reserved prefix or suffix"),
        (["--lock-table", "ab"], "invalid --lock-table 'ab': must be a DynamoDB table name"),
        (["--kms-key-id", "alias/x"], "must be a key ARN"),
        (
            ["--region", "us-east-1", "--kms-key-id", "arn:aws:kms:eu-west-1:123456789012:key/abc"],
            "--kms-key-id is in eu-west-1 but --region is us-east-1",
        ),
    ],
)
def test_bad_arguments_exit_2_before_any_call(run, argv, message):
    result = run("bootstrap", *argv)
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1
    assert boto3.client("s3").list_buckets()["Buckets"] == []

"""The S3 bucket that Application Load Balancers deliver their access logs to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, aws
from modules.iam import Statement
from modules.private_bucket import PrivateBucket, PrivateBucketProps

ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
"""The log-delivery service principal of Regions launched in or after August 2022."""
ELB_ACCOUNT_REGIONS = frozenset(
    {
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "af-south-1",
        "ap-east-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-south-1",
        "eu-north-1",
        "me-south-1",
        "sa-east-1",
        "us-gov-west-1",
        "us-gov-east-1",
        "cn-north-1",
        "cn-northwest-1",
    }
)
"""Regions available before August 2022. ELB writes their logs as a regional Elastic Load
Balancing *account* (the `aws_elb_service_account` data source knows it, and fails for any
other Region); newer Regions write as the service principal above."""


@dataclass(frozen=True, kw_only=True)
class AlbAccessLogBucketProps:
    """The bucket the stage's load balancers write their access logs to."""

    bucket_prefix: str
    """Bucket name prefix (≤ 37 characters; AWS appends a unique suffix)."""
    region: str
    """Region of the bucket and its load balancers (log delivery is same-Region only)."""
    account_id: str
    """Account that owns the load balancers: ELB writes under `<prefix>/AWSLogs/<account>/`."""
    log_prefixes: Sequence[str]
    """One prefix per load balancer (the ALB's `access_logs.prefix`); ELB may write only there."""
    retention_days: int
    """Log objects expire this many days after delivery."""
    force_destroy: bool
    """`destroy` empties the bucket (all versions) first."""
    prevent_destroy: bool
    """Terraform refuses any plan that deletes the bucket."""
    noncurrent_version_expiration_days: int = 7
    """An expired or deleted log stays restorable this long (versioning is the tamper guard)."""


class AlbAccessLogBucket(Construct):
    """A `PrivateBucket` with SSE-S3, log expiry, and a policy that lets Elastic Load Balancing
    write `<prefix>/AWSLogs/<account>/*` and nothing else.

    SSE-S3, not the stack's KMS key: ALB access-log delivery supports only Amazon S3-managed keys
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html,
    "Bucket requirements"); with SSE-KMS default encryption the logs are silently not delivered.
    Load balancers that log here must depend on `policy`: ELB writes a test object when access
    logging is switched on and rejects the setting if it is denied.
    """

    def __init__(self, scope: Construct, construct_id: str, props: AlbAccessLogBucketProps) -> None:
        super().__init__(scope, construct_id)
        self.bucket = PrivateBucket(
            self,
            "bucket",
            PrivateBucketProps(
                bucket_prefix=props.bucket_prefix,
                force_destroy=props.force_destroy,
                prevent_destroy=props.prevent_destroy,
                noncurrent_version_expiration_days=props.noncurrent_version_expiration_days,
                expiration_days=props.retention_days,
            ),
        )
        self.bucket.encrypt_with_s3_managed_keys()
        arn = self.bucket.arn
        log_objects = [f"{arn}/{prefix}/AWSLogs/{props.account_id}/*" for prefix in props.log_prefixes]
        statements = [
            Statement(
                sid="ElbLogDeliveryWrites",
                actions=["s3:PutObject"],
                resources=log_objects,
                principals={"Service": [ELB_LOG_DELIVERY_SERVICE]},
            )
        ]
        if props.region in ELB_ACCOUNT_REGIONS:
            elb_account = aws.data_aws_elb_service_account.DataAwsElbServiceAccount(self, "elb_account")
            statements.insert(
                0,
                Statement(
                    sid="ElbAccountWrites",
                    actions=["s3:PutObject"],
                    resources=log_objects,
                    principals={"AWS": [elb_account.arn]},
                ),
            )
        self.policy: Any = self.bucket.attach_policy(statements)

    @property
    def name(self) -> str:
        """The bucket's name (the ALBs' `access_logs.bucket`)."""
        return self.bucket.name

    @property
    def arn(self) -> str:
        """The bucket's ARN."""
        return self.bucket.arn

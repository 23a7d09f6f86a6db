"""A private S3 bucket: all public access blocked, ACLs disabled, versioned, lifecycle-managed.

Shared by the console's static-site bucket (read by CloudFront only) and the ALB access-log
bucket (written by Elastic Load Balancing only); both are SSE-S3 encrypted (docs/edge.md and
docs/compute.md say why neither uses a customer-managed key). Callers choose the
encryption and the grants; the TLS-only deny is always part of the bucket policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.iam import Condition, Statement, policy_document

_lc = aws.s3_bucket_lifecycle_configuration
_sse = aws.s3_bucket_server_side_encryption_configuration


@dataclass(frozen=True, kw_only=True)
class PrivateBucketProps:
    """One private bucket: name prefix, destroy behaviour, lifecycle."""

    bucket_prefix: str
    """AWS appends a unique suffix, so re-creating a stage never collides with a deleted bucket."""
    force_destroy: bool
    """`destroy` empties the bucket (all versions) first; off means a non-empty bucket survives."""
    prevent_destroy: bool
    """Terraform refuses any plan that would delete the bucket."""
    noncurrent_version_expiration_days: int = 30
    """Old versions (previous deploys) stay restorable this long, then expire."""
    abort_incomplete_upload_days: int = 1
    """Parts of interrupted multipart uploads are removed after this many days."""
    expiration_days: int | None = None
    """Current objects expire (become noncurrent) this many days after creation, and the delete
    markers left behind are removed once nothing is under them. None (default): objects are kept."""


def _lifecycle_rules(props: PrivateBucketProps) -> list[Any]:
    """Old versions and abandoned uploads expire; with `expiration_days`, current objects too
    (and the delete markers they leave)."""
    rules = [
        _lc.S3BucketLifecycleConfigurationRule(
            id="expire-old-versions",
            status="Enabled",
            filter=[_lc.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            noncurrent_version_expiration=[
                _lc.S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(
                    noncurrent_days=props.noncurrent_version_expiration_days
                )
            ],
            abort_incomplete_multipart_upload=[
                _lc.S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=props.abort_incomplete_upload_days
                )
            ],
        )
    ]
    if props.expiration_days is not None:
        rules += [
            _lc.S3BucketLifecycleConfigurationRule(
                id="expire-current-versions",
                status="Enabled",
                filter=[_lc.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[_lc.S3BucketLifecycleConfigurationRuleExpiration(days=props.expiration_days)],
            ),
            # S3 rejects `expired_object_delete_marker` next to `days` in one rule.
            _lc.S3BucketLifecycleConfigurationRule(
                id="remove-expired-delete-markers",
                status="Enabled",
                filter=[_lc.S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                expiration=[_lc.S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)],
            ),
        ]
    return rules


class PrivateBucket(Construct):
    """All public access blocked, ACLs disabled (bucket-owner-enforced), versioning, lifecycle for
    old versions (and optionally current objects). Encryption: `encrypt_with_s3_managed_keys()`
    (SSE-S3). Access: `attach_policy()` / `allow_cloudfront()`."""

    def __init__(self, scope: Construct, construct_id: str, props: PrivateBucketProps) -> None:
        super().__init__(scope, construct_id)
        self.bucket = aws.s3_bucket.S3Bucket(
            self,
            "bucket",
            bucket_prefix=props.bucket_prefix,
            force_destroy=props.force_destroy,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=props.prevent_destroy),
        )
        bucket_id = self.bucket.id
        self.public_access_block = aws.s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            "public_access_block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        aws.s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self,
            "ownership",
            bucket=bucket_id,
            rule=aws.s3_bucket_ownership_controls.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        self.versioning = aws.s3_bucket_versioning.S3BucketVersioningA(
            self,
            "versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3_bucket_versioning.S3BucketVersioningVersioningConfiguration(
                status="Enabled"
            ),
        )
        self.lifecycle = _lc.S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket_id, rule=_lifecycle_rules(props), depends_on=[self.versioning]
        )

    def encrypt_with_s3_managed_keys(self) -> Any:
        """Default encryption SSE-S3 (AES256): for writers that cannot use a KMS key (Elastic Load
        Balancing access-log delivery) and for content that is public by design (the console)."""
        return self._encryption(
            _sse.S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=_sse.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="AES256"
                ),
            )
        )

    def _encryption(self, rule: Any) -> Any:
        """The bucket's default encryption (id `encryption`) with this rule."""
        self.encryption = _sse.S3BucketServerSideEncryptionConfigurationA(
            self, "encryption", bucket=self.bucket.id, rule=[rule]
        )
        return self.encryption

    def attach_policy(self, statements: Sequence[Statement]) -> Any:
        """The bucket policy: `statements`, then a deny of every request not made over TLS."""
        bucket_arn = self.bucket.arn
        document = policy_document(
            self,
            "policy_document",
            [
                *statements,
                Statement(
                    sid="DenyInsecureTransport",
                    effect="Deny",
                    actions=["s3:*"],
                    resources=[bucket_arn, f"{bucket_arn}/*"],
                    principals={"AWS": ["*"]},
                    conditions=[Condition(test="Bool", variable="aws:SecureTransport", values=["false"])],
                ),
            ],
        )
        self.policy = aws.s3_bucket_policy.S3BucketPolicy(
            self,
            "policy",
            bucket=self.bucket.id,
            policy=document.json,
            depends_on=[self.public_access_block],
        )
        return self.policy

    def allow_cloudfront(self, distribution_arn: str) -> Any:
        """The bucket policy: TLS only, and reads only by CloudFront on behalf of `distribution_arn`.

        `s3:ListBucket` (same condition) makes S3 answer a missing key with 404 instead of 403,
        so a missing asset is a real 404; CloudFront never forwards a list request (the managed
        cache policy forwards no query string, and `/` is rewritten to `/index.html`).
        """
        bucket_arn = self.bucket.arn
        from_distribution = Condition(test="StringEquals", variable="AWS:SourceArn", values=[distribution_arn])
        cloudfront = {"Service": ["cloudfront.amazonaws.com"]}
        return self.attach_policy(
            [
                Statement(
                    sid="CloudFrontReadsObjects",
                    actions=["s3:GetObject"],
                    resources=[f"{bucket_arn}/*"],
                    principals=cloudfront,
                    conditions=[from_distribution],
                ),
                Statement(
                    sid="CloudFrontSeesMissingKeysAs404",
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    principals=cloudfront,
                    conditions=[from_distribution],
                ),
            ]
        )

    @property
    def arn(self) -> str:
        """The bucket's ARN."""
        return self.bucket.arn

    @property
    def name(self) -> str:
        """The bucket's name (prefix plus the suffix AWS adds)."""
        return self.bucket.bucket

    @property
    def regional_domain_name(self) -> str:
        """`<bucket>.s3.<region>.amazonaws.com`: the REST endpoint CloudFront's OAC signs for."""
        return self.bucket.bucket_regional_domain_name

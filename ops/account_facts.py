"""What `ops deploy-role` reads from the account at converge time, to deny by id what carries no
tag a condition could test (ops/deploy_role.py `account_denies_policy`; docs/previews.md).

Read with boto3 as the administrator running `ops deploy-role`; ClientErrors propagate (a role that
cannot be bounded must not be written), except an absent state bucket or bucket encryption (the
state bucket may be bootstrapped later).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

PREVIEW = "pr-*"
"""Preview stage names (`pr-<number>`, HEBO_PREVIEW_PATTERN in the workflow)."""


@dataclass(frozen=True)
class AccountFacts:
    """What `ops deploy-role` reads from the account at converge time to deny by id what has no tag.

    Every field is read by `discover_account` with boto3; a fact of no object is an empty tuple (or
    None), never an error."""

    protected_cloudfront: tuple[str, ...] = ()
    """ARNs of the origin access controls and custom response headers policies that distributions
    *not* tagged `stage=pr-*` use (production's and dev's CSP/HSTS policies and OACs): denied
    Update/Delete in the account denies (DenyOtherStagesCloudFrontConfig). Listed by reference, not by
    name: a preview may create these objects under any name (they take no tag and no condition key),
    so a list of "every object not named pr-*" would grow with every object a PR creates, until the
    account denies exceed their quota and `ops deploy-role` could no longer converge."""
    hosted_zone_id: str | None = None
    """The configured public zone's id (`Z...`), or None when the zone does not exist yet;
    PreviewDnsRecordsOnly is pinned to it."""
    other_stage_subnets: tuple[str, ...] = ()
    """Ids of the region's subnets tagged `stage` with a value not like `pr-*` (production's, dev's):
    no preview service may be placed in them (EcsServicesOnlyInPreviewSubnets)."""
    other_vpcs: tuple[str, ...] = ()
    """Ids of the region's VPCs not tagged `stage=pr-*` (other stages', the default VPC): their
    untagged security groups (each VPC's AWS-created `default` group) may not be adopted by tagging
    (DenyAdoptingSecurityGroupsOfOtherVpcs); a preview tags its own VPC's default group."""
    region: str | None = None
    """The region these facts were read in (`us-east-1`), the previews' region: only its untagged
    security groups may be adopted (DenyAdoptingUntaggedEc2), since the VPCs of every other region
    (each has a default VPC, production has a secondary one) are not listed. None (nothing
    discovered): any region's."""
    state_key: str | None = None
    """The KMS key ARN of the state bucket's default encryption (`ops bootstrap --kms-key-id`), or
    None (SSE-S3, or no bucket yet): the deploy role may use it through S3 for its own state
    (StateBucketKey) and never tag it."""
    unadoptable: tuple[str, ...] = ()
    """ARNs a preview must never tag (DenyAdoptingUntaggedKeysAndDistributions): the region's
    customer managed KMS keys without a `stage` tag, the state bucket's KMS key (`ops bootstrap
    --kms-key-id`), and the distributions without a `stage` tag. KMS and CloudFront have no
    create-action condition key, and tagging on create needs `kms:TagResource` on every key (KMS
    developer guide, "Controlling access to tags"), so the grants allow tagging any key or
    distribution as `stage=pr-*`; once tagged, `ManageTaggedAsPreview` would let a PR schedule the
    key's deletion (every state object unreadable) or rewrite the distribution."""


NO_FACTS = AccountFacts()
"""Nothing discovered (the policy builders' default: every statement that lists ids is left out)."""


def cloudfront_pages(call: Any, list_key: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Every item of a CloudFront Marker/NextMarker listing (`{list_key: {"Items": [...], "NextMarker"}}`)."""
    items: list[dict[str, Any]] = []
    marker = None
    while True:
        page = call(**kwargs, **({"Marker": marker} if marker else {}))[list_key]
        items += page.get("Items") or []
        marker = page.get("NextMarker")
        if not marker:
            return items


def _stage_tag(tags: list[dict[str, Any]], key: str = "Key", value: str = "Value") -> str | None:
    return next((t[value] for t in tags if t[key] == "stage"), None)


def distributions(cloudfront: Any) -> list[tuple[str, str | None, set[str], set[str]]]:
    """(ARN, `stage` tag or None, origin access control ids, response headers policy ids) of every
    distribution of the account, from ListDistributions' summaries (origins'
    `OriginAccessControlId`, the default and every other cache behaviour's `ResponseHeadersPolicyId`)
    and ListTagsForResource. `cloudfront`: a boto3 client."""
    found = []
    for summary in cloudfront_pages(cloudfront.list_distributions, "DistributionList"):
        arn = summary["ARN"]
        tags = cloudfront.list_tags_for_resource(Resource=arn)["Tags"].get("Items") or []
        origins = summary.get("Origins", {}).get("Items") or []
        behaviours = [summary.get("DefaultCacheBehavior", {}), *(summary.get("CacheBehaviors", {}).get("Items") or [])]
        found.append(
            (
                arn,
                _stage_tag(tags),
                {o["OriginAccessControlId"] for o in origins if o.get("OriginAccessControlId")},
                {b["ResponseHeadersPolicyId"] for b in behaviours if b.get("ResponseHeadersPolicyId")},
            )
        )
    return found


def keys_without_stage(kms: Any) -> list[str]:
    """ARNs of the customer managed KMS keys of `kms`'s region with no `stage` tag (keys pending
    deletion included: a PR could cancel and adopt them). AWS managed keys cannot be tagged."""
    arns = []
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
            if meta.get("KeyManager") != "CUSTOMER":
                continue
            if _stage_tag(kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", []), "TagKey", "TagValue") is None:
                arns.append(meta["Arn"])
    return arns


def state_bucket_key(s3: Any, bucket: str) -> str | None:
    """The KMS key ARN of the state bucket's default encryption (`ops bootstrap --kms-key-id`), or
    None: SSE-S3, no such bucket yet, or no encryption configuration."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchBucket", "ServerSideEncryptionConfigurationNotFoundError"):
            return None
        raise
    keys = [r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID") for r in rules]
    return next((k for k in keys if k and k.startswith("arn:")), None)


def discover_account(
    clients: dict[str, Any], zone: str, state_bucket: str, partition: str, account: str
) -> AccountFacts:
    """Read the account's facts (AccountFacts) with boto3 clients `clients["cloudfront"]`,
    `["route53"]` (us-east-1), `["ec2"]`, `["kms"]` (the previews' region) and `["s3"]`; `zone` the
    public zone's name, `state_bucket` the Terraform state bucket. ClientErrors propagate."""
    ec2, cloudfront = clients["ec2"], clients["cloudfront"]
    vpcs = [
        vpc["VpcId"]
        for page in ec2.get_paginator("describe_vpcs").paginate()
        for vpc in page["Vpcs"]
        if not fnmatch.fnmatchcase(_stage_tag(vpc.get("Tags", [])) or "", PREVIEW)
    ]
    subnets = [
        subnet["SubnetId"]
        for page in ec2.get_paginator("describe_subnets").paginate(Filters=[{"Name": "tag-key", "Values": ["stage"]}])
        for subnet in page["Subnets"]
        if not fnmatch.fnmatchcase(_stage_tag(subnet.get("Tags", [])) or "", PREVIEW)
    ]
    protected: set[str] = set()
    unadoptable = set(keys_without_stage(clients["kms"]))
    for arn, stage, access_controls, header_policies in distributions(cloudfront):
        if stage is None:
            unadoptable.add(arn)
        if stage is None or not fnmatch.fnmatchcase(stage, PREVIEW):
            protected |= {f"arn:{partition}:cloudfront::{account}:origin-access-control/{i}" for i in access_controls}
            protected |= {f"arn:{partition}:cloudfront::{account}:response-headers-policy/{i}" for i in header_policies}
    state_key = state_bucket_key(clients["s3"], state_bucket)
    if state_key:
        unadoptable.add(state_key)
    wanted = zone.rstrip(".").lower() + "."
    zones = clients["route53"].list_hosted_zones_by_name(DNSName=wanted).get("HostedZones", [])
    public = [
        z["Id"].rsplit("/", 1)[-1]
        for z in zones
        if z["Name"].lower() == wanted and not z.get("Config", {}).get("PrivateZone")
    ]
    return AccountFacts(
        state_key=state_key,
        protected_cloudfront=tuple(sorted(protected)),
        hosted_zone_id=public[0] if len(public) == 1 else None,
        other_stage_subnets=tuple(sorted(subnets)),
        other_vpcs=tuple(sorted(vpcs)),
        region=ec2.meta.region_name,
        unadoptable=tuple(sorted(unadoptable)),
    )

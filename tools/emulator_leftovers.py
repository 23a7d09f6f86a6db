"""What of one stage is still in the emulator: every resource type the synthesized stacks declare,
enumerated with boto3 by tag (`stage=<stage>`, the provider's default tag) and by name.

The list of types comes from the stacks' JSON (`declared_types`), so a type a later change adds is
checked automatically — or, when this module has no way to enumerate it, reported in
`Sweep.unenumerable` (the lifecycle fails on it) instead of being skipped silently.

Three kinds of coverage (`COVERAGE`):
* an *enumerator*: a boto3 list/describe call of that type, matched by tag and by name;
* *part of* another type: an object that only exists inside its parent (a bucket's policy, a
  role's inline policy, a route inside a route table) — gone when the parent is gone, which the
  parent's enumerator checks;
* *no AWS object*: a Terraform-side resource (`terraform_data`), a one-shot action
  (`aws_lambda_invocation`) or a waiter (`aws_acm_certificate_validation`).

What AWS keeps after a correct delete is not a leftover: a KMS key in `PendingDeletion` (keys are
only scheduled, 7-30 days: KMS developer guide, "Deleting AWS KMS keys"), an ECS task definition
revision in `INACTIVE` (deregistered revisions stay describable: ECS developer guide,
"Deregistering an Amazon ECS task definition revision"), an ECS cluster or service in `INACTIVE`,
an EC2 instance in `terminated`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

Client = Callable[[str, str], Any]
"""`client(service, region)` -> a boto3 client of the emulator (administrator credentials)."""


@dataclass(frozen=True)
class Found:
    """One object of the stage still present: `type` (Terraform type), `ident` (id or name), `why`
    (`tag` and/or `name`)."""

    type: str
    ident: str
    why: str

    def __str__(self) -> str:
        return f"{self.type} {self.ident} ({self.why})"


class Matcher:
    """Decides whether an object belongs to `stage`: its `stage` tag equals the stage, or a name
    contains the stage as a whole token (`hebo-pr-42-api`, `hebo/pr-42/DbPassword`,
    `pr-42.dev.api.hebo.ai`; never `pr-420`)."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self._name = re.compile(rf"(^|[^a-z0-9]){re.escape(stage)}($|[^a-z0-9])", re.IGNORECASE)

    def why(self, names: Iterable[str | None], tags: Mapping[str, str] | None) -> str | None:
        reasons = []
        if tags and tags.get("stage") == self.stage:
            reasons.append("tag")
        if any(n and self._name.search(n) for n in names):
            reasons.append("name")
        return "+".join(reasons) or None


def _tags(items: Iterable[Mapping[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    return {t[key]: t[value] for t in items or ()}


def _paged(client: Any, method: str, key: str, **kwargs: Any) -> Iterator[Any]:
    if client.can_paginate(method):
        for page in client.get_paginator(method).paginate(**kwargs):
            yield from page.get(key, [])
    else:
        yield from getattr(client, method)(**kwargs).get(key, [])


Enumerator = Callable[[Client, str], Iterator[tuple[str, list[str | None], dict[str, str]]]]
"""`(client, region)` -> `(ident, names, tags)` of every live object of one type."""


def _ec2(method: str, key: str, ident: str, live: Callable[[dict[str, Any]], bool] = lambda _: True) -> Enumerator:
    def enumerate_(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
        for item in _paged(client("ec2", region), method, key):
            if live(item):
                tags = _tags(item.get("Tags"))
                yield item[ident], [tags.get("Name"), item.get("GroupName")], tags

    return enumerate_


def _instances(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    for reservation in _paged(client("ec2", region), "describe_instances", "Reservations"):
        for item in reservation["Instances"]:
            if item["State"]["Name"] not in ("terminated", "shutting-down"):
                tags = _tags(item.get("Tags"))
                yield item["InstanceId"], [tags.get("Name")], tags


def _log_groups(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    logs = client("logs", region)
    for item in _paged(logs, "describe_log_groups", "logGroups"):
        yield (
            item["logGroupName"],
            [item["logGroupName"]],
            logs.list_tags_log_group(logGroupName=item["logGroupName"]).get("tags", {}),
        )


def _iam_roles(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    iam = client("iam", region)
    for item in _paged(iam, "list_roles", "Roles"):
        yield item["RoleName"], [item["RoleName"]], _tags(iam.list_role_tags(RoleName=item["RoleName"])["Tags"])


def _instance_profiles(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    for item in _paged(client("iam", region), "list_instance_profiles", "InstanceProfiles"):
        yield item["InstanceProfileName"], [item["InstanceProfileName"]], _tags(item.get("Tags"))


def _kms_keys(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    kms = client("kms", region)
    for item in _paged(kms, "list_keys", "Keys"):
        meta = kms.describe_key(KeyId=item["KeyId"])["KeyMetadata"]
        if meta["KeyState"] not in ("PendingDeletion", "PendingReplicaDeletion") and meta.get("KeyManager") != "AWS":
            tags = _tags(kms.list_resource_tags(KeyId=item["KeyId"]).get("Tags"), "TagKey", "TagValue")
            yield item["KeyId"], [meta.get("Description")], tags


def _kms_aliases(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    for item in _paged(client("kms", region), "list_aliases", "Aliases"):
        if not item["AliasName"].startswith("alias/aws/"):
            yield item["AliasName"], [item["AliasName"]], {}


def _rds(method: str, key: str, ident: str, tags_key: str | None = "TagList") -> Enumerator:
    def enumerate_(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
        rds = client("rds", region)
        for item in _paged(rds, method, key):
            tags = _tags(item.get(tags_key)) if tags_key else {}
            yield item[ident], [item[ident]], tags

    return enumerate_


def _lambda_functions(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    lam = client("lambda", region)
    for item in _paged(lam, "list_functions", "Functions"):
        yield item["FunctionName"], [item["FunctionName"]], lam.list_tags(Resource=item["FunctionArn"]).get("Tags", {})


def _secrets(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    # A secret scheduled for deletion is hidden from ListSecrets unless asked; it still holds the
    # name (CreateSecret of the same name fails until it is gone), so it counts as left over.
    for item in _paged(client("secretsmanager", region), "list_secrets", "SecretList", IncludePlannedDeletion=True):
        yield item["Name"], [item["Name"]], _tags(item.get("Tags"))


def _certificates(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    acm = client("acm", region)
    for item in _paged(acm, "list_certificates", "CertificateSummaryList"):
        tags = _tags(acm.list_tags_for_certificate(CertificateArn=item["CertificateArn"]).get("Tags"))
        yield item["CertificateArn"], [item["DomainName"]], tags


def _scalable(kind: str) -> Enumerator:
    def enumerate_(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
        aas = client("application-autoscaling", region)
        method, key = (
            ("describe_scalable_targets", "ScalableTargets")
            if kind == "target"
            else ("describe_scaling_policies", "ScalingPolicies")
        )
        for item in _paged(aas, method, key, ServiceNamespace="ecs"):
            yield (
                item["ResourceId"] + (f" {item['PolicyName']}" if kind == "policy" else ""),
                [item["ResourceId"], item.get("PolicyName")],
                {},
            )

    return enumerate_


def _alarms(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    cw = client("cloudwatch", region)
    for item in _paged(cw, "describe_alarms", "MetricAlarms"):
        yield (
            item["AlarmName"],
            [item["AlarmName"]],
            _tags(cw.list_tags_for_resource(ResourceARN=item["AlarmArn"]).get("Tags")),
        )


def _ecr(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    ecr = client("ecr", region)
    for item in _paged(ecr, "describe_repositories", "repositories"):
        yield (
            item["repositoryName"],
            [item["repositoryName"]],
            _tags(ecr.list_tags_for_resource(resourceArn=item["repositoryArn"]).get("tags"), "Key", "Value"),
        )


def _ecs_clusters(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    ecs = client("ecs", region)
    arns = list(_paged(ecs, "list_clusters", "clusterArns"))
    for item in ecs.describe_clusters(clusters=arns, include=["TAGS"])["clusters"] if arns else []:
        if item["status"] != "INACTIVE":
            yield item["clusterName"], [item["clusterName"]], _tags(item.get("tags"), "key", "value")


def _ecs_services(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    ecs = client("ecs", region)
    for cluster in _paged(ecs, "list_clusters", "clusterArns"):
        arns = list(_paged(ecs, "list_services", "serviceArns", cluster=cluster))
        for item in ecs.describe_services(cluster=cluster, services=arns, include=["TAGS"])["services"] if arns else []:
            if item["status"] != "INACTIVE":
                yield item["serviceArn"], [item["serviceName"]], _tags(item.get("tags"), "key", "value")


def _task_definitions(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    for arn in _paged(client("ecs", region), "list_task_definitions", "taskDefinitionArns", status="ACTIVE"):
        yield arn, [arn.rsplit("/", 1)[1].split(":")[0]], {}


def _elbv2(method: str, key: str, name: str, arn: str) -> Enumerator:
    def enumerate_(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
        elb = client("elbv2", region)
        for item in _paged(elb, method, key):
            described = elb.describe_tags(ResourceArns=[item[arn]])["TagDescriptions"]
            yield item[name], [item[name]], _tags(described[0]["Tags"] if described else [])

    return enumerate_


def _records(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    r53 = client("route53", region)
    for zone in _paged(r53, "list_hosted_zones", "HostedZones"):
        for record in _paged(r53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone["Id"]):
            yield f"{record['Name']} {record['Type']}", [record["Name"].rstrip(".")], {}


def _buckets(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    s3 = client("s3", region)
    for item in s3.list_buckets().get("Buckets", []):
        try:
            tags = _tags(s3.get_bucket_tagging(Bucket=item["Name"]).get("TagSet"))
        except s3.exceptions.ClientError:
            tags = {}  # NoSuchTagSet
        yield item["Name"], [item["Name"]], tags


def _topics(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    sns = client("sns", region)
    for item in _paged(sns, "list_topics", "Topics"):
        arn = item["TopicArn"]
        yield arn, [arn.rsplit(":", 1)[1]], _tags(sns.list_tags_for_resource(ResourceArn=arn).get("Tags"))


def _cloudfront(
    method: str,
    listing: str,
    names: Callable[[dict[str, Any]], list[str | None]],
    ident: Callable[[dict[str, Any]], str] = lambda item: item["Id"],
    **kwargs: Any,
) -> Enumerator:
    def enumerate_(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
        cf = client("cloudfront", region)
        for item in getattr(cf, method)(**kwargs)[listing].get("Items") or []:
            tags: dict[str, str] = {}
            if listing == "DistributionList":
                tags = _tags(cf.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items"))
            yield ident(item), names(item), tags

    return enumerate_


def _db_proxies(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    rds = client("rds", region)
    for item in _paged(rds, "describe_db_proxies", "DBProxies"):
        tags = _tags(rds.list_tags_for_resource(ResourceName=item["DBProxyArn"]).get("TagList"))
        yield item["DBProxyName"], [item["DBProxyName"]], tags


def _web_acls(client: Client, region: str) -> Iterator[tuple[str, list[str | None], dict[str, str]]]:
    waf = client("wafv2", region)
    for scope in ("REGIONAL", "CLOUDFRONT") if region == "us-east-1" else ("REGIONAL",):
        for item in waf.list_web_acls(Scope=scope).get("WebACLs", []):
            tags = waf.list_tags_for_resource(ResourceARN=item["ARN"]).get("TagInfoForResource", {}).get("TagList")
            yield item["ARN"], [item["Name"]], _tags(tags)


ENUMERATORS: dict[str, Enumerator] = {
    "aws_vpc": _ec2("describe_vpcs", "Vpcs", "VpcId", lambda v: not v.get("IsDefault")),
    "aws_subnet": _ec2("describe_subnets", "Subnets", "SubnetId", lambda s: not s.get("DefaultForAz")),
    "aws_internet_gateway": _ec2("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
    "aws_route_table": _ec2("describe_route_tables", "RouteTables", "RouteTableId"),
    "aws_security_group": _ec2(
        "describe_security_groups", "SecurityGroups", "GroupId", lambda g: g["GroupName"] != "default"
    ),
    "aws_vpc_security_group_ingress_rule": _ec2(
        "describe_security_group_rules", "SecurityGroupRules", "SecurityGroupRuleId", lambda r: not r["IsEgress"]
    ),
    "aws_vpc_security_group_egress_rule": _ec2(
        "describe_security_group_rules", "SecurityGroupRules", "SecurityGroupRuleId", lambda r: r["IsEgress"]
    ),
    "aws_eip": _ec2("describe_addresses", "Addresses", "AllocationId"),
    "aws_flow_log": _ec2("describe_flow_logs", "FlowLogs", "FlowLogId"),
    "aws_instance": _instances,
    "aws_cloudwatch_log_group": _log_groups,
    "aws_iam_role": _iam_roles,
    "aws_iam_instance_profile": _instance_profiles,
    "aws_kms_key": _kms_keys,
    "aws_kms_alias": _kms_aliases,
    "aws_db_parameter_group": _rds("describe_db_parameter_groups", "DBParameterGroups", "DBParameterGroupName", None),
    "aws_rds_cluster_parameter_group": _rds(
        "describe_db_cluster_parameter_groups", "DBClusterParameterGroups", "DBClusterParameterGroupName", None
    ),
    "aws_db_subnet_group": _rds("describe_db_subnet_groups", "DBSubnetGroups", "DBSubnetGroupName", None),
    "aws_rds_cluster": _rds("describe_db_clusters", "DBClusters", "DBClusterIdentifier"),
    "aws_rds_cluster_instance": _rds("describe_db_instances", "DBInstances", "DBInstanceIdentifier"),
    "aws_rds_global_cluster": _rds("describe_global_clusters", "GlobalClusters", "GlobalClusterIdentifier", None),
    "aws_db_proxy": _db_proxies,
    "aws_wafv2_web_acl": _web_acls,
    "aws_lambda_function": _lambda_functions,
    "aws_secretsmanager_secret": _secrets,
    "aws_acm_certificate": _certificates,
    "aws_appautoscaling_target": _scalable("target"),
    "aws_appautoscaling_policy": _scalable("policy"),
    "aws_cloudwatch_metric_alarm": _alarms,
    "aws_ecr_repository": _ecr,
    "aws_ecs_cluster": _ecs_clusters,
    "aws_ecs_service": _ecs_services,
    "aws_ecs_task_definition": _task_definitions,
    "aws_lb": _elbv2("describe_load_balancers", "LoadBalancers", "LoadBalancerName", "LoadBalancerArn"),
    "aws_lb_target_group": _elbv2("describe_target_groups", "TargetGroups", "TargetGroupName", "TargetGroupArn"),
    "aws_route53_record": _records,
    "aws_s3_bucket": _buckets,
    "aws_sns_topic": _topics,
    "aws_cloudfront_distribution": _cloudfront(
        "list_distributions",
        "DistributionList",
        lambda d: [*(d.get("Aliases", {}).get("Items") or []), d.get("Comment")],
    ),
    "aws_cloudfront_function": _cloudfront(
        "list_functions", "FunctionList", lambda f: [f["Name"]], ident=lambda f: f["Name"]
    ),
    "aws_cloudfront_origin_access_control": _cloudfront(
        "list_origin_access_controls", "OriginAccessControlList", lambda o: [o["Name"]]
    ),
    "aws_cloudfront_response_headers_policy": _cloudfront(
        "list_response_headers_policies",
        "ResponseHeadersPolicyList",
        lambda p: [p["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]],
        ident=lambda p: p["ResponseHeadersPolicy"]["Id"],
        Type="custom",
    ),
}
"""Terraform type -> enumerator of its live objects (boto3 against the emulator)."""

PART_OF: dict[str, str] = {
    "aws_default_security_group": "aws_vpc",
    "aws_route": "aws_route_table",
    "aws_route_table_association": "aws_route_table",
    "aws_eip_association": "aws_eip",
    "aws_ec2_instance_state": "aws_instance",
    "aws_iam_role_policy": "aws_iam_role",
    "aws_iam_role_policy_attachment": "aws_iam_role",
    "aws_ecs_cluster_capacity_providers": "aws_ecs_cluster",
    "aws_ecr_lifecycle_policy": "aws_ecr_repository",
    "aws_lb_listener": "aws_lb",
    "aws_lb_listener_rule": "aws_lb",
    "aws_s3_bucket_lifecycle_configuration": "aws_s3_bucket",
    "aws_s3_bucket_ownership_controls": "aws_s3_bucket",
    "aws_s3_bucket_policy": "aws_s3_bucket",
    "aws_s3_bucket_public_access_block": "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration": "aws_s3_bucket",
    "aws_s3_bucket_versioning": "aws_s3_bucket",
    "aws_s3_object": "aws_s3_bucket",
    "aws_db_proxy_default_target_group": "aws_db_proxy",
    "aws_db_proxy_target": "aws_db_proxy",
    "aws_wafv2_web_acl_association": "aws_wafv2_web_acl",
    "aws_wafv2_web_acl_logging_configuration": "aws_wafv2_web_acl",
    "docker_registry_image": "aws_ecr_repository",
}
"""Types that exist only inside a parent object (AWS deletes them with it, or refuses to delete
the parent while they exist): covered by the parent's enumerator."""

NO_AWS_OBJECT: dict[str, str] = {
    "terraform_data": "Terraform-side only (builtin provider)",
    "docker_image": "an image on the machine that runs Terraform (build-image mode); its push is docker_registry_image",
    "aws_lambda_invocation": "one invocation of a function; nothing is created",
    "aws_acm_certificate_validation": "a waiter for the certificate's status; nothing is created",
}
"""Types Terraform manages that create nothing in AWS."""


def declared_types(stacks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every managed resource type of the given synthesized stacks, sorted."""
    return sorted({rtype for stack in stacks for rtype in stack.get("resource", {})})


def stack_regions(stacks: Iterable[Mapping[str, Any]], default: str) -> list[str]:
    """Every region an AWS provider block of the stacks names (`default` for those that name none)."""
    regions = {default}
    for stack in stacks:
        for config in stack.get("provider", {}).get("aws", []):
            regions.add(config.get("region") or default)
    return sorted(regions)


@dataclass
class Sweep:
    """Result of `sweep`: `found` objects of the stage (leftovers), per-type coverage."""

    found: list[Found] = field(default_factory=list)
    enumerated: list[str] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)
    no_object: list[str] = field(default_factory=list)
    unenumerable: list[str] = field(default_factory=list)
    """Declared types this module cannot enumerate (never skipped silently: the lifecycle fails)."""


def sweep(stacks: Iterable[Mapping[str, Any]], stage: str, client: Client, default_region: str) -> Sweep:
    """Enumerate every declared type in every region of the stacks; report what belongs to `stage`."""
    stacks = list(stacks)
    matcher = Matcher(stage)
    result = Sweep()
    regions = stack_regions(stacks, default_region)
    for rtype in declared_types(stacks):
        if rtype in NO_AWS_OBJECT:
            result.no_object.append(rtype)
            continue
        if rtype in PART_OF:
            result.parts[rtype] = PART_OF[rtype]
            continue
        enumerate_ = ENUMERATORS.get(rtype)
        if enumerate_ is None:
            result.unenumerable.append(rtype)
            continue
        result.enumerated.append(rtype)
        for region in regions if rtype not in GLOBAL_TYPES else [default_region]:
            for ident, names, tags in enumerate_(client, region):
                why = matcher.why(names, tags)
                if why:
                    result.found.append(Found(rtype, ident, why))
    missing_parents = sorted({p for p in result.parts.values() if p not in result.enumerated and p not in ENUMERATORS})
    result.unenumerable += missing_parents
    return result


GLOBAL_TYPES = frozenset(
    {
        "aws_iam_role",
        "aws_iam_instance_profile",
        "aws_route53_record",
        "aws_s3_bucket",
        "aws_cloudfront_distribution",
        "aws_cloudfront_function",
        "aws_cloudfront_origin_access_control",
        "aws_cloudfront_response_headers_policy",
    }
)
"""Global services (one endpoint for every region): enumerated once."""

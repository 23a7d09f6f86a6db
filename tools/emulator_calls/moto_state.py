"""What the emulator's backends hold, read inside the moto process before a request runs: the
tags of a resource by ARN, the account of an access key, the real ARN of a name (IAM paths,
Secrets Manager's random suffix), the VPC of a subnet or security group, the role of an instance
profile. Every lookup answers {} / None for a resource moto does not have (yet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

DEFAULT_ACCOUNT = "123456789012"


def _backend(name: str, account: str, region: str) -> Any:
    from moto.backends import get_backend

    if name == "lambda":  # moto serves Lambda from lambda_simple when use_docker is off (as MotoServer runs it)
        from moto.awslambda.utils import get_backend as lambda_backend

        return lambda_backend(account, region)
    backends = get_backend(name)  # type: ignore[call-overload]  # overloads take each service as a Literal; ours is a runtime str
    return backends[account][region]


def account_of(access_key: str) -> str:
    """The account moto serves `access_key` in (its default account for unknown keys)."""
    if not access_key:
        return DEFAULT_ACCOUNT
    try:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(access_key)
    except Exception:  # noqa: BLE001 - moto internals; default account as moto itself falls back
        return DEFAULT_ACCOUNT


def _pairs(tags: Any) -> dict[str, str]:
    """moto's tag shapes -> {key: value}: dict, {key: {"Key", "Value"}}, [{"Key","Value"}] (any case)."""
    if not tags:
        return {}
    if isinstance(tags, dict) and "Tags" in tags and isinstance(tags["Tags"], list):
        tags = tags["Tags"]
    if isinstance(tags, dict):
        return {
            k: (v.get("Value", "") if isinstance(v, dict) else ("" if v is None else str(v))) for k, v in tags.items()
        }
    return {
        t.get("Key", t.get("key", t.get("TagKey"))): t.get("Value", t.get("value", t.get("TagValue", ""))) or ""
        for t in tags
    }


def _ec2(b: Any, kind: str, rid: str) -> Any:
    return b.tags.get(rid, {})


def _iam(b: Any, kind: str, rid: str) -> Any:
    name = rid.rsplit("/", 1)[-1]
    if kind == "role":
        return b.get_role(name).tags
    if kind == "instance-profile":
        return b.get_instance_profile(name).tags
    if kind == "policy":
        return next(p.tags for p in b.managed_policies.values() if p.name == name)
    if kind == "oidc-provider":
        return next(p.tags for arn, p in b.oidc_providers.items() if arn.endswith(rid))
    return {}


def _s3(b: Any, kind: str, rid: str, arn: str) -> Any:
    bucket_name, _, key = rid.partition("/")
    bucket = b.get_bucket(bucket_name)
    if key:
        obj = bucket.keys.get(key)
        return b.tagger.get_tag_dict_for_resource(obj.arn) if obj is not None else {}
    return b.tagger.get_tag_dict_for_resource(bucket.arn)


def _scalable_target_tags(b: Any, arn: str) -> Any:
    """moto 5.2.5 keeps no tags for scalable targets; the emulator keeps them on the target as
    `tags` (tools/moto_emulator.py, "Application Auto Scaling has no tagging in moto")."""
    for targets in b.targets.values():
        for target in targets.values():
            if target.arn == arn:
                return getattr(target, "tags", {})
    return {}


TAG_READERS: dict[str, Callable[..., Any]] = {
    "ec2": lambda b, kind, rid, arn: _ec2(b, kind, rid),
    "iam": lambda b, kind, rid, arn: _iam(b, kind, rid),
    "s3": _s3,
    "ecs": lambda b, kind, rid, arn: b.list_tags_for_resource(arn),
    "lambda": lambda b, kind, rid, arn: b.list_tags(arn.split(":function:")[0] + ":function:" + rid.split(":")[0]),
    "rds": lambda b, kind, rid, arn: b.list_tags_for_resource(arn),
    "logs": lambda b, kind, rid, arn: b.list_tags_for_resource(arn.removesuffix(":*")),
    "kms": lambda b, kind, rid, arn: b.list_resource_tags(rid) if kind == "key" else {},
    "secretsmanager": lambda b, kind, rid, arn: b.secrets[arn].tags if arn in b.secrets else b.secrets[rid].tags,
    "elasticloadbalancing": lambda b, kind, rid, arn: b.tagging_service.get_tag_dict_for_resource(arn),
    "sns": lambda b, kind, rid, arn: b.list_tags_for_resource(arn),
    "acm": lambda b, kind, rid, arn: b.get_certificate(arn).tags,
    "route53": lambda b, kind, rid, arn: b.list_tags_for_resource(rid),
    "cloudwatch": lambda b, kind, rid, arn: b.tagger.get_tag_dict_for_resource(arn),
    "cloudfront": lambda b, kind, rid, arn: b.tagger.get_tag_dict_for_resource(arn),
    "ecr": lambda b, kind, rid, arn: b.tagger.get_tag_dict_for_resource(arn),
    "application-autoscaling": lambda b, kind, rid, arn: _scalable_target_tags(b, arn),
}
"""Per ARN service: (backend, resource type, resource id, ARN) -> moto's tags of that resource."""

BACKEND_NAMES = {
    "elasticloadbalancing": "elbv2",
    "lambda": "lambda",
    "application-autoscaling": "applicationautoscaling",
}
GLOBAL_REGIONS = {"iam": "global", "route53": "global", "s3": "aws", "cloudfront": "global"}


def tags_of(arn: str) -> dict[str, str]:
    """The tags moto holds for the resource `arn` ({} when it has none or does not exist)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[2] not in TAG_READERS:
        return {}
    service, region, account, rest = parts[2], parts[3], parts[4] or DEFAULT_ACCOUNT, parts[5]
    kind, _, rid = rest.partition("/") if "/" in rest.split(":")[0] else rest.partition(":")
    if service in ("s3",):
        kind, rid = "bucket", rest
    if service == "sns":
        kind, rid = "topic", rest
    try:
        backend = _backend(
            BACKEND_NAMES.get(service, service), account, GLOBAL_REGIONS.get(service, region or "us-east-1")
        )
        return _pairs(TAG_READERS[service](backend, kind, rid, arn))
    except Exception:  # noqa: BLE001 - not there (yet): a create, or a lookup of a deleted resource
        return {}


def real_arn(arn: str) -> str:
    """The ARN moto gives the resource `arn` names, where the name alone does not make it: an IAM
    role/instance profile/policy with a path, a Secrets Manager secret (random 6-character
    suffix), a KMS key named by alias. `arn` itself when moto has no such resource."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return arn
    service, region, account, rest = parts[2], parts[3], parts[4] or DEFAULT_ACCOUNT, parts[5]
    try:
        if service == "iam" and rest.startswith(("role/", "instance-profile/")):
            b = _backend("iam", account, "global")
            name = rest.rsplit("/", 1)[-1]
            found = b.get_role(name) if rest.startswith("role/") else b.get_instance_profile(name)
            return found.arn
        if service == "secretsmanager" and rest.startswith("secret:"):
            b = _backend("secretsmanager", account, region)
            secret_id = rest[len("secret:") :]
            return b.secrets[secret_id].arn if secret_id in b.secrets else arn
        if service == "kms" and rest.startswith("key/alias/"):
            b = _backend("kms", account, region)
            key_id = b.get_key_id_from_alias(rest[len("key/") :])
            return f"arn:{parts[1]}:kms:{region}:{account}:key/{key_id}" if key_id else arn
    except Exception:  # noqa: BLE001 - not there (yet)
        return arn
    return arn


def vpc_of(account: str, region: str, resource_id: str) -> str | None:
    """The VPC id of an EC2 subnet, security group or network interface id."""
    try:
        b = _backend("ec2", account, region)
        if resource_id.startswith("subnet-"):
            return b.get_subnet(resource_id).vpc_id
        if resource_id.startswith("sg-"):
            return b.get_security_group_from_id(resource_id).vpc_id
        if resource_id.startswith("eni-"):
            return b.get_network_interface(resource_id).subnet.vpc_id
    except Exception:  # noqa: BLE001 - not there
        return None
    return None


def associated(account: str, region: str, association_id: str) -> list[str]:
    """The ids an EC2 association id stands for, as EC2 resolves it to authorize the call: a route
    table association's route table and subnet (or gateway), an Elastic IP association's
    allocation and network interface or instance. [] for an unknown id."""
    try:
        b = _backend("ec2", account, region)
        for table in b.route_tables.values():
            if association_id in table._associations:
                return [table.id, table._associations[association_id]]
        for address in b.addresses:
            if address.association_id == association_id:
                return [i for i in (address.allocation_id, address.network_interface_id, address.instance_id) if i]
    except Exception:  # noqa: BLE001 - moto internals; nothing resolved
        return []
    return []


def role_of_instance_profile(account: str, name_or_arn: str) -> str | None:
    """The role ARN of an instance profile (name or ARN), None without one."""
    try:
        b = _backend("iam", account, "global")
        profile = (
            b.get_instance_profile_by_arn(name_or_arn)
            if name_or_arn.startswith("arn:")
            else b.get_instance_profile(name_or_arn)
        )
        return profile.roles[0].arn if profile.roles else None
    except Exception:  # noqa: BLE001 - not there
        return None


def caller_arn(account: str, access_key: str) -> str:
    """The ARN of the principal that signed with `access_key`, as moto's GetCallerIdentity answers
    it: an IAM user as `arn:aws:iam::…:user/…`, a role session as its `assumed-role` ARN, and moto's
    default user `moto` for keys it did not issue (the administrator's fixed key)."""
    try:
        from moto.sts.models import sts_backends

        arn = sts_backends[account]["global"].get_caller_identity(access_key, "us-east-1")[1]
    except Exception:  # noqa: BLE001 - moto internals; the default identity as moto answers it
        arn = f"arn:aws:sts::{account}:user/moto"
    return arn.replace(":sts::", ":iam::", 1) if ":user/" in arn else arn


def role_boundary(account: str, name: str) -> str | None:
    """The ARN of the permissions boundary moto's IAM role `name` has now (None: no boundary, or
    no such role)."""
    try:
        return _backend("iam", account, "global").get_role(name).permissions_boundary_arn or None
    except Exception:  # noqa: BLE001 - NoSuchEntity
        return None


def role_exists(account: str, name: str) -> bool:
    """Whether moto's IAM has a role called `name`."""
    try:
        _backend("iam", account, "global").get_role(name)
        return True
    except Exception:  # noqa: BLE001 - NoSuchEntity
        return False


def scalable_target_arn(account: str, region: str, dimension: str, resource_id: str) -> str | None:
    """The ARN of Application Auto Scaling's registered target (its id is generated), None
    before it is registered."""
    try:
        target = _backend("applicationautoscaling", account, region).targets[dimension][resource_id]
        return target.arn
    except Exception:  # noqa: BLE001 - not registered (yet)
        return None

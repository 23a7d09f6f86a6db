"""The emulator call log (tools/emulator_calls): real boto3 calls against a MotoServer with a
call log, one per decoding path (query, ec2, json, rest-json, rest-xml, unsigned STS), and the
exact lines they produce: IAM action, resource ARNs, the target's tags before the request,
request tags and the condition keys the request determines.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tools.emulator_calls import Call, Resource, read_calls, session_roles, undecoded
from tools.moto_emulator import MotoServer

ACCOUNT = "123456789012"
REGION = "us-east-1"
TAGS = [{"Key": "stage", "Value": "pr-42"}, {"Key": "app", "Value": "hebo"}]
STAGE_TAGS = {"stage": "pr-42", "app": "hebo"}
REQUEST_TAGS = {"aws:RequestTag/stage": "pr-42", "aws:RequestTag/app": "hebo", "aws:TagKeys": ["app", "stage"]}
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MotoServer, Path]]:
    log = tmp_path_factory.mktemp("calls") / "calls.jsonl"
    with MotoServer(call_log=log) as server:
        yield server, log


@pytest.fixture(scope="module")
def client(emulator: tuple[MotoServer, Path]) -> Callable[..., Any]:
    server, _ = emulator

    def make(service: str, key: str = "testing", secret: str = "testing", token: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=server.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )

    return make


@pytest.fixture()
def last(emulator: tuple[MotoServer, Path]) -> Callable[[str], list[Call]]:
    """The lines of the latest request of `operation` (one per action, same seq)."""
    _, log = emulator

    def get(operation: str) -> list[Call]:
        calls = [c for c in read_calls(log) if c.operation == operation]
        assert calls, f"no {operation} in the call log"
        seq = calls[-1].seq
        return [c for c in calls if c.seq == seq]

    return get


def _arn(service: str, rest: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{rest}"


def test_ec2_query_create_with_tags_tag_describe_delete(client, last) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": TAGS}])["Vpc"][
        "VpcId"
    ]
    vpc_arn = _arn("ec2", f"vpc/{vpc}")
    create, tag_on_create = last("CreateVpc")
    assert (create.action, create.resources, create.status, create.service) == (
        "ec2:CreateVpc",
        (Resource(vpc_arn, {}),),
        200,
        "ec2",
    )
    assert create.context == {**REQUEST_TAGS, "ec2:Region": REGION}
    assert create.access_key_id == "testing" and tag_on_create.seq == create.seq
    assert (tag_on_create.action, tag_on_create.resources) == ("ec2:CreateTags", (Resource(vpc_arn, {}),))
    assert tag_on_create.context == {**REQUEST_TAGS, "ec2:CreateAction": "CreateVpc"}

    ec2.describe_vpcs(VpcIds=[vpc])
    (describe,) = last("DescribeVpcs")
    assert (describe.action, describe.resources) == (
        "ec2:DescribeVpcs",
        (Resource("*", {}),),
    )  # no resource-level permission

    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "owner", "Value": "platform"}])
    (tag,) = last("CreateTags")
    assert (tag.action, tag.resources) == (
        "ec2:CreateTags",
        (Resource(vpc_arn, STAGE_TAGS),),
    )  # tags before the request
    assert tag.context == {"aws:RequestTag/owner": "platform", "aws:TagKeys": ["owner"], "ec2:Region": REGION}

    ec2.delete_vpc(VpcId=vpc)
    (delete,) = last("DeleteVpc")
    assert delete.resources == (Resource(vpc_arn, {**STAGE_TAGS, "owner": "platform"}),)  # a delete still sees its tags
    assert delete.context == {"ec2:Region": REGION, "ec2:VpcID": vpc}


def test_ec2_run_instances_authorizes_every_resource_and_tags_and_role(client, last) -> None:
    ec2, iam = client("ec2"), client("iam")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(
        VpcId=vpc, CidrBlock="10.8.1.0/24", TagSpecifications=[{"ResourceType": "subnet", "Tags": TAGS}]
    )["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="bastion", Description="b", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="hebo-pr-42-bastion", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.create_instance_profile(InstanceProfileName="hebo-pr-42-bastion")
    iam.add_role_to_instance_profile(InstanceProfileName="hebo-pr-42-bastion", RoleName="hebo-pr-42-bastion")
    image = "ami-0a1b2c3d4e5f60001"
    (instance,) = ec2.run_instances(
        ImageId=image,
        InstanceType="t4g.nano",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        SecurityGroupIds=[group],
        IamInstanceProfile={"Name": "hebo-pr-42-bastion"},
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "stage", "Value": "pr-42"}, {"Key": "role", "Value": "bastion"}],
            }
        ],
    )["Instances"]
    eni = instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    (volume,) = [m["Ebs"]["VolumeId"] for m in instance["BlockDeviceMappings"]]
    instance_arn = _arn("ec2", f"instance/{instance['InstanceId']}")
    run, tag_on_create, pass_role = last("RunInstances")
    assert run.action == "ec2:RunInstances"
    assert sorted(run.resources, key=lambda r: r.arn) == sorted(
        [
            Resource(f"arn:aws:ec2:{REGION}::image/{image}", {}),
            Resource(_arn("ec2", f"subnet/{subnet}"), STAGE_TAGS),
            Resource(_arn("ec2", f"security-group/{group}"), {}),
            Resource(instance_arn, {}),
            Resource(_arn("ec2", f"network-interface/{eni}"), {}),
            Resource(_arn("ec2", f"volume/{volume}"), {}),  # the root volume the image's block device mapping creates
        ],
        key=lambda r: r.arn,
    )
    assert run.context["aws:RequestTag/role"] == "bastion" and run.context["aws:TagKeys"] == ["role", "stage"]
    assert run.context["ec2:Vpc"] == _arn("ec2", f"vpc/{vpc}") and run.context["ec2:InstanceType"] == "t4g.nano"
    assert (tag_on_create.action, tag_on_create.resources) == ("ec2:CreateTags", (Resource(instance_arn, {}),))
    assert tag_on_create.context["ec2:CreateAction"] == "RunInstances"
    assert (pass_role.action, pass_role.resources) == ("iam:PassRole", (Resource(role, {}),))
    assert pass_role.context == {"iam:PassedToService": "ec2.amazonaws.com"}
    assert {run.seq} == {tag_on_create.seq, pass_role.seq}


def test_json_protocol_secret_read_by_name_is_its_real_arn(client, last) -> None:
    secrets = client("secretsmanager")
    arn = secrets.create_secret(Name="hebo/pr-42/StackSecretServerKey", SecretString="s", Tags=TAGS)["ARN"]
    create, tag_on_create = last("CreateSecret")
    assert (create.action, create.resources) == (
        "secretsmanager:CreateSecret",
        (Resource(arn, {}),),
    )  # moto's random suffix
    assert {k: v for k, v in create.context.items() if k.startswith("aws:")} == REQUEST_TAGS
    assert tag_on_create.action == "secretsmanager:TagResource"
    secrets.get_secret_value(SecretId="hebo/pr-42/StackSecretServerKey")
    (read,) = last("GetSecretValue")
    assert (read.action, read.resources, read.service) == (
        "secretsmanager:GetSecretValue",
        (Resource(arn, STAGE_TAGS),),
        "secretsmanager",
    )
    assert read.context == {"secretsmanager:SecretId": arn}


def test_ecs_create_service_in_a_named_cluster(client, last) -> None:
    ecs, iam = client("ecs"), client("iam")
    execution = iam.create_role(RoleName="hebo-pr-42-api-execution", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    ecs.create_cluster(clusterName="hebo-pr-42", tags=[{"key": "stage", "value": "pr-42"}])
    family = ecs.register_task_definition(
        family="hebo-pr-42-api",
        executionRoleArn=execution,
        containerDefinitions=[{"name": "api", "image": "api:1", "memory": 512}],
    )["taskDefinition"]
    register, pass_role = last("RegisterTaskDefinition")
    assert register.action == "ecs:RegisterTaskDefinition" and register.resources == (Resource("*", {}),)
    assert (pass_role.action, pass_role.resources) == ("iam:PassRole", (Resource(execution, {}),))
    assert pass_role.context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2)]
    group = ec2.create_security_group(VpcId=vpc, GroupName="hebo-pr-42-api", Description="api")["GroupId"]
    ecs.create_service(
        cluster="hebo-pr-42",
        serviceName="hebo-pr-42-api",
        taskDefinition="hebo-pr-42-api:1",
        desiredCount=1,
        networkConfiguration={"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}},
        tags=[{"key": "stage", "value": "pr-42"}, {"key": "app", "value": "hebo"}],
    )
    create, tag_on_create = last("CreateService")
    service_arn = _arn("ecs", "service/hebo-pr-42/hebo-pr-42-api")
    assert (create.action, create.resources) == ("ecs:CreateService", (Resource(service_arn, {}),))
    assert create.context == {
        **REQUEST_TAGS,
        "ecs:cluster": _arn("ecs", "cluster/hebo-pr-42"),
        "ecs:task-definition": _arn("ecs", "task-definition/hebo-pr-42-api:1"),
        "ecs:subnet": subnets,
    }  # newer than the catalogue (calls.py)
    assert (tag_on_create.action, tag_on_create.resources) == ("ecs:TagResource", (Resource(service_arn, {}),))
    assert tag_on_create.context == {**REQUEST_TAGS, "ecs:CreateAction": "CreateService"}
    assert family["taskDefinitionArn"] == _arn("ecs", "task-definition/hebo-pr-42-api:1")


def test_application_auto_scaling_adds_the_calls_it_makes_as_the_caller(client, last) -> None:
    ecs, scaling = client("ecs"), client("application-autoscaling")
    ecs.create_cluster(clusterName="hebo-pr-43")
    ecs.register_task_definition(
        family="hebo-pr-43-api", containerDefinitions=[{"name": "api", "image": "api:1", "memory": 512}]
    )
    ecs.create_service(
        cluster="hebo-pr-43",
        serviceName="hebo-pr-43-api",
        taskDefinition="hebo-pr-43-api",
        desiredCount=1,
        tags=[{"key": "stage", "value": "pr-43"}],
    )
    scaling.register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/hebo-pr-43/hebo-pr-43-api",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=2,
        Tags={"stage": "pr-43"},
    )
    lines = last("RegisterScalableTarget")
    lines = [line for line in lines if line.action != "application-autoscaling:TagResource"]
    service = Resource(_arn("ecs", "service/hebo-pr-43/hebo-pr-43-api"), {"stage": "pr-43"})
    linked = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"
    assert [(c.action, c.resources, c.context) for c in lines[1:]] == [
        (
            "cloudwatch:PutMetricAlarm",
            (Resource("*", {}),),
            {},
        ),  # no alarm name, no tags: what a name/tag-scoped grant cannot allow
        ("cloudwatch:DescribeAlarms", (Resource("*", {}),), {}),
        ("cloudwatch:DeleteAlarms", (Resource("*", {}),), {}),
        ("ecs:DescribeServices", (service,), {"ecs:cluster": _arn("ecs", "cluster/hebo-pr-43")}),
        ("ecs:UpdateService", (service,), {"ecs:cluster": _arn("ecs", "cluster/hebo-pr-43")}),
        (
            "iam:CreateServiceLinkedRole",
            (Resource(linked, {}),),
            {"iam:AWSServiceName": "ecs.application-autoscaling.amazonaws.com"},
        ),
    ]
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (lines[0].action, lines[0].resources) == (
        "application-autoscaling:RegisterScalableTarget",
        (Resource(target["ScalableTargetARN"], {}),),
    )
    assert lines[0].context == {
        "application-autoscaling:scalable-dimension": "ecs:service:DesiredCount",
        "application-autoscaling:service-namespace": "ecs",
        "aws:RequestTag/stage": "pr-43",
        "aws:TagKeys": ["stage"],
    }
    assert {c.seq for c in lines} == {lines[0].seq}
    # the target's tags (kept by the emulator; moto has none) are what a tag-scoped grant sees
    scaling.put_scaling_policy(
        PolicyName="cpu",
        ServiceNamespace="ecs",
        ResourceId="service/hebo-pr-43/hebo-pr-43-api",
        ScalableDimension="ecs:service:DesiredCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 60.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
        },
    )
    put = last("PutScalingPolicy")[0]
    assert (put.action, put.resources) == (
        "application-autoscaling:PutScalingPolicy",
        (Resource(target["ScalableTargetARN"], {"stage": "pr-43"}),),
    )


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def test_rest_json_lambda_create_function_with_role_and_vpc(client, last) -> None:
    ec2, iam, lam = client("ec2"), client("iam"), client("lambda")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="migrator", Description="m", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName="hebo-pr-42-migrator", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    lam.create_function(
        FunctionName="hebo-pr-42-migrator",
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _zip()},
        VpcConfig={"SubnetIds": [subnet], "SecurityGroupIds": [group]},
        Tags={"stage": "pr-42", "app": "hebo"},
    )
    create, pass_role = last("CreateFunction")
    function = _arn("lambda", "function:hebo-pr-42-migrator")
    assert (create.action, create.resources, create.service) == (
        "lambda:CreateFunction",
        (Resource(function, {}),),
        "lambda",
    )
    assert create.context == {
        **REQUEST_TAGS,
        "lambda:SubnetIds": [subnet],
        "lambda:SecurityGroupIds": [group],
        "lambda:VpcIds": vpc,
    }
    assert (pass_role.action, pass_role.resources, pass_role.context) == (
        "iam:PassRole",
        (Resource(role, {}),),
        {"iam:PassedToService": "lambda.amazonaws.com"},
    )
    lam.invoke(FunctionName=function)  # by ARN: the Invoke operation is the lambda:InvokeFunction action
    (invoke,) = last("Invoke")
    assert (invoke.action, invoke.resources) == ("lambda:InvokeFunction", (Resource(function, STAGE_TAGS),))


def test_rest_xml_s3_state_object_and_route53_records(client, last) -> None:
    s3, route53 = client("s3"), client("route53")
    s3.create_bucket(Bucket="hebo-terraform-state")
    s3.put_object(Bucket="hebo-terraform-state", Key="pr-42/network.tfstate", Body=b"{}")
    (put,) = last("PutObject")
    assert (put.action, put.resources) == (
        "s3:PutObject",
        (Resource("arn:aws:s3:::hebo-terraform-state/pr-42/network.tfstate", {}),),
    )
    s3.head_object(Bucket="hebo-terraform-state", Key="pr-42/network.tfstate")
    (head,) = last("HeadObject")
    assert (head.action, head.resources[0].arn) == (
        "s3:GetObject",
        "arn:aws:s3:::hebo-terraform-state/pr-42/network.tfstate",
    )
    s3.list_objects_v2(Bucket="hebo-terraform-state", Prefix="pr-42/")
    (listing,) = last("ListObjectsV2")
    assert (listing.action, listing.resources, listing.context) == (
        "s3:ListBucket",
        (Resource("arn:aws:s3:::hebo-terraform-state", {}),),
        {"s3:prefix": "pr-42/"},
    )

    zone = route53.create_hosted_zone(Name="dev.hebo.ai", CallerReference="calls")["HostedZone"]["Id"].rsplit("/", 1)[
        -1
    ]
    route53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone, AddTags=[{"Key": "stage", "Value": "dev"}]
    )
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "PR-42.dev.hebo.ai.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                },
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "pr-42.dev.hebo.ai.",
                        "Type": "AAAA",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "2001:db8::1"}],
                    },
                },
            ]
        },
    )
    (change,) = last("ChangeResourceRecordSets")
    assert (change.action, change.resources) == (
        "route53:ChangeResourceRecordSets",
        (Resource(f"arn:aws:route53:::hostedzone/{zone}", {"stage": "dev"}),),
    )
    assert change.context == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["pr-42.dev.hebo.ai"],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A", "AAAA"],
        "route53:ChangeResourceRecordSetsActions": ["CREATE", "UPSERT"],
    }


def test_sts_web_identity_maps_the_session_key_to_the_role(client, last, emulator) -> None:
    iam = client("iam")
    role = iam.create_role(RoleName="hebo-preview-deploy", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    sts = boto3.client(
        "sts",
        endpoint_url=emulator[0].url,
        region_name=REGION,
        config=__import__("botocore.config").config.Config(signature_version=__import__("botocore").UNSIGNED),
    )
    credentials = sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="gha-42", WebIdentityToken="token")[
        "Credentials"
    ]
    (assume,) = last("AssumeRoleWithWebIdentity")
    assert (assume.action, assume.access_key_id, assume.resources) == (
        "sts:AssumeRoleWithWebIdentity",
        "",
        (Resource(role, {}),),
    )
    assert (assume.issued_access_key_id, assume.role_arn) == (credentials["AccessKeyId"], role)
    assert assume.context == {"sts:RoleSessionName": "gha-42"}
    session = client("sts", credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    session.get_caller_identity()
    (who,) = last("GetCallerIdentity")
    assert who.access_key_id == credentials["AccessKeyId"]
    assert session_roles(read_calls(emulator[1]))[who.access_key_id] == role


def test_a_change_to_a_role_carries_the_roles_current_boundary(client, last) -> None:
    """iam:PermissionsBoundary of PutRolePolicy/AttachRolePolicy/DeleteRolePolicy is the boundary the
    target role has (a real lifecycle recording had none, so DenyRolesWithoutTheBoundary denied
    every policy of every preview role)."""
    iam = client("iam")
    logs = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    )
    boundary = iam.create_policy(PolicyName="hebo-preview-boundary", PolicyDocument=logs)["Policy"]["Arn"]
    role = iam.create_role(
        RoleName="hebo-pr-44-migrator", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=boundary
    )["Role"]["Arn"]
    (create, *_) = last("CreateRole")
    assert create.context["iam:PermissionsBoundary"] == boundary
    iam.put_role_policy(RoleName="hebo-pr-44-migrator", PolicyName="logs", PolicyDocument=logs)
    iam.attach_role_policy(
        RoleName="hebo-pr-44-migrator", PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    )
    iam.delete_role_policy(RoleName="hebo-pr-44-migrator", PolicyName="logs")
    for operation in ("PutRolePolicy", "AttachRolePolicy", "DeleteRolePolicy"):
        (line,) = last(operation)
        assert (line.resources[0].arn, line.context.get("iam:PermissionsBoundary")) == (role, boundary), operation
    iam.create_role(RoleName="hebo-pr-44-unbounded", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="hebo-pr-44-unbounded", PolicyName="logs", PolicyDocument=logs)
    (unbounded,) = last("PutRolePolicy")
    assert "iam:PermissionsBoundary" not in unbounded.context  # no boundary: the key is absent


def test_names_with_slashes_fill_their_arn(client, last) -> None:
    """Secret names (`hebo/pr-44/DbPassword`) and ECR repositories (`hebo-pr-44/api`) hold `/`: a
    request naming them by ARN is authorized on that ARN (recorded as `secret:*`/`repository/*` before)."""
    secrets, ecr = client("secretsmanager"), client("ecr")
    arn = secrets.create_secret(Name="hebo/pr-44/DbPassword", SecretString="s", Tags=TAGS)["ARN"]
    secrets.describe_secret(SecretId=arn)
    secrets.get_resource_policy(SecretId=arn)
    for operation in ("DescribeSecret", "GetResourcePolicy"):
        (line,) = last(operation)
        assert line.resources == (Resource(arn, STAGE_TAGS),), operation
    repository = ecr.create_repository(repositoryName="hebo-pr-44/api", tags=TAGS)["repository"]["repositoryArn"]
    ecr.list_tags_for_resource(resourceArn=repository)
    (listed,) = last("ListTagsForResource")
    assert (listed.action, listed.resources) == ("ecr:ListTagsForResource", (Resource(repository, STAGE_TAGS),))


def test_rds_groups_are_tagged_on_create_by_their_own_arn(client, last) -> None:
    """CreateDBClusterParameterGroup's tags go on its `cluster-pg` (not on `*`), the type whose
    abbreviated name is the operation's noun."""
    rds = client("rds")
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="hebo-pr-44-db-cluster-params",
        DBParameterGroupFamily="aurora-postgresql16",
        Description="cluster",
        Tags=TAGS,
    )
    rds.create_db_parameter_group(
        DBParameterGroupName="hebo-pr-44-db-params",
        DBParameterGroupFamily="aurora-postgresql16",
        Description="db",
        Tags=TAGS,
    )
    for operation, arn in (
        ("CreateDBClusterParameterGroup", _arn("rds", "cluster-pg:hebo-pr-44-db-cluster-params")),
        ("CreateDBParameterGroup", _arn("rds", "pg:hebo-pr-44-db-params")),
    ):
        create, tag_on_create = last(operation)
        assert (create.resources, tag_on_create.action) == ((Resource(arn, {}),), "rds:AddTagsToResource"), operation
        assert tag_on_create.resources == (Resource(arn, {}),), operation


def test_a_request_ec2_refuses_as_malformed_is_marked_rejected(client, last) -> None:
    """The AWS provider reads every `aws_ami` with GetInstanceUefiData(InstanceId=<AMI id>)
    (terraform-provider-aws issue 47508): EC2 refuses it as malformed whatever the permissions."""
    ec2 = client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    with pytest.raises(Exception):  # noqa: B017 - moto answers 400, as EC2 answers InvalidInstanceID.Malformed
        ec2.get_instance_uefi_data(InstanceId=image)
    (line,) = last("GetInstanceUefiData")
    assert line.rejected == f"InstanceId {image} does not start with i-: EC2 answers InvalidInstanceID.Malformed"
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.get_instance_uefi_data(InstanceId=instance)
    (good,) = last("GetInstanceUefiData")
    assert good.rejected is None and good.resources[0].arn == _arn("ec2", f"instance/{instance}")


def test_destroy_calls_name_what_they_remove(client, last) -> None:
    """A destroy's calls name their resources as EC2, KMS, RDS and Secrets Manager authorize them:
    an association id stands for the route table and subnet (the address and interface) it joins,
    an alias' deletion is also on its key, an RDS delete without a final snapshot is on the
    cluster only, a secret deleted by ARN is that ARN (each was `*` or an unfilled variable)."""
    ec2, kms, rds, secrets = client("ec2"), client("kms"), client("rds"), client("secretsmanager")
    vpc = ec2.create_vpc(CidrBlock="10.45.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.45.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)["AssociationId"]
    ec2.disassociate_route_table(AssociationId=association)
    (line,) = last("DisassociateRouteTable")
    assert {r.arn for r in line.resources} == {_arn("ec2", f"route-table/{table}"), _arn("ec2", f"subnet/{subnet}")}
    interface = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    joined = ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=interface)["AssociationId"]
    ec2.disassociate_address(AssociationId=joined)
    (line,) = last("DisassociateAddress")
    assert {r.arn for r in line.resources} == {
        _arn("ec2", f"elastic-ip/{allocation}"),
        _arn("ec2", f"network-interface/{interface}"),
    }
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/hebo-pr-45-stage", TargetKeyId=key)
    kms.delete_alias(AliasName="alias/hebo-pr-45-stage")
    (line,) = last("DeleteAlias")
    assert {r.arn for r in line.resources} == {_arn("kms", "alias/hebo-pr-45-stage"), _arn("kms", f"key/{key}")}
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.45.{n}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"][
            "SubnetId"
        ]
        for n, zone in ((2, "a"), (3, "b"))
    ]
    rds.create_db_subnet_group(DBSubnetGroupName="hebo-pr-45-db", DBSubnetGroupDescription="db", SubnetIds=subnets)
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="hebo-pr-45-db", DBParameterGroupFamily="aurora-postgresql16", Description="db"
    )
    rds.create_db_cluster(
        DBClusterIdentifier="hebo-pr-45-db",
        Engine="aurora-postgresql",
        EngineVersion="16.4",
        MasterUsername="u",
        MasterUserPassword="password1",
        DBSubnetGroupName="hebo-pr-45-db",
        DBClusterParameterGroupName="hebo-pr-45-db",
    )
    rds.delete_db_cluster(DBClusterIdentifier="hebo-pr-45-db", SkipFinalSnapshot=True)
    (line,) = last("DeleteDBCluster")
    assert [r.arn for r in line.resources] == [_arn("rds", "cluster:hebo-pr-45-db")]
    arn = secrets.create_secret(Name="hebo/pr-45/DbPassword", SecretString="s")["ARN"]
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    (line,) = last("DeleteSecret")
    assert [r.arn for r in line.resources] == [arn]


def test_the_provider_validates_credentials_as_in_the_workflow() -> None:
    """No `skip_credentials_validation`: with it the provider asks iam:GetUser for the account
    (aws-sdk-go-base), a call the workflow never makes."""
    from tools.moto_emulator import moto_override

    stack = {"provider": {"aws": [{"region": "us-east-1"}, {"alias": "global", "region": "us-east-1"}]}}
    assert moto_override(stack) == {
        "provider": {
            "aws": [
                {"skip_metadata_api_check": True, "s3_use_path_style": True},
                {"alias": "global", "skip_metadata_api_check": True, "s3_use_path_style": True},
            ]
        }
    }


def test_load_balancer_tags_go_on_the_resource_each_create_makes(client, last) -> None:
    ec2, elb = client("ec2"), client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.6.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name="hebo-pr-42-api", Subnets=subnets, Tags=TAGS)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    create, tag = last("CreateLoadBalancer")
    assert (create.resources, tag.resources) == (
        (Resource(lb, {}),),
        (Resource(lb, {}),),
    )  # app/ only: net/ is its alternative
    assert tag.context == {**REQUEST_TAGS, "elasticloadbalancing:CreateAction": "CreateLoadBalancer"}
    group = elb.create_target_group(Name="hebo-pr-42-api", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    listener = elb.create_listener(
        LoadBalancerArn=lb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        Tags=TAGS,
    )["Listeners"][0]["ListenerArn"]
    create, tag = last("CreateListener")
    assert (create.action, create.resources) == ("elasticloadbalancing:CreateListener", (Resource(lb, STAGE_TAGS),))
    assert (tag.action, tag.resources) == (
        "elasticloadbalancing:AddTags",
        (Resource(listener, {}),),
    )  # the new listener, not its load balancer
    elb.delete_load_balancer(LoadBalancerArn=lb)
    (delete,) = last("DeleteLoadBalancer")
    assert delete.resources == (Resource(lb, STAGE_TAGS),)


def test_a_created_key_is_tagged_and_read_by_alias(client, last) -> None:
    kms = client("kms")
    key = kms.create_key(Tags=[{"TagKey": "stage", "TagValue": "pr-42"}])["KeyMetadata"]["Arn"]
    create, tag = last("CreateKey")
    assert (create.action, create.resources) == (
        "kms:CreateKey",
        (Resource("*", {}),),
    )  # CreateKey has no resource type
    assert (tag.action, tag.resources, tag.context) == (
        "kms:TagResource",
        (Resource(key, {}),),
        {"aws:RequestTag/stage": "pr-42", "aws:TagKeys": ["stage"]},
    )
    kms.create_alias(AliasName="alias/hebo-pr-42", TargetKeyId=key.rsplit("/", 1)[-1])
    (alias,) = last("CreateAlias")
    assert alias.resources == (Resource(_arn("kms", "alias/hebo-pr-42"), {}), Resource(key, {"stage": "pr-42"}))
    kms.encrypt(KeyId="alias/hebo-pr-42", Plaintext=b"x", EncryptionContext={"stage": "pr-42"})
    (encrypt,) = last("Encrypt")
    assert (encrypt.resources, encrypt.context) == (
        (Resource(key, {"stage": "pr-42"}),),
        {
            "kms:EncryptionContext:stage": "pr-42",
            "kms:EncryptionContextKeys": ["stage"],
            "kms:RequestAlias": "alias/hebo-pr-42",
        },
    )


def test_an_undecodable_request_is_recorded_with_no_action(emulator, last) -> None:
    server, log = emulator
    request = urllib.request.Request(
        server.url + "/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.NoSuchOperation",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=30)
    (line,) = last("AmazonEC2ContainerServiceV20141113.NoSuchOperation")
    assert (line.action, line.service, line.resources, line.status) == (None, "ecs", (), 500)  # moto fails on it
    assert "no operation of ecs" in (line.error or "")
    assert line in undecoded(read_calls(log))


def test_every_line_so_far_decodes_except_the_deliberate_one(emulator) -> None:
    calls = read_calls(emulator[1])
    assert len(calls) > 40
    assert [
        (c.operation, c.error)
        for c in undecoded(calls)
        if c.operation != "AmazonEC2ContainerServiceV20141113.NoSuchOperation"
    ] == []


def test_read_calls_names_a_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    log.write_text('{"seq": 1}\n')
    with pytest.raises(ValueError, match=r"calls.jsonl:1: not a call log line \('access_key_id'\)"):
        read_calls(log)


def test_an_unfilled_arn_variable_counts_as_undecoded(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    line = {
        "seq": 3,
        "access_key_id": "testing",
        "service": "ec2",
        "operation": "CreateFlowLogs",
        "action": "ec2:CreateFlowLogs",
        "resources": [{"arn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-flow-log/${{VpcFlowLogId}}", "tags": {}}],
        "context": {},
        "status": 200,
        "region": REGION,
    }
    log.write_text(
        json.dumps(line) + "\n" + json.dumps({**line, "seq": 4, "resources": [{"arn": "*", "tags": {}}]}) + "\n"
    )
    calls = read_calls(log)
    assert [c.seq for c in undecoded(calls)] == [3]


def test_a_certificate_request_carries_every_name_it_would_cover(client, last) -> None:
    """acm:DomainNames is the domain name and every alternative name of RequestCertificate, the key
    PreviewCertificatesOnly scopes by (a request without it would pass a ForAllValues condition)."""
    client("acm").request_certificate(
        DomainName="pr-44.dev.api.hebo.ai",
        SubjectAlternativeNames=["pr-44.dev.gateway.hebo.ai"],
        ValidationMethod="DNS",
        Tags=[{"Key": "stage", "Value": "pr-44"}],
    )
    (line,) = last("RequestCertificate")
    assert line.action == "acm:RequestCertificate"
    assert line.context["acm:DomainNames"] == ["pr-44.dev.api.hebo.ai", "pr-44.dev.gateway.hebo.ai"]
    assert line.context["acm:ValidationMethod"] == "DNS"
    assert line.context["aws:RequestTag/stage"] == "pr-44"

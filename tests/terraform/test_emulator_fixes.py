"""The emulator's response fixes (tools/moto_emulator.py EMULATOR_FIXES), one AWS answer each.

Each test asks the emulator what the AWS provider asks after a create (or an update) and checks
the answer field by field against the shape the AWS API reference documents. Without the fix
moto leaves the field out (or answers with another value), and the provider then plans a change
on every second plan (the lifecycle's `test_second_plans_of_every_stack_are_empty` is the
whole-app check; these tests name the one response that broke).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tools.moto_emulator import MotoServer
from tools.terraform_check import CheckError

REGION = "us-east-1"


@pytest.fixture(scope="module")
def aws() -> Iterator[Callable[[str], Any]]:
    """`aws("lambda")`: a boto3 client of the emulator (its own moto process, with the fixes)."""
    with MotoServer() as server:
        yield lambda service: server.client(service, REGION)


def _role(aws: Callable[[str], Any], name: str) -> str:
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    return aws("iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_lambda_answers_with_its_logging_config(aws) -> None:
    """API_GetFunctionConfiguration: `LoggingConfig` (default: Text into /aws/lambda/<name>)."""
    client, role = aws("lambda"), _role(aws, "logging-config-role")
    common = {"Runtime": "python3.13", "Role": role, "Handler": "handler.handler", "Code": {"ZipFile": _zip()}}
    client.create_function(FunctionName="given", LoggingConfig={"LogFormat": "Text", "LogGroup": "own-group"}, **common)
    client.create_function(FunctionName="defaulted", **common)
    assert client.get_function(FunctionName="given")["Configuration"]["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "own-group",
    }
    assert client.get_function_configuration(FunctionName="defaulted")["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "/aws/lambda/defaulted",
    }
    client.update_function_configuration(
        FunctionName="given", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN"}
    )
    assert client.get_function(FunctionName="given")["Configuration"]["LoggingConfig"] == {
        "LogFormat": "JSON",
        "LogGroup": "own-group",
        "ApplicationLogLevel": "WARN",
    }


def test_aurora_provisioned_cluster_and_its_instance(aws) -> None:
    """API_DBCluster: `ScalingConfigurationInfo` only for Serverless v1 (engine mode `serverless`);
    API_DBInstance: the Performance Insights settings as created (retention default 7 days)."""
    rds = aws("rds")
    cluster = rds.create_db_cluster(
        DBClusterIdentifier="v2-cluster",
        Engine="aurora-postgresql",
        EngineMode="provisioned",
        MasterUsername="admin_user",
        MasterUserPassword="emulator-password-1",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 1200},
    )["DBCluster"]
    assert "ScalingConfigurationInfo" not in cluster
    (described,) = rds.describe_db_clusters(DBClusterIdentifier="v2-cluster")["DBClusters"]
    assert "ScalingConfigurationInfo" not in described
    assert described["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 4
    common = {"DBClusterIdentifier": "v2-cluster", "Engine": "aurora-postgresql", "DBInstanceClass": "db.serverless"}
    rds.create_db_instance(
        DBInstanceIdentifier="with-insights",
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/own-key",
        PerformanceInsightsRetentionPeriod=7,
        **common,
    )
    rds.create_db_instance(DBInstanceIdentifier="without-insights", **common)
    (given,) = rds.describe_db_instances(DBInstanceIdentifier="with-insights")["DBInstances"]
    assert (
        given["PerformanceInsightsEnabled"],
        given["PerformanceInsightsKMSKeyId"],
        given["PerformanceInsightsRetentionPeriod"],
    ) == (True, "arn:aws:kms:us-east-1:123456789012:key/own-key", 7)
    (plain,) = rds.describe_db_instances(DBInstanceIdentifier="without-insights")["DBInstances"]
    assert plain["PerformanceInsightsEnabled"] is False and "PerformanceInsightsRetentionPeriod" not in plain
    rds.modify_db_instance(DBInstanceIdentifier="without-insights", EnablePerformanceInsights=True)
    (modified,) = rds.describe_db_instances(DBInstanceIdentifier="without-insights")["DBInstances"]
    assert modified["PerformanceInsightsEnabled"] is True and modified["PerformanceInsightsRetentionPeriod"] == 7


def test_acm_certificate_has_the_requested_key_algorithm(aws) -> None:
    """API_RequestCertificate `KeyAlgorithm` (default RSA_2048), as DescribeCertificate reports it."""
    acm = aws("acm")
    ec = acm.request_certificate(DomainName="ec.example.com", ValidationMethod="DNS", KeyAlgorithm="EC_prime256v1")
    rsa = acm.request_certificate(DomainName="rsa.example.com", ValidationMethod="DNS")
    assert acm.describe_certificate(CertificateArn=ec["CertificateArn"])["Certificate"]["KeyAlgorithm"] == (
        "EC_prime256v1"
    )
    assert acm.describe_certificate(CertificateArn=rsa["CertificateArn"])["Certificate"]["KeyAlgorithm"] == "RSA_2048"


def test_ecs_service_keeps_its_settings(aws) -> None:
    """API_CreateService: the service's settings come back in DescribeServices as given."""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="settings")
    ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}])
    settings = {
        "enableECSManagedTags": True,
        "enableExecuteCommand": True,
        "healthCheckGracePeriodSeconds": 60,
        "availabilityZoneRebalancing": "DISABLED",
        "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}],
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
    }
    ecs.create_service(cluster="settings", serviceName="app", taskDefinition="app", desiredCount=1, **settings)
    (service,) = ecs.describe_services(cluster="settings", services=["app"])["services"]
    assert {key: service.get(key) for key in settings} == settings
    ecs.update_service(cluster="settings", service="app", enableExecuteCommand=False)
    (updated,) = ecs.describe_services(cluster="settings", services=["app"])["services"]
    assert updated["enableExecuteCommand"] is False and updated["healthCheckGracePeriodSeconds"] == 60


def test_cloudfront_distribution_keeps_functions_and_its_certificate(aws) -> None:
    """API_DefaultCacheBehavior: `FunctionAssociations` as given, no `ForwardedValues` beside a
    cache policy; API_Origin `OriginAccessControlId`; API_ViewerCertificate: with an ACM
    certificate, `CloudFrontDefaultCertificate` is false and `CertificateSource` is `acm`."""
    cloudfront = aws("cloudfront")
    arn = "arn:aws:cloudfront::123456789012:function/router"
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0000"
    functions = {"Quantity": 1, "Items": [{"FunctionARN": arn, "EventType": "viewer-request"}]}
    config = {
        "CallerReference": "fixes",
        "Comment": "fixes",
        "Enabled": True,
        "Aliases": {"Quantity": 1, "Items": ["cdn.example.com"]},
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "s3",
                    "DomainName": "site.s3.us-east-1.amazonaws.com",
                    "S3OriginConfig": {"OriginAccessIdentity": ""},
                    "OriginAccessControlId": "E2OAC0000",
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            "FunctionAssociations": functions,
        },
        "ViewerCertificate": {
            "ACMCertificateArn": certificate,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        },
    }
    created = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]
    got = cloudfront.get_distribution_config(Id=created["Id"])["DistributionConfig"]
    assert got["DefaultCacheBehavior"]["FunctionAssociations"] == functions
    assert got["DefaultCacheBehavior"]["LambdaFunctionAssociations"] == {"Quantity": 0}
    assert "ForwardedValues" not in got["DefaultCacheBehavior"]  # a cache policy, no legacy settings
    assert got["Origins"]["Items"][0]["OriginAccessControlId"] == "E2OAC0000"
    viewer = got["ViewerCertificate"]
    assert (viewer["CloudFrontDefaultCertificate"], viewer["ACMCertificateArn"], viewer["CertificateSource"]) == (
        False,
        certificate,
        "acm",
    )


def _change(action: str, name: str, kind: str, value: str) -> dict[str, Any]:
    return {
        "Action": action,
        "ResourceRecordSet": {"Name": name, "Type": kind, "TTL": 60, "ResourceRecords": [{"Value": value}]},
    }


def test_route53_record_comes_back_after_its_delete(aws) -> None:
    """API_ChangeResourceRecordSets: CREATE fails only when a record set of that name and type
    exists (`InvalidChangeBatch`); after a DELETE the same CREATE succeeds, whatever follows it."""
    route53 = aws("route53")
    zone = route53.create_hosted_zone(Name="example.com", CallerReference="recreate")["HostedZone"]["Id"]

    def change(*changes: dict[str, Any]) -> None:
        route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})

    record = _change("CREATE", "app.example.com", "A", "192.0.2.1")
    change(record, _change("CREATE", "zz.app.example.com", "A", "192.0.2.2"))  # a record listed after it
    with pytest.raises(ClientError) as refused:
        change(_change("CREATE", "app.example.com", "A", "192.0.2.9"))
    assert refused.value.response["Error"]["Code"] == "InvalidChangeBatch"
    assert "already exists" in refused.value.response["Error"]["Message"]
    change({**record, "Action": "DELETE"})
    change(record)  # the identical CREATE again, as a re-created stage sends it
    names = [(r["Name"], r["Type"]) for r in route53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]]
    assert names.count(("app.example.com.", "A")) == 1 and ("zz.app.example.com.", "A") in names


def test_server_errors_name_what_moto_failed_on() -> None:
    """`MotoServer.server_errors()`: each HTTP 500 answer and the exception behind it, from
    moto's log (what a stopped lifecycle reports beside Terraform's error)."""
    with MotoServer() as server:
        ecr = server.client("ecr", REGION, Config(retries={"max_attempts": 1, "mode": "standard"}))
        ecr.describe_repositories()
        assert server.server_errors() == []
        with pytest.raises(ClientError):
            ecr.get_download_url_for_layer(repositoryName="repo", layerDigest="sha256:" + "0" * 64)
        errors = server.server_errors()
    assert errors[0].endswith('"POST / HTTP/1.1" 500 -')
    assert errors[1] == "NotImplementedError: ECR.get_download_url_for_layer is not yet implemented"


def test_nothing_moto_prints_can_fill_a_pipe() -> None:
    """After the one line with its URL, the moto process writes its stdout and stderr to its log
    file: a pipe nobody reads blocks the server thread that writes the 65,537th byte (the hang of
    docs/terraform-checks.md, "Defects found by these checks")."""
    with MotoServer() as server:
        fds = {fd: os.readlink(f"/proc/{server.pid}/fd/{fd}") for fd in (1, 2)}
        assert fds == {1: str(server.log_path), 2: str(server.log_path)}


def test_the_lifecycles_aws_cli_reaches_the_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS CLI `make test-setup` installs runs the edge stack's invalidation provisioner: on the
    PATH the lifecycle gives Terraform, `aws` is that CLI and reaches moto by AWS_ENDPOINT_URL."""
    from tools.lifecycle import AWS_CLI_VENV, aws_cli_path

    path = aws_cli_path()
    assert path.split(os.pathsep)[0] == str(AWS_CLI_VENV / "bin")
    with MotoServer() as server:
        env = {**server.environment(REGION), "PATH": path, "HOME": str(tmp_path)}
        done = subprocess.run(
            ["aws", "sts", "get-caller-identity", "--query", "Account", "--output", "text"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert (done.returncode, done.stdout.strip()) == (0, "123456789012"), done.stderr
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setattr("tools.lifecycle.AWS_CLI_VENV", tmp_path / "none")
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(CheckError, match=r"^the edge stack's invalidation runs the AWS CLI .*run `make test-setup`"):
        aws_cli_path()


def test_iam_refuses_a_policy_with_an_empty_resource(aws) -> None:
    """IAM answers `MalformedPolicyDocument: Resource  must be in ARN format or "*".` for an empty
    resource (what a policy built from an empty attribute holds); moto skipped empty entries."""
    iam = aws("iam")
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    iam.create_role(RoleName="hebo-pr-42-api-exec", AssumeRolePolicyDocument=trust)
    key = "arn:aws:kms:us-east-1:123456789012:key/0b0e6a8c-0000-4000-8000-000000000001"
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": [key, ""]}],
    }
    with pytest.raises(ClientError, match='MalformedPolicyDocument.*Resource  must be in ARN format or "\\*"'):
        iam.put_role_policy(RoleName="hebo-pr-42-api-exec", PolicyName="secrets", PolicyDocument=json.dumps(policy))
    policy["Statement"][0]["Resource"] = [key]
    iam.put_role_policy(RoleName="hebo-pr-42-api-exec", PolicyName="secrets", PolicyDocument=json.dumps(policy))
    assert iam.list_role_policies(RoleName="hebo-pr-42-api-exec")["PolicyNames"] == ["secrets"]


def test_a_failed_run_keeps_motos_log() -> None:
    """A run that fails inside `with MotoServer()` keeps moto's log under build/moto-logs/ (the
    server's own directory is deleted): the request lines show, e.g., a create a client retried."""
    from tools.terraform_check import REPO_ROOT

    with pytest.raises(RuntimeError, match="apply failed"):
        with MotoServer() as server:
            server.client("sts", REGION).get_caller_identity()
            pid = server.pid
            raise RuntimeError("apply failed")
    (kept,) = sorted((REPO_ROOT / "build" / "moto-logs").glob(f"*-{pid}.log"))
    try:
        assert '"POST / HTTP/1.1" 200' in kept.read_text()
    finally:
        kept.unlink()

"""Records tests/fixtures/deploy-role-calls.jsonl: real boto3 calls a preview deploy makes, made as
the deploy role on a moto server with a call log (tools/emulator_calls), after `ops deploy-role`
converged the role there. Re-record after a change to the recorder:

    .venv/bin/python tests/iam_eval/deploy_role_calls.py

The calls: a tagged log group, a preview secret and its metadata by ARN, a preview role with the
boundary and its inline and managed policies, a tagged VPC and its AWS-created default security
group tagged afterwards (aws_default_security_group), the caller identity.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "deploy-role-calls.jsonl"
STAGE = "pr-42"
TAGS = [{"Key": "stage", "Value": STAGE}, {"Key": "app", "Value": "hebo"}]
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _role_session(server: Any, role_arn: str) -> boto3.Session:
    sts = boto3.client(
        "sts",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=botocore.config.Config(signature_version=botocore.UNSIGNED),
    )
    credentials = sts.assume_role_with_web_identity(
        RoleArn=role_arn, RoleSessionName="hebo-pr-42-fixture", WebIdentityToken="token"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )


def _deploy(session: Any, boundary: str) -> None:
    """What the network and data stacks' first apply does, in small."""
    logs, secrets, iam, ec2 = (session.client(s) for s in ("logs", "secretsmanager", "iam", "ec2"))
    session.client("sts").get_caller_identity()
    logs.create_log_group(logGroupName="/aws/lambda/hebo-pr-42-migrator", tags={"stage": STAGE, "app": "hebo"})
    logs.put_retention_policy(logGroupName="/aws/lambda/hebo-pr-42-migrator", retentionInDays=7)
    arn = secrets.create_secret(Name="hebo/pr-42/DbPassword", SecretString="fixture", Tags=TAGS)["ARN"]
    secrets.describe_secret(SecretId=arn)
    secrets.get_resource_policy(SecretId=arn)
    iam.create_role(
        RoleName="hebo-pr-42-migrator",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        PermissionsBoundary=boundary,
        Tags=TAGS,
    )
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName="hebo-pr-42-migrator", PolicyName="logs", PolicyDocument=json.dumps(policy))
    iam.attach_role_policy(
        RoleName="hebo-pr-42-migrator",
        PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    )
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=[{"ResourceType": "vpc", "Tags": TAGS}])["Vpc"][
        "VpcId"
    ]
    (default,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    ec2.create_tags(Resources=[default["GroupId"]], Tags=[*TAGS, {"Key": "Name", "Value": "hebo-pr-42-default-unused"}])


def record(path: Path = FIXTURE) -> Path:
    """Converge the role on a fresh moto server, make the calls as it, copy the call log to `path`."""
    from ops import deploy_role
    from tools.iam_eval.unused import role_config
    from tools.moto_emulator import MotoServer

    log = path.with_suffix(".recording")
    log.unlink(missing_ok=True)
    with MotoServer(call_log=log) as server:
        saved = dict(os.environ)
        os.environ.update(server.environment())
        try:
            deploy_role.run(boto3.Session(region_name="us-east-1"), role_config(STAGE), io.StringIO())
        finally:
            os.environ.clear()
            os.environ.update(saved)
        account = "123456789012"
        boundary = f"arn:aws:iam::{account}:policy/hebo-preview-boundary"
        session = _role_session(server, f"arn:aws:iam::{account}:role/{deploy_role.DEFAULT_ROLE_NAME}")
        endpoint = {"endpoint_url": server.url}
        _deploy(_EndpointSession(session, endpoint), boundary)
    path.write_text(log.read_text())
    log.unlink()
    return path


class _EndpointSession:
    """A boto3 session whose clients talk to the emulator."""

    def __init__(self, session: boto3.Session, kwargs: dict[str, str]) -> None:
        self._session, self._kwargs = session, kwargs

    def client(self, service: str) -> Any:
        return self._session.client(service, **self._kwargs)


if __name__ == "__main__":
    sys.path.insert(0, str(REPO_ROOT))
    print(record())

"""Retries on the emulator (tools/emulator_idempotency.py): a retried create gets the answer of its
first attempt — by its client token, as on AWS (Amazon EC2 developer guide, "Ensuring
idempotency in Amazon EC2 API requests"), or by the SDK's invocation id when the answer was lost on the way
back — and the fault injection the emulator, production and lifecycle lanes apply with.

moto 5.2.5 alone carries a retry out again: CreateFlowLogs answers `FlowLogAlreadyExists`,
CreateService starts a second deployment (the replay tests below fail that way without the
middleware; moto's Secrets Manager and ACM honour their own tokens).
The whole-app checks are the emulator lane's `test_lost_answers_leave_one_object_each`, the
production lane and the lifecycle's re-create, which apply their stacks with the first answer of
every changing request lost. The transport tests at the end check the one-send answers and
`100 Continue` with a raw socket.
"""

from __future__ import annotations

import re
import socket
import struct
from typing import Any, Callable, Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tools.emulator_idempotency import token_members
from tools.moto_emulator import MotoServer

REGION = "us-east-1"


@pytest.fixture()
def emulator() -> Iterator[tuple[MotoServer, Callable[[str], Any]]]:
    """A fresh emulator and `client("ec2")`: a boto3 client of it (standard retries: 3 attempts)."""
    with MotoServer() as server:
        retries = Config(retries={"mode": "standard", "max_attempts": 3})
        yield server, lambda service: server.client(service, REGION, retries)


def _flow_log(ec2: Any, logs: Any) -> dict[str, Any]:
    """CreateFlowLogs parameters for a new VPC into a new log group (the network stack's shape)."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    logs.create_log_group(logGroupName="/hebo/pr-42/vpc-flow-logs")
    return {
        "ResourceIds": [vpc],
        "ResourceType": "VPC",
        "TrafficType": "ALL",
        "LogGroupName": "/hebo/pr-42/vpc-flow-logs",
        "DeliverLogsPermissionArn": "arn:aws:iam::123456789012:role/hebo-pr-42-flow-logs",
    }


def test_a_retried_flow_log_gets_its_first_answer(emulator) -> None:
    """EC2 (ec2 protocol; `ClientToken` has no idempotencyToken trait, the provider sets it)."""
    _server, client = emulator
    ec2 = client("ec2")
    params = _flow_log(ec2, client("logs"))
    first = ec2.create_flow_logs(ClientToken="terraform-0001", **params)
    again = ec2.create_flow_logs(ClientToken="terraform-0001", **params)
    assert again["FlowLogIds"] == first["FlowLogIds"] and len(first["FlowLogIds"]) == 1
    assert [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]] == first["FlowLogIds"]
    with pytest.raises(ClientError, match="FlowLogAlreadyExists"):  # a new token is a new request: AWS refuses it too
        ec2.create_flow_logs(ClientToken="terraform-0002", **params)


def test_a_retried_ecs_service_gets_its_first_answer(emulator) -> None:
    """ECS (JSON protocol; `clientToken` has no trait, the provider sets it). moto would create
    the service again: a new deployment under the same name."""
    _server, client = emulator
    ecs = client("ecs")
    ecs.create_cluster(clusterName="hebo-pr-42")
    params = {"cluster": "hebo-pr-42", "serviceName": "api", "desiredCount": 1, "launchType": "FARGATE"}
    first = ecs.create_service(clientToken="terraform-0004", **params)["service"]
    again = ecs.create_service(clientToken="terraform-0004", **params)["service"]
    assert [d["id"] for d in again["deployments"]] == [d["id"] for d in first["deployments"]]
    assert again["serviceArn"] == first["serviceArn"]
    assert ecs.list_services(cluster="hebo-pr-42")["serviceArns"] == [first["serviceArn"]]


def test_the_same_token_with_other_parameters_is_not_replayed(emulator) -> None:
    """AWS answers IdempotentParameterMismatch; the emulator passes such a request to moto (here it
    creates the second secret) and does not answer it with the first request's result."""
    _server, client = emulator
    secrets = client("secretsmanager")
    token = "6b3f4f0a-0000-4000-8000-000000000002"
    first = secrets.create_secret(Name="hebo/pr-42/One", SecretString="value", ClientRequestToken=token)
    other = secrets.create_secret(Name="hebo/pr-42/Two", SecretString="value", ClientRequestToken=token)
    assert other["ARN"] != first["ARN"] and other["Name"] == "hebo/pr-42/Two"


def test_a_lost_answer_is_retried_into_one_object(emulator) -> None:
    """With lost answers on, the SDK's retry of each create gets the first attempt's result: one
    flow log, one secret; the injected HTTP 500s are not moto's failures."""
    server, client = emulator
    ec2, secrets = client("ec2"), client("secretsmanager")
    params = _flow_log(ec2, client("logs"))
    server.lose_first_answers()
    created = ec2.create_flow_logs(ClientToken="terraform-0003", **params)
    secret = secrets.create_secret(Name="hebo/pr-42/Lost", SecretString="value")  # boto3 fills the token
    server.lose_first_answers(False)
    assert created["ResponseMetadata"]["RetryAttempts"] == 1 and secret["ResponseMetadata"]["RetryAttempts"] == 1
    assert [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]] == created["FlowLogIds"]
    assert [s["ARN"] for s in secrets.list_secrets()["SecretList"]] == [secret["ARN"]]
    assert server.lost_answers() == ["ec2 CreateFlowLogs", "secretsmanager CreateSecret"]
    assert server.server_errors() == []
    again = secrets.create_secret(Name="hebo/pr-42/Kept", SecretString="value")
    assert again["ResponseMetadata"]["RetryAttempts"] == 0 and len(server.lost_answers()) == 2  # switched off


def test_an_answer_lost_on_the_way_back_reaches_the_retry(emulator) -> None:
    """A create without a client token whose answer never arrived (the connection closed after
    moto carried it out, as the Go SDK's own race loses answers here): the SDK's retry, same
    invocation id, gets the answer moto gave, so the rule exists once and the call succeeds
    instead of answering `InvalidPermission.Duplicate` for the rule its first attempt made."""
    server, client = emulator
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    service, database = (
        ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
        for name in ("hebo-pr-42-service", "hebo-pr-42-database")
    )
    rule = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": database}]}
    server.lose_first_answers()
    looked = ec2.describe_security_groups(GroupIds=[service])  # reads are never lost
    authorized = ec2.authorize_security_group_egress(GroupId=service, IpPermissions=[rule])
    server.lose_first_answers(False)
    assert looked["ResponseMetadata"]["RetryAttempts"] == 0
    assert authorized["ResponseMetadata"]["RetryAttempts"] == 1 and authorized["Return"] is True
    [created] = authorized["SecurityGroupRules"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [service]}])["SecurityGroupRules"]
    assert [r["SecurityGroupRuleId"] for r in rules if r["FromPort"] == 5432] == [created["SecurityGroupRuleId"]]
    assert server.lost_answers() == ["ec2 AuthorizeSecurityGroupEgress"] and server.server_errors() == []
    assert server.replayed_retries() == ["ec2 AuthorizeSecurityGroupEgress"]
    with pytest.raises(ClientError, match="InvalidPermission.Duplicate"):  # a new call is a new request: as on AWS
        ec2.authorize_security_group_egress(GroupId=service, IpPermissions=[rule])


@pytest.mark.parametrize(
    ("api", "operation", "members"),
    [
        ("ec2", "CreateFlowLogs", ("ClientToken",)),  # documented, no trait
        ("ec2", "RunInstances", ("ClientToken",)),  # trait
        ("ecs", "CreateService", ("clientToken",)),
        ("acm", "RequestCertificate", ("IdempotencyToken",)),
        ("secretsmanager", "PutSecretValue", ("ClientRequestToken",)),
        ("ec2", "DescribeInstances", ()),  # `Filters` documents the client-token filter: not a token
        ("lambda", "Invoke", ()),  # `DurableExecutionName` mentions idempotency: not named a token
        ("ec2", "CreateSecurityGroup", ()),
        ("ec2", "NoSuchOperation", ()),
    ],
)
def test_client_tokens_come_from_the_service_models(api: str, operation: str, members: tuple[str, ...]) -> None:
    assert token_members(api, operation) == members


def _raw(server: MotoServer, request: bytes, timeout: float = 10.0) -> socket.socket:
    """A connection to the emulator that has sent `request` (bytes of HTTP/1.1)."""
    host, port = server.url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=timeout)
    connection.sendall(request)
    return connection


def _signed(service: str) -> bytes:
    """An Authorization header the emulator reads the service and region from (it checks no signature)."""
    return f"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261207/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n".encode()


def _data_segments_received(connection: socket.socket) -> int:
    """`tcpi_data_segs_in` of Linux's `struct tcp_info` (linux/tcp.h, since 4.6): how many TCP
    segments carrying data this socket has received."""
    info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    return struct.unpack_from("I", info, 152)[0]


def test_each_answer_arrives_in_one_piece(emulator) -> None:
    """tools/moto_emulator.py `_ONE_SEND_PER_ANSWER`: the status line, headers and body leave in
    one send, so they arrive in one TCP segment (counted by the kernel) and a client's first read
    holds the whole answer. werkzeug's own two sends (headers, then body) arrive as two segments,
    and let the provider's Go SDK lose answers to its race."""
    server, _client = emulator
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = (
        b"POST / HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + _signed("sts")
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with _raw(server, request) as connection:
        answer = b""
        while chunk := connection.recv(65536):  # the emulator closes the connection after each answer
            answer += chunk
        segments = _data_segments_received(connection)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"<Account>123456789012</Account>" in payload
    assert int(re.search(rb"(?im)^content-length: *(\d+)", head).group(1)) == len(payload)
    assert segments == 1


def test_a_client_expecting_100_continue_gets_it_at_once(emulator) -> None:
    """A request with `Expect: 100-continue` (botocore's S3 uploads; the Go SDK's bodies over 2 MB)
    gets the interim answer before it sends its body, not at the end with the final answer: the
    one-send buffer is flushed before the request is read (otherwise the client waits out its
    continue timeout, 1 s, inside the emulator's one-request-at-a-time lock)."""
    server, client = emulator
    client("s3").create_bucket(Bucket="hebo-pr-42-expect")
    head = (
        b"PUT /hebo-pr-42-expect/object HTTP/1.1\r\nHost: emulator\r\n"
        + _signed("s3")
        + b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    )
    with _raw(server, head) as connection:
        interim = connection.recv(65536)  # the body is not sent yet: only the interim answer can come
        connection.sendall(b"hello")
        final = b""
        while b"\r\n\r\n" not in final:
            final += connection.recv(65536)
    assert interim.startswith(b"HTTP/1.1 100 Continue\r\n") and b"HTTP/1.1 200" not in interim
    assert b"HTTP/1.1 200 OK\r\n" in final
    assert client("s3").get_object(Bucket="hebo-pr-42-expect", Key="object")["Body"].read() == b"hello"

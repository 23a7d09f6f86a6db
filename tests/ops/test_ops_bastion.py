"""`ops bastion start|stop` against the moto server.

What moto can show: the bastion is found by its tags (never another stage's, never a terminated
one), EC2 start/stop really change its state, and `start` goes on to ask Systems Manager. What it
cannot: moto 5.2 does not implement SSM `DescribeInstanceInformation` (its server answers 500), so
no test here sees an agent report `Online`; the start test pins that `start` waits on SSM after
EC2 and fails, rather than printing an id that `aws ssm start-session` could not use.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

STAGE, APP = "pr-1", "hebo"  # any preview; the default app name
AMI = "ami-12c6146b"  # one of moto's built-in images


@pytest.fixture
def ec2(aws_env: str) -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def _instance(ec2: Any, stage: str, role: str = "bastion", app: str = APP) -> str:
    tags = [
        {"Key": "app", "Value": app},
        {"Key": "stage", "Value": stage},
        {"Key": "stack", "Value": "network"},
        {"Key": "role", "Value": role},
        {"Key": "Name", "Value": f"{app}-{stage}-{role}"},
    ]
    reservation = ec2.run_instances(
        ImageId=AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t4g.nano",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return reservation["Instances"][0]["InstanceId"]


def _state(ec2: Any, instance_id: str) -> str:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_stop_stops_only_this_stages_bastion(run, ec2):
    mine = _instance(ec2, STAGE)
    other_stage = _instance(ec2, "pr-2")
    nat = _instance(ec2, STAGE, role="nat")
    old = _instance(ec2, STAGE)
    ec2.terminate_instances(InstanceIds=[old])  # a replaced bastion's old instance
    result = run("bastion", "stop", "--stage", STAGE)
    assert (result.code, result.out, result.err) == (0, f"{mine}\n", "")
    assert [_state(ec2, i) for i in (mine, other_stage, nat)] == ["stopped", "running", "running"]
    again = run("bastion", "stop", "--stage", STAGE)  # already stopped: nothing to do, same answer
    assert (again.code, again.out) == (0, f"{mine}\n")


def test_start_starts_the_instance_then_waits_for_ssm(run, ec2):
    bastion = _instance(ec2, STAGE)
    ec2.stop_instances(InstanceIds=[bastion])
    assert _state(ec2, bastion) == "stopped"
    result = run("bastion", "start", "--stage", STAGE, "--timeout", "5")
    assert _state(ec2, bastion) == "running"
    # moto cannot answer DescribeInstanceInformation: start must not claim success without SSM.
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith("ops: DescribeInstanceInformation failed") and result.err.count("\n") == 1


def test_no_bastion_is_a_one_line_error(run, ec2):
    _instance(ec2, "pr-2")
    result = run("bastion", "start", "--stage", STAGE)
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        f"ops: no bastion instance tagged app={APP}, stage={STAGE}, role=bastion: "
        "deploy the stage's network stack first\n"
    )


def test_two_bastions_are_refused(run, ec2):
    ids = sorted(_instance(ec2, STAGE) for _ in range(2))
    result = run("bastion", "stop", "--stage", STAGE)
    assert (result.code, result.out) == (1, "")
    assert (
        result.err == f"ops: several bastion instances for stage {STAGE} ({', '.join(ids)}): terminate the stray one\n"
    )
    assert [_state(ec2, i) for i in ids] == ["running", "running"]


def test_production_has_no_bastion(run, no_aws):
    result = run("bastion", "start", "--stage", "production")
    assert (result.code, result.err) == (2, "ops: stage 'production' has no bastion (only non-production stages do)\n")

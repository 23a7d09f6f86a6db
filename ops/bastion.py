"""`ops bastion start|stop`: the on-demand SSM bastion of a non-production stage.

The network stack creates the bastion stopped (modules/network/bastion.py), so an idle stage
pays only its 8 GB volume. `start` starts it, waits until EC2 reports it running and then until
Systems Manager lists its agent as `Online` (only then does `aws ssm start-session` work), and
prints the instance id alone on stdout, so `BASTION=$(bin/ops bastion start --stage dev)`
is all a port-forward needs. `stop` stops it and waits until it is stopped.

The instance is found by the tags every stage resource carries (provider default tags `app` and
`stage`) plus the bastion's own `role=bastion`; no Terraform state is read.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

from ops.aws import OpsError

LIVE_STATES = ("pending", "running", "stopping", "stopped")
"""Everything but shutting-down/terminated: a replaced bastion's old instance never matches."""

POLL_SECONDS = 5
DEFAULT_TIMEOUT_SECONDS = 300
"""EC2 start plus the SSM agent's first check-in is typically well under a minute."""


def find_bastion(ec2: Any, app: str, stage: str) -> dict[str, Any]:
    """The stage's one bastion instance (`describe_instances` shape); OpsError when there is
    none (the network stack of that stage is not deployed) or more than one."""
    filters = [
        {"Name": "tag:app", "Values": [app]},
        {"Name": "tag:stage", "Values": [stage]},
        {"Name": "tag:role", "Values": ["bastion"]},
        {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
    ]
    found = [
        instance
        for page in ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
    ]
    if not found:
        raise OpsError(
            f"no bastion instance tagged app={app}, stage={stage}, role=bastion: deploy the stage's network stack first"
        )
    if len(found) > 1:
        ids = ", ".join(sorted(i["InstanceId"] for i in found))
        raise OpsError(f"several bastion instances for stage {stage} ({ids}): terminate the stray one")
    return found[0]


def _wait(ec2: Any, waiter: str, instance_id: str, timeout: int) -> None:
    attempts = max(1, timeout // POLL_SECONDS)
    ec2.get_waiter(waiter).wait(
        InstanceIds=[instance_id], WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": attempts}
    )


def wait_for_ssm(ssm: Any, instance_id: str, timeout: int, sleep: Callable[[float], None] = time.sleep) -> None:
    """Poll `DescribeInstanceInformation` until the instance's agent reports `PingStatus`
    `Online` (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html);
    OpsError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        listed = ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])
        status = next((i.get("PingStatus") for i in listed.get("InstanceInformationList", [])), None)
        if status == "Online":
            return
        if time.monotonic() >= deadline:
            raise OpsError(
                f"bastion {instance_id} is running but SSM does not list its agent as Online after {timeout}s "
                f"(status {status or 'not registered'}): check its route to the NAT and its instance profile"
            )
        sleep(POLL_SECONDS)


def start(ec2: Any, ssm: Any, app: str, stage: str, timeout: int, out: TextIO, err: TextIO = sys.stderr) -> int:
    """Start the stage's bastion and wait until SSM can open sessions to it; prints its id."""
    instance = find_bastion(ec2, app, stage)
    instance_id, state = instance["InstanceId"], instance["State"]["Name"]
    if state == "stopping":
        print(f"bastion {instance_id}: stopping, waiting for it to stop first", file=err)
        _wait(ec2, "instance_stopped", instance_id, timeout)
        state = "stopped"
    if state == "stopped":
        ec2.start_instances(InstanceIds=[instance_id])
        print(f"bastion {instance_id}: starting", file=err)
    _wait(ec2, "instance_running", instance_id, timeout)
    print(f"bastion {instance_id}: running; waiting for the SSM agent to come online", file=err)
    wait_for_ssm(ssm, instance_id, timeout)
    print(f"bastion {instance_id}: online in SSM (stop it with: ops bastion stop --stage {stage})", file=err)
    print(instance_id, file=out)
    return 0


def stop(ec2: Any, app: str, stage: str, timeout: int, out: TextIO, err: TextIO = sys.stderr) -> int:
    """Stop the stage's bastion (its volume stays) and wait until it is stopped; prints its id."""
    instance = find_bastion(ec2, app, stage)
    instance_id, state = instance["InstanceId"], instance["State"]["Name"]
    if state in ("pending", "running"):
        ec2.stop_instances(InstanceIds=[instance_id])
        print(f"bastion {instance_id}: stopping", file=err)
    _wait(ec2, "instance_stopped", instance_id, timeout)
    print(f"bastion {instance_id}: stopped", file=err)
    print(instance_id, file=out)
    return 0

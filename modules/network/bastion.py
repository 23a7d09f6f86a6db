"""A Session-Manager-only bastion: no key pair, no inbound port, private subnet, on demand.

The instance is declared **stopped** (`aws_ec2_instance_state`, in the AWS provider since 4.x
and in the 5.100.0 mirror the validate gate uses:
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/ec2_instance_state):
a stopped instance bills only its EBS volume, not its instance-hours
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html). Operators
start it with `python -m ops bastion start --stage <stage>`, which waits until SSM sees the
agent online, and stop it again with `ops bastion stop`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, TerraformResourceLifecycle, aws
from modules.network.instance import HardenedInstanceProps, hardened_instance

AL2023_NAME = "al2023-ami-2023.*-kernel-*-arm64"
"""Standard (not minimal) Amazon Linux 2023: ships the SSM agent."""
BASTION_INSTANCE_TYPE = "t4g.nano"
DECLARED_STATE = "stopped"
"""The state Terraform creates the bastion in; `ops bastion start|stop` changes it afterwards."""


@dataclass(frozen=True, kw_only=True)
class BastionProps:
    """The SSM-only bastion: a hardened instance without SSH, in a private subnet."""

    name: str
    """`Name` tag of the instance."""
    subnet_id: str
    """A private subnet: the agent reaches SSM outbound (through NAT); nothing reaches in."""
    security_group_ids: Sequence[str]
    """Security groups of the instance (no ingress: sessions come through SSM)."""
    instance_profile: str
    """Instance profile with the SSM core policy (`SsmInstanceRole.profile_name`)."""
    kms_key_arn: str
    """Encrypts the root volume."""
    instance_type: str = BASTION_INSTANCE_TYPE
    """EC2 instance type (Graviton nano: a shell needs no more)."""


class Bastion(Construct):
    """Operators reach it with `aws ssm start-session` (IAM-authenticated, logged by CloudTrail)
    and port-forward through it to the database; there is nothing to SSH into.

    Created stopped. Later deploys leave its power state alone (`ignore_changes = [state]`):
    a push to a pull request must not cut the session of someone who started the bastion.
    """

    def __init__(self, scope: Construct, construct_id: str, props: BastionProps) -> None:
        super().__init__(scope, construct_id)
        ami = aws.data_aws_ami
        image = ami.DataAwsAmi(
            self,
            "ami",
            owners=["amazon"],
            most_recent=True,
            filter=[
                ami.DataAwsAmiFilter(name="name", values=[AL2023_NAME]),
                ami.DataAwsAmiFilter(name="architecture", values=["arm64"]),
            ],
        )
        self.instance = hardened_instance(
            self,
            "instance",
            HardenedInstanceProps(
                name=props.name,
                ami_id=image.id,
                instance_type=props.instance_type,
                subnet_id=props.subnet_id,
                security_group_ids=props.security_group_ids,
                instance_profile=props.instance_profile,
                kms_key_arn=props.kms_key_arn,
                tags={"role": "bastion"},
            ),
        )
        self.state = aws.ec2_instance_state.Ec2InstanceState(
            self,
            "state",
            instance_id=self.instance.id,
            state=DECLARED_STATE,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["state"]),
        )

    @property
    def instance_id(self) -> str:
        """The instance id: the target of `aws ssm start-session`."""
        return self.instance.id

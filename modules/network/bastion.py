"""A Session-Manager-only bastion: no key pair, no inbound port, private subnet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, aws
from modules.network.instance import HardenedInstanceProps, hardened_instance

AL2023_NAME = "al2023-ami-2023.*-kernel-*-arm64"
"""Standard (not minimal) Amazon Linux 2023: ships the SSM agent."""
BASTION_INSTANCE_TYPE = "t4g.nano"


@dataclass(frozen=True, kw_only=True)
class BastionProps:
    name: str
    subnet_id: str
    """A private subnet: the agent reaches SSM outbound (through NAT); nothing reaches in."""
    security_group_ids: Sequence[str]
    instance_profile: str
    kms_key_arn: str
    instance_type: str = BASTION_INSTANCE_TYPE


class Bastion(Construct):
    """Operators reach it with `aws ssm start-session` (IAM-authenticated, logged by CloudTrail)
    and port-forward through it to the database; there is nothing to SSH into."""

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

    @property
    def instance_id(self) -> str:
        return self.instance.id

"""EC2 NAT instances running fck-nat (https://fck-nat.dev): the cheap alternative to NAT gateways.

No instance role: fck-nat's AL2023 images are built from the AL2023 *minimal* AMI and install only
iptables, the CloudWatch agent and fck-nat (AndrewGuenther/fck-nat, packer/fck-nat.pkr.hcl and
packer/fck-nat-al2023.pkrvars.hcl: `base_image_name = "*al2023-ami-minimal-*"`), and the minimal
AMI ships no SSM agent. A Session Manager role would grant what nothing on the image can use, and
without any role a compromised router holds no AWS credentials at all. docs/network.md says how
to reach a NAT instance when needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, aws
from modules.network.instance import HardenedInstanceProps, hardened_instance

FCK_NAT_OWNER = "568608671756"
"""The fck-nat project's AWS account, publisher of the AMIs."""
FCK_NAT_NAME = "fck-nat-al2023-*"
NAT_INSTANCE_TYPE = "t4g.nano"


def fck_nat_ami(scope: Construct, construct_id: str) -> Any:
    """The newest arm64 fck-nat AMI (Amazon Linux 2023 minimal: no SSM agent)."""
    ami = aws.data_aws_ami
    return ami.DataAwsAmi(
        scope,
        construct_id,
        owners=[FCK_NAT_OWNER],
        most_recent=True,
        filter=[
            ami.DataAwsAmiFilter(name="name", values=[FCK_NAT_NAME]),
            ami.DataAwsAmiFilter(name="architecture", values=["arm64"]),
        ],
    )


@dataclass(frozen=True, kw_only=True)
class NatInstanceProps:
    """One fck-nat instance with an Elastic IP, routing a private subnet's egress."""

    name: str
    """`Name` tag of the instance and its Elastic IP."""
    ami_id: str
    """A fck-nat AMI for the instance type's architecture."""
    subnet_id: str
    """A public subnet (its route table sends 0.0.0.0/0 to the internet gateway)."""
    security_group_ids: Sequence[str]
    """Security groups of the instance (in from the private subnets, out to the internet)."""
    kms_key_arn: str
    """Encrypts the root volume."""
    instance_type: str = NAT_INSTANCE_TYPE
    """EC2 instance type (Graviton nano: enough for the stage's egress)."""
    internet_gateway: Any = None
    """The VPC's internet gateway: the Elastic IP and its association wait for it, because EC2
    refuses to associate an address in a VPC with no attached gateway (`Gateway.NotAttached`;
    the aws_eip resource documentation asks for this explicit dependency)."""


class NatInstance(Construct):
    """One NAT instance with source/destination check off and its own Elastic IP.

    Private route tables point at `network_interface_id` (the primary ENI), which survives a
    stop/start and keeps the route valid while the instance reboots.
    """

    def __init__(self, scope: Construct, construct_id: str, props: NatInstanceProps) -> None:
        super().__init__(scope, construct_id)
        self.instance = hardened_instance(
            self,
            "instance",
            HardenedInstanceProps(
                name=props.name,
                ami_id=props.ami_id,
                instance_type=props.instance_type,
                subnet_id=props.subnet_id,
                security_group_ids=props.security_group_ids,
                instance_profile=None,
                kms_key_arn=props.kms_key_arn,
                source_dest_check=False,
                associate_public_ip=None,  # the Elastic IP below is its public address
                tags={"role": "nat"},
            ),
        )
        gateway = [props.internet_gateway] if props.internet_gateway is not None else None
        self.eip = aws.eip.Eip(self, "eip", domain="vpc", tags={"Name": props.name}, depends_on=gateway)
        aws.eip_association.EipAssociation(
            self,
            "eip_association",
            allocation_id=self.eip.allocation_id,
            instance_id=self.instance.id,
            depends_on=gateway,
        )

    @property
    def network_interface_id(self) -> str:
        """Primary network interface: the private route tables' `0.0.0.0/0` target."""
        return self.instance.primary_network_interface_id

    @property
    def public_ip(self) -> str:
        """The Elastic IP: the stage's egress address (for third-party allow-lists)."""
        return self.eip.public_ip

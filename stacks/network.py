"""The per-stage `network` stack: VPC, subnets, NAT, bastion, security groups, flow logs."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.cdk import Fn, Token, aws
from stacks.base import HeboStack
from stacks.settings import Settings


SECURITY_GROUP_ROLES = ("alb", "service", "database", "migrator", "bastion", "db-proxy")


@dataclass(frozen=True)
class SecondaryNetworkOutputs:
    """The production secondary-region VPC (for the Aurora global cluster's second region)."""

    region: str
    vpc_id: str
    private_subnet_ids: list[str]
    database_security_group_id: str


@dataclass(frozen=True)
class NetworkOutputs:
    """What other stacks may use from the network (cross-stack references)."""

    vpc_id: str
    vpc_cidr: str
    public_subnet_ids: list[str]
    private_subnet_ids: list[str]
    security_group_ids: dict[str, str]
    """Keyed by SECURITY_GROUP_ROLES."""
    secondary: SecondaryNetworkOutputs | None = None


class NetworkStack(HeboStack):
    stack_name = "network"

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, settings)
        vpc = aws.vpc.Vpc(self, "vpc", cidr_block=settings.vpc_cidr, enable_dns_support=True, enable_dns_hostnames=True,
                          tags={"Name": self.names.prefix})
        azs = aws.data_aws_availability_zones.DataAwsAvailabilityZones(self, "azs", state="available")
        public, private = [], []
        for i in range(settings.az_count):
            az = Fn.element(azs.names, i)
            public.append(aws.subnet.Subnet(self, f"public_{i}", vpc_id=vpc.id, availability_zone=az,
                                            cidr_block=Fn.cidrsubnet(vpc.cidr_block, 4, i),
                                            tags={"Name": f"{self.names.prefix}-public-{i}"}))
            private.append(aws.subnet.Subnet(self, f"private_{i}", vpc_id=vpc.id, availability_zone=az,
                                             cidr_block=Fn.cidrsubnet(vpc.cidr_block, 4, 8 + i),
                                             tags={"Name": f"{self.names.prefix}-private-{i}"}))
        groups = {
            role: aws.security_group.SecurityGroup(
                self, f"sg_{role}", name=self.names.security_group(role), description=f"{role} ({self.names.prefix})",
                vpc_id=vpc.id).id
            for role in SECURITY_GROUP_ROLES
        }
        self.outputs = NetworkOutputs(
            vpc_id=vpc.id,
            vpc_cidr=vpc.cidr_block,
            public_subnet_ids=[s.id for s in public],
            private_subnet_ids=[s.id for s in private],
            security_group_ids=groups,
        )
        self.output("vpc_id", vpc.id, "VPC id")

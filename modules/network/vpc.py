"""A VPC with one private (and optionally one public) subnet per AZ, planned in Python.

IPv4 subnet CIDRs are computed here with `ipaddress` rather than Terraform's `cidrsubnet`, so
the exact ranges are visible in the synthesized JSON, testable, and checked for overlap at synth.
The optional IPv6 ranges cannot be: Amazon picks the VPC's /56 at apply time, so each public
subnet's /64 is `cidrsubnet(<vpc /56>, 8, i)` in Terraform.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, Fn, TerraformResourceLifecycle, Token, aws, cdktf


MAX_AZS = 6
"""The plan below has room for six AZs (eighths 0-5 of the VPC)."""

IPV6_SUBNET_NEWBITS = 8
"""A VPC's Amazon-provided IPv6 block is a /56 and a subnet's must be a /64: 56 + 8."""


@dataclass(frozen=True)
class SubnetPair:
    public: str
    private: str


def subnet_plan(vpc_cidr: str, az_count: int) -> list[SubnetPair]:
    """CIDRs per AZ: private subnet i is eighth i of the VPC; public subnet i is the i-th eighth
    of the last eighth.

    Workloads (Fargate tasks, Lambda ENIs, Aurora) live in private subnets, so they get the big
    ranges (a /19 each in a /16); public subnets hold only ALB nodes and NAT instances (a /22
    each in a /16, a /26 in a /20 -- still above the ALB's /27 minimum). Eighth 6 stays free
    for later (e.g. isolated subnets).
    """
    if not 1 <= az_count <= MAX_AZS:
        raise ValueError(f"az_count {az_count} must be from 1 to {MAX_AZS}")
    network = ipaddress.IPv4Network(vpc_cidr)
    eighths = list(network.subnets(prefixlen_diff=3))
    public_pool = list(eighths[7].subnets(prefixlen_diff=3))
    return [SubnetPair(public=str(public_pool[i]), private=str(eighths[i])) for i in range(az_count)]


@dataclass(frozen=True, kw_only=True)
class VpcProps:
    name: str
    """`Name` tag prefix of the VPC and everything in it."""
    cidr_block: str
    az_count: int
    """Subnets go to the first `az_count` AZs of the region that need no opt-in (no Local or
    Wavelength Zones); a postcondition fails the plan if the region has fewer."""
    public_subnets: bool = True
    """False: private subnets only, no internet gateway (a VPC without egress)."""
    ipv6_public_edge: bool = False
    """True: the VPC gets an Amazon-provided IPv6 /56, each public subnet the /64 number `i` of
    it (no address auto-assigned on launch: dual-stack ALBs bring their own), and the public
    route table `::/0` to the internet gateway. Private subnets stay IPv4-only (no egress-only
    gateway). False: IPv4 only. Needs `public_subnets`."""


class Vpc(Construct):
    """VPC, subnets, internet gateway, route tables (one per private subnet), and the VPC's
    default security group taken over with no rules, so nothing can use it by accident.
    Optionally dual-stack at the public edge only (`VpcProps.ipv6_public_edge`)."""

    def __init__(self, scope: Construct, construct_id: str, props: VpcProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        if props.ipv6_public_edge and not props.public_subnets:
            raise ValueError(f"the VPC {props.name}: ipv6_public_edge needs public subnets")
        plan = subnet_plan(props.cidr_block, props.az_count)
        self.ipv6_public_edge = props.ipv6_public_edge
        self.vpc = aws.vpc.Vpc(
            self,
            "vpc",
            cidr_block=props.cidr_block,
            assign_generated_ipv6_cidr_block=props.ipv6_public_edge or None,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": props.name},
            provider=provider,
        )
        zones = aws.data_aws_availability_zones
        self.azs = zones.DataAwsAvailabilityZones(
            self,
            "azs",
            # No `state` filter: an impaired AZ must not shrink the list and shift `element()`
            # indexes (that would plan to move subnets in the middle of an incident).
            filter=[zones.DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
            provider=provider,
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    cdktf.Postcondition(
                        condition=f"${{length(self.names) >= {props.az_count}}}",
                        error_message=f"the VPC {props.name} needs {props.az_count} availability zones",
                    )
                ]
            ),
        )
        self.az_names = [Token.as_string(Fn.element(self.azs.names, i)) for i in range(props.az_count)]
        aws.default_security_group.DefaultSecurityGroup(
            self, "default_sg", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-default-unused"}, provider=provider
        )
        self.private_subnets: list[Any] = []
        self.private_route_tables: list[Any] = []
        self.public_subnets: list[Any] = []
        for i, (pair, az) in enumerate(zip(plan, self.az_names, strict=True)):
            subnet = aws.subnet.Subnet(
                self,
                f"private_{i}",
                vpc_id=self.vpc.id,
                availability_zone=az,
                cidr_block=pair.private,
                map_public_ip_on_launch=False,
                tags={"Name": f"{props.name}-private-{i}", "tier": "private"},
                provider=provider,
            )
            table = aws.route_table.RouteTable(
                self, f"private_rt_{i}", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-private-{i}"}, provider=provider
            )
            aws.route_table_association.RouteTableAssociation(
                self, f"private_rta_{i}", subnet_id=subnet.id, route_table_id=table.id, provider=provider
            )
            self.private_subnets.append(subnet)
            self.private_route_tables.append(table)
        self.private_cidrs = [pair.private for pair in plan]
        self.internet_gateway = None
        if props.public_subnets:
            self.internet_gateway = aws.internet_gateway.InternetGateway(
                self, "igw", vpc_id=self.vpc.id, tags={"Name": props.name}, provider=provider
            )
            public_table = aws.route_table.RouteTable(
                self, "public_rt", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-public"}, provider=provider
            )
            aws.route.Route(
                self,
                "public_default",
                route_table_id=public_table.id,
                destination_cidr_block="0.0.0.0/0",
                gateway_id=self.internet_gateway.id,
                provider=provider,
            )
            if props.ipv6_public_edge:
                aws.route.Route(
                    self,
                    "public_default_ipv6",
                    route_table_id=public_table.id,
                    destination_ipv6_cidr_block="::/0",
                    gateway_id=self.internet_gateway.id,
                    provider=provider,
                )
            for i, (pair, az) in enumerate(zip(plan, self.az_names, strict=True)):
                ipv6: dict[str, Any] = {}
                if props.ipv6_public_edge:
                    ipv6 = {
                        "ipv6_cidr_block": Token.as_string(
                            Fn.cidrsubnet(self.vpc.ipv6_cidr_block, IPV6_SUBNET_NEWBITS, i)
                        ),
                        "assign_ipv6_address_on_creation": False,  # NAT instances stay IPv4
                    }
                subnet = aws.subnet.Subnet(
                    self,
                    f"public_{i}",
                    vpc_id=self.vpc.id,
                    availability_zone=az,
                    cidr_block=pair.public,
                    map_public_ip_on_launch=False,  # ALBs and EIPs get their own addresses
                    tags={"Name": f"{props.name}-public-{i}", "tier": "public"},
                    provider=provider,
                    **ipv6,
                )
                aws.route_table_association.RouteTableAssociation(
                    self, f"public_rta_{i}", subnet_id=subnet.id, route_table_id=public_table.id, provider=provider
                )
                self.public_subnets.append(subnet)

    @property
    def vpc_id(self) -> str:
        return self.vpc.id

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
from modules.errors import ValidationError


MAX_AZS = 6
"""The plan below has room for six AZs (eighths 0-5 of the VPC)."""

IPV6_SUBNET_NEWBITS = 8
"""A VPC's Amazon-provided IPv6 block is a /56 and a subnet's must be a /64: 56 + 8."""


@dataclass(frozen=True)
class SubnetPair:
    """The IPv4 CIDRs of one AZ's subnets (strings such as `10.0.224.0/22`)."""

    public: str
    """The public subnet's CIDR (one eighth of the VPC's last eighth)."""
    private: str
    """The private subnet's CIDR (one eighth of the VPC)."""


def subnet_plan(vpc_cidr: str, az_count: int) -> list[SubnetPair]:
    """CIDRs per AZ: private subnet i is eighth i of the VPC; public subnet i is the i-th eighth
    of the last eighth.

    Workloads (Fargate tasks, Lambda ENIs, Aurora) live in private subnets, so they get the big
    ranges (a /19 each in a /16); public subnets hold only ALB nodes and NAT instances (a /22
    each in a /16, a /26 in a /20 -- still above the ALB's /27 minimum). Eighth 6 stays free
    for later (e.g. isolated subnets).

    Raises ValidationError for an `az_count` outside 1-`MAX_AZS`.
    """
    if not 1 <= az_count <= MAX_AZS:
        raise ValidationError("subnet plan", "az_count", az_count, f"must be from 1 to {MAX_AZS}")
    network = ipaddress.IPv4Network(vpc_cidr)
    eighths = list(network.subnets(prefixlen_diff=3))
    public_pool = list(eighths[7].subnets(prefixlen_diff=3))
    return [SubnetPair(public=str(public_pool[i]), private=str(eighths[i])) for i in range(az_count)]


@dataclass(frozen=True, kw_only=True)
class VpcProps:
    """One VPC: its name, IPv4 range, AZ count and which subnets it has."""

    name: str
    """`Name` tag prefix of the VPC and everything in it."""
    cidr_block: str
    """The VPC's IPv4 range, e.g. `10.0.0.0/16` (AWS allows /16 to /28; the subnet plan needs /20 or larger)."""
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
        self._validate(props)
        super().__init__(scope, construct_id)
        self._props, self._provider = props, provider
        plan = subnet_plan(props.cidr_block, props.az_count)
        self.ipv6_public_edge = props.ipv6_public_edge
        self.vpc = self._create_vpc()
        self.azs = self._create_az_lookup()
        self.az_names = [Token.as_string(Fn.element(self.azs.names, i)) for i in range(props.az_count)]
        aws.default_security_group.DefaultSecurityGroup(
            self, "default_sg", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-default-unused"}, provider=provider
        )
        self.private_subnets: list[Any] = []
        self.private_route_tables: list[Any] = []
        self.public_subnets: list[Any] = []
        for i, pair in enumerate(plan):
            self._create_private_subnet(i, pair)
        self.private_cidrs = [pair.private for pair in plan]
        self.internet_gateway: Any | None = None  # the InternetGateway when props.public_subnets
        if props.public_subnets:
            public_table = self._create_public_routing()
            for i, pair in enumerate(plan):
                self._create_public_subnet(i, pair, public_table)

    @staticmethod
    def _validate(props: VpcProps) -> None:
        if props.ipv6_public_edge and not props.public_subnets:
            raise ValidationError(f"VPC {props.name!r}", "ipv6_public_edge", True, "needs public_subnets")

    def _create_vpc(self) -> Any:
        props = self._props
        return aws.vpc.Vpc(
            self,
            "vpc",
            cidr_block=props.cidr_block,
            assign_generated_ipv6_cidr_block=props.ipv6_public_edge or None,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": props.name},
            provider=self._provider,
        )

    def _create_az_lookup(self) -> Any:
        """The region's AZs without opt-in; the plan fails if there are fewer than `az_count`."""
        props, zones = self._props, aws.data_aws_availability_zones
        return zones.DataAwsAvailabilityZones(
            self,
            "azs",
            # No `state` filter: an impaired AZ must not shrink the list and shift `element()`
            # indexes (that would plan to move subnets in the middle of an incident).
            filter=[zones.DataAwsAvailabilityZonesFilter(name="opt-in-status", values=["opt-in-not-required"])],
            provider=self._provider,
            lifecycle=TerraformResourceLifecycle(
                postcondition=[
                    cdktf.Postcondition(
                        condition=f"${{length(self.names) >= {props.az_count}}}",
                        error_message=f"the VPC {props.name} needs {props.az_count} availability zones",
                    )
                ]
            ),
        )

    def _subnet(self, tier: str, i: int, cidr: str, **ipv6: Any) -> Any:
        """Subnet `<tier>_<i>` in AZ `i`, tagged with its tier; no public IPv4 on launch (ALBs and
        EIPs bring their own addresses)."""
        return aws.subnet.Subnet(
            self,
            f"{tier}_{i}",
            vpc_id=self.vpc.id,
            availability_zone=self.az_names[i],
            cidr_block=cidr,
            map_public_ip_on_launch=False,
            tags={"Name": f"{self._props.name}-{tier}-{i}", "tier": tier},
            provider=self._provider,
            **ipv6,
        )

    def _create_private_subnet(self, i: int, pair: SubnetPair) -> None:
        """Private subnet `i` with its own route table (NAT routes are added by the NAT instances)."""
        name, provider = self._props.name, self._provider
        subnet = self._subnet("private", i, pair.private)
        table = aws.route_table.RouteTable(
            self, f"private_rt_{i}", vpc_id=self.vpc.id, tags={"Name": f"{name}-private-{i}"}, provider=provider
        )
        aws.route_table_association.RouteTableAssociation(
            self, f"private_rta_{i}", subnet_id=subnet.id, route_table_id=table.id, provider=provider
        )
        self.private_subnets.append(subnet)
        self.private_route_tables.append(table)

    def _create_public_routing(self) -> Any:
        """Internet gateway and the public route table (0.0.0.0/0, and ::/0 when dual-stack)."""
        props, provider = self._props, self._provider
        gateway = aws.internet_gateway.InternetGateway(
            self, "igw", vpc_id=self.vpc.id, tags={"Name": props.name}, provider=provider
        )
        self.internet_gateway = gateway
        public_table = aws.route_table.RouteTable(
            self, "public_rt", vpc_id=self.vpc.id, tags={"Name": f"{props.name}-public"}, provider=provider
        )
        aws.route.Route(
            self,
            "public_default",
            route_table_id=public_table.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=gateway.id,
            provider=provider,
        )
        if props.ipv6_public_edge:
            aws.route.Route(
                self,
                "public_default_ipv6",
                route_table_id=public_table.id,
                destination_ipv6_cidr_block="::/0",
                gateway_id=gateway.id,
                provider=provider,
            )
        return public_table

    def _create_public_subnet(self, i: int, pair: SubnetPair, public_table: Any) -> None:
        """Public subnet `i` (with IPv6 /64 number `i` when dual-stack) on the public route table."""
        props, provider = self._props, self._provider
        ipv6: dict[str, Any] = {}
        if props.ipv6_public_edge:
            ipv6 = {
                "ipv6_cidr_block": Token.as_string(Fn.cidrsubnet(self.vpc.ipv6_cidr_block, IPV6_SUBNET_NEWBITS, i)),
                "assign_ipv6_address_on_creation": False,  # NAT instances stay IPv4
            }
        subnet = self._subnet("public", i, pair.public, **ipv6)
        aws.route_table_association.RouteTableAssociation(
            self, f"public_rta_{i}", subnet_id=subnet.id, route_table_id=public_table.id, provider=provider
        )
        self.public_subnets.append(subnet)

    @property
    def vpc_id(self) -> str:
        """The VPC's id (a reference)."""
        return self.vpc.id

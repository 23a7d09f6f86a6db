"""The per-stage `network` stack: VPC, subnets, NAT instances, bastion, security groups, flow logs.

Everything runs in private subnets; the only way in from the internet is the ALB on 80/443 (over
IPv4 and IPv6: the public subnets are dual-stack, the private ones IPv4-only), and the only way
out is HTTPS through the EC2 NAT instances (docs/network.md explains the choices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modules.cdk import Construct, aws
from modules.iam import ServiceRole, ServiceRoleProps
from modules.logs import log_group
from modules.network.bastion import Bastion, BastionProps
from modules.network.flow_logs import FLOW_LOGS_SERVICE, FlowLogProps, flow_log, trust_conditions, writer_statement
from modules.network.instance import InstanceRoleProps, SsmInstanceRole
from modules.network.nat_instance import NatInstance, NatInstanceProps, fck_nat_ami
from modules.network.security_groups import (
    ANY_IPV4,
    ANY_IPV6,
    GroupSpec,
    Peer,
    Rule,
    SecurityGroups,
    SecurityGroupsProps,
)
from modules.network.vpc import Vpc, VpcProps
from modules.kms import EncryptionKey, KeyReference
from stacks.base import STAGE_KEY_SERVICE_PRINCIPALS, HeboStack
from config.topology import HTTPS_PORT, NAT_SECURITY_GROUP, POSTGRES_PORT, SECURITY_GROUP_ROLES, SERVICE_PORTS
from config.settings import Settings
from config.stage import StagePolicy


def security_group_roles(policy: StagePolicy) -> tuple[str, ...]:
    """The groups a stage has: bastion and db-proxy only where those components exist, so no
    stage carries a group that nothing can ever be attached to."""
    optional = {"bastion": policy.bastion, "db-proxy": policy.db_proxy}
    return tuple(role for role in SECURITY_GROUP_ROLES if optional.get(role, True))


INTERNET_EGRESS_PORTS = (HTTPS_PORT,)
"""What private workloads may send to the internet (AWS APIs, ECR, Groq, Voyage): HTTPS only."""

GROUP_DESCRIPTIONS = {
    "alb": "Public load balancers: HTTP and HTTPS from the internet, to the services only",
    "service": "ECS services (API, gateway): service ports from the ALB only",
    "database": "Aurora PostgreSQL: 5432 from services, migrator, RDS Proxy and bastion only",
    "migrator": "Migration Lambda: no ingress",
    "bastion": "SSM bastion: no ingress (Session Manager is outbound only)",
    "db-proxy": "RDS Proxy: 5432 from services and migrator only",
    NAT_SECURITY_GROUP: "NAT instances: HTTPS from the private subnets only",
}


def _rule(group: str, direction: Literal["ingress", "egress"], peer: Peer, port: int, description: str) -> Rule:
    """One TCP rule of `group` (a role key of the stage's security groups)."""
    return Rule(group=group, direction=direction, peer=peer, port=port, description=description)


def security_group_rules(policy: StagePolicy, private_cidrs: list[str]) -> list[Rule]:
    """Every rule of every group, in one table. Each allowed flow has an egress rule at its
    source and an ingress rule at its destination; the db-proxy and bastion paths exist only in
    the stages that have those components."""

    def sg(key: str) -> Peer:
        return Peer(group=key)

    rules: list[Rule] = []
    for port, what in ((80, "HTTP (redirects to HTTPS)"), (HTTPS_PORT, "HTTPS")):
        rules += [
            _rule("alb", "ingress", ANY_IPV4, port, f"{what} from the internet (IPv4)"),
            _rule("alb", "ingress", ANY_IPV6, port, f"{what} from the internet (IPv6)"),
        ]
    for service, port in SERVICE_PORTS.items():
        rules += [
            _rule("alb", "egress", sg("service"), port, f"To the {service} service"),
            _rule("service", "ingress", sg("alb"), port, f"{service} service from the ALB"),
        ]
    database_clients = ["service", "migrator"]
    database_clients += (["db-proxy"] if policy.db_proxy else []) + (["bastion"] if policy.bastion else [])
    for client in database_clients:
        rules += [
            _rule("database", "ingress", sg(client), POSTGRES_PORT, f"PostgreSQL from {client}"),
            _rule(client, "egress", sg("database"), POSTGRES_PORT, "PostgreSQL to the database"),
        ]
    if policy.db_proxy:
        # Only the services: migrations talk to the writer (advisory locks pin proxy sessions).
        # The group's description is kept as it is: changing it would replace the group.
        for client in ("service",):
            rules += [
                _rule("db-proxy", "ingress", sg(client), POSTGRES_PORT, f"PostgreSQL from {client}"),
                _rule(client, "egress", sg("db-proxy"), POSTGRES_PORT, "PostgreSQL to the RDS Proxy"),
            ]
    for port in INTERNET_EGRESS_PORTS:
        for client in ["service", "migrator"] + (["bastion"] if policy.bastion else []):
            rules.append(_rule(client, "egress", ANY_IPV4, port, "HTTPS to AWS APIs and providers via NAT"))
        for index, cidr in enumerate(private_cidrs):
            rules.append(
                _rule(
                    NAT_SECURITY_GROUP,
                    "ingress",
                    Peer(cidr_ipv4=cidr),
                    port,
                    f"HTTPS to translate from private subnet {index}",
                )
            )
        rules.append(_rule(NAT_SECURITY_GROUP, "egress", ANY_IPV4, port, "Translated HTTPS to the internet"))
    return rules


@dataclass(frozen=True)
class SecondaryNetworkOutputs:
    """The production secondary-region VPC (for the Aurora global cluster's second region)."""

    region: str
    """HEBO_SECONDARY_REGION, where the VPC is."""
    vpc_id: str
    """The secondary VPC's id."""
    private_subnet_ids: list[str]
    """Its private subnets (one per AZ), for the secondary cluster's subnet group."""
    database_security_group_id: str
    """Security group of the secondary cluster (PostgreSQL from inside that VPC only)."""


@dataclass(frozen=True)
class NetworkOutputs:
    """What other stacks may use from the network (cross-stack references)."""

    vpc_id: str
    """The stage VPC's id."""
    vpc_cidr: str
    """Its IPv4 CIDR (HEBO_VPC_CIDR, /16 to /20)."""
    public_subnet_ids: list[str]
    """One public subnet per AZ (HEBO_AZ_COUNT): load balancers and NAT instances."""
    private_subnet_ids: list[str]
    """One private subnet per AZ: tasks, database, Lambda (egress through the NAT instances)."""
    security_group_ids: dict[str, str]
    """Keyed by `security_group_roles(policy)`: bastion and db-proxy only where they exist."""
    public_ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    """What the public subnets support, so load balancers in them ask for no more (`dualstack`:
    each has an IPv6 /64 and a `::/0` route to the internet gateway)."""
    secondary: SecondaryNetworkOutputs | None = None
    """The secondary-region VPC where the policy has one (`secondary_region_network`), else None."""
    stage_key_arn: str | None = None
    """The stage's one KMS key where the policy shares it (`shared_stage_key`), else None."""


class NetworkStack(HeboStack):
    """The per-stage network: VPC (dual-stack public edge), NAT instances, security groups, flow
    logs, the bastion where the policy has one, the stage KMS key where it is shared, and the
    production secondary-region VPC. Its outputs (`NetworkOutputs`) feed data and compute."""

    stack_name = "network"

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, settings)
        self.partition = aws.data_aws_partition.DataAwsPartition(self, "partition").partition
        self.account_id = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account").account_id
        self.key = self._create_key()
        # Dual-stack public edge: the ALBs answer IPv6 clients (the dns/compute AAAA records);
        # everything behind them stays IPv4 (docs/network.md, "IPv6").
        network = Vpc(
            self,
            "main",
            VpcProps(
                name=self.names.vpc(), cidr_block=settings.vpc_cidr, az_count=settings.az_count, ipv6_public_edge=True
            ),
        )
        groups = self._create_security_groups(network)
        self.nat_instances = self._nat_instances(network, groups.ids[NAT_SECURITY_GROUP], self.key.arn)
        self._create_private_routes(network)
        self.bastion = self._create_bastion(network, groups) if self.policy.bastion else None
        secondary = self._create_secondary_network() if self.policy.secondary_region_network else None
        self._create_flow_logs(network, secondary)
        self.outputs = NetworkOutputs(
            vpc_id=network.vpc_id,
            vpc_cidr=network.vpc.cidr_block,
            public_subnet_ids=[s.id for s in network.public_subnets],
            private_subnet_ids=[s.id for s in network.private_subnets],
            security_group_ids={role: groups.ids[role] for role in security_group_roles(self.policy)},
            public_ip_address_type="dualstack" if network.ipv6_public_edge else "ipv4",
            secondary=secondary,
            stage_key_arn=self.key.arn if self.policy.shared_stage_key else None,
        )
        self._outputs(network, groups)

    # -- steps, in the order __init__ runs them -------------------------------------------------
    def _create_key(self) -> EncryptionKey | KeyReference:
        """The stage key where the policy shares one (network deploys first, so it owns it), else
        this stack's own key."""
        names, settings = self.names, self.settings
        if self.policy.shared_stage_key:
            return self.stage_key(
                "kms",
                "stage",
                f"{names.prefix}: network, data and compute (flow logs, volumes, "
                "Aurora, secrets, service logs, images, alarm topic)",
                logs_region=settings.region,
                service_principals=STAGE_KEY_SERVICE_PRINCIPALS,
            )
        return self.stage_key(
            "kms", "network", f"{names.prefix} network: flow logs, NAT and bastion volumes", logs_region=settings.region
        )

    def _create_security_groups(self, network: Vpc) -> SecurityGroups:
        """Every role's group (bastion and db-proxy only where they exist) plus the NAT's, with
        the rules of `security_group_rules`."""
        names, policy = self.names, self.policy
        return SecurityGroups(
            self,
            "security_groups",
            SecurityGroupsProps(
                vpc_id=network.vpc_id,
                groups={
                    role: GroupSpec(name=names.security_group(role), description=GROUP_DESCRIPTIONS[role])
                    for role in (*security_group_roles(policy), NAT_SECURITY_GROUP)
                },
                rules=security_group_rules(policy, network.private_cidrs),
            ),
        )

    def _create_private_routes(self, network: Vpc) -> None:
        """Each private subnet's default route: its AZ's NAT instance, or the one shared NAT."""
        for index, table in enumerate(network.private_route_tables):
            nat = self.nat_instances[index if self.policy.nat_per_az else 0]
            aws.route.Route(
                self,
                f"private_default_{index}",
                route_table_id=table.id,
                destination_cidr_block="0.0.0.0/0",
                network_interface_id=nat.network_interface_id,
            )

    def _create_bastion(self, network: Vpc, groups: SecurityGroups) -> Bastion:
        """The SSM-only bastion in the first private subnet (declared stopped; `ops bastion start`)."""
        names = self.names
        role = SsmInstanceRole(
            self,
            "bastion_role",
            InstanceRoleProps(
                name=names.iam_role("bastion"),
                description="SSM Session Manager bastion (no SSH)",
                partition=self.partition,
            ),
        )
        return Bastion(
            self,
            "bastion",
            BastionProps(
                name=names.bastion(),
                subnet_id=network.private_subnets[0].id,
                security_group_ids=[groups.ids["bastion"]],
                instance_profile=role.profile_name,
                kms_key_arn=self.key.arn,
            ),
        )

    def _create_secondary_network(self) -> SecondaryNetworkOutputs:
        """Private subnets in the secondary region for the Aurora global cluster's second
        region: no internet gateway, no NAT (nothing there needs egress), IPv4 only (no public
        edge to make dual-stack), one database group without rules (the cluster replicates
        through AWS, not through the VPC), and that region's key for its flow logs."""
        settings, names = self.settings, self.names
        region = settings.secondary_region
        provider = self.provider_for(region)
        self.secondary_key = self.stage_key(
            "secondary_kms",
            "network-secondary",
            f"{names.prefix} network-secondary: flow logs",
            logs_region=region,
            provider=provider,
        )
        self.secondary_vpc = Vpc(
            self,
            "secondary",
            VpcProps(
                name=names.vpc("secondary"),
                cidr_block=settings.secondary_vpc_cidr,
                az_count=settings.az_count,
                public_subnets=False,
            ),
            provider=provider,
        )
        groups = SecurityGroups(
            self,
            "secondary_security_groups",
            SecurityGroupsProps(
                vpc_id=self.secondary_vpc.vpc_id,
                groups={
                    "database": GroupSpec(
                        name=names.security_group("database"), description=GROUP_DESCRIPTIONS["database"]
                    )
                },
                rules=[],
            ),
            provider=provider,
        )
        return SecondaryNetworkOutputs(
            region=region,
            vpc_id=self.secondary_vpc.vpc_id,
            private_subnet_ids=[s.id for s in self.secondary_vpc.private_subnets],
            database_security_group_id=groups.ids["database"],
        )

    def _create_flow_logs(self, network: Vpc, secondary: SecondaryNetworkOutputs | None) -> None:
        """Flow logs of the VPC and, where there is one, of the secondary-region VPC: a KMS log
        group in each region and one delivery role writing to both."""
        names, policy, settings = self.names, self.policy, self.settings
        flow_groups = [
            log_group(
                self,
                "flow_log_group",
                name=names.flow_log_group(),
                retention_days=policy.log_retention_days,
                kms_key_arn=self.key.arn,
            )
        ]
        if secondary is not None:
            flow_groups.append(
                log_group(
                    self,
                    "secondary_flow_log_group",
                    name=names.flow_log_group(),
                    retention_days=policy.log_retention_days,
                    kms_key_arn=self.secondary_key.arn,
                    provider=self.provider_for(secondary.region),
                )
            )
        flow_role = ServiceRole(
            self,
            "flow_logs_role",
            ServiceRoleProps(
                name=names.iam_role("flow-logs"),
                service=FLOW_LOGS_SERVICE,
                description="Delivers this stage's VPC flow logs to their log groups",
                statements=[writer_statement([g.arn for g in flow_groups])],
                trust_conditions=trust_conditions(self.partition, self.account_id),
            ),
        )
        flow_log(
            self,
            "flow_log",
            FlowLogProps(
                vpc_id=network.vpc_id, log_group_arn=flow_groups[0].arn, role_arn=flow_role.arn, name=names.flow_log()
            ),
        )
        if secondary is not None:
            flow_log(
                self,
                "secondary_flow_log",
                FlowLogProps(
                    vpc_id=secondary.vpc_id,
                    log_group_arn=flow_groups[1].arn,
                    role_arn=flow_role.arn,
                    name=names.flow_log("secondary"),
                ),
                provider=self.provider_for(settings.secondary_region),
            )

    # -- parts ---------------------------------------------------------------------------------
    def _nat_instances(self, network: Vpc, security_group_id: str, kms_key_arn: str) -> list[NatInstance]:
        """One per AZ where the policy asks for it (an AZ outage keeps egress elsewhere), else one."""
        names = self.names
        ami_id = self.settings.nat_ami_id or fck_nat_ami(self, "nat_ami").id
        count = len(network.public_subnets) if self.policy.nat_per_az else 1
        return [
            NatInstance(
                self,
                f"nat_{index}",
                NatInstanceProps(
                    name=names.nat_instance(index),
                    ami_id=ami_id,
                    subnet_id=network.public_subnets[index].id,
                    security_group_ids=[security_group_id],
                    kms_key_arn=kms_key_arn,
                    internet_gateway=network.internet_gateway,
                ),
            )
            for index in range(count)
        ]

    def _outputs(self, network: Vpc, groups: SecurityGroups) -> None:
        self.output("vpc_id", network.vpc_id, "VPC id")
        self.output("vpc_cidr", network.vpc.cidr_block, "VPC CIDR block")
        self.output(
            "public_subnet_ids", [s.id for s in network.public_subnets], "Public subnets (ALB, NAT), one per AZ"
        )
        self.output(
            "private_subnet_ids", [s.id for s in network.private_subnets], "Private subnets (workloads), one per AZ"
        )
        self.output(
            "security_group_ids",
            {role: groups.ids[role] for role in security_group_roles(self.policy)},
            "Security group id per role",
        )
        self.output("nat_instance_ids", [n.instance.id for n in self.nat_instances], "NAT instance ids")
        self.output(
            "nat_public_ips", [n.public_ip for n in self.nat_instances], "Egress IPs (for provider allow-lists)"
        )
        if self.bastion is not None:
            self.output(
                "bastion_instance_id", self.bastion.instance_id, "Target of `aws ssm start-session` (docs/network.md)"
            )
        if self.outputs.secondary is not None:
            self.output("secondary_vpc_id", self.outputs.secondary.vpc_id, "Secondary-region VPC id")
            self.output(
                "secondary_private_subnet_ids",
                self.outputs.secondary.private_subnet_ids,
                "Secondary-region private subnets",
            )

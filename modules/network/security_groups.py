"""A set of security groups whose rules are separate, described resources.

Rules are `aws_vpc_security_group_{ingress,egress}_rule` resources (one per port and peer)
instead of inline blocks: each has a description and its own id, a change touches one rule
rather than re-writing the group, and groups may reference each other without cycles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from modules.cdk import Construct, aws



@dataclass(frozen=True, kw_only=True)
class Peer:
    """Exactly one of: another group of the set (by key), an IPv4 or an IPv6 CIDR."""

    group: str | None = None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.group, self.cidr_ipv4, self.cidr_ipv6)) != 1:
            raise ValueError(f"a peer needs exactly one of group, cidr_ipv4, cidr_ipv6: {self}")

    @property
    def label(self) -> str:
        raw = self.group or self.cidr_ipv4 or self.cidr_ipv6 or ""
        return re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_") or "any"


ANY_IPV4 = Peer(cidr_ipv4="0.0.0.0/0")
ANY_IPV6 = Peer(cidr_ipv6="::/0")


@dataclass(frozen=True, kw_only=True)
class Rule:
    group: str
    """Key of the group the rule belongs to."""
    direction: Literal["ingress", "egress"]
    peer: Peer
    port: int | None
    """A TCP port; None with protocol "-1" for all traffic."""
    description: str
    protocol: str = "tcp"


@dataclass(frozen=True, kw_only=True)
class GroupSpec:
    name: str
    description: str


@dataclass(frozen=True, kw_only=True)
class SecurityGroupsProps:
    vpc_id: str
    groups: Mapping[str, GroupSpec]
    rules: Sequence[Rule]
    """A group without ingress (egress) rules admits (sends) nothing: Terraform removes the
    default allow-all egress rule when it creates a group."""


class SecurityGroups(Construct):
    """`ids[key]` is the id of each group."""

    def __init__(self, scope: Construct, construct_id: str, props: SecurityGroupsProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self.groups = {
            key: aws.security_group.SecurityGroup(
                self,
                key.replace("-", "_"),
                name=spec.name,
                description=spec.description,
                vpc_id=props.vpc_id,
                tags={"Name": spec.name},
                provider=provider,
            )
            for key, spec in props.groups.items()
        }
        seen: set[str] = set()
        for rule in props.rules:
            for key in (rule.group, rule.peer.group):
                if key is not None and key not in self.groups:
                    raise ValueError(f"security group rule names unknown group {key!r}: {rule}")
            if (rule.port is None) != (rule.protocol == "-1"):
                raise ValueError(f"a rule has a port exactly when its protocol is not '-1': {rule}")
            port = "all" if rule.port is None else str(rule.port)
            rule_id = f"{rule.group}_{'in' if rule.direction == 'ingress' else 'out'}_{rule.peer.label}_{port}".replace("-", "_")
            if rule_id in seen:
                raise ValueError(f"duplicate security group rule {rule_id}")
            seen.add(rule_id)
            module = (
                aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule
                if rule.direction == "ingress"
                else aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule
            )
            module(
                self,
                rule_id,
                security_group_id=self.groups[rule.group].id,
                description=rule.description,
                ip_protocol=rule.protocol,
                from_port=rule.port,
                to_port=rule.port,
                cidr_ipv4=rule.peer.cidr_ipv4,
                cidr_ipv6=rule.peer.cidr_ipv6,
                referenced_security_group_id=self.groups[rule.peer.group].id if rule.peer.group else None,
                tags={"Name": f"{props.groups[rule.group].name}-{rule_id}"},
                provider=provider,
            )

    @property
    def ids(self) -> dict[str, str]:
        return {key: group.id for key, group in self.groups.items()}

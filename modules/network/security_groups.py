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
from modules.errors import ValidationError


@dataclass(frozen=True, kw_only=True)
class Peer:
    """Exactly one of: another group of the set (by key), an IPv4 or an IPv6 CIDR."""

    group: str | None = None
    """Key of another group of the set."""
    cidr_ipv4: str | None = None
    """An IPv4 CIDR, e.g. `10.0.0.0/16` or `0.0.0.0/0`."""
    cidr_ipv6: str | None = None
    """An IPv6 CIDR, e.g. `::/0`."""

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.group, self.cidr_ipv4, self.cidr_ipv6)) != 1:
            raise ValidationError(
                "security group peer",
                "group/cidr_ipv4/cidr_ipv6",
                [v for v in (self.group, self.cidr_ipv4, self.cidr_ipv6) if v is not None],
                "must name exactly one",
            )

    @property
    def label(self) -> str:
        """The peer as an id part: `alb`, `0_0_0_0_0`, `any`."""
        raw = self.group or self.cidr_ipv4 or self.cidr_ipv6 or ""
        return re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_") or "any"


ANY_IPV4 = Peer(cidr_ipv4="0.0.0.0/0")
ANY_IPV6 = Peer(cidr_ipv6="::/0")


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One ingress or egress rule of one group of the set."""

    group: str
    """Key of the group the rule belongs to."""
    direction: Literal["ingress", "egress"]
    """`ingress`: `peer` may connect to the group; `egress`: the group may connect to `peer`."""
    peer: Peer
    """The other side: a group of the set or a CIDR."""
    port: int | None
    """A TCP port; None with protocol "-1" for all traffic."""
    description: str
    """Why the rule exists (shown in the console; ≤ 255 characters)."""
    protocol: str = "tcp"
    """IP protocol (`tcp`, `udp`, or `-1` for all, which takes no port)."""

    @property
    def rule_id(self) -> str:
        """Construct id: `<group>_<in|out>_<peer label>_<port|all>` (unique within the set)."""
        port = "all" if self.port is None else str(self.port)
        return f"{self.group}_{'in' if self.direction == 'ingress' else 'out'}_{self.peer.label}_{port}".replace(
            "-", "_"
        )


@dataclass(frozen=True, kw_only=True)
class GroupSpec:
    """One group's physical name and description."""

    name: str
    """Group name (≤ 255 characters; must not start with `sg-`)."""
    description: str
    """Group description (≤ 255 characters; cannot change without replacing the group)."""


@dataclass(frozen=True, kw_only=True)
class SecurityGroupsProps:
    """A set of groups in one VPC and the rules between them."""

    vpc_id: str
    """VPC of every group."""
    groups: Mapping[str, GroupSpec]
    """Key (a role such as `alb`) → the group's name and description."""
    rules: Sequence[Rule]
    """A group without ingress (egress) rules admits (sends) nothing: Terraform removes the
    default allow-all egress rule when it creates a group."""


class SecurityGroups(Construct):
    """`ids[key]` is the id of each group."""

    def __init__(self, scope: Construct, construct_id: str, props: SecurityGroupsProps, provider: Any = None) -> None:
        self._validate(construct_id, props)
        super().__init__(scope, construct_id)
        self._props, self._provider = props, provider
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
        for rule in props.rules:
            self._create_rule(rule)

    @staticmethod
    def _validate(construct_id: str, props: SecurityGroupsProps) -> None:
        """Every rule names groups of the set, has a port exactly when its protocol is not `-1`,
        and differs from the others (its id would clash)."""
        what, seen = f"security groups {construct_id!r}", set()
        for rule in props.rules:
            for key in (rule.group, rule.peer.group):
                if key is not None and key not in props.groups:
                    raise ValidationError(
                        what, "rules", rule.rule_id, f"names unknown group {key!r}; the set has {sorted(props.groups)}"
                    )
            if (rule.port is None) != (rule.protocol == "-1"):
                raise ValidationError(what, "rules", rule.rule_id, "needs a port exactly when its protocol is not '-1'")
            if rule.rule_id in seen:
                raise ValidationError(what, "rules", rule.rule_id, "is given twice")
            seen.add(rule.rule_id)

    def _create_rule(self, rule: Rule) -> None:
        """One `aws_vpc_security_group_{ingress,egress}_rule`, tagged `<group name>-<rule id>`."""
        resource = (
            aws.vpc_security_group_ingress_rule.VpcSecurityGroupIngressRule
            if rule.direction == "ingress"
            else aws.vpc_security_group_egress_rule.VpcSecurityGroupEgressRule
        )
        resource(
            self,
            rule.rule_id,
            security_group_id=self.groups[rule.group].id,
            description=rule.description,
            ip_protocol=rule.protocol,
            from_port=rule.port,
            to_port=rule.port,
            cidr_ipv4=rule.peer.cidr_ipv4,
            cidr_ipv6=rule.peer.cidr_ipv6,
            referenced_security_group_id=self.groups[rule.peer.group].id if rule.peer.group else None,
            tags={"Name": f"{self._props.groups[rule.group].name}-{rule.rule_id}"},
            provider=self._provider,
        )

    @property
    def ids(self) -> dict[str, str]:
        """Key → security group id (references)."""
        return {key: group.id for key, group in self.groups.items()}

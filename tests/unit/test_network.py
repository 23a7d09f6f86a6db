"""The network stack (issue #3): VPC layout, EC2 NAT, SSM bastion, security groups, flow logs,
and the production secondary-region VPC. Exact properties for production and a preview stage."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest
from expectations import expect
from synth_support import Synth, parse_ref, without_metadata

from modules.errors import ValidationError
from modules.network.vpc import subnet_plan

STACK = "network"
PRIMARY_AZS = "data.aws_availability_zones.main_azs_17092496.names"


# -- helpers ----------------------------------------------------------------------------------
def by_tag(synth: Synth, resource_type: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """`{Name tag: (logical name, config)}` of one resource type."""
    found = {cfg["tags"]["Name"]: (name, cfg) for name, cfg in synth.resources(STACK, resource_type).items()}
    assert len(found) == len(synth.resources(STACK, resource_type)), "duplicate Name tags"
    return found


def primary(cfg: dict[str, Any]) -> bool:
    return "provider" not in cfg


def az_index(subnet: dict[str, Any]) -> int:
    match = re.fullmatch(r"\$\{element\((.+), (\d)\)\}", subnet["availability_zone"])
    assert match, subnet["availability_zone"]
    return int(match.group(2))


def sg_roles(synth: Synth) -> dict[str, str]:
    """Logical SG name -> role (from the `hebo-<stage>-<role>` name), primary region only."""
    prefix = f"hebo-{synth.stage}-"
    return {
        name: cfg["name"].removeprefix(prefix)
        for name, cfg in synth.resources(STACK, "aws_security_group").items()
        if primary(cfg)
    }


def rule_table(synth: Synth) -> set[tuple[str, str, str, int | None, str]]:
    """Every SG rule as (group role, direction, protocol, port, peer), peers resolved to roles."""
    roles = sg_roles(synth)
    table = set()
    for direction in ("ingress", "egress"):
        for cfg in synth.resources(STACK, f"aws_vpc_security_group_{direction}_rule").values():
            group = roles[parse_ref(cfg["security_group_id"])[1]]
            if "referenced_security_group_id" in cfg:
                peer = "sg:" + roles[parse_ref(cfg["referenced_security_group_id"])[1]]
            else:
                peer = cfg.get("cidr_ipv4") or cfg["cidr_ipv6"]
            assert cfg.get("from_port") == cfg.get("to_port")
            table.add((group, direction, cfg["ip_protocol"], cfg.get("from_port"), peer))
    return table


def all_ingress(synth: Synth) -> list[dict[str, Any]]:
    """Every ingress rule in the stack, whatever resource type carries it, as
    {group, protocol, from, to, cidrs} records (inline blocks included, so a future inline rule
    cannot slip past the world-open check)."""
    roles = sg_roles(synth)
    rules = []
    for cfg in synth.resources(STACK, "aws_vpc_security_group_ingress_rule").values():
        rules.append(
            {
                "group": roles.get(parse_ref(cfg["security_group_id"])[1], "?"),
                "protocol": cfg["ip_protocol"],
                "from": cfg.get("from_port"),
                "to": cfg.get("to_port"),
                "cidrs": [c for c in (cfg.get("cidr_ipv4"), cfg.get("cidr_ipv6")) if c],
            }
        )
    for cfg in synth.resources(STACK, "aws_security_group_rule").values():
        if cfg["type"] == "ingress":
            rules.append(
                {
                    "group": "?",
                    "protocol": cfg["protocol"],
                    "from": cfg["from_port"],
                    "to": cfg["to_port"],
                    "cidrs": cfg.get("cidr_blocks", []) + cfg.get("ipv6_cidr_blocks", []),
                }
            )
    for kind in ("aws_security_group", "aws_default_security_group"):
        for name, cfg in synth.resources(STACK, kind).items():
            for block in cfg.get("ingress") or []:
                rules.append(
                    {
                        "group": roles.get(name, name),
                        "protocol": block["protocol"],
                        "from": block["from_port"],
                        "to": block["to_port"],
                        "cidrs": block.get("cidr_blocks", []) + block.get("ipv6_cidr_blocks", []),
                    }
                )
    return rules


# -- subnet plan (pure) -----------------------------------------------------------------------
def test_subnet_plan_default_vpc() -> None:
    assert [(p.public, p.private) for p in subnet_plan("10.0.0.0/16", 2)] == [
        ("10.0.224.0/22", "10.0.0.0/19"),
        ("10.0.228.0/22", "10.0.32.0/19"),
    ]


@pytest.mark.parametrize("prefix", range(16, 21))
@pytest.mark.parametrize("az_count", range(2, 7))
def test_subnet_plan_never_overlaps_and_fits_an_alb(prefix: int, az_count: int) -> None:
    vpc = ipaddress.ip_network(f"10.0.0.0/{prefix}")
    plan = subnet_plan(str(vpc), az_count)
    subnets = [ipaddress.ip_network(c) for p in plan for c in (p.public, p.private)]
    assert len(subnets) == 2 * az_count
    assert all(s.subnet_of(vpc) for s in subnets)
    assert not any(a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])
    assert all(ipaddress.ip_network(p.public).prefixlen <= 27 for p in plan)  # ALB minimum


def test_subnet_plan_rejects_too_many_azs() -> None:
    with pytest.raises(ValidationError, match=r"^subnet plan: az_count 7 must be from 1 to 6$"):
        subnet_plan("10.0.0.0/16", 7)


# -- VPC and subnets --------------------------------------------------------------------------
@pytest.mark.parametrize("stage", ["production", "preview"])
def test_vpc(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    vpcs = by_tag(synth, "aws_vpc")
    _, vpc = vpcs[f"hebo-{synth.stage}"]
    assert without_metadata(vpc) == {
        "cidr_block": "10.0.0.0/16",
        "assign_generated_ipv6_cidr_block": True,  # Amazon-provided /56 for the public edge
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": {"Name": f"hebo-{synth.stage}"},
    }


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_only_public_subnets_are_dual_stack(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    vpc, _ = by_tag(synth, "aws_vpc")[f"hebo-{synth.stage}"]
    ipv6 = {
        n: {k: v for k, v in c.items() if "ipv6" in k or "dns64" in k or "aaaa" in k}
        for n, (_, c) in by_tag(synth, "aws_subnet").items()
        if primary(c)
    }
    p = f"hebo-{synth.stage}"
    assert ipv6 == {
        f"{p}-public-0": {
            "ipv6_cidr_block": f"${{cidrsubnet(aws_vpc.{vpc}.ipv6_cidr_block, 8, 0)}}",
            "assign_ipv6_address_on_creation": False,
        },
        f"{p}-public-1": {
            "ipv6_cidr_block": f"${{cidrsubnet(aws_vpc.{vpc}.ipv6_cidr_block, 8, 1)}}",
            "assign_ipv6_address_on_creation": False,
        },
        f"{p}-private-0": {},
        f"{p}-private-1": {},
    }
    assert synth.resources(STACK, "aws_egress_only_internet_gateway") == {}  # no IPv6 egress for workloads


def test_ipv6_public_edge_needs_public_subnets() -> None:
    from modules.cdk import cdktf
    from modules.network.vpc import Vpc, VpcProps

    stack = cdktf.TerraformStack(cdktf.App(), "ipv6_check")
    with pytest.raises(ValidationError, match=r"^VPC 'x': ipv6_public_edge True needs public_subnets$"):
        Vpc(
            stack,
            "vpc",
            VpcProps(name="x", cidr_block="10.0.0.0/16", az_count=2, public_subnets=False, ipv6_public_edge=True),
        )
    assert stack.node.children == [], "validation runs before the VPC's node exists"


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_subnet_cidrs_and_az_spread(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    p = f"hebo-{synth.stage}"
    subnets = {
        n: (c["cidr_block"], c["availability_zone"], c["map_public_ip_on_launch"])
        for n, (_, c) in by_tag(synth, "aws_subnet").items()
        if primary(c)
    }
    assert subnets == {
        f"{p}-public-0": ("10.0.224.0/22", f"${{element({PRIMARY_AZS}, 0)}}", False),
        f"{p}-public-1": ("10.0.228.0/22", f"${{element({PRIMARY_AZS}, 1)}}", False),
        f"{p}-private-0": ("10.0.0.0/19", f"${{element({PRIMARY_AZS}, 0)}}", False),
        f"{p}-private-1": ("10.0.32.0/19", f"${{element({PRIMARY_AZS}, 1)}}", False),
    }
    azs = synth.data_sources(STACK, "aws_availability_zones")["main_azs_17092496"]
    assert "state" not in azs  # an impaired AZ must not shift element() indexes
    assert azs["filter"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    assert azs["lifecycle"]["postcondition"][0]["condition"] == "${length(self.names) >= 2}"


def test_az_count_setting_spreads_over_three_azs(synth_variant: Any) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_AZ_COUNT="3", HEBO_VPC_CIDR="10.20.0.0/20")
    subnets = {n: (c["cidr_block"], az_index(c)) for n, (_, c) in by_tag(synth, "aws_subnet").items()}
    assert subnets == {
        "hebo-pr-42-public-0": ("10.20.14.0/26", 0),
        "hebo-pr-42-private-0": ("10.20.0.0/23", 0),
        "hebo-pr-42-public-1": ("10.20.14.64/26", 1),
        "hebo-pr-42-private-1": ("10.20.2.0/23", 1),
        "hebo-pr-42-public-2": ("10.20.14.128/26", 2),
        "hebo-pr-42-private-2": ("10.20.4.0/23", 2),
    }
    # still one NAT in a preview; all three private subnets route through it
    assert len(synth.resources(STACK, "aws_instance")) == 2  # NAT + bastion
    nat_routes = {
        c["network_interface_id"] for c in synth.resources(STACK, "aws_route").values() if "network_interface_id" in c
    }
    assert len(nat_routes) == 1


def test_public_subnets_route_to_the_internet_gateway(any_stage: Synth) -> None:
    tables = by_tag(any_stage, "aws_route_table")
    public_table, _ = tables[f"hebo-{any_stage.stage}-public"]
    igw, _ = by_tag(any_stage, "aws_internet_gateway")[f"hebo-{any_stage.stage}"]
    routes = sorted(
        (without_metadata(c) for c in any_stage.resources(STACK, "aws_route").values() if "gateway_id" in c),
        key=lambda r: "destination_ipv6_cidr_block" in r,
    )
    assert routes == [
        {
            "destination_cidr_block": "0.0.0.0/0",
            "gateway_id": f"${{aws_internet_gateway.{igw}.id}}",
            "route_table_id": f"${{aws_route_table.{public_table}.id}}",
        },
        {
            "destination_ipv6_cidr_block": "::/0",  # dual-stack ALBs answer IPv6 clients
            "gateway_id": f"${{aws_internet_gateway.{igw}.id}}",
            "route_table_id": f"${{aws_route_table.{public_table}.id}}",
        },
    ]
    ipv6_routes = [c for c in any_stage.resources(STACK, "aws_route").values() if "destination_ipv6_cidr_block" in c]
    assert len(ipv6_routes) == 1  # private tables: no IPv6 route at all
    subnets = {
        name for name, cfg in any_stage.resources(STACK, "aws_subnet").items() if cfg["tags"]["tier"] == "public"
    }
    associated = {
        parse_ref(c["subnet_id"])[1]
        for c in any_stage.resources(STACK, "aws_route_table_association").values()
        if parse_ref(c["route_table_id"])[1] == public_table
    }
    assert associated == subnets and len(subnets) == 2


# -- NAT --------------------------------------------------------------------------------------
def nat_instances(synth: Synth) -> dict[str, dict[str, Any]]:
    return {n: c for n, c in synth.resources(STACK, "aws_instance").items() if c["tags"]["role"] == "nat"}


@pytest.mark.parametrize(("stage", "count"), [("production", 2), ("preview", 1), ("dev", 1)])
def test_nat_count_per_stage(stage: str, count: int, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    assert len(nat_instances(synth)) == count
    eips = synth.resources(STACK, "aws_eip")
    assert len(eips) == count and all(e["domain"] == "vpc" for e in eips.values())
    associations = synth.resources(STACK, "aws_eip_association").values()
    assert sorted(parse_ref(a["instance_id"])[1] for a in associations) == sorted(nat_instances(synth))
    assert sorted(parse_ref(a["allocation_id"])[1] for a in associations) == sorted(eips)


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_nat_instance_settings(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    key = next(iter(n for n, c in synth.resources(STACK, "aws_kms_key").items() if primary(c)))
    nat_sg = next(n for n, role in sg_roles(synth).items() if role == "nat")
    public_subnets = [n for n, c in synth.resources(STACK, "aws_subnet").items() if c["tags"].get("tier") == "public"]
    for index, (_name, cfg) in enumerate(sorted(nat_instances(synth).items())):
        assert cfg["instance_type"] == "t4g.nano"
        assert cfg["ami"] == "${data.aws_ami.nat_ami.id}"
        assert cfg["source_dest_check"] is False
        # Unset (the subnet decides: no auto-assigned IP): the Elastic IP is its public address,
        # and `false` would replace the instance on every plan (provider issue #47100).
        assert "associate_public_ip_address" not in cfg
        assert "key_name" not in cfg
        assert cfg["metadata_options"] == {
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
            "instance_metadata_tags": "disabled",
        }
        assert cfg["root_block_device"] == {
            "encrypted": True,
            "kms_key_id": f"${{aws_kms_key.{key}.arn}}",
            "volume_type": "gp3",
            "volume_size": 8,
            "delete_on_termination": True,
        }
        assert cfg["vpc_security_group_ids"] == [f"${{aws_security_group.{nat_sg}.id}}"]
        assert parse_ref(cfg["subnet_id"])[1] in public_subnets
        assert cfg["lifecycle"] == {"ignore_changes": ["ami"]}
        assert cfg["tags"]["Name"] == f"hebo-{synth.stage}-nat-{index}"
    assert synth.data_sources(STACK, "aws_ami")["nat_ami"] == {
        "//": synth.data_sources(STACK, "aws_ami")["nat_ami"]["//"],
        "owners": ["568608671756"],
        "most_recent": True,
        "filter": [
            {"name": "name", "values": ["fck-nat-al2023-*"]},
            {"name": "architecture", "values": ["arm64"]},
        ],
    }


def test_nat_instances_have_no_role(any_stage: Synth) -> None:
    """fck-nat's AL2023-minimal image has no SSM agent, so a Session Manager role would serve
    nothing; without a role the router holds no AWS credentials."""
    instances = nat_instances(any_stage)
    assert len(instances) == expect(any_stage).nat_instances  # at least one checked
    for cfg in instances.values():
        assert "iam_instance_profile" not in cfg
    role_names = [c["name"] for c in any_stage.resources(STACK, "aws_iam_role").values()]
    assert f"hebo-{any_stage.stage}-nat" not in role_names
    profiles = [c["name"] for c in any_stage.resources(STACK, "aws_iam_instance_profile").values()]
    assert profiles == ([] if not expect(any_stage)["bastion"] else [f"hebo-{any_stage.stage}-bastion"])


def test_nat_ami_can_be_pinned(synth_variant: Any) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_NAT_AMI_ID="ami-0123456789abcdef0")
    assert [c["ami"] for c in nat_instances(synth).values()] == ["ami-0123456789abcdef0"]
    assert "nat_ami" not in synth.data_sources(STACK, "aws_ami")


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_private_routes_use_the_nat_of_their_az(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    subnets = synth.resources(STACK, "aws_subnet")
    instances = synth.resources(STACK, "aws_instance")
    table_subnet = {
        parse_ref(a["route_table_id"])[1]: parse_ref(a["subnet_id"])[1]
        for a in synth.resources(STACK, "aws_route_table_association").values()
    }
    private_tables = [
        n
        for n, c in synth.resources(STACK, "aws_route_table").items()
        if primary(c) and "-private-" in c["tags"]["Name"]
    ]
    assert len(private_tables) == 2  # one per private subnet
    routed: dict[int, int] = {}
    for route in synth.resources(STACK, "aws_route").values():
        if "network_interface_id" not in route:
            continue
        assert route["destination_cidr_block"] == "0.0.0.0/0"
        kind, nat, attr = parse_ref(route["network_interface_id"])
        assert (kind, attr) == ("aws_instance", "primary_network_interface_id")
        private_subnet = subnets[table_subnet[parse_ref(route["route_table_id"])[1]]]
        assert private_subnet["tags"]["tier"] == "private"
        nat_subnet = subnets[parse_ref(instances[nat]["subnet_id"])[1]]
        routed[az_index(private_subnet)] = az_index(nat_subnet)
    if expect(synth)["nat_per_az"]:
        assert routed == {0: 0, 1: 1}
    else:
        assert routed == {0: 0, 1: 0}


# -- bastion ----------------------------------------------------------------------------------
def test_bastion_only_outside_production(production: Synth, preview: Synth, dev: Synth) -> None:
    assert [c for c in production.resources(STACK, "aws_instance").values() if c["tags"]["role"] == "bastion"] == []
    assert "bastion_instance_id" not in production.stack(STACK)["output"]
    assert "hebo-production-bastion" not in {c["name"] for c in production.resources(STACK, "aws_iam_role").values()}
    for synth in (preview, dev):
        assert len([c for c in synth.resources(STACK, "aws_instance").values() if c["tags"]["role"] == "bastion"]) == 1


def test_bastion_is_ssm_only(preview: Synth) -> None:
    name, cfg = next(
        (n, c) for n, c in preview.resources(STACK, "aws_instance").items() if c["tags"]["role"] == "bastion"
    )
    assert cfg["tags"]["Name"] == "hebo-pr-42-bastion"
    assert cfg["instance_type"] == "t4g.nano"
    assert "key_name" not in cfg and cfg["associate_public_ip_address"] is False
    assert cfg["metadata_options"]["http_tokens"] == "required"
    assert cfg["root_block_device"]["encrypted"] is True
    subnet = preview.resources(STACK, "aws_subnet")[parse_ref(cfg["subnet_id"])[1]]
    assert subnet["tags"]["Name"] == "hebo-pr-42-private-0"
    roles = sg_roles(preview)
    assert [roles[parse_ref(g)[1]] for g in cfg["vpc_security_group_ids"]] == ["bastion"]
    assert [r for r in rule_table(preview) if r[0] == "bastion" and r[1] == "ingress"] == []
    assert preview.stack(STACK)["output"]["bastion_instance_id"]["value"] == f"${{aws_instance.{name}.id}}"
    ami = preview.data_sources(STACK, "aws_ami")
    (bastion_ami,) = [c for n, c in ami.items() if n != "nat_ami"]
    assert bastion_ami["owners"] == ["amazon"] and bastion_ami["most_recent"] is True
    assert bastion_ami["filter"] == [
        {"name": "name", "values": ["al2023-ami-2023.*-kernel-*-arm64"]},
        {"name": "architecture", "values": ["arm64"]},
    ]
    role = next(c for c in preview.resources(STACK, "aws_iam_role").values() if c["name"] == "hebo-pr-42-bastion")
    assert role["description"] == "SSM Session Manager bastion (no SSH)"


def test_bastion_is_declared_stopped(production: Synth, preview: Synth, dev: Synth) -> None:
    """On demand: created stopped (volume cost only), started by `ops bastion start`; later
    deploys leave the power state alone so a push never cuts an open session."""
    assert production.resources(STACK, "aws_ec2_instance_state") == {}
    for synth in (preview, dev):
        (name,) = [n for n, c in synth.resources(STACK, "aws_instance").items() if c["tags"]["role"] == "bastion"]
        assert without_metadata(synth.resource(STACK, "aws_ec2_instance_state")) == {
            "instance_id": f"${{aws_instance.{name}.id}}",
            "state": "stopped",
            "lifecycle": {"ignore_changes": ["state"]},
        }


# -- security groups --------------------------------------------------------------------------
WORLD_OPEN_ALLOWED = {("alb", 80, "0.0.0.0/0"), ("alb", 443, "0.0.0.0/0"), ("alb", 80, "::/0"), ("alb", 443, "::/0")}


def test_no_world_open_ingress_except_alb_http_https(any_stage: Synth) -> None:
    world = set()
    for rule in all_ingress(any_stage):
        for cidr in rule["cidrs"]:
            if ipaddress.ip_network(cidr).prefixlen == 0:
                assert rule["protocol"] == "tcp" and rule["from"] == rule["to"], rule
                world.add((rule["group"], rule["from"], cidr))
        assert not (rule["from"] is not None and rule["from"] <= 22 <= rule["to"]), f"SSH ingress: {rule}"
        assert rule["protocol"] != "-1", f"all-protocol ingress: {rule}"
    assert world == WORLD_OPEN_ALLOWED


def expected_rules(production: bool) -> set[tuple[str, str, str, int | None, str]]:
    t = "tcp"
    rules = {
        ("alb", "ingress", t, 80, "0.0.0.0/0"),
        ("alb", "ingress", t, 80, "::/0"),
        ("alb", "ingress", t, 443, "0.0.0.0/0"),
        ("alb", "ingress", t, 443, "::/0"),
        ("alb", "egress", t, 3001, "sg:service"),
        ("alb", "egress", t, 3002, "sg:service"),
        ("service", "ingress", t, 3001, "sg:alb"),
        ("service", "ingress", t, 3002, "sg:alb"),
        ("service", "egress", t, 443, "0.0.0.0/0"),
        ("service", "egress", t, 5432, "sg:database"),
        ("migrator", "egress", t, 443, "0.0.0.0/0"),
        ("migrator", "egress", t, 5432, "sg:database"),
        ("database", "ingress", t, 5432, "sg:service"),
        ("database", "ingress", t, 5432, "sg:migrator"),
        ("nat", "ingress", t, 443, "10.0.0.0/19"),
        ("nat", "ingress", t, 443, "10.0.32.0/19"),
        ("nat", "egress", t, 443, "0.0.0.0/0"),
    }
    if production:  # RDS Proxy, no bastion
        rules |= {
            ("database", "ingress", t, 5432, "sg:db-proxy"),
            ("db-proxy", "egress", t, 5432, "sg:database"),
            # the migrator talks to the writer, never the proxy
            ("db-proxy", "ingress", t, 5432, "sg:service"),
            ("service", "egress", t, 5432, "sg:db-proxy"),
        }
    else:  # bastion, no proxy
        rules |= {
            ("database", "ingress", t, 5432, "sg:bastion"),
            ("bastion", "egress", t, 5432, "sg:database"),
            ("bastion", "egress", t, 443, "0.0.0.0/0"),
        }
    return rules


@pytest.mark.parametrize("stage", ["production", "preview"])
def test_every_security_group_rule(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    assert rule_table(synth) == expected_rules(expect(synth).production)
    count = sum(len(synth.resources(STACK, f"aws_vpc_security_group_{d}_rule")) for d in ("ingress", "egress"))
    assert count == len(expected_rules(expect(synth).production))  # no duplicates hidden by the set


def test_groups_have_names_descriptions_and_no_inline_rules(any_stage: Synth) -> None:
    groups = any_stage.resources(STACK, "aws_security_group")
    primary_roles = sorted(sg_roles(any_stage).values())
    stage_roles = ["db-proxy"] * expect(any_stage)["db_proxy"] + ["bastion"] * expect(any_stage)["bastion"]
    assert primary_roles == sorted(["alb", "service", "database", "migrator", "nat", *stage_roles])
    for cfg in groups.values():
        assert cfg["description"] and "ingress" not in cfg and "egress" not in cfg
    for direction in ("ingress", "egress"):
        for cfg in any_stage.resources(STACK, f"aws_vpc_security_group_{direction}_rule").values():
            assert re.fullmatch(r"[A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*]{10,255}", cfg["description"]), cfg["description"]
    assert any_stage.resources(STACK, "aws_security_group_rule") == {}


def test_service_ports_come_from_naming() -> None:
    from config.topology import SERVICE_PORTS, SERVICES

    assert SERVICE_PORTS == {"api": 3001, "gateway": 3002} and tuple(SERVICE_PORTS) == SERVICES


def test_default_security_groups_are_taken_over_without_rules(production: Synth, preview: Synth) -> None:
    for synth, count in ((production, 2), (preview, 1)):
        defaults = synth.resources(STACK, "aws_default_security_group")
        assert len(defaults) == count
        vpcs = {parse_ref(c["vpc_id"])[1] for c in defaults.values()}
        assert vpcs == set(synth.resources(STACK, "aws_vpc"))
        for cfg in defaults.values():
            assert "ingress" not in cfg and "egress" not in cfg


# -- flow logs and KMS ------------------------------------------------------------------------
@pytest.mark.parametrize(("stage", "retention", "vpcs"), [("production", 365, 2), ("preview", 7, 1)])
def test_flow_logs(stage: str, retention: int, vpcs: int, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    logs = synth.resources(STACK, "aws_flow_log")
    groups = synth.resources(STACK, "aws_cloudwatch_log_group")
    keys = synth.resources(STACK, "aws_kms_key")
    assert len(logs) == vpcs and len(groups) == vpcs
    assert {parse_ref(c["vpc_id"])[1] for c in logs.values()} == set(synth.resources(STACK, "aws_vpc"))
    (role_name,) = [
        n for n, c in synth.resources(STACK, "aws_iam_role").items() if c["name"] == f"hebo-{synth.stage}-flow-logs"
    ]
    arns = []
    for cfg in logs.values():
        assert cfg["traffic_type"] == "ALL" and cfg["log_destination_type"] == "cloud-watch-logs"
        assert cfg["iam_role_arn"] == f"${{aws_iam_role.{role_name}.arn}}"
        _, group_name, _ = parse_ref(cfg["log_destination"])
        group = groups[group_name]
        assert group["name"] == f"/vpc/hebo-{synth.stage}/flow-logs"
        assert group["retention_in_days"] == retention
        key_kind, key_name, _ = parse_ref(group["kms_key_id"])
        assert key_kind == "aws_kms_key" and keys[key_name].get("provider") == group.get("provider") == cfg.get(
            "provider"
        )
        arns.append(cfg["log_destination"])
    docs = synth.data_sources(STACK, "aws_iam_policy_document")
    (permissions,) = [d for n, d in docs.items() if n.startswith("flow_logs_role_permissions")]
    assert permissions["statement"] == [
        {
            "sid": "WriteFlowLogs",
            "effect": "Allow",
            "actions": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "resources": [
                r
                for arn in sorted(arns, key=lambda a: "secondary" in a)
                for r in (arn, arn.replace("}", "}:log-stream:*"))
            ],
        }
    ]
    (trust,) = [d for n, d in docs.items() if n.startswith("flow_logs_role_trust")]
    assert trust["statement"][0]["principals"] == [{"type": "Service", "identifiers": ["vpc-flow-logs.amazonaws.com"]}]
    assert {c["variable"] for c in trust["statement"][0]["condition"]} == {"aws:SourceAccount", "aws:SourceArn"}


@pytest.mark.parametrize(
    ("stage", "protect", "window", "purpose"), [("production", True, 30, "network"), ("preview", False, 7, "stage")]
)
def test_network_kms_key(stage: str, protect: bool, window: int, purpose: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    keys = {n: c for n, c in synth.resources(STACK, "aws_kms_key").items() if primary(c)}
    (key,) = keys.values()
    assert key["enable_key_rotation"] is True and key["deletion_window_in_days"] == window
    assert key["lifecycle"]["prevent_destroy"] is protect
    aliases = {c["name"]: c.get("provider") for c in synth.resources(STACK, "aws_kms_alias").values()}
    expected = {f"alias/hebo-{synth.stage}-{purpose}": None}
    if expect(synth)["secondary_region_network"]:
        expected[f"alias/hebo-{synth.stage}-network-secondary"] = "aws.us_west_2"
    assert aliases == expected


# -- secondary region -------------------------------------------------------------------------
def test_secondary_network_only_in_production(production: Synth, preview: Synth, dev: Synth) -> None:
    stack = production.stack(STACK)
    assert stack["provider"]["aws"][1]["alias"] == "us_west_2" and stack["provider"]["aws"][1]["region"] == "us-west-2"
    vpc = by_tag(production, "aws_vpc")["hebo-production-secondary"][1]
    assert without_metadata(vpc) == {  # IPv4 only: no public edge there
        "provider": "aws.us_west_2",
        "cidr_block": "10.1.0.0/16",
        "enable_dns_support": True,
        "enable_dns_hostnames": True,
        "tags": {"Name": "hebo-production-secondary"},
    }
    for cfg in production.resources(STACK, "aws_subnet").values():
        if not primary(cfg):
            assert "ipv6_cidr_block" not in cfg and "assign_ipv6_address_on_creation" not in cfg
    secondary = {
        n: (c["cidr_block"], az_index(c), c["tags"]["tier"])
        for n, (_, c) in by_tag(production, "aws_subnet").items()
        if c.get("provider") == "aws.us_west_2"
    }
    assert secondary == {
        "hebo-production-secondary-private-0": ("10.1.0.0/19", 0, "private"),
        "hebo-production-secondary-private-1": ("10.1.32.0/19", 1, "private"),
    }
    for kind in ("aws_internet_gateway", "aws_instance", "aws_eip", "aws_route"):
        assert all(primary(c) for c in production.resources(STACK, kind).values()), kind
    groups = [c for c in production.resources(STACK, "aws_security_group").values() if not primary(c)]
    assert [(g["name"], g["provider"]) for g in groups] == [("hebo-production-database", "aws.us_west_2")]
    private_tables = [c for c in production.resources(STACK, "aws_route_table").values() if not primary(c)]
    assert len(private_tables) == 2
    outputs = stack["output"]
    assert {"secondary_vpc_id", "secondary_private_subnet_ids"} <= set(outputs)
    for synth in (preview, dev):
        assert len(synth.stack(STACK)["provider"]["aws"]) == 1
        assert all(primary(c) for t in synth.stack(STACK)["resource"].values() for c in t.values())
        assert "secondary_vpc_id" not in synth.stack(STACK)["output"]


# -- outputs ----------------------------------------------------------------------------------
def test_stack_outputs(production: Synth, preview: Synth) -> None:
    common = {
        "vpc_id",
        "vpc_cidr",
        "public_subnet_ids",
        "private_subnet_ids",
        "security_group_ids",
        "nat_instance_ids",
        "nat_public_ips",
    }
    named = lambda s: {k for k in s.stack(STACK)["output"] if not k.startswith("cross-stack-output-")}  # noqa: E731 - a one-line local projection
    assert named(production) == common | {"secondary_vpc_id", "secondary_private_subnet_ids"}
    assert named(preview) == common | {"bastion_instance_id"}
    for synth, optional in ((production, "db-proxy"), (preview, "bastion")):
        groups = synth.stack(STACK)["output"]["security_group_ids"]["value"]
        assert sorted(groups) == sorted(["alb", "service", "database", "migrator", optional])
        roles = sg_roles(synth)
        assert {k: roles[parse_ref(v)[1]] for k, v in groups.items()} == {k: k for k in groups}


# -- the same stack through cdktf's Testing matchers (the API README.md documents for users) ----
from modules.cdk import Testing  # noqa: E402  (imported where the section using cdktf's matchers begins)


def test_testing_matchers_vpc_nat_and_flow_logs(production: Synth, preview: Synth) -> None:
    network = production.raw(STACK)
    assert Testing.to_have_resource_with_properties(
        network,
        "aws_vpc",
        {"cidr_block": "10.0.0.0/16", "assign_generated_ipv6_cidr_block": True, "enable_dns_hostnames": True},
    )
    assert Testing.to_have_resource_with_properties(
        network, "aws_vpc", {"cidr_block": "10.1.0.0/16"}
    )  # secondary region
    assert Testing.to_have_resource_with_properties(
        network, "aws_instance", {"instance_type": "t4g.nano", "source_dest_check": False}
    )
    assert Testing.to_have_resource_with_properties(
        network, "aws_flow_log", {"traffic_type": "ALL", "log_destination_type": "cloud-watch-logs"}
    )
    assert Testing.to_have_data_source(network, "aws_availability_zones")
    bastion = {
        "associate_public_ip_address": False,
        "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 1},
    }
    assert Testing.to_have_resource_with_properties(preview.raw(STACK), "aws_instance", bastion)
    assert not Testing.to_have_resource_with_properties(preview.raw(STACK), "aws_vpc", {"cidr_block": "10.1.0.0/16"})


def test_elastic_ips_wait_for_the_internet_gateway(any_stage: Synth) -> None:
    """EC2 refuses to associate an address in a VPC with no attached gateway (Gateway.NotAttached):
    every EIP and EIP association of the NAT instances depends on the VPC's internet gateway."""
    (igw,) = any_stage.resources(STACK, "aws_internet_gateway")
    checked = 0
    for rtype in ("aws_eip", "aws_eip_association"):
        for name, config in any_stage.resources(STACK, rtype).items():
            assert config["depends_on"] == [f"aws_internet_gateway.{igw}"], (rtype, name)
            checked += 1
    assert checked == 2 * expect(any_stage).nat_instances


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"group": "db", "direction": "ingress", "peer": {"group": "app"}, "port": 5432, "description": "d"}],
            r"^security groups 'sg': rules 'db_in_app_5432' names unknown group 'app'; the set has \['db'\]$",
        ),
        (
            [
                {
                    "group": "db",
                    "direction": "egress",
                    "peer": {"cidr_ipv4": "10.0.0.0/8"},
                    "port": None,
                    "description": "d",
                }
            ],
            r"^security groups 'sg': rules 'db_out_10_0_0_0_8_all' needs a port exactly when its protocol is not '-1'$",
        ),
        (
            [
                {
                    "group": "db",
                    "direction": "ingress",
                    "peer": {"cidr_ipv4": "10.0.0.0/8"},
                    "port": 5432,
                    "description": "d",
                }
            ]
            * 2,
            r"^security groups 'sg': rules 'db_in_10_0_0_0_8_5432' is given twice$",
        ),
    ],
)
def test_security_group_rules_are_checked_before_any_group_exists(rules: list[dict[str, Any]], message: str) -> None:
    from modules.cdk import cdktf
    from modules.network.security_groups import GroupSpec, Peer, Rule, SecurityGroups, SecurityGroupsProps

    stack = cdktf.TerraformStack(cdktf.App(), "sg_check")
    props = SecurityGroupsProps(
        vpc_id="vpc-1",
        groups={"db": GroupSpec(name="db", description="d")},
        rules=[Rule(**{**r, "peer": Peer(**r["peer"])}) for r in rules],
    )
    with pytest.raises(ValidationError, match=message):
        SecurityGroups(stack, "sg", props)
    assert stack.node.children == []


def test_a_peer_names_exactly_one_side() -> None:
    from modules.network.security_groups import Peer

    with pytest.raises(
        ValidationError,
        match=r"^security group peer: group/cidr_ipv4/cidr_ipv6 \['a', '10.0.0.0/8'\] must name exactly one$",
    ):
        Peer(group="a", cidr_ipv4="10.0.0.0/8")

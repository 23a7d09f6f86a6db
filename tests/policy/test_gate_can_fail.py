"""The gate fails on real breakage: mutated copies of the preview/production JSON must be flagged,
by resource name, by the invariant functions AND by checkov (built-in and custom checks)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from policy import checkov_runner
from policy import invariants as inv
from policy.checkov_runner import CheckovError, ScanResult, run_checkov
from policy.conftest import stacks_on_disk
from policy.suppressions import apply, load_suppressions
from synth_support import Synth

SSH_RULE = "gate_canary_ssh"
INLINE_SG = "gate_canary_inline"


def _sg_names(stacks: dict[str, Any], alb_name: str) -> tuple[str, str]:
    groups = stacks["network"]["resource"]["aws_security_group"]
    alb = next(n for n, c in groups.items() if c.get("name") == alb_name)
    other = next(n for n, c in groups.items() if c.get("name") != alb_name)
    return alb, other


@pytest.fixture(scope="module")
def broken_preview(preview: Synth) -> dict[str, Any]:
    """Preview stacks with one deliberate violation per rule (named gate_canary_*)."""
    stacks = copy.deepcopy(stacks_on_disk(preview))
    alb, other = _sg_names(stacks, preview.settings.names.security_group("alb"))
    net = stacks["network"]["resource"]
    net.setdefault("aws_vpc_security_group_ingress_rule", {})[SSH_RULE] = {
        "security_group_id": f"${{aws_security_group.{other}.id}}",
        "cidr_ipv4": "0.0.0.0/0",
        "from_port": 22,
        "to_port": 22,
        "ip_protocol": "tcp",
        "description": "SSH from anywhere (canary)",
    }
    net.setdefault("aws_vpc_security_group_ingress_rule", {})["gate_canary_alb_8080"] = {
        "security_group_id": f"${{aws_security_group.{alb}.id}}",
        "cidr_ipv6": "::/0",
        "from_port": 8080,
        "to_port": 8080,
        "ip_protocol": "tcp",
        "description": "ALB on a non-web port (canary)",
    }
    net["aws_security_group"][INLINE_SG] = {
        "name": "canary",
        "description": "canary",
        "vpc_id": "${aws_vpc.x.id}",
        "ingress": [
            {
                "cidr_blocks": ["0.0.0.0/0"],
                "description": "ssh",
                "from_port": 22,
                "to_port": 22,
                "protocol": "tcp",
                "ipv6_cidr_blocks": [],
                "prefix_list_ids": [],
                "security_groups": [],
                "self": False,
            }
        ],
    }
    net["aws_security_group"]["gate_canary_nulls"] = {
        "name": "canary-nulls",
        "description": "canary",
        "vpc_id": "${aws_vpc.x.id}",
        "egress": [{"cidr_blocks": ["10.0.0.0/8"], "from_port": None, "to_port": None, "protocol": "tcp"}],
    }
    net.setdefault("aws_ebs_volume", {})["gate_canary_volume"] = {"availability_zone": "us-east-1a", "size": 8}
    net.setdefault("aws_elasticsearch_domain", {})["gate_canary_es"] = {"domain_name": "canary"}
    net["aws_vpc"][next(iter(net["aws_vpc"]))]["tags"] = {"stage": "production"}

    data = stacks["data"]
    data["resource"].setdefault("aws_db_proxy", {})["gate_canary_proxy"] = {
        "name": "canary",
        "engine_family": "POSTGRESQL",
        "role_arn": "arn:aws:iam::1:role/x",
        "vpc_subnet_ids": ["subnet-1"],
        "require_tls": False,
    }
    data.setdefault("data", {}).setdefault("aws_iam_policy_document", {})["gate_canary_doc"] = {
        "statement": [
            {"effect": "Allow", "actions": ["*"], "resources": ["arn:aws:s3:::x"]},
            {"effect": "Allow", "actions": ["secretsmanager:GetSecretValue"], "resources": ["*"]},
            {"effect": "Allow", "actions": ["s3:Get*"], "resources": ["*"]},
        ],
    }
    data["resource"]["aws_secretsmanager_secret"]["gate_canary_secret"] = {"name": "canary"}
    data["provider"]["aws"][0]["default_tags"][0]["tags"]["stage"] = "oops"

    compute = stacks["compute"]["resource"]
    compute.setdefault("aws_lb", {})["gate_canary_lb"] = {
        "name": "canary",
        "internal": False,
        "load_balancer_type": "application",
    }
    compute.setdefault("aws_lb_listener", {})["gate_canary_listener"] = {
        "load_balancer_arn": "${aws_lb.gate_canary_lb.arn}",
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-2016-08",
        "certificate_arn": "arn:aws:acm:us-east-1:1:certificate/x",
        "default_action": [
            {"type": "fixed-response", "fixed_response": [{"content_type": "text/plain", "status_code": "404"}]}
        ],
    }
    compute.setdefault("aws_ecs_task_definition", {})["gate_canary_task"] = {
        "family": "canary",
        "container_definitions": '${jsonencode([{"name" = "app", "image" = "x", "environment" = '
        '[{"name" = "DB_PASSWORD", "value" = "hunter2"}, {"name" = "PORT", "value" = "1"}]}])}',
    }
    return stacks


def _flagged(problems: list[str], *needles: str) -> None:
    for needle in needles:
        assert any(needle in p for p in problems), f"{needle} not flagged; problems were:\n" + "\n".join(problems)


def test_invariants_flag_each_breakage(broken_preview: dict[str, Any], preview: Synth) -> None:
    names = preview.settings.names
    world = inv.check_world_ingress(broken_preview, names.security_group("alb"))
    _flagged(
        world,
        f"aws_vpc_security_group_ingress_rule.{SSH_RULE}",
        "gate_canary_alb_8080",
        f"aws_security_group.{INLINE_SG} ingress[0]",
    )
    assert len(world) == 3, world  # and nothing else: the real ALB 80/443 rules stay allowed
    _flagged(
        inv.check_iam(broken_preview),
        "gate_canary_doc statement[0]: grants action '*'",
        "gate_canary_doc statement[1]: secretsmanager",
        "gate_canary_doc statement[2]: s3 data",
    )
    _flagged(
        inv.check_encryption(broken_preview),
        "aws_ebs_volume.gate_canary_volume is not encrypted",
        "aws_secretsmanager_secret.gate_canary_secret is not encrypted",
        "aws_elasticsearch_domain.gate_canary_es: storage-like type without an encryption rule",
    )
    _flagged(inv.check_no_nulls(broken_preview), "gate_canary_nulls.egress[0].from_port")
    _flagged(
        inv.check_task_definitions(broken_preview), "gate_canary_task container app: environment variable DB_PASSWORD"
    )
    tags = inv.check_default_tags(
        broken_preview,
        lambda stack: {
            "app": "hebo",
            "stage": "global" if stack == "dns" else "pr-42",
            "stack": stack,
            "managed-by": "cdktf",
        },
    )
    _flagged(tags, "data: provider aws default_tags", "tags overrides default tag(s) ['stage']")


def test_protection_check_flags_unprotected_production_data(production: Synth) -> None:
    stacks = copy.deepcopy(stacks_on_disk(production))
    zone = next(iter(stacks["dns"]["resource"]["aws_route53_zone"]))
    del stacks["dns"]["resource"]["aws_route53_zone"][zone]["lifecycle"]
    stacks["edge"]["resource"].setdefault("aws_s3_bucket", {})["gate_canary_bucket"] = {"bucket_prefix": "x-"}
    problems = inv.check_protected(stacks)
    _flagged(problems, f"aws_route53_zone.{zone} holds data", "aws_s3_bucket.gate_canary_bucket holds data")
    assert len(problems) == 2, problems


def test_image_checks_flag_colliding_pushes_and_unlogged_exec_sessions(preview: Synth) -> None:
    stacks = copy.deepcopy(stacks_on_disk(preview))
    compute = stacks["compute"]["resource"]
    images, pushes = compute["docker_image"], compute["docker_registry_image"]
    api_image = next(n for n in images if n.startswith("api_image"))
    gateway_image = next(n for n in images if n.startswith("gateway_image"))
    api_push = next(n for n in pushes if n.startswith("api_image_push"))
    gateway_push = next(n for n in pushes if n.startswith("gateway_image_push"))
    # api: back to a tag that is only the content hash (the defect of issue #18) ...
    images[api_image]["name"] = images[api_image]["name"].split("-${terraform_data.")[0]
    # ... gateway: built from the distroless stage while its sessions are logged.
    images[gateway_image]["build"]["target"] = "runtime"
    problems = inv.check_image_pushes(stacks)
    _flagged(problems, f"docker_registry_image.{api_push} pushes tag", "without a terraform_data id")
    _flagged(
        problems, f"docker_registry_image.{gateway_push}: build ['target'] of docker_image not in the push triggers"
    )
    assert len(problems) == 2, problems
    logging = inv.check_exec_session_logging(stacks)
    _flagged(
        logging,
        "container HeboGatewayService: ECS Exec logging OVERRIDE needs ['cat', 'script'], which "
        "Dockerfile.gateway stage 'runtime' (FROM gcr.io/distroless/cc-debian12:nonroot) lacks",
    )
    assert len(logging) == 1, logging
    # Sessions not logged need no tools; a push id whose triggers miss one of the push's is flagged.
    cluster = next(iter(compute["aws_ecs_cluster"].values()))
    cluster["configuration"]["execute_command_configuration"]["logging"] = "NONE"
    assert inv.check_exec_session_logging(stacks) == []
    push_id = next(c for n, c in compute["terraform_data"].items() if n.startswith("gateway_image_push_id"))
    del push_id["triggers_replace"]["context_sha256"]
    _flagged(inv.check_image_pushes(stacks), f"docker_registry_image.{gateway_push}: terraform_data.")


def test_role_trust_check_flags_undocumented_and_missing_keys(preview: Synth) -> None:
    """Defect kind of issue #14.6: an execution role that requires aws:SourceArn, a task role
    without it, and a trust for a principal nobody has documented."""
    stacks = copy.deepcopy(stacks_on_disk(preview))
    docs = stacks["compute"]["data"]["aws_iam_policy_document"]
    (execution,) = [k for k in docs if k.startswith("api_execution_role_trust")]
    (task,) = [k for k in docs if k.startswith("api_task_role_trust")]
    docs[execution]["statement"][0]["condition"].append(
        {"test": "ArnLike", "variable": "aws:SourceArn", "values": ["arn:aws:ecs:us-east-1:1:*"]}
    )
    docs[task]["statement"][0]["condition"] = docs[task]["statement"][0]["condition"][:1]
    (migrator,) = [k for k in stacks["data"]["data"]["aws_iam_policy_document"] if k.startswith("migrator_role_trust")]
    stacks["data"]["data"]["aws_iam_policy_document"][migrator]["statement"][0]["principals"][0]["identifiers"] = [
        "glue.amazonaws.com"
    ]
    problems = inv.check_role_trust(stacks)
    _flagged(
        problems,
        "api_execution_role",
        "as execution role: condition keys ['aws:SourceArn'] are not documented",
        "api_task_role",
        "as task role: lacks ['aws:SourceArn']",
        "(trusts glue.amazonaws.com): no TRUST_CONDITION_KEYS row",
    )
    assert len(problems) == 3, problems


@pytest.fixture(scope="module")
def broken_scan(broken_preview: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> ScanResult:
    subset = {k: broken_preview[k] for k in ("network", "data", "compute")}
    try:
        return run_checkov({"preview": subset}, tmp_path_factory.mktemp("checkov-broken"))
    except CheckovError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.mark.slow  # a checkov scan (see test_checkov.py)
@pytest.mark.parametrize(
    ("check_id", "stack", "address"),
    [
        ("CKV_AWS_24", "network", f"aws_vpc_security_group_ingress_rule.{SSH_RULE}"),
        ("CKV_AWS_24", "network", f"aws_security_group.{INLINE_SG}"),
        ("CKV2_HEBO_1", "data", "aws_db_proxy.gate_canary_proxy"),
        ("CKV2_HEBO_2", "compute", "aws_lb.gate_canary_lb"),
        ("CKV2_HEBO_3", "compute", "aws_lb_listener.gate_canary_listener"),
        ("CKV_AWS_131", "compute", "aws_lb.gate_canary_lb"),
    ],
)
def test_checkov_flags_breakage_by_resource(broken_scan: ScanResult, check_id: str, stack: str, address: str) -> None:
    unsuppressed, _ = apply(broken_scan.failed("preview"), load_suppressions())
    hits = [f for f in unsuppressed if (f.check_id, f.stack, f.address) == (check_id, stack, address)]
    assert hits, f"{check_id} did not flag {stack}/{address}"


@pytest.mark.slow  # a checkov scan
def test_unstripped_required_version_is_a_parse_error_not_a_green_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """checkov#7454: without our workaround the scan must fail loudly (if this starts passing,
    checkov fixed the bug and strip_for_checkov can go)."""
    monkeypatch.setattr(checkov_runner, "strip_for_checkov", lambda body: body)
    stack = {
        "terraform": {"required_version": ">= 1.11.0"},
        "resource": {"aws_vpc": {"vpc": {"cidr_block": "10.0.0.0/16"}}},
    }
    with pytest.raises(CheckovError, match="could not parse"):
        run_checkov({"preview": {"network": stack}}, tmp_path, external_checks_dir=None)

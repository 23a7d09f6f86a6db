"""Every IAM role a preview creates carries exactly the preview permissions boundary, and the
boundary and the deploy role fit what those roles are (whole-app, over the synthesized JSON)."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from config.naming import permissions_boundary_name
from ops import deploy_role
from tools.iam_eval.engine import action_matches

BOUNDARY = (
    "arn:${data.aws_partition.partition.partition}:iam::"
    "${data.aws_caller_identity.account.account_id}:policy/" + permissions_boundary_name("hebo")
)
"""The boundary is composed from the stack's one account/partition pair (modules/account.py)."""
CONFIG = deploy_role.DeployRoleConfig(
    github_repo="o/r", state_bucket="s", lock_table="", zone="hebo.ai", secrets_from="dev"
)


def roles(synth):
    return [
        (stack, name, role) for stack in synth.stacks for name, role in synth.resources(stack, "aws_iam_role").items()
    ]


def test_every_preview_role_carries_exactly_the_boundary(preview):
    found = roles(preview)
    assert len(found) >= 7  # exec and task roles of both services, migrator, bastion, flow logs
    assert [
        (stack, name, role.get("permissions_boundary"))
        for stack, name, role in found
        if role.get("permissions_boundary") != BOUNDARY
    ] == []
    for stack in {stack for stack, _, _ in found}:
        assert "partition" in preview.data_sources(stack, "aws_partition"), stack
        assert "account" in preview.data_sources(stack, "aws_caller_identity"), stack


def test_dev_and_production_roles_carry_none(dev, production):
    """Deployed by administrators; the preview boundary would deny their own stage (config/stage.py)."""
    for synth in (dev, production):
        found = roles(synth)
        assert found and [name for _, name, role in found if "permissions_boundary" in role] == []


def test_the_deploy_role_passes_each_preview_role_only_to_its_own_service(preview):
    found = roles(preview)
    assert found
    for _, _, role in found:
        trust = preview_trust_service(preview, role)
        patterns = {
            f"hebo-pr-*{suffix}": service
            for service, suffixes in deploy_role.PASSED_ROLES.items()
            for suffix in suffixes
        }
        matching = {service for pattern, service in patterns.items() if fnmatchcase(role["name"], pattern)}
        assert matching == {trust}, (role["name"], trust, matching)


def preview_trust_service(synth, role) -> str:
    (statement,) = document_of(synth, role["assume_role_policy"])["statement"]
    (principal,) = statement["principals"]
    (service,) = principal["identifiers"]
    return service


def document_of(synth, reference: str) -> dict:
    """The `aws_iam_policy_document` a `${data.aws_iam_policy_document.<name>.json}` reference names."""
    kind, name, attribute = reference.removeprefix("${data.").removesuffix("}").split(".")
    assert (kind, attribute) == ("aws_iam_policy_document", "json"), reference
    found = [d[name] for stack in synth.stacks if name in (d := synth.data_sources(stack, kind))]
    assert len(found) == 1, reference
    return found[0]


def test_the_boundary_allows_every_action_a_preview_role_is_granted(preview):
    """Actions only: the boundary's resource scoping is covered by tests/security; an action the
    boundary lacks would make a preview workload fail at run time, not at deploy."""
    boundary = deploy_role.boundary_policy(CONFIG, "123456789012")
    allowed_patterns = [a for s in boundary["Statement"] if s["Effect"] == "Allow" for a in s["Action"]]
    granted = set()
    policies = [p for stack in preview.stacks for p in preview.resources(stack, "aws_iam_role_policy").values()]
    assert len(policies) >= 5
    for policy in policies:
        for statement in document_of(preview, policy["policy"])["statement"]:
            assert statement.get("effect", "Allow") == "Allow" and not statement.get("principals")
            granted.update(statement["actions"])
    assert len(granted) >= 10, sorted(granted)
    assert sorted(a for a in granted if not action_matches(allowed_patterns, a)) == []


def test_the_boundary_name_is_in_the_naming_catalog(preview):
    assert ("iam_policy", "hebo-preview-boundary") in preview.settings.names.catalog()
    assert json.dumps(preview.stacks).count("policy/hebo-preview-boundary") == len(roles(preview))


def test_the_boundary_adds_no_account_or_partition_data_source(preview, dev, production):
    """The boundary ARN reuses the stack's `account`/`partition` pair (modules/account.py); no stack
    of any stage holds a boundary-only one."""
    checked = 0
    for synth in (preview, dev, production):
        for stack in synth.stacks:
            for data_type in ("aws_caller_identity", "aws_partition"):
                found = list(synth.data_sources(stack, data_type))
                assert [name for name in found if "boundary" in name] == [], (stack, found)
                checked += bool(found)
    assert checked >= 10

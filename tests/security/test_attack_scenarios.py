"""Attack scenarios (issue 25) and production calls (issue 26 item 3), kept as data in
scenarios.txt: each is evaluated by tools/iam_eval against the real documents `ops deploy-role`
builds, and must end in the named statement. Controls (`allow:<Sid>`) prove the policies still let
a preview do its work, so a policy that denies everything cannot pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops import deploy_role
from tools.iam_eval import Call, Resource, evaluate, evaluate_trust

ACCOUNT = "123456789012"
REPO = "hebo-ai/hebo-infra"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
CONFIG = deploy_role.DeployRoleConfig(
    github_repo=REPO,
    state_bucket="hebo-terraform-state",
    lock_table="hebo-terraform-locks",
    zone="hebo.ai",
    secrets_from="dev",
)
FACTS = deploy_role.AccountFacts(
    protected_cloudfront=(
        f"arn:aws:cloudfront::{ACCOUNT}:origin-access-control/E2PRODOAC",
        f"arn:aws:cloudfront::{ACCOUNT}:response-headers-policy/rhp-production",
    ),
    hosted_zone_id="Z123",
    other_stage_subnets=("subnet-dev", "subnet-prod"),
    other_vpcs=("vpc-default", "vpc-dev", "vpc-prod"),
    region="us-east-1",
    state_key=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/state-key",
    unadoptable=(
        f"arn:aws:cloudfront::{ACCOUNT}:distribution/EHANDMADE",
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/state-key",
    ),
)
"""What `ops deploy-role` finds in the account: production's origin access control and response
headers policy (ids in scenarios.txt), the public zone hebo.ai, production's and dev's subnets, and
their VPCs and the default VPC, all in us-east-1 (the region `ops deploy-role` ran in); an untagged
hand-made distribution and the state bucket's untagged key (`ops bootstrap --kms-key-id`)."""
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/hebo-preview-boundary"
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AdminInlinePolicy", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
SCENARIO_FILE = Path(__file__).with_name("scenarios.txt")


def _expand(text: str) -> str:
    return text.replace("{A}", ACCOUNT).replace("{B}", BOUNDARY_ARN).replace("{G}", PROVIDER)


def _context(text: str) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {}
    for item in filter(None, (part.strip() for part in _expand(text).split(";"))):
        key, _, value = item.partition("=")
        context[key] = [v for v in value[1:-1].split(",") if v] if value.startswith("[") else value
    return context


def load() -> list[tuple[str, ...]]:
    rows = []
    for line in SCENARIO_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = tuple(f.strip() for f in line.split("|"))
            assert len(fields) == 7, f"scenarios.txt: 7 fields expected: {line}"
            rows.append(fields)
    return rows


SCENARIOS = load()


def test_the_issue_lists_scenarios_are_all_there():
    names = {row[0] for row in SCENARIOS}
    attacks = [row for row in SCENARIOS if not row[0].startswith("CONTROL")]
    assert len(attacks) >= 60 and len(SCENARIOS) - len(attacks) >= 10
    for required in (
        "create a role without the boundary",
        "admin inline policy on an unbounded hebo-pr role",
        "delete a role's boundary",
        "replace a role's boundary",
        "pass a production role to ECS",
        "create a service in the production cluster",
        "run a preview task in the production cluster",
        "re-tag dev's migrator as a preview",
        "re-tag a production subnet",
        "read production state",
        "write production state",
        "read a production secret",
        "update dev's migrator code",
        "another repository",
        "a fork of this repository",
        "another branch",
        "a pull_request job outside the environment",
    ):
        assert required in names, required


@pytest.mark.parametrize(
    "name,principal,action,resource,tags,context,expected", SCENARIOS, ids=[row[0] for row in SCENARIOS]
)
def test_scenario(name, principal, action, resource, tags, context, expected):
    claims = _context(context)
    if principal == "trust":
        github = {f"token.actions.githubusercontent.com:{k}": v for k, v in claims.items()}
        decision = evaluate_trust(
            deploy_role.trust_policy(CONFIG, PROVIDER),
            action,
            {"Federated": PROVIDER},
            github,
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/hebo-preview-deploy",
        )
    else:
        target = Resource(_expand(resource), dict(t.split("=", 1) for t in tags.split(",") if t))
        call = Call(
            seq=1,
            access_key_id="ASIAATTACKER",
            service=action.split(":")[0],
            operation=action.split(":")[1],
            action=action,
            resources=(target,),
            context=claims,
        )
        if principal == "deploy":
            decision = evaluate(
                call,
                [
                    deploy_role.permissions_policy(CONFIG, ACCOUNT, facts=FACTS),
                    deploy_role.grants_policy(CONFIG, ACCOUNT, facts=FACTS),
                    deploy_role.guardrails_policy(CONFIG, ACCOUNT, facts=FACTS),
                    deploy_role.account_denies_policy(CONFIG, ACCOUNT, facts=FACTS),
                ],
                None,
            )
        else:
            assert principal == "workload", principal
            decision = evaluate(call, [ADMIN], deploy_role.boundary_policy(CONFIG, ACCOUNT))
    if expected.startswith("allow:"):
        assert (decision.allowed, decision.statement) == (True, expected.removeprefix("allow:")), name
    else:
        assert (decision.allowed, decision.statement) == (False, expected), name


PRINCIPAL_KEYS = ("aws:principalarn", "aws:userid", "aws:username", "aws:principaltag/", "aws:sourceidentity")
"""Condition keys that say which role is acting (IAM User Guide, "AWS global condition context keys")."""


def test_no_boundary_allow_is_reserved_for_one_kind_of_preview_role():
    """Whole kind of attack review 5, finding 2: a PR creates any `hebo-pr-*` role with a trust policy
    of its choosing (IAM has no condition key on a trust policy's content) and tags it, so an Allow
    of the boundary reserved by the acting role's name or tags (`-db-monitoring` for RDS) is
    reachable by whoever the PR's trust policy names. Denies may use these keys; Allows may not."""
    allows = [s for s in deploy_role.boundary_policy(CONFIG, ACCOUNT)["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) >= 5
    reserved = [
        (statement["Sid"], key)
        for statement in allows
        for operator in statement.get("Condition", {}).values()
        for key in operator
        if key.lower().startswith(PRINCIPAL_KEYS)
    ]
    assert reserved == []

"""The deploy role against calls a preview deploy really makes (tests/fixtures/deploy-role-calls.jsonl,
recorded as the role on moto by tests/iam_eval/deploy_role_calls.py), and `python -m
tools.iam_eval.unused`: the whole role allows every call, and a copy without one needed statement
reports exactly the calls that statement allowed (issue 26: "the same run with a deliberately
weakened role copy reports the denial")."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tools.emulator_calls import read_calls
from tools.iam_eval.unused import main, role_calls, role_documents, usage_report

FIXTURE = Path(__file__).parents[1] / "fixtures" / "deploy-role-calls.jsonl"
ROLE = "hebo-preview-deploy"
ACCOUNT = "123456789012"


def _without(documents: list[dict], sid: str) -> list[dict]:
    """A copy of the role's documents with the statement `sid` removed (it must exist)."""
    found = [s for d in documents for s in d["Statement"] if s.get("Sid") == sid]
    assert len(found) == 1, sid
    return [{**d, "Statement": [s for s in d["Statement"] if s.get("Sid") != sid]} for d in documents]


def test_the_fixture_is_the_roles_real_calls() -> None:
    calls = read_calls(FIXTURE)
    mine, account = role_calls(calls, ROLE)
    assert (
        account == ACCOUNT and len(mine) == 15
    )  # every line signed with the session key (its GetCallerIdentity included)
    assert {c.access_key_id for c in mine} != {"testing"}


def test_the_whole_role_allows_every_recorded_call() -> None:
    report = usage_report(read_calls(FIXTURE), ROLE, role_documents("pr-42", ACCOUNT), {})
    assert (report.evaluation.calls_evaluated, report.evaluation.denied) == (15, [])
    assert len(report.evaluation.actions_used) == 14


@pytest.mark.parametrize(
    "sid,denied",
    [
        (
            "PreviewSecrets",
            {
                ("secretsmanager:CreateSecret", "implicit deny: no statement allows"),
                ("secretsmanager:TagResource", "implicit deny: no statement allows"),
                ("secretsmanager:DescribeSecret", "implicit deny: no statement allows"),
                ("secretsmanager:GetResourcePolicy", "implicit deny: no statement allows"),
            },
        ),
        (
            "PreviewRolesOnlyWithTheBoundary",
            {
                ("iam:CreateRole", "implicit deny: no statement allows"),
                ("iam:PutRolePolicy", "implicit deny: no statement allows"),
            },
        ),
        ("AttachOnlyTheStacksManagedPolicies", {("iam:AttachRolePolicy", "implicit deny: no statement allows")}),
        ("ManageTaggedAsPreview", {("logs:PutRetentionPolicy", "implicit deny: no statement allows")}),
        (
            "CreateTaggedAsPreview",
            {
                ("logs:CreateLogGroup", "implicit deny: no statement allows"),
                ("ec2:CreateVpc", "implicit deny: no statement allows"),
                ("ec2:CreateTags", "implicit deny: no statement allows"),
            },
        ),
        ("ReadOnlyDiscovery", {("ec2:DescribeSecurityGroups", "implicit deny: no statement allows")}),
    ],
)
def test_a_weakened_role_copy_reports_the_denial(sid: str, denied: set[tuple[str, str]]) -> None:
    weakened = _without(role_documents("pr-42", ACCOUNT), sid)
    report = usage_report(read_calls(FIXTURE), ROLE, weakened, {})
    assert {(d.action, d.statement) for d in report.evaluation.denied} == denied


def test_a_guardrail_added_to_a_copy_names_itself() -> None:
    """The default security group of the preview's own VPC is tagged after the VPC exists; listing
    that VPC among the account's other VPCs (as a converge before the preview existed would not)
    denies it by DenyAdoptingSecurityGroupsOfOtherVpcs."""
    from ops.deploy_role import AccountFacts

    calls = read_calls(FIXTURE)
    (tag,) = [c for c in calls if c.action == "ec2:CreateTags" and "security-group/" in c.resources[0].arn]
    vpc = str(tag.context["ec2:Vpc"]).rsplit("/", 1)[1]
    documents = role_documents("pr-42", ACCOUNT, facts=AccountFacts(other_vpcs=(vpc,)))
    report = usage_report(calls, ROLE, documents, {})
    assert [(d.action, d.resource, d.statement) for d in report.evaluation.denied] == [
        ("ec2:CreateTags", tag.resources[0].arn, "DenyAdoptingSecurityGroupsOfOtherVpcs")
    ]


def test_the_report_command_names_denials_and_unused_grants(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main([str(FIXTURE)], out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"role {ROLE}: 15 calls evaluated, 0 denied, 14 actions used"
    assert lines[1].startswith("unused grants: ") and "justified" in lines[1]
    assert "unused, not justified: ec2:DeleteVpc" in lines  # the fixture never destroys
    assert code == 1  # a deploy without its destroy leaves grants unused
    missing = tmp_path / "none.jsonl"
    assert main([str(missing)], io.StringIO()) == 2
    anonymous = tmp_path / "admin-only.jsonl"
    anonymous.write_text("".join(line + "\n" for line in FIXTURE.read_text().splitlines()[:3]))
    assert main([str(anonymous)], io.StringIO()) == 2


def test_no_session_of_the_role_is_a_clear_error(tmp_path: Path) -> None:
    calls = [c for c in read_calls(FIXTURE) if c.access_key_id == "testing"]
    with pytest.raises(ValueError, match="no AssumeRole\\* call for role 'hebo-preview-deploy' in the call log"):
        role_calls(calls, ROLE)


def test_every_justification_names_a_granted_action() -> None:
    """`NOT_EXERCISED` justifies only what the role grants: a stale entry (its grant removed) fails."""
    from ops.deploy_role import NOT_EXERCISED
    from tools.iam_eval import allowed_actions
    from tools.iam_eval.conditions import glob_match

    granted = {a for document in role_documents("pr-42", ACCOUNT) for a in allowed_actions(document)}
    assert len(NOT_EXERCISED) >= 10
    stale = [p for p in NOT_EXERCISED if not any(glob_match(p, a, ignore_case=True) for a in granted)]
    assert stale == []
    # ... and the tag- and name-scoped lists hold no pattern: each action is one the lifecycle made
    from ops.deploy_actions import CREATE_TAGGED, MANAGE_TAGGED, PREVIEW_NAMED, listed

    for table in (CREATE_TAGGED, MANAGE_TAGGED, PREVIEW_NAMED):
        actions = listed(table)
        assert actions and not [a for a in actions if "*" in a or "?" in a]
        assert len(set(actions)) == len(actions)


def test_the_documented_command_runs_from_a_shell() -> None:
    """docs/security.md: `.venv/bin/python -m tools.iam_eval.unused <call log>`."""
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "tools.iam_eval.unused", str(FIXTURE.relative_to(root))],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == f"role {ROLE}: 15 calls evaluated, 0 denied, 14 actions used"
    bad = subprocess.run(
        [sys.executable, "-m", "tools.iam_eval.unused", "no/such/log.jsonl"], cwd=root, capture_output=True, text=True
    )
    assert (bad.returncode, bad.stderr.count("\n"), bad.stdout) == (2, 1, "")
    assert bad.stderr.startswith("error: ") and "no/such/log.jsonl" in bad.stderr

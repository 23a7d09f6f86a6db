"""Least privilege by use: `.venv/bin/python -m tools.iam_eval.unused CALL_LOG`.

Evaluates the deploy role's recorded calls of a call log (tools/emulator_calls; `make
lifecycle-local` writes one) against the documents `ops deploy-role` builds for the stage
(`--stage`, default pr-42, with its settings as `tools/lifecycle.py` synthesizes it), offline: no
emulator is needed, so a saved log is re-evaluated in seconds after a change to ops/deploy_role.py.
Prints the denied calls, then every action the role's Allow statements grant that no recorded call
used: those `ops.deploy_role.NOT_EXERCISED` justifies (with its reason) and the rest, which must be
removed or justified there (docs/security.md, "Grants not exercised by the lifecycle, and why they
stay"). Exit 0 when nothing is denied and every unused grant is justified, 1 otherwise, 2 on bad
input (a one-line message).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tools.emulator_calls.record import Call, read_calls, session_roles
from tools.iam_eval.catalogue import expand
from tools.iam_eval.conditions import glob_match
from tools.iam_eval.report import EvaluationReport, evaluate_calls, unused_grants

GITHUB_REPO = "hebo-ai/hebo-infra"


@dataclass
class UsageReport:
    """`evaluation`: the role's calls evaluated; `unused`: granted actions no call used, each
    with the justification of `NOT_EXERCISED` that covers it (None: unjustified)."""

    role: str
    evaluation: EvaluationReport
    unused: dict[str, str | None] = field(default_factory=dict)

    @property
    def unjustified(self) -> list[str]:
        return sorted(a for a, why in self.unused.items() if why is None)


def role_config(stage: str, github_repo: str = GITHUB_REPO) -> Any:
    """The `DeployRoleConfig` `ops deploy-role --github-repo <repo>` builds from `stage`'s settings
    (as `tools/lifecycle.py` synthesizes the stage: tools.terraform_check.variant_env)."""
    from config.settings import Settings
    from ops import deploy_role
    from tools.terraform_check import variant_env

    settings = Settings.load(variant_env(stage), {})
    return deploy_role.DeployRoleConfig(
        github_repo=github_repo,
        state_bucket=settings.state_bucket,
        lock_table=settings.state_lock_table or "",
        zone=settings.zone,
        app=settings.app,
        secrets_from=settings.preview_secrets_from,
    )


def role_documents(stage: str, account: str, github_repo: str = GITHUB_REPO, facts: Any = None) -> list[dict[str, Any]]:
    """The deploy role's identity policies as `ops deploy-role --github-repo <repo>` converges them
    for `stage`'s settings (inline policy, then the grants, guardrails and account-denies policies). `facts`: the account facts
    (`ops.deploy_role.AccountFacts`); default: those of the lifecycle's emulator when the role
    converges (its default VPC, no other stage, no hosted zone yet)."""
    from ops import deploy_role

    config = role_config(stage, github_repo)
    facts = facts if facts is not None else deploy_role.AccountFacts(other_vpcs=("default",))
    return [
        deploy_role.permissions_policy(config, account, facts=facts),
        deploy_role.grants_policy(config, account, facts=facts),
        deploy_role.guardrails_policy(config, account, facts=facts),
        deploy_role.account_denies_policy(config, account, facts=facts),
    ]


def role_calls(calls: Sequence[Call], role_name: str) -> tuple[list[Call], str]:
    """The calls signed with session keys of `role_name` and that role's account.

    Raises ValueError when no recorded AssumeRole* call issued keys for the role."""
    roles = {key: arn for key, arn in session_roles(list(calls)).items() if arn.endswith(f":role/{role_name}")}
    if not roles:
        raise ValueError(f"no AssumeRole* call for role {role_name!r} in the call log")
    account = next(iter(roles.values())).split(":")[4]
    return [c for c in calls if c.access_key_id in roles], account


def justification(action: str, justified: Mapping[str, str]) -> str | None:
    """The reason of the first `justified` pattern (`service:Action*`) that names `action`."""
    return next((why for pattern, why in justified.items() if glob_match(pattern, action, ignore_case=True)), None)


def usage_report(
    calls: Sequence[Call],
    role_name: str,
    documents: Sequence[Mapping[str, Any]],
    justified: Mapping[str, str],
) -> UsageReport:
    """Evaluate `role_name`'s calls against `documents` and list the unused grants."""
    mine, _ = role_calls(calls, role_name)
    evaluation = evaluate_calls(mine, [dict(d) for d in documents], None)
    unused: dict[str, str | None] = {}
    for document in documents:
        for action in unused_grants(document, evaluation.actions_used):
            unused[action] = justification(action, justified)
    return UsageReport(role_name, evaluation, unused)


def print_report(report: UsageReport, out: TextIO, verbose: bool = False) -> None:
    """Denied calls, then unused grants (justified ones only counted unless `verbose`)."""
    evaluation = report.evaluation
    print(
        f"role {report.role}: {evaluation.calls_evaluated} calls evaluated, {len(evaluation.denied)} denied, "
        f"{len(evaluation.actions_used)} actions used",
        file=out,
    )
    kinds: dict[tuple[str, str, str], int] = {}
    for d in evaluation.denied:
        kinds[(d.action, d.resource, d.statement)] = kinds.get((d.action, d.resource, d.statement), 0) + 1
    for (action, resource, statement), count in sorted(kinds.items()):
        print(f"denied {count}x {action} {resource} ({statement})", file=out)
    justified = sorted(a for a, why in report.unused.items() if why is not None)
    print(f"unused grants: {len(report.unused)} ({len(justified)} justified, {len(report.unjustified)} not)", file=out)
    for action in justified if verbose else []:
        print(f"unused, justified: {action}: {report.unused[action]}", file=out)
    for action in report.unjustified:
        print(f"unused, not justified: {action}", file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    from ops import deploy_role

    parser = argparse.ArgumentParser(prog="python -m tools.iam_eval.unused", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "call_log",
        type=Path,
        help="a call log (JSON lines) the emulator recorded: `calls.jsonl` in the --work directory of "
        "`python -m tools.lifecycle`, or `emulator-calls.jsonl` beside an emulator test's workspace",
    )
    parser.add_argument("--stage", default="pr-42", help="the preview stage whose settings build the role (pr-42)")
    parser.add_argument(
        "--role-name",
        default=deploy_role.DEFAULT_ROLE_NAME,
        help=f"the role whose calls count (default {deploy_role.DEFAULT_ROLE_NAME})",
    )
    parser.add_argument("--verbose", action="store_true", help="also list the justified unused grants")
    args = parser.parse_args(argv)
    if not args.call_log.is_file():
        print(
            f"error: no call log at {args.call_log}: record one with `.venv/bin/python -m tools.lifecycle "
            "--work DIR` (DIR/calls.jsonl)",
            file=sys.stderr,
        )
        return 2
    try:
        calls = read_calls(args.call_log)
        _, account = role_calls(calls, args.role_name)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    documents = role_documents(args.stage, account)
    report = usage_report(calls, args.role_name, documents, deploy_role.NOT_EXERCISED)
    print_report(report, out, args.verbose)
    return 0 if not report.evaluation.denied and not report.unjustified else 1


def expanded(patterns: Sequence[str]) -> list[str]:
    """Every catalogue action the `Action` patterns name (for tests and docs)."""
    return sorted({a for p in patterns for a in expand(p)})


if __name__ == "__main__":
    sys.exit(main())

"""The `bin/ops` command line: its subcommands, flags and --help texts (`build_parser`).

Which setting each flag overrides is `FLAGS`; a flag's help names where its default comes from
(`HEBO_X`, the cdktf.json context key, the built-in default: the stacks' own resolver). Running a
parsed command, and its exit codes, is ops/cli.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from ops import bastion, deploy_role
from ops.aws import UsageError
from config.secrets import DERIVED_SECRETS, GENERATED_SECRETS, USER_SECRET_NAMES
from config.settings import SETTINGS

FLAGS: dict[str, dict[str, str]] = {
    "bootstrap": {"region": "state_region", "bucket": "state_bucket", "lock_table": "state_lock_table"},
    "deploy-role": {"region": "region", "secrets_from": "preview_secrets_from"},
    "secrets": {"stage": "stage", "app": "app", "region": "region"},
    "bastion": {"stage": "stage", "app": "app", "region": "region"},
}
"""Per command: argparse destination -> the setting that flag overrides (`Settings.load` overrides)."""


def _default(key: str) -> str:
    """Where a flag's default comes from, for --help: `HEBO_APP, cdktf context 'app', or hebo`."""
    setting = SETTINGS[key]
    default = f", or {setting.default}" if setting.default else ""
    return f"{setting.env}, cdktf context {setting.context_key!r}{default}"


EPILOG_MAIN = """\
examples:
  bin/ops bootstrap --region us-east-1 --dry-run
  bin/ops zone --name hebo.ai
  bin/ops deploy-role --github-repo hebo-ai/hebo-infra --secrets-from dev --dry-run
  bin/ops secrets list --stage pr-123
  bin/ops secrets set GroqApiKey --stage dev < groq.txt
  bin/ops secrets set-all --stage production --from-env-file secrets.env
  bin/ops bastion start --stage dev

exit codes: 0 ok, 1 AWS/operational failure or failed check, 2 usage or input error.
AWS access comes from the standard variables (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL for an emulator such as moto). See ops/README.md for the IAM permissions.
"""

EPILOG_BOOTSTRAP = """\
Creates (or converges) the S3 state bucket -- versioning, default encryption, all public access
blocked, BucketOwnerEnforced, a policy denying non-TLS requests, lifecycle (noncurrent versions
expire after 90 days, incomplete uploads abort after 7). Terraform locks state with a lock file in
the bucket (S3 native locking). Only with --lock-table (or HEBO_STATE_LOCK_TABLE) does it also
create the DynamoDB lock table Terraform deprecates (LockID hash key, on-demand, SSE,
point-in-time recovery, deletion protection), for teams migrating off it. Re-running changes only
what differs and prints "up to date" otherwise. Then prints the HEBO_STATE_* lines to export.

examples:
  bin/ops bootstrap --region us-east-1
  bin/ops bootstrap --region eu-west-1 --bucket acme-hebo-state --dry-run
  bin/ops bootstrap --region us-east-1 --lock-table hebo-terraform-locks   # migrating off DynamoDB
  bin/ops bootstrap --region us-east-1 --kms-key-id arn:aws:kms:us-east-1:111122223333:key/1234abcd-...
"""

EPILOG_DEPLOY_ROLE = """\
Creates (or converges) the GitHub Actions OIDC provider (token.actions.githubusercontent.com,
audience sts.amazonaws.com), the permissions boundary hebo-preview-boundary every preview role
carries, the grants, guardrails and account-denies policies, and the role .github/workflows/preview.yml
assumes: trusted only by repo:<owner>/<name>:environment:preview, allowed to deploy and destroy
pr-* stages (state keys pr-*/..., hebo-pr-* names, stage=pr-* tags, roles only with the
boundary), denied production, other stages and every way around the boundary. Prints
HEBO_PREVIEW_ROLE_ARN=... for the repository variable.
What the account holds is read when it runs: the CloudFront config other stages' distributions
use, the KMS keys and distributions without a stage tag and the state bucket's key, other stages'
subnets and VPCs, and the hosted zone's id. Re-run it after any of them changes (--dry-run shows
the drift).
docs/previews.md ("The deploy role") lists every permission and what AWS cannot scope.

examples:
  bin/ops deploy-role --github-repo hebo-ai/hebo-infra --dry-run
  bin/ops deploy-role --github-repo hebo-ai/hebo-infra --secrets-from dev
"""

EPILOG_ZONE = """\
Prints HEBO_ZONE_ID=Z... when exactly one public hosted zone has that name; the dns stack then
adopts it with an import block. Exit 1 when there is none (the dns stack will create it) or
several (pick one).

example:
  bin/ops zone --name hebo.ai
"""

EPILOG_SECRETS = f"""\
Secrets live at {{app}}/{{stage}}/{{Name}} in Secrets Manager; the data stack creates them empty.
Names: {", ".join(USER_SECRET_NAMES)}.
{"".join(f"{d.name} is derived: ops rewrites it from {' and '.join(d.inputs)} whenever one is set.{chr(10)}" for d in DERIVED_SECRETS)}\
{"".join(f"{g.name} is generated: set-all writes it when it has no value, `rotate {g.name}` replaces it.{chr(10)}" for g in GENERATED_SECRETS)}\
DbUsername must equal HEBO_DB_USERNAME (default heboadmin).
Values are never taken from the command line and never printed.

examples:
  bin/ops secrets list --stage pr-123            # exit 1 if any secret is not set
  bin/ops secrets set GroqApiKey --stage dev  # hidden prompt (twice)
  printf %s "$KEY" | bin/ops secrets set GroqApiKey --stage dev
  bin/ops secrets set DbPassword --stage dev --from-file ./db-password.txt
  bin/ops secrets set-all --stage dev --from-env-file .env.dev --dry-run
  bin/ops secrets unset VoyageApiKey --stage pr-123
  bin/ops secrets rotate DbAppCredentials --stage pr-123   # then invoke the migrator (docs/data.md)
"""


EPILOG_BASTION = """\
Non-production stages have an SSM-only bastion that the network stack creates stopped (an idle
stage pays only its volume). `start` starts it, waits until SSM lists its agent Online, and prints
only the instance id on stdout; `stop` stops it again. Production has no bastion.

examples:
  BASTION=$(bin/ops bastion start --stage dev)
  aws ssm start-session --target "$BASTION" --document-name AWS-StartPortForwardingSessionToRemoteHost \\
    --parameters host=<database endpoint>,portNumber=5432,localPortNumber=5432
  bin/ops bastion stop --stage dev
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main() owns every exit code."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            # argparse would echo them, and an extra argument may well be a pasted secret value.
            message = (
                "unexpected extra arguments (secret values are read from stdin, a prompt or --from-file, never argv)"
            )
        raise UsageError(f"{message} (see {self.prog} --help)")


FORMATTER = argparse.RawDescriptionHelpFormatter
"""Every parser keeps its epilog's line breaks (the examples)."""


def build_parser() -> argparse.ArgumentParser:
    """The `ops` argument parser: subcommands bootstrap, deploy-role, zone, secrets, bastion (errors raise UsageError)."""
    parser = _Parser(
        prog="ops",
        description=(
            "Operational commands for hebo-infra: remote-state bootstrap, the preview deploy role, "
            "hosted zone lookup, stage secrets, bastion."
        ),
        epilog=EPILOG_MAIN,
        formatter_class=FORMATTER,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in (_add_bootstrap, _add_deploy_role, _add_zone, _add_secrets, _add_bastion):
        add(sub)
    return parser


def _add_bootstrap(sub: argparse._SubParsersAction[_Parser]) -> None:
    """`ops bootstrap`: the state bucket's region, name, opt-in lock table and key."""
    boot = sub.add_parser(
        "bootstrap",
        help="create/converge the Terraform state bucket (and an opt-in lock table)",
        description="Create or converge the Terraform remote-state backend.",
        epilog=EPILOG_BOOTSTRAP,
        formatter_class=FORMATTER,
    )
    boot.add_argument(
        "--region",
        default=None,
        help=f"region of the bucket and table (default: {_default('state_region')}; else the region: {_default('region')})",
    )
    boot.add_argument("--bucket", default=None, help=f"state bucket name (default: {_default('state_bucket')})")
    boot.add_argument(
        "--lock-table",
        default=None,
        help="opt-in DynamoDB lock table (deprecated by Terraform; for teams migrating off it). "
        f"Default: {_default('state_lock_table')}, else none (S3 native locking only)",
    )
    boot.add_argument(
        "--kms-key-id",
        default=None,
        metavar="ARN",
        help="customer managed KMS key ARN for SSE-KMS (bucket, with bucket key) and the table; default SSE-S3",
    )
    boot.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")


def _add_deploy_role(sub: argparse._SubParsersAction[_Parser]) -> None:
    """`ops deploy-role`: the repository it trusts, the role's name, the template stage of previews' secrets."""
    role_p = sub.add_parser(
        "deploy-role",
        help="create/converge the GitHub OIDC provider and the preview deploy role",
        description="Create or converge the preview workflow's deploy role.",
        epilog=EPILOG_DEPLOY_ROLE,
        formatter_class=FORMATTER,
    )
    role_p.add_argument(
        "--github-repo", required=True, metavar="OWNER/NAME", help="the repository whose workflows may assume the role"
    )
    role_p.add_argument(
        "--role-name", default=deploy_role.DEFAULT_ROLE_NAME, help=f"default {deploy_role.DEFAULT_ROLE_NAME}"
    )
    role_p.add_argument(
        "--secrets-from",
        default=None,
        metavar="STAGE",
        help="template stage whose shared secrets previews read: describe them, read the two publishable values "
        f"(default: {_default('preview_secrets_from')}, the stacks' own setting)",
    )
    role_p.add_argument(
        "--region", default=None, help=f"region of the IAM calls (IAM is global; default: {_default('region')})"
    )
    role_p.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")


def _add_zone(sub: argparse._SubParsersAction[_Parser]) -> None:
    """`ops zone`: the zone name to look up."""
    zone_p = sub.add_parser(
        "zone",
        help="print HEBO_ZONE_ID for the existing public hosted zone",
        description="Find the public Route 53 hosted zone the dns stack should adopt.",
        epilog=EPILOG_ZONE,
        formatter_class=FORMATTER,
    )
    zone_p.add_argument("--name", default=None, help=f"zone name (default: {_default('zone')})")


def _add_secrets(sub: argparse._SubParsersAction[_Parser]) -> None:
    """`ops secrets ACTION`: list, set, unset, set-all, rotate; each takes the stage, app and region."""
    sec = sub.add_parser(
        "secrets",
        help="list/set/unset the stage secrets in Secrets Manager",
        description="Manage the stage secrets' values (the data stack owns the secrets themselves).",
        epilog=EPILOG_SECRETS,
        formatter_class=FORMATTER,
    )
    common = _Parser(add_help=False)
    common.add_argument("--stage", required=True, help="stage name, e.g. production, dev, pr-123")
    common.add_argument("--app", default=None, help=f"app name, first part of the path (default: {_default('app')})")
    common.add_argument("--region", default=None, help=f"region of the stage's secrets (default: {_default('region')})")
    writes = _Parser(add_help=False)
    writes.add_argument("--dry-run", action="store_true", help="validate and print what would change, write nothing")

    ssub = sec.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    ssub.required = True
    ssub.add_parser(
        "list",
        parents=[common],
        help="show which secrets are set; exit 1 if any is not",
        epilog="example:\n  bin/ops secrets list --stage pr-123",
        formatter_class=FORMATTER,
    )
    _add_secret_writes(ssub, [common, writes])


def _add_secret_writes(ssub: argparse._SubParsersAction[_Parser], parents: list[_Parser]) -> None:
    """The writing `ops secrets` actions (set, unset, set-all, rotate), with `parents`' flags."""
    set_p = ssub.add_parser(
        "set",
        parents=parents,
        help="set one value (stdin, hidden prompt, or --from-file)",
        epilog="examples:\n  bin/ops secrets set GroqApiKey --stage dev\n"
        "  bin/ops secrets set GroqApiKey --stage dev --from-file key.txt",
        formatter_class=FORMATTER,
    )
    set_p.add_argument("name", metavar="NAME", help=f"one of {', '.join(USER_SECRET_NAMES)}")
    set_p.add_argument(
        "--from-file", type=Path, metavar="FILE", help="read the value from FILE (one trailing newline is ignored)"
    )
    unset_p = ssub.add_parser(
        "unset",
        parents=parents,
        help="replace a value with the unset placeholder",
        epilog="example:\n  bin/ops secrets unset VoyageApiKey --stage pr-123",
        formatter_class=FORMATTER,
    )
    unset_p.add_argument(
        "name", metavar="NAME", help=f"one of {', '.join(USER_SECRET_NAMES)} (also unsets what is derived from it)"
    )
    all_p = ssub.add_parser(
        "set-all",
        parents=parents,
        help="set several values from a dotenv file",
        epilog="file format: Name=value per line, # comments, optional quotes, no `export`.\n"
        "example:\n  bin/ops secrets set-all --stage dev --from-env-file .env.dev",
        formatter_class=FORMATTER,
    )
    all_p.add_argument(
        "--from-env-file", type=Path, required=True, metavar="FILE", help="dotenv file of Name=value lines"
    )
    rotate_p = ssub.add_parser(
        "rotate",
        parents=parents,
        help="replace a generated secret with a fresh random value",
        epilog="example:\n  bin/ops secrets rotate DbAppCredentials --stage pr-123",
        formatter_class=FORMATTER,
    )
    rotate_p.add_argument("name", metavar="NAME", help=f"one of {', '.join(g.name for g in GENERATED_SECRETS)}")


def _add_bastion(sub: argparse._SubParsersAction[_Parser]) -> None:
    """`ops bastion start|stop`: the stage, app, region and how long to wait."""
    bas = sub.add_parser(
        "bastion",
        help="start/stop a non-production stage's SSM bastion",
        description="Start or stop the on-demand bastion of a stage.",
        epilog=EPILOG_BASTION,
        formatter_class=FORMATTER,
    )
    bas.add_argument("action", choices=["start", "stop"])
    bas.add_argument("--stage", required=True, help="stage name, e.g. dev, pr-123 (production has no bastion)")
    bas.add_argument("--app", default=None, help=f"app name (default: {_default('app')})")
    bas.add_argument("--region", default=None, help=f"region of the stage (default: {_default('region')})")
    bas.add_argument(
        "--timeout",
        type=int,
        default=bastion.DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up waiting after this long (default {bastion.DEFAULT_TIMEOUT_SECONDS})",
    )

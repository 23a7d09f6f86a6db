"""Running `bin/ops`: settings, input, dispatch and exit codes (0 ok, 1 failure/check failed, 2 usage).
The command line itself (subcommands, flags, --help) is ops/command_line.py.

Every command resolves its settings with the stacks' own resolver (`Settings.load`,
config/settings.py: HEBO_* variables over cdktf.json context over defaults), with its flags
(`--stage`, `--app`, `--region`, ...) as explicit overrides on top. So `ops bootstrap` creates
exactly the backend `cdktf deploy` will look for, and `ops secrets`/`ops bastion` address the
names the stacks build.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Sequence, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ops import bastion, bootstrap, deploy_role, secret_input, secrets, zone
from ops.aws import OpsError, UsageError, client, explain, make_session
from ops.command_line import FLAGS, build_parser
from config.errors import ConfigError
from config.settings import SETTINGS, Settings


def resolve_settings(args: argparse.Namespace) -> Settings:
    """The stacks' settings (`Settings.load`: env over cdktf.json context over defaults), with the
    flags the user gave as overrides, labelled as typed (`--stage`). Raises ConfigError."""
    overrides: dict[str, tuple[str, str]] = {}
    for dest, key in FLAGS.get(args.command, {}).items():
        raw = getattr(args, dest, None)
        if raw is not None:
            flag = "--" + dest.replace("_", "-")
            if key == "state_region":  # a region flag is never "empty": hold it to the region rule itself
                SETTINGS["region"].parse(flag, raw)
            overrides[key] = (flag, raw)
    return Settings.load(overrides=overrides)


def read_value(name: str, from_file: Path | None, stdin: TextIO) -> str:
    """The raw value from --from-file, piped stdin, or a hidden prompt typed twice; never argv."""
    if from_file is not None:
        try:
            return from_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"--from-file {from_file} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --from-file {from_file}: {type(exc).__name__}") from None
    if not stdin.isatty():
        return stdin.read(secret_input.MAX_VALUE_BYTES * 4 + 2)
    first = getpass.getpass(f"{name}: ")
    if getpass.getpass(f"{name} (again): ") != first:
        raise UsageError(f"the two values typed for {name} differ: nothing was written")
    return first


def _run(args: argparse.Namespace, out: TextIO, stdin: TextIO) -> int:
    settings = resolve_settings(args)
    if args.command == "bootstrap":
        region = settings.state_region or settings.region
        config = bootstrap.BootstrapConfig(
            bucket=settings.state_bucket,
            lock_table=settings.state_lock_table,
            region=region,
            kms_key_id=args.kms_key_id,
        )
        config.validate()
        return bootstrap.run(make_session(region), config, out, dry_run=args.dry_run)

    if args.command == "deploy-role":
        role_config = deploy_role.DeployRoleConfig(
            github_repo=args.github_repo,
            state_bucket=settings.state_bucket,
            lock_table=settings.state_lock_table or "",
            zone=settings.zone,
            app=settings.app,
            role_name=args.role_name,
            # The stacks' own setting unless overridden: a re-run without the flag must not strip the
            # template-secret grants running previews read at their next task start.
            secrets_from=settings.preview_secrets_from,
        )
        role_config.validate()
        return deploy_role.run(make_session(settings.region), role_config, out, dry_run=args.dry_run)

    if args.command == "zone":
        # --name is a lookup key `ops zone` normalizes (case, trailing dot), not a setting to validate.
        return zone.run(make_session(settings.region), args.name or settings.zone, out)
    if args.command == "bastion":
        return _bastion(args, settings, out)
    return _secrets(args, settings, out, stdin)


def _bastion(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """`ops bastion start|stop` for the resolved stage, app and region."""
    if not settings.policy.bastion:
        raise UsageError(f"stage {settings.stage!r} has no bastion (only non-production stages do)")
    if args.timeout < 1:
        raise UsageError(f"invalid --timeout {args.timeout}: must be at least 1 second")
    region = settings.region
    session = make_session(region)
    ec2 = client(session, "ec2", region)
    if args.action == "stop":
        return bastion.stop(ec2, settings.app, settings.stage, args.timeout, out)
    return bastion.start(ec2, client(session, "ssm", region), settings.app, settings.stage, args.timeout, out)


def _secrets(args: argparse.Namespace, settings: Settings, out: TextIO, stdin: TextIO) -> int:
    """`ops secrets ACTION` for the resolved stage, app and region: validate input, then call AWS."""
    app, stage, region, template = settings.app, settings.stage, settings.region, settings.preview_secrets_from
    if args.action in ("set", "unset"):
        secret_input.check_name(args.name, args.action)
    if args.action == "rotate":
        secret_input.check_generated(args.name)
    if args.action == "set":
        # Validate the input before touching AWS: a typo should not need credentials to report.
        values = {args.name: secret_input.clean_value(args.name, read_value(args.name, args.from_file, stdin))}
    elif args.action == "set-all":
        values = secret_input.parse_env_file(args.from_env_file)
    if args.action in ("set", "unset"):
        secret_input.check_owned(app, stage, [args.name], template)
    if args.action in ("set", "set-all"):
        secret_input.check_owned(app, stage, values, template)
        expected = {name: secret_input.configured(name, settings) for name in secret_input.MUST_EQUAL_SETTING}
        for name, value in values.items():
            secret_input.check_configured(name, value, expected)
    sm = client(make_session(region), "secretsmanager", region)
    if args.action == "list":
        return secrets.list_statuses(sm, app, stage, out, template)
    if args.action == "unset":
        return secrets.unset_value(sm, app, stage, args.name, out, args.dry_run)
    if args.action == "rotate":
        return secrets.rotate_value(sm, app, stage, args.name, out, args.dry_run)
    return secrets.set_values(
        sm, app, stage, values, out, args.dry_run, expected, generate_missing=args.action == "set-all"
    )


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """Run one command; returns the exit code and prints errors as one line on stderr."""
    out = out or sys.stdout
    err = err or sys.stderr
    stdin = stdin or sys.stdin
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _run(args, out, stdin)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except ConfigError as exc:
        print(f"ops: {exc}", file=err)
        return 2
    except OpsError as exc:
        print(f"ops: {exc}", file=err)
        return exc.exit_code
    except (ClientError, BotoCoreError) as exc:
        mapped = explain(exc)
        print(f"ops: {mapped}", file=err)
        return mapped.exit_code
    except KeyboardInterrupt:
        print("ops: interrupted", file=err)
        return 130

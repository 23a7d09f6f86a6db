"""A stage's whole life on the emulator (`make lifecycle-local`, `python -m tools.lifecycle`):

1. `deploy`: `dns` (the account's, administrator credentials), then the preview workflow's first
   deploy as the deploy role: `ops secrets list`, `network`, the data stack's secret containers
   (targeted), `ops secrets set-all`, then `data`, and `compute` alongside `edge`;
2. `second_plan`: every stack planned again — each plan must be empty (what the first runs found
   is in docs/terraform-checks.md, "What the second plans and the re-create found");
3. `redeploy`: new image digests for both services (prebuilt-image mode, `@sha256:` references)
   and a changed `HEBO_HEALTH_CHECK_PATH`: the plans hold exactly those changes (tests/terraform/test_preview_lifecycle.py), then
   they are applied;
4. `dependents` (previews only): the template stage's shared secrets are deleted while the preview
   exists, as destroying the template stage does (docs/previews.md, "When the template stage goes away");
5. `destroy`: the stage stacks in reverse dependency order (`edge` alongside `compute`, then
   `data`, `network`); then a sweep of the emulator for anything of the stage, every type the
   stacks declare (`tools/emulator_leftovers.py`) — 0 leftovers;
6. `recreate`: the same names deployed again.

The last line is `lifecycle: {json}` (issue 26's summary). Everything lives in the run's own
work directory and moto process, so runs can overlap with other tests. For a preview stage the
stage stacks and the workflow's `ops` commands run with the credentials of the deploy role that
`ops deploy-role` converged on the emulator, assumed by web identity as the workflow does.

Terraform flags: one `init` per stack directory (the redeploy's JSON is copied into the same
directories), a shared plugin cache, `-refresh=false` where the state was written moments ago by
this run (redeploy plan, destroy) — the second plans refresh, because comparing the emulator's
answers with the state is their point.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ops.deploy_role import ENVIRONMENT
from tools.emulator_leftovers import Sweep, sweep
from tools.moto_emulator import (
    EMULATOR_DB_PASSWORD,
    EMULATOR_SECRETS,
    MotoServer,
    PlanSummary,
    emulator_stack,
    moto_override,
    plan,
    seed_template_secrets,
    set_secrets,
)
from tools.terraform_check import (
    REPO_ROOT,
    CheckError,
    Terraform,
    Workspace,
    required_providers,
    synthesize,
    variant_env,
)

STAGE_STACKS = ("network", "data", "compute", "edge")
"""The stacks of one stage (the preview workflow's four); `dns` is the account's, deployed once."""

REDEPLOY_IMAGES = {
    "HEBO_API_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo-api@sha256:" + "a1" * 32,
    "HEBO_GATEWAY_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo-gateway@sha256:" + "b2" * 32,
}
"""The redeploy's images: immutable digest references, as a CI that pushes per commit would pass."""

REDEPLOY_HEALTH_CHECK_PATH = "/healthz"
"""The redeploy's one changed setting (HEBO_HEALTH_CHECK_PATH, default `/`)."""

WORKFLOW_DESTROY_ENV = {"TF_CLI_ARGS_destroy": "-refresh=false"}
"""What the preview workflow's destroy step exports (tested against .github/workflows/preview.yml):
`terraform destroy` without a refresh, so a preview is destroyed from its state alone and never
reads the template stage's secrets (which may be gone: docs/previews.md). Terraform's per-command
extra arguments: https://developer.hashicorp.com/terraform/cli/config/environment-variables#tf_cli_args-and-tf_cli_args_name"""

GITHUB_REPO = "hebo-ai/hebo-infra"
"""The repository `ops deploy-role` trusts on the emulator (the `sub` claims name it)."""


def log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class Identity:
    """Credentials for Terraform and the `ops` commands: the administrator's, or a role session."""

    name: str
    env: dict[str, str]

    def client(self, server: MotoServer, service: str, region: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=server.url,
            region_name=region,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=self.env.get("AWS_SESSION_TOKEN"),
        )


def administrator(server: MotoServer, region: str) -> Identity:
    return Identity("administrator", server.environment(region))


def github_token(subject: str) -> str:
    """An (unsigned) GitHub OIDC token with the claims the role's trust policy checks. moto does not
    verify web identity tokens; the trust policy's conditions are tested in tests/ops."""
    import base64

    def part(value: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {"iss": "https://token.actions.githubusercontent.com", "aud": "sts.amazonaws.com", "sub": subject}
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def ops(
    args: Sequence[str],
    identity: Identity,
    stage_env: Mapping[str, str],
    stdin: str | None = None,
    ok: Sequence[int] = (0,),
) -> subprocess.CompletedProcess[str]:
    """`python -m ops <args>` with `identity`'s credentials, as the workflow runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HEBO_"))}
    env.update(stage_env)
    env.update(
        identity.env,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [sys.executable, "-m", "ops", *args],
        input=stdin,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode not in ok:
        raise CheckError(
            f"ops {' '.join(args)} as {identity.name}: exit {done.returncode}: {(done.stderr or done.stdout).strip()[-1500:]}"
        )
    return done


def deploy_role(
    server: MotoServer, admin: Identity, stage_env: Mapping[str, str], template: str
) -> tuple[str, Identity]:
    """`ops deploy-role` on the emulator (administrator), then the role assumed by web identity,
    as aws-actions/configure-aws-credentials does. Returns (role name, the session's Identity)."""
    done = ops(["deploy-role", "--github-repo", GITHUB_REPO, "--secrets-from", template], admin, stage_env)
    (arn,) = [line.split("=", 1)[1] for line in done.stdout.splitlines() if line.startswith("HEBO_PREVIEW_ROLE_ARN=")]
    sts = admin.client(server, "sts", admin.env["AWS_REGION"])
    stage = stage_env["HEBO_STAGE"]
    creds = sts.assume_role_with_web_identity(
        RoleArn=arn,
        RoleSessionName=f"hebo-{stage}-lifecycle",
        DurationSeconds=7200,
        # the subject GitHub gives a job in the `preview` environment, as every job of preview.yml runs
        WebIdentityToken=github_token(f"repo:{GITHUB_REPO}:environment:{ENVIRONMENT}"),
    )["Credentials"]
    env = {
        **admin.env,
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"],
    }
    return arn.rsplit("/", 1)[1], Identity(f"role {arn.rsplit('/', 1)[1]}", env)


# --------------------------------------------------------------------------- terraform


def changed_attributes(change: Mapping[str, Any]) -> list[str]:
    """Top-level attributes whose planned value differs (or becomes unknown)."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k) or unknown.get(k) is True)


def pending_changes(summary: PlanSummary) -> dict[str, dict[str, Any]]:
    """`{address: {"actions": [...], "attributes": [...]}}` of every change that is not a no-op."""
    return {
        rc["address"]: {"actions": rc["change"]["actions"], "attributes": changed_attributes(rc["change"])}
        for rc in summary.changes
        if rc["change"]["actions"] != ["no-op"]
    }


@dataclass
class StageDirs:
    """The stage's stacks, each in its own scan directory, initialised once."""

    terraform: Terraform
    workspace: Workspace
    dirs: dict[str, Path] = field(default_factory=dict)

    def init(self, stack: str) -> Path:
        if stack not in self.dirs:
            self.dirs[stack] = emulator_stack(self.terraform, self.workspace, stack)
        return self.dirs[stack]

    def load(self, variant: Workspace, only: Sequence[str] | None = None) -> None:
        """Replace every stack's JSON (and assets) with `variant`'s, keeping `.terraform/`: a
        redeploy is new code in the same directories, no new `init`."""
        for stack, cwd in self.dirs.items():
            if only is not None and stack not in only:
                continue
            source = variant.outdir / "stacks" / stack
            for item in source.iterdir():
                target = cwd / item.name
                if item.is_dir():
                    shutil.copytree(item, target, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, target)
            path = cwd / "cdk.tf.json"
            stack_json = json.loads(path.read_text())
            for name, spec in stack_json.get("terraform", {}).get("required_providers", {}).items():
                spec["version"] = self.terraform.choices[name].version
            path.write_text(json.dumps(stack_json, indent=2))
            override = moto_override(stack_json)
            (cwd / "moto_override.tf.json").unlink(missing_ok=True)
            if override:
                (cwd / "moto_override.tf.json").write_text(json.dumps(override, indent=2))

    def plan(self, stack: str, identity: Identity, *flags: str) -> PlanSummary:
        return plan(self._as(identity), self.init(stack), stack, *flags)

    def apply(self, stack: str, identity: Identity, *args: str) -> None:
        """Apply the saved plan (no args), or `apply -auto-approve <args>`."""
        argv = ("-auto-approve", *args) if args else ("tfplan",)
        self._as(identity).run("apply", "-input=false", "-lock-timeout=30s", *argv, cwd=self.init(stack))

    def destroy(self, stack: str, identity: Identity) -> None:
        # As the workflow's `cdktf destroy` (`terraform destroy` with WORKFLOW_DESTROY_ENV): the
        # dependents phase removed the template stage's secrets this stage's data sources name.
        terraform = self._as(identity)
        terraform = dataclasses.replace(terraform, extra_env={**terraform.extra_env, **WORKFLOW_DESTROY_ENV})
        terraform.run("destroy", "-input=false", "-lock-timeout=30s", "-auto-approve", cwd=self.init(stack))

    def outputs(self, stack: str, identity: Identity) -> dict[str, Any]:
        shown = json.loads(self._as(identity).run("output", "-json", cwd=self.init(stack)).stdout)
        return {name: item["value"] for name, item in shown.items()}

    def _as(self, identity: Identity) -> Terraform:
        return dataclasses.replace(
            self.terraform,
            extra_env={**identity.env, "TF_VAR_db_password": EMULATOR_DB_PASSWORD, "PATH": aws_cli_path()},
        )


AWS_CLI_VENV = REPO_ROOT / ".venv-awscli"
"""The AWS CLI `make test-setup` installs (tests/terraform/awscli-requirements.txt): the edge stack's
CloudFront invalidation runs `aws cloudfront create-invalidation` in a local-exec provisioner, as on
the preview workflow's runner, which has the CLI; here it reaches the emulator by AWS_ENDPOINT_URL."""


def aws_cli_path() -> str:
    """PATH for Terraform's children: `.venv-awscli/bin` first when installed, else this process's
    PATH if it has an `aws`. Raises CheckError (one line, what to run) when neither has the CLI."""
    path = os.environ.get("PATH", "")
    if (AWS_CLI_VENV / "bin" / "aws").exists():
        return f"{AWS_CLI_VENV / 'bin'}{os.pathsep}{path}"
    if shutil.which("aws", path=path):
        return path
    raise CheckError(
        "the edge stack's invalidation runs the AWS CLI (`aws`), which is not installed: "
        "run `make test-setup` (it installs it into .venv-awscli)"
    )


def in_parallel(calls: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent steps at once (threads: each is a Terraform child process); every error is raised."""
    if not calls:
        return {}
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        return {name: future.result() for name, future in futures.items()}


# --------------------------------------------------------------------------- the run


@dataclass
class LifecycleRun:
    """Everything one run found; `summary()` is the `lifecycle: {json}` line."""

    stage: str
    applied: list[str] = field(default_factory=list)
    first_plans: dict[str, PlanSummary] = field(default_factory=dict)
    second_plans: dict[str, PlanSummary] = field(default_factory=dict)
    redeploy_plans: dict[str, PlanSummary] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    destroyed: list[str] = field(default_factory=list)
    sweep: Sweep | None = None
    presweep: Sweep | None = None
    """The same sweep while the stage is deployed: every enumerator must find the stage's objects."""
    recreated: bool = False
    recreate_plans: dict[str, PlanSummary] = field(default_factory=dict)
    resweep: Sweep | None = None
    """The same sweep after the re-create: the stage holds exactly what `presweep` found."""
    lost_answers: list[str] = field(default_factory=list)
    """The re-create's creates whose first answer the emulator lost (`MotoServer.lost_answers()`),
    each retried by the provider: with its client token, or the SDK's invocation id."""
    dependents: dict[str, Any] = field(default_factory=dict)
    role: str | None = None
    call_log: Path | None = None
    evaluation: dict[str, Any] = field(
        default_factory=lambda: {"calls_evaluated": None, "calls_denied": None, "denied": [], "reason": "not evaluated"}
    )
    seconds: dict[str, float] = field(default_factory=dict)
    template_secrets: bool = False
    failure: tuple[str, str] | None = None
    """`(phase, message)` of the command that stopped the run, if one did."""
    emulator_errors: list[str] = field(default_factory=list)
    """moto's own failures during the run (`MotoServer.server_errors()`: HTTP 5xx answers and
    their exceptions); what to read first when a command stopped the run."""

    def summary(self) -> dict[str, Any]:
        leftovers = self.sweep.found if self.sweep else []
        return {
            "stage": self.stage,
            "role": self.role,
            "applied": self.applied,
            "second_plan_changes": {s: len(p.pending) for s, p in self.second_plans.items()},
            "second_plan_pending": {s: pending_changes(p) for s, p in self.second_plans.items() if p.pending},
            "redeploy_changes": {s: pending_changes(p) for s, p in self.redeploy_plans.items()},
            "dependents": self.dependents,
            "destroyed": self.destroyed,
            "leftovers": {
                "count": len(leftovers),
                "first": [str(f) for f in leftovers[:5]],
                "types_checked": len(self.sweep.enumerated) if self.sweep else 0,
                "unenumerable": self.sweep.unenumerable if self.sweep else None,
                "found_while_deployed": len(self.presweep.found) if self.presweep else None,
                "found_after_recreate": len(self.resweep.found) if self.resweep else None,
            },
            "recreated": self.recreated,
            "lost_answers": {"count": len(self.lost_answers), "operations": sorted(set(self.lost_answers))},
            "calls_evaluated": self.evaluation["calls_evaluated"],
            "calls_denied": self.evaluation["calls_denied"],
            "denied": self.evaluation["denied"][:5],
            "evaluation_note": self.evaluation["reason"],
            "seconds": round(sum(self.seconds.values()), 1),
            "phase_seconds": {k: round(v, 1) for k, v in self.seconds.items()},
            "emulator_errors": {"count": len(self.emulator_errors), "last": self.emulator_errors[-3:]},
            **({"error": f"{self.failure[0]}: {self.failure[1]}"} if self.failure else {}),
        }

    @property
    def ok(self) -> bool:
        s = self.summary()
        return (
            self.failure is None
            and s["applied"] == ["dns", *STAGE_STACKS]
            and not any(s["second_plan_changes"].values())
            and s["destroyed"] == ["edge", "compute", "data", "network"]
            and s["leftovers"]["count"] == 0
            and not s["leftovers"]["unenumerable"]
            and s["recreated"]
            and not s["calls_denied"]
        )


class Lifecycle:
    """One stage's lifecycle against one emulator (see the module docstring)."""

    def __init__(self, stage: str, work: Path, server: MotoServer, log: Callable[[str], None] = log_to_stderr) -> None:
        self.stage, self.work, self.server, self.log = stage, work.resolve(), server, log
        self.run = LifecycleRun(stage)
        self.stage_env = variant_env(stage)

    def phase(self, name: str, step: Callable[[], Any]) -> Any:
        """Run one phase, recording its wall time in `run.seconds[name]`."""
        started = time.monotonic()
        try:
            return step()
        finally:
            self.run.seconds[name] = time.monotonic() - started
            self.log(f"lifecycle {self.stage}: {name} in {self.run.seconds[name]:.0f} s")

    # ----------------------------------------------------------------- setup

    def setup(self) -> None:
        """Synthesize the stage and its redeploy variant, one Terraform config, the identities."""
        from config.settings import Settings

        aws_cli_path()  # the edge apply runs the AWS CLI: a missing one stops the run here, not there

        self.workspace = synthesize(self.work / self.stage, self.stage_env)
        redeploy_env = {**self.stage_env, **REDEPLOY_IMAGES, "HEBO_HEALTH_CHECK_PATH": REDEPLOY_HEALTH_CHECK_PATH}
        self.redeploy = synthesize(self.work / f"{self.stage}-redeploy", redeploy_env)
        pins = {
            k: v for s in self.workspace.stacks() for k, v in required_providers(self.workspace.stack_json(s)).items()
        }
        terraform, choices = Terraform.prepare(self.work, pins)
        if choices.get("aws") is None:
            raise CheckError(
                "no source for hashicorp/aws (no filesystem mirror holds it and the registry is unreachable)"
            )
        shutil.rmtree(self.workspace.root / "terraform-state", ignore_errors=True)
        self.stacks = StageDirs(terraform, self.workspace)
        self.settings = Settings.load(self.stage_env, {})
        self.admin = administrator(self.server, self.settings.region)
        self.deployer = self.admin
        self.preview = not self.settings.policy.owns_app_secrets
        for stack in self.workspace.stacks():
            self.stacks.init(stack)

    def assume_deploy_role(self) -> None:
        """Previews: converge the deploy role (administrator) and run as it from here on."""
        if not self.preview:
            return
        self.run.role, self.deployer = deploy_role(
            self.server, self.admin, self.stage_env, self.settings.preview_secrets_from
        )

    # ----------------------------------------------------------------- phases

    def deploy(self, record: dict[str, PlanSummary], alongside: Callable[[], Any] | None = None) -> None:
        """The preview workflow's deploy job (first deploy of the stage), as `self.deployer`.

        `alongside`: a step run at the same time as network and data (the account's dns stack on
        a first deploy): neither reads it, compute and edge (which look up its zone) start after both."""
        in_parallel(
            {"stage": partial(self.deploy_network_and_data, record), **({"alongside": alongside} if alongside else {})}
        )
        downstream = in_parallel({s: partial(self.stacks.plan, s, self.deployer) for s in ("compute", "edge")})
        record.update(downstream)
        in_parallel({s: partial(self.stacks.apply, s, self.deployer) for s in ("compute", "edge")})

    def deploy_network_and_data(self, record: dict[str, PlanSummary]) -> None:
        """The deploy job up to the data stack: network, the secret containers, their values, data."""
        stage = ["--stage", self.stage]
        if self.preview:
            listed = ops(["secrets", "list", *stage], self.deployer, self.stage_env, ok=(1,))
            self.log(f"ops secrets list before the first deploy: exit {listed.returncode}")
        record["network"] = self.stacks.plan("network", self.deployer)
        self.stacks.apply("network", self.deployer)
        record["data"] = self.stacks.plan("data", self.deployer)
        targets = [
            f"-target=aws_secretsmanager_secret.{name}"
            for name in self.workspace.stack_json("data")["resource"]["aws_secretsmanager_secret"]
        ]
        self.stacks.apply("data", self.deployer, *targets)
        if self.preview:
            values = "DbUsername=heboadmin\nDbPassword=" + EMULATOR_DB_PASSWORD + "\n"
            env_file = self.work / f"{self.stage}-secrets.env"
            env_file.write_text(values)
            env_file.chmod(0o600)
            try:
                ops(["secrets", "set-all", *stage, "--from-env-file", str(env_file)], self.deployer, self.stage_env)
            finally:
                env_file.unlink()
            ops(["secrets", "list", *stage], self.deployer, self.stage_env)
            # the workflow's own `aws secretsmanager` calls: each secret's versions, then the password
            sm = self.deployer.client(self.server, "secretsmanager", self.settings.region)
            for name in ("DbUsername", "DbPassword", "DbAppCredentials"):
                sm.list_secret_version_ids(SecretId=self.settings.names.secret(name))
            sm.get_secret_value(SecretId=self.settings.names.secret("DbPassword"))
        else:
            set_secrets(self.workspace, self.server, EMULATOR_SECRETS)
        self.stacks.apply("data", self.deployer, "-refresh=false")  # the state is this run's, seconds old

    def account_dns(self) -> None:
        """What an administrator sets up once per account: the dns stack, the template stage's secrets."""
        self.run.first_plans["dns"] = self.stacks.plan("dns", self.admin)
        self.stacks.apply("dns", self.admin)
        self.run.applied.append("dns")
        self.run.template_secrets = seed_template_secrets(self.workspace, self.server)

    def apply_all(self) -> None:
        self.deploy(self.run.first_plans, alongside=self.account_dns)
        self.run.applied += list(STAGE_STACKS)
        self.run.outputs = {s: self.stacks.outputs(s, self.deployer) for s in ("network", "data")}

    def second_plan(self) -> None:
        identity = {s: self.admin if s == "dns" else self.deployer for s in self.workspace.stacks()}
        plans = in_parallel({s: partial(self.stacks.plan, s, identity[s]) for s in self.workspace.stacks()})
        self.run.second_plans = {s: plans[s] for s in self.workspace.stacks()}

    def redeploy_(self) -> None:
        self.stacks.load(self.redeploy)
        plans = in_parallel({s: partial(self.stacks.plan, s, self.deployer, "-refresh=false") for s in STAGE_STACKS})
        self.run.redeploy_plans = {s: plans[s] for s in STAGE_STACKS}
        changed = [s for s in STAGE_STACKS if plans[s].pending]
        for group in (("network",), ("data",), ("compute", "edge")):
            in_parallel({s: partial(self.stacks.apply, s, self.deployer) for s in group if s in changed})

    def template_secrets(self) -> list[str]:
        """Names of the template stage's shared secrets this preview reads (`hebo/dev/…`)."""
        from config.secrets import SHARED_BY_PREVIEWS

        return [self.settings.names.secret(secret) for secret in SHARED_BY_PREVIEWS]

    def drop_template_secrets(self) -> None:
        """What the template stage's destroy does to its shared secrets (recovery window 0)."""
        sm = self.admin.client(self.server, "secretsmanager", self.settings.region)
        for name in self.template_secrets():
            sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    def dependents(self) -> None:
        """The template stage re-created, then destroyed, while this preview exists (issue 26 item 4).

        Re-created: its shared secrets get new ARNs; the preview's next plan must pick them up
        (task definitions name secrets by ARN) and apply. Destroyed: the preview's next deploy
        must stop at plan with an error naming the missing template secret; its destroy (next
        phase) must still succeed.
        """
        if not self.preview:
            self.run.dependents = {"skipped": f"{self.stage} reads no template stage"}
            return
        self.drop_template_secrets()
        seed_template_secrets(self.workspace, self.server)
        dependants = ("compute", "edge")  # independent of each other: planned and applied at once
        replan = in_parallel({s: partial(self.stacks.plan, s, self.deployer) for s in dependants})
        self.run.dependents["template_recreated"] = {s: pending_changes(p) for s, p in replan.items()}
        in_parallel({s: partial(self.stacks.apply, s, self.deployer) for s in dependants if replan[s].pending})
        self.drop_template_secrets()
        self.run.dependents["template_destroyed_plan_errors"] = in_parallel(
            {s: partial(self.refused_plan, s) for s in dependants}
        )

    def refused_plan(self, stack: str) -> str | None:
        """None when `stack` plans, else the first `Error:` line of the failed plan."""
        try:
            self.stacks.plan(stack, self.deployer)
            return None
        except CheckError as error:
            return next(
                (line.strip() for line in str(error).splitlines() if line.strip().startswith("Error:")),
                str(error)[:300],
            )

    def destroy(self) -> None:
        in_parallel({s: partial(self.stacks.destroy, s, self.deployer) for s in ("edge", "compute")})
        self.run.destroyed += ["edge", "compute"]
        for stack in ("data", "network"):
            self.stacks.destroy(stack, self.deployer)
            self.run.destroyed.append(stack)

    def sweep(self) -> Sweep:
        stacks = [self.workspace.stack_json(s) for s in STAGE_STACKS]
        return sweep(
            stacks,
            self.stage,
            lambda service, region: self.admin.client(self.server, service, region),
            self.settings.region,
        )

    def presweep(self) -> None:
        self.run.presweep = self.sweep()

    def leftovers(self) -> None:
        self.run.sweep = self.sweep()

    def recreate(self) -> None:
        """The stage deployed again under the same names, with the emulator losing the first answer
        of every request that changes something (each create is retried as after a lost answer:
        tools/emulator_idempotency.py); then swept: the same objects as the first deploy."""
        self.stacks.load(self.workspace)
        if self.preview:
            seed_template_secrets(self.workspace, self.server)  # the template stage deployed again
        self.server.lose_first_answers()
        try:
            self.deploy(self.run.recreate_plans)
        finally:
            self.server.lose_first_answers(False)
            self.run.lost_answers = self.server.lost_answers()
        self.run.recreated = True
        self.run.resweep = self.sweep()

    def evaluate(self) -> None:
        """The deploy role's recorded calls against its policies and boundary (tools/iam_eval)."""
        if not self.preview:
            self.run.evaluation["reason"] = f"{self.stage} is not a preview: run with administrator credentials"
            return
        if self.run.call_log is None:
            self.run.evaluation["reason"] = "no call log: calls not recorded"
            return
        from tools import iam_eval

        if self.run.role is None:
            self.run.evaluation["reason"] = "the deploy role was never assumed: nothing ran as it"
            return
        report = iam_eval.evaluate_call_log(
            self.run.call_log, self.run.role, self.admin.client(self.server, "iam", self.settings.region)
        )
        self.run.evaluation = {
            "calls_evaluated": report.calls_evaluated,
            "calls_denied": len(report.denied),
            "denied": [f"{d.action} {d.resource} ({d.statement})" for d in report.denied],
            "reason": "evaluated with tools.iam_eval",
        }

    def execute(self) -> LifecycleRun:
        """Every phase in order. A failing Terraform or `ops` command stops the run: it is recorded
        in `run.failure` as `(phase, first lines)` (the summary's `error`), the calls made so far
        are still evaluated, and what the earlier phases found stays in `run`."""
        phases = [
            ("setup", self.setup),
            ("deploy_role", self.assume_deploy_role),
            ("apply", self.apply_all),
            ("second_plan", self.second_plan),
            ("redeploy", self.redeploy_),
            ("presweep", self.presweep),
            ("dependents", self.dependents),
            ("destroy", self.destroy),
            ("leftovers", self.leftovers),
            ("recreate", self.recreate),
        ]
        for name, step in phases:
            try:
                self.phase(name, step)
            except CheckError as error:
                self.run.failure = (name, "\n".join(str(error).splitlines()[:12]))  # the whole Terraform error block
                if name == "setup":
                    raise
                break
        self.phase("evaluate", self.evaluate)
        self.run.emulator_errors = self.server.server_errors()
        if self.run.failure:
            self.server.keep_log()
        return self.run


# --------------------------------------------------------------------------- production


@dataclass
class ProductionRun:
    """`plan_production`'s result: every stack's plan as configured (DNSSEC on), what was applied."""

    plans: dict[str, PlanSummary] = field(default_factory=dict)
    applied: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    lost_answers: list[str] = field(default_factory=list)
    """`MotoServer.lost_answers()` at the end: the creates retried after an injected lost answer."""

    def summary(self) -> dict[str, Any]:
        return {
            "stage": "production",
            "applied": self.applied,
            "lost_answers": len(self.lost_answers),
            "planned": {s: dict(sorted(p.count("create").items())) for s, p in self.plans.items()},
            "seconds": round(sum(self.seconds.values()), 1),
            "phase_seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def plan_production(work: Path, server: MotoServer, log: Callable[[str], None] = log_to_stderr) -> ProductionRun:
    """Plan production's five stacks as configured (global cluster, second region, RDS Proxy, WAF,
    DNSSEC) against `server`; `dns`, `network` and `data` are applied first so that `compute`
    and `edge` plan with their real remote state. `compute` is not applied: production's services
    wait for a steady state (`wait_for_steady_state`, circuit breaker with rollback) and moto runs
    no tasks, so the apply would wait until its bound (tried: still waiting after 6 min). `edge`
    applies on the emulator (the preview lifecycle does it) and is only planned here, for CI time.

    moto 5.2.5 has no Route 53 DNSSEC API (`CreateKeySigningKey`, `EnableHostedZoneDNSSEC`; see
    docs/terraform-checks.md): the applied `dns` is the same stack synthesized with DNSSEC off (zone
    and records identical), and the `dns` plan as configured is made against that state — it must
    add exactly the signing resources.
    """
    run = ProductionRun()
    started = time.monotonic()
    env = variant_env("production")
    workspace = synthesize(work / "production", env)
    unsigned = synthesize(work / "production-unsigned", {**env, "HEBO_ENABLE_DNSSEC": "false"})
    pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
    terraform, _ = Terraform.prepare(work, pins)
    shutil.rmtree(workspace.root / "terraform-state", ignore_errors=True)
    stacks = StageDirs(terraform, workspace)
    admin = administrator(server, "us-east-1")
    for stack in workspace.stacks():
        stacks.init(stack)
    run.seconds["setup"] = time.monotonic() - started

    def timed(name: str, step: Callable[[], Any]) -> Any:
        begun = time.monotonic()
        result = step()
        run.seconds[name] = time.monotonic() - begun
        log(f"production: {name} in {run.seconds[name]:.0f} s")
        return result

    def dns() -> None:
        stacks.load(unsigned, only=("dns",))
        stacks.plan("dns", admin)
        stacks.apply("dns", admin)
        stacks.load(workspace, only=("dns",))
        run.plans["dns"] = stacks.plan("dns", admin, "-refresh=false")

    timed("dns", dns)
    run.applied.append("dns")
    for stack in ("network", "data"):
        run.plans[stack] = timed(f"{stack}_plan", partial(stacks.plan, stack, admin))
        timed(f"{stack}_apply", partial(stacks.apply, stack, admin))
        run.applied.append(stack)
    set_secrets(workspace, server, EMULATOR_SECRETS)
    run.plans.update(
        timed(
            "compute_edge_plan", lambda: in_parallel({s: partial(stacks.plan, s, admin) for s in ("compute", "edge")})
        )
    )
    run.plans = {s: run.plans[s] for s in workspace.stacks()}
    run.lost_answers = server.lost_answers()
    return run


def start_server(work: Path) -> tuple[MotoServer, Path | None]:
    """The run's own moto process, recording every call it receives into `work/calls.jsonl`."""
    log = work / "calls.jsonl"
    return MotoServer(call_log=log), log


def main(argv: Sequence[str] | None = None) -> int:
    """`make lifecycle-local`: a stage's whole life on a local moto server; ends with `lifecycle: {json}`."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines reach a pipe or log as they happen
    parser = argparse.ArgumentParser(prog="lifecycle", description=main.__doc__)
    parser.add_argument("--stage", default=os.environ.get("HEBO_STAGE", "pr-42"))
    parser.add_argument("--work", default=None, help="scratch directory (default: a new one under build/)")
    parser.add_argument(
        "--production", action="store_true", help="instead: plan production's five stacks (dns, network, data applied)"
    )
    args = parser.parse_args(argv)
    if args.production:
        args.stage = "production"
    (REPO_ROOT / "build").mkdir(exist_ok=True)
    import tempfile

    work = (
        Path(args.work).resolve()
        if args.work
        else Path(tempfile.mkdtemp(prefix=f"lifecycle-{args.stage}-", dir=REPO_ROOT / "build"))
    )
    work.mkdir(parents=True, exist_ok=True)
    try:
        server, call_log = start_server(work)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.production:
        return _production_main(work, server, keep=bool(args.work))
    lifecycle = Lifecycle(args.stage, work, server)
    lifecycle.run.call_log = call_log
    failure = None
    try:
        lifecycle.execute()
    except CheckError as error:
        failure = str(error)
        print(f"error: {error}", file=sys.stderr)
    except Exception as error:  # noqa: BLE001 - a defect of this tool: still print what the run found so far
        failure = f"{type(error).__name__}: {error}"
        import traceback

        traceback.print_exc()
    finally:
        server.stop()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    summary = lifecycle.run.summary()
    if failure:
        summary["error"] = failure.splitlines()[0][:300]
    print("lifecycle: " + json.dumps(summary, sort_keys=False))
    return 0 if failure is None and lifecycle.run.ok else 1


def _production_main(work: Path, server: MotoServer, keep: bool) -> int:
    failure = None
    run = ProductionRun()
    try:
        run = plan_production(work, server)
    except CheckError as error:
        failure = str(error)
        print(f"error: {error}", file=sys.stderr)
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    summary = run.summary()
    if failure:
        summary["error"] = failure.splitlines()[0][:300]
    print("production-plan: " + json.dumps(summary))
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())

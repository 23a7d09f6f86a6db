"""Every command the documentation shows is one that works from a plain shell after the quick
start, and every file it (or a code comment) names exists.

Documents: README.md, docs/*.md, ops/README.md, lambdas/**/README.md. Commands are the lines of
fenced code blocks (only the `$ ` lines where a block shows a prompt) and inline code spans.
Checked per command:
* `cdktf` runs as `npx cdktf` (node_modules/.bin is not on a plain PATH);
* `cdktf deploy` names every dependency of each stack it names, `cdktf destroy` every dependant
  (read from the synthesized manifest, the way the cdktf CLI checks them), `cdktf diff` one
  stack; or the command carries `--ignore-missing-stack-dependencies`, which the docs use only
  where they say that the upstream stacks exist;
* `ops` runs as `bin/ops`, and each `bin/ops` command exists (`bin/ops <command> --help` exits 0
  from a plain shell); no `pipenv`, no bare `python` (`python3 -c` for a standard-library
  one-liner is fine); `.venv/bin/python <file>` names a file the repository has;
* `make <target>` names a target `make help` lists.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    {
        REPO_ROOT / "README.md",
        *REPO_ROOT.glob("docs/*.md"),
        REPO_ROOT / "ops" / "README.md",
        *REPO_ROOT.glob("lambdas/**/README.md"),
    }
)
STACKS = ("dns", "network", "data", "compute", "edge")
IGNORE_DEPENDENCIES = "--ignore-missing-stack-dependencies"
FENCE = re.compile(r"^( *)```([a-z]*)\n(.*?)^\1```", re.M | re.S)
INLINE = re.compile(r"``(.+?)``|`([^`\n]+)`")
ASSIGNMENT = re.compile(r"^(?:export\s+)?[A-Z_][A-Z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S*)\s*")
SEGMENT_SPLIT = re.compile(r"\|\||&&|[|;]|\$\(|\(|\)")


def shown_commands(kind: str = "") -> list[tuple[str, str]]:
    """(document, command line) for every command line shown (`kind`: "block" for fenced code
    blocks only, "inline" for code spans only, "" for both); continuation lines joined."""
    found: list[tuple[str, str, str]] = []
    for doc in DOCS:
        text = doc.read_text()
        name = str(doc.relative_to(REPO_ROOT))
        for match in FENCE.finditer(text):
            if match.group(2) not in ("", "bash", "sh", "shell", "console"):
                continue
            body = re.sub(r"\\\n\s*", " ", match.group(3))
            lines = [line.strip() for line in body.splitlines()]
            prompted = [line[2:] for line in lines if line.startswith("$ ")]
            for line in prompted if prompted else lines:
                line = line.split(" # ", 1)[0].split("  #", 1)[0].strip()
                if line and not line.startswith("#"):
                    found.append((name, line, "block"))
        prose = FENCE.sub("", text)
        for match in INLINE.finditer(prose):
            found.append((name, (match.group(1) or match.group(2)).strip(), "inline"))
    return [(doc, line) for doc, line, where in found if kind in ("", where)]


def segments(command: str) -> list[list[str]]:
    """The simple commands of a line (split at pipes, `&&`, `;`, `$(`), each without leading
    variable assignments, as words."""
    parts = []
    for segment in SEGMENT_SPLIT.split(command):
        segment = segment.strip()
        while ASSIGNMENT.match(segment):
            segment = ASSIGNMENT.sub("", segment, count=1)
        try:
            words = shlex.split(segment, comments=True)
        except ValueError:
            words = segment.split()
        if words:
            parts.append(words)
    return parts


def commands_starting(*prefix: str) -> list[tuple[str, str, list[str]]]:
    return [
        (doc, line, words)
        for doc, line in shown_commands()
        for words in segments(line)
        if words[: len(prefix)] == list(prefix)
    ]


@pytest.fixture(scope="module")
def manifest(dev) -> dict:
    return json.loads((dev.outdir / "manifest.json").read_text())


def test_documents_are_found_and_show_commands() -> None:
    assert {"README.md", "docs/data.md", "ops/README.md", "lambdas/migrator/README.md"} <= {
        str(d.relative_to(REPO_ROOT)) for d in DOCS
    }
    assert len(commands_starting("npx", "cdktf")) >= 20 and len(commands_starting("bin/ops")) >= 20


def test_cdktf_runs_through_npx() -> None:
    bare = [
        (doc, line)
        for doc, line in shown_commands()
        for words in segments(line)
        if words[0] == "cdktf"
        and len(words) > 1
        and words[1] in ("deploy", "destroy", "diff", "synth", "output", "get")
        and re.search(r"\bcdktf (deploy|destroy|diff|synth|output)\b", line)
        and any(w in STACKS or w.startswith("-") for w in words[2:])
    ]
    assert bare == []


def test_documented_cdktf_commands_name_what_the_cli_requires(manifest: dict) -> None:
    """The cdktf CLI's own checks (cli-core: deploy refuses a stack whose dependencies are not
    named, destroy one whose dependants are not named, diff takes one stack)."""
    dependencies = {name: set(stack["dependencies"]) for name, stack in manifest["stacks"].items()}
    assert dependencies["compute"] == {"network", "data"} and dependencies["dns"] == set()
    dependants = {name: {other for other, deps in dependencies.items() if name in deps} for name in dependencies}
    problems, checked = [], 0
    for verb in ("deploy", "destroy", "diff"):
        for doc, line, words in commands_starting("npx", "cdktf", verb):
            named = [w for w in words[3:] if not w.startswith("-")]
            if not named or named == ["…"]:
                continue  # the command's name in prose, or `npx cdktf deploy …`
            unknown = [w for w in named if w not in STACKS]
            if unknown:
                problems.append(f"{doc}: `{line}`: not a stack: {unknown}")
                continue
            checked += 1
            if verb == "diff":
                if len(named) != 1:
                    problems.append(f"{doc}: `{line}`: cdktf diff takes one stack")
                continue
            if IGNORE_DEPENDENCIES in words:
                continue
            needed = dependencies if verb == "deploy" else dependants
            missing = sorted(set().union(*(needed[s] for s in named)) - set(named))
            if missing:
                problems.append(
                    f"{doc}: `{line}`: cdktf refuses it, {'dependencies' if verb == 'deploy' else 'dependants'} not named: {missing}"
                )
    assert checked >= 15
    assert problems == []


def test_the_dependency_flag_is_used_only_where_the_doc_says_why() -> None:
    flagged = [(doc, line) for doc, line, words in commands_starting("npx", "cdktf") if IGNORE_DEPENDENCIES in words]
    assert flagged
    for doc, line in flagged:
        text = (REPO_ROOT / doc).read_text()
        at = text.index(line.split(IGNORE_DEPENDENCIES)[0].strip()[-40:])
        context = text[max(0, at - 300) : at + 400]
        assert re.search(r"exist(s)? already|once `data` exists|`data` exists", context), (doc, line)


def test_no_pipenv_bare_python_or_bare_ops() -> None:
    wrong = []
    blocks = shown_commands("block")
    for doc, line in shown_commands():
        for words in segments(line):
            head = words[0]
            if (
                head == "pipenv"
                or (head == "python" and len(words) > 1)
                or (head == "python3" and words[1:2] != ["-c"])
            ):
                wrong.append((doc, line))
            # In prose, `ops secrets set` or `ops bootstrap --lock-table NAME` names a command or
            # an option; in a code block, or with a full argument list, it is a command to run.
            if head == "ops" and ((doc, line) in blocks or len(words) > 4):
                wrong.append((doc, line))
    assert wrong == []


def test_venv_python_runs_files_the_repository_has() -> None:
    runs = commands_starting(".venv/bin/python")
    assert runs
    for doc, line, words in runs:
        target = words[1]
        if target == "-m":
            assert (
                (REPO_ROOT / words[2].replace(".", "/")).with_suffix(".py").exists()
                or (REPO_ROOT / words[2].replace(".", "/")).is_dir()
                or words[2] == "pytest"
            ), (doc, line)
        else:
            assert (REPO_ROOT / target).is_file(), (doc, line)


def test_every_documented_ops_command_exists(tmp_path: Path) -> None:
    subcommands = set()
    for _doc, _line, words in commands_starting("bin/ops"):
        path = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
        if path and path[0] in ("secrets", "bastion"):
            subcommands.add(tuple(path[:2]))
        elif path:
            subcommands.add(tuple(path[:1]))
    assert {("bootstrap",), ("zone",), ("deploy-role",), ("secrets", "set"), ("bastion", "start")} <= subcommands
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for command in sorted({path[0] for path in subcommands}):
        result = subprocess.run(
            [str(REPO_ROOT / "bin" / "ops"), command, "--help"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith(f"usage: ops {command} "), (command, result.stdout[:200])
        usage = result.stdout.split("\n\n", 1)[0].replace("\n", "").replace(" ", "")
        offered = {word for group in re.findall(r"\{([a-z,-]+)\}", usage) for word in group.split(",")}  # {start,stop}
        offered |= set(re.findall(r"^    ([a-z][a-z-]+)\s", result.stdout, re.M))  # an ACTION's sub-commands
        assert {path[1] for path in subcommands if path[0] == command and len(path) > 1} <= offered, (command, offered)


def test_documented_make_targets_exist() -> None:
    listed = set(re.findall(r"^([a-z][a-z-]*):.*## ", (REPO_ROOT / "Makefile").read_text(), re.M))
    used = {
        (doc, words[1]) for doc, _line, words in commands_starting("make") if len(words) > 1 and "=" not in words[1]
    }
    assert {target for _doc, target in used} >= {"synth", "test", "test-fast", "validate", "plan-local"}
    assert [(doc, target) for doc, target in sorted(used) if target not in listed] == []


# ----------------------------------------------------------------------------- links

LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PATH_MENTION = re.compile(r"(?<![\w./@-])((?:\.\./)*[\w.-]+/[\w./-]*\.(?:md|py|json|toml|yaml|yml|sh|txt))\b")
SOURCE_SUFFIXES = {".py", ".md", ".toml", ".yaml", ".yml", ".sh", ".js", ".ts"}


def repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    return [REPO_ROOT / name for name in listed.split("\0") if name and Path(name).suffix in SOURCE_SUFFIXES | {""}]


def test_markdown_links_point_at_files_the_repository_has() -> None:
    broken, seen = [], 0
    for doc in [p for p in repository_files() if p.suffix == ".md"]:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            seen += 1
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO_ROOT)} -> {target}")
    assert seen >= 10 and broken == []


def test_no_file_cites_a_document_outside_the_repository() -> None:
    """Comments and docs name files by repository path (or relative to themselves); a named
    `*.md` that exists in neither place is a dangling citation (such as a design document that
    never was in this repository)."""
    missing, seen = [], 0
    for path in repository_files():
        if not path.is_file() or path.name == "package-lock.json":
            continue
        for mention in set(PATH_MENTION.findall(path.read_text(errors="replace"))):
            if not mention.endswith(".md"):
                continue
            seen += 1
            if not ((REPO_ROOT / mention).exists() or (path.parent / mention).exists()):
                missing.append(f"{path.relative_to(REPO_ROOT)}: {mention}")
        text = path.read_text(errors="replace")
        if path != Path(__file__) and re.search(r"\bdesign\.md\b|\.\./shared/", text):
            missing.append(f"{path.relative_to(REPO_ROOT)}: cites design.md or ../shared")
    assert seen >= 20
    assert missing == []


def test_ops_launcher_says_what_to_run_without_a_venv_and_keeps_the_working_directory(tmp_path: Path) -> None:
    import shutil

    (tmp_path / "bin").mkdir()
    launcher = tmp_path / "bin" / "ops"
    shutil.copy2(REPO_ROOT / "bin" / "ops", launcher)
    result = subprocess.run(
        [str(launcher), "--help"], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert (
        result.stderr
        == f"error: {tmp_path}/.venv/bin/python not found: run `make synth` first (it installs the Python dependencies)\n"
    )
    # From another directory, a relative file argument is read relative to the caller (the file
    # is found and parsed: the error is about its content; nothing reaches AWS).
    (tmp_path / "x.env").write_text("NOT_A_SECRET=1\n")
    run = subprocess.run(
        [str(REPO_ROOT / "bin" / "ops"), "secrets", "set-all", "--stage", "dev", "--from-env-file", "x.env"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("ops: unknown secret name(s) in x.env: NOT_A_SECRET (valid: "), run.stderr

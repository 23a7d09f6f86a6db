#!/usr/bin/env python
"""Terraform itself on the synthesized stacks: provider sources, scan copies, bounded Terraform
commands and `validate`; the moto side (plan/apply against an emulator) is tools/moto_emulator.py.
Used by `tests/terraform/`, `make validate` and (through tools/moto_emulator.py) `make plan-local`:

    python -m tools.terraform_check validate              # production (DNSSEC on), pr-42, dev
    python -m tools.moto_emulator --stage pr-42           # `make plan-local`: the moto side

Nothing here edits a synthesized resource. Terraform runs in a *scan copy* of each stack
directory (`<variant>/scan/stacks/<stack>`, beside `<variant>/cdktf.out`, so the stack-relative
paths of the JSON resolve the same way) where only test-side things change:

* the provider version pin, when the provider comes from a filesystem mirror holding another
  version (this machine: hashicorp/aws 5.100.0 for the pinned 6.25.0; printed, never silent);
* for the emulator, one `moto_override.tf.json` per stack: skip-validation flags on every AWS
  provider configuration (https://developer.hashicorp.com/terraform/language/files/override).
  The endpoint and fake credentials come from the environment: `AWS_ENDPOINT_URL`, the AWS SDKs'
  global endpoint setting (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html),
  which the provider's SDK for Go v2 honours (verified here with provider 5.100.0).

Provider source (`TF_CHECK_PROVIDERS`): `registry` (download the pinned version through a shared
plugin cache), `mirror` (filesystem mirrors only), or `auto` (default: registry when
registry.terraform.io answers within `REGISTRY_PROBE_SECONDS`, else mirrors). Mirrors are the
directories in `TF_CHECK_MIRRORS` (colon-separated) or `MIRROR_DIRS`. An *unpacked* mirror is
symlinked into `.terraform/` by `terraform init` (about 30 KB per stack, measured), so the
~700 MB provider binary is never copied.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from config.naming import STACKS
from modules.cdk_flavour import without_settings

REPO_ROOT = Path(__file__).resolve().parent.parent

MIRROR_DIRS = (
    "/opt/tf-plugins",
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
)
"""Where filesystem mirrors are looked for: this machine image's mirror, then Terraform's own
implied local mirror directories on Linux
(https://developer.hashicorp.com/terraform/cli/config/config-file#implied-local-mirror-directories)."""

REGISTRY_PROBE_SECONDS = 3.0
"""Bound of the one HTTPS request that decides whether the registry is reachable (seconds)."""

TIMEOUTS = {"init": 120, "validate": 120, "plan": 300, "apply": 420, "destroy": 420, "show": 120, "output": 120}
"""Wall-clock bound of each Terraform command (seconds); a timeout kills Terraform and fails.
Apply's bound exceeds the provider's own longest waiter we meet against moto (3 min for an
IPv6 subnet association, see tools/moto_emulator.py EMULATOR_FIXES), so a fixed emulator never hits it."""

PREBUILT_IMAGES = {
    "HEBO_API_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo-api:1.0.0",
    "HEBO_GATEWAY_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo-gateway:1.0.0",
}
"""Prebuilt-image mode: no docker provider, no image build (moto's account id in the URIs)."""

STAGE_VARIANTS: dict[str, dict[str, str]] = {
    "production": {"HEBO_STAGE": "production", "HEBO_ENABLE_DNSSEC": "true"},
    "pr-42": {"HEBO_STAGE": "pr-42"},
    "dev": {"HEBO_STAGE": "dev"},
}
"""The stages the gate covers, with what each turns on (production signs the zone)."""


class CheckError(RuntimeError):
    """A Terraform command failed, timed out, or reported error diagnostics."""


# --------------------------------------------------------------------------- providers


@dataclass(frozen=True)
class ProviderChoice:
    """Where one provider comes from: `origin` is `registry` or a mirror directory."""

    name: str
    address: str
    """`registry.terraform.io/<namespace>/<type>`."""
    pinned: str
    version: str
    origin: str

    @property
    def differs(self) -> bool:
        """True when the chosen version is not the one the synthesized JSON pins."""
        return self.version != self.pinned

    def describe(self) -> str:
        """One line naming the provider, its version, where it comes from and whether that is the pin."""
        where = "the registry" if self.origin == "registry" else f"filesystem mirror {self.origin}"
        note = f" (differs from the pin {self.pinned})" if self.differs else " (the pinned version)"
        return f"{self.address.split('/', 1)[1]} {self.version} from {where}{note}"


def provider_address(source: str) -> str:
    """The full registry address of a provider source: `aws` -> `registry.terraform.io/hashicorp/aws`."""
    parts = source.split("/")
    if len(parts) == 1:
        parts = ["hashicorp", *parts]
    if len(parts) == 2:
        parts = ["registry.terraform.io", *parts]
    return "/".join(parts).lower()


def required_providers(stack: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """`{local name: (address, pinned version)}` of one synthesized stack."""
    found = stack.get("terraform", {}).get("required_providers", {})
    return {name: (provider_address(spec["source"]), spec["version"]) for name, spec in found.items()}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def mirror_versions(mirror: Path, address: str, platform: str) -> list[str]:
    """Versions of `address` a mirror holds for `platform` (unpacked or packed layout,
    https://developer.hashicorp.com/terraform/cli/config/config-file#filesystem_mirror)."""
    base = mirror / address
    if not base.is_dir():
        return []
    kind = address.rsplit("/", 1)[1]
    versions = {p.name for p in base.iterdir() if (p / platform).is_dir()}
    for packed in base.glob(f"terraform-provider-{kind}_*_{platform}.zip"):
        versions.add(packed.name.split("_")[1])
    return sorted(versions, key=_version_key)


def mirror_dirs() -> list[Path]:
    """The filesystem mirror directories that exist: TF_CHECK_MIRRORS (colon-separated), else MIRROR_DIRS."""
    raw = os.environ.get("TF_CHECK_MIRRORS")
    candidates = raw.split(":") if raw else list(MIRROR_DIRS)
    return [Path(c).expanduser() for c in candidates if c and Path(c).expanduser().is_dir()]


def registry_reachable(timeout: float = REGISTRY_PROBE_SECONDS) -> bool:
    """One request to the registry's service discovery document, in a daemon thread so that a
    slow DNS lookup (which urlopen's timeout does not cover) is bounded too."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(
                "https://registry.terraform.io/.well-known/terraform.json", timeout=timeout
            ) as response:
                answer.append(response.status == 200)
        except OSError:
            answer.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def terraform_platform() -> str:
    """Terraform's `<os>_<arch>` name of this machine, e.g. `linux_amd64`."""
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return f"{os.uname().sysname.lower()}_{arch}"


def choose_providers(pins: Mapping[str, tuple[str, str]], mode: str | None = None) -> dict[str, ProviderChoice | None]:
    """A source for every pinned provider, or None where none is available.

    mode: `registry`, `mirror` or `auto` (default `TF_CHECK_PROVIDERS`, else `auto`).
    Raises CheckError on an unknown mode.
    """
    mode = mode or os.environ.get("TF_CHECK_PROVIDERS", "auto")
    if mode not in ("registry", "mirror", "auto"):
        raise CheckError(f"invalid TF_CHECK_PROVIDERS {mode!r}: allowed are registry, mirror, auto")
    use_registry = mode == "registry" or (mode == "auto" and registry_reachable())
    platform = terraform_platform()
    choices: dict[str, ProviderChoice | None] = {}
    for name, (address, pinned) in pins.items():
        if use_registry:
            choices[name] = ProviderChoice(name, address, pinned, pinned, "registry")
            continue
        best: ProviderChoice | None = None
        for mirror in mirror_dirs():
            versions = mirror_versions(mirror, address, platform)
            if not versions:
                continue
            version = pinned if pinned in versions else versions[-1]
            candidate = ProviderChoice(name, address, pinned, version, str(mirror))
            if best is None or (not candidate.differs and best.differs):
                best = candidate
        choices[name] = best
    return choices


def cli_config(choices: Iterable[ProviderChoice], plugin_cache: Path) -> str:
    """A Terraform CLI configuration installing exactly the chosen providers
    (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-installation)."""
    mirrors: dict[str, list[str]] = {}
    direct: list[str] = []
    for choice in choices:
        if choice.origin == "registry":
            direct.append(choice.address)
        else:
            mirrors.setdefault(choice.origin, []).append(choice.address)
    blocks = [
        f"  filesystem_mirror {{\n    path    = {json.dumps(path)}\n    include = {json.dumps(sorted(set(addresses)))}\n  }}"
        for path, addresses in sorted(mirrors.items())
    ]
    if direct:
        blocks.append(f"  direct {{\n    include = {json.dumps(sorted(set(direct)))}\n  }}")
    return (
        f"plugin_cache_dir = {json.dumps(str(plugin_cache))}\n"
        "plugin_cache_may_break_dependency_lock_file = true\n"
        "provider_installation {\n" + "\n".join(blocks) + "\n}\n"
    )


# --------------------------------------------------------------------------- scan copies


def scan_copy(stack_dir: Path, dest: Path, choices: Mapping[str, ProviderChoice]) -> Path:
    """Copy one synthesized stack directory to `dest`, pins rewritten to the chosen versions."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(
        stack_dir, dest, ignore=shutil.ignore_patterns(".terraform")
    )  # the synth's working data (a symlink)
    path = dest / "cdk.tf.json"
    stack = json.loads(path.read_text())
    for name, spec in stack.get("terraform", {}).get("required_providers", {}).items():
        spec["version"] = choices[name].version
    path.write_text(json.dumps(stack, indent=2))
    return dest


@dataclass
class Workspace:
    """One synthesized variant and the scan copies Terraform runs in.

    Layout (mirrors a checkout: `cdktf.out/` beside `terraform-state/`):
    `root/cdktf.out/stacks/<stack>` (synth), `root/scan/stacks/<stack>` (Terraform),
    `root/terraform-state/<scope>/<stack>.tfstate` (local backend, stack-relative paths).
    """

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def outdir(self) -> Path:
        """Where the synth wrote (`<root>/cdktf.out`)."""
        return self.root / "cdktf.out"

    def stack_json(self, stack: str) -> dict[str, Any]:
        """The synthesized `cdk.tf.json` of `stack`, parsed."""
        return json.loads((self.outdir / "stacks" / stack / "cdk.tf.json").read_text())

    def stacks(self) -> list[str]:
        """The synthesized stacks, in deploy order (config.naming.STACKS), any others after them by name."""
        present = {p.name for p in (self.outdir / "stacks").iterdir() if (p / "cdk.tf.json").is_file()}
        return [s for s in STACKS if s in present] + sorted(present - set(STACKS))

    def scan_dir(self, stack: str) -> Path:
        """The scan copy of `stack`, where Terraform runs (`<root>/scan/stacks/<stack>`)."""
        return self.root / "scan" / "stacks" / stack


def synthesize(root: Path, env: Mapping[str, str], timeout: int = 300) -> Workspace:
    """`python main.py` with exactly `env` (plus PATH/HOME) into `root/cdktf.out`."""
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    child = without_settings(os.environ, also=("AWS_",))
    child.update(env)
    child["CDKTF_OUTDIR"] = str(root / "cdktf.out")
    done = subprocess.run(
        [sys.executable, "main.py"], cwd=REPO_ROOT, env=child, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise CheckError(
            f"synth failed ({' '.join(f'{k}={v}' for k, v in env.items())}): {done.stderr.strip()[-2000:]}"
        )
    return Workspace(root=root, env=dict(env))


# --------------------------------------------------------------------------- terraform


@dataclass
class Terraform:
    """Runs bounded Terraform commands with one CLI configuration."""

    config_file: Path
    choices: dict[str, ProviderChoice]
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls, work: Path, pins: Mapping[str, tuple[str, str]], mode: str | None = None
    ) -> tuple["Terraform", dict[str, ProviderChoice | None]]:
        """Choose providers for `pins` and write the CLI config under `work`."""
        work = work.resolve()  # Terraform reads the config from each stack's directory
        work.mkdir(parents=True, exist_ok=True)
        all_choices = choose_providers(pins, mode)
        available = {k: v for k, v in all_choices.items() if v is not None}
        cache = work / "plugin-cache"
        cache.mkdir(exist_ok=True)
        config = work / "terraform.rc"
        config.write_text(cli_config(available.values(), cache))
        return cls(config_file=config, choices=available), all_choices

    @property
    def parallel_safe(self) -> bool:
        """Several `init`s at once are safe only without downloads: Terraform's plugin cache is
        not concurrency-safe (https://developer.hashicorp.com/terraform/cli/config/config-file#provider-plugin-cache)."""
        return all(choice.origin != "registry" for choice in self.choices.values())

    def environment(self) -> dict[str, str]:
        """The environment Terraform runs with: none of the caller's AWS_/TF_ variables, no shared AWS
        files or instance metadata (no real credentials by accident), this CLI config, no input or
        checkpoint calls, then `extra_env` (the emulator's endpoint and fake keys)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
        env.update(
            TF_CLI_CONFIG_FILE=str(self.config_file),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        env.update(self.extra_env)
        return env

    def run(
        self, command: str, *args: str, cwd: Path, check: bool = True, ok_codes: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        """`terraform <command> <args>` in `cwd`, killed after TIMEOUTS[command] seconds; recorded in
        the transcript `TRANSCRIPT_ENV` names, if any."""
        argv = ["terraform", command, "-no-color", *args]
        started = time.time()
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = process.communicate(timeout=TIMEOUTS[command])
        except KeyboardInterrupt:  # its own session does not get the terminal's SIGINT: stop it too
            os.killpg(process.pid, signal.SIGKILL)
            raise
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            pending = in_progress(out)
            raise CheckError(
                f"{cwd.name}: terraform {command} timed out after {TIMEOUTS[command]} s"
                f"{'; still in progress: ' + ', '.join(pending) if pending else ''}; last output:\n{_tail(out + err)}"
            ) from None
        done = subprocess.CompletedProcess(argv, process.returncode, out, err)
        _transcribe(cwd, argv, started, done)
        if check and done.returncode not in ok_codes:
            raise CheckError(f"{cwd.name}: terraform {command} failed (exit {done.returncode}):\n{_tail(err or out)}")
        return done

    def prepare_stack(self, workspace: Workspace, stack: str) -> Path:
        """Make (or refresh) the scan copy of `stack` and return its directory."""
        return scan_copy(workspace.outdir / "stacks" / stack, workspace.scan_dir(stack), self.choices)


_STARTED = re.compile(r"^(\S+): (Creating|Modifying|Destroying|Reading)\.\.\.")
_FINISHED = re.compile(r"^(\S+): (Creation|Modifications|Destruction|Read) complete")


def in_progress(output: str) -> list[str]:
    """`["aws_x.y (creating)", ...]`: what Terraform's apply/destroy output (`-no-color`) started
    and never reported complete, in the order started — what a command killed at its bound was
    waiting for."""
    pending: dict[str, str] = {}
    for line in output.splitlines():
        if started := _STARTED.match(line):
            pending[started[1]] = started[2].lower()
        elif finished := _FINISHED.match(line):
            pending.pop(finished[1], None)
    return [f"{address} ({doing})" for address, doing in pending.items()]


TRANSCRIPT_ENV = "HEBO_TF_TRANSCRIPT"
"""A file path: when set, every Terraform command appends one JSON line to it (`cwd`, `argv`,
`started` and `ended` as Unix seconds, `exit`, `stdout`): what bench/lifecycle_floor.py reads
(the resources' "complete after Ns" lines are the provider's waiter time against the emulator)."""


def _transcribe(cwd: Path, argv: Sequence[str], started: float, done: subprocess.CompletedProcess[str]) -> None:
    path = os.environ.get(TRANSCRIPT_ENV)
    if not path:
        return
    line = {"cwd": str(cwd), "argv": list(argv), "started": started, "ended": time.time(), "exit": done.returncode}
    import fcntl

    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # concurrent commands (threads, lanes) append whole lines
        handle.write(json.dumps({**line, "stdout": done.stdout}) + "\n")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Diagnostic:
    """One diagnostic of `terraform validate -json` (its `diagnostics[]` entry), with its stack."""

    stack: str
    severity: str
    """`error` or `warning`."""
    address: str
    """The snippet's context (the block, e.g. `resource "aws_lb" "x"`), else `file:line`, else `(stack)`."""
    summary: str
    detail: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.severity} at {self.address}: {self.summary} {self.detail}".strip()


def diagnostics(stack: str, validate_json: Mapping[str, Any]) -> list[Diagnostic]:
    """The diagnostics of `terraform validate -json`, each with the block it points at."""
    found = []
    for item in validate_json.get("diagnostics", []):
        snippet = item.get("snippet") or {}
        where = item.get("range") or {}
        address = snippet.get("context") or (
            f"{where.get('filename')}:{where.get('start', {}).get('line')}" if where else "(stack)"
        )
        found.append(Diagnostic(stack, item["severity"], address, item["summary"], item.get("detail", "")))
    return found


def validate_stack(terraform: Terraform, workspace: Workspace, stack: str) -> list[Diagnostic]:
    """`init -backend=false` + `validate -json` of one stack; every diagnostic, errors first."""
    cwd = terraform.prepare_stack(workspace, stack)
    terraform.run("init", "-backend=false", "-input=false", cwd=cwd)
    done = terraform.run("validate", "-json", cwd=cwd, check=False)
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CheckError(f"{stack}: terraform validate printed no JSON:\n{_tail(done.stderr)}") from None
    found = diagnostics(stack, result)
    if done.returncode != 0 and not any(d.severity == "error" for d in found):
        raise CheckError(f"{stack}: terraform validate failed without diagnostics:\n{_tail(done.stderr)}")
    return sorted(found, key=lambda d: d.severity != "error")


# --------------------------------------------------------------------------- CLI


def variant_env(stage: str) -> dict[str, str]:
    """The settings a checked stage is synthesized with: its variant, the local backend and prebuilt images."""
    base = STAGE_VARIANTS.get(stage, {"HEBO_STAGE": stage})
    return {**base, "HEBO_BACKEND": "local", **PREBUILT_IMAGES}


def print_provider_choices(
    all_choices: Mapping[str, ProviderChoice | None], pins: Mapping[str, tuple[str, str]]
) -> None:
    """Print one line per provider: the chosen source, or why none is available."""
    for name, choice in sorted(all_choices.items()):
        if choice is None:
            print(f"provider {pins[name][0]} {pins[name][1]}: not available (no mirror holds it, registry unreachable)")
        else:
            print(f"provider {choice.describe()}")


@dataclass
class VariantResult:
    """What `make validate` did with one synthesized variant (a stage, or build-image mode)."""

    label: str
    stacks: int
    providers: list[ProviderChoice] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """`<address> <version>` of each pinned provider no source had: the variant was not validated."""
    errors: int = 0


def _validate_workspace(
    work: Path, workspace: Workspace, label: str, failures: list[str], printed: set[str]
) -> VariantResult:
    pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
    terraform, all_choices = Terraform.prepare(work, pins)
    result = VariantResult(
        label,
        len(workspace.stacks()),
        [c for c in all_choices.values() if c is not None],
        [f"{pins[n][0]} {pins[n][1]}" for n, c in all_choices.items() if c is None],
    )
    for _name, choice in sorted(all_choices.items()):
        if choice is not None and choice.describe() not in printed:
            printed.add(choice.describe())
            print(f"provider {choice.describe()}")
    if result.missing:
        print(
            f"{label}: NOT validated: no source for {', '.join(result.missing)} (in no filesystem mirror; registry unreachable)"
        )
        return result
    started = time.monotonic()
    for stack in workspace.stacks():
        found = validate_stack(terraform, workspace, stack)
        errors = [d for d in found if d.severity == "error"]
        failures += [f"{label}/{d}" for d in errors]
        result.errors += len(errors)
        warnings = len(found) - len(errors)
        print(
            f"{label}/{stack}: {'valid' if not errors else f'{len(errors)} error(s)'}"
            + (f", {warnings} warning(s)" if warnings else "")
        )
    print(f"{label}: {time.monotonic() - started:.0f} s")
    return result


def summary_line(results: Sequence[VariantResult]) -> tuple[str, int]:
    """The last line `make validate` prints, and its exit code: 0 `OK` (every stack of every
    variant validated against the pinned provider versions), 1 `FAILED` (validation errors),
    3 `PARTIAL` (no errors, but a variant was not validated or a provider was not the pinned
    version). The line names every variant, each provider version used (and its pin when it
    differs) and why anything was not validated."""
    done = [r for r in results if not r.missing]
    skipped = [r for r in results if r.missing]
    providers: dict[str, ProviderChoice] = {}
    for result in done:
        for choice in result.providers:
            providers.setdefault(f"{choice.address.split('/', 1)[1]} {choice.version}", choice)
    against = ", ".join(
        f"{name}"
        + (f" (pinned {c.pinned})" if c.differs else "")
        + (" from the registry" if c.origin == "registry" else " from a mirror")
        for name, c in sorted(providers.items())
    )
    stacks = sum(r.stacks for r in done)
    parts = [
        f"terraform validate: {stacks} of {sum(r.stacks for r in results)} stacks validated"
        + (f" ({', '.join(r.label for r in done)}) against {against}" if done else "")
    ]
    if skipped:
        parts.append(
            "NOT validated: "
            + "; ".join(
                f"{r.label}, no source for {', '.join(m.removeprefix('registry.terraform.io/') for m in r.missing)} (no mirror holds it, registry unreachable)"
                for r in skipped
            )
        )
    errors = sum(r.errors for r in results)
    differs = any(c.differs for c in providers.values())
    if errors:
        return f"FAILED: {errors} error(s); " + "; ".join(parts), 1
    if skipped or differs:
        return "PARTIAL: " + "; ".join(parts) + (
            "; a provider differs from its pin, so its schema, not the pinned one, was checked" if differs else ""
        ), 3
    return "OK: " + "; ".join(parts), 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every stack of each stage (prebuilt images), then pr-42 in build-image mode; end
    with `summary_line`. Exit code: 1 on validation errors; with `--strict`, 3 when the summary
    is PARTIAL (else 0, the line says PARTIAL)."""
    work = Path(args.work)
    failures: list[str] = []
    printed: set[str] = set()
    results = [
        _validate_workspace(
            work, synthesize(work / stage, variant_env(stage)), f"{stage} (prebuilt images)", failures, printed
        )
        for stage in args.stages
    ]
    build_env = {**STAGE_VARIANTS["pr-42"], "HEBO_BACKEND": "local"}
    results.append(
        _validate_workspace(
            work, synthesize(work / "pr-42-build", build_env), "pr-42 (build-image mode)", failures, printed
        )
    )
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    line, code = summary_line(results)
    sys.stderr.flush()
    print(line, flush=True)
    return code if code != 3 or args.strict else 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tools.terraform_check validate [STAGE...]`; returns the exit code (1 on an error diagnostic)."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines reach a pipe or log as they happen
    parser = argparse.ArgumentParser(prog="terraform_check", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--work",
        default=str(REPO_ROOT / "build" / "terraform-check"),
        help="scratch directory (default build/terraform-check)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    validate_p = sub.add_parser("validate", help="terraform validate every stack of each stage")
    validate_p.add_argument("stages", nargs="*", default=list(STAGE_VARIANTS))
    validate_p.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when the summary is PARTIAL (something not validated, or not against its pin)",
    )
    validate_p.set_defaults(func=cmd_validate)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Terraform itself on the synthesized stacks: `validate` with the real providers, and
`plan`/`apply` against a local moto server (an AWS emulator). Used by `tests/terraform/`,
`make validate` and `make plan-local`:

    python -m tools.terraform_check validate              # production (DNSSEC on), pr-42, dev
    python -m tools.terraform_check plan-local --stage pr-42

Nothing here edits a synthesized resource. Terraform runs in a *scan copy* of each stack
directory (`<variant>/scan/stacks/<stack>`, beside `<variant>/cdktf.out`, so the stack-relative
paths of the JSON resolve the same way) where only test-side things change:

* the provider version pin, when the provider comes from a filesystem mirror holding another
  version (this machine: hashicorp/aws 5.100.0 for the bindings' 6.25.0; printed, never silent);
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
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent

STACK_ORDER = ("dns", "network", "data", "compute", "edge")
"""Dependency order of the stacks (design.md §1)."""

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

TIMEOUTS = {"init": 120, "validate": 120, "plan": 300, "apply": 420, "show": 120, "output": 120}
"""Wall-clock bound of each Terraform command (seconds); a timeout kills Terraform and fails.
Apply's bound exceeds the provider's own longest waiter we meet against moto (3 min for an
IPv6 subnet association, see EMULATOR_FIXES), so a fixed emulator never hits it."""

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

MOTO_ACCOUNT = "123456789012"
MOTO_IMAGES = (
    {
        "ami_id": "ami-0a1b2c3d4e5f60001",
        "owner_id": "137112412989",
        "name": "al2023-ami-2023.6.20250107.0-kernel-6.1-arm64",
        "description": "Amazon Linux 2023 (arm64), emulator copy",
        "architecture": "arm64",
        "creation_date": "2025-01-07T00:00:00.000Z",
    },
    {
        "ami_id": "ami-0a1b2c3d4e5f60002",
        "owner_id": "568608671756",
        "name": "fck-nat-al2023-hvm-1.3.0-20240125-arm64-ebs",
        "description": "fck-nat (arm64), emulator copy",
        "architecture": "arm64",
        "creation_date": "2024-01-25T00:00:00.000Z",
    },
)
"""Images the emulator serves (`MOTO_AMIS_PATH`), named and owned like the real ones, so the
stacks' own `aws_ami` lookups (owners + name filters) find them unchanged."""


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
        return self.version != self.pinned

    def describe(self) -> str:
        where = "the registry" if self.origin == "registry" else f"filesystem mirror {self.origin}"
        note = f" (differs from the pin {self.pinned})" if self.differs else " (the pinned version)"
        return f"{self.address.split('/', 1)[1]} {self.version} from {where}{note}"


def provider_address(source: str) -> str:
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
    raw = os.environ.get("TF_CHECK_MIRRORS")
    candidates = raw.split(":") if raw else list(MIRROR_DIRS)
    return [Path(c).expanduser() for c in candidates if c and Path(c).expanduser().is_dir()]


def registry_reachable(timeout: float = REGISTRY_PROBE_SECONDS) -> bool:
    """One request to the registry's service discovery document, in a daemon thread so that a
    slow DNS lookup (which urlopen's timeout does not cover) is bounded too."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen("https://registry.terraform.io/.well-known/terraform.json", timeout=timeout) as response:
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
    shutil.copytree(stack_dir, dest)
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
        return self.root / "cdktf.out"

    def stack_json(self, stack: str) -> dict[str, Any]:
        return json.loads((self.outdir / "stacks" / stack / "cdk.tf.json").read_text())

    def stacks(self) -> list[str]:
        present = {p.name for p in (self.outdir / "stacks").iterdir() if (p / "cdk.tf.json").is_file()}
        return [s for s in STACK_ORDER if s in present] + sorted(present - set(STACK_ORDER))

    def scan_dir(self, stack: str) -> Path:
        return self.root / "scan" / "stacks" / stack


def synthesize(root: Path, env: Mapping[str, str], timeout: int = 300) -> Workspace:
    """`python main.py` with exactly `env` (plus PATH/HOME) into `root/cdktf.out`."""
    root.mkdir(parents=True, exist_ok=True)
    child = {k: v for k, v in os.environ.items() if not k.startswith(("HEBO_", "AWS_", "CDKTF_"))}
    child.update(env)
    child["CDKTF_OUTDIR"] = str(root / "cdktf.out")
    done = subprocess.run([sys.executable, "main.py"], cwd=REPO_ROOT, env=child, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise CheckError(f"synth failed ({' '.join(f'{k}={v}' for k, v in env.items())}): {done.stderr.strip()[-2000:]}")
    return Workspace(root=root, env=dict(env))


# --------------------------------------------------------------------------- terraform


@dataclass
class Terraform:
    """Runs bounded Terraform commands with one CLI configuration."""

    config_file: Path
    choices: dict[str, ProviderChoice]
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(cls, work: Path, pins: Mapping[str, tuple[str, str]], mode: str | None = None) -> tuple["Terraform", dict[str, ProviderChoice | None]]:
        """Choose providers for `pins` and write the CLI config under `work`."""
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

    def run(self, command: str, *args: str, cwd: Path, check: bool = True, ok_codes: Sequence[int] = (0,)) -> subprocess.CompletedProcess[str]:
        """`terraform <command> <args>` in `cwd`, killed after TIMEOUTS[command] seconds."""
        argv = ["terraform", command, "-no-color", *args]
        process = subprocess.Popen(argv, cwd=cwd, env=self.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = process.communicate(timeout=TIMEOUTS[command])
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            raise CheckError(f"{cwd.name}: terraform {command} timed out after {TIMEOUTS[command]} s; last output:\n{_tail(out + err)}") from None
        done = subprocess.CompletedProcess(argv, process.returncode, out, err)
        if check and done.returncode not in ok_codes:
            raise CheckError(f"{cwd.name}: terraform {command} failed (exit {done.returncode}):\n{_tail(err or out)}")
        return done

    def prepare_stack(self, workspace: Workspace, stack: str) -> Path:
        return scan_copy(workspace.outdir / "stacks" / stack, workspace.scan_dir(stack), self.choices)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class Diagnostic:
    stack: str
    severity: str
    address: str
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
        address = snippet.get("context") or (f"{where.get('filename')}:{where.get('start', {}).get('line')}" if where else "(stack)")
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


# --------------------------------------------------------------------------- emulator

EMULATOR_FIXES = """
import moto.ec2.models.elastic_network_interfaces as _eni
import moto.ec2.models.subnets as _subnets

def _subnet_ipv6_set(self):
    return [
        {"ipv6CidrBlock": a["ipv6CidrBlock"], "associationId": a["associationId"],
         "ipv6CidrBlockState": {"state": a["ipv6CidrBlockState"]["State"]}}
        for a in self.ipv6_cidr_block_associations.values()
        if a["ipv6CidrBlockState"]["State"] == "associated"
    ]

_association = _eni.NetworkInterface.association.fget
_subnets.Subnet.ipv6_cidr_block_association_set = property(_subnet_ipv6_set)
_eni.NetworkInterface.association = property(lambda self: _association(self) or None)

import moto.ec2.models.instances as _instances
import moto.ec2.models.security_groups as _sg

_instance_init = _instances.Instance.__init__

def _instance_with_nic_groups(self, *args, **kwargs):
    _instance_init(self, *args, **kwargs)
    if not self.security_groups and 0 in self.nics:
        self.security_groups = list(self.nics[0]._group_set)

_instances.Instance.__init__ = _instance_with_nic_groups
_sg.SecurityGroupRule.description = property(
    lambda self: self.ip_range.get("Description") or (self.source_group or {}).get("Description")
)
"""
"""Four moto 5.2.5 response bugs, fixed in the emulator process only (never in the stacks):

* subnet IPv6 association state is a nested dict (`{'State': 'associated'}` as the state), so the
  provider waits 3 min for "associated" and fails; same fix as localstack/moto#140;
* an instance without a public IP gets an empty `<association/>` element; the provider infers
  `associate_public_ip_address = true` from its mere presence (hashicorp/terraform#9453), so the
  second plan would replace every instance;
* security groups given through RunInstances' `NetworkInterfaces` (how the provider sends them
  with `associate_public_ip_address`) are missing from the instance's own group set;
* the description of a rule that references a security group is dropped on read.
Each showed up as a perpetual diff in the second network plan that real AWS does not produce.
"""

_MOTO_MAIN = """
import os, sys, time
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
default_user_config["lambda"]["use_docker"] = False  # moto's simple Lambda: invocations answer without running code
{fixes}
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"http://{{host}}:{{port}}", flush=True)
sys.stdin.read()  # until the parent closes it (or dies)
server.stop()
"""


class MotoServer:
    """A moto server in a child process, with the images of MOTO_IMAGES and EMULATOR_FIXES.

    `MOTO_IAM_LOAD_MANAGED_POLICIES=true` makes AWS-managed IAM policies (AmazonSSMManaged…)
    attachable. Use as a context manager; `url` is the endpoint.
    """

    def __init__(self, start_timeout: float = 60.0) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="hebo-moto-"))
        amis = self._dir / "amis.json"
        defaults = {"state": "available", "public": True, "image_type": "machine", "virtualization_type": "hvm",
                    "hypervisor": "xen", "root_device_type": "ebs", "root_device_name": "/dev/xvda", "sriov": "simple"}
        amis.write_text(json.dumps([{**defaults, "image_location": f"{i['owner_id']}/{i['name']}", **i} for i in MOTO_IMAGES]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}
        env["MOTO_AMIS_PATH"] = str(amis)
        self._process = subprocess.Popen(
            [sys.executable, "-c", _MOTO_MAIN.format(fixes=EMULATOR_FIXES)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        ready, _, _ = select.select([self._process.stdout], [], [], start_timeout)
        line = self._process.stdout.readline().strip() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("http://"):
            self.stop()
            raise CheckError(f"moto did not start within {start_timeout} s: {self._process.stderr.read()[-2000:]}")  # type: ignore[union-attr]
        self.url = line

    def environment(self, region: str = "us-east-1") -> dict[str, str]:
        """What Terraform and boto3 need to talk to this server (fake credentials)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def stop(self) -> None:
        if self._process.poll() is None:
            try:
                self._process.stdin.close()  # type: ignore[union-attr]
                self._process.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "MotoServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def moto_override(stack: Mapping[str, Any]) -> dict[str, Any]:
    """`moto_override.tf.json` for one stack: test-only flags on every AWS provider block.

    Terraform merges override provider blocks by name and alias. The account id is *requested*
    (moto answers STS), so cross-account formats never appear where AWS would not use them.
    """
    flags = {"skip_credentials_validation": True, "skip_metadata_api_check": True, "s3_use_path_style": True}
    blocks = []
    for config in stack.get("provider", {}).get("aws", []):
        blocks.append({**({"alias": config["alias"]} if config.get("alias") else {}), **flags})
    return {"provider": {"aws": blocks}} if blocks else {}


# --------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class PlanSummary:
    """What a saved plan would do: `actions[(action, type)] = count`; `unknown` addresses of
    attributes that are unknown at plan time (`after_unknown`)."""

    stack: str
    plan: dict[str, Any]

    @property
    def changes(self) -> list[dict[str, Any]]:
        return [rc for rc in self.plan.get("resource_changes", []) if rc.get("mode") == "managed"]

    def count(self, action: str = "create") -> Counter[str]:
        return Counter(rc["type"] for rc in self.changes if action in rc["change"]["actions"])

    @property
    def pending(self) -> list[str]:
        """Addresses with any action other than no-op (what an empty plan has none of)."""
        return [rc["address"] for rc in self.changes if rc["change"]["actions"] != ["no-op"]]

    def after(self, address: str) -> dict[str, Any]:
        for rc in self.changes:
            if rc["address"] == address:
                return rc["change"]["after"] or {}
        raise KeyError(address)

    def unknown(self, address: str) -> dict[str, Any]:
        for rc in self.changes:
            if rc["address"] == address:
                return rc["change"].get("after_unknown") or {}
        raise KeyError(address)

    def line(self) -> str:
        actions = Counter(a for rc in self.changes for a in rc["change"]["actions"] if a != "no-op")
        described = ", ".join(f"{n} to {a}" for a, n in sorted(actions.items())) or "no changes"
        return f"{self.stack}: {described}"


def emulator_stack(terraform: Terraform, workspace: Workspace, stack: str) -> Path:
    """Scan copy + moto override + `terraform init` (local backend, stack-relative state path)."""
    cwd = terraform.prepare_stack(workspace, stack)
    override = moto_override(workspace.stack_json(stack))
    if override:
        (cwd / "moto_override.tf.json").write_text(json.dumps(override, indent=2))
    terraform.run("init", "-input=false", cwd=cwd)
    return cwd


def plan(terraform: Terraform, cwd: Path, stack: str) -> PlanSummary:
    """`plan -out` then `show -json` of the saved plan."""
    terraform.run("plan", "-input=false", "-lock-timeout=30s", "-out=tfplan", cwd=cwd)
    shown = terraform.run("show", "-json", "tfplan", cwd=cwd)
    return PlanSummary(stack, json.loads(shown.stdout))


def apply(terraform: Terraform, cwd: Path) -> None:
    """Apply the saved plan `tfplan` (from `plan`)."""
    terraform.run("apply", "-input=false", "-lock-timeout=30s", "tfplan", cwd=cwd)


APPLIED_STACKS = ("dns", "network", "data")
"""Applied to the emulator (their outputs feed the next stacks' remote state); the rest is planned."""

EMULATOR_SECRETS = {"StackProjectId": "emulator-project-id", "StackPublishableClientKey": "emulator-publishable-key"}
"""Values `ops secrets set` stores before `edge` is planned (edge reads them as data sources)."""

EMULATOR_DB_PASSWORD = "emulator-only-password-1"
"""`TF_VAR_db_password`, as an operator exports it for a deploy (the variable is ephemeral)."""


@dataclass
class StageRun:
    plans: dict[str, PlanSummary] = field(default_factory=dict)
    """The first plan of every stack, in dependency order."""
    second_network: PlanSummary | None = None
    applied: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`terraform output -json` of each applied stack (values only)."""


def set_secrets(workspace: Workspace, server: MotoServer, values: Mapping[str, str]) -> None:
    """Store secret values with the project's own `ops secrets set`, as an operator would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HEBO_"))}
    env.update(server.environment(), AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    stage = workspace.env["HEBO_STAGE"]
    for name, value in values.items():
        done = subprocess.run([sys.executable, "-m", "ops", "secrets", "set", "--stage", stage, name], input=value, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise CheckError(f"ops secrets set {name} failed: {done.stderr.strip()}")


def run_stage(terraform: Terraform, workspace: Workspace, server: MotoServer, log: Any = lambda *_: None) -> StageRun:
    """Every stack in dependency order against `server`: plan, apply APPLIED_STACKS (network
    twice: its second plan must be empty), plan the rest with the real remote state.
    Raises CheckError on the first failing or timed-out command."""
    terraform.extra_env = {**server.environment(), "TF_VAR_db_password": EMULATOR_DB_PASSWORD}
    shutil.rmtree(workspace.root / "terraform-state", ignore_errors=True)  # the emulator starts empty too
    run = StageRun()
    try:
        for stack in workspace.stacks():
            started = time.monotonic()
            _run_stack(terraform, workspace, server, stack, run)
            run.seconds[stack] = time.monotonic() - started
            log(f"{run.plans[stack].line()}{' (applied)' if stack in run.applied else ''} in {run.seconds[stack]:.0f} s")
    finally:
        terraform.extra_env = {}
    if run.second_network is None:
        raise CheckError("the stage has no network stack")
    return run


def _run_stack(terraform: Terraform, workspace: Workspace, server: MotoServer, stack: str, run: StageRun) -> None:
    if stack == "edge":
        set_secrets(workspace, server, EMULATOR_SECRETS)
    cwd = emulator_stack(terraform, workspace, stack)
    run.plans[stack] = plan(terraform, cwd, stack)
    if stack in APPLIED_STACKS:
        apply(terraform, cwd)
        run.applied.append(stack)
        shown = json.loads(terraform.run("output", "-json", cwd=cwd).stdout)
        run.outputs[stack] = {name: item["value"] for name, item in shown.items()}
    if stack == "network":
        run.second_network = plan(terraform, cwd, stack)


# --------------------------------------------------------------------------- CLI


def _variant_env(stage: str) -> dict[str, str]:
    base = STAGE_VARIANTS.get(stage, {"HEBO_STAGE": stage})
    return {**base, "HEBO_BACKEND": "local", **PREBUILT_IMAGES}


def _print_choices(all_choices: Mapping[str, ProviderChoice | None], pins: Mapping[str, tuple[str, str]]) -> None:
    for name, choice in sorted(all_choices.items()):
        if choice is None:
            print(f"provider {pins[name][0]} {pins[name][1]}: not available (no mirror holds it, registry unreachable)")
        else:
            print(f"provider {choice.describe()}")


def _validate_workspace(work: Path, workspace: Workspace, label: str, failures: list[str], printed: set[str]) -> None:
    pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
    terraform, all_choices = Terraform.prepare(work, pins)
    missing = [f"{pins[n][0]} {pins[n][1]}" for n, c in all_choices.items() if c is None]
    for name, choice in sorted(all_choices.items()):
        if choice is not None and choice.describe() not in printed:
            printed.add(choice.describe())
            print(f"provider {choice.describe()}")
    if missing:
        print(f"{label}: NOT validated: no source for {', '.join(missing)} (in no filesystem mirror; registry unreachable)")
        return
    started = time.monotonic()
    for stack in workspace.stacks():
        found = validate_stack(terraform, workspace, stack)
        errors = [d for d in found if d.severity == "error"]
        failures += [f"{label}/{d}" for d in errors]
        warnings = len(found) - len(errors)
        print(f"{label}/{stack}: {'valid' if not errors else f'{len(errors)} error(s)'}" + (f", {warnings} warning(s)" if warnings else ""))
    print(f"{label}: {time.monotonic() - started:.0f} s")


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate every stack of each stage (prebuilt images), then pr-42 in build-image mode."""
    work = Path(args.work)
    failures: list[str] = []
    printed: set[str] = set()
    for stage in args.stages:
        _validate_workspace(work, synthesize(work / stage, _variant_env(stage)), f"{stage} (prebuilt images)", failures, printed)
    build_env = {**STAGE_VARIANTS["pr-42"], "HEBO_BACKEND": "local"}
    _validate_workspace(work, synthesize(work / "pr-42-build", build_env), "pr-42 (build-image mode)", failures, printed)
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_plan_local(args: argparse.Namespace) -> int:
    started = time.monotonic()
    workspace = synthesize(Path(args.work) / args.stage, _variant_env(args.stage))
    pins = {k: v for s in workspace.stacks() for k, v in required_providers(workspace.stack_json(s)).items()}
    terraform, all_choices = Terraform.prepare(Path(args.work), pins)
    _print_choices(all_choices, pins)
    with MotoServer() as server:
        print(f"moto: {server.url}")
        run = run_stage(terraform, workspace, server, log=print)
    for stack, summary in run.plans.items():
        counts = ", ".join(f"{n} {t}" for t, n in sorted(summary.count("create").items()))
        print(f"  {stack}: {'applied' if stack in run.applied else 'planned'}; creates {counts or 'nothing'}")
    pending = run.second_network.pending if run.second_network else []
    print(f"  network second plan: {'empty' if not pending else pending}")
    print(f"plan-local {args.stage}: done in {time.monotonic() - started:.0f} s (emulator gaps: docs/terraform-checks.md)")
    return 1 if pending else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="terraform_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=str(REPO_ROOT / "build" / "terraform-check"), help="scratch directory (default build/terraform-check)")
    sub = parser.add_subparsers(dest="command", required=True)
    validate_p = sub.add_parser("validate", help="terraform validate every stack of each stage")
    validate_p.add_argument("stages", nargs="*", default=list(STAGE_VARIANTS))
    validate_p.set_defaults(func=cmd_validate)
    plan_p = sub.add_parser("plan-local", help="apply/plan one stage's stacks against a local moto server")
    plan_p.add_argument("--stage", default=os.environ.get("HEBO_STAGE", "pr-42"))
    plan_p.set_defaults(func=cmd_plan_local)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

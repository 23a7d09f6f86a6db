"""One Terraform working-data directory per stack *and backend*, so stages can share a checkout.

Terraform keeps a working directory's backend settings, providers and modules in its data
directory, `.terraform/` beside the configuration (or `TF_DATA_DIR`). Every stage synthesizes
into the same `cdktf.out/stacks/<stack>/`, and the cdktf CLI runs `terraform init` there with
its own environment (cli-core `TerraformCli.init`: `cwd` is the stack's `workingDirectory` from
`manifest.json`, `env` is the CLI's), so the app cannot set `TF_DATA_DIR`. Without this module,
`pr-43` after `pr-42` found `pr-42`'s backend recorded in the shared `.terraform/` and stopped with
"Backend configuration changed"; the hint there (`-migrate-state`) copies one stage's state
into another stage's key.

After each synth, `pin_working_data` points `<outdir>/stacks/<stack>/.terraform` (a relative
symlink) at `<outdir>/terraform-data/<stack>/<label>-<hash>`, where the hash covers the stack's
whole synthesized `terraform.backend` block. A stack is therefore only ever initialised in a
data directory that recorded exactly its own backend: switching stage (or backend settings)
switches directory, nothing is re-initialised against another backend, and nothing can be
migrated. Returning to a stage reuses its directory (no new provider install). The account-wide
`dns` stack has the same backend for every stage, so it keeps one directory.

The `cloud` backend is the exception: a remote run uploads the stack directory, and the upload
(go-slug) refuses a symlink whose target is outside it. There `.terraform` stays a real
directory and carries a marker file naming the label it was initialised for; when the label
changes, the recorded backend (`.terraform/terraform.tfstate`, `.terraform/environment`) is
removed first, which is what `terraform init -reconfigure` does: the next init configures the
new workspace from scratch and has no previous backend to offer a migration from.

No state lives in these directories (the S3, cloud and local backends keep it elsewhere:
`terraform-state/` for the local one), so deleting `<outdir>/terraform-data/` only costs a
re-initialisation.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

DATA_DIR = "terraform-data"
"""Directory under the synth output directory that holds the per-backend data directories."""

MARKER = ".hebo-backend"
"""File in a `cloud` stack's real `.terraform/` naming the backend label it was initialised for."""
UPLOADED_BACKENDS = frozenset({"cloud", "remote"})
"""Backends whose runs upload the stack directory (no symlink may leave it)."""

_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def backend_label(backend: Mapping[str, Any]) -> str:
    """`<type>-<readable location>-<12 hex digits>` for one `terraform.backend` block
    ({type: settings}); the hash is SHA-256 of the block as canonical JSON, so any difference
    in any backend argument gives another label. Raises `ValueError` unless the block has
    exactly one backend type."""
    if len(backend) != 1:
        raise ValueError(f"expected one backend type, got {sorted(backend)}")
    ((kind, config),) = backend.items()
    config = config or {}
    where = config.get("key") or config.get("path") or (config.get("workspaces") or {}).get("name") or ""
    readable = _LABEL_UNSAFE.sub("_", str(where).replace("../", "").removesuffix(".tfstate")).strip("_.")
    digest = hashlib.sha256(json.dumps(backend, sort_keys=True).encode()).hexdigest()[:12]
    return "-".join(part for part in (kind, readable, digest) if part)


def synthesized_backend(stack_dir: Path, to_terraform: Callable[[], Mapping[str, Any]]) -> Mapping[str, Any]:
    """The `terraform.backend` block of the stack synthesized in `stack_dir`: read from its
    `cdk.tf.json`, or from `to_terraform()` (the stack's JSON form) after an HCL synth.
    A stack without a backend block uses Terraform's default local backend: `{"local": {}}`."""
    json_file = stack_dir / "cdk.tf.json"
    document = json.loads(json_file.read_text()) if json_file.exists() else to_terraform()
    return document.get("terraform", {}).get("backend") or {"local": {}}


def pin_working_data(outdir: Path, stacks: Mapping[str, Any] | Iterable[str]) -> dict[str, Path]:
    """Point each stack's `.terraform` at the data directory of its synthesized backend.

    `stacks`: {name: TerraformStack} (an HCL synth needs the stack objects) or stack names.
    Returns {name: data directory}. A real `.terraform` directory left by an earlier layout is
    moved to `<outdir>/terraform-data/<stack>/unpinned-<unix time>` (it recorded some backend
    this synth cannot vouch for); nothing in it is state. Raises `OSError` if the file system
    refuses a symlink.
    """
    # a name alone (None) only for a JSON synth: synthesized_backend then reads cdk.tf.json, never the object
    objects: Mapping[str, Any] = stacks if isinstance(stacks, Mapping) else dict.fromkeys(stacks)
    pinned: dict[str, Path] = {}
    for name, stack in objects.items():
        stack_dir = outdir / "stacks" / name
        backend = synthesized_backend(stack_dir, lambda: stack.to_terraform())  # noqa: B023 (called at once)
        if set(backend) & UPLOADED_BACKENDS:
            pinned[name] = _reconfigure_on_change(stack_dir / ".terraform", backend_label(backend))
            continue
        data_dir = outdir / DATA_DIR / name / backend_label(backend)
        data_dir.mkdir(parents=True, exist_ok=True)
        link = stack_dir / ".terraform"
        target = Path("..", "..", DATA_DIR, name, data_dir.name)
        if link.is_symlink():
            if Path(link.readlink()) == target:
                pinned[name] = data_dir
                continue
            link.unlink()
        elif link.exists():
            shutil.move(str(link), str(outdir / DATA_DIR / name / f"unpinned-{int(time.time())}"))
        link.symlink_to(target, target_is_directory=True)
        pinned[name] = data_dir
    return pinned


def _reconfigure_on_change(data_dir: Path, label: str) -> Path:
    """Keep `data_dir` a real directory initialised for `label` only: on another label, drop the
    recorded backend and workspace (Terraform's `init -reconfigure`), keep the providers."""
    if data_dir.is_symlink():
        data_dir.unlink()
    data_dir.mkdir(exist_ok=True)
    marker = data_dir / MARKER
    if not marker.exists() or marker.read_text() != label:
        for recorded in ("terraform.tfstate", "environment"):
            (data_dir / recorded).unlink(missing_ok=True)
        marker.write_text(label)
    return data_dir

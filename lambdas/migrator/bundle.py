"""Build the migrator Lambda zip at synth time, reproducibly.

API (used by the data stack)::

    from lambdas.migrator.bundle import build_bundle
    bundle = build_bundle(Path("migrations"), Path("build/migrator"))
    bundle.zip_path            # out_dir/migrator-<sha>.zip  (content-addressed)
    bundle.source_code_hash    # base64 sha256 of the zip, for aws_lambda_function.source_code_hash
    bundle.code_hash           # changes when runner code, requirements or CA bundle change
    bundle.migrations_sha256   # changes when the shipped migration files change

``code_hash`` + ``migrations_sha256`` are what should re-trigger the on-deploy invocation: they
depend only on our inputs, not on zlib or pip details.

Why it is byte-for-byte reproducible: dependencies are fully pinned with hashes and installed with
``--no-deps`` for the Lambda platform (python3.13, arm64) without .pyc; entries are sorted, have a
fixed 1980-01-01 timestamp and 0644 permissions, and are STORED (uncompressed) so different zlib
builds on developer machines and CI cannot change the bytes (the zip is ~1.5 MB either way).
The pip result is cached in ``out_dir/deps/<requirements hash>`` so repeated synths never hit pip.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lambdas.migrator.migrator import journal

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = HERE / "migrator"
REQUIREMENTS = HERE / "requirements.txt"
CA_BUNDLE = HERE / "ca" / "rds-combined-ca.pem"

PIP_TARGET_ARGS = (
    "--platform", "manylinux2014_aarch64",
    "--platform", "manylinux_2_28_aarch64",
    "--implementation", "cp",
    "--python-version", "3.13",
    "--only-binary=:all:",
    "--no-compile",
    "--no-deps",
    "--require-hashes",
)  # fmt: skip
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16


class BundleError(ValueError):
    """The bundle cannot be built (bad migrations folder, pip failure); the message says why."""


@dataclass(frozen=True)
class Bundle:
    """A built Lambda zip and the hashes a stack needs to deploy and (re)invoke it."""

    zip_path: Path
    code_sha256: str  # hex sha256 of the zip bytes
    migrations_sha256: str  # hex sha256 over the shipped migration files (paths + contents)
    code_hash: str  # hex sha256 over runner sources, requirements.txt and the CA bundle

    @property
    def source_code_hash(self) -> str:
        """Base64 sha256 of the zip, the form Lambda reports (``filebase64sha256``)."""
        return base64.b64encode(bytes.fromhex(self.code_sha256)).decode("ascii")


def _digest(files: list[tuple[str, Path]]) -> str:
    h = hashlib.sha256()
    for arcname, path in sorted(files):
        h.update(arcname.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _tree(root: Path, prefix: str) -> list[tuple[str, Path]]:
    """Regular files under root as (arcname, path), without bytecode caches."""
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if path.is_dir() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        out.append((f"{prefix}{rel.as_posix()}", path))
    return out


def _install_dependencies(out_dir: Path) -> Path:
    """pip-install requirements for the Lambda platform once per requirements hash."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + "\0".join(PIP_TARGET_ARGS).encode())
    target = out_dir / "deps" / key.hexdigest()[:20]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        _run_pip(["install", "--quiet", "--disable-pip-version-check", "--no-input",
                  "--target", str(tmp), *PIP_TARGET_ARGS, "-r", str(REQUIREMENTS)])  # fmt: skip
        # pip --target may leave a bin/ dir or caches; the runtime needs only importable code.
        shutil.rmtree(tmp / "bin", ignore_errors=True)
        os.replace(tmp, target)  # atomic: a concurrent or interrupted synth never sees half
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if target.is_dir():  # lost a race with a concurrent synth that finished first
            return target
        raise
    return target


def _run_pip(args: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BundleError(f"pip failed (exit {proc.returncode}):\n{proc.stderr.strip()}")


def build_bundle(migrations_dir: Path, out_dir: Path) -> Bundle:
    """Validate ``migrations_dir`` (drizzle-kit folder) and write the Lambda zip into ``out_dir``.

    Raises ``BundleError`` if the folder is missing or malformed (no journal, a journal entry
    without its .sql file, invalid UTF-8, non-increasing ``when``) or pip fails.
    """
    migrations_dir = Path(migrations_dir)
    out_dir = Path(out_dir)
    try:
        relpaths = journal.migration_files(migrations_dir)
    except journal.MigrationFolderError as exc:
        raise BundleError(f"invalid migrations folder: {exc}") from exc
    migrations = [(f"migrations/{p.as_posix()}", migrations_dir / p) for p in relpaths]
    code = _tree(PACKAGE_DIR, "migrator/") + [
        ("ca/rds-combined-ca.pem", CA_BUNDLE),
        ("requirements.txt", REQUIREMENTS),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    deps = _tree(_install_dependencies(out_dir), "")

    entries: dict[str, Path] = {}
    for arcname, path in code + migrations + deps:
        if arcname in entries:
            raise BundleError(f"two files map to {arcname} in the bundle")
        entries[arcname] = path

    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=out_dir)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w", zipfile.ZIP_STORED) as zf:
            for arcname in sorted(entries):
                info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
                info.external_attr = FILE_MODE
                info.create_system = 3  # unix, so the mode bits are honoured identically
                zf.writestr(info, entries[arcname].read_bytes())
        code_sha256 = hashlib.sha256(Path(tmp_name).read_bytes()).hexdigest()
        zip_path = out_dir / f"migrator-{code_sha256[:16]}.zip"
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, zip_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Bundle(
        zip_path=zip_path,
        code_sha256=code_sha256,
        migrations_sha256=_digest(migrations),
        code_hash=_digest(code),
    )

"""Run checkov over the synthesized stacks of several stages in ONE invocation and read its report.

Why the ceremony (docs/security.md, "Policy gate"):
- `--framework terraform` silently ignores `cdk.tf.json` (0 checks, rc 0), so we always pass
  `--framework terraform_json`; `--skip-download` because CI has no network.
- checkov cannot parse a stack that sets `terraform.required_version` (bridgecrewio/checkov#7454:
  "Parsing errors: 1", 0 checks, rc 0 — a green scan of nothing). Every Hebo stack sets it
  (Terraform >= 1.11 for write-only attributes), so we scan *copies* without that one key; it is
  a CLI constraint, not something any check looks at. The report must then show zero parsing
  errors and at least one check per stack, or the gate fails.
- No severity filters: offline, severities are null and a filter selects nothing.
- checkov reads `.checkov.yaml` from its working directory and CKV_* variables from the
  environment (e.g. CKV_SKIP_CHECK); it runs in a scratch directory with those variables removed,
  so nothing outside tests/policy/ can hide a check.
- Python checks report `resource.<name>` (type dropped), graph checks `<type>.<name>`. We write
  the copies with a known layout (indent=1) and recover the type from the reported line range,
  so every finding carries a full `<type>.<name>` (or `data.<type>.<name>`) address.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

POLICY_DIR = Path(__file__).resolve().parent
REPO_ROOT = POLICY_DIR.parent.parent
CUSTOM_CHECKS_DIR = POLICY_DIR / "custom_checks"
SCANNED_FILE = "cdk.tf.json"


class CheckovError(RuntimeError):
    """checkov could not be run, crashed, or produced a report the gate cannot trust."""


def checkov_binary() -> Path:
    """`$HEBO_CHECKOV`, else `<repo>/.venv-checkov/bin/checkov` (installed by `make setup`)."""
    configured = os.environ.get("HEBO_CHECKOV")
    path = Path(configured) if configured else REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise CheckovError(
            f"checkov not found at {path}. Install the pinned version with `make setup` "
            "(python3 -m venv .venv-checkov && .venv-checkov/bin/pip install --no-deps "
            "-r tests/policy/checkov-requirements.txt) or point HEBO_CHECKOV at a checkov 3.3.30 binary."
        )
    return path


@dataclass(frozen=True)
class Finding:
    """One check result, attributed to a stage, a stack and a full resource address."""

    stage: str
    stack: str
    check_id: str
    check_name: str
    address: str
    """`<type>.<name>`, `data.<type>.<name>` or `provider.<name>`."""
    result: str
    """PASSED or FAILED."""
    file: str
    lines: tuple[int, int]
    guideline: str | None = None

    def describe(self) -> str:
        return f"{self.check_id:<14} {self.stage}/{self.stack:<8} {self.address}  — {self.check_name}"


@dataclass(frozen=True)
class ScanResult:
    findings: list[Finding]
    summary: dict[str, Any]
    checks_per_stack: dict[tuple[str, str], int]
    """(stage, stack) -> number of results; every scanned stack must appear with > 0."""
    scanned: list[tuple[str, str]]
    seconds: float

    def failed(self, stage: str | None = None) -> list[Finding]:
        return [f for f in self.findings if f.result == "FAILED" and (stage is None or f.stage == stage)]


def strip_for_checkov(stack_json: dict[str, Any]) -> dict[str, Any]:
    """The copy checkov scans: identical except `terraform.required_version` (checkov#7454)."""
    copy = json.loads(json.dumps(stack_json))
    terraform = copy.get("terraform")
    if isinstance(terraform, dict):
        terraform.pop("required_version", None)
    return copy


def write_scan_tree(stages: Mapping[str, Mapping[str, dict[str, Any]]], root: Path) -> list[tuple[str, str]]:
    """Write `<root>/<stage>/<stack>/cdk.tf.json` for every stack; one directory per stack keeps
    checkov's graph from linking same-named resources of different stacks."""
    written = []
    for stage, stacks in stages.items():
        for stack, body in stacks.items():
            target = root / stage / stack / SCANNED_FILE
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(strip_for_checkov(body), indent=1))
            written.append((stage, stack))
    return written


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CKV_", "BC_", "CHECKOV_", "PRISMA_"))}
    env.update(CKV_SKIP_PACKAGE_UPDATE_CHECK="true", BC_SKIP_MAPPING="TRUE", LOG_LEVEL="WARNING")
    return env


def run_checkov(
    stages: Mapping[str, Mapping[str, dict[str, Any]]],
    workdir: Path,
    external_checks_dir: Path | None = CUSTOM_CHECKS_DIR,
) -> ScanResult:
    """Scan every (stage, stack) in one checkov run; raise CheckovError if the scan is not trustworthy."""
    binary = checkov_binary()
    scan_root, out_dir = workdir / "scan", workdir / "report"
    scanned = write_scan_tree(stages, scan_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        "-d",
        str(scan_root),
        "--framework",
        "terraform_json",
        "--skip-download",
        "-o",
        "json",
        "--output-file-path",
        str(out_dir),
    ]
    if external_checks_dir is not None:
        command += ["--external-checks-dir", str(external_checks_dir)]
    started = time.monotonic()
    proc = subprocess.run(command, cwd=workdir, env=_clean_env(), capture_output=True, text=True, timeout=300)
    seconds = time.monotonic() - started
    report_file = out_dir / "results_json.json"
    if proc.returncode not in (0, 1) or not report_file.exists():
        raise CheckovError(
            f"checkov exited {proc.returncode} without a usable report\n$ {' '.join(command)}\n"
            f"stderr (tail):\n{proc.stderr[-3000:]}"
        )
    report = _terraform_json_report(json.loads(report_file.read_text()))
    summary = report.get("summary", {})
    if summary.get("parsing_errors", 0) != 0:
        raise CheckovError(
            f"checkov could not parse {summary['parsing_errors']} file(s): "
            f"{report.get('results', {}).get('parsing_errors')} — a scan with parse errors checks nothing"
        )
    findings = list(_findings(report, scan_root))
    per_stack: dict[tuple[str, str], int] = {}
    for f in findings:
        per_stack[(f.stage, f.stack)] = per_stack.get((f.stage, f.stack), 0) + 1
    return ScanResult(findings=findings, summary=summary, checks_per_stack=per_stack, scanned=scanned, seconds=seconds)


def _terraform_json_report(raw: Any) -> dict[str, Any]:
    """checkov writes one object per framework (a list when several ran); we want terraform_json."""
    reports = raw if isinstance(raw, list) else [raw]
    for report in reports:
        if report.get("check_type") == "terraform_json":
            return report
    if (
        len(reports) == 1
        and "summary" in reports[0]
        and reports[0]["summary"].get("passed", 0) == 0
        and reports[0]["summary"].get("failed", 0) == 0
    ):
        raise CheckovError(f"checkov ran no terraform_json checks at all: {reports[0].get('summary')}")
    raise CheckovError(f"no terraform_json report in checkov output (types: {[r.get('check_type') for r in reports]})")


def _findings(report: dict[str, Any], scan_root: Path) -> Iterable[Finding]:
    results = report.get("results", {})
    lines_cache: dict[str, list[str]] = {}
    for key, outcome in (("passed_checks", "PASSED"), ("failed_checks", "FAILED")):
        for record in results.get(key, []):
            rel = record["file_path"].lstrip("/")
            parts = Path(rel).parts
            if len(parts) != 3 or parts[2] != SCANNED_FILE:
                raise CheckovError(f"unexpected file in checkov report: {record['file_path']}")
            stage, stack = parts[0], parts[1]
            if rel not in lines_cache:
                lines_cache[rel] = (scan_root / rel).read_text().splitlines()
            start, end = record.get("file_line_range") or (0, 0)
            yield Finding(
                stage=stage,
                stack=stack,
                check_id=record["check_id"],
                check_name=record.get("check_name") or "",
                address=normalise_address(record["resource"], lines_cache[rel], start),
                result=outcome,
                file=rel,
                lines=(start, end),
                guideline=record.get("guideline"),
            )


_BLOCK_LINE = re.compile(r'^( *)"([^"]+)": [\{\[]')


def normalise_address(resource: str, lines: list[str], start_line: int) -> str:
    """`resource.<name>` / `data.<name>` (Python checks) -> `<type>.<name>` / `data.<type>.<name>`.

    The copy was written with indent=1, so a resource's name key sits at indent 3 under its type
    key at indent 2 under `resource`/`data` at indent 1; checkov's start line is the name line.
    """
    kind, _, rest = resource.partition(".")
    if kind not in ("resource", "data") or "." in rest:
        return resource  # already `<type>.<name>`, `data.<type>.<name>` or `provider.<name>`
    found: dict[int, str] = {}
    for index in range(start_line - 1, -1, -1):
        match = _BLOCK_LINE.match(lines[index]) if index < len(lines) else None
        if not match:
            continue
        indent = len(match.group(1))
        if indent in (1, 2, 3) and indent not in found and all(indent < i for i in found):
            found[indent] = match.group(2)
        if 1 in found:
            break
    if found.get(3) != rest or found.get(1) != kind or 2 not in found:
        raise CheckovError(f"cannot attribute checkov resource {resource!r} at line {start_line}: found {found}")
    return f"{found[2]}.{rest}" if kind == "resource" else f"data.{found[2]}.{rest}"

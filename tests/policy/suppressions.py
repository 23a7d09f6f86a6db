"""Per-resource checkov suppressions with reasons (tests/policy/suppressions.toml).

Inline `checkov:skip` does not work for Terraform JSON and `--skip-check` hides a check for the
whole app, so the gate post-filters checkov's report instead. A suppression names one check on one
resource in one stack (optionally only in some stages) and says why. An exact address — no
wildcards: cdktf's logical ids (including the hash suffix of nested constructs) are a stable
function of the construct path, so an exact address survives re-synthesis and goes stale, loudly,
when the construct is renamed.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from policy.checkov_runner import POLICY_DIR, Finding

SUPPRESSIONS_FILE = POLICY_DIR / "suppressions.toml"
STAGE_LABELS = ("production", "preview", "dev")
STACKS = ("dns", "network", "data", "compute", "edge")
_CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
_ADDRESS = re.compile(r"^(data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+$")
_KEYS = {"check", "stack", "resource", "stages", "reason"}


@dataclass(frozen=True)
class Suppression:
    check: str
    stack: str
    resource: str
    """`<type>.<name>` as normalised by checkov_runner (`data.<type>.<name>` for data sources)."""
    reason: str
    stages: tuple[str, ...] = STAGE_LABELS

    def matches(self, finding: Finding) -> bool:
        return (
            finding.check_id == self.check
            and finding.stack == self.stack
            and finding.address == self.resource
            and finding.stage in self.stages
        )

    @property
    def key(self) -> str:
        return f"{self.check} {self.stack}/{self.resource} [{','.join(self.stages)}]"


def load_suppressions(path: Path = SUPPRESSIONS_FILE) -> list[Suppression]:
    """Parse and validate the file; any malformed entry is an error, not silently ignored."""
    data = tomllib.loads(path.read_text())
    unknown_top = set(data) - {"suppression"}
    if unknown_top:
        raise ValueError(f"{path.name}: unknown top-level keys {sorted(unknown_top)}")
    result: list[Suppression] = []
    for index, entry in enumerate(data.get("suppression", [])):
        where = f"{path.name} suppression #{index + 1}"
        missing = {"check", "stack", "resource", "reason"} - set(entry)
        extra = set(entry) - _KEYS
        if missing or extra:
            raise ValueError(f"{where}: missing {sorted(missing)} / unknown {sorted(extra)} keys")
        if not _CHECK_ID.match(entry["check"]):
            raise ValueError(f"{where}: {entry['check']!r} is not a check id (CKV_AWS_n / CKV2_AWS_n)")
        if entry["stack"] not in STACKS:
            raise ValueError(f"{where}: stack {entry['stack']!r} is not one of {STACKS}")
        if not _ADDRESS.match(entry["resource"]):
            raise ValueError(
                f"{where}: resource {entry['resource']!r} must be one exact `<type>.<name>` address "
                "(no blanket skips, no wildcards)"
            )
        stages = tuple(entry.get("stages", STAGE_LABELS))
        if not stages or set(stages) - set(STAGE_LABELS) or len(set(stages)) != len(stages):
            raise ValueError(f"{where}: stages {list(stages)} must be a non-empty subset of {STAGE_LABELS}")
        reason = " ".join(str(entry["reason"]).split())
        if len(reason) < 30:
            raise ValueError(f"{where}: reason {reason!r} is too short to justify anything")
        result.append(Suppression(entry["check"], entry["stack"], entry["resource"], reason, stages))
    keys = [s.key for s in result]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"{path.name}: duplicate suppressions {duplicates}")
    return result


def apply(findings: Iterable[Finding], suppressions: list[Suppression]) -> tuple[list[Finding], set[int]]:
    """(failed findings no suppression covers, indexes of suppressions that matched something)."""
    unsuppressed, used = [], set()
    for finding in findings:
        if finding.result != "FAILED":
            continue
        hits = [i for i, s in enumerate(suppressions) if s.matches(finding)]
        used.update(hits)
        if not hits:
            unsuppressed.append(finding)
    return unsuppressed, used


def render_table(suppressions: list[Suppression]) -> str:
    """The markdown table docs/security.md embeds (tests/policy/test_docs.py keeps them equal)."""
    lines = [
        "| Check | Stack | Resource | Stages | Reason |",
        "|---|---|---|---|---|",
    ]
    for s in sorted(suppressions, key=lambda s: (s.check, s.stack, s.resource)):
        stages = "all" if set(s.stages) == set(STAGE_LABELS) else ", ".join(s.stages)
        reason = s.reason.replace("|", "\\|")
        lines.append(f"| `{s.check}` | {s.stack} | `{s.resource}` | {stages} | {reason} |")
    if not suppressions:
        lines.append("| — | — | — | — | No suppressions. |")
    return "\n".join(lines)

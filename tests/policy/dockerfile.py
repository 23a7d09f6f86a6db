"""Static reading of the Dockerfile templates (docker/): no Docker daemon here, so a Dockerfile is
parsed as text — instructions (continuations joined, comments dropped) grouped into stages at
each FROM — and what a stage's filesystem holds is known only through its base image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

EXEC_LOGGING_TOOLS = frozenset({"script", "cat"})
"""What ECS Exec session logging runs inside the container: the SSM agent records the session
with `script` and uploads it with `cat` (ECS developer guide, "Logging and auditing using ECS
Exec": "the container image requires `script` and `cat` to be installed"; aws/amazon-ssm-agent
agent/session/shell/shell_unix.go; aws/amazon-ssm-agent#653)."""

BASE_IMAGE_TOOLS: dict[str, frozenset[str]] = {
    # No shell and no coreutils at all (GoogleContainerTools/distroless: "no shell, no package manager").
    "gcr.io/distroless/cc-debian12:nonroot": frozenset(),
    "gcr.io/distroless/base-debian12:nonroot": frozenset(),
    # Debian images carry every Essential package: bsdutils ships /usr/bin/script, coreutils
    # /bin/cat, dash /bin/sh (`dpkg -S` on Debian 12: bsdutils and coreutils are Essential: yes).
    "debian:12-slim": frozenset({"sh", "script", "cat"}),
    "debian:bookworm-slim": frozenset({"sh", "script", "cat"}),
}
"""Executables a known base image provides. A stage FROM an image not listed here has unknown
contents, which the checks treat as an error rather than a guess."""


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, in order; AssertionError on an instruction before any FROM."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.IGNORECASE)
            assert match, line
            stages.append(Stage(image=match.group(1), name=match.group(2)))
        else:
            assert stages, f"{path.name}: {keyword} before the first FROM"
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


def target_stage(stages: list[Stage], target: str | None) -> Stage:
    """The stage `docker build --target <target>` produces (the last stage without a target).
    KeyError when no stage has that name."""
    if target is None:
        return stages[-1]
    for stage in stages:
        if stage.name == target:
            return stage
    raise KeyError(f"no stage named {target!r} (stages: {[s.name for s in stages]})")


def stage_tools(stages: list[Stage], stage: Stage) -> frozenset[str] | None:
    """Executables the stage's image provides, from its base image (following `FROM <stage>`);
    None when the base image is not in BASE_IMAGE_TOOLS."""
    by_name = {s.name: s for s in stages if s.name}
    seen: set[str] = set()
    while stage.image in by_name and stage.image not in seen:
        seen.add(stage.image)
        stage = by_name[stage.image]
    return BASE_IMAGE_TOOLS.get(stage.image)

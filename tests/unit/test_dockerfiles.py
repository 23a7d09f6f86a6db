"""The Dockerfile templates (docker/): Bun build stage, distroless non-root runtime, right port.

No Docker daemon here, so the files are parsed as text: instructions (continuations joined,
comments dropped) grouped into stages at each FROM.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.topology import SERVICE_PORTS

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
EXAMPLE_APP = DOCKER_DIR / "example-app"
NONROOT = "65532:65532"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [arg for kw, arg in self.instructions if kw == keyword]


def parse(path: Path) -> list[Stage]:
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


@pytest.fixture(params=sorted(SERVICE_PORTS))
def service(request: pytest.FixtureRequest) -> str:
    return request.param


def test_parser_groups_stages() -> None:
    stages = parse(DOCKER_DIR / "Dockerfile.api")
    assert [(s.image, s.name) for s in stages] == [
        ("oven/bun:1.2", "build"),
        ("gcr.io/distroless/cc-debian12:nonroot", "runtime"),
    ]


def test_build_stage_compiles_with_bun_1(service: str) -> None:
    build, *_ = parse(DOCKER_DIR / f"Dockerfile.{service}")
    assert re.fullmatch(r"oven/bun:1(\.\d+){0,2}", build.image), build.image
    runs = build.args("RUN")
    assert "bun install --frozen-lockfile" in runs
    assert any(r.startswith("bun build --compile") and "--outfile /out/server" in r for r in runs), runs
    assert build.args("ARG") == [f"ENTRYPOINT=apps/{service}/src/index.ts"]


def test_final_stage_is_distroless_non_root_on_the_service_port(service: str) -> None:
    *_, final = parse(DOCKER_DIR / f"Dockerfile.{service}")
    assert re.fullmatch(r"gcr\.io/distroless/(base|cc)-debian12:nonroot", final.image), final.image
    assert final.args("USER") == [NONROOT]
    assert [kw for kw, _ in final.instructions].index("USER") > [kw for kw, _ in final.instructions].index("COPY")
    assert final.args("EXPOSE") == [str(SERVICE_PORTS[service])]
    assert f"PORT={SERVICE_PORTS[service]}" in final.args("ENV")[0].split()
    # No shell in distroless: nothing may RUN there, and the entrypoint must be exec form.
    assert final.args("RUN") == [] and final.args("HEALTHCHECK") == []
    assert json.loads(final.args("ENTRYPOINT")[0]) == ["/app/server"]
    assert final.args("COPY") == [f"--from=build --chown={NONROOT} /out/server /app/server"]


def test_example_app_carries_identical_copies(service: str) -> None:
    template = (DOCKER_DIR / f"Dockerfile.{service}").read_bytes()
    assert (EXAMPLE_APP / f"Dockerfile.{service}").read_bytes() == template


def test_example_app_is_a_buildable_bun_workspace(service: str) -> None:
    assert (EXAMPLE_APP / "apps" / service / "src" / "index.ts").is_file()
    assert json.loads((EXAMPLE_APP / "package.json").read_text())["workspaces"] == ["apps/*"]
    lock = (EXAMPLE_APP / "bun.lock").read_text()
    assert f'"apps/{service}"' in lock and f"@hebo-example/{service}@workspace:apps/{service}" in lock
    ignored = (EXAMPLE_APP / ".dockerignore").read_text().split()
    assert "node_modules" in ignored and ".git" in ignored

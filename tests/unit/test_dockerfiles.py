"""The Dockerfile templates (docker/): Bun build stage, distroless non-root runtime (the default
target), a Debian-slim `debug` twin for exec-enabled stages, right port.

No Docker daemon here, so the files are parsed as text (tests/policy/dockerfile.py); what only a
real `docker build` and an ECS Exec session can confirm is listed in docs/compute.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.stage import policy_for
from config.topology import SERVICE_PORTS
from policy.dockerfile import EXEC_LOGGING_TOOLS, parse, stage_tools, target_stage

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
EXAMPLE_APP = DOCKER_DIR / "example-app"
NONROOT = "65532:65532"


@pytest.fixture(params=sorted(SERVICE_PORTS))
def service(request: pytest.FixtureRequest) -> str:
    return request.param


def test_parser_groups_stages() -> None:
    stages = parse(DOCKER_DIR / "Dockerfile.api")
    assert [(s.image, s.name) for s in stages] == [
        ("oven/bun:1.2", "build"),
        ("debian:12-slim", "debug"),
        ("gcr.io/distroless/cc-debian12:nonroot", "runtime"),
    ]
    assert target_stage(stages, None) is stages[-1]
    assert target_stage(stages, "debug") is stages[1]
    with pytest.raises(KeyError, match="no stage named 'nope'"):
        target_stage(stages, "nope")


def test_stage_tools_follow_from_stage_and_refuse_unknown_bases(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM debian:12-slim AS base\nFROM base AS child\nFROM alpine:3 AS other\n"
        "FROM gcr.io/distroless/cc-debian12:nonroot\n"
    )
    base, child, other, final = parse(dockerfile)
    assert stage_tools([base, child, other, final], child) == {"sh", "script", "cat"}
    assert stage_tools([base, child, other, final], other) is None
    assert stage_tools([base, child, other, final], final) == frozenset()


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


def test_debug_stage_is_the_runtime_stage_on_a_base_with_the_exec_logging_tools(service: str) -> None:
    stages = parse(DOCKER_DIR / f"Dockerfile.{service}")
    debug, runtime = target_stage(stages, "debug"), target_stage(stages, "runtime")
    assert EXEC_LOGGING_TOOLS <= stage_tools(stages, debug)  # type: ignore[operator]  # None (unknown base) fails the test
    assert not EXEC_LOGGING_TOOLS & stage_tools(stages, runtime)  # type: ignore[operator]  # None (unknown base) fails the test
    # The build fails if the base image ever loses a tool, instead of sessions going unlogged.
    assert debug.args("RUN") == [" && ".join(f"command -v {tool}" for tool in ("script", "cat"))]
    # Otherwise identical to the runtime stage: same binary, user, port and entrypoint.
    without_run = [i for i in debug.instructions if i[0] != "RUN"]
    assert without_run == [i for i in runtime.instructions]


@pytest.mark.parametrize("stage", ["production", "pr-42", "dev"])
def test_stage_policy_builds_debug_exactly_where_ecs_exec_is_on(stage: str) -> None:
    policy = policy_for(stage)
    assert policy.image_target == ("debug" if policy.ecs_exec else "runtime")
    assert policy.image_target == ("runtime" if stage == "production" else "debug")

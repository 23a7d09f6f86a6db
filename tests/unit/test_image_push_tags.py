"""The push tag of build mode, run through real Terraform: every push gets a tag no earlier push
had, also when the content returns to an earlier state, and an unchanged build plans nothing.

`terraform_data` is built into Terraform (no provider download, no network), so the synthesized
push id and tag expression are applied as they are; only the ECR repository URL (which needs
AWS) is replaced by a literal. This is the behaviour issue #18 relies on: ECR refuses to push a
tag that already exists in an IMMUTABLE repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synth

TERRAFORM = shutil.which("terraform")
REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hebo-pr-42/api"
OTHER_CONTENT = "0" * 32

pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="terraform CLI not on PATH")


def _run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env.update(TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    return subprocess.run(
        [TERRAFORM, *args, "-no-color"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,  # type: ignore[list-item]  # shutil.which() is Optional; the module's skipif mark guarantees the executable
        timeout=120,
    )


def _without_metadata(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "//"}


def _write(workdir: Path, push_id_name: str, push_id: dict[str, Any], tag_expression: str) -> None:
    config = {
        "resource": {"terraform_data": {push_id_name: push_id}},
        "output": {"image": {"value": tag_expression}},
    }
    (workdir / "main.tf.json").write_text(json.dumps(config, indent=1))


def _apply(workdir: Path) -> str:
    result = _run(workdir, "apply", "-auto-approve", "-input=false")
    assert result.returncode == 0, result.stderr
    output = _run(workdir, "output", "-raw", "image")
    assert output.returncode == 0, output.stderr
    return output.stdout


def test_each_push_gets_a_new_tag_and_an_unchanged_build_plans_nothing(preview: Synth, tmp_path: Path) -> None:
    compute = preview.stack("compute")["resource"]
    ((image_name, image),) = [(n, c) for n, c in compute["docker_image"].items() if n.startswith("api_image")]
    ((push_id_name, push_id),) = [
        (n, _without_metadata(c)) for n, c in compute["terraform_data"].items() if n.startswith("api_image_push_id")
    ]
    repository_ref = re.match(r"\$\{aws_ecr_repository\.[^.]+\.repository_url\}", image["name"])
    assert repository_ref, image["name"]
    tag_expression = image["name"].replace(repository_ref.group(0), REPOSITORY)
    content = push_id["triggers_replace"]["context_sha256"]

    assert _run(tmp_path, "init", "-input=false").returncode == 0
    _write(tmp_path, push_id_name, push_id, tag_expression)
    first = _apply(tmp_path)
    assert re.fullmatch(
        rf"{re.escape(REPOSITORY)}:{content}-[0-9a-f]{{8}}(-[0-9a-f]{{4}}){{3}}-[0-9a-f]{{12}}", first
    ), first
    assert len(first.split(":")[-1]) <= 128  # Docker tag limit

    # Same content again: nothing to replace, so no build and no push.
    plan = _run(tmp_path, "plan", "-detailed-exitcode", "-input=false")
    assert plan.returncode == 0, plan.stdout + plan.stderr

    # New content, then back to the first content (a revert): each is a new tag.
    changed = json.loads(json.dumps(push_id))
    changed["triggers_replace"]["context_sha256"] = OTHER_CONTENT
    _write(tmp_path, push_id_name, changed, tag_expression.replace(f":{content}-", f":{OTHER_CONTENT}-"))
    second = _apply(tmp_path)
    _write(tmp_path, push_id_name, push_id, tag_expression)
    reverted = _apply(tmp_path)
    assert second.split(":")[-1].startswith(OTHER_CONTENT + "-")
    assert reverted.split(":")[-1].startswith(content + "-")
    assert len({first, second, reverted}) == 3, (first, second, reverted)

    # Only the build target changing (debug <-> runtime) is a new push under a new tag, too.
    retargeted = json.loads(json.dumps(push_id))
    retargeted["triggers_replace"]["target"] = "runtime"
    _write(tmp_path, push_id_name, retargeted, tag_expression)
    assert _apply(tmp_path) not in {first, second, reverted}

"""Supply chain of .github/workflows (issue 25): every action by full commit SHA with its version
in a comment, every image by digest, no privileged emulation once AWS credentials exist, and both
preview jobs in the `preview` environment the deploy role trusts.

GitHub, "Security hardening for GitHub Actions" ("Using third-party actions": pinning to a full
length commit SHA is the only immutable reference); CVE-2025-30066 (tj-actions/changed-files)
re-pointed version tags to a commit that dumped secrets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PREVIEW = ROOT / ".github" / "workflows" / "preview.yml"

_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
_PINNED_ACTION = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}")
_VERSION_COMMENT = re.compile(r"v\d+(\.\d+)*")
_IMAGE_BY_DIGEST = re.compile(r"\S+@sha256:[0-9a-f]{64}")
PRIVILEGED_EMULATION = ("docker/setup-qemu-action", "tonistiigi/binfmt", "multiarch/qemu-user-static", "--privileged")


def unpinned(text: str) -> list[str]:
    """Every `uses:` or image of one workflow that is not pinned, as `line: reason` (empty: all pinned)."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _USES_LINE.match(line)
        if not match:
            continue
        ref, comment = match["ref"].strip("'\""), (match["comment"] or "").strip()
        if ref.startswith("./"):
            continue  # an action of this repository, reviewed with the change itself
        if ref.startswith("docker://"):
            if not _IMAGE_BY_DIGEST.fullmatch(ref.removeprefix("docker://")):
                problems.append(f"{number}: image {ref} not pinned by digest")
        elif not _PINNED_ACTION.fullmatch(ref):
            problems.append(f"{number}: action {ref} not pinned to a full commit SHA")
        elif not _VERSION_COMMENT.fullmatch(comment):
            problems.append(f"{number}: action {ref} has no version comment (`# vX.Y.Z`)")
    doc = yaml.safe_load(text) or {}
    for job_name, job in (doc.get("jobs") or {}).items():
        container = job.get("container")
        images = [container if isinstance(container, str) else (container or {}).get("image")]
        images += [(service or {}).get("image") for service in (job.get("services") or {}).values()]
        problems += [
            f"job {job_name}: image {image} not pinned by digest"
            for image in images
            if image and not _IMAGE_BY_DIGEST.fullmatch(str(image))
        ]
    return problems


def test_workflows_exist():
    assert [p.name for p in WORKFLOWS] == ["ci.yml", "preview.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_and_image_is_pinned(path: Path):
    text = path.read_text()
    assert len(re.findall(r"uses:", text)) >= 4
    assert unpinned(text) == []


MUTATIONS = {
    "tag instead of SHA": (
        "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0",
        "actions/checkout@v6",
        "not pinned to a full commit SHA",
    ),
    "short SHA": (
        "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803",
        "actions/checkout@d23441a",
        "not pinned to a full commit SHA",
    ),
    "branch": (
        "hashicorp/setup-terraform@b9cd54a3c349d3f38e8881555d616ced269862dd # v3.1.2",
        "hashicorp/setup-terraform@main",
        "not pinned to a full commit SHA",
    ),
    "missing version comment": (
        "@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0",
        "@ed597411d8f924073f98dfc5c65a23a2325f34cd",
        "has no version comment",
    ),
    "docker action by tag": (
        "uses: actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0",
        "uses: docker://tonistiigi/binfmt:latest",
        "not pinned by digest",
    ),
    "job container by tag": (
        "    environment: preview   # the deploy role",
        "    container: node:22\n    environment: preview   # the deploy role",
        "image node:22 not pinned by digest",
    ),
}


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_mutated_copy_fails(case: str):
    old, new, expected = MUTATIONS[case]
    text = PREVIEW.read_text()
    assert old in text, f"mutation {case!r} no longer applies to preview.yml"
    problems = unpinned(text.replace(old, new, 1))
    assert len(problems) == 1 and expected in problems[0], problems


def test_digest_pinned_images_pass():
    text = (
        "jobs:\n  j:\n    container: node@sha256:" + "a" * 64 + "\n    steps:\n"
        "      - uses: docker://alpine@sha256:" + "b" * 64 + "\n"
    )
    assert unpinned(text) == []


def _load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True)
    return doc


def test_no_privileged_emulation_after_the_aws_login():
    """arm64 images are built natively on the arm64 runner: no QEMU/binfmt container (privileged)
    anywhere in a job that holds the deploy role's session."""
    doc = _load(PREVIEW)
    logins = 0
    for job_name, job in doc["jobs"].items():
        steps = job["steps"]
        login = [
            i
            for i, s in enumerate(steps)
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
        ]
        if not login:
            continue
        logins += 1
        after = steps[login[0] :]
        assert [s for s in after if any(p in str(s) for p in PRIVILEGED_EMULATION)] == [], job_name
    assert logins == 2
    assert doc["jobs"]["deploy"]["runs-on"] == "ubuntu-24.04-arm"
    assert not any(p in PREVIEW.read_text() for p in PRIVILEGED_EMULATION)


def test_both_preview_jobs_run_in_the_trusted_environment():
    """The deploy role trusts only `repo:<owner>/<name>:environment:preview` (ops/deploy_role.py):
    a job outside the environment gets a different subject and cannot assume it."""
    from ops.deploy_role import ENVIRONMENT

    doc = _load(PREVIEW)
    assert {name: job.get("environment") for name, job in doc["jobs"].items()} == {
        "deploy": ENVIRONMENT,
        "destroy": ENVIRONMENT,
    }

"""hebo_testing's helpers, and cdktf's `Testing` matchers as README "Writing your own assertions"
describes them (lists: same length, element by element, each element a containment match)."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from hebo_testing import build_stack, lacks_resource_with_properties, provider_types
from modules.cdk import Testing

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compute() -> str:
    return Testing.synth(build_stack("compute", stage="pr-42"))


def test_list_matching_is_by_length_and_position_with_containment_per_element(compute: str) -> None:
    one = {"capacity_provider": "FARGATE_SPOT"}
    # The real element also has `base` and `weight`: a one-element list still matches.
    assert Testing.to_have_resource_with_properties(compute, "aws_ecs_service", {"capacity_provider_strategy": [one]})
    assert Testing.to_have_resource_with_properties(
        compute, "aws_ecs_service", {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}]}
    )
    assert not Testing.to_have_resource_with_properties(
        compute, "aws_ecs_service", {"capacity_provider_strategy": [one, one]}
    )
    assert not Testing.to_have_resource_with_properties(compute, "aws_ecs_service", {"capacity_provider_strategy": []})
    assert not Testing.to_have_resource_with_properties(
        compute, "aws_ecs_service", {"capacity_provider_strategy": [{"capacity_provider": "FARGATE"}]}
    )


def test_negated_matcher_passes_on_a_misspelled_type_and_the_helper_refuses_it(compute: str) -> None:
    assert not Testing.to_have_resource_with_properties(compute, "aws_ecs_servce", {})  # the trap: vacuously "absent"
    with pytest.raises(ValueError, match=r"^unknown resource type 'aws_ecs_servce': did you mean 'aws_ecs_service'"):
        lacks_resource_with_properties(compute, "aws_ecs_servce", {})
    with pytest.raises(ValueError, match=r"^unknown data type 'aws_route53_zon': did you mean 'aws_route53_zone'"):
        lacks_resource_with_properties(compute, "aws_route53_zon", {}, kind="data")
    assert lacks_resource_with_properties(
        compute, "aws_ecs_service", {"capacity_provider_strategy": [{"capacity_provider": "FARGATE"}]}
    )
    assert not lacks_resource_with_properties(
        compute, "aws_ecs_service", {"capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}]}
    )
    assert not lacks_resource_with_properties(compute, "aws_route53_zone", {"name": "hebo.ai"}, kind="data")
    assert lacks_resource_with_properties(compute, "aws_rds_cluster", {})  # known type, none in compute


def test_provider_types_come_from_the_installed_providers() -> None:
    resources, data = provider_types(), provider_types("data")
    assert {"aws_lb", "aws_ecs_service", "docker_image", "terraform_data"} <= resources
    assert {"aws_route53_zone", "aws_secretsmanager_secret"} <= data
    assert "aws_provider" not in resources and "aws_data_aws_route53_zone" not in resources
    assert len(resources) > 1000 and len(data) > 500
    with pytest.raises(ValueError, match="kind must be 'resource' or 'data', not 'module'"):
        provider_types("module")


USER_FILE = """from cdktf import Testing

from hebo_testing import build_stack


def test_user_rule():
    network = Testing.synth(build_stack("network", stage="dev"))
    assert Testing.to_have_resource(network, "aws_vpc")
"""


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["pytest", "make"])
def test_a_user_test_in_checks_runs_with_plain_pytest_and_make(runner: str, tmp_path: Path) -> None:
    """A file in checks/ (outside tests/), run the two ways the README names, from the
    repository root in a fresh process: it imports hebo_testing, cdktf's import order costs
    nothing (the root conftest prepared the kernel), and the suite's contracts accept it."""
    folder = REPO_ROOT / "checks" / f"tmp_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    try:
        (folder / "test_user_rule.py").write_text(USER_FILE)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
        if runner == "pytest":
            command = [
                str(REPO_ROOT / ".venv" / "bin" / "pytest"),
                "-q",
                "-p",
                "no:cacheprovider",
                str(folder.relative_to(REPO_ROOT)),
            ]
        else:
            # `-o test-setup`: the installs are not this test's business (and must not touch a
            # shared environment); what runs is exactly the `test` recipe with ARGS passed on.
            command = [
                "make",
                "--no-print-directory",
                "-o",
                "test-setup",
                "test",
                f"ARGS=-q -p no:cacheprovider {folder.relative_to(REPO_ROOT)}",
            ]
        result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 passed in " in result.stdout and "warning" not in result.stdout, result.stdout
    finally:
        for path in sorted(folder.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        folder.rmdir()

"""`make validate`'s last line (tools/terraform_check.summary_line): what was validated against
which provider version, what was not and why, and the exit code that goes with it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tools import terraform_check
from tools.terraform_check import ProviderChoice, VariantResult, summary_line

AWS_MIRROR = ProviderChoice("aws", "registry.terraform.io/hashicorp/aws", "6.25.0", "5.100.0", "/opt/tf-plugins")
AWS_PINNED = ProviderChoice("aws", "registry.terraform.io/hashicorp/aws", "6.25.0", "6.25.0", "registry")
DOCKER = ProviderChoice("docker", "registry.terraform.io/kreuzwerker/docker", "3.6.2", "3.6.2", "registry")


def prebuilt(stage: str, aws: ProviderChoice = AWS_MIRROR, errors: int = 0) -> VariantResult:
    return VariantResult(f"{stage} (prebuilt images)", 5, [aws], [], errors)


BUILD_MISSING = VariantResult(
    "pr-42 (build-image mode)", 5, [AWS_MIRROR], ["registry.terraform.io/kreuzwerker/docker 3.6.2"]
)


def test_partial_names_the_provider_version_the_pin_and_what_was_skipped() -> None:
    line, code = summary_line([prebuilt("production"), prebuilt("pr-42"), prebuilt("dev"), BUILD_MISSING])
    assert code == 3
    assert line == (
        "PARTIAL: terraform validate: 15 of 20 stacks validated (production (prebuilt images), pr-42 (prebuilt images), "
        "dev (prebuilt images)) against hashicorp/aws 5.100.0 (pinned 6.25.0) from a mirror; NOT validated: "
        "pr-42 (build-image mode), no source for kreuzwerker/docker 3.6.2 (no mirror holds it, registry unreachable); "
        "a provider differs from its pin, so its schema, not the pinned one, was checked"
    )


def test_ok_only_when_everything_validated_against_the_pins() -> None:
    build = VariantResult("pr-42 (build-image mode)", 5, [AWS_PINNED, DOCKER])
    line, code = summary_line([prebuilt("dev", AWS_PINNED), build])
    assert (line, code) == (
        "OK: terraform validate: 10 of 10 stacks validated (dev (prebuilt images), pr-42 (build-image mode)) against "
        "hashicorp/aws 6.25.0 from the registry, kreuzwerker/docker 3.6.2 from the registry",
        0,
    )


def test_errors_fail_whatever_else_happened() -> None:
    line, code = summary_line([prebuilt("dev", AWS_PINNED, errors=2), BUILD_MISSING])
    assert code == 1 and line.startswith("FAILED: 2 error(s); terraform validate: 5 of 10 stacks validated")


@pytest.mark.parametrize(("strict", "expected"), [(False, 0), (True, 3)])
def test_partial_exits_zero_unless_strict_and_the_summary_is_the_last_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, strict: bool, expected: int
) -> None:
    results = iter([prebuilt("dev"), BUILD_MISSING])
    monkeypatch.setattr(terraform_check, "synthesize", lambda *_: None)
    monkeypatch.setattr(terraform_check, "_validate_workspace", lambda *_: next(results))
    code = terraform_check.cmd_validate(argparse.Namespace(work=str(tmp_path), stages=["dev"], strict=strict))
    assert code == expected
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .startswith("PARTIAL: terraform validate: 5 of 10 stacks validated (dev (prebuilt images))")
    )


def test_a_timed_out_command_names_what_was_still_in_progress() -> None:
    """`in_progress`: what an apply/destroy started and never finished (Terraform's -no-color lines)."""
    output = "\n".join(
        [
            'aws_route53_record.alias["pr-42.dev.api.hebo.ai"]: Creating...',
            "aws_ecs_service.api: Creating...",
            'aws_route53_record.alias["pr-42.dev.api.hebo.ai"]: Still creating... [10s elapsed]',
            'aws_route53_record.alias["pr-42.dev.api.hebo.ai"]: Creation complete after 12s [id=Z_A]',
            "aws_lb_listener.https: Modifying... [id=arn:listener]",
            "aws_s3_bucket.site: Destroying... [id=site]",
            "aws_s3_bucket.site: Destruction complete after 1s",
            "data.aws_iam_policy_document.site: Reading...",
        ]
    )
    assert terraform_check.in_progress(output) == [
        "aws_ecs_service.api (creating)",
        "aws_lb_listener.https (modifying)",
        "data.aws_iam_policy_document.site (reading)",
    ]
    assert terraform_check.in_progress("Apply complete! Resources: 0 added, 0 changed, 0 destroyed.") == []

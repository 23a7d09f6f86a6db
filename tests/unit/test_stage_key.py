"""One customer-managed KMS key per preview/dev stage (issue #19), per-stack keys in production.

The network stack deploys first, so it owns the stage key and the data and compute stacks name
it through a cross-stack reference. The edge stack has no key in any stage: the console bucket
is SSE-S3, its content being public by design (docs/edge.md, "Encryption").
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

from expectations import expect
from synth_support import SHARED_STAGE_KEY, Synth, without_metadata

KEY_REFERENCE = re.compile(r"\$\{(?:aws_kms_key\.[^}]+|data\.terraform_remote_state\.[^}]*aws_kms_key[^}]*)\}")


def key_references(value: Any) -> Iterator[str]:
    """Every reference to a KMS key anywhere in a stack (own keys and cross-stack ones)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k != "//":
                yield from key_references(v)
    elif isinstance(value, list):
        for v in value:
            yield from key_references(v)
    elif isinstance(value, str):
        yield from KEY_REFERENCE.findall(value)


def aliases(synth: Synth) -> dict[str, str]:
    return {c["name"]: stack for stack in synth.stacks for c in synth.resources(stack, "aws_kms_alias").values()}


def test_previews_and_dev_have_one_stage_key(preview: Synth, dev: Synth) -> None:
    for synth in (preview, dev):
        assert aliases(synth) == {f"alias/hebo-{synth.stage}-stage": "network"}
        assert {s: len(synth.resources(s, "aws_kms_key")) for s in synth.stacks} == {
            "dns": 0,
            "network": 1,
            "data": 0,
            "compute": 0,
            "edge": 0,
        }
        key = without_metadata(synth.resource("network", "aws_kms_key"))
        assert key == {
            "description": f"hebo-{synth.stage}: network, data and compute (flow logs, volumes, Aurora, secrets, "
            "service logs, images, alarm topic)",
            "enable_key_rotation": True,
            "deletion_window_in_days": 7,
            "lifecycle": {"prevent_destroy": False},
            "policy": "${data.aws_iam_policy_document.kms_policy_E61E893B.json}",
        }
        assert synth.stack("network")["output"]["cross-stack-output-aws_kms_keykms_key_28C05A0Farn"]["value"] == (
            "${aws_kms_key.kms_key_28C05A0F.arn}"
        )


def test_stage_key_policy_grants_what_every_consumer_needs(preview: Synth) -> None:
    """Network (flow logs), data (migrator and Aurora log groups) and compute (service and exec
    log groups) need CloudWatch Logs in the region; compute's alarms publish to the encrypted
    topic as cloudwatch.amazonaws.com. Everything else (EBS, RDS, Secrets Manager, ECR, Lambda)
    acts with the caller's IAM permissions, which the account statement delegates to."""
    document = without_metadata(preview.data_sources("network", "aws_iam_policy_document")["kms_policy_E61E893B"])
    account = "${data.aws_caller_identity.kms_account_A4D56B00.account_id}"
    partition = "${data.aws_partition.kms_partition_79ECC167.partition}"
    assert document == {
        "statement": [
            {
                "sid": "AccountAdministers",
                "effect": "Allow",
                "actions": ["kms:*"],
                "resources": ["*"],
                "principals": [{"type": "AWS", "identifiers": [f"arn:{partition}:iam::{account}:root"]}],
            },
            {
                "sid": "ServicesEncrypt",
                "effect": "Allow",
                "resources": ["*"],
                "actions": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "principals": [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}],
                "condition": [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": [account]}],
            },
            {
                "sid": "CloudWatchLogsEncrypt",
                "effect": "Allow",
                "resources": ["*"],
                "actions": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "principals": [{"type": "Service", "identifiers": ["logs.us-east-1.amazonaws.com"]}],
                "condition": [
                    {
                        "test": "ArnLike",
                        "variable": "kms:EncryptionContext:aws:logs:arn",
                        "values": [f"arn:{partition}:logs:us-east-1:{account}:log-group:*"],
                    }
                ],
            },
        ]
    }


def test_every_key_reference_in_data_and_compute_is_the_stage_key(any_stage: Synth) -> None:
    """Whole-app: a new encrypted resource in data or compute must use the stage key where it is
    shared, and its own stack's key in production (never another stack's own key)."""
    checked = 0
    for stack in ("data", "compute"):
        for reference in key_references(any_stage.stack(stack).get("resource", {})):
            if expect(any_stage)["shared_stage_key"]:
                assert reference == SHARED_STAGE_KEY, f"{stack}: {reference}"
            elif reference.startswith("${data.terraform_remote_state"):
                # compute's DecryptSecrets names the data stack's key: a reference, not a key of its own
                assert stack == "compute" and "cross-stack-reference-input-data" in reference, reference
            else:
                assert reference.split(".")[1] in any_stage.resources(stack, "aws_kms_key"), f"{stack}: {reference}"
            checked += 1
    assert checked >= 10, f"only {checked} key references found: the walk checks nothing"


def test_production_keeps_one_key_per_stack_and_region(production: Synth) -> None:
    assert aliases(production) == {
        "alias/hebo-production-network": "network",
        "alias/hebo-production-network-secondary": "network",
        "alias/hebo-production-data": "data",
        "alias/hebo-production-data-secondary": "data",
        "alias/hebo-production-compute": "compute",
    }
    assert all(
        c["lifecycle"] == {"prevent_destroy": True}
        for s in production.stacks
        for c in production.resources(s, "aws_kms_key").values()
    )
    assert "stage_key" not in json.dumps(production.stack("network").get("output", {}))

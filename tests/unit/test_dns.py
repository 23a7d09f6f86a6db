"""The account-wide dns stack: zone created or adopted, never destroyed; optional CAA and DNSSEC (issue #8)."""

from __future__ import annotations

from typing import Callable

import pytest

from synth_support import Synth, without_metadata

AMAZON_CAA = ['0 issue "amazon.com"', '0 issue "amazontrust.com"', '0 issue "awstrust.com"', '0 issue "amazonaws.com"']


@pytest.fixture(scope="module")
def adopted(synth_variant: Callable[..., Synth]) -> Synth:
    """HEBO_ZONE_ID set (the output of `ops zone`), CAA switched off."""
    return synth_variant(HEBO_STAGE="production", HEBO_ZONE_ID="Z0123456789ABCDEFGHIJ", HEBO_ENABLE_CAA="false")


@pytest.fixture(scope="module")
def signed(synth_variant: Callable[..., Synth]) -> Synth:
    """DNSSEC on, primary region eu-west-1, extra CAA issuers and iodef (shared with test_edge)."""
    return synth_variant(
        HEBO_STAGE="pr-42",
        HEBO_CONSOLE_BUILD_DIR="/nonexistent/console/build/client",
        HEBO_REGION="eu-west-1",
        HEBO_ENABLE_DNSSEC="true",
        HEBO_CAA_EXTRA_ISSUERS="letsencrypt.org, pki.goog",
        HEBO_CAA_IODEF="mailto:security@hebo.ai",
        HEBO_PRICE_CLASS="PriceClass_All",
    )


def test_zone_created_when_no_id_configured(any_stage: Synth) -> None:
    assert without_metadata(any_stage.resources("dns", "aws_route53_zone")) == {
        "zone": {
            "name": "hebo.ai",
            "comment": "hebo platform (managed by hebo-infra; never deleted)",
            "force_destroy": False,
            "lifecycle": {"prevent_destroy": True},
        }
    }
    assert "import" not in any_stage.stack("dns")


def test_existing_zone_adopted_with_import_block(adopted: Synth) -> None:
    stack = adopted.stack("dns")
    assert stack["import"] == [{"id": "Z0123456789ABCDEFGHIJ", "to": "aws_route53_zone.zone"}]
    # Still exactly one zone, still protected.
    assert list(adopted.resources("dns", "aws_route53_zone")) == ["zone"]
    assert adopted.resource("dns", "aws_route53_zone")["lifecycle"] == {"prevent_destroy": True}
    # Only the dns stack imports anything.
    assert [name for name, s in adopted.stacks.items() if "import" in s] == ["dns"]


def test_outputs_zone_id_and_name_servers(any_stage: Synth) -> None:
    outputs = {k: v for k, v in any_stage.stack("dns")["output"].items() if not k.startswith("cross-stack")}
    assert outputs == {
        "zone_id": {
            "value": "${aws_route53_zone.zone.zone_id}",
            "description": "Route 53 hosted zone id",
            "sensitive": False,
        },
        "name_servers": {
            "value": "${aws_route53_zone.zone.name_servers}",
            "description": "Delegate the domain to these name servers",
            "sensitive": False,
        },
    }


def test_dns_is_account_wide(any_stage: Synth) -> None:
    stack = any_stage.stack("dns")
    assert stack["terraform"]["backend"]["s3"]["key"] == "global/dns.tfstate"
    (provider,) = stack["provider"]["aws"]
    assert provider["default_tags"] == [
        {"tags": {"app": "hebo", "stage": "global", "stack": "dns", "managed-by": "cdktf"}}
    ]


def test_caa_allows_only_amazon_by_default(any_stage: Synth) -> None:
    assert without_metadata(any_stage.resources("dns", "aws_route53_record")) == {
        "caa": {
            "zone_id": "${aws_route53_zone.zone.zone_id}",
            "name": "hebo.ai",
            "type": "CAA",
            "ttl": 3600,
            "records": AMAZON_CAA,
        }
    }


def test_caa_extra_issuers_and_iodef(signed: Synth) -> None:
    assert signed.resource("dns", "aws_route53_record", "caa")["records"] == AMAZON_CAA + [
        '0 issue "letsencrypt.org"',
        '0 issue "pki.goog"',
        '0 iodef "mailto:security@hebo.ai"',
    ]


def test_caa_can_be_switched_off(adopted: Synth) -> None:
    assert adopted.resources("dns", "aws_route53_record") == {}


def test_dnssec_off_by_default(any_stage: Synth) -> None:
    resources = any_stage.stack("dns")["resource"]
    for resource_type in (
        "aws_kms_key",
        "aws_kms_alias",
        "aws_route53_key_signing_key",
        "aws_route53_hosted_zone_dnssec",
    ):
        assert resource_type not in resources
    assert "dnssec_ds_record" not in any_stage.stack("dns")["output"]
    assert [p.get("alias") for p in any_stage.stack("dns")["provider"]["aws"]] == [None]


def test_dnssec_signs_the_zone_with_a_us_east_1_kms_key(signed: Synth) -> None:
    stack = signed.stack("dns")
    assert [(p["region"], p.get("alias")) for p in stack["provider"]["aws"]] == [
        ("eu-west-1", None),
        ("us-east-1", "us_east_1"),
    ]
    (key_name,) = signed.resources("dns", "aws_kms_key")
    (doc_name,) = signed.data_sources("dns", "aws_iam_policy_document")
    assert without_metadata(signed.resource("dns", "aws_kms_key")) == {
        "description": "Route 53 DNSSEC key-signing key",
        "customer_master_key_spec": "ECC_NIST_P256",
        "key_usage": "SIGN_VERIFY",
        "enable_key_rotation": False,
        "deletion_window_in_days": 30,
        "policy": f"${{data.aws_iam_policy_document.{doc_name}.json}}",
        "provider": "aws.us_east_1",
        "lifecycle": {"prevent_destroy": True},
    }
    assert without_metadata(signed.resource("dns", "aws_kms_alias")) == {
        "name": "alias/hebo-dnssec",
        "target_key_id": f"${{aws_kms_key.{key_name}.key_id}}",
        "provider": "aws.us_east_1",
    }
    (ksk_name,) = signed.resources("dns", "aws_route53_key_signing_key")
    assert without_metadata(signed.resource("dns", "aws_route53_key_signing_key")) == {
        "hosted_zone_id": "${aws_route53_zone.zone.zone_id}",
        "key_management_service_arn": f"${{aws_kms_key.{key_name}.arn}}",
        "name": "hebo_ksk",
        "status": "ACTIVE",
    }
    assert without_metadata(signed.resource("dns", "aws_route53_hosted_zone_dnssec")) == {
        "hosted_zone_id": f"${{aws_route53_key_signing_key.{ksk_name}.hosted_zone_id}}",
        "signing_status": "SIGNING",
        "depends_on": [f"aws_route53_key_signing_key.{ksk_name}"],
    }
    assert stack["output"]["dnssec_ds_record"] == {
        "value": f"${{aws_route53_key_signing_key.{ksk_name}.ds_record}}",
        "description": "Publish this DS record at the registrar to complete DNSSEC",
        "sensitive": False,
    }


def test_dnssec_key_policy_admits_only_route53_dnssec_of_this_account(signed: Synth) -> None:
    (document,) = signed.data_sources("dns", "aws_iam_policy_document").values()
    (account,) = signed.data_sources("dns", "aws_caller_identity")
    (partition,) = signed.data_sources("dns", "aws_partition")
    account_id = f"${{data.aws_caller_identity.{account}.account_id}}"
    part = f"${{data.aws_partition.{partition}.partition}}"
    route53 = [{"type": "Service", "identifiers": ["dnssec-route53.amazonaws.com"]}]
    this_account = {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [account_id]}
    assert document["provider"] == "aws.us_east_1"
    assert document["statement"] == [
        {
            "sid": "AccountAdministers",
            "effect": "Allow",
            "actions": ["kms:*"],
            "resources": ["*"],
            "principals": [{"type": "AWS", "identifiers": [f"arn:{part}:iam::{account_id}:root"]}],
        },
        {
            "sid": "Route53DnssecSigns",
            "effect": "Allow",
            "actions": ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
            "resources": ["*"],
            "principals": route53,
            "condition": [
                this_account,
                {"test": "ArnLike", "variable": "aws:SourceArn", "values": [f"arn:{part}:route53:::hostedzone/*"]},
            ],
        },
        {
            "sid": "Route53DnssecCreatesGrants",
            "effect": "Allow",
            "actions": ["kms:CreateGrant"],
            "resources": ["*"],
            "principals": route53,
            "condition": [this_account, {"test": "Bool", "variable": "kms:GrantIsForAWSResource", "values": ["true"]}],
        },
    ]


# -- the same stack through cdktf's Testing matchers (the API README.md documents for users) ----
from modules.cdk import Testing  # noqa: E402  (imported where the section using cdktf's matchers begins)


def test_testing_matchers_zone_and_caa(any_stage: Synth, adopted: Synth) -> None:
    dns = any_stage.raw("dns")
    assert Testing.to_have_resource_with_properties(
        dns, "aws_route53_zone", {"name": "hebo.ai", "force_destroy": False, "lifecycle": {"prevent_destroy": True}}
    )
    caa = ['0 issue "amazon.com"', '0 issue "amazontrust.com"', '0 issue "awstrust.com"', '0 issue "amazonaws.com"']
    assert Testing.to_have_resource_with_properties(
        dns, "aws_route53_record", {"name": "hebo.ai", "type": "CAA", "ttl": 3600, "records": caa}
    )
    assert not Testing.to_have_resource(dns, "aws_route53_hosted_zone_dnssec")
    assert not Testing.to_have_resource(adopted.raw("dns"), "aws_route53_record")  # CAA switched off there


def test_stage_stacks_use_hebo_zone_id_without_a_lookup(adopted: Synth) -> None:
    """With HEBO_ZONE_ID the stage stacks need no Route 53 read at plan time; checked on every record."""
    checked = 0
    for stack in ("compute", "edge"):
        assert "aws_route53_zone" not in adopted.stack(stack).get("data", {})
        for name, record in adopted.resources(stack, "aws_route53_record").items():
            assert record["zone_id"] == "Z0123456789ABCDEFGHIJ", (stack, name)
            checked += 1
    assert checked >= 7  # compute: 2 validations + 4 aliases; edge: 1 validation + 2 aliases

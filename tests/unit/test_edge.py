"""The edge stack: the console on a private S3 bucket behind CloudFront (issue #7).

Stage-independent shape is checked on production and preview; content on the fixture build
dir (tests/fixtures/console-build); the placeholder on a build dir that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from expectations import expect
from synth_support import Synth, without_metadata

FIXTURE_BUILD = Path(__file__).resolve().parents[1] / "fixtures" / "console-build"
MISSING_BUILD = "/nonexistent/console/build/client"
ASSET_CACHE = "public, max-age=31536000, immutable"

EXPECTED_DOMAIN = {"production": "console.hebo.ai", "pr-42": "pr-42.dev.console.hebo.ai"}


@pytest.fixture(scope="module")
def preview_with_build(synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE="pr-42", HEBO_CONSOLE_BUILD_DIR=str(FIXTURE_BUILD))


@pytest.fixture(scope="module")
def production_with_build(synth_variant: Callable[..., Synth]) -> Synth:
    return synth_variant(HEBO_STAGE="production", HEBO_CONSOLE_BUILD_DIR=str(FIXTURE_BUILD))


@pytest.fixture(scope="module")
def without_build(synth_variant: Callable[..., Synth]) -> Synth:
    """Also a primary region other than us-east-1 (and DNSSEC on: shared with test_dns)."""
    return synth_variant(
        HEBO_STAGE="pr-42",
        HEBO_CONSOLE_BUILD_DIR=MISSING_BUILD,
        HEBO_REGION="eu-west-1",
        HEBO_ENABLE_DNSSEC="true",
        HEBO_CAA_EXTRA_ISSUERS="letsencrypt.org, pki.goog",
        HEBO_CAA_IODEF="mailto:security@hebo.ai",
        HEBO_PRICE_CLASS="PriceClass_All",
    )


@pytest.fixture(params=["production", "preview"])
def stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


@pytest.fixture(params=["production_with_build", "preview_with_build"])
def built(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


# -- bucket ------------------------------------------------------------------------------------


def test_bucket_is_prefixed_and_cleanup_follows_stage_policy(stage: Synth) -> None:
    bucket = without_metadata(stage.resource("edge", "aws_s3_bucket"))
    assert bucket == {
        "bucket_prefix": f"hebo-{stage.stage}-console-",
        "force_destroy": expect(stage)["force_destroy"],
        "lifecycle": {"prevent_destroy": expect(stage)["protect"]},
    }


def test_bucket_blocks_public_access_and_acls(stage: Synth) -> None:
    bucket = stage.reference("edge", "aws_s3_bucket", "id")
    assert without_metadata(stage.resource("edge", "aws_s3_bucket_public_access_block")) == {
        "bucket": bucket,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    assert without_metadata(stage.resource("edge", "aws_s3_bucket_ownership_controls")) == {
        "bucket": bucket,
        "rule": {"object_ownership": "BucketOwnerEnforced"},
    }


def test_bucket_encrypted_with_s3_managed_keys_and_versioned_with_lifecycle(stage: Synth) -> None:
    """SSE-S3 in every stage: the content is public by design (docs/edge.md, "Encryption")."""
    bucket = stage.reference("edge", "aws_s3_bucket", "id")
    assert without_metadata(stage.resource("edge", "aws_s3_bucket_server_side_encryption_configuration")) == {
        "bucket": bucket,
        "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    }
    assert stage.resource("edge", "aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    lifecycle = stage.resource("edge", "aws_s3_bucket_lifecycle_configuration")
    assert lifecycle["rule"] == [
        {
            "id": "expire-old-versions",
            "status": "Enabled",
            "filter": [{"prefix": ""}],
            "noncurrent_version_expiration": [{"noncurrent_days": 30}],
            "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}],
        }
    ]


def test_edge_stack_has_no_kms_key(stage: Synth) -> None:
    """The console bucket is SSE-S3, so nothing in the edge stack needs a key or a key policy."""
    assert stage.resources("edge", "aws_kms_key") == {}
    assert stage.resources("edge", "aws_kms_alias") == {}
    assert [n for n in stage.data_sources("edge", "aws_iam_policy_document") if n.startswith("key_")] == []
    assert "kms" not in json.dumps(stage.stack("edge").get("resource", {})).lower()


def test_bucket_policy_is_tls_only_and_scoped_to_this_distribution(stage: Synth) -> None:
    policy = stage.resource("edge", "aws_s3_bucket_policy")
    (doc_name,) = [n for n in stage.data_sources("edge", "aws_iam_policy_document") if n.startswith("site_")]
    assert policy["policy"] == f"${{data.aws_iam_policy_document.{doc_name}.json}}"
    assert policy["bucket"] == stage.reference("edge", "aws_s3_bucket", "id")
    bucket_arn = stage.reference("edge", "aws_s3_bucket", "arn")
    only_this_distribution = [
        {
            "test": "StringEquals",
            "variable": "AWS:SourceArn",
            "values": [stage.reference("edge", "aws_cloudfront_distribution", "arn")],
        }
    ]
    cloudfront = [{"type": "Service", "identifiers": ["cloudfront.amazonaws.com"]}]
    assert stage.data_sources("edge", "aws_iam_policy_document")[doc_name]["statement"] == [
        {
            "sid": "CloudFrontReadsObjects",
            "effect": "Allow",
            "actions": ["s3:GetObject"],
            "resources": [f"{bucket_arn}/*"],
            "principals": cloudfront,
            "condition": only_this_distribution,
        },
        {
            "sid": "CloudFrontSeesMissingKeysAs404",
            "effect": "Allow",
            "actions": ["s3:ListBucket"],
            "resources": [bucket_arn],
            "principals": cloudfront,
            "condition": only_this_distribution,
        },
        {
            "sid": "DenyInsecureTransport",
            "effect": "Deny",
            "actions": ["s3:*"],
            "resources": [bucket_arn, f"{bucket_arn}/*"],
            "principals": [{"type": "AWS", "identifiers": ["*"]}],
            "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
        },
    ]


# -- distribution ------------------------------------------------------------------------------


def test_origin_access_control_signs_every_request(stage: Synth) -> None:
    assert without_metadata(stage.resource("edge", "aws_cloudfront_origin_access_control")) == {
        "name": f"hebo-{stage.stage}-console-oac",
        "description": "Signs every origin request to the site bucket (SigV4)",
        "origin_access_control_origin_type": "s3",
        "signing_behavior": "always",
        "signing_protocol": "sigv4",
    }


def test_distribution_settings(stage: Synth) -> None:
    dist = without_metadata(stage.resource("edge", "aws_cloudfront_distribution"))
    assert dist == {
        "comment": f"hebo console ({stage.stage})",
        "enabled": True,
        "is_ipv6_enabled": True,
        "http_version": "http2and3",
        "price_class": "PriceClass_100",
        "default_root_object": "index.html",
        "aliases": [EXPECTED_DOMAIN[stage.stage]],
        "origin": [
            {
                "origin_id": "s3",
                "domain_name": stage.reference("edge", "aws_s3_bucket", "bucket_regional_domain_name"),
                "origin_access_control_id": stage.reference("edge", "aws_cloudfront_origin_access_control", "id"),
            }
        ],
        "default_cache_behavior": {
            "target_origin_id": "s3",
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
            "response_headers_policy_id": stage.reference("edge", "aws_cloudfront_response_headers_policy", "id"),
            "function_association": [
                {
                    "event_type": "viewer-request",
                    "function_arn": stage.reference("edge", "aws_cloudfront_function", "arn"),
                }
            ],
        },
        "restrictions": {"geo_restriction": {"restriction_type": "none"}},
        "viewer_certificate": {
            "acm_certificate_arn": stage.reference("edge", "aws_acm_certificate_validation", "certificate_arn"),
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": "TLSv1.2_2021",
        },
    }


def test_price_class_is_configurable(without_build: Synth) -> None:
    assert without_build.resource("edge", "aws_cloudfront_distribution")["price_class"] == "PriceClass_All"


EXPECTED_CSP = {
    stage: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:; "
    "font-src 'self' data:; "
    f"connect-src 'self' https://{api} https://{gateway} https://api.stack-auth.com; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; upgrade-insecure-requests"
    for stage, api, gateway in [
        ("production", "api.hebo.ai", "gateway.hebo.ai"),
        ("pr-42", "pr-42.dev.api.hebo.ai", "pr-42.dev.gateway.hebo.ai"),
        ("dev", "dev.dev.api.hebo.ai", "dev.dev.gateway.hebo.ai"),
    ]
}
"""Written out by hand per stage: the exact header a browser receives."""
INLINE_SCRIPT = 'window.__reactRouterContext = {"basename": "/"};'


@pytest.fixture(scope="module")
def report_only(synth_variant: Callable[..., Synth], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Report-only, two extra origins, and a build whose index.html has an inline script (React Router)."""
    build = tmp_path_factory.mktemp("console-inline")
    (build / "index.html").write_text(
        f"<!doctype html><html><head><script>{INLINE_SCRIPT}</script>"
        '<script type="module" src="/assets/app.js"></script></head><body></body></html>'
    )
    return synth_variant(
        HEBO_STAGE="pr-42",
        HEBO_CONSOLE_BUILD_DIR=str(build),
        HEBO_CSP_REPORT_ONLY="true",
        HEBO_CSP_EXTRA_ORIGINS=" https://auth.example.com, https://*.sentry.io:443 ,https://auth.example.com",
    )


def test_security_headers_policy(any_stage: Synth) -> None:
    stage = any_stage
    policy = without_metadata(stage.resource("edge", "aws_cloudfront_response_headers_policy"))
    assert policy == {
        "name": f"hebo-{stage.stage}-console-security-headers",
        "comment": "HSTS, nosniff, no framing, strict referrer, CSP",
        "security_headers_config": {
            "strict_transport_security": {
                "access_control_max_age_sec": 63072000,
                "include_subdomains": True,
                "preload": True,
                "override": True,
            },
            "content_type_options": {"override": True},
            "frame_options": {"frame_option": "DENY", "override": True},
            "referrer_policy": {"referrer_policy": "strict-origin-when-cross-origin", "override": True},
            "content_security_policy": {"content_security_policy": EXPECTED_CSP[stage.stage], "override": True},
        },
    }
    assert "unsafe-eval" not in json.dumps(policy)


def test_csp_report_only_extra_origins_and_inline_script_hashes(report_only: Synth) -> None:
    import base64
    import hashlib

    policy = without_metadata(report_only.resource("edge", "aws_cloudfront_response_headers_policy"))
    assert policy["comment"] == "HSTS, nosniff, no framing, strict referrer, CSP (report-only)"
    assert "content_security_policy" not in policy["security_headers_config"]
    digest = base64.b64encode(hashlib.sha256(INLINE_SCRIPT.encode()).digest()).decode()
    expected = (
        EXPECTED_CSP["pr-42"]
        .replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'")
        .replace(
            "https://api.stack-auth.com", "https://api.stack-auth.com https://auth.example.com https://*.sentry.io:443"
        )
    )
    assert policy["custom_headers_config"] == {
        "items": [{"header": "Content-Security-Policy-Report-Only", "value": expected, "override": True}]
    }


@pytest.mark.parametrize(
    "value",
    [
        "http://auth.example.com",  # not https
        "https://auth.example.com/path",  # a path
        "https://auth.example.com; script-src *",  # a smuggled directive
        "'unsafe-eval'",  # a keyword
        "https:",  # a scheme-wide source
        "https://*",  # everything
        "https://Auth.Example.com",  # not lowercase
    ],
)
def test_bad_extra_origins_fail_synth_naming_the_setting(value: str) -> None:
    from config.settings import Settings
    from config.stage import ConfigError

    with pytest.raises(
        ConfigError,
        match=r"^invalid HEBO_CSP_EXTRA_ORIGINS .*: entry .* is not an https origin; must be comma-separated https origins",
    ):
        Settings.load({"HEBO_STAGE": "pr-42", "HEBO_CSP_EXTRA_ORIGINS": value})


def test_csp_longer_than_cloudfront_allows_fails_synth() -> None:
    """CloudFront refuses a CSP over 1,783 characters (TooLongCSPInResponseHeadersPolicy) at apply: refuse at synth."""
    from config.csp import console_csp
    from config.stage import ConfigError

    origins = [f"https://service-{i:03d}.example.com" for i in range(60)]
    with pytest.raises(ConfigError, match=r"would be \d+ characters, CloudFront allows 1783"):
        console_csp(api_origins=["https://api.hebo.ai"], extra_origins=origins)
    assert len(console_csp(api_origins=["https://api.hebo.ai"], extra_origins=origins[:40])) <= 1783


def test_report_only_setting_is_validated() -> None:
    from config.settings import Settings
    from config.stage import ConfigError

    with pytest.raises(ConfigError, match=r"^invalid HEBO_CSP_REPORT_ONLY 'yes': must be `true` or `false`$"):
        Settings.load({"HEBO_STAGE": "pr-42", "HEBO_CSP_REPORT_ONLY": "yes"})


def test_router_function_ships_the_repo_javascript(stage: Synth) -> None:
    function = without_metadata(stage.resource("edge", "aws_cloudfront_function"))
    code = (Path(__file__).resolve().parents[2] / "modules" / "static_site" / "spa-router.js").read_text()
    assert function == {
        "name": f"hebo-{stage.stage}-console-spa-router",
        "comment": "SPA routing: extension-less paths serve /index.html",
        "runtime": "cloudfront-js-2.0",
        "publish": True,
        "code": code,
    }


# -- certificate and DNS -----------------------------------------------------------------------


def _assert_certificate_on_us_east_1_alias(synth: Synth) -> None:
    providers = synth.stack("edge")["provider"]["aws"]
    assert {"alias": "us_east_1", "region": "us-east-1"}.items() <= next(p for p in providers if p.get("alias")).items()
    assert [p.get("alias") for p in providers] == [None, "us_east_1"]
    cert = synth.resource("edge", "aws_acm_certificate")
    assert cert["provider"] == "aws.us_east_1"
    assert cert["domain_name"] == EXPECTED_DOMAIN[synth.stage]
    assert cert["validation_method"] == "DNS"
    assert synth.resource("edge", "aws_acm_certificate_validation")["provider"] == "aws.us_east_1"
    # Everything else uses the default (primary-region) provider.
    others = [
        (t, n)
        for t, rs in synth.stack("edge")["resource"].items()
        for n, r in rs.items()
        if "provider" in r and t not in ("aws_acm_certificate", "aws_acm_certificate_validation")
    ]
    assert others == []


def test_certificate_uses_explicit_us_east_1_provider(stage: Synth) -> None:
    _assert_certificate_on_us_east_1_alias(stage)
    assert stage.stack("edge")["provider"]["aws"][0]["region"] == "us-east-1"


def test_certificate_stays_in_us_east_1_when_primary_region_differs(without_build: Synth) -> None:
    _assert_certificate_on_us_east_1_alias(without_build)
    assert without_build.stack("edge")["provider"]["aws"][0]["region"] == "eu-west-1"


def test_certificate_validated_in_the_dns_zone(stage: Synth) -> None:
    validation = stage.resource(
        "edge",
        "aws_route53_record",
        next(n for n in stage.resources("edge", "aws_route53_record") if n.startswith("certificate_")),
    )
    assert validation["zone_id"] == "${data.aws_route53_zone.hosted_zone.zone_id}"


def test_alias_records_point_at_the_distribution(stage: Synth) -> None:
    records = stage.resources("edge", "aws_route53_record")
    zone = records["console_alias_a"]["zone_id"]
    assert zone == "${data.aws_route53_zone.hosted_zone.zone_id}"
    for record_type in ("A", "AAAA"):
        assert without_metadata(records[f"console_alias_{record_type.lower()}"]) == {
            "zone_id": zone,
            "name": EXPECTED_DOMAIN[stage.stage],
            "type": record_type,
            "alias": {
                "name": stage.reference("edge", "aws_cloudfront_distribution", "domain_name"),
                "zone_id": stage.reference("edge", "aws_cloudfront_distribution", "hosted_zone_id"),
                "evaluate_target_health": False,
            },
        }
    assert len(records) == 3  # A, AAAA, and the certificate validation for_each


# -- content -----------------------------------------------------------------------------------


def _files(synth: Synth) -> dict[str, Any]:
    (name,) = [n for n in synth.resources("edge", "aws_s3_object") if n.startswith("content_files")]
    return synth.resources("edge", "aws_s3_object")[name]


def test_every_build_file_uploaded_with_type_and_cache_headers(built: Synth) -> None:
    files = _files(built)
    assert {k: {f: v for f, v in entry.items() if f != "source"} for k, entry in files["for_each"].items()} == {
        ".well-known/apple-app-site-association": {
            "cache_control": "public, max-age=3600",
            "content_type": "application/octet-stream",
            "source_hash": "30c6677b833454ad2df762d3c98d2409",
        },
        "assets/app-3f9a1c.js": {
            "cache_control": ASSET_CACHE,
            "content_type": "text/javascript; charset=utf-8",
            "source_hash": "324b68e64233d62001b3e8159e7b76f0",
        },
        "assets/logo-5d41402a.svg": {
            "cache_control": ASSET_CACHE,
            "content_type": "image/svg+xml; charset=utf-8",
            "source_hash": "2a81e757f15db781d6897878db332b4a",
        },
        "assets/style-8b2e.css": {
            "cache_control": ASSET_CACHE,
            "content_type": "text/css; charset=utf-8",
            "source_hash": "3c7253c0b17971959285c18f6eea6509",
        },
        "favicon.ico": {
            "cache_control": "public, max-age=3600",
            "content_type": "image/x-icon",
            "source_hash": "2ab4b906fabd1c154d3d8fd77942028e",
        },
        "index.html": {
            "cache_control": "no-cache",
            "content_type": "text/html; charset=utf-8",
            "source_hash": "9337f3a6f17692d423dd74ae679936ef",
        },
        "manifest.webmanifest": {
            "cache_control": "public, max-age=3600",
            "content_type": "application/manifest+json; charset=utf-8",
            "source_hash": "e40d9e7e9666f34f2d92ff8e8165bec5",
        },
        "robots.txt": {
            "cache_control": "public, max-age=3600",
            "content_type": "text/plain; charset=utf-8",
            "source_hash": "b6216d61c03e6ce0c9aea6ca7808f7ca",
        },
    }
    # .DS_Store is skipped; the build's own config.json is replaced by the deploy-written one.
    for key, entry in files["for_each"].items():
        assert not entry["source"].startswith("/")  # relative to the stack directory
        assert (built.outdir / "stacks" / "edge" / entry["source"]).resolve() == FIXTURE_BUILD / key
    assert "content" not in files  # build files are uploaded from `source` only
    assert {
        k: files[k] for k in ("key", "source", "source_hash", "content_type", "cache_control", "server_side_encryption")
    } == {
        "key": "${each.key}",
        "source": "${each.value.source}",
        "source_hash": "${each.value.source_hash}",
        "content_type": "${each.value.content_type}",
        "cache_control": "${each.value.cache_control}",
        # on the object, not only as the bucket default: a change of scheme re-uploads (docs/edge.md)
        "server_side_encryption": "AES256",
    }
    assert files["bucket"] == built.reference("edge", "aws_s3_bucket", "bucket")
    assert files["depends_on"] == [
        f"aws_s3_bucket_server_side_encryption_configuration.{next(iter(built.resources('edge', 'aws_s3_bucket_server_side_encryption_configuration')))}"
    ]


def test_config_json_has_stage_urls_and_only_publishable_secrets(built: Synth) -> None:
    objects = built.resources("edge", "aws_s3_object")
    (name,) = [n for n in objects if n.startswith("content_config")]
    secrets = built.data_sources("edge", "aws_secretsmanager_secret_version")
    owner = built.stage if expect(built)["owns_app_secrets"] else "dev"  # previews read dev's (the default template)
    assert {n: without_metadata(d) for n, d in secrets.items()} == {
        "publishable_StackProjectId": {"secret_id": f"hebo/{owner}/StackProjectId"},
        "publishable_StackPublishableClientKey": {"secret_id": f"hebo/{owner}/StackPublishableClientKey"},
    }
    prefix = expect(built).domain_prefix
    secret = "data.aws_secretsmanager_secret_version.publishable_{}.secret_string"
    assert without_metadata(objects[name]) == {
        "bucket": built.reference("edge", "aws_s3_bucket", "bucket"),
        "key": "config.json",
        "content_type": "application/json; charset=utf-8",
        "cache_control": "no-cache",
        "server_side_encryption": "AES256",
        "content": (
            "${jsonencode({"
            f'"VITE_API_URL" = "https://{prefix}api.hebo.ai", '
            f'"VITE_GATEWAY_URL" = "https://{prefix}gateway.hebo.ai", '
            f'"VITE_STACK_PROJECT_ID" = {secret.format("StackProjectId")}, '
            f'"VITE_STACK_PUBLISHABLE_CLIENT_KEY" = {secret.format("StackPublishableClientKey")}'
            "})}"
        ),
        "depends_on": objects[name]["depends_on"],
    }
    assert len(objects) == 2


def test_no_server_side_secret_reaches_the_edge_stack(any_stage: Synth) -> None:
    raw = any_stage.raw("edge")
    for name in ("StackSecretServerKey", "DbUsername", "DbPassword", "GroqApiKey", "VoyageApiKey"):
        assert name not in raw
    assert sorted(any_stage.data_sources("edge", "aws_secretsmanager_secret")) == []
    assert sorted(any_stage.data_sources("edge", "aws_secretsmanager_secret_version")) == [
        "publishable_StackProjectId",
        "publishable_StackPublishableClientKey",
    ]
    assert all(o.get("sensitive") is False for o in any_stage.stack("edge")["output"].values())


def test_invalidation_runs_after_uploads_when_content_changes(
    built: Synth, preview_with_build: Synth, production_with_build: Synth
) -> None:
    (data,) = without_metadata(built.stack("edge")["resource"]["terraform_data"]).values()
    objects = built.resources("edge", "aws_s3_object")
    config = next(n for n in objects if n.startswith("content_config"))
    files = next(n for n in objects if n.startswith("content_files"))
    assert data == {
        "depends_on": [f"aws_s3_object.{files}", f"aws_s3_object.{config}"],
        "provisioner": [
            {
                "local-exec": {
                    "command": 'aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION_ID" --paths "$INVALIDATION_PATH" --output text --query Invalidation.Id',
                    "environment": {
                        "DISTRIBUTION_ID": built.reference("edge", "aws_cloudfront_distribution", "id"),
                        "INVALIDATION_PATH": "/*",
                    },
                }
            }
        ],
        "triggers_replace": {
            "files": data["triggers_replace"]["files"],
            "config_version": f"${{aws_s3_object.{config}.version_id}}",
        },
    }
    assert len(data["triggers_replace"]["files"]) == 64
    # The file hash depends on content only, not on the stage.
    hashes = {
        s.stage: next(iter(s.stack("edge")["resource"]["terraform_data"].values()))["triggers_replace"]["files"]
        for s in (preview_with_build, production_with_build)
    }
    assert hashes["pr-42"] == hashes["production"]


def test_invalidation_hash_changes_with_the_build(preview: Synth, preview_with_build: Synth) -> None:
    def files_hash(s: Synth) -> str:
        return next(iter(s.stack("edge")["resource"]["terraform_data"].values()))["triggers_replace"]["files"]

    assert files_hash(preview) != files_hash(preview_with_build)


def test_outputs(stage: Synth) -> None:
    outputs = {k: v for k, v in stage.stack("edge")["output"].items() if not k.startswith("cross-stack")}
    assert outputs == {
        "console_url": {
            "value": f"https://{EXPECTED_DOMAIN[stage.stage]}",
            "description": "The console's URL",
            "sensitive": False,
        },
        "bucket_name": {
            "value": stage.reference("edge", "aws_s3_bucket", "bucket"),
            "description": "S3 bucket holding the console build",
            "sensitive": False,
        },
        "distribution_id": {
            "value": stage.reference("edge", "aws_cloudfront_distribution", "id"),
            "description": "CloudFront distribution id (for manual invalidations)",
            "sensitive": False,
        },
        "distribution_domain_name": {
            "value": stage.reference("edge", "aws_cloudfront_distribution", "domain_name"),
            "description": "CloudFront domain the console alias points at",
            "sensitive": False,
        },
    }


# -- no build: placeholder ---------------------------------------------------------------------


def test_missing_build_deploys_placeholder_and_warns(without_build: Synth) -> None:
    files = _files(without_build)
    (entry,) = files["for_each"].values()
    assert list(files["for_each"]) == ["index.html"]
    assert set(entry) == {"source_hash", "content_type", "cache_control"}  # no null for HCL output
    assert "source" not in files
    assert files["content"].startswith("<!doctype html>\n") and "No console build was deployed" in files["content"]
    assert (entry["content_type"], entry["cache_control"]) == ("text/html; charset=utf-8", "no-cache")
    warnings = [a for a in without_build.manifest["stacks"]["edge"]["annotations"] if a["level"] == "@cdktf/warn"]
    assert [w["message"] for w in warnings] == [
        f"console build directory {MISSING_BUILD} not found: deploying a placeholder page. "
        "Build the console (`npm run build` in the console repo) or set HEBO_CONSOLE_BUILD_DIR."
    ]
    # The config object is still written, so the placeholder deploy is otherwise complete.
    assert any(n.startswith("content_config") for n in without_build.resources("edge", "aws_s3_object"))


def test_build_present_means_no_warning(preview_with_build: Synth) -> None:
    assert preview_with_build.manifest["stacks"]["edge"]["annotations"] == []


def test_edge_reads_no_other_stack_and_deploys_after_data(built: Synth) -> None:
    """The zone is looked up by name; `data` is an ordering dependency (it creates the secret containers)."""
    assert built.manifest["stacks"]["edge"]["dependencies"] == ["data"]
    assert built.data_sources("edge", "terraform_remote_state") == {}
    assert without_metadata(built.data_sources("edge", "aws_route53_zone")) == {
        "hosted_zone": {"name": "hebo.ai", "private_zone": False}
    }


# -- content rules (pure Python) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "content_type", "cache_control"),
    [
        ("index.html", "text/html; charset=utf-8", "no-cache"),
        ("docs/page.HTM", "text/html; charset=utf-8", "no-cache"),
        ("assets/entry.client-Bx3kL9aQ.js", "text/javascript; charset=utf-8", ASSET_CACHE),
        ("assets/chunk.mjs", "text/javascript; charset=utf-8", ASSET_CACHE),
        ("assets/app.css.map", "application/json; charset=utf-8", ASSET_CACHE),
        ("assets/inter-latin.woff2", "font/woff2", ASSET_CACHE),
        ("assets/hero.webp", "image/webp", ASSET_CACHE),
        ("img/photo.3f9a1c2b.jpg", "image/jpeg", ASSET_CACHE),
        ("logo.png", "image/png", "public, max-age=3600"),
        ("site-manifest.json", "application/json; charset=utf-8", "public, max-age=3600"),
        ("icon.svg", "image/svg+xml; charset=utf-8", "public, max-age=3600"),
        ("data.bin", "application/octet-stream", "public, max-age=3600"),
    ],
)
def test_content_rules(key: str, content_type: str, cache_control: str) -> None:
    from modules.static_site import content_rules

    assert (content_rules.content_type(key), content_rules.cache_control(key)) == (content_type, cache_control)


def test_scan_skips_hidden_files_and_the_runtime_config() -> None:
    from modules.static_site.content_rules import scan_build_dir

    keys = [f.key for f in scan_build_dir(FIXTURE_BUILD, skip=frozenset({"config.json"}))]
    assert keys == [
        ".well-known/apple-app-site-association",
        "assets/app-3f9a1c.js",
        "assets/logo-5d41402a.svg",
        "assets/style-8b2e.css",
        "favicon.ico",
        "index.html",
        "manifest.webmanifest",
        "robots.txt",
    ]
    assert "config.json" in [f.key for f in scan_build_dir(FIXTURE_BUILD)]


# -- the same stack through cdktf's Testing matchers (the API README.md documents for users) ----
from modules.cdk import Testing  # noqa: E402  (imported where the section using cdktf's matchers begins)


def test_testing_matchers_private_bucket_behind_cloudfront(production_with_build: Synth) -> None:
    edge = production_with_build.raw("edge")
    assert Testing.to_have_resource_with_properties(
        edge,
        "aws_cloudfront_distribution",
        {
            "aliases": ["console.hebo.ai"],
            "is_ipv6_enabled": True,
            "price_class": "PriceClass_100",
            "viewer_certificate": {"minimum_protocol_version": "TLSv1.2_2021", "ssl_support_method": "sni-only"},
        },
    )
    assert Testing.to_have_resource_with_properties(
        edge,
        "aws_s3_bucket_public_access_block",
        {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
    )
    assert Testing.to_have_resource_with_properties(
        edge, "aws_s3_object", {"key": "config.json", "cache_control": "no-cache"}
    )
    assert Testing.to_have_data_source_with_properties(
        edge, "aws_route53_zone", {"name": "hebo.ai", "private_zone": False}
    )

"""The per-stage `edge` stack: the Console static site on S3 + CloudFront.

Order of things in AWS: certificate (us-east-1) → distribution (needs the bucket's domain) →
bucket policy (names the distribution's ARN) and SSE-S3 bucket encryption → uploads →
invalidation. No other stack's outputs are read: the hosted zone is looked up by name (see
`HeboStack.hosted_zone_id`) and the two publishable Stack Auth values are read by secret *name* at
deploy time (this stage's, or in a preview the template stage's: `Names.secret`); `data` is an
ordering dependency only (it creates those secrets' containers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.cdk import Annotations, Construct, aws
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.private_bucket import PrivateBucket, PrivateBucketProps
from modules.static_site.content import SiteContent, SiteContentProps
from modules.static_site.content_rules import scan_build_dir
from modules.static_site.distribution import SiteDistribution, SiteDistributionProps, spa_router_code
from modules.static_site.invalidation import Invalidation, InvalidationProps
from stacks.base import HeboStack
from config.csp import console_csp, inline_script_hashes
from config.secrets import SECRETS
from config.settings import REPO_ROOT, Settings
from config.topology import SERVICES

RUNTIME_CONFIG_KEY = "config.json"
CONSOLE_OBJECT_ENCRYPTION = "AES256"
"""SSE-S3 on every console object, as on the bucket (see `_create_encryption`)."""
PUBLISHABLE_CONFIG = {
    "VITE_STACK_PROJECT_ID": "StackProjectId",
    "VITE_STACK_PUBLISHABLE_CLIENT_KEY": "StackPublishableClientKey",
}
"""Runtime-config key -> stage secret. Only secrets the catalog marks publishable may appear."""

PLACEHOLDER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hebo Console</title></head>
<body><h1>Hebo Console</h1><p>No console build was deployed to this stage yet.</p></body></html>
"""


def missing_build_warning(build_dir: Path) -> str:
    """Names a directory in or beside the checkout relative to it, as HEBO_CONSOLE_BUILD_DIR's
    default is written: the message lands in the synthesized manifest, which must not carry
    this machine's paths. A directory elsewhere is shown as given."""
    relative = os.path.relpath(build_dir, REPO_ROOT)
    shown = relative if not relative.startswith("../..") else str(build_dir)
    return (
        f"console build directory {shown} not found: deploying a placeholder page. "
        "Build the console (`npm run build` in the console repo) or set HEBO_CONSOLE_BUILD_DIR."
    )


@dataclass(frozen=True)
class EdgeOutputs:
    """The console site: its bucket, CloudFront distribution and public URL."""

    bucket_name: str
    """The private S3 bucket CloudFront reads the console from (name prefix `Names.console_bucket_prefix`)."""
    distribution_id: str
    """CloudFront distribution id (for invalidations)."""
    console_url: str
    """`https://` and the console's domain."""


class EdgeStack(HeboStack):
    """The console site, built in AWS's order: certificate, bucket, distribution, bucket policy
    (names the distribution) and SSE-S3 encryption, content, invalidation, DNS alias."""

    stack_name = "edge"

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, settings)
        self.domain = self.names.domain("console")
        self.certificate = DnsValidatedCertificate(
            self,
            "certificate",
            domain_name=self.domain,
            zone_id=self.hosted_zone_id(),
            provider=self.us_east_1_provider(),
        )
        self.bucket = self._create_bucket()
        self.cdn = self._create_distribution()
        encryption = self._create_encryption()
        content = self._create_content(depends_on=[encryption])
        Invalidation(
            self,
            "invalidate",
            InvalidationProps(
                distribution_id=self.cdn.distribution_id,
                triggers={"files": content.files_hash, "config_version": content.config_version},
                depends_on=content.objects,
            ),
        )
        alias_records(
            self,
            "console_alias",
            zone_id=self.hosted_zone_id(),
            name=self.domain,
            target_dns_name=self.cdn.domain_name,
            target_zone_id=self.cdn.hosted_zone_id,
            target_kind="cloudfront",
        )
        self.outputs = EdgeOutputs(
            bucket_name=self.bucket.name, distribution_id=self.cdn.distribution_id, console_url=f"https://{self.domain}"
        )
        self._create_outputs()

    # -- steps, in the order __init__ runs them -------------------------------------------------
    def _create_bucket(self) -> PrivateBucket:
        return PrivateBucket(
            self,
            "site",
            PrivateBucketProps(
                bucket_prefix=self.names.console_bucket_prefix(),
                force_destroy=self.policy.force_destroy,
                prevent_destroy=self.policy.protect,
            ),
        )

    def _create_distribution(self) -> SiteDistribution:
        names, settings = self.names, self.settings
        return SiteDistribution(
            self,
            "cdn",
            SiteDistributionProps(
                comment=f"{settings.app} console ({settings.stage})",
                origin_domain_name=self.bucket.regional_domain_name,
                aliases=[self.domain],
                certificate_arn=self.certificate.certificate_arn,
                price_class=settings.price_class,
                oac_name=names.cloudfront("console-oac"),
                router_function_name=names.cloudfront("console-spa-router"),
                headers_policy_name=names.cloudfront("console-security-headers"),
                router_code=spa_router_code(),
                content_security_policy=console_csp(
                    api_origins=[f"https://{names.domain(svc)}" for svc in SERVICES],
                    extra_origins=settings.csp_extra_origins,
                    script_hashes=inline_script_hashes(settings.console_build_dir),
                ),
                content_security_policy_report_only=settings.csp_report_only,
            ),
        )

    def _create_encryption(self) -> Any:
        """SSE-S3 (AES256) default encryption (returned: uploads wait for it) and the bucket policy
        that lets only this distribution read, through OAC.

        No customer-managed key, in any stage: everything in the bucket is public by design (the
        console build and `config.json`, which carries only publishable values) and CloudFront
        serves it to anyone, so a key whose policy lets one distribution decrypt would add no
        confidentiality, only $1/month per stage. The bucket itself stays private (Block Public
        Access, policy scoped to the distribution's ARN). OAC reads SSE-S3 objects without any key
        policy: https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
        (docs/edge.md, "Encryption")."""
        encryption = self.bucket.encrypt_with_s3_managed_keys()
        self.bucket.allow_cloudfront(self.cdn.arn)
        return encryption

    def _create_content(self, depends_on: list[Any]) -> SiteContent:
        """The console build's files (or a placeholder page, with a warning) and config.json."""
        build_dir: Path = self.settings.console_build_dir
        files = scan_build_dir(build_dir, skip=frozenset({RUNTIME_CONFIG_KEY})) if build_dir.is_dir() else []
        if not files:
            message = missing_build_warning(build_dir)
            Annotations.of(self).add_warning(message)  # main.py / the cdktf CLI print it
        return SiteContent(
            self,
            "content",
            SiteContentProps(
                bucket=self.bucket.name,
                files=files,
                placeholder_html=PLACEHOLDER_HTML,
                runtime_config=self._runtime_config(),
                runtime_config_key=RUNTIME_CONFIG_KEY,
                server_side_encryption=CONSOLE_OBJECT_ENCRYPTION,
                depends_on=depends_on,
            ),
        )

    def _create_outputs(self) -> None:
        bucket, cdn = self.bucket, self.cdn
        self.output("console_url", self.outputs.console_url, "The console's URL")
        self.output("bucket_name", bucket.name, "S3 bucket holding the console build")
        self.output("distribution_id", cdn.distribution_id, "CloudFront distribution id (for manual invalidations)")
        self.output("distribution_domain_name", cdn.domain_name, "CloudFront domain the console alias points at")

    def _runtime_config(self) -> dict[str, str]:
        """`config.json`: the stage's public URLs and the two publishable Stack Auth values."""
        catalog = {s.name: s for s in SECRETS}
        config = {
            "VITE_API_URL": f"https://{self.names.domain('api')}",
            "VITE_GATEWAY_URL": f"https://{self.names.domain('gateway')}",
        }
        for key, secret_name in PUBLISHABLE_CONFIG.items():
            if not catalog[secret_name].publishable:
                raise ValueError(f"secret {secret_name} is not publishable and must never reach the edge stack")
            version = aws.data_aws_secretsmanager_secret_version.DataAwsSecretsmanagerSecretVersion(
                self, f"publishable_{secret_name}", secret_id=self.names.secret(secret_name)
            )
            config[key] = version.secret_string
        return config

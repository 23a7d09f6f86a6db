"""The per-stage `edge` stack: the Console static site on S3 + CloudFront.

Order of things in AWS: certificate (us-east-1) → distribution (needs the bucket's domain) →
KMS key and bucket policy (both name the distribution's ARN) → bucket encryption → uploads →
invalidation. Only the `dns` stack is referenced; the two publishable Stack Auth values are read
by secret *name* at deploy time, so no other stack's outputs are needed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from modules.cdk import Annotations, Construct, aws
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.iam import Condition, Statement
from modules.static_site.bucket import PrivateBucket, PrivateBucketProps
from modules.static_site.content import SiteContent, SiteContentProps
from modules.static_site.content_rules import scan_build_dir
from modules.static_site.distribution import SiteDistribution, SiteDistributionProps, spa_router_code
from modules.static_site.invalidation import Invalidation, InvalidationProps
from stacks.base import HeboStack
from stacks.dns import DnsOutputs
from config.secrets import SECRETS
from config.settings import REPO_ROOT, Settings

RUNTIME_CONFIG_KEY = "config.json"
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
    bucket_name: str
    distribution_id: str
    console_url: str


class EdgeStack(HeboStack):
    stack_name = "edge"

    def __init__(self, scope: Construct, settings: Settings, dns: DnsOutputs) -> None:
        super().__init__(scope, settings)
        names, policy = self.names, self.policy
        domain = names.domain("console")

        certificate = DnsValidatedCertificate(
            self, "certificate", domain_name=domain, zone_id=dns.zone_id, provider=self.us_east_1_provider()
        )
        bucket = PrivateBucket(
            self,
            "site",
            PrivateBucketProps(
                bucket_prefix=names.console_bucket_prefix(),
                force_destroy=policy.force_destroy,
                prevent_destroy=policy.protect,
            ),
        )
        cdn = SiteDistribution(
            self,
            "cdn",
            SiteDistributionProps(
                comment=f"{settings.app} console ({settings.stage})",
                origin_domain_name=bucket.regional_domain_name,
                aliases=[domain],
                certificate_arn=certificate.certificate_arn,
                price_class=settings.price_class,
                oac_name=names.cloudfront("console-oac"),
                router_function_name=names.cloudfront("console-spa-router"),
                headers_policy_name=names.cloudfront("console-security-headers"),
                router_code=spa_router_code(),
            ),
        )
        # CloudFront must decrypt the objects it fetches, for this distribution only.
        key = self.stage_key(
            "key",
            "console",
            f"{settings.app} {settings.stage} console bucket",
            extra_statements=[
                Statement(
                    sid="CloudFrontDecryptsForTheConsole",
                    actions=["kms:Decrypt"],
                    resources=["*"],  # in a key policy, "*" means this key
                    principals={"Service": ["cloudfront.amazonaws.com"]},
                    conditions=[Condition(test="StringEquals", variable="AWS:SourceArn", values=[cdn.arn])],
                )
            ],
        )
        encryption = bucket.encrypt_with(key.arn)
        bucket.allow_cloudfront(cdn.arn)

        build_dir: Path = settings.console_build_dir
        files = scan_build_dir(build_dir, skip=frozenset({RUNTIME_CONFIG_KEY})) if build_dir.is_dir() else []
        if not files:
            message = missing_build_warning(build_dir)
            Annotations.of(self).add_warning(message)
            print(f"warning: edge: {message}", file=sys.stderr)
        content = SiteContent(
            self,
            "content",
            SiteContentProps(
                bucket=bucket.name,
                files=files,
                placeholder_html=PLACEHOLDER_HTML,
                runtime_config=self._runtime_config(),
                runtime_config_key=RUNTIME_CONFIG_KEY,
                depends_on=[encryption],
            ),
        )
        Invalidation(
            self,
            "invalidate",
            InvalidationProps(
                distribution_id=cdn.distribution_id,
                triggers={"files": content.files_hash, "config_version": content.config_version},
                depends_on=content.objects,
            ),
        )
        alias_records(
            self,
            "console_alias",
            zone_id=dns.zone_id,
            name=domain,
            target_dns_name=cdn.domain_name,
            target_zone_id=cdn.hosted_zone_id,
            evaluate_target_health=False,  # Route 53 rejects true for CloudFront targets
        )

        self.outputs = EdgeOutputs(bucket_name=bucket.name, distribution_id=cdn.distribution_id, console_url=f"https://{domain}")
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

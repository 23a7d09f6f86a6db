"""A CloudFront distribution in front of a private S3 bucket: OAC, SPA router, security headers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from modules.cdk import Construct, aws
from modules.errors import ValidationError


_cf = aws.cloudfront_distribution
_rhp = aws.cloudfront_response_headers_policy

SPA_ROUTER_PATH = Path(__file__).with_name("spa-router.js")
CACHING_OPTIMIZED_POLICY_ID = "658327ea-f89d-4fab-a63d-7e88639e58f6"
"""AWS managed cache policy `Managed-CachingOptimized`: no cookies/headers/query in the key, gzip+brotli."""
HSTS_TWO_YEARS = 63072000
ORIGIN_ID = "s3"


def spa_router_code() -> str:
    """The viewer-request function's JavaScript (tests/edge runs it with Node)."""
    return SPA_ROUTER_PATH.read_text()


@dataclass(frozen=True, kw_only=True)
class SiteDistributionProps:
    """One site's distribution; names come in finished."""

    comment: str
    """Distribution comment shown in the console (≤ 128 characters)."""
    origin_domain_name: str
    """The bucket's regional domain name (the REST endpoint OAC signs requests for)."""
    aliases: Sequence[str]
    """The site's host names (CNAMEs); each must be covered by `certificate_arn`."""
    certificate_arn: str
    """ACM certificate in us-east-1 covering every alias."""
    price_class: str
    """`PriceClass_100`, `PriceClass_200` or `PriceClass_All`: which edge locations serve the site."""
    oac_name: str
    """Name of the origin access control (≤ 64 characters)."""
    router_function_name: str
    """Name of the CloudFront function (≤ 64 characters: letters, digits, `-`, `_`)."""
    headers_policy_name: str
    """Name of the response headers policy (≤ 128 characters)."""
    router_code: str
    """JavaScript of the viewer-request function (cloudfront-js-2.0)."""
    content_security_policy: str | None = None
    """`Content-Security-Policy` value sent with every response (overriding the origin's); None: none.
    CloudFront caps it at 1,783 characters (docs: CloudFront quotas, response headers policies)."""
    content_security_policy_report_only: bool = False
    """Send the policy as `Content-Security-Policy-Report-Only` instead: browsers report violations
    (developer console) and block nothing, for a first rollout."""
    default_root_object: str = "index.html"
    """Object served for `/`."""
    minimum_protocol_version: str = "TLSv1.2_2021"
    """Viewer TLS policy (TLS 1.2+, strong ciphers)."""
    cache_policy_id: str = CACHING_OPTIMIZED_POLICY_ID
    """Cache policy of the default behaviour (managed `CachingOptimized`)."""


CSP_MAX_CHARS = 1783
"""CloudFront: maximum length of the Content-Security-Policy header value in a response headers policy
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html)."""
REPORT_ONLY_HEADER = "Content-Security-Policy-Report-Only"


class SiteDistribution(Construct):
    """HTTPS only (redirect), HTTP/2+3, IPv6, compression; S3 origin signed with SigV4 via OAC."""

    def __init__(self, scope: Construct, construct_id: str, props: SiteDistributionProps) -> None:
        self._validate(construct_id, props)
        super().__init__(scope, construct_id)
        self._props = props
        self.origin_access_control = aws.cloudfront_origin_access_control.CloudfrontOriginAccessControl(
            self,
            "origin_access_control",
            name=props.oac_name,
            description="Signs every origin request to the site bucket (SigV4)",
            origin_access_control_origin_type="s3",
            signing_behavior="always",
            signing_protocol="sigv4",
        )
        self.router = aws.cloudfront_function.CloudfrontFunction(
            self,
            "router",
            name=props.router_function_name,
            comment="SPA routing: extension-less paths serve /index.html",
            runtime="cloudfront-js-2.0",
            publish=True,
            code=props.router_code,
        )
        self.headers_policy = self._create_headers_policy()
        self.distribution = self._create_distribution()

    @staticmethod
    def _validate(construct_id: str, props: SiteDistributionProps) -> None:
        csp = props.content_security_policy
        if csp is not None and not 0 < len(csp) <= CSP_MAX_CHARS:
            raise ValidationError(
                f"distribution {construct_id!r}",
                "content_security_policy",
                f"{len(csp)} characters",
                f"is outside 1-{CSP_MAX_CHARS} characters (CloudFront quota)",
            )

    def _create_headers_policy(self) -> Any:
        """HSTS (two years, preload), nosniff, DENY framing, strict referrer, and the CSP: enforced
        among the security headers, or report-only as a custom header. Returns the
        `_rhp.CloudfrontResponseHeadersPolicy` (typed Any: modules.cdk loads provider classes lazily)."""
        props = self._props
        csp = props.content_security_policy
        enforced = csp if csp is not None and not props.content_security_policy_report_only else None
        reported = csp if csp is not None and props.content_security_policy_report_only else None
        security = _rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfig(
            strict_transport_security=_rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfigStrictTransportSecurity(
                access_control_max_age_sec=HSTS_TWO_YEARS, include_subdomains=True, preload=True, override=True
            ),
            content_type_options=_rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfigContentTypeOptions(
                override=True
            ),
            frame_options=_rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfigFrameOptions(
                frame_option="DENY", override=True
            ),
            referrer_policy=_rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfigReferrerPolicy(
                referrer_policy="strict-origin-when-cross-origin", override=True
            ),
            content_security_policy=(
                _rhp.CloudfrontResponseHeadersPolicySecurityHeadersConfigContentSecurityPolicy(
                    content_security_policy=enforced, override=True
                )
                if enforced
                else None
            ),
        )
        # Report-only has no slot among the security headers: it is a custom header.
        custom = (
            _rhp.CloudfrontResponseHeadersPolicyCustomHeadersConfig(
                items=[
                    _rhp.CloudfrontResponseHeadersPolicyCustomHeadersConfigItems(
                        header=REPORT_ONLY_HEADER, value=reported, override=True
                    )
                ]
            )
            if reported
            else None
        )
        return _rhp.CloudfrontResponseHeadersPolicy(
            self,
            "security_headers",
            name=props.headers_policy_name,
            comment="HSTS, nosniff, no framing, strict referrer"
            + ("" if csp is None else ", CSP (report-only)" if reported else ", CSP"),
            security_headers_config=security,
            custom_headers_config=custom,
        )

    def _create_distribution(self) -> Any:
        """The distribution: one S3 origin through OAC, GET/HEAD only, HTTPS redirect, the router
        on viewer requests, SNI certificate. Returns the `_cf.CloudfrontDistribution` (typed Any:
        modules.cdk loads provider classes lazily)."""
        props = self._props
        return _cf.CloudfrontDistribution(
            self,
            "distribution",
            comment=props.comment,
            enabled=True,
            is_ipv6_enabled=True,
            http_version="http2and3",
            price_class=props.price_class,
            default_root_object=props.default_root_object,
            aliases=list(props.aliases),
            origin=[
                _cf.CloudfrontDistributionOrigin(
                    origin_id=ORIGIN_ID,
                    domain_name=props.origin_domain_name,
                    origin_access_control_id=self.origin_access_control.id,
                )
            ],
            default_cache_behavior=_cf.CloudfrontDistributionDefaultCacheBehavior(
                target_origin_id=ORIGIN_ID,
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["GET", "HEAD"],
                cached_methods=["GET", "HEAD"],
                compress=True,
                cache_policy_id=props.cache_policy_id,
                response_headers_policy_id=self.headers_policy.id,
                function_association=[
                    _cf.CloudfrontDistributionDefaultCacheBehaviorFunctionAssociation(
                        event_type="viewer-request", function_arn=self.router.arn
                    )
                ],
            ),
            restrictions=_cf.CloudfrontDistributionRestrictions(
                geo_restriction=_cf.CloudfrontDistributionRestrictionsGeoRestriction(restriction_type="none")
            ),
            viewer_certificate=_cf.CloudfrontDistributionViewerCertificate(
                acm_certificate_arn=props.certificate_arn,
                ssl_support_method="sni-only",
                minimum_protocol_version=props.minimum_protocol_version,
            ),
        )

    @property
    def arn(self) -> str:
        """The distribution's ARN (for the bucket policy's `AWS:SourceArn` condition)."""
        return self.distribution.arn

    @property
    def distribution_id(self) -> str:
        """The distribution's id (invalidations)."""
        return self.distribution.id

    @property
    def domain_name(self) -> str:
        """`dxxxx.cloudfront.net`: the alias records' target."""
        return self.distribution.domain_name

    @property
    def hosted_zone_id(self) -> str:
        """CloudFront's Route 53 zone id, for alias records."""
        return self.distribution.hosted_zone_id

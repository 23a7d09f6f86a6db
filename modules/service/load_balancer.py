"""An internet-facing HTTPS Application Load Balancer in front of one IP target group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from modules.cdk import Construct, aws


_listener = aws.lb_listener
_tg = aws.lb_target_group

MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""TLS 1.3 + TLS 1.2 with forward-secret AEAD ciphers only (AWS's recommended policy)."""


@dataclass(frozen=True, kw_only=True)
class HttpsLoadBalancerProps:
    name: str
    """ALB name (≤32 characters)."""
    target_group_name: str
    """Target group name (≤32 characters)."""
    vpc_id: str
    subnet_ids: Sequence[str]
    """Public subnets: the ALB is the only internet-facing piece. With `dualstack` every one
    needs an IPv6 /64 and a `::/0` route to an internet gateway."""
    security_group_ids: Sequence[str]
    certificate_arn: str
    target_port: int
    """Container port; targets are task IPs (awsvpc networking)."""
    health_check_path: str = "/"
    health_check_matcher: str = "200-399"
    """Redirects count as healthy so a `/` that redirects does not drain the service."""
    deletion_protection: bool = False
    idle_timeout_seconds: int = 60
    """Raise for long streaming responses (LLM completions stream; 60 s covers the first byte)."""
    deregistration_delay_seconds: int = 30
    """Draining time on deploy/scale-in; AWS's 300 s default slows every rollout for no gain here."""
    ssl_policy: str = MODERN_TLS_POLICY
    ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    """Client side only: `dualstack` answers IPv4 and IPv6 clients (A and AAAA aliases both
    resolve); the ALB still reaches its targets over IPv4, so the target group is unchanged."""
    access_logs_bucket: str | None = None
    """S3 bucket for access logs (SSE-S3, with a policy letting ELB write); None: no access logs."""
    access_logs_prefix: str = ""
    """Key prefix in that bucket; ELB appends `AWSLogs/<account>/elasticloadbalancing/...`."""
    depends_on: Sequence[Any] = ()
    """Created after these, e.g. the log bucket's policy (ELB tests its write access on creation)."""


class HttpsLoadBalancer(Construct):
    """ALB with 80 → 301 to 443, and 443 (explicit TLS policy) forwarding to the target group."""

    def __init__(self, scope: Construct, construct_id: str, props: HttpsLoadBalancerProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self.lb = aws.lb.Lb(
            self,
            "alb",
            name=props.name,
            internal=False,
            load_balancer_type="application",
            ip_address_type=props.ip_address_type,
            subnets=list(props.subnet_ids),
            security_groups=list(props.security_group_ids),
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_deletion_protection=props.deletion_protection,
            enable_http2=True,
            idle_timeout=props.idle_timeout_seconds,
            access_logs=(
                aws.lb.LbAccessLogs(bucket=props.access_logs_bucket, prefix=props.access_logs_prefix, enabled=True)
                if props.access_logs_bucket is not None
                else None
            ),
            depends_on=list(props.depends_on) or None,
            provider=provider,
        )
        self.target_group = _tg.LbTargetGroup(
            self,
            "targets",
            name=props.target_group_name,
            port=props.target_port,
            protocol="HTTP",
            protocol_version="HTTP1",
            target_type="ip",
            vpc_id=props.vpc_id,
            deregistration_delay=str(props.deregistration_delay_seconds),
            health_check=_tg.LbTargetGroupHealthCheck(
                enabled=True,
                protocol="HTTP",
                port="traffic-port",
                path=props.health_check_path,
                matcher=props.health_check_matcher,
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            provider=provider,
        )
        self.http_listener = _listener.LbListener(
            self,
            "http",
            load_balancer_arn=self.lb.arn,
            port=80,
            protocol="HTTP",
            default_action=[
                _listener.LbListenerDefaultAction(
                    type="redirect",
                    redirect=_listener.LbListenerDefaultActionRedirect(
                        port="443", protocol="HTTPS", status_code="HTTP_301"
                    ),
                )
            ],
            provider=provider,
        )
        self.https_listener = _listener.LbListener(
            self,
            "https",
            load_balancer_arn=self.lb.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=props.ssl_policy,
            certificate_arn=props.certificate_arn,
            default_action=[
                _listener.LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn)
            ],
            provider=provider,
        )

    @property
    def arn(self) -> str:
        return self.lb.arn

    @property
    def dns_name(self) -> str:
        return self.lb.dns_name

    @property
    def zone_id(self) -> str:
        return self.lb.zone_id

    @property
    def arn_suffix(self) -> str:
        """`app/<name>/<id>`: the CloudWatch `LoadBalancer` dimension."""
        return self.lb.arn_suffix

    @property
    def target_group_arn_suffix(self) -> str:
        """`targetgroup/<name>/<id>`: the CloudWatch `TargetGroup` dimension."""
        return self.target_group.arn_suffix

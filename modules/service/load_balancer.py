"""Internet-facing HTTPS Application Load Balancers: one per service (`HttpsLoadBalancer`, one
IP target group as the listener's default) or one shared by several services
(`SharedHttpsLoadBalancer`, a target group and a host-header listener rule per service, and a
fixed 404 for any other host). Both redirect HTTP to HTTPS and use the same ALB settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from modules.cdk import Construct, aws


_listener = aws.lb_listener
_rule = aws.lb_listener_rule
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


class _LoadBalancerFront(Construct):
    """What both kinds expose of their ALB (`self.lb`): ARN, DNS name and zone for aliases, metric dimension."""

    lb: Any

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


class HttpsLoadBalancer(_LoadBalancerFront):
    """ALB with 80 → 301 to 443, and 443 (explicit TLS policy) forwarding to the target group."""

    def __init__(self, scope: Construct, construct_id: str, props: HttpsLoadBalancerProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self.lb = _application_load_balancer(self, props, provider)
        self.target_group = _target_group(
            self,
            "targets",
            TargetGroupProps(
                name=props.target_group_name,
                vpc_id=props.vpc_id,
                port=props.target_port,
                health_check_path=props.health_check_path,
                health_check_matcher=props.health_check_matcher,
                deregistration_delay_seconds=props.deregistration_delay_seconds,
            ),
            provider,
        )
        self.http_listener = _http_redirect(self, self.lb.arn, provider)
        self.https_listener = _https_listener(
            self, self.lb.arn, props.ssl_policy, props.certificate_arn,
            _listener.LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn), provider,
        )

    @property
    def target_group_arn_suffix(self) -> str:
        """`targetgroup/<name>/<id>`: the CloudWatch `TargetGroup` dimension."""
        return self.target_group.arn_suffix


@dataclass(frozen=True, kw_only=True)
class TargetGroupProps:
    name: str
    """Target group name (≤ 32 characters, letters, digits and '-';
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html)."""
    vpc_id: str
    port: int
    """Container port; targets are task IPs (awsvpc networking)."""
    health_check_path: str = "/"
    health_check_matcher: str = "200-399"
    deregistration_delay_seconds: int = 30


@dataclass(frozen=True, kw_only=True)
class SharedHttpsLoadBalancerProps:
    """An ALB that several services share by host name; every ALB setting as in `HttpsLoadBalancerProps`."""

    name: str
    """ALB name (≤ 32 characters)."""
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]
    certificate_arn: str
    """One certificate that names every routed host (subject + SANs); the listener serves it by SNI."""
    deletion_protection: bool = False
    idle_timeout_seconds: int = 60
    ssl_policy: str = MODERN_TLS_POLICY
    ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    access_logs_bucket: str | None = None
    access_logs_prefix: str = ""
    depends_on: Sequence[Any] = ()
    not_found_body: str = "Not Found"
    """Body of the fixed 404 that answers requests for any host without a rule (≤ 1024 characters)."""


@dataclass(frozen=True, kw_only=True)
class HostRoute:
    """One service behind a shared ALB: its target group and the rule that sends its host there."""

    target_group: Any
    rule: Any
    host: str
    priority: int


class SharedHttpsLoadBalancer(_LoadBalancerFront):
    """One ALB for several services: 80 → 301 to 443; 443 answers a fixed 404 unless a
    host-header rule (`add_host_route`) forwards the request to a service's target group.

    A fixed 404, not one of the services, as the default: a request for an unknown name (a
    scanner hitting the ALB's own DNS name, a mistyped host) reaches no application.
    """

    MAX_PRIORITY = 50000
    """Listener rule priorities are 1-50000, unique per listener
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html)."""

    def __init__(self, scope: Construct, construct_id: str, props: SharedHttpsLoadBalancerProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self._provider = provider
        self.routes: dict[str, HostRoute] = {}
        self.lb = _application_load_balancer(self, props, provider)
        self.http_listener = _http_redirect(self, self.lb.arn, provider)
        self.https_listener = _https_listener(
            self, self.lb.arn, props.ssl_policy, props.certificate_arn,
            _listener.LbListenerDefaultAction(
                type="fixed-response",
                fixed_response=_listener.LbListenerDefaultActionFixedResponse(
                    content_type="text/plain", status_code="404", message_body=props.not_found_body
                ),
            ),
            provider,
        )

    def add_host_route(self, construct_id: str, *, host: str, priority: int, target_group: TargetGroupProps) -> HostRoute:
        """A target group and a listener rule forwarding requests whose Host header is `host`.

        Raises ValueError for a priority outside 1-50000 or already used, or a host already routed."""
        if not 1 <= priority <= self.MAX_PRIORITY:
            raise ValueError(f"listener rule priority {priority} for {host!r} is outside 1-{self.MAX_PRIORITY}")
        taken = {route.priority: name for name, route in self.routes.items()}
        if priority in taken:
            raise ValueError(f"listener rule priority {priority} for {host!r} is already used by {taken[priority]!r}")
        if any(route.host == host for route in self.routes.values()):
            raise ValueError(f"host {host!r} is already routed on this load balancer")
        group = _target_group(self, f"{construct_id}_targets", target_group, self._provider)
        rule = _rule.LbListenerRule(
            self,
            f"{construct_id}_rule",
            listener_arn=self.https_listener.arn,
            priority=priority,
            condition=[_rule.LbListenerRuleCondition(host_header=_rule.LbListenerRuleConditionHostHeader(values=[host]))],
            action=[_rule.LbListenerRuleAction(type="forward", target_group_arn=group.arn)],
            provider=self._provider,
        )
        self.routes[construct_id] = HostRoute(target_group=group, rule=rule, host=host, priority=priority)
        return self.routes[construct_id]


def _application_load_balancer(scope: Construct, props: HttpsLoadBalancerProps | SharedHttpsLoadBalancerProps, provider: Any) -> Any:
    """The internet-facing ALB itself (id `alb`): hardened header handling, optional access logs."""
    return aws.lb.Lb(
        scope,
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


def _target_group(scope: Construct, construct_id: str, props: TargetGroupProps, provider: Any) -> Any:
    """An HTTP/1.1 IP target group with a quick health check (healthy after 2 × 15 s)."""
    return _tg.LbTargetGroup(
        scope,
        construct_id,
        name=props.name,
        port=props.port,
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


def _http_redirect(scope: Construct, load_balancer_arn: str, provider: Any) -> Any:
    """Listener 80 (id `http`): every request is redirected to HTTPS with a 301."""
    return _listener.LbListener(
        scope,
        "http",
        load_balancer_arn=load_balancer_arn,
        port=80,
        protocol="HTTP",
        default_action=[
            _listener.LbListenerDefaultAction(
                type="redirect",
                redirect=_listener.LbListenerDefaultActionRedirect(port="443", protocol="HTTPS", status_code="HTTP_301"),
            )
        ],
        provider=provider,
    )


def _https_listener(scope: Construct, load_balancer_arn: str, ssl_policy: str, certificate_arn: str, default_action: Any,
                    provider: Any) -> Any:
    """Listener 443 (id `https`) with an explicit TLS policy."""
    return _listener.LbListener(
        scope,
        "https",
        load_balancer_arn=load_balancer_arn,
        port=443,
        protocol="HTTPS",
        ssl_policy=ssl_policy,
        certificate_arn=certificate_arn,
        default_action=[default_action],
        provider=provider,
    )

"""Internet-facing HTTPS Application Load Balancers: one per service (`HttpsLoadBalancer`, one
IP target group as the listener's default) or one shared by several services
(`SharedHttpsLoadBalancer`, a target group and a host-header listener rule per service, and a
fixed 404 for any other host). Both redirect HTTP to HTTPS and use the same ALB settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from modules.cdk import Construct, aws
from modules.errors import ValidationError


_listener = aws.lb_listener
_rule = aws.lb_listener_rule
_tg = aws.lb_target_group

MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
"""TLS 1.3 + TLS 1.2 with forward-secret AEAD ciphers only (AWS's recommended policy)."""


@dataclass(frozen=True, kw_only=True)
class AlbSettings:
    """What every ALB of a stage has in common, built once by the stack and given to each ALB
    (a dedicated one per service, or the shared one)."""

    subnet_ids: Sequence[str]
    """Public subnets: the ALB is the only internet-facing piece. With `dualstack` every one
    needs an IPv6 /64 and a `::/0` route to an internet gateway."""
    security_group_ids: Sequence[str]
    """Security groups of the ALB (HTTP/HTTPS in from the internet, the container ports out)."""
    ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    """Client side only: `dualstack` answers IPv4 and IPv6 clients (A and AAAA aliases both
    resolve); the ALB still reaches its targets over IPv4, so the target group is unchanged."""
    deletion_protection: bool = False
    """`enable_deletion_protection`: the API refuses to delete the ALB while it is on."""
    idle_timeout_seconds: int = 60
    """Seconds a connection may idle (1-4000, ELB `idle_timeout.timeout_seconds`); raise for long
    streaming responses (LLM completions stream; 60 s covers the first byte)."""
    ssl_policy: str = MODERN_TLS_POLICY
    """TLS policy of the HTTPS listener."""
    access_logs_bucket: str | None = None
    """S3 bucket for access logs (SSE-S3, with a policy letting ELB write); None: no access logs.
    Each ALB writes under its own `access_logs_prefix`."""
    depends_on: Sequence[Any] = ()
    """Created after these, e.g. the log bucket's policy (ELB tests its write access on creation)."""


@dataclass(frozen=True, kw_only=True)
class HttpsLoadBalancerProps:
    """One service's own ALB: its name, target group and certificate, the stage's `AlbSettings`."""

    name: str
    """ALB name (≤32 characters)."""
    target_group_name: str
    """Target group name (≤32 characters)."""
    vpc_id: str
    """VPC of the target group."""
    settings: AlbSettings
    """Subnets, security groups, IP address type, protection, TLS policy, access-log bucket."""
    access_logs_prefix: str = ""
    """Key prefix of this ALB in `settings.access_logs_bucket`; ELB appends `AWSLogs/<account>/elasticloadbalancing/...`."""
    certificate_arn: str
    """ACM certificate of the HTTPS listener."""
    target_port: int
    """Container port; targets are task IPs (awsvpc networking)."""
    health_check_path: str = "/"
    """Path of the target group's HTTP health check."""
    health_check_matcher: str = "200-399"
    """Redirects count as healthy so a `/` that redirects does not drain the service."""
    deregistration_delay_seconds: int = 30
    """Draining time on deploy/scale-in; AWS's 300 s default slows every rollout for no gain here."""


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

    def __init__(
        self, scope: Construct, construct_id: str, props: HttpsLoadBalancerProps, provider: Any = None
    ) -> None:
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
            self,
            self.lb.arn,
            props.settings.ssl_policy,
            props.certificate_arn,
            _listener.LbListenerDefaultAction(type="forward", target_group_arn=self.target_group.arn),
            provider,
        )

    @property
    def target_group_arn_suffix(self) -> str:
        """`targetgroup/<name>/<id>`: the CloudWatch `TargetGroup` dimension."""
        return self.target_group.arn_suffix


@dataclass(frozen=True, kw_only=True)
class TargetGroupProps:
    """One HTTP target group of task IPs."""

    name: str
    """Target group name (≤ 32 characters, letters, digits and '-';
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html)."""
    vpc_id: str
    """VPC of the targets."""
    port: int
    """Container port; targets are task IPs (awsvpc networking)."""
    health_check_path: str = "/"
    """Path of the HTTP health check; must start with `/`."""
    health_check_matcher: str = "200-399"
    """HTTP codes that count as healthy (redirects included)."""
    deregistration_delay_seconds: int = 30
    """Draining time on deploy/scale-in (0-3600 s)."""


@dataclass(frozen=True, kw_only=True)
class SharedHttpsLoadBalancerProps:
    """An ALB that several services share by host name, with the stage's `AlbSettings`."""

    name: str
    """ALB name (≤ 32 characters)."""
    settings: AlbSettings
    """Subnets, security groups, IP address type, protection, TLS policy, access-log bucket."""
    access_logs_prefix: str = ""
    """Key prefix of this ALB in `settings.access_logs_bucket`."""
    certificate_arn: str
    """One certificate that names every routed host (subject + SANs); the listener serves it by SNI."""
    not_found_body: str = "Not Found"
    """Body of the fixed 404 that answers requests for any host without a rule (≤ 1024 characters)."""


@dataclass(frozen=True, kw_only=True)
class HostRoute:
    """One service behind a shared ALB: its target group and the rule that sends its host there."""

    target_group: Any
    """The route's `aws_lb_target_group`."""
    rule: Any
    """The route's `aws_lb_listener_rule`."""
    host: str
    """The `Host` header value the rule matches."""
    priority: int
    """The rule's priority on the HTTPS listener."""


class SharedHttpsLoadBalancer(_LoadBalancerFront):
    """One ALB for several services: 80 → 301 to 443; 443 answers a fixed 404 unless a
    host-header rule (`add_host_route`) forwards the request to a service's target group.

    A fixed 404, not one of the services, as the default: a request for an unknown name (a
    scanner hitting the ALB's own DNS name, a mistyped host) reaches no application.
    """

    MAX_PRIORITY = 50000
    """Listener rule priorities are 1-50000, unique per listener
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html)."""

    def __init__(
        self, scope: Construct, construct_id: str, props: SharedHttpsLoadBalancerProps, provider: Any = None
    ) -> None:
        super().__init__(scope, construct_id)
        self._provider = provider
        self.routes: dict[str, HostRoute] = {}
        self.lb = _application_load_balancer(self, props, provider)
        self.http_listener = _http_redirect(self, self.lb.arn, provider)
        self.https_listener = _https_listener(
            self,
            self.lb.arn,
            props.settings.ssl_policy,
            props.certificate_arn,
            _listener.LbListenerDefaultAction(
                type="fixed-response",
                fixed_response=_listener.LbListenerDefaultActionFixedResponse(
                    content_type="text/plain", status_code="404", message_body=props.not_found_body
                ),
            ),
            provider,
        )

    def check_route(self, construct: str, *, host: str, priority: int) -> None:
        """Raise ValidationError, naming `construct`, when a route for `host` at `priority` could
        not be added: a priority outside 1-`MAX_PRIORITY` or already used, or a host already routed.
        The one place these rules live: `add_host_route` and the service pattern both call it."""
        if not 1 <= priority <= self.MAX_PRIORITY:
            raise ValidationError(
                construct, "priority", priority, f"is outside 1-{self.MAX_PRIORITY} (listener rule priorities)"
            )
        taken = {route.priority: name for name, route in self.routes.items()}
        if priority in taken:
            raise ValidationError(construct, "priority", priority, f"is already used by route {taken[priority]!r}")
        if any(route.host == host for route in self.routes.values()):
            raise ValidationError(construct, "host", host, "is already routed on this load balancer")

    def add_host_route(
        self, construct_id: str, *, host: str, priority: int, target_group: TargetGroupProps
    ) -> HostRoute:
        """A target group and a listener rule forwarding requests whose Host header is `host`.

        Raises ValidationError (see `check_route`)."""
        self.check_route(f"load balancer route {construct_id!r}", host=host, priority=priority)
        group = _target_group(self, f"{construct_id}_targets", target_group, self._provider)
        rule = _rule.LbListenerRule(
            self,
            f"{construct_id}_rule",
            listener_arn=self.https_listener.arn,
            priority=priority,
            condition=[
                _rule.LbListenerRuleCondition(host_header=_rule.LbListenerRuleConditionHostHeader(values=[host]))
            ],
            action=[_rule.LbListenerRuleAction(type="forward", target_group_arn=group.arn)],
            provider=self._provider,
        )
        self.routes[construct_id] = HostRoute(target_group=group, rule=rule, host=host, priority=priority)
        return self.routes[construct_id]


def _application_load_balancer(
    scope: Construct, props: HttpsLoadBalancerProps | SharedHttpsLoadBalancerProps, provider: Any
) -> Any:
    """The internet-facing ALB itself (id `alb`): hardened header handling, optional access logs."""
    settings = props.settings
    return aws.lb.Lb(
        scope,
        "alb",
        name=props.name,
        internal=False,
        load_balancer_type="application",
        ip_address_type=settings.ip_address_type,
        subnets=list(settings.subnet_ids),
        security_groups=list(settings.security_group_ids),
        drop_invalid_header_fields=True,
        desync_mitigation_mode="defensive",
        enable_deletion_protection=settings.deletion_protection,
        enable_http2=True,
        idle_timeout=settings.idle_timeout_seconds,
        access_logs=(
            aws.lb.LbAccessLogs(bucket=settings.access_logs_bucket, prefix=props.access_logs_prefix, enabled=True)
            if settings.access_logs_bucket is not None
            else None
        ),
        depends_on=list(settings.depends_on) or None,
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
                redirect=_listener.LbListenerDefaultActionRedirect(
                    port="443", protocol="HTTPS", status_code="HTTP_301"
                ),
            )
        ],
        provider=provider,
    )


def _https_listener(
    scope: Construct, load_balancer_arn: str, ssl_policy: str, certificate_arn: str, default_action: Any, provider: Any
) -> Any:
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

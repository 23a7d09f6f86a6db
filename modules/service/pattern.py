"""One HTTP service on Fargate behind an HTTPS load balancer, wired end to end.

`LoadBalancedFargateService` builds, for one service: its KMS-encrypted log group, an execution
role (pull the image, write the logs, read the secrets) and a task role (the application; ECS
Exec channels when asked), the load balancer side (an own ALB with certificate, WAF association
and A/AAAA aliases), the ECS task definition and service, target-tracking autoscaling and
alarms. It reads like the pattern it is: `_validate()` first, then `_create_*()` steps.

**Not a node in the construct tree.** The pattern creates its children directly in `scope`
(normally the stack) under ids prefixed with `id_prefix` (`api_logs`, `api_alb`, …). cdktf
derives every logical id from the construct path, so a wrapping node would rename every
resource (`api_alb_674ECFBF` → `api_api_alb_…`) and Terraform would replace live load
balancers and services. Moving it under a node later needs `moved` blocks for every resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

from modules.cdk import Construct
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.iam import Condition, ServiceRole, ServiceRoleProps, Statement
from modules.logs import log_group
from modules.service.alarms import ServiceAlarms, ServiceAlarmsProps
from modules.service.autoscaling import ServiceAutoscaling, ServiceAutoscalingProps
from modules.service.fargate_service import FargateService, FargateServiceProps
from modules.service.load_balancer import (
    HttpsLoadBalancer,
    HttpsLoadBalancerProps,
    SharedHttpsLoadBalancer,
    TargetGroupProps,
)
from modules.service.waf import RegionalWebAcl

ECS_TASKS_PRINCIPAL = "ecs-tasks.amazonaws.com"
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")
"""AmazonECSTaskExecutionRolePolicy's pull actions, granted on named repositories only."""
ECS_EXEC_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
"""What the task role needs for ECS Exec (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-exec.html)."""

FARGATE_SIZES: Mapping[int, tuple[int, int, int]] = {
    256: (512, 2048, 512),  # 512 MiB, 1 GiB, 2 GiB
    512: (1024, 4096, 1024),
    1024: (2048, 8192, 1024),
    2048: (4096, 16384, 1024),
    4096: (8192, 30720, 1024),
    8192: (16384, 61440, 4096),
    16384: (32768, 122880, 8192),
}
"""CPU units → (min MiB, max MiB, step MiB): the task sizes Fargate accepts (Linux), from
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size."""


class ServicePropsError(ValueError):
    """Contradictory or impossible service props, raised before any resource is created (one line)."""


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """How big each task is, how many run, and on what."""

    cpu: int
    """CPU units per task (1024 = 1 vCPU); one of `FARGATE_SIZES`."""
    memory_mib: int
    """Memory per task in MiB; must be a size Fargate offers for `cpu`."""
    min_tasks: int
    """Autoscaling floor and the service's initial desired count (later owned by autoscaling)."""
    max_tasks: int
    """Autoscaling ceiling; equal to `min_tasks` pins the count (the policies then never act)."""
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"] = "FARGATE"
    wait_for_steady_state: bool = False
    """`apply` waits until the new tasks are healthy (a bad image fails the deploy)."""


@dataclass(frozen=True, kw_only=True)
class ExecuteCommand:
    """ECS Exec: the task role gets the SSM channels and may write the session transcript."""

    log_group_arn: str
    """The cluster's ECS Exec log group (transcripts)."""
    kms_key_arn: str
    """The key that encrypts the sessions and that log group."""


@dataclass(frozen=True, kw_only=True)
class DedicatedLoadBalancer:
    """The service gets its own internet-facing ALB, certificate and DNS names."""

    name: str
    """ALB name (≤ 32 characters, https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html)."""
    target_group_name: str
    """Target group name (≤ 32 characters)."""
    domain: str
    """The service's public name: certificate subject and A/AAAA aliases."""
    zone_id: str
    """Route 53 zone of `domain` (certificate validation and aliases)."""
    subnet_ids: Sequence[str]
    """Public subnets of the ALB."""
    security_group_ids: Sequence[str]
    ip_address_type: Literal["ipv4", "dualstack"] = "ipv4"
    deletion_protection: bool = False
    access_logs_bucket: str | None = None
    """Bucket for access logs (None: no access logs); its policy must let ELB write `access_logs_prefix`."""
    access_logs_prefix: str = ""
    depends_on: Sequence[Any] = ()
    """Created after these (e.g. the log bucket's policy: ELB tests its write access on creation)."""
    web_acl: RegionalWebAcl | None = None
    """A regional WAF web ACL to associate with the ALB; None: no WAF."""


@dataclass(frozen=True, kw_only=True)
class SharedLoadBalancerRoute:
    """The service is one host on a `SharedHttpsLoadBalancer`: the pattern adds its target group
    and host-header rule. The certificate, DNS names and WAF belong to whoever owns the shared ALB."""

    load_balancer: SharedHttpsLoadBalancer
    host: str
    """Requests whose `Host` header is exactly this name go to the service."""
    priority: int
    """Listener rule priority, 1-50000 and unique on the listener (lower is evaluated first)."""
    target_group_name: str
    """Target group name (≤ 32 characters); must differ from any group still in use."""


@dataclass(frozen=True, kw_only=True)
class LoadBalancedFargateServiceProps:
    """Everything one service needs; names come in finished (the pattern invents none)."""

    name: str
    """ECS service name, also the container name and log stream prefix."""
    family: str
    """Task definition family."""
    image: str
    """Image URI; pin by digest (`repo@sha256:…`)."""
    image_repository_arns: Sequence[str] = ()
    """ECR repositories the image may be pulled from (`grant_image_pull`); empty for public
    registries, which need no ECR permission."""
    port: int
    """Container and target-group port (1-65535)."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """Plain container environment; never secrets."""
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Env var → ECS `valueFrom`: a Secrets Manager ARN, or `<arn>:<json key>::` for one member.
    Every ARN must be one of `secret_arns`."""
    secret_arns: Sequence[str] = ()
    """Exact secret ARNs the execution role may read (`grant_secret_read`); IAM does not take
    ECS's `:key::` suffix."""
    secrets_kms_key_arns: Sequence[str] = ()
    """Customer-managed keys of those secrets (this stage's, and a template stage's for secrets a
    preview reads from there): the execution role may decrypt through Secrets Manager only
    (`kms:ViaService`). Empty: the secrets use the AWS-managed key."""
    capacity: Capacity
    cluster_arn: str
    cluster_name: str
    cluster_ready: Sequence[Any] = ()
    """Resources the service waits for, e.g. the cluster's capacity providers."""
    subnet_ids: Sequence[str]
    """Private subnets of the tasks (no public IP is assigned)."""
    security_group_ids: Sequence[str]
    """Security groups of the tasks."""
    vpc_id: str
    load_balancer: DedicatedLoadBalancer | SharedLoadBalancerRoute
    """An own ALB (certificate, aliases, WAF association included) or a route on a shared one;
    with a shared ALB the alarms measure the service's target group."""
    health_check_path: str = "/"
    """Path of the target group's HTTP health check; must start with `/`."""
    log_group_name: str
    log_retention_days: int
    """Days CloudWatch keeps the container logs."""
    log_kms_key_arn: str
    region: str
    """Region of the log group (awslogs driver) and of the secrets (`kms:ViaService`)."""
    account_id: str
    """Account whose ECS tasks alone may assume the roles (confused-deputy guard)."""
    partition: str = "aws"
    execution_role_name: str
    task_role_name: str
    execute_command: ExecuteCommand | None = None
    """None: ECS Exec off and the task role has no permissions."""
    alarm_topic_arn: str
    """SNS topic for alarm and OK notifications."""
    alarm_name: Callable[[str], str]
    """Alarm key (`alb-5xx-rate`, …) → physical name."""
    alarm_label: str
    """Human name in alarm descriptions."""
    scaling_policy_name: Callable[[str], str]
    """Metric key (`cpu`, `memory`) → physical autoscaling policy name."""
    label: str = ""
    """Human name in role descriptions; defaults to `name`."""


class LoadBalancedFargateService:
    """Log group, roles, load balancer, Fargate service, autoscaling and alarms for one service.

    Children (typed members): `log_group`, `execution_role`, `task_role`, `load_balancer`,
    `target_group`, `fargate`, `scaling`, `alarms`; with an own ALB also `certificate`,
    `waf_association` and `aliases`, on a shared ALB `listener_rule` instead.
    Access: `grant_image_pull()`, `grant_secret_read()` (execution role).

    Raises ServicePropsError before creating anything when props contradict each other.
    """

    def __init__(self, scope: Construct, id_prefix: str, props: LoadBalancedFargateServiceProps) -> None:
        _validate(props)
        self._scope, self._prefix, self._props = scope, id_prefix, props
        self._ecr_login_granted = False
        self.log_group = log_group(
            scope, f"{id_prefix}_logs", name=props.log_group_name, retention_days=props.log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        )
        self.execution_role, self.task_role = self._create_roles()
        self.grant_image_pull(props.image_repository_arns)
        self.execution_role.grant(
            Statement(sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[f"{self.log_group.arn}:log-stream:*"]),
        )
        self.grant_secret_read(props.secret_arns, props.secrets_kms_key_arns)
        if props.execute_command is not None:
            self.task_role.grant(*_exec_statements(props.execute_command))
        self._create_load_balancer()
        self.fargate = self._create_service()
        self.scaling = ServiceAutoscaling(
            scope,
            f"{id_prefix}_scaling",
            ServiceAutoscalingProps(
                cluster_name=props.cluster_name,
                service_name=self.fargate.name,
                policy_name=props.scaling_policy_name,
                min_tasks=props.capacity.min_tasks,
                max_tasks=props.capacity.max_tasks,
            ),
        )
        self.alarms = ServiceAlarms(
            scope,
            f"{id_prefix}_alarms",
            ServiceAlarmsProps(
                alarm_name=props.alarm_name,
                service_label=props.alarm_label,
                load_balancer_arn_suffix=self.load_balancer.arn_suffix,
                target_group_arn_suffix=self.target_group.arn_suffix,
                topic_arn=props.alarm_topic_arn,
                per_target_group=isinstance(props.load_balancer, SharedLoadBalancerRoute),
            ),
        )

    # -- access ---------------------------------------------------------------------------------
    def grant_image_pull(self, repository_arns: Sequence[str]) -> None:
        """Let the execution role pull from these ECR repositories (and log in to ECR once).
        `ecr:GetAuthorizationToken` has no resource-level permissions, so its resource is `*`
        (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html)."""
        if not repository_arns:
            return
        statements = []
        if not self._ecr_login_granted:
            statements.append(Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]))
            self._ecr_login_granted = True
        statements.append(Statement(sid=self._sid("PullImage"), actions=list(ECR_PULL_ACTIONS), resources=list(repository_arns)))
        self.execution_role.grant(*statements)

    def grant_secret_read(self, secret_arns: Sequence[str], kms_key_arns: Sequence[str] = ()) -> None:
        """Let the execution role read exactly these secrets (ECS resolves `secrets` at task
        start) and, when they use a customer-managed key, decrypt through Secrets Manager only."""
        if not secret_arns:
            return
        statements = [Statement(sid=self._sid("ReadSecrets"), actions=["secretsmanager:GetSecretValue"], resources=list(secret_arns))]
        if kms_key_arns:
            statements.append(
                Statement(
                    sid=self._sid("DecryptSecrets"),
                    actions=["kms:Decrypt"],
                    resources=list(kms_key_arns),
                    conditions=[Condition(test="StringEquals", variable="kms:ViaService",
                                          values=[f"secretsmanager.{self._props.region}.amazonaws.com"])],
                )
            )
        self.execution_role.grant(*statements)

    def _sid(self, base: str) -> str:
        """`base`, or `base2`, `base3`, … when an earlier grant used it (Sids are unique per policy)."""
        taken = {s.sid for s in self.execution_role.statements}
        return next(c for c in (base, *(f"{base}{n}" for n in range(2, 100))) if c not in taken)

    # -- steps ----------------------------------------------------------------------------------
    def _trust(self, *, source_arn: bool) -> list[Condition]:
        """Only ECS tasks of this account may assume the role (confused deputy).

        `aws:SourceAccount` on both roles; `aws:SourceArn` (ECS in this Region and account) only
        where AWS documents that ECS sends it, the task role
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html). Nothing
        documents it for the execution role
        (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html),
        and a condition on a key ECS does not send would stop every task from starting
        ("ECS was unable to assume the role")."""
        p = self._props
        conditions = [Condition(test="StringEquals", variable="aws:SourceAccount", values=[p.account_id])]
        if source_arn:
            conditions.append(
                Condition(test="ArnLike", variable="aws:SourceArn", values=[f"arn:{p.partition}:ecs:{p.region}:{p.account_id}:*"])
            )
        return conditions

    def _create_roles(self) -> tuple[ServiceRole, ServiceRole]:
        p, label = self._props, self._props.label or self._props.name
        execution = ServiceRole(
            self._scope,
            f"{self._prefix}_execution_role",
            ServiceRoleProps(
                name=p.execution_role_name,
                service=ECS_TASKS_PRINCIPAL,
                description=f"ECS agent for {label}: pull its image, write its logs, read its secrets",
                trust_conditions=self._trust(source_arn=False),
            ),
        )
        task = ServiceRole(
            self._scope,
            f"{self._prefix}_task_role",
            ServiceRoleProps(
                name=p.task_role_name,
                service=ECS_TASKS_PRINCIPAL,
                description=f"{label} application"
                + (" (ECS Exec sessions)" if p.execute_command is not None else " (no AWS permissions)"),
                trust_conditions=self._trust(source_arn=True),
            ),
        )
        return execution, task

    def _create_load_balancer(self) -> None:
        p, lb = self._props, self._props.load_balancer
        self.certificate: DnsValidatedCertificate | None = None
        self.waf_association: Any = None
        self.aliases: list[Any] = []
        self.listener_rule: Any = None
        if isinstance(lb, SharedLoadBalancerRoute):
            route = lb.load_balancer.add_host_route(
                self._prefix,
                host=lb.host,
                priority=lb.priority,
                target_group=TargetGroupProps(
                    name=lb.target_group_name, vpc_id=p.vpc_id, port=p.port, health_check_path=p.health_check_path
                ),
            )
            self.load_balancer: HttpsLoadBalancer | SharedHttpsLoadBalancer = lb.load_balancer
            self.target_group: Any = route.target_group
            self.listener_rule = route.rule
            self._routed = route.rule  # ECS accepts a target group only once a listener rule uses it
            return
        self.certificate = DnsValidatedCertificate(self._scope, f"{self._prefix}_certificate", domain_name=lb.domain, zone_id=lb.zone_id)
        own = HttpsLoadBalancer(
            self._scope,
            f"{self._prefix}_alb",
            HttpsLoadBalancerProps(
                name=lb.name,
                target_group_name=lb.target_group_name,
                vpc_id=p.vpc_id,
                subnet_ids=lb.subnet_ids,
                security_group_ids=lb.security_group_ids,
                certificate_arn=self.certificate.certificate_arn,
                ip_address_type=lb.ip_address_type,
                target_port=p.port,
                health_check_path=p.health_check_path,
                deletion_protection=lb.deletion_protection,
                access_logs_bucket=lb.access_logs_bucket,
                access_logs_prefix=lb.access_logs_prefix,
                depends_on=lb.depends_on,
            ),
        )
        self.load_balancer, self.target_group, self._routed = own, own.target_group, own.https_listener
        if lb.web_acl is not None:
            self.waf_association = lb.web_acl.associate(f"{self._prefix}_association", own.arn)
        self.aliases = alias_records(
            self._scope, f"{self._prefix}_alias", zone_id=lb.zone_id, name=lb.domain,
            target_dns_name=own.dns_name, target_zone_id=own.zone_id,
        )

    def _create_service(self) -> FargateService:
        p = self._props
        return FargateService(
            self._scope,
            f"{self._prefix}_service",
            FargateServiceProps(
                name=p.name,
                family=p.family,
                cluster_arn=p.cluster_arn,
                image=p.image,
                port=p.port,
                cpu=p.capacity.cpu,
                memory_mib=p.capacity.memory_mib,
                environment=p.environment,
                secrets=p.secrets,
                log_group_name=self.log_group.name,
                log_region=p.region,
                execution_role_arn=self.execution_role.arn,
                task_role_arn=self.task_role.arn,
                subnet_ids=p.subnet_ids,
                security_group_ids=p.security_group_ids,
                target_group_arn=self.target_group.arn,
                capacity_provider=p.capacity.capacity_provider,
                desired_count=p.capacity.min_tasks,
                wait_for_steady_state=p.capacity.wait_for_steady_state,
                enable_execute_command=p.execute_command is not None,
                depends_on=[self._routed, *p.cluster_ready],
            ),
        )

    # -- typed shortcuts ------------------------------------------------------------------------
    @property
    def service_name(self) -> str:
        return self.fargate.name

    @property
    def load_balancer_arn(self) -> str:
        return self.load_balancer.arn


def _exec_statements(exec_: ExecuteCommand) -> list[Statement]:
    return [
        # ssmmessages has no resource-level permissions.
        Statement(sid="EcsExecChannels", actions=list(ECS_EXEC_CHANNEL_ACTIONS), resources=["*"]),
        Statement(sid="EcsExecDescribeLogs", actions=["logs:DescribeLogGroups"], resources=["*"]),
        Statement(sid="EcsExecLogs", actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                  resources=[f"{exec_.log_group_arn}:log-stream:*"]),
        Statement(sid="EcsExecKms", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[exec_.kms_key_arn]),
    ]


def _validate(p: LoadBalancedFargateServiceProps) -> None:
    """Every rule the props must satisfy together; the first broken one is raised as one line."""
    what = f"service {p.name!r}"
    c = p.capacity
    if not 1 <= p.port <= 65535:
        raise ServicePropsError(f"{what}: port {p.port} is outside 1-65535")
    if not 0 < c.min_tasks <= c.max_tasks:
        raise ServicePropsError(f"{what}: capacity needs 0 < min_tasks ({c.min_tasks}) <= max_tasks ({c.max_tasks})")
    if c.cpu not in FARGATE_SIZES:
        raise ServicePropsError(f"{what}: cpu {c.cpu} is not a Fargate size; allowed are {sorted(FARGATE_SIZES)}")
    low, high, step = FARGATE_SIZES[c.cpu]
    if not (low <= c.memory_mib <= high and (c.memory_mib - low) % step == 0):
        raise ServicePropsError(
            f"{what}: memory_mib {c.memory_mib} does not fit cpu {c.cpu}; allowed are {low}-{high} MiB in steps of {step}"
        )
    clash = sorted(set(p.environment) & set(p.secrets))
    if clash:
        raise ServicePropsError(f"{what}: {clash} given both as plain environment and as secrets")
    unreadable = sorted(env for env, value_from in p.secrets.items()
                        if not any(value_from == arn or value_from.startswith(f"{arn}:") for arn in p.secret_arns))
    if unreadable:
        raise ServicePropsError(f"{what}: secrets {unreadable} name an ARN outside secret_arns (the execution role could not read them)")
    if isinstance(p.load_balancer, SharedLoadBalancerRoute) and not 1 <= p.load_balancer.priority <= SharedHttpsLoadBalancer.MAX_PRIORITY:
        raise ServicePropsError(f"{what}: listener rule priority {p.load_balancer.priority} is outside 1-{SharedHttpsLoadBalancer.MAX_PRIORITY}")
    if not p.health_check_path.startswith("/"):
        raise ServicePropsError(f"{what}: health_check_path {p.health_check_path!r} must start with '/'")

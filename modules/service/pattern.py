"""One HTTP service on Fargate behind an HTTPS load balancer, wired end to end.

`LoadBalancedFargateService` is a construct that builds, for one service: its KMS-encrypted log
group, an execution role (pull the image, write the logs, read the secrets) and a task role (the
application; ECS Exec channels when asked), the load balancer side (an own ALB with certificate,
WAF association and A/AAAA aliases, or a route on a shared ALB), the ECS task definition and
service, target-tracking autoscaling and alarms. It reads like the pattern it is: `_validate()`
first, then `_create_*()` steps.

**Logical ids.** The pattern is a `PrefixingConstruct` (modules/logical_ids.py): its children
keep the logical ids they were first deployed with, when they sat directly in the stack under
ids prefixed with the pattern's id (`api_logs`, `api_alb_674ECFBF`), so making the pattern a
node of the construct tree replaced no live load balancer or service. A route on a shared ALB
(target group, listener rule) and a WAF association are children of the shared ALB and of the
web ACL, which own them; the account and partition data sources are the stack's
(modules/account.py).
"""

from __future__ import annotations

from typing import Any, Sequence

from modules.account import account_id, partition
from modules.cdk import Construct
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.errors import ValidationError
from modules.iam import Condition, ServiceRole, ServiceRoleProps, Statement
from modules.logical_ids import PrefixingConstruct
from modules.logs import log_group
from modules.service.alarms import ServiceAlarms, ServiceAlarmsProps
from modules.service.autoscaling import ServiceAutoscaling, ServiceAutoscalingProps, check_task_range
from modules.service.fargate_service import FargateService, FargateServiceProps, check_task
from modules.service.load_balancer import (
    HttpsLoadBalancer,
    HttpsLoadBalancerProps,
    SharedHttpsLoadBalancer,
    TargetGroupProps,
)
from modules.service.pattern_props import (
    SCALED_METRICS,
    DedicatedLoadBalancer,
    ExecuteCommand,
    LoadBalancedFargateServiceProps,
    SharedLoadBalancerRoute,
)

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


class LoadBalancedFargateService(PrefixingConstruct):
    """Log group, roles, load balancer, Fargate service, autoscaling and alarms for one service.

    `scope` must be in a `LogicalIdStack` (every stack of the app is one); `construct_id` (e.g.
    `api`) prefixes the logical ids of its children (`api_logs`, `api_service_…`).
    Children (typed members): `log_group`, `execution_role`, `task_role`, `load_balancer`,
    `target_group`, `fargate`, `scaling`, `alarms`; with an own ALB also `certificate`,
    `waf_association` and `aliases`, on a shared ALB `listener_rule` instead.
    Access: `grant_image_pull()`, `grant_secret_read()` (execution role).

    Raises ValidationError (modules/errors.py) before creating anything when props contradict
    each other or a rule of a construct it builds; TypeError outside a `LogicalIdStack`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: LoadBalancedFargateServiceProps) -> None:
        self._validate(props)
        super().__init__(scope, construct_id)
        self._props = props
        self._ecr_login_granted = False
        self.log_group = log_group(
            self,
            "logs",
            name=props.log_group_name,
            retention_days=props.log_retention_days,
            kms_key_arn=props.log_kms_key_arn,
        )
        self.execution_role, self.task_role = self._create_roles()
        self._grant_defaults()
        self._create_load_balancer()
        self.fargate = self._create_service()
        self.scaling = self._create_scaling()
        self.alarms = self._create_alarms()

    @staticmethod
    def _validate(p: LoadBalancedFargateServiceProps) -> None:
        """Every rule the props must satisfy together, checked by the construct that owns it;
        the first broken one is raised as one ValidationError naming this service."""
        what = f"service {p.name!r}"
        c = p.capacity
        check_task(
            what,
            port=p.port,
            cpu=c.cpu,
            memory_mib=c.memory_mib,
            environment=p.environment,
            secret_names=list(p.secrets),
        )
        check_task_range(what, c.min_tasks, c.max_tasks)
        if not p.health_check_path.startswith("/"):
            raise ValidationError(what, "health_check_path", p.health_check_path, "must start with '/'")
        shared = isinstance(p.load_balancer, SharedLoadBalancerRoute)
        for prop, names, keys in (
            ("alarm_names", p.alarm_names, ServiceAlarms.keys(per_target_group=shared)),
            ("scaling_policy_names", p.scaling_policy_names, SCALED_METRICS),
        ):
            if missing := [key for key in keys if key not in names]:
                raise ValidationError(what, prop, sorted(names), f"lacks {missing} (needed: {list(keys)})")
        if isinstance(p.load_balancer, SharedLoadBalancerRoute):
            p.load_balancer.load_balancer.check_route(
                what, host=p.load_balancer.host, priority=p.load_balancer.priority
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
        statements.append(
            Statement(sid=self._sid("PullImage"), actions=list(ECR_PULL_ACTIONS), resources=list(repository_arns))
        )
        self.execution_role.grant(*statements)

    def grant_secret_read(self, secret_arns: Sequence[str], kms_key_arns: Sequence[str] = ()) -> None:
        """Let the execution role read exactly these secrets (ECS resolves `secrets` at task
        start) and, when they use a customer-managed key, decrypt through Secrets Manager only."""
        if not secret_arns:
            return
        statements = [
            Statement(
                sid=self._sid("ReadSecrets"), actions=["secretsmanager:GetSecretValue"], resources=list(secret_arns)
            )
        ]
        if kms_key_arns:
            statements.append(
                Statement(
                    sid=self._sid("DecryptSecrets"),
                    actions=["kms:Decrypt"],
                    resources=list(kms_key_arns),
                    conditions=[
                        Condition(
                            test="StringEquals",
                            variable="kms:ViaService",
                            values=[f"secretsmanager.{self._props.region}.amazonaws.com"],
                        )
                    ],
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
        account = account_id(self)
        conditions = [Condition(test="StringEquals", variable="aws:SourceAccount", values=[account])]
        if source_arn:
            arn = f"arn:{partition(self)}:ecs:{self._props.region}:{account}:*"
            conditions.append(Condition(test="ArnLike", variable="aws:SourceArn", values=[arn]))
        return conditions

    def _create_roles(self) -> tuple[ServiceRole, ServiceRole]:
        """The execution role (ECS agent) and the task role (the application), both trusting only
        this account's ECS tasks."""
        p, label = self._props, self._props.label or self._props.name
        execution = ServiceRole(
            self,
            "execution_role",
            ServiceRoleProps(
                name=p.execution_role_name,
                service=ECS_TASKS_PRINCIPAL,
                description=f"ECS agent for {label}: pull its image, write its logs, read its secrets",
                trust_conditions=self._trust(source_arn=False),
            ),
        )
        task = ServiceRole(
            self,
            "task_role",
            ServiceRoleProps(
                name=p.task_role_name,
                service=ECS_TASKS_PRINCIPAL,
                description=f"{label} application"
                + (" (ECS Exec sessions)" if p.execute_command is not None else " (no AWS permissions)"),
                trust_conditions=self._trust(source_arn=True),
            ),
        )
        return execution, task

    def _grant_defaults(self) -> None:
        """What the props imply: pull the image, write the logs, read the secrets, and the ECS
        Exec channels on the task role when exec is on."""
        p = self._props
        self.grant_image_pull(p.image_repository_arns)
        self.execution_role.grant(
            Statement(
                sid="WriteLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self.log_group.arn}:log-stream:*"],
            ),
        )
        secret_arns = list(dict.fromkeys(secret.arn for secret in p.secrets.values()))
        self.grant_secret_read(secret_arns, p.secrets_kms_key_arns)
        if p.execute_command is not None:
            self.task_role.grant(*_exec_statements(p.execute_command))

    def _create_load_balancer(self) -> None:
        """A route on the shared ALB, or an own ALB with certificate, WAF association and aliases."""
        self.certificate: DnsValidatedCertificate | None = None
        self.waf_association: Any = None
        self.aliases: list[Any] = []
        self.listener_rule: Any = None
        lb = self._props.load_balancer
        if isinstance(lb, SharedLoadBalancerRoute):
            self._create_route(lb)
        else:
            self._create_own_load_balancer(lb)

    def _target_group_props(self, name: str) -> TargetGroupProps:
        p = self._props
        return TargetGroupProps(name=name, vpc_id=p.network.vpc_id, port=p.port, health_check_path=p.health_check_path)

    def _create_route(self, lb: SharedLoadBalancerRoute) -> None:
        """The service's target group and host rule on the shared ALB."""
        route = lb.load_balancer.add_host_route(
            self.node.id,
            host=lb.host,
            priority=lb.priority,
            target_group=self._target_group_props(lb.target_group_name),
        )
        self.load_balancer: HttpsLoadBalancer | SharedHttpsLoadBalancer = lb.load_balancer
        self.target_group: Any = route.target_group
        self.listener_rule = route.rule
        self._routed = route.rule  # ECS accepts a target group only once a listener rule uses it

    def _create_own_load_balancer(self, lb: DedicatedLoadBalancer) -> None:
        """Certificate, ALB (listeners, target group), WAF association and A/AAAA aliases."""
        p = self._props
        self.certificate = DnsValidatedCertificate(self, "certificate", domain_name=lb.domain, zone_id=lb.zone_id)
        own = HttpsLoadBalancer(
            self,
            "alb",
            HttpsLoadBalancerProps(
                name=lb.name,
                target_group_name=lb.target_group_name,
                vpc_id=p.network.vpc_id,
                settings=lb.settings,
                access_logs_prefix=lb.access_logs_prefix,
                certificate_arn=self.certificate.certificate_arn,
                target_port=p.port,
                health_check_path=p.health_check_path,
            ),
        )
        self.load_balancer, self.target_group, self._routed = own, own.target_group, own.https_listener
        if lb.web_acl is not None:
            self.waf_association = lb.web_acl.associate(f"{self.node.id}_association", own.arn)
        self.aliases = alias_records(
            self,
            "alias",
            zone_id=lb.zone_id,
            name=lb.domain,
            target_dns_name=own.dns_name,
            target_zone_id=own.zone_id,
        )

    def _create_service(self) -> FargateService:
        """The task definition and ECS service, after the listener (rule) and the cluster's capacity providers."""
        p = self._props
        return FargateService(
            self,
            "service",
            FargateServiceProps(
                name=p.name,
                family=p.family,
                cluster_arn=p.cluster.arn,
                image=p.image,
                port=p.port,
                cpu=p.capacity.cpu,
                memory_mib=p.capacity.memory_mib,
                environment=p.environment,
                secrets={env: secret.value_from for env, secret in p.secrets.items()},
                log_group_name=self.log_group.name,
                log_region=p.region,
                execution_role_arn=self.execution_role.arn,
                task_role_arn=self.task_role.arn,
                subnet_ids=p.network.private_subnet_ids,
                security_group_ids=p.security_group_ids,
                target_group_arn=self.target_group.arn,
                capacity_provider=p.capacity.capacity_provider,
                desired_count=p.capacity.min_tasks,
                wait_for_steady_state=p.capacity.wait_for_steady_state,
                enable_execute_command=p.execute_command is not None,
                depends_on=[self._routed, p.cluster.capacity_providers],
            ),
        )

    def _create_scaling(self) -> ServiceAutoscaling:
        """Target tracking between `capacity.min_tasks` and `capacity.max_tasks`."""
        p = self._props
        return ServiceAutoscaling(
            self,
            "scaling",
            ServiceAutoscalingProps(
                cluster_name=p.cluster.name,
                service_name=self.fargate.name,
                policy_name=p.scaling_policy_names.__getitem__,
                min_tasks=p.capacity.min_tasks,
                max_tasks=p.capacity.max_tasks,
            ),
        )

    def _create_alarms(self) -> ServiceAlarms:
        """5xx rate, unhealthy hosts and latency; per target group on a shared ALB."""
        p = self._props
        return ServiceAlarms(
            self,
            "alarms",
            ServiceAlarmsProps(
                alarm_name=p.alarm_names.__getitem__,
                service_label=p.alarm_label,
                load_balancer_arn_suffix=self.load_balancer.arn_suffix,
                target_group_arn_suffix=self.target_group.arn_suffix,
                topic_arn=p.alarm_topic_arn,
                per_target_group=isinstance(p.load_balancer, SharedLoadBalancerRoute),
            ),
        )

    # -- typed shortcuts ------------------------------------------------------------------------
    @property
    def service_name(self) -> str:
        """The ECS service's name (a reference to the created service)."""
        return self.fargate.name

    @property
    def load_balancer_arn(self) -> str:
        """ARN of the ALB the service is behind (its own, or the shared one)."""
        return self.load_balancer.arn


def _exec_statements(exec_: ExecuteCommand) -> list[Statement]:
    """The task role's ECS Exec permissions: SSM channels, the transcript log group and its key."""
    return [
        # ssmmessages has no resource-level permissions.
        Statement(sid="EcsExecChannels", actions=list(ECS_EXEC_CHANNEL_ACTIONS), resources=["*"]),
        Statement(sid="EcsExecDescribeLogs", actions=["logs:DescribeLogGroups"], resources=["*"]),
        Statement(
            sid="EcsExecLogs",
            actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resources=[f"{exec_.log_group_arn}:log-stream:*"],
        ),
        Statement(sid="EcsExecKms", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[exec_.kms_key_arn]),
    ]

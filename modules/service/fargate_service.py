"""A Fargate (arm64) task definition and ECS service registered with one target group."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, Fn, TerraformResourceLifecycle, Token, aws, cdktf
from modules.errors import ValidationError


_td = aws.ecs_task_definition
_svc = aws.ecs_service

NON_ROOT_USER = "65532:65532"
"""The `nonroot` user of the distroless images (docker/Dockerfile.*)."""

# ECS Exec bind-mounts the SSM agent, which must write here; with a read-only root filesystem
# these become small task-local volumes instead (aws/containers-roadmap#1359).
EXEC_AGENT_PATHS = {
    "exec-agents": "/managed-agents",
    "exec-ssm-lib": "/var/lib/amazon/ssm",
    "exec-ssm-log": "/var/log/amazon/ssm",
}
SCRATCH_VOLUME = ("tmp", "/tmp")
"""The only writable path the application gets (Bun writes temp files; the root fs is read-only)."""

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


def check_task(
    construct: str, *, port: int, cpu: int, memory_mib: int, environment: Mapping[str, str], secret_names: Sequence[str]
) -> None:
    """Raise ValidationError, naming `construct`, for a task Fargate would refuse or that would
    leak: a port outside 1-65535, a CPU/memory pair Fargate does not offer (`FARGATE_SIZES`), or
    a variable given both as plain environment and as a secret. The one place these rules live:
    `FargateService` and the service pattern (before it creates anything) both call it."""
    if not 1 <= port <= 65535:
        raise ValidationError(construct, "port", port, "is outside 1-65535")
    if cpu not in FARGATE_SIZES:
        raise ValidationError(construct, "cpu", cpu, f"is not a Fargate size; allowed are {sorted(FARGATE_SIZES)}")
    low, high, step = FARGATE_SIZES[cpu]
    if not (low <= memory_mib <= high and (memory_mib - low) % step == 0):
        raise ValidationError(
            construct,
            "memory_mib",
            memory_mib,
            f"does not fit cpu {cpu}; allowed are {low}-{high} MiB in steps of {step}",
        )
    clash = sorted(set(environment) & set(secret_names))
    if clash:
        raise ValidationError(construct, "environment", clash, "are given both as plain environment and as secrets")


@dataclass(frozen=True, kw_only=True)
class FargateServiceProps:
    """One Fargate service's task definition and service; names come in finished."""

    name: str
    """ECS service name; also the container name, so log streams read `<name>/<name>/<task>`."""
    family: str
    """Task definition family."""
    cluster_arn: str
    """The cluster the service runs in."""
    image: str
    """Image URI; pin by digest (`repo@sha256:…`) so a deploy runs exactly what was built."""
    port: int
    """Container port (1-65535), also the port mapping's host port (awsvpc)."""
    cpu: int
    """CPU units per task (1024 = 1 vCPU); one of `FARGATE_SIZES`."""
    memory_mib: int
    """Memory per task in MiB; a size `FARGATE_SIZES` allows for `cpu`."""
    environment: Mapping[str, str]
    """Non-secret container environment."""
    secrets: Mapping[str, str]
    """Env var name → Secrets Manager ARN; ECS resolves them at task start (ECS `secrets`)."""
    log_group_name: str
    """Log group of the awslogs driver (must exist)."""
    log_region: str
    """Region of that log group."""
    execution_role_arn: str
    """Role of the ECS agent (image pull, logs, secrets)."""
    task_role_arn: str
    """Role of the application."""
    subnet_ids: Sequence[str]
    """Private subnets of the tasks (no public IP is assigned)."""
    security_group_ids: Sequence[str]
    """Security groups of the tasks."""
    target_group_arn: str
    """IP target group the service registers its tasks with."""
    capacity_provider: str
    """`FARGATE` or `FARGATE_SPOT` (weight 1, the only provider of the strategy)."""
    desired_count: int
    """Initial task count only: later changes belong to autoscaling (ignore_changes)."""
    wait_for_steady_state: bool = False
    """Make `apply` wait until the new tasks are healthy (fails the deploy on a bad image)."""
    enable_execute_command: bool = False
    """ECS Exec: adds the agent's writable paths (EXEC_AGENT_PATHS)."""
    health_check_grace_period_seconds: int = 60
    """Time a new task gets before failing ALB health checks count against it."""
    health_check_command: Sequence[str] | None = None
    """Container health check (`["CMD", "/app/server", "--health"]`); None relies on the ALB's
    check, which is the only option for shell-less (distroless) images."""
    user: str = NON_ROOT_USER
    """`uid:gid` the container runs as (never root)."""
    depends_on: Sequence[Any] = field(default_factory=tuple)
    """E.g. the HTTPS listener: ECS rejects a target group that no load balancer uses yet."""


def container_definition(props: FargateServiceProps) -> dict[str, Any]:
    """The container definition as a plain dict (may hold tokens), ready for `Fn.jsonencode`."""
    mounts = [SCRATCH_VOLUME] + (list(EXEC_AGENT_PATHS.items()) if props.enable_execute_command else [])
    definition: dict[str, Any] = {
        "name": props.name,
        "image": props.image,
        "essential": True,
        "user": props.user,
        "readonlyRootFilesystem": True,
        "linuxParameters": {"initProcessEnabled": True},
        "portMappings": [{"containerPort": props.port, "hostPort": props.port, "protocol": "tcp", "name": "http"}],
        "environment": [{"name": k, "value": v} for k, v in sorted(props.environment.items())],
        "secrets": [{"name": k, "valueFrom": v} for k, v in sorted(props.secrets.items())],
        "mountPoints": [{"sourceVolume": volume, "containerPath": path, "readOnly": False} for volume, path in mounts],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": props.log_group_name,
                "awslogs-region": props.log_region,
                "awslogs-stream-prefix": props.name,
                "mode": "non-blocking",
                "max-buffer-size": "25m",
            },
        },
    }
    if props.health_check_command:
        definition["healthCheck"] = {
            "command": list(props.health_check_command),
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": props.health_check_grace_period_seconds,
        }
    return definition


class FargateService(Construct):
    """Task definition + service: private subnets, no public IP, circuit breaker with rollback."""

    def __init__(self, scope: Construct, construct_id: str, props: FargateServiceProps, provider: Any = None) -> None:
        self._validate(props)
        super().__init__(scope, construct_id)
        self._wait_for_steady_state = props.wait_for_steady_state
        self.task_definition = self._create_task_definition(props, provider)
        self.service = self._create_service(props, provider)

    @staticmethod
    def _validate(props: FargateServiceProps) -> None:
        """Refuse, before anything is created, a task Fargate would reject (`check_task`)."""
        check_task(
            f"service {props.name!r}",
            port=props.port,
            cpu=props.cpu,
            memory_mib=props.memory_mib,
            environment=props.environment,
            secret_names=list(props.secrets),
        )

    def _create_task_definition(self, props: FargateServiceProps, provider: Any) -> Any:
        """The arm64 Linux task definition: one container, a scratch volume (and ECS Exec's paths)."""
        volumes = [SCRATCH_VOLUME[0]] + (list(EXEC_AGENT_PATHS) if props.enable_execute_command else [])
        return _td.EcsTaskDefinition(
            self,
            "task",
            family=props.family,
            cpu=str(props.cpu),
            memory=str(props.memory_mib),
            network_mode="awsvpc",
            requires_compatibilities=["FARGATE"],
            runtime_platform=_td.EcsTaskDefinitionRuntimePlatform(
                cpu_architecture="ARM64", operating_system_family="LINUX"
            ),
            execution_role_arn=props.execution_role_arn,
            task_role_arn=props.task_role_arn,
            container_definitions=Token.as_string(Fn.jsonencode([container_definition(props)])),
            volume=[_td.EcsTaskDefinitionVolume(name=name) for name in volumes],
            provider=provider,
        )

    def _create_service(self, props: FargateServiceProps, provider: Any) -> Any:
        """The ECS service in private subnets behind the target group, rolled back by the circuit breaker."""
        return _svc.EcsService(
            self,
            "service",
            name=props.name,
            cluster=props.cluster_arn,
            task_definition=self.task_definition.arn,
            desired_count=props.desired_count,
            capacity_provider_strategy=[
                _svc.EcsServiceCapacityProviderStrategy(capacity_provider=props.capacity_provider, weight=1, base=0)
            ],
            platform_version="LATEST",
            network_configuration=_svc.EcsServiceNetworkConfiguration(
                subnets=list(props.subnet_ids), security_groups=list(props.security_group_ids), assign_public_ip=False
            ),
            load_balancer=[
                _svc.EcsServiceLoadBalancer(
                    target_group_arn=props.target_group_arn, container_name=props.name, container_port=props.port
                )
            ],
            deployment_circuit_breaker=_svc.EcsServiceDeploymentCircuitBreaker(enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=props.health_check_grace_period_seconds,
            enable_execute_command=props.enable_execute_command,
            wait_for_steady_state=props.wait_for_steady_state,
            # ECS only changes a live service's capacity-provider strategy (Spot <-> on-demand) with a
            # new deployment, and provider 6.x refuses that plan unless this is true
            # (hashicorp/terraform-provider-aws#43533); any in-place service update then rolls the tasks.
            force_new_deployment=True,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            lifecycle=TerraformResourceLifecycle(ignore_changes=["desired_count"], postcondition=self._rolled_out()),
            depends_on=list(props.depends_on) or None,
            provider=provider,
        )

    def _rolled_out(self) -> list[Any] | None:
        """With `wait_for_steady_state`, fail the apply when the deployment circuit breaker rolled
        the service back: the provider then reports success although the service runs the previous
        task definition (hashicorp/terraform-provider-aws#19519, #20858), so a failed rollout would
        otherwise look green. Without waiting, the service still shows the new task definition
        while it deploys, so there is nothing to check."""
        if not self._wait_for_steady_state:
            return None
        return [
            cdktf.Postcondition(
                condition=f"${{self.task_definition == {self.task_definition.fqn}.arn}}",
                error_message=(
                    "the deployment circuit breaker rolled the service back to its previous task definition: "
                    "the new tasks never became healthy (see the service's events and the task logs)"
                ),
            )
        ]

    @property
    def name(self) -> str:
        """The ECS service's name (a reference to the created service)."""
        return self.service.name

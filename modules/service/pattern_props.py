"""The props of the service pattern (`LoadBalancedFargateService`, modules/service/pattern.py):
what one service is made of, with the constructs it joins (cluster, network, load balancer) as
objects and its names finished."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping, Protocol, Sequence

from modules.service.cluster import FargateCluster
from modules.service.load_balancer import AlbSettings, SharedHttpsLoadBalancer
from modules.service.waf import RegionalWebAcl

SCALED_METRICS = ("cpu", "memory")
"""The metrics the pattern's autoscaling tracks (no request-count policy)."""


class ServiceNetwork(Protocol):
    """Where the tasks run: the network stack's outputs (`NetworkOutputs`) satisfy it as they are."""

    @property
    def vpc_id(self) -> str:
        """VPC of the target group."""

    @property
    def private_subnet_ids(self) -> Sequence[str]:
        """Private subnets of the tasks (no public IP is assigned)."""


@dataclass(frozen=True, kw_only=True)
class ContainerSecret:
    """One secret the container gets as an environment variable (ECS `secrets`), resolved by ECS
    at task start; the execution role may read exactly its ARN."""

    arn: str
    """Secrets Manager secret ARN (of a `secret_container`, or an `existing_secret`'s `.arn`)."""
    json_key: str | None = None
    """One member of a JSON secret (ECS `valueFrom` `<arn>:<json_key>::`); None: the whole value."""

    @property
    def value_from(self) -> str:
        """The ECS `secrets[].valueFrom` (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html)."""
        return f"{self.arn}:{self.json_key}::" if self.json_key else self.arn


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """How big each task is, how many run, and on what."""

    cpu: int
    """CPU units per task (1024 = 1 vCPU); one of `FARGATE_SIZES` (modules/service/fargate_service.py)."""
    memory_mib: int
    """Memory per task in MiB; must be a size Fargate offers for `cpu`."""
    min_tasks: int
    """Autoscaling floor and the service's initial desired count (later owned by autoscaling); ≥ 1."""
    max_tasks: int
    """Autoscaling ceiling; equal to `min_tasks` pins the count (the policies then never act)."""
    capacity_provider: Literal["FARGATE", "FARGATE_SPOT"] = "FARGATE"
    """Capacity provider of the service's strategy (Spot: up to 70 % cheaper, may be interrupted)."""
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
    settings: AlbSettings
    """The stage's ALB settings (subnets, security groups, protection, access-log bucket)."""
    access_logs_prefix: str = ""
    """This ALB's key prefix in `settings.access_logs_bucket`."""
    web_acl: RegionalWebAcl | None = None
    """A regional WAF web ACL to associate with the ALB; None: no WAF."""


@dataclass(frozen=True, kw_only=True)
class SharedLoadBalancerRoute:
    """The service is one host on a `SharedHttpsLoadBalancer`: the pattern adds its target group
    and host-header rule. The certificate, DNS names and WAF belong to whoever owns the shared ALB."""

    load_balancer: SharedHttpsLoadBalancer
    """The stage's shared ALB."""
    host: str
    """Requests whose `Host` header is exactly this name go to the service."""
    priority: int
    """Listener rule priority, 1-50000 and unique on the listener (lower is evaluated first)."""
    target_group_name: str
    """Target group name (≤ 32 characters); must differ from any group still in use."""


@dataclass(frozen=True, kw_only=True)
class LoadBalancedFargateServiceProps:
    """Everything one service needs: the constructs it joins (cluster, network, load balancer)
    as objects, and its names finished (the pattern invents none). The account and partition
    come from the stack (modules/account.py)."""

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
    secrets: Mapping[str, ContainerSecret] = field(default_factory=dict)
    """Env var → the secret ECS puts there; the execution role may read exactly these secrets."""
    secrets_kms_key_arns: Sequence[str] = ()
    """Customer-managed keys of those secrets (this stage's, and a template stage's for secrets a
    preview reads from there): the execution role may decrypt through Secrets Manager only
    (`kms:ViaService`). Empty: the secrets use the AWS-managed key."""
    capacity: Capacity
    """Task size and count."""
    cluster: FargateCluster
    """The cluster the service runs in; the service waits for its capacity providers."""
    network: ServiceNetwork
    """VPC and private subnets of the tasks (`NetworkOutputs`)."""
    security_group_ids: Sequence[str]
    """Security groups of the tasks."""
    load_balancer: DedicatedLoadBalancer | SharedLoadBalancerRoute
    """An own ALB (certificate, aliases, WAF association included) or a route on a shared one;
    with a shared ALB the alarms measure the service's target group."""
    health_check_path: str = "/"
    """Path of the target group's HTTP health check; must start with `/`."""
    log_group_name: str
    """Name of the service's log group."""
    log_retention_days: int
    """Days CloudWatch keeps the container logs."""
    log_kms_key_arn: str
    """Key that encrypts the log group."""
    region: str
    """Region of the log group (awslogs driver) and of the secrets (`kms:ViaService`)."""
    execution_role_name: str
    """IAM name of the execution role (ECS agent: image, logs, secrets)."""
    task_role_name: str
    """IAM name of the task role (the application)."""
    execute_command: ExecuteCommand | None = None
    """None: ECS Exec off and the task role has no permissions."""
    alarm_topic_arn: str
    """SNS topic for alarm and OK notifications."""
    alarm_names: Mapping[str, str]
    """Alarm key → physical alarm name, for every key the service's alarms use
    (`ServiceAlarms.keys()`: `target-5xx-rate`, `unhealthy-hosts`, `p99-latency`, and
    `alb-5xx-rate` with an own ALB); further keys are ignored."""
    alarm_label: str
    """Human name in alarm descriptions."""
    scaling_policy_names: Mapping[str, str]
    """Metric key → physical autoscaling policy name, for every metric the pattern tracks
    (`SCALED_METRICS`: `cpu`, `memory`); further keys are ignored."""
    label: str = ""
    """Human name in role descriptions; defaults to `name`."""

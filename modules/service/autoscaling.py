"""Target-tracking autoscaling of an ECS service's task count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from modules.cdk import Construct, aws
from modules.errors import ValidationError


_policy = aws.appautoscaling_policy
_TT = _policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration
_METRIC = _policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification


def check_task_range(construct: str, min_tasks: int, max_tasks: int) -> None:
    """Raise ValidationError, naming `construct`, unless 0 < `min_tasks` <= `max_tasks` (the one
    place this rule lives: `ServiceAutoscaling` and the service pattern both call it)."""
    if min_tasks <= 0:
        raise ValidationError(construct, "min_tasks", min_tasks, "must be at least 1")
    if min_tasks > max_tasks:
        raise ValidationError(construct, "min_tasks", min_tasks, f"must not exceed max_tasks ({max_tasks})")


@dataclass(frozen=True, kw_only=True)
class ServiceAutoscalingProps:
    """Target tracking of one ECS service's task count."""

    cluster_name: str
    """The service's ECS cluster."""
    service_name: str
    """The ECS service whose desired count is scaled."""
    policy_name: Callable[[str], str]
    """Physical name of the policy for a metric key (`cpu`, `memory`, `requests`); names belong to the caller."""
    min_tasks: int
    """Floor of the desired count (≥ 1)."""
    max_tasks: int
    """Ceiling of the desired count (≥ `min_tasks`)."""
    cpu_target_percent: float = 70
    """Average CPU utilisation the policy keeps the service at, in %."""
    memory_target_percent: float = 70
    """Average memory utilisation the policy keeps the service at, in %."""
    requests_per_target: int | None = None
    """When set, also track ALB requests per task (needs `request_count_resource_label`); None
    leaves request-driven scaling off (CPU reacts well enough for CPU-bound Bun servers)."""
    request_count_resource_label: str | None = None
    """`app/<alb>/<id>/targetgroup/<tg>/<id>`."""
    scale_in_cooldown_seconds: int = 300
    """Slow to give capacity back: avoids flapping on bursty LLM traffic."""
    scale_out_cooldown_seconds: int = 60
    """Quick to add capacity when traffic rises."""


METRIC_KEYS = ("cpu", "memory", "requests")
"""The metric keys `policy_name` is called with (`requests` only with `requests_per_target`)."""


class ServiceAutoscaling(Construct):
    """A scalable target (min/max) and one target-tracking policy per metric.

    The policies exist even when min == max (previews): then they never act, and the shape of
    every stage stays the same.
    """

    def __init__(
        self, scope: Construct, construct_id: str, props: ServiceAutoscalingProps, provider: Any = None
    ) -> None:
        check_task_range(f"autoscaling of {props.service_name!r}", props.min_tasks, props.max_tasks)
        if props.requests_per_target is not None and not props.request_count_resource_label:
            raise ValidationError(
                f"autoscaling of {props.service_name!r}",
                "request_count_resource_label",
                props.request_count_resource_label,
                "is required with requests_per_target",
            )
        super().__init__(scope, construct_id)
        self.target = aws.appautoscaling_target.AppautoscalingTarget(
            self,
            "target",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=f"service/{props.cluster_name}/{props.service_name}",
            min_capacity=props.min_tasks,
            max_capacity=props.max_tasks,
            provider=provider,
        )
        metrics: list[tuple[str, str, float, str | None]] = [
            ("cpu", "ECSServiceAverageCPUUtilization", props.cpu_target_percent, None),
            ("memory", "ECSServiceAverageMemoryUtilization", props.memory_target_percent, None),
        ]
        if props.requests_per_target is not None:
            metrics.append(
                ("requests", "ALBRequestCountPerTarget", props.requests_per_target, props.request_count_resource_label)
            )
        self.policies = {
            key: _policy.AppautoscalingPolicy(
                self,
                key,
                name=props.policy_name(key),
                policy_type="TargetTrackingScaling",
                service_namespace=self.target.service_namespace,
                scalable_dimension=self.target.scalable_dimension,
                resource_id=self.target.resource_id,
                target_tracking_scaling_policy_configuration=_TT(
                    target_value=target,
                    predefined_metric_specification=_METRIC(predefined_metric_type=metric, resource_label=label),
                    scale_in_cooldown=props.scale_in_cooldown_seconds,
                    scale_out_cooldown=props.scale_out_cooldown_seconds,
                ),
                provider=provider,
            )
            for key, metric, target, label in metrics
        }

"""Target-tracking autoscaling of an ECS service's task count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from modules.cdk import Construct, aws


_policy = aws.appautoscaling_policy
_TT = _policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfiguration
_METRIC = _policy.AppautoscalingPolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecification


@dataclass(frozen=True, kw_only=True)
class ServiceAutoscalingProps:
    cluster_name: str
    service_name: str
    policy_name: Callable[[str], str]
    """Physical name of the policy for a metric key (`cpu`, `memory`, `requests`); names belong to the caller."""
    min_tasks: int
    max_tasks: int
    cpu_target_percent: float = 70
    memory_target_percent: float = 70
    requests_per_target: int | None = None
    """When set, also track ALB requests per task (needs `request_count_resource_label`); None
    leaves request-driven scaling off (CPU reacts well enough for CPU-bound Bun servers)."""
    request_count_resource_label: str | None = None
    """`app/<alb>/<id>/targetgroup/<tg>/<id>`."""
    scale_in_cooldown_seconds: int = 300
    """Slow to give capacity back: avoids flapping on bursty LLM traffic."""
    scale_out_cooldown_seconds: int = 60


class ServiceAutoscaling(Construct):
    """A scalable target (min/max) and one target-tracking policy per metric.

    The policies exist even when min == max (previews): then they never act, and the shape of
    every stage stays the same.
    """

    def __init__(self, scope: Construct, construct_id: str, props: ServiceAutoscalingProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        if not 0 < props.min_tasks <= props.max_tasks:
            raise ValueError(f"autoscaling needs 0 < min ({props.min_tasks}) <= max ({props.max_tasks})")
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
            if not props.request_count_resource_label:
                raise ValueError("requests_per_target needs request_count_resource_label")
            metrics.append(("requests", "ALBRequestCountPerTarget", props.requests_per_target, props.request_count_resource_label))
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

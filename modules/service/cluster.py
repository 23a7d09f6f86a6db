"""An ECS cluster with the Fargate capacity providers and encrypted ECS Exec logging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, aws


_cluster = aws.ecs_cluster
_providers = aws.ecs_cluster_capacity_providers

FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


@dataclass(frozen=True, kw_only=True)
class FargateClusterProps:
    """One ECS cluster for Fargate tasks."""

    name: str
    """Cluster name (≤ 255 characters)."""
    default_capacity_provider: str
    """`FARGATE` or `FARGATE_SPOT`: used by tasks that name no strategy of their own."""
    container_insights: bool
    """`enabled` (per-task metrics, billed as custom metrics) or `disabled`."""
    kms_key_arn: str
    """Encrypts ECS Exec session data and its log group."""
    exec_log_group_name: str | None = None
    """When set, ECS Exec sessions are logged (`logging = "OVERRIDE"`, encrypted) to this existing
    log group; None keeps the cluster's default, which is right when nobody may exec at all.
    Logging only works when the containers' images have `script` and `cat` (the SSM agent runs
    them in the container: ECS developer guide, "Logging and auditing using ECS Exec";
    aws/amazon-ssm-agent#653), hence the `debug` Dockerfile stage for exec-enabled stages."""


class FargateCluster(Construct):
    """One cluster for all services of a stage: capacity providers are cluster-wide settings."""

    def __init__(self, scope: Construct, construct_id: str, props: FargateClusterProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        configuration = None
        if props.exec_log_group_name:
            configuration = _cluster.EcsClusterConfiguration(
                execute_command_configuration=_cluster.EcsClusterConfigurationExecuteCommandConfiguration(
                    kms_key_id=props.kms_key_arn,
                    logging="OVERRIDE",
                    log_configuration=_cluster.EcsClusterConfigurationExecuteCommandConfigurationLogConfiguration(
                        cloud_watch_log_group_name=props.exec_log_group_name,
                        cloud_watch_encryption_enabled=True,
                    ),
                )
            )
        self.cluster = _cluster.EcsCluster(
            self,
            "cluster",
            name=props.name,
            setting=[
                _cluster.EcsClusterSetting(
                    name="containerInsights", value="enabled" if props.container_insights else "disabled"
                )
            ],
            configuration=configuration,
            provider=provider,
        )
        self.capacity_providers = _providers.EcsClusterCapacityProviders(
            self,
            "capacity_providers",
            cluster_name=self.cluster.name,
            capacity_providers=list(FARGATE_PROVIDERS),
            default_capacity_provider_strategy=[
                _providers.EcsClusterCapacityProvidersDefaultCapacityProviderStrategy(
                    capacity_provider=props.default_capacity_provider, weight=1, base=0
                )
            ],
            provider=provider,
        )

    @property
    def arn(self) -> str:
        """The cluster's ARN (services' `cluster`)."""
        return self.cluster.arn

    @property
    def name(self) -> str:
        """The cluster's name (autoscaling resource ids, metric dimensions)."""
        return self.cluster.name

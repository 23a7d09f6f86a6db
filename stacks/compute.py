"""The per-stage `compute` stack: ECS cluster, API and Gateway services behind HTTPS ALBs."""

from __future__ import annotations

from constructs import Construct

from modules.cdk import aws
from stacks.base import HeboStack
from stacks.data import DataOutputs
from stacks.dns import DnsOutputs
from stacks.network import NetworkOutputs
from stacks.settings import Settings


class ComputeStack(HeboStack):
    stack_name = "compute"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs, data: DataOutputs, dns: DnsOutputs) -> None:
        super().__init__(scope, settings)
        aws.ecs_cluster.EcsCluster(self, "cluster", name=self.names.ecs_cluster())

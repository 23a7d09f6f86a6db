"""The per-stage `edge` stack: the Console static site on S3 + CloudFront."""

from __future__ import annotations

from constructs import Construct

from stacks.base import HeboStack
from stacks.dns import DnsOutputs
from stacks.settings import Settings


class EdgeStack(HeboStack):
    stack_name = "edge"

    def __init__(self, scope: Construct, settings: Settings, dns: DnsOutputs) -> None:
        super().__init__(scope, settings)

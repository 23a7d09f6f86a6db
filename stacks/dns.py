"""The account-wide `dns` stack: the public hosted zone every stage's domains live in."""

from __future__ import annotations

from dataclasses import dataclass

from constructs import Construct

from modules.cdk import TerraformResourceLifecycle, aws
from stacks.base import HeboStack
from stacks.settings import Settings


@dataclass(frozen=True)
class DnsOutputs:
    zone_id: str
    zone_name: str


class DnsStack(HeboStack):
    """Creates the zone, or adopts an existing one with an `import` block (HEBO_ZONE_ID)."""

    stack_name = "dns"
    account_wide = True

    def __init__(self, scope: Construct, settings: Settings) -> None:
        super().__init__(scope, settings)
        zone = aws.route53_zone.Route53Zone(
            self,
            "zone",
            name=settings.zone,
            comment=f"{settings.app} platform (managed by hebo-infra; never deleted)",
            force_destroy=False,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True),
        )
        if settings.zone_id:
            zone.import_from(settings.zone_id)
        self.zone = zone
        self.outputs = DnsOutputs(zone_id=zone.zone_id, zone_name=settings.zone)
        self.output("zone_id", zone.zone_id, "Route 53 hosted zone id")
        self.output("name_servers", zone.name_servers, "Delegate the domain to these name servers")

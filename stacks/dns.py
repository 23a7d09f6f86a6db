"""The account-wide `dns` stack: the public hosted zone every stage's domains live in."""

from __future__ import annotations

from dataclasses import dataclass

from modules.cdk import Construct, TerraformResourceLifecycle, aws

from typing import Any

from modules.dnssec import ZoneSigning, ZoneSigningProps
from stacks.base import HeboStack
from config.settings import Settings


AMAZON_CAA_ISSUERS = ("amazon.com", "amazontrust.com", "awstrust.com", "amazonaws.com")
"""The CAA identities ACM documents; any of them may appear on an Amazon-issued certificate."""


@dataclass(frozen=True)
class DnsOutputs:
    """The account-wide hosted zone, for whoever needs it by reference."""

    zone_id: str
    """Route 53 hosted zone id (`Z…`)."""
    zone_name: str
    """The zone's domain, HEBO_ZONE."""


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
        if settings.enable_caa:
            self._caa_records(zone)
        if settings.enable_dnssec:
            signing = ZoneSigning(
                self,
                "dnssec",
                ZoneSigningProps(
                    zone_id=zone.zone_id,
                    key_signing_key_name=self.names.dnssec_key_signing_key(),
                    key_alias=self.names.dnssec_key_alias(),
                ),
                us_east_1_provider=self.us_east_1_provider(),
            )
            self.output(
                "dnssec_ds_record", signing.ds_record, "Publish this DS record at the registrar to complete DNSSEC"
            )

    def _caa_records(self, zone: Any) -> None:
        """Only Amazon (ACM) — plus any HEBO_CAA_EXTRA_ISSUERS — may issue for the zone and every
        name below it; wildcard issuance follows the same list (no `issuewild` record)."""
        issuers = [*AMAZON_CAA_ISSUERS, *self.settings.caa_extra_issuers]
        records = [f'0 issue "{issuer}"' for issuer in issuers]
        if self.settings.caa_iodef:
            records.append(f'0 iodef "{self.settings.caa_iodef}"')
        aws.route53_record.Route53Record(
            self, "caa", zone_id=zone.zone_id, name=self.settings.zone, type="CAA", ttl=3600, records=records
        )

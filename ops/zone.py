"""`ops zone`: find the existing public hosted zone the `dns` stack should adopt.

The dns stack creates the zone when HEBO_ZONE_ID is unset and imports it (cdktf `import_from`)
when set. Creating a second zone of the same name would split the domain's records across
two sets of name servers, so this command refuses to guess when the answer is not unique.
"""

from __future__ import annotations

from typing import Any, TextIO

import boto3

from ops.aws import OpsError, UsageError, client


def normalise(name: str) -> str:
    """Lowercase, without the trailing dot Route 53 adds to every zone name."""
    return name.strip().rstrip(".").lower()


def public_zone_ids(route53: Any, name: str) -> list[str]:
    """Ids (without the `/hostedzone/` prefix) of public zones named exactly `name`."""
    wanted = normalise(name)
    ids: list[str] = []
    for page in route53.get_paginator("list_hosted_zones").paginate():
        for zone in page["HostedZones"]:
            if normalise(zone["Name"]) == wanted and not zone.get("Config", {}).get("PrivateZone", False):
                ids.append(zone["Id"].removeprefix("/hostedzone/"))
    return sorted(ids)


def run(session: boto3.Session, name: str, out: TextIO) -> int:
    """Print `HEBO_ZONE_ID=…` for exactly one match; otherwise explain and fail (exit 1)."""
    zone = normalise(name)
    if not zone or " " in zone:
        raise UsageError(f"invalid --name {name!r}: must be a domain name such as hebo.ai")
    ids = public_zone_ids(client(session, "route53", "us-east-1"), zone)
    if not ids:
        raise OpsError(f"no public hosted zone named {zone}: the dns stack will create it (leave HEBO_ZONE_ID unset)")
    if len(ids) > 1:
        raise OpsError(
            f"{len(ids)} public hosted zones named {zone} ({', '.join(ids)}): set HEBO_ZONE_ID to the one "
            "whose name servers the registrar uses (aws route53 get-hosted-zone --id ID), and delete the others"
        )
    print(f"HEBO_ZONE_ID={ids[0]}", file=out)
    return 0

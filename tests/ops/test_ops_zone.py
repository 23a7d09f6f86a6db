"""`ops zone` against the moto server: exactly one public zone, or a clear refusal."""

from __future__ import annotations

import uuid

import boto3


def _zone(name: str, private: bool = False) -> str:
    kwargs = {"Name": name, "CallerReference": str(uuid.uuid4())}
    if private:
        kwargs |= {
            "HostedZoneConfig": {"PrivateZone": True},
            "VPC": {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"},
        }
    zone_id = boto3.client("route53").create_hosted_zone(**kwargs)["HostedZone"]["Id"]
    return zone_id.removeprefix("/hostedzone/")


def test_finds_the_one_public_zone_ignoring_private_and_lookalikes(run):
    public = _zone("hebo.ai.")
    _zone("hebo.ai", private=True)
    _zone("dev.hebo.ai")
    _zone("hebo.ai.example.com")
    for argv in ([], ["--name", "hebo.ai"], ["--name", "HEBO.AI."]):
        result = run("zone", *argv)
        assert (result.code, result.out, result.err) == (0, f"HEBO_ZONE_ID={public}\n", "")


def test_name_from_env(run, monkeypatch):
    zone_id = _zone("example.org")
    monkeypatch.setenv("HEBO_ZONE", "example.org")
    assert run("zone").out == f"HEBO_ZONE_ID={zone_id}\n"


def test_absent_zone_means_the_dns_stack_creates_it(run):
    _zone("hebo.ai", private=True)  # a private zone of that name does not count
    result = run("zone", "--name", "hebo.ai")
    assert result.code == 1
    assert (
        result.err
        == "ops: no public hosted zone named hebo.ai: the dns stack will create it (leave HEBO_ZONE_ID unset)\n"
    )
    assert result.out == ""


def test_duplicate_public_zones_are_refused_with_their_ids(run):
    ids = sorted([_zone("hebo.ai"), _zone("hebo.ai.")])
    result = run("zone", "--name", "hebo.ai")
    assert result.code == 1 and result.out == ""
    assert result.err.startswith(
        f"ops: 2 public hosted zones named hebo.ai ({ids[0]}, {ids[1]}): set HEBO_ZONE_ID to the one"
    )
    assert result.err.count("\n") == 1

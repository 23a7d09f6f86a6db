"""Production's five stacks planned on their own moto server as configured (global cluster, second
region, RDS Proxy, WAF, DNSSEC): dns, network and data applied, compute and edge planned with their
real remote state (tools/lifecycle.py `plan_production`; docs/terraform-checks.md). The emulator
loses the first answer of every request with a client token, so each such create of production's
applies is retried as after a lost answer (tools/emulator_idempotency.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest

from tools.lifecycle import ProductionRun, plan_production
from tools.moto_emulator import MotoServer


@pytest.fixture(scope="module")
def production(tf_root: Path, tf_report) -> Iterator[ProductionRun]:
    with MotoServer(lose_first_answers=True) as server:
        run = plan_production(tf_root / "production-plan", server, log=lambda _: None)
    tf_report("production plan: " + ", ".join(f"{k} {v:.0f} s" for k, v in run.summary()["phase_seconds"].items()))
    yield run


@pytest.mark.slow
def test_production_plans_all_five_stacks(production: ProductionRun) -> None:
    assert production.applied == ["dns", "network", "data"]
    assert list(production.plans) == ["dns", "network", "data", "compute", "edge"]
    for stack, summary in production.plans.items():
        assert summary.count("update") == Counter() and summary.count("delete") == Counter(), stack
    # dns was applied unsigned (moto has no DNSSEC API): the plan as configured adds exactly the signing
    assert production.plans["dns"].count("create") == {
        "aws_kms_key": 1,
        "aws_kms_alias": 1,
        "aws_route53_key_signing_key": 1,
        "aws_route53_hosted_zone_dnssec": 1,
    }
    network, data, compute, edge = (production.plans[s].count("create") for s in ("network", "data", "compute", "edge"))
    assert (network["aws_vpc"], network["aws_subnet"], network["aws_instance"]) == (
        2,
        6,
        2,
    )  # two regions: us-east-1 and us-west-2
    assert (data["aws_rds_global_cluster"], data["aws_rds_cluster"], data["aws_rds_cluster_instance"]) == (1, 2, 3)
    assert (data["aws_db_proxy"], data["aws_db_proxy_target"], data["aws_secretsmanager_secret"]) == (1, 1, 9)
    assert (compute["aws_wafv2_web_acl"], compute["aws_wafv2_web_acl_association"], compute["aws_lb"]) == (1, 2, 2)
    assert (edge["aws_cloudfront_distribution"], edge["aws_s3_object"]) == (1, 2)
    # every create was retried after a lost first answer, in both regions: by its client token,
    # or (no token: the connection closed) by the SDK's invocation id
    assert {"ec2 CreateFlowLogs", "ec2 RunInstances", "secretsmanager CreateSecret"} <= set(production.lost_answers)
    assert {"ec2 AuthorizeSecurityGroupEgress", "ec2 CreateVpc", "kms CreateKey"} <= set(production.lost_answers)
    assert production.lost_answers.count("ec2 CreateFlowLogs") == network["aws_flow_log"]

"""bench/cost.py: the idle-cost estimator, checked against a stack priced by hand."""

from __future__ import annotations

import pytest

from bench.cost import PRICED_TYPES, README, estimate, markdown_table, readme_block, stack_line_items, unclassified
from synth_support import Synth

# A small hand-written stack (the shape cdktf synthesizes), one of each priced kind.
TINY = {
    "resource": {
        "aws_lb": {
            "web": {
                "load_balancer_type": "application",
                "internal": False,
                "ip_address_type": "dualstack",
                "subnets": ["subnet-a", "subnet-b"],
            }
        },
        "aws_eip": {"nat": {"domain": "vpc"}},
        "aws_instance": {
            "nat": {"instance_type": "t4g.nano", "root_block_device": {"volume_size": 10, "volume_type": "gp3"}},
            "bastion": {"instance_type": "t4g.nano", "root_block_device": {"volume_size": 8, "volume_type": "gp3"}},
        },
        "aws_ec2_instance_state": {"bastion": {"instance_id": "${aws_instance.bastion.id}", "state": "stopped"}},
        "aws_ecs_task_definition": {
            "api": {
                "cpu": "512",
                "memory": "1024",
                "runtime_platform": {"cpu_architecture": "ARM64", "operating_system_family": "LINUX"},
            }
        },
        "aws_ecs_service": {
            "api": {
                "task_definition": "${aws_ecs_task_definition.api.arn}",
                "desired_count": 2,
                "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}],
            }
        },
        "aws_kms_key": {"key": {}},
        "aws_secretsmanager_secret": {"a": {}, "b": {}},
        "aws_cloudwatch_metric_alarm": {"errors": {}},
        "aws_rds_cluster": {"db": {"serverlessv2_scaling_configuration": {"min_capacity": 0.5, "max_capacity": 4}}},
        "aws_rds_cluster_instance": {
            "writer": {"instance_class": "db.serverless", "cluster_identifier": "${aws_rds_cluster.db.id}"}
        },
        "aws_db_proxy": {"proxy": {"engine_family": "POSTGRESQL"}},
        "aws_wafv2_web_acl": {"acl": {"rule": [{"name": "rate"}, {"name": "managed"}]}},
        "aws_vpc": {"main": {}},
    }
}
DNS = {"resource": {"aws_route53_zone": {"zone": {"name": "example.com"}}}}


def test_estimate_of_a_hand_priced_stack() -> None:
    # Worked by hand at the list prices, 730 h a month:
    #   ALB            0.0225 * 730                          = 16.425
    #   its IPv4       2 AZ * 0.005 * 730                    =  7.30
    #   EIP            0.005 * 730                           =  3.65
    #   NAT instance   t4g.nano 0.0042 * 730                 =  3.066
    #   its volume     10 GB * 0.08                          =  0.80
    #   bastion        declared stopped: no instance-hours   =  0
    #   its volume     8 GB * 0.08                           =  0.64
    #   Fargate Spot   per task 0.5 vCPU * 0.03238 * 730 = 11.8187 + 1 GB * 0.00356 * 730 = 2.5988
    #                  = 14.4175, * (1 - 0.70) = 4.32525, * 2 tasks                  =  8.6505
    #   KMS key        1.00; 2 secrets 2 * 0.40 = 0.80; 1 alarm 0.10                 =  1.90
    #   Aurora writer  0.5 ACU * 0.12 * 730                  = 43.80
    #   RDS Proxy      8 ACU minimum * 0.015 * 730           = 87.60
    #   WAF            5.00 + 2 rules * 1.00                 =  7.00
    #   sum: 16.425 + 7.30 + 3.65 + 3.066 + 0.80 + 0.64 + 8.6505 + 1.90 + 43.80 + 87.60 + 7.00 = 180.8315
    #   The hosted zone (0.50) is account-wide: shown, not in the stage total.
    result = estimate({"network": TINY, "dns": DNS})
    assert result.total == pytest.approx(180.8315, abs=1e-6)
    assert [(i.category, round(i.usd_per_month, 6)) for i in result.account_wide] == [("Route 53 hosted zone", 0.5)]
    assert result.by_category()["EC2 (stopped: volume only)"] == 0.0
    assert result.by_category()["EC2"] == pytest.approx(3.066)
    assert result.by_category()["public IPv4"] == pytest.approx(10.95)


def test_a_running_bastion_costs_its_hours() -> None:
    # Without the stopped state the bastion adds t4g.nano * 730 = 3.066.
    running = {"resource": {**TINY["resource"], "aws_ec2_instance_state": {}}}
    assert estimate({"network": running}).total == pytest.approx(180.8315 + 3.066, abs=1e-6)


def test_an_unpriced_instance_type_is_an_error_not_zero() -> None:
    stack = {
        "resource": {"aws_instance": {"big": {"instance_type": "m7g.large", "root_block_device": {"volume_size": 8}}}}
    }
    with pytest.raises(ValueError, match=r"aws_instance\.big: no price for instance type 'm7g.large'"):
        stack_line_items("network", stack)


def test_every_synthesized_resource_type_is_classified(any_stage: Synth) -> None:
    """A new resource type must be priced, or listed as free or usage-priced, before it ships."""
    assert unclassified(any_stage.stacks) == set()
    priced = {t for config in any_stage.stacks.values() for t in config.get("resource", {})} & PRICED_TYPES
    assert priced, "no priced resource type in the stage: the check above would prove nothing"


def test_readme_idle_cost_table_is_current(production: Synth, preview: Synth, dev: Synth) -> None:
    current = markdown_table({s.stage: estimate(s.stacks) for s in (production, preview, dev)})
    assert readme_block(README.read_text()) == current, (
        "README idle-cost table is stale: regenerate with `pipenv run python bench/cost.py --write-readme`"
    )


PREVIEW_CEILING_USD = 40.0
"""Issue #19: what an idle preview may cost a team per month."""


def test_idle_preview_costs_at_most_40_dollars_a_month(preview: Synth) -> None:
    """The bench prints the figure; this guards the ceiling on the synthesized preview."""
    result = estimate(preview.stacks)
    largest = sorted(result.by_category().items(), key=lambda kv: -kv[1])[:4]
    assert result.total <= PREVIEW_CEILING_USD, (
        f"idle {preview.stage} costs ${result.total:.2f}/month > ${PREVIEW_CEILING_USD:.0f}; largest: "
        + ", ".join(f"{c} {v:.2f}" for c, v in largest)
    )

#!/usr/bin/env python
"""Idle monthly cost of a stage, estimated from its synthesized Terraform JSON.

This is an **estimate, not a bill**. It prices what a stage costs while nobody uses it: the
resources that bill by the hour or by the month just for existing, at us-east-1 on-demand list
prices (table `PRICES`, read on `PRICES_AS_OF`), over `HOURS_PER_MONTH` = 730 hours. It leaves
out everything that depends on use:

- traffic: ALB LCUs, NAT gateway and interface-endpoint GB processed, WAF and API requests,
  KMS and Secrets Manager API calls, CloudFront requests and transfer;
- data transfer of any kind (internet egress, cross-AZ, cross-region replication);
- storage and its growth: Aurora storage, I/O and backups, S3 objects, ECR images, CloudWatch
  Logs ingestion and storage, EBS snapshots;
- Aurora above its minimum capacity (it prices every serverless v2 instance at its cluster's
  minimum ACU: 0 ACU means paused, storage only), Lambda invocations, the first-year free tier,
  taxes, Savings Plans and credits;
- KMS rotation: each yearly rotation adds $1/month per key for its first two rotations
  (https://aws.amazon.com/kms/pricing/); a new stage has none.

Resource types outside `PRICED_TYPES` either cost nothing while idle (VPCs, subnets, security
groups, IAM, log groups, target groups, …) or only with use (`USAGE_PRICED_TYPES`);
`unclassified()` names any type that is in neither list, and a test keeps that list empty.

Run it (from the repository root):

    pipenv run python bench/cost.py                       # production, pr-42 and dev side by side
    pipenv run python bench/cost.py --stage pr-7 --stage dev
    pipenv run python bench/cost.py --write-readme          # refresh the README's table (tests check it)

The functions (`estimate`, `PRICES`, …) are importable (`from bench.cost import estimate`);
`estimate` takes the parsed `cdk.tf.json` of each stack and never synthesizes anything itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent

HOURS_PER_MONTH = 730
"""AWS's own monthly convention (pricing pages and the Pricing Calculator)."""

PRICES_AS_OF = "2026-11-30"
"""The day the list prices below were read."""

ACCOUNT_WIDE_STACKS = frozenset({"dns"})
"""Stacks shared by every stage (one hosted zone per account): shown, never added to a stage."""


@dataclass(frozen=True)
class Price:
    """One list price: `usd` per `unit`, and the page it comes from."""

    usd: float
    unit: str
    source: str


_ELB = "https://aws.amazon.com/elasticloadbalancing/pricing/"
_VPC = "https://aws.amazon.com/vpc/pricing/"
_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_AURORA = "https://aws.amazon.com/rds/aurora/pricing/"

PRICES: dict[str, Price] = {
    "alb": Price(0.0225, "USD per ALB-hour", _ELB),
    "public_ipv4": Price(
        0.005,
        "USD per public IPv4 address-hour (in use or idle, EIP or auto-assigned)",
        "https://aws.amazon.com/vpc/pricing/ (Public IPv4 Address tab); "
        "https://aws.amazon.com/blogs/aws/new-aws-public-ipv4-address-charge-public-ip-insights/",
    ),
    "ec2:t4g.nano": Price(0.0042, "USD per instance-hour, Linux on-demand", _EC2),
    "ec2:t4g.micro": Price(0.0084, "USD per instance-hour, Linux on-demand", _EC2),
    "ec2:t4g.small": Price(0.0168, "USD per instance-hour, Linux on-demand", _EC2),
    "ebs_gp3": Price(
        0.08,
        "USD per GB-month of provisioned gp3 (baseline 3000 IOPS / 125 MB/s included)",
        "https://aws.amazon.com/ebs/pricing/",
    ),
    "nat_gateway": Price(0.045, "USD per NAT gateway-hour", _VPC),
    "interface_endpoint": Price(
        0.01, "USD per interface endpoint-hour per AZ", "https://aws.amazon.com/privatelink/pricing/"
    ),
    "fargate_vcpu:ARM64": Price(0.03238, "USD per vCPU-hour, Linux/ARM", _FARGATE),
    "fargate_gb:ARM64": Price(0.00356, "USD per GB-hour, Linux/ARM", _FARGATE),
    "fargate_vcpu:X86_64": Price(0.04048, "USD per vCPU-hour, Linux/x86", _FARGATE),
    "fargate_gb:X86_64": Price(0.004445, "USD per GB-hour, Linux/x86", _FARGATE),
    "fargate_spot_discount": Price(
        0.70,
        "fraction off the Fargate price (AWS: 'up to 70%'; the Spot price moves)",
        _FARGATE + " (Fargate Spot); ARM64 on Spot since 2024-09: "
        "https://aws.amazon.com/about-aws/whats-new/2024/09/amazon-ecs-graviton-based-spot-compute-fargate/",
    ),
    "kms_key": Price(1.00, "USD per customer managed key-month", "https://aws.amazon.com/kms/pricing/"),
    "secret": Price(0.40, "USD per secret-month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "alarm": Price(
        0.10, "USD per standard-resolution metric alarm-month", "https://aws.amazon.com/cloudwatch/pricing/"
    ),
    "aurora_acu": Price(0.12, "USD per Aurora Serverless v2 ACU-hour (Aurora Standard)", _AURORA),
    "rds_proxy_acu": Price(
        0.015, "USD per ACU-hour of RDS Proxy on Aurora Serverless v2", "https://aws.amazon.com/rds/proxy/pricing/"
    ),
    "rds_proxy_min_acu": Price(
        8,
        "ACU: the minimum RDS Proxy bills for an Aurora Serverless v2 target",
        "https://aws.amazon.com/rds/proxy/pricing/",
    ),
    "waf_web_acl": Price(5.00, "USD per web ACL-month", "https://aws.amazon.com/waf/pricing/"),
    "waf_rule": Price(
        1.00, "USD per rule-month (a managed rule group counts as one rule)", "https://aws.amazon.com/waf/pricing/"
    ),
    "route53_zone": Price(
        0.50, "USD per hosted zone-month (first 25 zones)", "https://aws.amazon.com/route53/pricing/"
    ),
}

PRICED_TYPES = frozenset(
    {
        "aws_lb",
        "aws_eip",
        "aws_instance",
        "aws_ec2_instance_state",
        "aws_nat_gateway",
        "aws_vpc_endpoint",
        "aws_ecs_service",
        "aws_kms_key",
        "aws_secretsmanager_secret",
        "aws_cloudwatch_metric_alarm",
        "aws_rds_cluster_instance",
        "aws_db_proxy",
        "aws_wafv2_web_acl",
        "aws_route53_zone",
    }
)
USAGE_PRICED_TYPES = frozenset(
    {
        # billed only with use (requests, GB, storage), or free: not part of the idle figure
        "aws_s3_bucket",
        "aws_s3_object",
        "aws_ecr_repository",
        "aws_cloudwatch_log_group",
        "aws_lambda_function",
        "aws_lambda_invocation",
        "aws_cloudfront_distribution",
        "aws_cloudfront_function",
        "aws_rds_cluster",
        "aws_rds_global_cluster",
        "aws_sns_topic",
        "aws_sns_topic_subscription",
        "aws_flow_log",
        "aws_route53_record",
        "aws_wafv2_web_acl_logging_configuration",
        "aws_acm_certificate",
        "docker_registry_image",
        "docker_image",
    }
)
_FREE_PREFIXES = (
    "aws_vpc",
    "aws_subnet",
    "aws_route",
    "aws_internet_gateway",
    "aws_default_",
    "aws_security_group",
    "aws_iam_",
    "aws_kms_alias",
    "aws_acm_certificate_validation",
    "aws_appautoscaling_",
    "aws_lb_",
    "aws_ecs_cluster",
    "aws_ecs_task_definition",
    "aws_ecr_lifecycle_policy",
    "aws_s3_bucket_",
    "aws_db_",
    "aws_rds_cluster_parameter_group",
    "aws_eip_association",
    "aws_cloudfront_",
    "aws_wafv2_web_acl_association",
    "aws_route53_key_signing_key",
    "aws_route53_hosted_zone_dnssec",
    "aws_secretsmanager_secret_",
    "terraform_data",
    "aws_network_interface",
)


@dataclass(frozen=True)
class LineItem:
    """One priced resource: `category` groups alike items across stages, `detail` says how."""

    stack: str
    category: str
    detail: str
    usd_per_month: float


def _ref_name(value: Any, resource_type: str) -> str | None:
    """`${aws_x.NAME.attr}` -> NAME when it points at `resource_type` in the same stack."""
    match = re.fullmatch(r"\$\{" + re.escape(resource_type) + r"\.([^.}]+)\.[^}]+\}", str(value))
    return match.group(1) if match else None


def _block(value: Any) -> dict[str, Any]:
    """cdktf writes single nested blocks as an object, Terraform JSON allows a one-item list."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value or {}


def _hours(price: str, count: float = 1) -> float:
    return PRICES[price].usd * count * HOURS_PER_MONTH


def _stopped_instances(resources: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {
        name
        for state in resources.get("aws_ec2_instance_state", {}).values()
        if state.get("state") == "stopped" and (name := _ref_name(state.get("instance_id"), "aws_instance"))
    }


def stack_line_items(stack: str, config: Mapping[str, Any]) -> list[LineItem]:
    """The priced resources of one synthesized stack (its parsed `cdk.tf.json`).

    Raises ValueError for a priced resource the table cannot price (an EC2 instance type or a
    Fargate architecture without a price), so a new size never silently counts as $0.
    """
    resources: Mapping[str, Mapping[str, Any]] = config.get("resource", {})
    items: list[LineItem] = []

    def add(category: str, detail: str, usd: float) -> None:
        items.append(LineItem(stack, category, detail, usd))

    for name, lb in resources.get("aws_lb", {}).items():
        if lb.get("load_balancer_type", "application") != "application":
            raise ValueError(f"{stack}: aws_lb.{name}: only application load balancers are priced")
        add("ALB", f"{name}: 1 ALB x {HOURS_PER_MONTH} h", _hours("alb"))
        if not lb.get("internal") and lb.get("ip_address_type") != "dualstack-without-public-ipv4":
            azs = len(lb.get("subnets") or lb.get("subnet_mapping") or [])
            add("public IPv4", f"{name}: one address per AZ node x {azs}", _hours("public_ipv4", azs))
    for name in resources.get("aws_eip", {}):
        add("public IPv4", f"{name}: Elastic IP", _hours("public_ipv4"))
    stopped = _stopped_instances(resources)
    for name, instance in resources.get("aws_instance", {}).items():
        instance_type = instance.get("instance_type")
        if f"ec2:{instance_type}" not in PRICES:
            raise ValueError(f"{stack}: aws_instance.{name}: no price for instance type {instance_type!r}")
        if name in stopped:
            add("EC2 (stopped: volume only)", f"{name}: {instance_type} declared stopped", 0.0)
        else:
            add("EC2", f"{name}: {instance_type} x {HOURS_PER_MONTH} h", _hours(f"ec2:{instance_type}"))
        if instance.get("associate_public_ip_address"):
            add("public IPv4", f"{name}: auto-assigned address", _hours("public_ipv4"))
        root = _block(instance.get("root_block_device"))
        if root.get("volume_type", "gp3") != "gp3" or "volume_size" not in root:
            raise ValueError(f"{stack}: aws_instance.{name}: only an explicit gp3 root volume is priced")
        add("EBS gp3", f"{name}: {root['volume_size']} GB root volume", PRICES["ebs_gp3"].usd * root["volume_size"])
    for name in resources.get("aws_nat_gateway", {}):
        add("NAT gateway", f"{name}: 1 x {HOURS_PER_MONTH} h", _hours("nat_gateway"))
    for name, endpoint in resources.get("aws_vpc_endpoint", {}).items():
        if endpoint.get("vpc_endpoint_type") == "Interface":
            azs = len(endpoint.get("subnet_ids") or [])
            add("interface endpoints", f"{name}: {azs} AZ x {HOURS_PER_MONTH} h", _hours("interface_endpoint", azs))
    tasks = resources.get("aws_ecs_task_definition", {})
    for name, service in resources.get("aws_ecs_service", {}).items():
        task = tasks[_ref_name(service["task_definition"], "aws_ecs_task_definition") or ""]
        arch = _block(task.get("runtime_platform")).get("cpu_architecture", "X86_64")
        if f"fargate_vcpu:{arch}" not in PRICES:
            raise ValueError(f"{stack}: aws_ecs_service.{name}: no Fargate price for {arch!r}")
        vcpu, gb = int(task["cpu"]) / 1024, int(task["memory"]) / 1024
        per_task = _hours(f"fargate_vcpu:{arch}", vcpu) + _hours(f"fargate_gb:{arch}", gb)
        strategy = service.get("capacity_provider_strategy") or [{"capacity_provider": "FARGATE", "weight": 1}]
        weights = sum(s.get("weight", 0) for s in strategy) or 1
        spot_share = sum(s.get("weight", 0) for s in strategy if s["capacity_provider"] == "FARGATE_SPOT") / weights
        factor = 1 - PRICES["fargate_spot_discount"].usd * spot_share
        count = service.get("desired_count", 1)
        kind = "Fargate Spot" if spot_share == 1 else "Fargate" if spot_share == 0 else "Fargate (mixed)"
        add(kind, f"{name}: {count} x {vcpu:g} vCPU / {gb:g} GB {arch}", per_task * factor * count)
    for name in resources.get("aws_kms_key", {}):
        add("KMS keys", name, PRICES["kms_key"].usd)
    for name in resources.get("aws_secretsmanager_secret", {}):
        add("Secrets Manager", name, PRICES["secret"].usd)
    for name in resources.get("aws_cloudwatch_metric_alarm", {}):
        add("CloudWatch alarms", name, PRICES["alarm"].usd)
    clusters = resources.get("aws_rds_cluster", {})
    for name, instance in resources.get("aws_rds_cluster_instance", {}).items():
        if instance.get("instance_class") != "db.serverless":
            raise ValueError(f"{stack}: aws_rds_cluster_instance.{name}: only Aurora Serverless v2 is priced")
        cluster = clusters[_ref_name(instance["cluster_identifier"], "aws_rds_cluster") or ""]
        min_acu = float(_block(cluster["serverlessv2_scaling_configuration"])["min_capacity"])
        label = "paused: storage only" if min_acu == 0 else f"{min_acu:g} ACU x {HOURS_PER_MONTH} h"
        add("Aurora Serverless v2 (min ACU)", f"{name}: {label}", _hours("aurora_acu", min_acu))
    for name in resources.get("aws_db_proxy", {}):
        if not any("serverlessv2_scaling_configuration" in c for c in clusters.values()):
            raise ValueError(f"{stack}: aws_db_proxy.{name}: only a proxy in front of Aurora Serverless v2 is priced")
        acu = PRICES["rds_proxy_min_acu"].usd
        add("RDS Proxy", f"{name}: minimum {acu:g} ACU x {HOURS_PER_MONTH} h", _hours("rds_proxy_acu", acu))
    for name, acl in resources.get("aws_wafv2_web_acl", {}).items():
        rules = len(acl.get("rule") or [])
        add("WAF", f"{name}: 1 web ACL + {rules} rules", PRICES["waf_web_acl"].usd + PRICES["waf_rule"].usd * rules)
    for name in resources.get("aws_route53_zone", {}):
        add("Route 53 hosted zone", name, PRICES["route53_zone"].usd)
    return items


def unclassified(stacks: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Resource types neither priced, usage-priced nor known free: the table needs a decision."""
    types = {t for config in stacks.values() for t in config.get("resource", {})}
    return {
        t for t in types if t not in PRICED_TYPES and t not in USAGE_PRICED_TYPES and not t.startswith(_FREE_PREFIXES)
    }


@dataclass(frozen=True)
class Estimate:
    """A stage's idle month: `items` count toward `total`; `account_wide` items are shown apart."""

    items: list[LineItem]
    account_wide: list[LineItem]

    @property
    def total(self) -> float:
        """USD/month."""
        return sum(i.usd_per_month for i in self.items)

    def by_category(self) -> dict[str, float]:
        """USD per month by cost category (sums of the line items)."""
        totals: dict[str, float] = {}
        for item in self.items:
            totals[item.category] = totals.get(item.category, 0.0) + item.usd_per_month
        return totals


def estimate(stacks: Mapping[str, Mapping[str, Any]]) -> Estimate:
    """Estimate one stage from `{stack name: parsed cdk.tf.json}`; stacks in
    `ACCOUNT_WIDE_STACKS` are priced but kept out of the stage total."""
    items: list[LineItem] = []
    shared: list[LineItem] = []
    for name, config in stacks.items():
        (shared if name in ACCOUNT_WIDE_STACKS else items).extend(stack_line_items(name, config))
    return Estimate(items=items, account_wide=shared)


def load_stacks(outdir: Path) -> dict[str, dict[str, Any]]:
    """The stacks of a `cdktf.out`-style directory (manifest.json + stacks/*/cdk.tf.json)."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {name: json.loads((outdir / "stacks" / name / "cdk.tf.json").read_text()) for name in manifest["stacks"]}


def synthesize(stage: str, outdir: Path) -> dict[str, dict[str, Any]]:
    """Synthesize `stage` with default settings (no HEBO_* from the environment) into `outdir`."""
    sys.path.insert(0, str(REPO_ROOT))
    from config.settings import Settings
    from main import build_app

    outdir.mkdir(parents=True, exist_ok=True)
    build_app(Settings.load({"HEBO_STAGE": stage}, {}), outdir=str(outdir)).app.synth()
    return load_stacks(outdir)


def side_by_side(estimates: Mapping[str, Estimate]) -> list[tuple[str, dict[str, float]]]:
    """`[(category, {stage: USD/month})]`, the largest category (in any stage) first."""
    categories: dict[str, dict[str, float]] = {}
    for stage, est in estimates.items():
        for category, usd in est.by_category().items():
            categories.setdefault(category, {})[stage] = usd
    return sorted(categories.items(), key=lambda kv: (-max(kv[1].values()), kv[0]))


def render(estimates: Mapping[str, Estimate]) -> str:
    """Categories side by side (sorted by their largest cost), totals, then each stage's items."""
    stages = list(estimates)
    categories = side_by_side(estimates)
    width = max([len(c) for c, _ in categories] + [24])
    head = f"{'USD/month (idle, us-east-1, ' + PRICES_AS_OF + ')':<{width + 8}}" + "".join(f"{s:>12}" for s in stages)
    lines = [head, "-" * len(head)]
    for category, row in categories:
        lines.append(f"{category:<{width + 8}}" + "".join(f"{row.get(s, 0.0):>12.2f}" for s in stages))
    lines.append("-" * len(head))
    lines.append(f"{'total':<{width + 8}}" + "".join(f"{estimates[s].total:>12.2f}" for s in stages))
    shared = next(iter(estimates.values())).account_wide
    if shared:
        lines.append(
            "account-wide, not in the totals: " + ", ".join(f"{i.category} {i.usd_per_month:.2f}" for i in shared)
        )
    for stage, est in estimates.items():
        lines += ["", f"{stage}: line items, largest first (total {est.total:.2f})"]
        for item in sorted(est.items, key=lambda i: (-i.usd_per_month, i.category, i.detail)):
            lines.append(f"  {item.usd_per_month:>8.2f}  {item.category:<30} {item.stack}: {item.detail}")
    lines += [
        "",
        "An estimate, not a bill: traffic, requests, data transfer, storage and its growth are left out (bench/cost.py).",
    ]
    return "\n".join(lines)


README = REPO_ROOT / "README.md"
README_MARKERS = ("<!-- idle-cost:start -->", "<!-- idle-cost:end -->")


def markdown_table(estimates: Mapping[str, Estimate]) -> str:
    """The README's idle-cost table: one row per category (largest first), one column per stage."""
    stages = list(estimates)
    rows = ["| USD/month, idle | " + " | ".join(f"`{s}`" for s in stages) + " |", "|---|" + "---:|" * len(stages)]
    for category, row in side_by_side(estimates):
        rows.append(f"| {category} | " + " | ".join(f"{row.get(s, 0.0):.2f}" for s in stages) + " |")
    rows.append("| **total** | " + " | ".join(f"**{estimates[s].total:.2f}**" for s in stages) + " |")
    return "\n".join(rows)


def readme_block(text: str) -> str:
    """The generated table between the README markers."""
    start, end = README_MARKERS
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def main(argv: Iterable[str] | None = None) -> int:
    """Print the idle-cost estimate of each stage; `--write-readme` also rewrites the README table. Returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--stage", action="append", help="stage to estimate (repeatable; default: production, pr-42, dev)"
    )
    parser.add_argument(
        "--write-readme", action="store_true", help="also rewrite the README's idle-cost table (default stages only)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    stages = args.stage or ["production", "pr-42", "dev"]
    with tempfile.TemporaryDirectory(prefix="hebo-cost-") as root:
        estimates = {stage: estimate(synthesize(stage, Path(root) / stage)) for stage in stages}
    print(render(estimates))
    if args.write_readme:
        start, end = README_MARKERS
        head, rest = README.read_text().split(start, 1)
        README.write_text(f"{head}{start}\n{markdown_table(estimates)}\n{end}{rest.split(end, 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

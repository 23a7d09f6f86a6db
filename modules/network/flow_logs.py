"""VPC flow logs delivered to a CloudWatch log group through a narrowly scoped role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modules.cdk import Construct, aws
from modules.iam import Condition, Statement

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
WRITER_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def writer_statement(log_group_arns: list[str]) -> Statement:
    """What the delivery role may do: write streams of these log groups, nothing else."""
    resources: list[str] = []
    for arn in log_group_arns:
        resources += [arn, f"{arn}:log-stream:*"]
    return Statement(sid="WriteFlowLogs", actions=list(WRITER_ACTIONS), resources=resources)


def trust_conditions(partition: str, account_id: str) -> list[Condition]:
    """Confused-deputy guard: only this account's flow logs may assume the role."""
    return [
        Condition(test="StringEquals", variable="aws:SourceAccount", values=[account_id]),
        Condition(
            test="ArnLike", variable="aws:SourceArn", values=[f"arn:{partition}:ec2:*:{account_id}:vpc-flow-log/*"]
        ),
    ]


@dataclass(frozen=True, kw_only=True)
class FlowLogProps:
    """Flow logs of one VPC into one CloudWatch log group."""

    vpc_id: str
    """The VPC whose traffic is logged."""
    log_group_arn: str
    """A KMS-encrypted log group with a retention (modules.logs.log_group)."""
    role_arn: str
    """Trusted by vpc-flow-logs, allowed `writer_statement([log_group_arn])`."""
    name: str
    """`Name` tag of the flow log."""
    traffic_type: str = "ALL"
    """ALL: accepted and rejected traffic (rejections are what a security review looks for)."""
    aggregation_seconds: int = 600
    """600 (default, fewer records) or 60."""


def flow_log(scope: Construct, construct_id: str, props: FlowLogProps, provider: Any = None) -> Any:
    """One `aws_flow_log` of the VPC to the log group, delivered by `props.role_arn`."""
    return aws.flow_log.FlowLog(
        scope,
        construct_id,
        vpc_id=props.vpc_id,
        traffic_type=props.traffic_type,
        log_destination_type="cloud-watch-logs",
        log_destination=props.log_group_arn,
        iam_role_arn=props.role_arn,
        max_aggregation_interval=props.aggregation_seconds,
        tags={"Name": props.name},
        provider=provider,
    )

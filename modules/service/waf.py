"""A regional WAFv2 web ACL for load balancers: per-IP rate limit plus AWS managed rule groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from modules.cdk import Construct, aws


_acl = aws.wafv2_web_acl
_log = aws.wafv2_web_acl_logging_configuration

DEFAULT_MANAGED_RULE_GROUPS = (
    ("aws-ip-reputation", "AWSManagedRulesAmazonIpReputationList"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)
"""(rule name, AWS managed rule group): botnets/scanners by source IP, and request patterns of
known exploits (Log4j, Java deserialization, `localhost` Host header, exploitable paths)."""


@dataclass(frozen=True, kw_only=True)
class RegionalWebAclProps:
    """One regional web ACL: rate limit, managed rule groups, optional logging."""

    name: str
    """Web ACL name; also the stem of every CloudWatch metric name (`<name>-<rule>`)."""
    description: str
    """Shown in the WAF console (≤ 256 characters)."""
    rate_limit: int = 2000
    """Requests per client IP per `rate_limit_window_seconds` before that IP is blocked (429)."""
    rate_limit_window_seconds: int = 300
    """Evaluation window of the rate limit: 60, 120, 300 or 600 seconds (WAFv2 `EvaluationWindowSec`)."""
    managed_rule_groups: Sequence[tuple[str, str]] = DEFAULT_MANAGED_RULE_GROUPS
    """(rule name, AWS managed rule group name), evaluated in this order after the rate limit."""
    log_group_arn: str | None = None
    """A CloudWatch log group named `aws-waf-logs-*`; None: no WAF logging (metrics and sampled
    requests only)."""
    logged_actions: Sequence[str] = ("BLOCK", "COUNT")
    """Only requests a rule blocked or counted are logged; allowed traffic is in the ALB access logs."""
    redacted_headers: Sequence[str] = ("authorization", "cookie")
    """Request headers replaced by `REDACTED` in WAF logs: credentials never reach the log group."""


class RegionalWebAcl(Construct):
    """Default action allow; rule 10 blocks an IP above the rate limit with 429, rules 20, 30, …
    are the managed rule groups with their own actions (block). Every rule and the ACL publish
    CloudWatch metrics and keep sampled requests. `associate()` attaches it to a load balancer."""

    def __init__(self, scope: Construct, construct_id: str, props: RegionalWebAclProps) -> None:
        super().__init__(scope, construct_id)
        self._name = props.name
        self.web_acl = _acl.Wafv2WebAcl(
            self,
            "web_acl",
            name=props.name,
            description=props.description,
            scope="REGIONAL",
            default_action=_acl.Wafv2WebAclDefaultAction(allow=_acl.Wafv2WebAclDefaultActionAllow()),
            rule=[self._rate_limit_rule(props), *self._managed_rules(props)],
            visibility_config=_acl.Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=props.name, sampled_requests_enabled=True
            ),
        )
        if props.log_group_arn is not None:
            self._create_logging(props, props.log_group_arn)

    def _rate_limit_rule(self, props: RegionalWebAclProps) -> Any:
        """Rule 10: block an IP above `rate_limit` requests per window with a 429."""
        return _acl.Wafv2WebAclRule(
            name="rate-limit-per-ip",
            priority=10,
            # `statement` is untyped in the prebuilt provider (too deep to generate): plain dicts
            # with Terraform's own snake_case keys are passed through verbatim.
            statement={
                "rate_based_statement": {
                    "aggregate_key_type": "IP",
                    "limit": props.rate_limit,
                    "evaluation_window_sec": props.rate_limit_window_seconds,
                }
            },
            action=_acl.Wafv2WebAclRuleAction(
                block=_acl.Wafv2WebAclRuleActionBlock(
                    custom_response=_acl.Wafv2WebAclRuleActionBlockCustomResponse(response_code=429)
                )
            ),
            visibility_config=self._visibility("rate-limit-per-ip"),
        )

    def _managed_rules(self, props: RegionalWebAclProps) -> list[Any]:
        """Rules 20, 30, …: the managed rule groups, with their own actions (block)."""
        return [
            _acl.Wafv2WebAclRule(
                name=rule_name,
                priority=20 + 10 * index,
                statement={"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                # `none`: the group's own rule actions apply (block); `count` would only observe.
                override_action=_acl.Wafv2WebAclRuleOverrideAction(none=_acl.Wafv2WebAclRuleOverrideActionNone()),
                visibility_config=self._visibility(rule_name),
            )
            for index, (rule_name, group) in enumerate(props.managed_rule_groups)
        ]

    def _create_logging(self, props: RegionalWebAclProps, log_group_arn: str) -> None:
        """WAF logs to `log_group_arn`: only `logged_actions`, with `redacted_headers` replaced."""
        condition = _log.Wafv2WebAclLoggingConfigurationLoggingFilterFilterCondition
        action_condition = _log.Wafv2WebAclLoggingConfigurationLoggingFilterFilterConditionActionCondition
        _log.Wafv2WebAclLoggingConfiguration(
            self,
            "logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                _log.Wafv2WebAclLoggingConfigurationRedactedFields(
                    single_header=_log.Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header)
                )
                for header in props.redacted_headers
            ],
            logging_filter=_log.Wafv2WebAclLoggingConfigurationLoggingFilter(
                default_behavior="DROP",
                filter=[
                    _log.Wafv2WebAclLoggingConfigurationLoggingFilterFilter(
                        behavior="KEEP",
                        requirement="MEETS_ANY",
                        condition=[
                            condition(action_condition=action_condition(action=action))
                            for action in props.logged_actions
                        ],
                    )
                ],
            ),
        )

    def _visibility(self, rule_name: str) -> Any:
        """CloudWatch metric `<acl name>-<rule>` and sampled requests for one rule."""
        return _acl.Wafv2WebAclRuleVisibilityConfig(
            cloudwatch_metrics_enabled=True, metric_name=f"{self._name}-{rule_name}", sampled_requests_enabled=True
        )

    def associate(self, construct_id: str, resource_arn: str) -> Any:
        """Put the ACL in front of one load balancer (or other regional resource)."""
        return aws.wafv2_web_acl_association.Wafv2WebAclAssociation(
            self, construct_id, resource_arn=resource_arn, web_acl_arn=self.web_acl.arn
        )

    @property
    def arn(self) -> str:
        """The web ACL's ARN."""
        return self.web_acl.arn

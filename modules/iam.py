"""IAM roles and policy documents built from typed statements (never hand-written JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from modules.cdk import Construct, aws


_doc = aws.data_aws_iam_policy_document


@dataclass(frozen=True, kw_only=True)
class Condition:
    test: str
    variable: str
    values: Sequence[str]


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One IAM statement. `resources` names resources (the policy tests reject `*` where it
    matters); leave it None only in trust policies, which must not have a Resource element."""

    actions: Sequence[str]
    resources: Sequence[str] | None = None
    effect: str = "Allow"
    sid: str | None = None
    principals: dict[str, Sequence[str]] = field(default_factory=dict)
    """`{"Service": [...]}`, `{"AWS": [...]}`: for trust and resource policies."""
    conditions: Sequence[Condition] = ()


def policy_document(scope: Construct, construct_id: str, statements: Sequence[Statement], provider: Any = None) -> Any:
    """A `data.aws_iam_policy_document`; struct classes keep snake_case keys from being dropped."""
    return _doc.DataAwsIamPolicyDocument(
        scope,
        construct_id,
        provider=provider,
        statement=[
            _doc.DataAwsIamPolicyDocumentStatement(
                sid=s.sid,
                effect=s.effect,
                actions=list(s.actions),
                resources=list(s.resources) if s.resources is not None else None,
                principals=[
                    _doc.DataAwsIamPolicyDocumentStatementPrincipals(type=kind, identifiers=list(ids))
                    for kind, ids in s.principals.items()
                ]
                or None,
                condition=[
                    _doc.DataAwsIamPolicyDocumentStatementCondition(test=c.test, variable=c.variable, values=list(c.values))
                    for c in s.conditions
                ]
                or None,
            )
            for s in statements
        ],
    )


@dataclass(frozen=True, kw_only=True)
class ServiceRoleProps:
    name: str
    service: str
    """Trusted service principal, e.g. `lambda.amazonaws.com`."""
    description: str
    statements: Sequence[Statement] = ()
    """Inline permissions; empty creates no inline policy."""
    managed_policy_arns: Sequence[str] = ()
    trust_conditions: Sequence[Condition] = ()
    """Confused-deputy guards such as `aws:SourceAccount`."""


class ServiceRole(Construct):
    """A role a single AWS service assumes, with one inline policy of named statements."""

    def __init__(self, scope: Construct, construct_id: str, props: ServiceRoleProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        trust = policy_document(
            self,
            "trust",
            [
                Statement(
                    actions=["sts:AssumeRole"],
                    principals={"Service": [props.service]},
                    conditions=props.trust_conditions,
                )
            ],
            provider=provider,
        )
        self.role = aws.iam_role.IamRole(
            self,
            "role",
            name=props.name,
            description=props.description,
            assume_role_policy=trust.json,
            provider=provider,
        )
        for index, arn in enumerate(props.managed_policy_arns):
            aws.iam_role_policy_attachment.IamRolePolicyAttachment(
                self, f"managed_{index}", role=self.role.name, policy_arn=arn, provider=provider
            )
        if props.statements:
            document = policy_document(self, "permissions", props.statements, provider=provider)
            aws.iam_role_policy.IamRolePolicy(
                self, "policy", name=props.name, role=self.role.id, policy=document.json, provider=provider
            )

    @property
    def arn(self) -> str:
        return self.role.arn

    @property
    def name(self) -> str:
        return self.role.name

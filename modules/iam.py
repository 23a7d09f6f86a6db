"""IAM roles and policy documents built from typed statements (never hand-written JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from modules.cdk import Construct, aws
from modules.errors import ValidationError


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


def _statement_structs(statements: Sequence[Statement]) -> list[Any]:
    return [
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
    ]


def policy_document(scope: Construct, construct_id: str, statements: Sequence[Statement], provider: Any = None) -> Any:
    """A `data.aws_iam_policy_document`; struct classes keep snake_case keys from being dropped."""
    return _doc.DataAwsIamPolicyDocument(scope, construct_id, provider=provider, statement=_statement_structs(statements))


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
        self._provider = provider
        self._name = props.name
        self._statements: list[Statement] = []
        self._document: Any = None
        self.policy: Any = None
        """The inline policy (`aws_iam_role_policy`), created by the first grant; None while the role has no permissions."""
        self.grant(*props.statements)

    def grant(self, *statements: Statement) -> None:
        """Add statements to the role's one inline policy (created on first use). The policy
        lists statements in grant order; a role nobody grants anything keeps no inline policy.

        Raises ValidationError for a statement whose `sid` the policy already has (IAM rejects
        duplicate Sids in one policy)."""
        if not statements:
            return
        sids = [s.sid for s in (*self._statements, *statements) if s.sid]
        duplicates = sorted({sid for sid in sids if sids.count(sid) > 1})
        if duplicates:
            raise ValidationError(f"role {self._name}", "statement sids", duplicates, "are granted twice")
        self._statements.extend(statements)
        if self._document is None:
            self._document = policy_document(self, "permissions", self._statements, provider=self._provider)
            self.policy = aws.iam_role_policy.IamRolePolicy(
                self, "policy", name=self._name, role=self.role.id, policy=self._document.json, provider=self._provider
            )
        else:
            self._document.put_statement(_statement_structs(self._statements))

    @property
    def statements(self) -> tuple[Statement, ...]:
        """The inline policy's statements so far, in grant order."""
        return tuple(self._statements)

    @property
    def arn(self) -> str:
        return self.role.arn

    @property
    def name(self) -> str:
        return self.role.name

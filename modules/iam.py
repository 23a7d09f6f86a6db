"""IAM roles and policy documents built from typed statements (never hand-written JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, TerraformStack, aws
from modules.errors import ValidationError


_doc = aws.data_aws_iam_policy_document


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One condition of an IAM statement (`Condition: {test: {variable: values}}`)."""

    test: str
    """The condition operator, e.g. `StringEquals`, `ArnLike` (IAM User Guide, "Condition operators")."""
    variable: str
    """The condition key, e.g. `aws:SourceAccount`."""
    values: Sequence[str]
    """Values compared with the key; IAM matches any one of them."""


@dataclass(frozen=True, kw_only=True)
class Statement:
    """One IAM statement. `resources` names resources (the policy tests reject `*` where it
    matters); leave it None only in trust policies, which must not have a Resource element."""

    actions: Sequence[str]
    """IAM actions, `service:Action` (wildcards allowed)."""
    resources: Sequence[str] | None = None
    """Resource ARNs (patterns allowed); None only in trust policies."""
    effect: str = "Allow"
    """`Allow` or `Deny`."""
    sid: str | None = None
    """Statement id, unique within one policy (IAM rejects duplicates)."""
    principals: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """`{"Service": [...]}`, `{"AWS": [...]}`: for trust and resource policies."""
    conditions: Sequence[Condition] = ()
    """All must hold for the statement to apply."""


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
    return _doc.DataAwsIamPolicyDocument(
        scope, construct_id, provider=provider, statement=_statement_structs(statements)
    )


@dataclass(frozen=True, kw_only=True)
class ServiceRoleProps:
    """What a `ServiceRole` is: its name, the one service that assumes it and its permissions."""

    name: str
    """Role name (`Names`; IAM allows 1-64 characters of `[\\w+=,.@-]`, IAM quotas)."""
    service: str
    """Trusted service principal, e.g. `lambda.amazonaws.com`."""
    description: str
    """Shown in the IAM console (at most 1,000 characters)."""
    statements: Sequence[Statement] = ()
    """Inline permissions; empty creates no inline policy."""
    managed_policy_arns: Sequence[str] = ()
    """AWS managed policies attached to the role (one `aws_iam_role_policy_attachment` each)."""
    trust_conditions: Sequence[Condition] = ()
    """Confused-deputy guards such as `aws:SourceAccount`."""
    permissions_boundary: str | None = None
    """ARN of the role's permissions boundary; None takes the stack's (`permissions_boundary_arn`,
    from the stage policy), so every role of a preview carries the preview boundary."""


def stack_permissions_boundary(scope: Construct) -> str | None:
    """The permissions boundary ARN the enclosing stack gives its roles (`HeboStack.permissions_boundary_arn`),
    or None. Read by duck typing: modules never import stacks."""
    return getattr(TerraformStack.of(scope), "permissions_boundary_arn", None)


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
            permissions_boundary=props.permissions_boundary or stack_permissions_boundary(self),
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
        """The role's ARN (a Terraform reference)."""
        return self.role.arn

    @property
    def name(self) -> str:
        """The role's name (a Terraform reference)."""
        return self.role.name

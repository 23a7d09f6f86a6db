"""IAM policy evaluation with real IAM semantics, for the preview deploy role (INTERFACES.md §2).

- `evaluate(call, identity_policies, boundary) -> Decision`
- `evaluate_call_log(log, role_name, iam_client) -> EvaluationReport`
- `unused_grants(policy, actions_used) -> list[str]`
- `evaluate_trust(trust_policy, action, principal, context) -> Decision`

No cdktf imports: importable from the moto child process and from tests.
"""

from tools.iam_eval.conditions import UnsupportedCondition, evaluate_condition, evaluate_operator
from tools.iam_eval.engine import BOUNDARY_DENY, IMPLICIT_DENY, Decision, evaluate, evaluate_one, evaluate_trust
from tools.emulator_calls.record import Call, Resource
from tools.iam_eval.report import EvaluationReport, allowed_actions, evaluate_call_log, evaluate_calls, unused_grants

__all__ = [
    "BOUNDARY_DENY",
    "Call",
    "Decision",
    "EvaluationReport",
    "IMPLICIT_DENY",
    "Resource",
    "UnsupportedCondition",
    "allowed_actions",
    "evaluate",
    "evaluate_call_log",
    "evaluate_calls",
    "evaluate_condition",
    "evaluate_one",
    "evaluate_operator",
    "evaluate_trust",
    "unused_grants",
]

"""What the tests expect of each kind of stage, stated once and by hand (README, "Stages").

Tests compare the synthesized stacks (and `policy_table()`) with these tables; they never derive
an expectation from the code under test (`settings.policy`, `Names`, `state_scope`), so a wrong
policy or name fails a test instead of moving the expectation along with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from synth_support import STAGE_NAMES, Synth

POLICY: Mapping[str, Mapping[str, Any]] = {
    # every StagePolicy field except name and kind, per kind of stage
    "production": {
        "nat_per_az": True,
        "bastion": False,
        "secondary_region_network": True,
        "db_min_acu": 0.5,
        "db_max_acu": 16.0,
        "db_reader_count": 1,
        "db_seconds_until_auto_pause": None,
        "db_global_cluster": True,
        "db_proxy": True,
        "db_backup_retention_days": 14,
        "db_enhanced_monitoring": True,
        "migrate_on_deploy": True,
        "service_min_tasks": 4,
        "service_max_tasks": 16,
        "capacity_provider": "FARGATE",
        "wait_for_steady_state": True,
        "task_cpu": 1024,
        "task_memory_mib": 2048,
        "log_level": "info",
        "container_insights": True,
        "ecs_exec": False,
        "alb_log_retention_days": 90,
        "shared_load_balancer": False,
        "shared_stage_key": False,
        "waf": True,
        "protect": True,
        "log_retention_days": 365,
        "secret_recovery_window_days": 30,
        "kms_deletion_window_days": 30,
        "force_destroy": False,
        "permissions_boundary": False,
        "owns_app_secrets": True,
    },
    "preview": {
        "nat_per_az": False,
        "bastion": True,
        "secondary_region_network": False,
        "db_min_acu": 0.0,
        "db_max_acu": 4.0,
        "db_reader_count": 0,
        "db_seconds_until_auto_pause": 1200,
        "db_global_cluster": False,
        "db_proxy": False,
        "db_backup_retention_days": 1,
        "db_enhanced_monitoring": False,
        "migrate_on_deploy": True,
        "service_min_tasks": 1,
        "service_max_tasks": 1,
        "capacity_provider": "FARGATE_SPOT",
        "wait_for_steady_state": False,
        "task_cpu": 256,
        "task_memory_mib": 512,
        "log_level": "debug",
        "container_insights": False,
        "ecs_exec": True,
        "alb_log_retention_days": 7,
        "shared_load_balancer": True,
        "shared_stage_key": True,
        "waf": False,
        "protect": False,
        "log_retention_days": 7,
        "secret_recovery_window_days": 0,
        "kms_deletion_window_days": 7,
        "force_destroy": True,
        "permissions_boundary": True,
        "owns_app_secrets": False,
    },
}
POLICY = {
    **POLICY,
    "dev": {
        **POLICY["preview"],
        "migrate_on_deploy": False,
        "owns_app_secrets": True,
        "permissions_boundary": False,
        "db_enhanced_monitoring": True,
    },
}
"""Dev is a preview that migrates by hand (`ops`), so a half-written migration can be retried, that
owns the third-party secrets previews read (the default HEBO_PREVIEW_SECRETS_FROM), and that an
administrator deploys (no preview permissions boundary on its roles, and Enhanced Monitoring on:
its monitoring role is not one a pull request can create)."""

SHARED_BY_PREVIEWS = (
    "StackProjectId",
    "StackSecretServerKey",
    "StackPublishableClientKey",
    "GroqApiKey",
    "VoyageApiKey",
)
"""The secrets a preview reads from its template stage (dev by default) instead of owning them."""
DATABASE_SECRETS = ("DbUsername", "DbPassword", "DbCredentials", "DbAppCredentials")
"""The secrets every stage owns."""


@dataclass(frozen=True)
class StageExpectations:
    """Expected values of one synthesized stage (`expect(synth)`)."""

    label: str
    """`production`, `preview` or `dev` (the keys of STAGE_NAMES and POLICY)."""
    stage: str
    policy: Mapping[str, Any]
    domain_prefix: str
    """What goes before `{app}.{zone}` in the stage's domains."""
    nat_instances: int
    """With the tests' default of 2 AZs."""

    @property
    def production(self) -> bool:
        return self.label == "production"

    def __getitem__(self, field: str) -> Any:
        """`expected["protect"]`: a policy field's expected value."""
        return self.policy[field]


EXPECTED: Mapping[str, StageExpectations] = {
    "production": StageExpectations("production", "production", POLICY["production"], "", nat_instances=2),
    "preview": StageExpectations("preview", "pr-42", POLICY["preview"], "pr-42.dev.", nat_instances=1),
    "dev": StageExpectations("dev", "dev", POLICY["dev"], "dev.dev.", nat_instances=1),
}
assert {e.label: e.stage for e in EXPECTED.values()} == STAGE_NAMES

TAG_STAGE = {"dns": "global"}
"""The `stage` default tag of account-wide stacks; every other stack is tagged with its stage."""


def expect(synth: Synth) -> StageExpectations:
    """The expectations of a synthesized stage (one of STAGE_NAMES)."""
    (label,) = [label for label, stage in STAGE_NAMES.items() if stage == synth.stage]
    return EXPECTED[label]

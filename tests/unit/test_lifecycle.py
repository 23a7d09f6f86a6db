"""Previews are disposable, production is not: one lifecycle row per resource type.

Every resource type the app can synthesize has a row saying what production must carry
(prevent_destroy, deletion protection, recovery windows, …) and what a preview must carry so
that `cdktf destroy` succeeds and the same stage can be re-created the next day. A resource
type without a row fails `test_every_resource_type_has_a_lifecycle_row`, so nobody adds a
stateful resource without deciding its lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest
from synth_support import Synth

Check = Callable[[str, dict[str, Any]], None]


def protected(_name: str, cfg: dict[str, Any]) -> None:
    assert cfg.get("lifecycle", {}).get("prevent_destroy") is True, "needs lifecycle.prevent_destroy"


def destroyable(_name: str, cfg: dict[str, Any]) -> None:
    assert not cfg.get("lifecycle", {}).get("prevent_destroy"), "prevent_destroy would block `cdktf destroy`"


def attrs(**expected: Any) -> Check:
    def check(_name: str, cfg: dict[str, Any]) -> None:
        for key, value in expected.items():
            assert cfg.get(key) == value, f"{key} = {cfg.get(key)!r}, expected {value!r}"

    return check


def absent(*keys: str) -> Check:
    def check(_name: str, cfg: dict[str, Any]) -> None:
        for key in keys:
            assert key not in cfg, f"{key} must not be set"

    return check


def all_of(*checks: Check) -> Check:
    def check(name: str, cfg: dict[str, Any]) -> None:
        for each in checks:
            each(name, cfg)

    return check


def rds_cluster_production(name: str, cfg: dict[str, Any]) -> None:
    protected(name, cfg)
    assert cfg["deletion_protection"] is True and cfg["backup_retention_period"] >= 14
    if "replication_source_identifier" in cfg.get("lifecycle", {}).get("ignore_changes", []):
        return  # the global secondary: a replica, its backups are the primary's
    assert cfg["skip_final_snapshot"] is False and cfg["final_snapshot_identifier"] == "hebo-production-db-final"


def log_group_named_by_terraform(_name: str, cfg: dict[str, Any]) -> None:
    # Terraform owns the name (no name_prefix, no skip_destroy), so destroy removes it and a
    # re-created stage creates it again instead of colliding with a leftover group.
    assert cfg["name"] and "name_prefix" not in cfg and not cfg.get("skip_destroy")


STATELESS = destroyable
"""Rebuilt from code; nothing to keep, nothing that blocks destroy."""


@dataclass(frozen=True)
class Row:
    production: Check | None
    preview: Check
    why: str


MATRIX: dict[str, Row] = {
    # -- state that matters: protected in production, disposable in previews --------------------
    "aws_rds_cluster": Row(
        rds_cluster_production,
        all_of(
            destroyable, attrs(deletion_protection=False, skip_final_snapshot=True), absent("final_snapshot_identifier")
        ),
        "production keeps a final snapshot; a fixed snapshot id in previews would collide on the second destroy",
    ),
    "aws_rds_global_cluster": Row(all_of(protected, attrs(deletion_protection=True)), STATELESS, "production only"),
    "aws_rds_cluster_instance": Row(protected, STATELESS, "instances of a protected cluster"),
    "aws_kms_key": Row(
        all_of(protected, attrs(deletion_window_in_days=30)),
        all_of(destroyable, attrs(deletion_window_in_days=7)),
        "keys encrypt data and backups; 7 days is the shortest window AWS allows",
    ),
    "aws_kms_alias": Row(
        None, STATELESS, "aliases are deleted at once, and carry the stage, so re-create never collides"
    ),
    "aws_secretsmanager_secret": Row(
        all_of(protected, attrs(recovery_window_in_days=30)),
        all_of(destroyable, attrs(recovery_window_in_days=0)),
        "a scheduled deletion would block re-creating `hebo/{stage}/…` for 7-30 days",
    ),
    "aws_s3_bucket": Row(
        all_of(protected, attrs(force_destroy=False)),
        all_of(destroyable, attrs(force_destroy=True)),
        "a bucket with objects refuses deletion unless force_destroy; names come from bucket_prefix",
    ),
    "aws_route53_zone": Row(
        all_of(protected, attrs(force_destroy=False)),
        all_of(protected, attrs(force_destroy=False)),
        "account-wide, never destroyed by any stage",
    ),
    "aws_ecr_repository": Row(
        attrs(force_delete=False),
        all_of(destroyable, attrs(force_delete=True)),
        "a repository with images refuses deletion unless force_delete",
    ),
    "aws_lb": Row(
        attrs(enable_deletion_protection=True),
        all_of(destroyable, attrs(enable_deletion_protection=False)),
        "deletion protection blocks destroy",
    ),
    "aws_cloudwatch_log_group": Row(
        log_group_named_by_terraform, all_of(destroyable, log_group_named_by_terraform), "see check"
    ),
    "aws_lambda_invocation": Row(
        absent("lifecycle_scope"),
        all_of(destroyable, absent("lifecycle_scope")),
        "CREATE_ONLY: destroy does not invoke the migrator against a database being deleted",
    ),
    "docker_registry_image": Row(
        attrs(keep_remotely=True),
        attrs(keep_remotely=True),
        "images stay in ECR (rollback); previews' repositories are force-deleted with them",
    ),
    "terraform_data": Row(
        None, STATELESS, "CloudFront invalidation (create-time only); image push ids (a new UUID per push)"
    ),
    "aws_ec2_instance_state": Row(
        None, STATELESS, "the bastion's power state; destroying it leaves the instance as it is"
    ),
    # -- stateless: rebuilt from code ----------------------------------------------------------
    **{
        resource_type: Row(None, STATELESS, "rebuilt from code")
        for resource_type in (
            "aws_acm_certificate",
            "aws_acm_certificate_validation",
            "aws_appautoscaling_policy",
            "aws_appautoscaling_target",
            "aws_cloudfront_distribution",
            "aws_cloudfront_function",
            "aws_cloudfront_origin_access_control",
            "aws_cloudfront_response_headers_policy",
            "aws_cloudwatch_metric_alarm",
            "aws_db_parameter_group",
            "aws_db_proxy",
            "aws_db_proxy_default_target_group",
            "aws_db_proxy_target",
            "aws_db_subnet_group",
            "aws_default_security_group",
            "aws_ecr_lifecycle_policy",
            "aws_ecs_cluster",
            "aws_ecs_cluster_capacity_providers",
            "aws_ecs_service",
            "aws_ecs_task_definition",
            "aws_eip",
            "aws_eip_association",
            "aws_flow_log",
            "aws_iam_instance_profile",
            "aws_iam_role",
            "aws_iam_role_policy",
            "aws_iam_role_policy_attachment",
            "aws_instance",
            "aws_internet_gateway",
            "aws_lambda_function",
            "aws_lb_listener",
            "aws_lb_listener_rule",
            "aws_lb_target_group",
            "aws_rds_cluster_parameter_group",
            "aws_route",
            "aws_route53_record",
            "aws_route53_hosted_zone_dnssec",
            "aws_route53_key_signing_key",
            "aws_route_table",
            "aws_route_table_association",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_versioning",
            "aws_s3_object",
            "aws_security_group",
            "aws_sns_topic",
            "aws_sns_topic_subscription",
            "aws_subnet",
            "aws_vpc",
            "aws_vpc_security_group_egress_rule",
            "aws_vpc_security_group_ingress_rule",
            "aws_wafv2_web_acl",
            "aws_wafv2_web_acl_association",
            "aws_wafv2_web_acl_logging_configuration",
            "docker_image",
        )
    },
}

VARIANT_ENV = {"HEBO_ALARM_EMAIL": "oncall@example.com", "HEBO_ENABLE_DNSSEC": "true"}
"""Optional features, so their resource types are covered too."""


@pytest.fixture(scope="module")
def stages(synth_variant: Callable[..., Synth]) -> dict[str, list[Synth]]:
    return {
        kind: [synth_variant(HEBO_STAGE=stage), synth_variant(HEBO_STAGE=stage, **VARIANT_ENV)]
        for kind, stage in (("production", "production"), ("preview", "pr-42"), ("dev", "dev"))
    }


def resources(synths: list[Synth]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for synth in synths:
        for stack, body in synth.stacks.items():
            for resource_type, items in body.get("resource", {}).items():
                for name, cfg in items.items():
                    yield stack, resource_type, name, cfg


def test_every_resource_type_has_a_lifecycle_row(stages: dict[str, list[Synth]]) -> None:
    present = {t for synths in stages.values() for _, t, _, _ in resources(synths)}
    assert sorted(present - set(MATRIX)) == [], "add a lifecycle row for these resource types"
    assert sorted(set(MATRIX) - present) == [], "stale rows: these types are no longer synthesized"


@pytest.mark.parametrize("kind", ["production", "preview", "dev"])
def test_lifecycle_per_stage(stages: dict[str, list[Synth]], kind: str) -> None:
    failures = []
    for stack, resource_type, name, cfg in resources(stages[kind]):
        row = MATRIX[resource_type]
        # The dns stack is account-wide (shared by every stage): it always follows the production row.
        check = row.production if kind == "production" or stack == "dns" else row.preview
        if check is None:
            continue
        try:
            check(name, cfg)
        except AssertionError as error:
            failures.append(f"{kind}/{stack} {resource_type}.{name}: {error}")
    assert failures == []


def test_production_stateful_resources_are_all_protected(stages: dict[str, list[Synth]]) -> None:
    """The issue's list: database clusters, KMS keys, state and console buckets, zone, secrets."""
    counts: dict[str, int] = {}
    for _, resource_type, _, cfg in resources(stages["production"][:1]):
        if resource_type in (
            "aws_rds_cluster",
            "aws_rds_global_cluster",
            "aws_kms_key",
            "aws_s3_bucket",
            "aws_route53_zone",
            "aws_secretsmanager_secret",
        ):
            assert cfg["lifecycle"]["prevent_destroy"] is True
            counts[resource_type] = counts.get(resource_type, 0) + 1
    assert counts == {
        "aws_rds_cluster": 2,
        "aws_rds_global_cluster": 1,
        "aws_kms_key": 5,  # no console key: that bucket is SSE-S3 (docs/edge.md)
        "aws_s3_bucket": 2,
        "aws_route53_zone": 1,
        "aws_secretsmanager_secret": 9,
    }


def test_preview_names_do_not_survive_destroy(stages: dict[str, list[Synth]]) -> None:
    """Nothing in a preview reserves a name beyond its own lifetime."""
    preview = stages["preview"][0]
    buckets = 0
    for _, resource_type, name, cfg in resources([preview]):
        assert "final_snapshot_identifier" not in cfg, name
        if resource_type == "aws_s3_bucket":
            assert "bucket" not in cfg and cfg["bucket_prefix"].startswith("hebo-pr-42-"), name
            buckets += 1
    assert buckets == 2  # console and ALB logs: at least one checked

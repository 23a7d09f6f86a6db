"""The data stack: Aurora per stage, encryption, TLS, proxy, protection, secrets, the migrator."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from expectations import DATABASE_SECRETS, expect
from synth_support import Synth, stack_key

from config.secrets import SECRET_NAMES

KEY = "${aws_kms_key.key_F64E54E4.arn}"
"""The data stack's own key (production); previews and dev name the network's stage key."""
SECONDARY_KEY = "${aws_kms_key.secondary_key_0934D75E.arn}"
CREDENTIALS_ARN = "${aws_secretsmanager_secret.secret_DbCredentials.arn}"
APP_CREDENTIALS_ARN = "${aws_secretsmanager_secret.secret_DbAppCredentials.arn}"
PROXY_ENDPOINT = "${aws_db_proxy.proxy_5B0EBCF1.endpoint}"
WRITER_ENDPOINT = "${aws_rds_cluster.primary_cluster_1167B7A8.endpoint}"
NETWORK = "${data.terraform_remote_state.cross-stack-reference-input-network.outputs."


def by(synth: Synth, resource_type: str, attribute: str) -> dict[str, dict[str, Any]]:
    """Resources of a type keyed by one of their attributes (identifiers, names)."""
    return {r[attribute]: r for r in synth.resources("data", resource_type).values()}


def cluster(synth: Synth, identifier: str) -> dict[str, Any]:
    return by(synth, "aws_rds_cluster", "cluster_identifier")[identifier]


def remote(ref: str) -> str:
    assert ref.startswith(NETWORK), ref
    return ref


# -- the cluster -------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture,identifier", [("production", "hebo-production-db"), ("preview", "hebo-pr-42-db")])
def test_primary_cluster_engine_encryption_and_tls(
    request: pytest.FixtureRequest, fixture: str, identifier: str
) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    c = cluster(synth, identifier)
    assert (c["engine"], c["engine_mode"], c["engine_version"]) == ("aurora-postgresql", "provisioned", "17.5")
    assert c["database_name"] == "hebo" and c["port"] == 5432
    assert c["storage_encrypted"] is True and c["kms_key_id"] == stack_key(synth, KEY)
    assert c["enabled_cloudwatch_logs_exports"] == ["postgresql"]
    assert c["copy_tags_to_snapshot"] is True
    assert c["master_username"] == "heboadmin"
    assert c["iam_database_authentication_enabled"] is True  # allowed; no role holds rds-db:connect
    assert remote(c["vpc_security_group_ids"][0]) and "security_groups_database" in c["vpc_security_group_ids"][0]
    assert len(c["vpc_security_group_ids"]) == 1
    params = by(synth, "aws_rds_cluster_parameter_group", "name")[f"{identifier}-cluster-params"]
    assert c["db_cluster_parameter_group_name"].startswith("${aws_rds_cluster_parameter_group.primary_cluster_params")
    assert params["family"] == "aurora-postgresql17"
    assert {p["name"]: (p["value"], p["apply_method"]) for p in params["parameter"]} == {
        "rds.force_ssl": ("1", "pending-reboot"),
        "log_min_duration_statement": ("1000", "immediate"),
        "log_statement": ("none", "immediate"),
        "log_min_error_statement": ("error", "immediate"),
    }
    logs = by(synth, "aws_cloudwatch_log_group", "name")[f"/aws/rds/cluster/{identifier}/postgresql"]
    assert logs["kms_key_id"] == stack_key(synth, KEY)
    assert logs["retention_in_days"] == expect(synth)["log_retention_days"]
    assert any(d.startswith("aws_cloudwatch_log_group.primary_postgresql_logs") for d in c["depends_on"])


def test_production_scaling_readers_and_protection(production: Synth) -> None:
    c = cluster(production, "hebo-production-db")
    assert c["serverlessv2_scaling_configuration"] == {"min_capacity": 0.5, "max_capacity": 16}
    assert c["backup_retention_period"] == 14
    assert c["deletion_protection"] is True
    assert c["skip_final_snapshot"] is False
    assert c["final_snapshot_identifier"] == "hebo-production-db-final"
    assert c["lifecycle"] == {"prevent_destroy": True, "ignore_changes": ["engine_version"]}
    primary = {
        k: v for k, v in by(production, "aws_rds_cluster_instance", "identifier").items() if "secondary" not in k
    }
    assert sorted(primary) == ["hebo-production-db-reader-1", "hebo-production-db-writer-0"]
    assert primary["hebo-production-db-writer-0"]["promotion_tier"] == 0
    assert primary["hebo-production-db-reader-1"]["promotion_tier"] == 1  # sized with the writer: fast failover
    for instance in primary.values():
        assert instance["instance_class"] == "db.serverless"
        assert instance["engine_version"] == "17.5"
        assert instance["publicly_accessible"] is False
        assert instance["performance_insights_enabled"] is True
        assert instance["performance_insights_kms_key_id"] == KEY
        # auto minor upgrades move the instances past 17.5: the pin must not plan a "downgrade"
        assert (instance["auto_minor_version_upgrade"], instance["lifecycle"]) == (
            True,
            {"prevent_destroy": True, "ignore_changes": ["engine_version"]},
        )
        assert instance["monitoring_interval"] == 60
        assert instance["monitoring_role_arn"] == "${aws_iam_role.monitoring_role_3C7E8759.arn}"


def test_preview_scales_to_zero_and_is_disposable(preview: Synth) -> None:
    c = cluster(preview, "hebo-pr-42-db")
    assert c["serverlessv2_scaling_configuration"] == {
        "min_capacity": 0,
        "max_capacity": 4,
        "seconds_until_auto_pause": 1200,
    }
    assert c["backup_retention_period"] == 1
    assert c["deletion_protection"] is False
    assert c["skip_final_snapshot"] is True
    assert "final_snapshot_identifier" not in c
    assert c["lifecycle"] == {"prevent_destroy": False, "ignore_changes": ["engine_version"]}
    assert "global_cluster_identifier" not in c
    instances = by(preview, "aws_rds_cluster_instance", "identifier")
    assert sorted(instances) == ["hebo-pr-42-db-writer-0"]  # no reader: nothing keeps it awake
    assert instances["hebo-pr-42-db-writer-0"]["instance_class"] == "db.serverless"
    # Auto-pause must keep working: no proxy and no global database (docs/data.md).
    assert preview.resources("data", "aws_db_proxy") == {}
    assert preview.resources("data", "aws_rds_global_cluster") == {}
    assert len(preview.resources("data", "aws_rds_cluster")) == 1


def test_max_acu_override(synth_variant) -> None:
    synth = synth_variant(HEBO_STAGE="production", HEBO_DB_MAX_ACU="32")
    assert cluster(synth, "hebo-production-db")["serverlessv2_scaling_configuration"]["max_capacity"] == 32
    assert cluster(synth, "hebo-production-db-secondary")["serverlessv2_scaling_configuration"]["max_capacity"] == 32


# -- global database ---------------------------------------------------------------------------


def test_production_global_cluster_and_secondary_region(production: Synth) -> None:
    (global_cluster,) = production.resources("data", "aws_rds_global_cluster").values()
    assert global_cluster["global_cluster_identifier"] == "hebo-production-global"
    assert (global_cluster["engine"], global_cluster["engine_version"]) == ("aurora-postgresql", "17.5")
    assert global_cluster["storage_encrypted"] is True and global_cluster["deletion_protection"] is True
    assert global_cluster["lifecycle"] == {"prevent_destroy": True, "ignore_changes": ["engine_version"]}
    global_ref = "${aws_rds_global_cluster.global_cluster.id}"
    assert cluster(production, "hebo-production-db")["global_cluster_identifier"] == global_ref

    secondary = cluster(production, "hebo-production-db-secondary")
    assert secondary["provider"] == "aws.us_west_2"
    assert secondary["global_cluster_identifier"] == global_ref
    assert secondary["kms_key_id"] == SECONDARY_KEY and secondary["storage_encrypted"] is True
    for absent in ("master_username", "master_password_wo", "master_password", "database_name"):
        assert absent not in secondary  # replicated from the primary
    assert secondary["deletion_protection"] is True and secondary["skip_final_snapshot"] is True
    assert secondary["lifecycle"] == {
        "prevent_destroy": True,
        "ignore_changes": ["replication_source_identifier", "engine_version"],
    }
    assert "aws_rds_cluster_instance.primary_writer_3C5EC01F" in secondary["depends_on"]
    assert "secondary_security_groups_database" in remote(secondary["vpc_security_group_ids"][0])
    subnets = by(production, "aws_db_subnet_group", "name")["hebo-production-db-subnets-secondary"]
    assert subnets["provider"] == "aws.us_west_2"
    assert all("secondary_private" in remote(s) for s in subnets["subnet_ids"]) and len(subnets["subnet_ids"]) == 2
    (instance,) = [i for i in production.resources("data", "aws_rds_cluster_instance").values() if i.get("provider")]
    assert instance["identifier"] == "hebo-production-db-secondary-0"
    assert instance["provider"] == "aws.us_west_2" and instance["performance_insights_kms_key_id"] == SECONDARY_KEY
    keys = production.resources("data", "aws_kms_key")
    assert keys["secondary_key_0934D75E"]["provider"] == "aws.us_west_2"
    assert keys["secondary_key_0934D75E"]["enable_key_rotation"] is True
    aliases = by(production, "aws_kms_alias", "name")
    assert aliases["alias/hebo-production-data-secondary"]["provider"] == "aws.us_west_2"


MONITORING_ROLE_ARN = "${aws_iam_role.monitoring_role_3C7E8759.arn}"


def found_instances(synth: Synth) -> list[dict]:
    """The data stack's DB instances (at least one: the writer)."""
    instances = list(synth.resources("data", "aws_rds_cluster_instance").values())
    assert instances
    return instances


@pytest.mark.parametrize(
    "fixture,instances",
    [
        ("production", ["primary_reader_1_A1BB28A5", "primary_writer_3C5EC01F", "secondary_writer_DCD4D00A"]),
        ("dev", ["primary_writer_3C5EC01F"]),
    ],
)
def test_enhanced_monitoring_in_dev_and_production(
    request: pytest.FixtureRequest, fixture: str, instances: list[str]
) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    role = by(synth, "aws_iam_role", "name")[f"hebo-{synth.stage}-db-monitoring"]
    assert "permissions_boundary" not in role
    trust = synth.data_sources("data", "aws_iam_policy_document")[role["assume_role_policy"].split(".")[2]]
    assert trust["statement"][0]["principals"] == [{"identifiers": ["monitoring.rds.amazonaws.com"], "type": "Service"}]
    # confused-deputy guard: only this account's instances of this stage, in either region (RDS User
    # Guide, "Setting up and enabling Enhanced Monitoring", "Protecting against the confused deputy problem")
    account = "${data.aws_caller_identity.account.account_id}"
    assert trust["statement"][0]["condition"] == [
        {"test": "StringEquals", "values": [account], "variable": "aws:SourceAccount"},
        {
            "test": "ArnLike",
            "values": [f"arn:${{data.aws_partition.partition.partition}}:rds:*:{account}:db:hebo-{synth.stage}-db-*"],
            "variable": "aws:SourceArn",
        },
    ]
    assert all(i.startswith(f"hebo-{synth.stage}-db-") for i in (r["identifier"] for r in found_instances(synth)))
    attachment = synth.resources("data", "aws_iam_role_policy_attachment")["monitoring_role_managed_0_543BA6C3"]
    assert {k: v for k, v in attachment.items() if k != "//"} == {
        "policy_arn": "arn:${data.aws_partition.partition.partition}:iam::aws:policy/service-role/"
        "AmazonRDSEnhancedMonitoringRole",
        "role": "${aws_iam_role.monitoring_role_3C7E8759.name}",
    }
    found = synth.resources("data", "aws_rds_cluster_instance")
    assert {name: (i["monitoring_interval"], i["monitoring_role_arn"]) for name, i in found.items()} == {
        name: (60, MONITORING_ROLE_ARN) for name in instances
    }


def test_previews_run_without_enhanced_monitoring(preview: Synth) -> None:
    """RDSOSMetrics is the account's (production writes there too) and a PR can create any
    `-db-monitoring` role with a trust policy of its choosing: previews have no role, interval 0."""
    assert sorted(by(preview, "aws_iam_role", "name")) == ["hebo-pr-42-migrator"]
    attachments = [a["policy_arn"] for a in preview.resources("data", "aws_iam_role_policy_attachment").values()]
    assert [a.rsplit("/", 1)[1] for a in attachments] == ["AWSLambdaVPCAccessExecutionRole"]
    (instance,) = preview.resources("data", "aws_rds_cluster_instance").values()
    assert instance["monitoring_interval"] == 0 and "monitoring_role_arn" not in instance
    assert instance["performance_insights_enabled"] is True  # Performance Insights stays on


def test_kms_keys_rotate_and_protection_follows_policy(any_stage: Synth) -> None:
    keys = any_stage.resources("data", "aws_kms_key")
    if expect(any_stage)["shared_stage_key"]:  # the network stack's stage key (test_network)
        assert keys == {} and any_stage.resources("data", "aws_kms_alias") == {}
        return
    assert len(keys) == (2 if expect(any_stage)["db_global_cluster"] else 1)
    for key in keys.values():
        assert key["enable_key_rotation"] is True
        assert key["deletion_window_in_days"] == expect(any_stage)["kms_deletion_window_days"]
        assert key["lifecycle"] == {"prevent_destroy": expect(any_stage)["protect"]}
    assert (
        by(any_stage, "aws_kms_alias", "name")[f"alias/hebo-{any_stage.stage}-data"]["target_key_id"]
        == "${aws_kms_key.key_F64E54E4.key_id}"
    )


# -- the master password -------------------------------------------------------------------------


def test_master_password_is_write_only_from_an_ephemeral_variable(any_stage: Synth) -> None:
    stack = any_stage.stack("data")
    assert stack["variable"]["db_password"] == {
        "description": stack["variable"]["db_password"]["description"],
        "ephemeral": True,
        "nullable": False,
        "sensitive": True,
        "type": "string",
        "validation": [
            {
                "condition": (
                    "${length(var.db_password) >= 8 && length(var.db_password) <= 41"
                    ' && can(regex("^[ -~]+$", var.db_password)) && !can(regex("[/\\"@]", var.db_password))}'
                ),
                "error_message": 'TF_VAR_db_password must be 8-41 printable ASCII characters except / " and @ (is the DbPassword secret set?).',
            }
        ],
    }
    c = cluster(any_stage, f"hebo-{any_stage.stage}-db")
    assert c["master_password_wo"] == "${var.db_password}"
    assert c["master_password_wo_version"] == 1
    raw = any_stage.raw("data")
    assert '"master_password"' not in raw and "manage_master_user_password" not in raw
    assert raw.count("var.db_password") == 5  # the write-only attribute and the validation condition (four times)


def test_password_version_bumps_from_configuration(synth_variant) -> None:
    synth = synth_variant(HEBO_STAGE="pr-42", HEBO_DB_PASSWORD_VERSION="3", HEBO_DB_USERNAME="heboowner")
    c = cluster(synth, "hebo-pr-42-db")
    assert (c["master_password_wo_version"], c["master_username"]) == (3, "heboowner")


# -- secrets -------------------------------------------------------------------------------------


def test_every_secret_container_is_encrypted_and_valueless(any_stage: Synth) -> None:
    """Production and dev own all nine secrets; a preview only the database's four (it reads the
    others from dev: tests/unit/test_template_secrets.py)."""
    secrets = by(any_stage, "aws_secretsmanager_secret", "name")
    expected = expect(any_stage)
    owned = SECRET_NAMES if expected["owns_app_secrets"] else DATABASE_SECRETS
    assert sorted(secrets) == sorted(f"hebo/{any_stage.stage}/{n}" for n in owned)
    assert len(secrets) == (9 if expected["owns_app_secrets"] else 4)
    for secret in secrets.values():
        assert secret["kms_key_id"] == stack_key(any_stage, KEY)
        assert secret["recovery_window_in_days"] == expected["secret_recovery_window_days"]
        assert secret["lifecycle"] == {"prevent_destroy": expected["protect"]}
    for stack in any_stage.stacks.values():  # no stack ever writes a value
        assert "aws_secretsmanager_secret_version" not in stack.get("resource", {})
    assert any_stage.data_sources("data", "aws_secretsmanager_secret_version") == {}  # nor reads one here


def test_secret_recovery_windows_per_stage(production: Synth, preview: Synth) -> None:
    assert {
        s["recovery_window_in_days"] for s in production.resources("data", "aws_secretsmanager_secret").values()
    } == {30}
    assert {s["recovery_window_in_days"] for s in preview.resources("data", "aws_secretsmanager_secret").values()} == {
        0
    }


# -- RDS Proxy -----------------------------------------------------------------------------------


def test_production_proxy(production: Synth) -> None:
    proxy = production.resource("data", "aws_db_proxy")
    assert proxy["name"] == "hebo-production-db-proxy"
    assert proxy["engine_family"] == "POSTGRESQL"
    assert proxy["require_tls"] is True and proxy["debug_logging"] is False
    # Two logins: the master (the migrator connects through the proxy) and the services' application role.
    assert proxy["auth"] == [
        {
            "auth_scheme": "SECRETS",
            "client_password_auth_type": "POSTGRES_SCRAM_SHA_256",
            "description": description,
            "iam_auth": "DISABLED",
            "secret_arn": arn,
        }
        for description, arn in [
            ("master user (migrator)", CREDENTIALS_ARN),
            ("application role (services)", APP_CREDENTIALS_ARN),
        ]
    ]
    assert len(proxy["vpc_security_group_ids"]) == 1 and "security_groups_db_proxy" in remote(
        proxy["vpc_security_group_ids"][0]
    )
    assert len(proxy["vpc_subnet_ids"]) == 2
    target = production.resource("data", "aws_db_proxy_target")
    assert target["db_cluster_identifier"] == "${aws_rds_cluster.primary_cluster_1167B7A8.cluster_identifier}"
    assert sorted(target["depends_on"]) == [
        "aws_rds_cluster_instance.primary_reader_1_A1BB28A5",
        "aws_rds_cluster_instance.primary_writer_3C5EC01F",
    ]
    role = by(production, "aws_iam_role", "name")["hebo-production-db-proxy"]
    trust = production.data_sources("data", "aws_iam_policy_document")["proxy_role_trust_DD309A03"]
    assert trust["statement"][0]["principals"] == [{"identifiers": ["rds.amazonaws.com"], "type": "Service"}]
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.proxy_role_trust_DD309A03.json}"
    permissions = production.data_sources("data", "aws_iam_policy_document")["proxy_role_permissions_C131C23B"]
    assert [(s["actions"], s["resources"]) for s in permissions["statement"]] == [
        (["secretsmanager:GetSecretValue"], [CREDENTIALS_ARN, APP_CREDENTIALS_ARN]),
        (["kms:Decrypt"], [KEY]),
    ]
    assert permissions["statement"][1]["condition"] == [
        {"test": "StringEquals", "values": ["secretsmanager.us-east-1.amazonaws.com"], "variable": "kms:ViaService"}
    ]


def test_one_database_endpoint_output(production: Synth, preview: Synth) -> None:
    assert production.stack("data")["output"]["db_endpoint"]["value"] == PROXY_ENDPOINT
    assert preview.stack("data")["output"]["db_endpoint"]["value"] == WRITER_ENDPOINT
    for synth in (production, preview):
        outputs = synth.stack("data")["output"]
        assert outputs["db_port"]["value"] == 5432 and outputs["db_name"]["value"] == "hebo"
        assert outputs["db_writer_endpoint"]["value"] == WRITER_ENDPOINT


# -- the migrator ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["production", "preview", "dev"])
def test_migrator_function(request: pytest.FixtureRequest, fixture: str) -> None:
    synth: Synth = request.getfixturevalue(fixture)
    fn = synth.resource("data", "aws_lambda_function")
    assert fn["function_name"] == f"hebo-{synth.stage}-migrator"
    assert (fn["runtime"], fn["architectures"], fn["handler"]) == (
        "python3.13",
        ["arm64"],
        "migrator.handler.lambda_handler",
    )
    assert (fn["timeout"], fn["memory_size"]) == (300, 512)
    # No reservation: Lambda keeps 100 executions unreserved, so a reservation fails on accounts with a
    # quota of 10 or 50; the migrator's advisory lock already serializes runs.
    assert "reserved_concurrent_executions" not in fn
    assert fn["kms_key_arn"] == stack_key(synth, KEY)
    assert fn["environment"] == {
        "variables": {
            "DB_HOST": WRITER_ENDPOINT,  # never RDS Proxy: advisory locks pin proxy sessions
            "DB_PORT": "5432",
            "DB_NAME": "hebo",
            "DB_SECRET_ARN": CREDENTIALS_ARN,
            "DB_APP_SECRET_ARN": APP_CREDENTIALS_ARN,
            "DB_APP_USER": "hebo_app",
        }
    }
    assert "security_groups_migrator" in remote(fn["vpc_config"]["security_group_ids"][0])
    assert len(fn["vpc_config"]["security_group_ids"]) == 1
    assert [("private" in remote(s)) for s in fn["vpc_config"]["subnet_ids"]] == [True, True]
    # The zip is an asset inside the synth output, referenced relatively and hashed.
    assert fn["filename"].startswith("assets/migrator_code_") and fn["filename"].endswith(".zip")
    assert (synth.outdir / "stacks" / "data" / fn["filename"]).is_file()
    assert len(fn["source_code_hash"]) == 44
    logs = by(synth, "aws_cloudwatch_log_group", "name")[f"/aws/lambda/hebo-{synth.stage}-migrator"]
    assert (
        logs["kms_key_id"] == stack_key(synth, KEY) and logs["retention_in_days"] == expect(synth)["log_retention_days"]
    )
    assert fn["logging_config"] == {
        "log_format": "Text",
        "log_group": "${aws_cloudwatch_log_group.migrator_logs_795BC0FB.name}",
    }


def test_migrator_role_reads_exactly_the_two_credentials_secrets(preview: Synth) -> None:
    docs = preview.data_sources("data", "aws_iam_policy_document")
    permissions = docs["migrator_role_permissions_D62B6278"]
    assert [(s["sid"], s["actions"], s["resources"]) for s in permissions["statement"]] == [
        ("ReadDbCredentials", ["secretsmanager:GetSecretValue"], [CREDENTIALS_ARN, APP_CREDENTIALS_ARN]),
        ("DecryptWithDataKey", ["kms:Decrypt"], [stack_key(preview, KEY)]),
    ]
    assert docs["migrator_role_trust_4AB7A0EE"]["statement"][0]["principals"] == [
        {"identifiers": ["lambda.amazonaws.com"], "type": "Service"}
    ]
    attachment = preview.resources("data", "aws_iam_role_policy_attachment")["migrator_role_managed_0_712D7B80"]
    assert attachment["policy_arn"].endswith(":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole")
    assert attachment["role"] == "${aws_iam_role.migrator_role_66B59054.name}"
    assert by(preview, "aws_iam_role", "name")["hebo-pr-42-migrator"]["assume_role_policy"].startswith(
        "${data.aws_iam_policy_document.migrator_role_trust"
    )


def test_migrations_run_on_deploy_after_the_database_is_up(production: Synth, preview: Synth) -> None:
    from stacks.data import build_migrator_bundle

    bundle = build_migrator_bundle(preview.settings.migrations_dir)
    for synth in (production, preview):
        invocation = synth.resource("data", "aws_lambda_invocation")
        assert invocation["function_name"] == "${aws_lambda_function.migrator_function_73FA135B.function_name}"
        assert invocation["input"] == "{}"
        assert invocation["triggers"] == {"migrations": bundle.migrations_sha256, "code": bundle.code_hash}
        assert "lifecycle_scope" not in invocation  # CREATE_ONLY: re-run only when a trigger changes
    assert production.resource("data", "aws_lambda_invocation")["depends_on"] == [
        "aws_rds_cluster_instance.primary_writer_3C5EC01F",
        "aws_rds_cluster_instance.primary_reader_1_A1BB28A5",
    ]
    assert preview.resource("data", "aws_lambda_invocation")["depends_on"] == [
        "aws_rds_cluster_instance.primary_writer_3C5EC01F"
    ]


def test_dev_has_the_migrator_but_no_invocation(dev: Synth) -> None:
    assert len(dev.resources("data", "aws_lambda_function")) == 1
    assert dev.resources("data", "aws_lambda_invocation") == {}


def test_invocation_triggers_follow_the_migrations_folder(synth_variant, tmp_path: Path) -> None:
    from stacks.data import build_migrator_bundle
    import shutil

    source = Path(synth_variant(HEBO_STAGE="pr-42").settings.migrations_dir)
    copy = tmp_path / "migrations"
    shutil.copytree(source, copy)
    base = build_migrator_bundle(source, tmp_path / "out")
    first_sql = sorted(copy.glob("*.sql"))[0]
    first_sql.write_text(first_sql.read_text() + "\n-- edited\n")
    edited = build_migrator_bundle(copy, tmp_path / "out")
    assert edited.migrations_sha256 != base.migrations_sha256
    assert edited.code_hash == base.code_hash


@pytest.mark.parametrize(
    "setup,message",
    [
        (lambda d: None, "not a directory"),
        (lambda d: d.mkdir(), "invalid migrations folder"),
        (
            lambda d: (d.mkdir(), (d / "meta").mkdir(), (d / "meta" / "_journal.json").write_text("{not json")),
            "invalid migrations folder",
        ),
    ],
)
def test_bad_migrations_folder_is_a_config_error(tmp_path: Path, setup, message: str) -> None:
    from stacks.data import build_migrator_bundle
    from config.stage import ConfigError

    folder = tmp_path / "migrations"
    setup(folder)
    with pytest.raises(ConfigError, match=f"invalid HEBO_MIGRATIONS_DIR .*{message}"):
        build_migrator_bundle(folder, tmp_path / "out")


# -- nothing secret in the synth output --------------------------------------------------------------

CANARY = "canary-Zq7vX2pL9-db-secret"


@pytest.fixture(scope="module")
def canary_synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synth with the canary everywhere a user might put a password: env vars, TF_VAR, context."""
    from main import build_app
    from config.settings import Settings

    outdir = tmp_path_factory.mktemp("canary") / "cdktf.out"
    planted = {
        "TF_VAR_db_password": CANARY,
        "HEBO_DB_PASSWORD": CANARY,
        "DB_PASSWORD": CANARY,
        "PGPASSWORD": CANARY,
        "DbPassword": CANARY,
        "HEBO_STAGE": "production",
        "CDKTF_CONTEXT_JSON": json.dumps({"db_password": CANARY, "DbPassword": CANARY, "stage": "production"}),
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in planted.items():
            patch.setenv(name, value)
        settings = Settings.load(os.environ)
        platform = build_app(settings, outdir=str(outdir))
        platform.app.synth()
    return outdir


def test_canary_appears_nowhere_in_the_synth_output(canary_synth: Path) -> None:
    files = [p for p in canary_synth.rglob("*") if p.is_file()]
    assert any(p.name == "cdk.tf.json" and p.parent.name == "data" for p in files)
    leaks = [str(p) for p in files if CANARY.encode() in p.read_bytes()]
    assert leaks == []
    # The variable exists (so TF_VAR_db_password is what Terraform reads) but carries no default.
    data = json.loads((canary_synth / "stacks" / "data" / "cdk.tf.json").read_text())
    assert "default" not in data["variable"]["db_password"]


# -- the master password rule, evaluated by Terraform itself ------------------------------------
PASSWORD_SAMPLES = [
    "abcdefgh",
    "abc",
    "good-Pass_123 x",
    "has/slash1",
    'has"quote1',
    "has@at1234",
    "a" * 41,
    "a" * 42,
    "tab\there1",
    "ünïcödé-pw",
]


def test_password_validation_matches_aurora_rule_in_terraform(preview: Synth, tmp_path: Path) -> None:
    """The plan-time validation (HCL) and `ops`' set-time check (Python) accept exactly the same values."""
    import shutil
    import subprocess

    from config.secrets import db_password_problem

    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform CLI not installed (needed only to evaluate the HCL condition)")
    condition = preview.stack("data")["variable"]["db_password"]["validation"][0]["condition"]
    assert condition.startswith("${") and condition.endswith("}")
    for sample in PASSWORD_SAMPLES:
        expression = condition[2:-1].replace("var.db_password", json.dumps(sample))
        result = subprocess.run(
            [terraform, "console"],
            input=expression,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"},
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == ("true" if db_password_problem(sample) is None else "false"), sample


def test_instance_parameter_groups(production: Synth, preview: Synth) -> None:
    """Instance groups carry no parameters (all settings are cluster-level), one per cluster and region."""
    strip = lambda groups: {cfg["name"]: {k: v for k, v in cfg.items() if k != "//"} for cfg in groups.values()}  # noqa: E731 - a one-line local projection
    assert strip(production.resources("data", "aws_db_parameter_group")) == {
        "hebo-production-db-instance-params": {
            "name": "hebo-production-db-instance-params",
            "family": "aurora-postgresql17",
            "description": "Instance parameters of hebo-production-db",
        },
        "hebo-production-db-instance-params-secondary": {
            "name": "hebo-production-db-instance-params-secondary",
            "family": "aurora-postgresql17",
            "description": "Instance parameters of hebo-production-db-secondary",
            "provider": "aws.us_west_2",
        },
    }
    assert strip(preview.resources("data", "aws_db_parameter_group")) == {
        "hebo-pr-42-db-instance-params": {
            "name": "hebo-pr-42-db-instance-params",
            "family": "aurora-postgresql17",
            "description": "Instance parameters of hebo-pr-42-db",
        }
    }


def test_proxy_connection_pool(production: Synth, preview: Synth) -> None:
    """The proxy may use 90% of the cluster's connections and makes clients wait at most 2 minutes."""
    group = production.resource("data", "aws_db_proxy_default_target_group")
    assert {k: v for k, v in group.items() if k != "//"} == {
        "db_proxy_name": "${aws_db_proxy.proxy_5B0EBCF1.name}",
        "connection_pool_config": {"connection_borrow_timeout": 120, "max_connections_percent": 90},
    }
    assert preview.resources("data", "aws_db_proxy_default_target_group") == {}


# -- the same stack through cdktf's Testing matchers (the API README.md documents for users) ----
from modules.cdk import Testing  # noqa: E402  (imported where the section using cdktf's matchers begins)


def test_testing_matchers_database_per_stage(production: Synth, preview: Synth) -> None:
    data = production.raw("data")
    assert Testing.to_have_resource_with_properties(
        data,
        "aws_rds_cluster",
        {
            "engine": "aurora-postgresql",
            "engine_mode": "provisioned",
            "storage_encrypted": True,
            "deletion_protection": True,
            "skip_final_snapshot": False,
            "backup_retention_period": 14,
            "serverlessv2_scaling_configuration": {"min_capacity": 0.5, "max_capacity": 16},
        },
    )
    assert Testing.to_have_resource_with_properties(
        data, "aws_db_proxy", {"engine_family": "POSTGRESQL", "require_tls": True}
    )
    assert Testing.to_have_resource_with_properties(
        data, "aws_lambda_function", {"function_name": "hebo-production-migrator", "architectures": ["arm64"]}
    )
    paused = {
        "deletion_protection": False,
        "serverlessv2_scaling_configuration": {"min_capacity": 0, "max_capacity": 4, "seconds_until_auto_pause": 1200},
    }
    assert Testing.to_have_resource_with_properties(preview.raw("data"), "aws_rds_cluster", paused)
    assert not Testing.to_have_resource(preview.raw("data"), "aws_db_proxy")


def test_data_outputs_have_no_placeholder_defaults() -> None:
    """Every field of DataOutputs is required: an empty default would reach compute as `""`."""
    import dataclasses

    from stacks.data import DataOutputs

    fields = dataclasses.fields(DataOutputs)
    assert len(fields) >= 10
    assert [
        f.name for f in fields if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ] == []
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'migrator_function_name'"):
        DataOutputs(**{f.name: "x" for f in fields if f.name != "migrator_function_name"})

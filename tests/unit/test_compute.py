"""The compute stack: exact properties for production and a preview stage (issue #6)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from synth_support import Synth

from modules.service.image import context_hash, ecr_repository_arn
from stacks.compute import require_dockerfiles
from config.secrets import secrets_for
from config.stage import ConfigError

SERVICES = {"api": ("HeboApiService", 3001), "gateway": ("HeboGatewayService", 3002)}
DOMAINS = {
    "production": {"api": "api.hebo.ai", "gateway": "gateway.hebo.ai"},
    "pr-42": {"api": "pr-42.dev.api.hebo.ai", "gateway": "pr-42.dev.gateway.hebo.ai"},
}
EXPECTED_SECRET_ENV = {
    "api": {"PG_PASSWORD": "DbCredentials", "STACK_SECRET_SERVER_KEY": "StackSecretServerKey", "VITE_STACK_PROJECT_ID": "StackProjectId"},
    "gateway": {
        "PG_PASSWORD": "DbCredentials",
        "STACK_SECRET_SERVER_KEY": "StackSecretServerKey",
        "VITE_STACK_PROJECT_ID": "StackProjectId",
        "GROQ_API_KEY": "GroqApiKey",
        "VOYAGE_API_KEY": "VoyageApiKey",
    },
}
PREBUILT = {
    "HEBO_API_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/ci/api@sha256:" + "a" * 64,
    "HEBO_GATEWAY_IMAGE": "ghcr.io/hebo-ai/gateway:1.2.3",
    "HEBO_ALARM_EMAIL": "oncall@example.com",
}
EXPECTED_JSON_KEY = {"PG_PASSWORD": "password"}
"""Env vars injected from one member of a JSON secret (ECS `valueFrom = "<arn>:<key>::"`)."""
REMOTE = "data.terraform_remote_state.cross-stack-reference-input-{stack}.outputs."


@pytest.fixture(scope="module")
def prebuilt(synth_variant: Any) -> Synth:
    return synth_variant(HEBO_STAGE="pr-42", **PREBUILT)


@pytest.fixture(params=["production", "preview"])
def stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


# -- helpers ---------------------------------------------------------------------------------
def one(s: Synth, rtype: str, prefix: str) -> tuple[str, dict[str, Any]]:
    """The single resource of `rtype` whose logical id starts with `prefix`."""
    found = [(k, v) for k, v in s.resources("compute", rtype).items() if k.startswith(prefix)]
    assert len(found) == 1, f"{rtype} {prefix}: {[k for k, _ in found]}"
    return found[0]


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's arguments without cdktf's `//` metadata."""
    return {k: v for k, v in resource.items() if k != "//"}


def ref(rtype: str, logical: str, attr: str) -> str:
    return f"${{{rtype}.{logical}.{attr}}}"


def resolve(s: Synth, stack: str, reference: str) -> str:
    """`${data.terraform_remote_state...outputs.X}` → the value expression of output X upstream."""
    match = re.fullmatch(r"\$\{" + re.escape(REMOTE.format(stack=stack)) + r"([^}]+)\}", reference)
    assert match, reference
    return s.stack(stack)["output"][match.group(1)]["value"]


def secret_name(s: Synth, reference: str) -> str:
    """The Secrets Manager name behind a cross-stack secret ARN reference."""
    target = resolve(s, "data", reference)
    match = re.fullmatch(r"\$\{aws_secretsmanager_secret\.([^.]+)\.arn\}", target)
    assert match, target
    return s.resources("data", "aws_secretsmanager_secret")[match.group(1)]["name"]


def decode_jsonencode(expression: str) -> Any:
    """`${jsonencode([...])}` (HCL object syntax with bare references) → Python, references as `${…}`."""
    assert expression.startswith("${jsonencode(") and expression.endswith(")}"), expression[:40]
    body, out, i = expression[len("${jsonencode(") : -2], [], 0
    while i < len(body):
        char = body[i]
        if char == '"':
            j = i + 1
            while body[j] != '"':
                j += 2 if body[j] == "\\" else 1
            out.append(body[i : j + 1])
            i = j + 1
        elif body.startswith(" = ", i):
            out.append(": ")
            i += 3
        elif char.isalpha() or char == "_":
            word = re.match(r"[A-Za-z_][\w.\-]*", body[i:]).group(0)  # type: ignore[union-attr]
            out.append(word if word in ("true", "false", "null") else json.dumps("${" + word + "}"))
            i += len(word)
        else:
            out.append(char)
            i += 1
    return json.loads("".join(out))


def container(s: Synth, svc: str) -> dict[str, Any]:
    _, task = one(s, "aws_ecs_task_definition", f"{svc}_service_task")
    (definition,) = decode_jsonencode(task["container_definitions"])
    return definition


def statements(s: Synth, role_prefix: str) -> list[dict[str, Any]]:
    docs = {k: v for k, v in s.data_sources("compute", "aws_iam_policy_document").items() if k.startswith(f"{role_prefix}_permissions")}
    assert len(docs) == 1, sorted(docs)
    return next(iter(docs.values()))["statement"]


# -- cluster ---------------------------------------------------------------------------------
def test_one_cluster_with_both_fargate_providers(stage: Synth) -> None:
    _, cluster = one(stage, "aws_ecs_cluster", "cluster")
    assert cluster["name"] == f"hebo-{stage.stage}"
    insights = "enabled" if stage.stage == "production" else "disabled"
    assert cluster["setting"] == [{"name": "containerInsights", "value": insights}]
    _, providers = one(stage, "aws_ecs_cluster_capacity_providers", "cluster")
    assert providers["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    default = "FARGATE" if stage.stage == "production" else "FARGATE_SPOT"
    assert providers["default_capacity_provider_strategy"] == [{"base": 0, "capacity_provider": default, "weight": 1}]


def test_ecs_exec_session_logging_only_where_exec_is_enabled(production: Synth, preview: Synth) -> None:
    _, cluster = one(production, "aws_ecs_cluster", "cluster")
    assert "configuration" not in cluster
    assert "exec_logs" not in production.resources("compute", "aws_cloudwatch_log_group")
    _, cluster = one(preview, "aws_ecs_cluster", "cluster")
    key_logical, _ = one(preview, "aws_kms_key", "key")
    assert cluster["configuration"] == {
        "execute_command_configuration": {
            "kms_key_id": ref("aws_kms_key", key_logical, "arn"),
            "logging": "OVERRIDE",
            "log_configuration": {
                "cloud_watch_encryption_enabled": True,
                "cloud_watch_log_group_name": "${aws_cloudwatch_log_group.exec_logs.name}",
            },
        }
    }
    assert preview.resource("compute", "aws_cloudwatch_log_group", "exec_logs")["name"] == "/ecs/hebo-pr-42/exec"


def test_compute_key_alias_rotation_and_protection(stage: Synth) -> None:
    _, key = one(stage, "aws_kms_key", "key")
    assert key["enable_key_rotation"] is True
    assert key["lifecycle"] == {"prevent_destroy": stage.stage == "production"}
    _, alias = one(stage, "aws_kms_alias", "key")
    assert alias["name"] == f"alias/hebo-{stage.stage}-compute"


# -- task definitions ------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_task_definition_is_fargate_arm64_sized_per_stage(stage: Synth, svc: str) -> None:
    display, _ = SERVICES[svc]
    _, task = one(stage, "aws_ecs_task_definition", f"{svc}_service_task")
    cpu, memory = ("1024", "2048") if stage.stage == "production" else ("256", "512")
    exec_volumes = [] if stage.stage == "production" else [{"name": "exec-agents"}, {"name": "exec-ssm-lib"}, {"name": "exec-ssm-log"}]
    assert {k: v for k, v in task.items() if k not in ("//", "container_definitions", "execution_role_arn", "task_role_arn")} == {
        "family": f"hebo-{stage.stage}-{display}",
        "cpu": cpu,
        "memory": memory,
        "network_mode": "awsvpc",
        "requires_compatibilities": ["FARGATE"],
        "runtime_platform": {"cpu_architecture": "ARM64", "operating_system_family": "LINUX"},
        "volume": [{"name": "tmp"}] + exec_volumes,
    }
    exec_role, _ = one(stage, "aws_iam_role", f"{svc}_execution_role")
    task_role, _ = one(stage, "aws_iam_role", f"{svc}_task_role")
    assert task["execution_role_arn"] == ref("aws_iam_role", exec_role, "arn")
    assert task["task_role_arn"] == ref("aws_iam_role", task_role, "arn")


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_container_environment_is_exact_and_secret_free(stage: Synth, svc: str) -> None:
    display, port = SERVICES[svc]
    c = container(stage, svc)
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert [e["name"] for e in c["environment"]] == sorted(env)  # sorted: stable task definition JSON
    assert set(env) == {"PORT", "LOG_LEVEL", "NO_COLOR", "PG_HOST", "PG_PORT", "PG_DATABASE", "PG_USER"}
    assert env["PORT"] == str(port)
    assert env["LOG_LEVEL"] == ("info" if stage.stage == "production" else "debug")
    assert env["NO_COLOR"] == "1"
    assert env["PG_PORT"] == "5432" and env["PG_DATABASE"] == "hebo"
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", env["PG_USER"]), env["PG_USER"]
    # Through RDS Proxy where the policy has one (production), else the cluster writer.
    endpoint = r"\$\{aws_db_proxy\.[^.]+\.endpoint\}" if stage.settings.policy.db_proxy else r"\$\{aws_rds_cluster\.[^.]+\.endpoint\}"
    assert re.fullmatch(endpoint, resolve(stage, "data", env["PG_HOST"])), env["PG_HOST"]
    assert not set(env) & set(EXPECTED_SECRET_ENV[svc])
    assert not any(s.env in env for s in secrets_for(svc) if s.env)


def split_value_from(value_from: str) -> tuple[str, str | None]:
    """`${ref}` → (`${ref}`, None); `${ref}:key::` → (`${ref}`, "key") — nothing else is accepted."""
    match = re.fullmatch(r"(\$\{[^}]+\})(?::([A-Za-z_]+)::)?", value_from)
    assert match, value_from
    return match.group(1), match.group(2)


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_container_secrets_reference_exactly_the_service_secrets(stage: Synth, svc: str) -> None:
    c = container(stage, svc)
    assert [e["name"] for e in c["secrets"]] == sorted(EXPECTED_SECRET_ENV[svc])
    resolved = {}
    for entry in c["secrets"]:
        arn, key = split_value_from(entry["valueFrom"])
        assert key == EXPECTED_JSON_KEY.get(entry["name"]), entry
        resolved[entry["name"]] = secret_name(stage, arn)
    assert resolved == {env: f"hebo/{stage.stage}/{name}" for env, name in EXPECTED_SECRET_ENV[svc].items()}


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_pg_password_is_the_password_member_of_the_proxy_and_migrator_secret(stage: Synth, svc: str) -> None:
    """One source of truth: services, RDS Proxy and the migrator all read DbCredentials."""
    value_from = {e["name"]: e["valueFrom"] for e in container(stage, svc)["secrets"]}["PG_PASSWORD"]
    output = "cross-stack-output-aws_secretsmanager_secretsecret_DbCredentialsarn"
    assert value_from == f"${{{REMOTE.format(stack='data')}{output}}}:password::"
    assert stage.stack("data")["output"][output]["value"] == "${aws_secretsmanager_secret.secret_DbCredentials.arn}"
    (function,) = stage.resources("data", "aws_lambda_function").values()
    assert function["environment"]["variables"]["DB_SECRET_ARN"] == "${aws_secretsmanager_secret.secret_DbCredentials.arn}"
    proxies = stage.resources("data", "aws_db_proxy")
    assert len(proxies) == (1 if stage.settings.policy.db_proxy else 0)
    for proxy in proxies.values():
        assert [a["secret_arn"] for a in proxy["auth"]] == ["${aws_secretsmanager_secret.secret_DbCredentials.arn}"]
    assert "DbPassword" not in json.dumps(container(stage, svc))


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_container_is_hardened_and_logs_to_its_group(stage: Synth, svc: str) -> None:
    display, port = SERVICES[svc]
    c = container(stage, svc)
    assert c["name"] == display
    assert c["essential"] is True
    assert c["user"] == "65532:65532"
    assert c["readonlyRootFilesystem"] is True
    assert c["linuxParameters"] == {"initProcessEnabled": True}
    assert c["portMappings"] == [{"containerPort": port, "hostPort": port, "protocol": "tcp", "name": "http"}]
    assert "healthCheck" not in c  # distroless: no shell; the ALB health check decides
    assert c["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": f"${{aws_cloudwatch_log_group.{svc}_logs.name}}",
            "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": display,
            "mode": "non-blocking",
            "max-buffer-size": "25m",
        },
    }
    mounts = [m["containerPath"] for m in c["mountPoints"]]
    expected = ["/tmp"] + ([] if stage.stage == "production" else ["/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"])
    assert mounts == expected


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_build_mode_image_is_pinned_by_digest(preview: Synth, svc: str) -> None:
    repo, _ = one(preview, "aws_ecr_repository", f"{svc}_repository")
    push, _ = one(preview, "docker_registry_image", f"{svc}_image_push")
    assert container(preview, svc)["image"] == (
        f"{ref('aws_ecr_repository', repo, 'repository_url')}@{ref('docker_registry_image', push, 'sha256_digest')}"
    )


def test_log_groups_are_encrypted_with_stage_retention(stage: Synth) -> None:
    key, _ = one(stage, "aws_kms_key", "key")
    for svc, (display, _) in SERVICES.items():
        group = clean(stage.resource("compute", "aws_cloudwatch_log_group", f"{svc}_logs"))
        assert group == {
            "name": f"/ecs/hebo-{stage.stage}/{display}",
            "retention_in_days": 365 if stage.stage == "production" else 7,
            "kms_key_id": ref("aws_kms_key", key, "arn"),
        }


# -- services --------------------------------------------------------------------------------
def _network_refs(s: Synth, rtype: str, predicate: Any) -> set[str]:
    """Primary-region network resources (the production secondary region uses an aliased provider)."""
    network = s.resources("network", rtype)
    return {f"${{{rtype}.{k}.id}}" for k, v in network.items() if "provider" not in v and predicate(k, v)}


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_service_runs_private_without_public_ip_with_rollback(stage: Synth, svc: str) -> None:
    display, port = SERVICES[svc]
    _, service = one(stage, "aws_ecs_service", f"{svc}_service")
    production = stage.stage == "production"
    network = service["network_configuration"]
    assert network["assign_public_ip"] is False
    private = _network_refs(stage, "aws_subnet", lambda k, v: "private" in v.get("tags", {}).get("Name", ""))
    assert len(private) >= 2
    assert {resolve(stage, "network", r) for r in network["subnets"]} == private
    (group,) = network["security_groups"]
    assert resolve(stage, "network", group) in _network_refs(
        stage, "aws_security_group", lambda k, v: v.get("name") == f"hebo-{stage.stage}-service"
    )
    tg, _ = one(stage, "aws_lb_target_group", f"{svc}_alb_targets")
    https, _ = one(stage, "aws_lb_listener", f"{svc}_alb_https")
    providers, _ = one(stage, "aws_ecs_cluster_capacity_providers", "cluster")
    assert {k: service[k] for k in service if k not in ("//", "network_configuration", "cluster", "task_definition")} == {
        "name": display,
        "desired_count": 4 if production else 1,
        "capacity_provider_strategy": [{"base": 0, "capacity_provider": "FARGATE" if production else "FARGATE_SPOT", "weight": 1}],
        "platform_version": "LATEST",
        "load_balancer": [{"container_name": display, "container_port": port, "target_group_arn": ref("aws_lb_target_group", tg, "arn")}],
        "deployment_circuit_breaker": {"enable": True, "rollback": True},
        "deployment_maximum_percent": 200,
        "deployment_minimum_healthy_percent": 100,
        "health_check_grace_period_seconds": 60,
        "enable_execute_command": not production,
        "wait_for_steady_state": production,
        "propagate_tags": "SERVICE",
        "enable_ecs_managed_tags": True,
        "lifecycle": {"ignore_changes": ["desired_count"]},
        "depends_on": [f"aws_lb_listener.{https}", f"aws_ecs_cluster_capacity_providers.{providers}"],
    }
    assert "launch_type" not in service


# -- load balancers, certificates, DNS -------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_alb_is_public_hardened_and_protected_in_production(stage: Synth, svc: str) -> None:
    _, alb = one(stage, "aws_lb", f"{svc}_alb")
    public = _network_refs(stage, "aws_subnet", lambda k, v: "public" in v.get("tags", {}).get("Name", ""))
    assert {resolve(stage, "network", r) for r in alb["subnets"]} == public
    (group,) = alb["security_groups"]
    assert resolve(stage, "network", group) in _network_refs(
        stage, "aws_security_group", lambda k, v: v.get("name") == f"hebo-{stage.stage}-alb"
    )
    # access_logs and depends_on: test_alb_writes_access_logs_under_its_service_prefix
    assert {k: v for k, v in alb.items() if k not in ("//", "subnets", "security_groups", "access_logs", "depends_on")} == {
        "name": f"hebo-{stage.stage}-{svc}",
        "internal": False,
        "load_balancer_type": "application",
        "ip_address_type": "dualstack",  # A and AAAA aliases both answer; targets stay IPv4 (target group test)
        "drop_invalid_header_fields": True,
        "desync_mitigation_mode": "defensive",
        "enable_deletion_protection": stage.stage == "production",
        "enable_http2": True,
        "idle_timeout": 60,
    }


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_listeners_redirect_http_and_forward_https_with_modern_tls(stage: Synth, svc: str) -> None:
    alb, _ = one(stage, "aws_lb", f"{svc}_alb")
    tg, _ = one(stage, "aws_lb_target_group", f"{svc}_alb_targets")
    validated, _ = one(stage, "aws_acm_certificate_validation", f"{svc}_certificate")
    _, http = one(stage, "aws_lb_listener", f"{svc}_alb_http_")
    _, https = one(stage, "aws_lb_listener", f"{svc}_alb_https")
    assert {k: v for k, v in http.items() if k != "//"} == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 80,
        "protocol": "HTTP",
        "default_action": [{"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}],
    }
    assert {k: v for k, v in https.items() if k != "//"} == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificate_arn": ref("aws_acm_certificate_validation", validated, "certificate_arn"),
        "default_action": [{"type": "forward", "target_group_arn": ref("aws_lb_target_group", tg, "arn")}],
    }


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_target_group_is_ip_on_service_port(stage: Synth, svc: str) -> None:
    _, port = SERVICES[svc]
    _, tg = one(stage, "aws_lb_target_group", f"{svc}_alb_targets")
    tg = dict(tg)  # the synth is shared by the session
    (vpc,) = _network_refs(stage, "aws_vpc", lambda k, v: True)
    assert resolve(stage, "network", tg.pop("vpc_id")) == vpc
    assert {k: v for k, v in tg.items() if k != "//"} == {
        "name": f"hebo-{stage.stage}-{svc}",
        "port": port,
        "protocol": "HTTP",
        "protocol_version": "HTTP1",
        "target_type": "ip",
        "deregistration_delay": "30",
        "health_check": {
            "enabled": True,
            "protocol": "HTTP",
            "port": "traffic-port",
            "path": "/",
            "matcher": "200-399",
            "interval": 15,
            "timeout": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 3,
        },
    }


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_certificate_validation_and_alias_records_per_stage(stage: Synth, svc: str) -> None:
    domain = DOMAINS[stage.stage][svc]
    cert_logical, cert = one(stage, "aws_acm_certificate", f"{svc}_certificate")
    assert cert["domain_name"] == domain and cert["validation_method"] == "DNS"
    zone = "${" + REMOTE.format(stack="dns")
    _, validation = one(stage, "aws_route53_record", f"{svc}_certificate_validation")
    assert validation["zone_id"].startswith(zone)
    assert validation["for_each"] == (
        f"${{{{ for key, val in tolist(aws_acm_certificate.{cert_logical}.domain_validation_options): val.domain_name => val }}}}"
    )
    alb, _ = one(stage, "aws_lb", f"{svc}_alb")
    for record_type in ("A", "AAAA"):
        record = stage.resource("compute", "aws_route53_record", f"{svc}_alias_{record_type.lower()}")
        assert record["zone_id"].startswith(zone)
        assert {k: v for k, v in record.items() if k not in ("//", "zone_id")} == {
            "name": domain,
            "type": record_type,
            "alias": {"name": ref("aws_lb", alb, "dns_name"), "zone_id": ref("aws_lb", alb, "zone_id"), "evaluate_target_health": True},
        }


# -- autoscaling -----------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_autoscaling_bounds_and_target_tracking_per_stage(stage: Synth, svc: str) -> None:
    display, _ = SERVICES[svc]
    target_logical, target = one(stage, "aws_appautoscaling_target", f"{svc}_scaling")
    cluster, _ = one(stage, "aws_ecs_cluster", "cluster")
    service, _ = one(stage, "aws_ecs_service", f"{svc}_service")
    low, high = (4, 16) if stage.stage == "production" else (1, 1)
    assert {k: v for k, v in target.items() if k != "//"} == {
        "service_namespace": "ecs",
        "scalable_dimension": "ecs:service:DesiredCount",
        "resource_id": f"service/{ref('aws_ecs_cluster', cluster, 'name')}/{ref('aws_ecs_service', service, 'name')}",
        "min_capacity": low,
        "max_capacity": high,
    }
    policies = {k: v for k, v in stage.resources("compute", "aws_appautoscaling_policy").items() if k.startswith(f"{svc}_scaling")}
    metrics = {
        p["name"]: (
            p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"]["predefined_metric_type"],
            p["target_tracking_scaling_policy_configuration"]["target_value"],
        )
        for p in policies.values()
    }
    prefix = f"hebo-{stage.stage}-{svc}"
    assert metrics == {
        f"{prefix}-cpu": ("ECSServiceAverageCPUUtilization", 70),
        f"{prefix}-memory": ("ECSServiceAverageMemoryUtilization", 70),
    }
    for policy in policies.values():
        assert policy["policy_type"] == "TargetTrackingScaling"
        assert policy["resource_id"] == ref("aws_appautoscaling_target", target_logical, "resource_id")


# -- IAM -------------------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_execution_role_reads_exactly_its_secrets(stage: Synth, svc: str) -> None:
    repo, _ = one(stage, "aws_ecr_repository", f"{svc}_repository")
    found = {s["sid"]: s for s in statements(stage, f"{svc}_execution_role")}
    assert list(found) == ["EcrLogin", "PullImage", "WriteLogs", "ReadSecrets", "DecryptSecrets"]
    assert found["EcrLogin"]["actions"] == ["ecr:GetAuthorizationToken"] and found["EcrLogin"]["resources"] == ["*"]
    assert found["PullImage"]["resources"] == [ref("aws_ecr_repository", repo, "arn")]
    assert found["WriteLogs"]["resources"] == [f"${{aws_cloudwatch_log_group.{svc}_logs.arn}}:log-stream:*"]
    assert found["ReadSecrets"]["actions"] == ["secretsmanager:GetSecretValue"]
    # Exact ARNs (IAM does not take ECS's `:password::` suffix), each secret once: DbCredentials, not DbPassword.
    assert all(re.fullmatch(r"\$\{[^}]+\}", r) for r in found["ReadSecrets"]["resources"]), found["ReadSecrets"]
    names = sorted(secret_name(stage, r) for r in found["ReadSecrets"]["resources"])
    assert names == sorted(f"hebo/{stage.stage}/{n}" for n in EXPECTED_SECRET_ENV[svc].values())
    assert f"hebo/{stage.stage}/DbCredentials" in names and f"hebo/{stage.stage}/DbPassword" not in names
    decrypt = found["DecryptSecrets"]
    assert decrypt["actions"] == ["kms:Decrypt"]
    (key_ref,) = decrypt["resources"]
    assert re.fullmatch(r"\$\{aws_kms_key\.[^.]+\.arn\}", resolve(stage, "data", key_ref))
    assert decrypt["condition"] == [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": ["secretsmanager.us-east-1.amazonaws.com"]}
    ]
    # Nothing else anywhere in the policy may name a secret.
    everything = json.dumps(found)
    assert everything.count("secretsmanager_secret") == len(EXPECTED_SECRET_ENV[svc])


def test_task_role_has_no_permissions_in_production(production: Synth) -> None:
    policies = production.resources("compute", "aws_iam_role_policy")
    assert sorted(k.split("_role")[0] for k in policies) == ["api_execution", "gateway_execution"]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_task_role_gets_ecs_exec_channels_in_previews(preview: Synth, svc: str) -> None:
    key, _ = one(preview, "aws_kms_key", "key")
    assert statements(preview, f"{svc}_task_role") == [
        {
            "sid": "EcsExecChannels",
            "effect": "Allow",
            "actions": [
                "ssmmessages:CreateControlChannel",
                "ssmmessages:CreateDataChannel",
                "ssmmessages:OpenControlChannel",
                "ssmmessages:OpenDataChannel",
            ],
            "resources": ["*"],
        },
        {"sid": "EcsExecDescribeLogs", "effect": "Allow", "actions": ["logs:DescribeLogGroups"], "resources": ["*"]},
        {
            "sid": "EcsExecLogs",
            "effect": "Allow",
            "actions": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "resources": ["${aws_cloudwatch_log_group.exec_logs.arn}:log-stream:*"],
        },
        {"sid": "EcsExecKms", "effect": "Allow", "actions": ["kms:Decrypt", "kms:GenerateDataKey"], "resources": [ref("aws_kms_key", key, "arn")]},
    ]


def test_roles_trust_only_this_accounts_ecs_tasks(stage: Synth) -> None:
    trusts = {k: v for k, v in stage.data_sources("compute", "aws_iam_policy_document").items() if "_role_trust" in k}
    assert len(trusts) == 4
    for trust in trusts.values():
        (statement,) = trust["statement"]
        assert statement["principals"] == [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}]
        assert [c["variable"] for c in statement["condition"]] == ["aws:SourceAccount", "aws:SourceArn"]
    roles = {v["name"] for v in stage.resources("compute", "aws_iam_role").values()}
    assert roles == {f"hebo-{stage.stage}-{r}" for r in ("api-exec", "api-task", "gateway-exec", "gateway-task")}


# -- ECR and images --------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_ecr_repository_is_hardened(stage: Synth, svc: str) -> None:
    key, _ = one(stage, "aws_kms_key", "key")
    repo_logical, repo = one(stage, "aws_ecr_repository", f"{svc}_repository")
    assert {k: v for k, v in repo.items() if k != "//"} == {
        "name": f"hebo-{stage.stage}/{svc}",
        "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": {"scan_on_push": True},
        "encryption_configuration": [{"encryption_type": "KMS", "kms_key": ref("aws_kms_key", key, "arn")}],
        "force_delete": stage.stage != "production",
    }
    _, lifecycle = one(stage, "aws_ecr_lifecycle_policy", f"{svc}_repository")
    assert lifecycle["repository"] == ref("aws_ecr_repository", repo_logical, "name")
    assert json.loads(lifecycle["policy"]) == {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest 20 images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 20},
                "action": {"type": "expire"},
            }
        ]
    }


def test_build_mode_builds_and_pushes_with_the_docker_provider(stage: Synth) -> None:
    stack = stage.stack("compute")
    assert stack["terraform"]["required_providers"]["docker"]["source"] == "kreuzwerker/docker"
    # The registry token is ephemeral: never in state (a data source would keep it there).
    assert stack["ephemeral"] == {"aws_ecr_authorization_token": {"docker_ecr_token": {"provider": "aws"}}}
    assert "aws_ecr_authorization_token" not in stack.get("data", {})
    token = "${ephemeral.aws_ecr_authorization_token.docker_ecr_token"
    assert stack["provider"]["docker"] == [
        {"registry_auth": [{"address": f"{token}.proxy_endpoint}}", "username": f"{token}.user_name}}", "password": f"{token}.password}}"}]}
    ]
    context = stage.settings.app_repo
    tag = context_hash(context)[:32]
    for svc in SERVICES:
        repo, _ = one(stage, "aws_ecr_repository", f"{svc}_repository")
        image_logical, image = one(stage, "docker_image", f"{svc}_image")
        triggers = {"context_sha256": tag, "dockerfile": f"Dockerfile.{svc}"}
        assert {k: v for k, v in image.items() if k != "//"} == {
            "name": f"{ref('aws_ecr_repository', repo, 'repository_url')}:{tag}",
            "platform": "linux/arm64",
            "build": {"context": "../../../../../docker/example-app", "dockerfile": f"Dockerfile.{svc}", "platform": "linux/arm64"},
            "keep_locally": True,
            "triggers": triggers,
            "provider": "docker",
        }
        _, push = one(stage, "docker_registry_image", f"{svc}_image_push")
        assert {k: v for k, v in push.items() if k != "//"} == {
            "name": ref("docker_image", image_logical, "name"),
            "keep_remotely": True,
            "triggers": triggers,
            "provider": "docker",
        }
    assert context == Path(__file__).resolve().parents[2] / "docker" / "example-app"
    # The JSON names the context relative to the stack directory Terraform runs in.
    assert (stage.outdir / "stacks" / "compute" / image["build"]["context"]).resolve() == context


def test_prebuilt_mode_has_no_docker_at_all(prebuilt: Synth) -> None:
    stack = prebuilt.stack("compute")
    assert "docker" not in stack["terraform"]["required_providers"]
    assert "docker" not in stack.get("provider", {})
    assert not [t for t in stack["resource"] if t.startswith("docker_")]
    assert "aws_ecr_authorization_token" not in stack.get("data", {}) and "ephemeral" not in stack
    assert "docker" not in prebuilt.raw("compute").replace("dockerfile", "")
    assert container(prebuilt, "api")["image"] == PREBUILT["HEBO_API_IMAGE"]
    assert container(prebuilt, "gateway")["image"] == PREBUILT["HEBO_GATEWAY_IMAGE"]
    # Repositories stay (CI pushes there; switching modes never destroys them).
    assert len(prebuilt.resources("compute", "aws_ecr_repository")) == 2


def test_prebuilt_ecr_image_outside_our_repositories_may_be_pulled(prebuilt: Synth) -> None:
    api = {s["sid"]: s for s in statements(prebuilt, "api_execution_role")}
    repo, _ = one(prebuilt, "aws_ecr_repository", "api_repository")
    assert api["PullImage"]["resources"] == [
        ref("aws_ecr_repository", repo, "arn"),
        "arn:${data.aws_partition.partition.partition}:ecr:us-east-1:123456789012:repository/ci/api",
    ]
    gateway = {s["sid"]: s for s in statements(prebuilt, "gateway_execution_role")}
    assert len(gateway["PullImage"]["resources"]) == 1  # ghcr.io needs no ECR permission


def test_ecr_repository_arn_parsing() -> None:
    assert ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b:1") == "arn:aws:ecr:eu-west-1:123456789012:repository/a/b"
    assert ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a@sha256:00") == "arn:aws:ecr:eu-west-1:123456789012:repository/a"
    assert ecr_repository_arn("ghcr.io/org/app:1") is None
    assert ecr_repository_arn("public.ecr.aws/org/app:1") is None


def test_context_hash_ignores_dependencies_and_tracks_sources(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "index.ts").write_text("a")
    first = context_hash(tmp_path)
    for junk in ("node_modules", ".git"):
        (tmp_path / junk).mkdir()
        (tmp_path / junk / "x").write_text("ignored")
    assert context_hash(tmp_path) == first
    (tmp_path / "src" / "index.ts").write_text("b")
    assert context_hash(tmp_path) != first
    (tmp_path / "src" / "index.ts").write_text("a")
    (tmp_path / "src" / "index.ts").rename(tmp_path / "src" / "main.ts")
    assert context_hash(tmp_path) != first  # paths count, not only bytes


def test_build_mode_without_dockerfiles_fails_synth_clearly(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile.api").write_text("FROM scratch\n")
    with pytest.raises(ConfigError, match=r"invalid HEBO_APP_REPO .*Dockerfile\.gateway not found"):
        require_dockerfiles(tmp_path)
    (tmp_path / "Dockerfile.gateway").write_text("FROM scratch\n")
    require_dockerfiles(tmp_path)


# -- monitoring and outputs ------------------------------------------------------------------
def test_alarm_topic_is_encrypted_and_email_is_optional(stage: Synth, prebuilt: Synth) -> None:
    key, _ = one(stage, "aws_kms_key", "key")
    assert clean(stage.resource("compute", "aws_sns_topic", "alarms")) == {
        "name": f"hebo-{stage.stage}-alarms",
        "kms_master_key_id": ref("aws_kms_key", key, "arn"),
    }
    assert stage.resources("compute", "aws_sns_topic_subscription") == {}
    assert clean(prebuilt.resource("compute", "aws_sns_topic_subscription", "alarm_email")) == {
        "topic_arn": "${aws_sns_topic.alarms.arn}",
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }
    key_policy = next(v for k, v in stage.data_sources("compute", "aws_iam_policy_document").items() if k.startswith("key_policy"))
    services = [s for s in key_policy["statement"] if s.get("sid") == "ServicesEncrypt"]
    assert services[0]["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_service_alarms(stage: Synth, svc: str) -> None:
    alb, _ = one(stage, "aws_lb", f"{svc}_alb")
    tg, _ = one(stage, "aws_lb_target_group", f"{svc}_alb_targets")
    alarms = {v["alarm_name"]: v for k, v in stage.resources("compute", "aws_cloudwatch_metric_alarm").items() if k.startswith(f"{svc}_alarms")}
    prefix = f"hebo-{stage.stage}-{svc}"
    assert sorted(alarms) == sorted(f"{prefix}-{what}" for what in ("alb-5xx-rate", "target-5xx-rate", "unhealthy-hosts", "p99-latency"))
    lb_dim = {"LoadBalancer": ref("aws_lb", alb, "arn_suffix")}
    for alarm in alarms.values():
        assert alarm["alarm_actions"] == alarm["ok_actions"] == ["${aws_sns_topic.alarms.arn}"]
        assert (alarm["evaluation_periods"], alarm["datapoints_to_alarm"]) == (5, 5)
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["treat_missing_data"] == "notBreaching"
    for what, metric in (("alb-5xx-rate", "HTTPCode_ELB_5XX_Count"), ("target-5xx-rate", "HTTPCode_Target_5XX_Count")):
        alarm = alarms[f"{prefix}-{what}"]
        assert alarm["threshold"] == 5
        assert "metric_name" not in alarm
        assert alarm["metric_query"] == [
            {"id": "rate", "expression": "100 * FILL(errors, 0) / requests", "label": "5xx % of requests", "return_data": True},
            {"id": "errors", "return_data": False, "metric": {"namespace": "AWS/ApplicationELB", "metric_name": metric, "dimensions": lb_dim, "period": 60, "stat": "Sum"}},
            {"id": "requests", "return_data": False, "metric": {"namespace": "AWS/ApplicationELB", "metric_name": "RequestCount", "dimensions": lb_dim, "period": 60, "stat": "Sum"}},
        ]
    unhealthy = alarms[f"{prefix}-unhealthy-hosts"]
    assert (unhealthy["metric_name"], unhealthy["statistic"], unhealthy["threshold"]) == ("UnHealthyHostCount", "Maximum", 0)
    assert unhealthy["dimensions"] == {**lb_dim, "TargetGroup": ref("aws_lb_target_group", tg, "arn_suffix")}
    latency = alarms[f"{prefix}-p99-latency"]
    assert (latency["metric_name"], latency["extended_statistic"], latency["threshold"]) == ("TargetResponseTime", "p99", 3)
    assert latency["dimensions"] == lb_dim


def test_outputs(stage: Synth) -> None:
    outputs = stage.stack("compute")["output"]
    for svc, (display, _) in SERVICES.items():
        alb, _ = one(stage, "aws_lb", f"{svc}_alb")
        assert outputs[f"{svc}_url"]["value"] == f"https://{DOMAINS[stage.stage][svc]}"
        assert outputs[f"{svc}_log_group"]["value"] == f"${{aws_cloudwatch_log_group.{svc}_logs.name}}"
        assert outputs[f"{svc}_alb_arn"]["value"] == ref("aws_lb", alb, "arn")
        assert outputs[f"{svc}_ecr_repository_url"]["value"].endswith(".repository_url}")
    assert outputs["alarm_topic_arn"]["value"] == "${aws_sns_topic.alarms.arn}"


def test_no_secret_values_or_environment_leaks(stage: Synth) -> None:
    raw = stage.raw("compute")
    for s in secrets_for("gateway"):
        assert f'\\"name\\" = \\"{s.env}\\", \\"value\\"' not in raw


# -- ALB access logs and WAF (issue: close CKV_AWS_91 / CKV2_AWS_28) ----------------------------
ALB_LOG_DAYS = {"production": 90, "pr-42": 7, "dev": 7}


def alb_log_bucket(s: Synth) -> str:
    name, _ = one(s, "aws_s3_bucket", "alb_logs_bucket")
    return name


def attached_to_log_bucket(s: Synth, rtype: str) -> dict[str, Any]:
    """The one `rtype` resource whose `bucket` is the ALB log bucket."""
    bucket_id = ref("aws_s3_bucket", alb_log_bucket(s), "id")
    found = [clean(v) for v in s.resources("compute", rtype).values() if v.get("bucket") == bucket_id]
    assert len(found) == 1, rtype
    return found[0]


@pytest.fixture(params=["production", "preview", "dev"])
def every_stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


def test_alb_log_bucket_is_private_sse_s3_versioned_and_expires_logs(every_stage: Synth) -> None:
    s = every_stage
    production = s.stage == "production"
    assert len(s.resources("compute", "aws_s3_bucket")) == 1
    _, bucket = one(s, "aws_s3_bucket", "alb_logs_bucket")
    assert clean(bucket) == {
        "bucket_prefix": f"hebo-{s.stage}-alb-logs-",
        "force_destroy": not production,
        "lifecycle": {"prevent_destroy": production},
    }
    bucket_id = ref("aws_s3_bucket", alb_log_bucket(s), "id")
    assert attached_to_log_bucket(s, "aws_s3_bucket_public_access_block") == {
        "bucket": bucket_id, "block_public_acls": True, "block_public_policy": True,
        "ignore_public_acls": True, "restrict_public_buckets": True,
    }
    assert attached_to_log_bucket(s, "aws_s3_bucket_ownership_controls") == {
        "bucket": bucket_id, "rule": {"object_ownership": "BucketOwnerEnforced"},
    }
    assert attached_to_log_bucket(s, "aws_s3_bucket_versioning") == {
        "bucket": bucket_id, "versioning_configuration": {"status": "Enabled"},
    }
    # SSE-S3 only: ALB log delivery cannot write to an SSE-KMS bucket.
    assert attached_to_log_bucket(s, "aws_s3_bucket_server_side_encryption_configuration") == {
        "bucket": bucket_id, "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    }
    versioning, _ = one(s, "aws_s3_bucket_versioning", "alb_logs_bucket")
    everything = [{"prefix": ""}]
    assert attached_to_log_bucket(s, "aws_s3_bucket_lifecycle_configuration") == {
        "bucket": bucket_id,
        "depends_on": [f"aws_s3_bucket_versioning.{versioning}"],
        "rule": [
            {"id": "expire-old-versions", "status": "Enabled", "filter": everything,
             "noncurrent_version_expiration": [{"noncurrent_days": 7}],
             "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}]},
            {"id": "expire-current-versions", "status": "Enabled", "filter": everything,
             "expiration": [{"days": ALB_LOG_DAYS[s.stage]}]},
            {"id": "remove-expired-delete-markers", "status": "Enabled", "filter": everything,
             "expiration": [{"expired_object_delete_marker": True}]},
        ],
    }
    assert s.stack("compute")["output"]["alb_logs_bucket"]["value"] == ref("aws_s3_bucket", alb_log_bucket(s), "bucket")


def test_alb_log_bucket_policy_lets_only_elb_write_each_service_prefix(stage: Synth) -> None:
    """us-east-1 (the default) predates August 2022: ELB writes as its regional account, found by
    the aws_elb_service_account data source; the service principal statement is the newer form."""
    bucket = alb_log_bucket(stage)
    arn = ref("aws_s3_bucket", bucket, "arn")
    (elb_account,) = stage.data_sources("compute", "aws_elb_service_account")
    assert clean(stage.data_sources("compute", "aws_elb_service_account")[elb_account]) == {}  # provider region
    policy = attached_to_log_bucket(stage, "aws_s3_bucket_policy")
    pab, _ = one(stage, "aws_s3_bucket_public_access_block", "alb_logs_bucket")
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}", policy.pop("policy"))
    assert match
    assert policy == {"bucket": ref("aws_s3_bucket", bucket, "id"),
                      "depends_on": [f"aws_s3_bucket_public_access_block.{pab}"]}
    logs = [f"{arn}/{svc}/AWSLogs/${{data.aws_caller_identity.account.account_id}}/*" for svc in ("api", "gateway")]
    document = stage.data_sources("compute", "aws_iam_policy_document")[match.group(1)]
    assert clean(document)["statement"] == [
        {"sid": "ElbAccountWrites", "effect": "Allow", "actions": ["s3:PutObject"], "resources": logs,
         "principals": [{"type": "AWS", "identifiers": [f"${{data.aws_elb_service_account.{elb_account}.arn}}"]}]},
        {"sid": "ElbLogDeliveryWrites", "effect": "Allow", "actions": ["s3:PutObject"], "resources": logs,
         "principals": [{"type": "Service", "identifiers": ["logdelivery.elasticloadbalancing.amazonaws.com"]}]},
        {"sid": "DenyInsecureTransport", "effect": "Deny", "actions": ["s3:*"], "resources": [arn, f"{arn}/*"],
         "principals": [{"type": "AWS", "identifiers": ["*"]}],
         "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}]},
    ]


def test_alb_log_delivery_in_a_region_launched_after_august_2022(synth_variant: Any) -> None:
    """There the data source fails (no ELB account), so only the service principal may write."""
    s = synth_variant(HEBO_STAGE="pr-42", HEBO_REGION="eu-central-2")
    assert s.data_sources("compute", "aws_elb_service_account") == {}
    policy = attached_to_log_bucket(s, "aws_s3_bucket_policy")
    doc = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}", policy["policy"]).group(1)  # type: ignore[union-attr]
    statements = s.data_sources("compute", "aws_iam_policy_document")[doc]["statement"]
    assert [(st["sid"], st["principals"]) for st in statements] == [
        ("ElbLogDeliveryWrites", [{"type": "Service", "identifiers": ["logdelivery.elasticloadbalancing.amazonaws.com"]}]),
        ("DenyInsecureTransport", [{"type": "AWS", "identifiers": ["*"]}]),
    ]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_alb_writes_access_logs_under_its_service_prefix(every_stage: Synth, svc: str) -> None:
    _, alb = one(every_stage, "aws_lb", f"{svc}_alb")
    bucket = alb_log_bucket(every_stage)
    policy, _ = one(every_stage, "aws_s3_bucket_policy", "alb_logs_bucket")
    assert alb["access_logs"] == {"bucket": ref("aws_s3_bucket", bucket, "bucket"), "prefix": svc, "enabled": True}
    # ELB tests its write access when logging is switched on: the policy must exist first.
    assert alb["depends_on"] == [f"aws_s3_bucket_policy.{policy}"]


def test_production_albs_are_behind_one_waf_web_acl(production: Synth) -> None:
    acl_name, acl = one(production, "aws_wafv2_web_acl", "waf")
    stem = "hebo-production-albs"

    def visibility(metric: str) -> dict[str, Any]:
        return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}

    def managed(name: str, priority: int, group: str) -> dict[str, Any]:
        return {"name": name, "priority": priority, "override_action": {"none": {}},
                "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
                "visibility_config": visibility(f"{stem}-{name}")}

    assert clean(acl) == {
        "name": stem,
        "description": "hebo-production API and Gateway load balancers",
        "scope": "REGIONAL",
        "default_action": {"allow": {}},
        "visibility_config": visibility(stem),
        "rule": [
            {"name": "rate-limit-per-ip", "priority": 10,
             "statement": {"rate_based_statement": {"aggregate_key_type": "IP", "limit": 2000, "evaluation_window_sec": 300}},
             "action": {"block": {"custom_response": {"response_code": 429}}},
             "visibility_config": visibility(f"{stem}-rate-limit-per-ip")},
            managed("aws-ip-reputation", 20, "AWSManagedRulesAmazonIpReputationList"),
            managed("aws-known-bad-inputs", 30, "AWSManagedRulesKnownBadInputsRuleSet"),
        ],
    }
    associations = production.resources("compute", "aws_wafv2_web_acl_association").values()
    albs = {ref("aws_lb", one(production, "aws_lb", f"{svc}_alb")[0], "arn") for svc in SERVICES}
    assert sorted(a["resource_arn"] for a in associations) == sorted(albs)
    assert {a["web_acl_arn"] for a in associations} == {ref("aws_wafv2_web_acl", acl_name, "arn")}


def test_production_waf_logs_blocked_and_counted_requests_to_a_kms_log_group(production: Synth) -> None:
    acl_name, _ = one(production, "aws_wafv2_web_acl", "waf")
    key, _ = one(production, "aws_kms_key", "key")
    logs = production.resource("compute", "aws_cloudwatch_log_group", "waf_logs")
    assert clean(logs) == {"name": "aws-waf-logs-hebo-production", "retention_in_days": 365,
                           "kms_key_id": ref("aws_kms_key", key, "arn")}
    _, logging = one(production, "aws_wafv2_web_acl_logging_configuration", "waf")
    assert clean(logging) == {
        "resource_arn": ref("aws_wafv2_web_acl", acl_name, "arn"),
        "log_destination_configs": ["${aws_cloudwatch_log_group.waf_logs.arn}"],
        "redacted_fields": [{"single_header": {"name": "authorization"}}, {"single_header": {"name": "cookie"}}],
        "logging_filter": {
            "default_behavior": "DROP",
            "filter": [{"behavior": "KEEP", "requirement": "MEETS_ANY",
                        "condition": [{"action_condition": {"action": "BLOCK"}}, {"action_condition": {"action": "COUNT"}}]}],
        },
    }


def test_no_waf_outside_production(preview: Synth, dev: Synth) -> None:
    for s in (preview, dev):
        for rtype in ("aws_wafv2_web_acl", "aws_wafv2_web_acl_association", "aws_wafv2_web_acl_logging_configuration"):
            assert s.resources("compute", rtype) == {}, (s.stage, rtype)
        assert "waf_logs" not in s.resources("compute", "aws_cloudwatch_log_group")
        assert '"wafv2' not in s.raw("compute")


def test_alb_log_and_waf_policy_and_names() -> None:
    from config.naming import RULES, build_names
    from config.stage import policy_for

    assert [(p.alb_log_retention_days, p.waf) for p in map(policy_for, ("production", "pr-7", "dev"))] == [
        (90, True), (7, False), (7, False)
    ]
    names = build_names("hebo", "pr-7", "hebo.ai")
    assert (names.alb_logs_bucket_prefix(), names.web_acl(), names.waf_log_group()) == (
        "hebo-pr-7-alb-logs-", "hebo-pr-7-albs", "aws-waf-logs-hebo-pr-7"
    )
    catalog = names.catalog()
    assert {("s3_bucket_prefix", "hebo-pr-7-alb-logs-"), ("wafv2", "hebo-pr-7-albs"),
            ("waf_log_group", "aws-waf-logs-hebo-pr-7")} <= set(catalog)
    assert RULES["wafv2"].check("a" * 129) and RULES["wafv2"].check("bad name")
    assert RULES["waf_log_group"].check("hebo-waf-logs") and not RULES["waf_log_group"].check("aws-waf-logs-x")

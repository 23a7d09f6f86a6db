"""The compute stack: exact properties for production and a preview stage (issue #6)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from expectations import SHARED_BY_PREVIEWS, expect
from synth_support import SHARED_STAGE_KEY, Synth, parse_jsonencode, ref, without_metadata

from modules.service.image import context_hash, dockerfile_stage_names, ecr_repository_arn
from stacks.compute import require_dockerfiles
from config.secrets import MASTER_SECRET_NAMES, secrets_for
from config.stage import ConfigError

SERVICES = {"api": ("HeboApiService", 3001), "gateway": ("HeboGatewayService", 3002)}
DOMAINS = {
    "production": {"api": "api.hebo.ai", "gateway": "gateway.hebo.ai"},
    "pr-42": {"api": "pr-42.dev.api.hebo.ai", "gateway": "pr-42.dev.gateway.hebo.ai"},
}
EXPECTED_SECRET_ENV = {
    "api": {
        "PG_PASSWORD": "DbAppCredentials",
        "STACK_SECRET_SERVER_KEY": "StackSecretServerKey",
        "VITE_STACK_PROJECT_ID": "StackProjectId",
    },
    "gateway": {
        "PG_PASSWORD": "DbAppCredentials",
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


def compute_key_arn(s: Synth) -> str:
    """The key compute encrypts with: its own in production, the network's stage key elsewhere
    (where compute must then have no key of its own)."""
    if expect(s)["shared_stage_key"]:
        assert s.resources("compute", "aws_kms_key") == {} and s.resources("compute", "aws_kms_alias") == {}
        return SHARED_STAGE_KEY
    logical, _ = one(s, "aws_kms_key", "key")
    return ref("aws_kms_key", logical, "arn")


def resolve(s: Synth, stack: str, reference: str) -> str:
    """`${data.terraform_remote_state...outputs.X}` → the value expression of output X upstream."""
    match = re.fullmatch(r"\$\{" + re.escape(REMOTE.format(stack=stack)) + r"([^}]+)\}", reference)
    assert match, reference
    return s.stack(stack)["output"][match.group(1)]["value"]


def secret_name(s: Synth, reference: str) -> str:
    """The Secrets Manager name behind a secret ARN reference: the data stack's container (a
    cross-stack reference), or a template stage's secret found by name (a compute data source)."""
    template = re.fullmatch(r"\$\{data\.aws_secretsmanager_secret\.([^.]+)\.arn\}", reference)
    if template:
        return s.data_sources("compute", "aws_secretsmanager_secret")[template.group(1)]["name"]
    target = resolve(s, "data", reference)
    match = re.fullmatch(r"\$\{aws_secretsmanager_secret\.([^.]+)\.arn\}", target)
    assert match, target
    return s.resources("data", "aws_secretsmanager_secret")[match.group(1)]["name"]


TEMPLATE_SECRETS_IN_CATALOG_ORDER = {
    "api": ("StackProjectId", "StackSecretServerKey"),
    "gateway": ("StackProjectId", "StackSecretServerKey", "GroqApiKey", "VoyageApiKey"),
}
"""The secrets each service reads from the template stage in a preview (config/secrets.py order)."""


def expected_secret(s: Synth, name: str) -> str:
    """Where a service's secret lives: this stage, or dev (the default template) for a secret
    previews share (tests/expectations.py)."""
    owner = "dev" if name in SHARED_BY_PREVIEWS and not expect(s)["owns_app_secrets"] else s.stage
    return f"hebo/{owner}/{name}"


def container(s: Synth, svc: str) -> dict[str, Any]:
    _, task = one(s, "aws_ecs_task_definition", f"{svc}_service_task")
    (definition,) = parse_jsonencode(task["container_definitions"])
    return definition


def statements(s: Synth, role_prefix: str) -> list[dict[str, Any]]:
    docs = {
        k: v
        for k, v in s.data_sources("compute", "aws_iam_policy_document").items()
        if k.startswith(f"{role_prefix}_permissions")
    }
    assert len(docs) == 1, sorted(docs)
    return next(iter(docs.values()))["statement"]


SHARED = {"production": False, "pr-42": True, "dev": True}
"""Stage policy `shared_load_balancer`: production keeps one ALB per service (docs/compute.md)."""
PRIORITIES = {"api": 10, "gateway": 20}


def target_group(s: Synth, svc: str) -> str:
    """Logical id of the service's target group: on its own ALB, or on the stage's shared ALB."""
    name, _ = one(s, "aws_lb_target_group", f"shared_alb_{svc}_targets" if SHARED[s.stage] else f"{svc}_alb_targets")
    return name


def load_balancer(s: Synth, svc: str) -> str:
    name, _ = one(s, "aws_lb", "shared_alb" if SHARED[s.stage] else f"{svc}_alb")
    return name


# -- cluster ---------------------------------------------------------------------------------
def test_one_cluster_with_both_fargate_providers(stage: Synth) -> None:
    _, cluster = one(stage, "aws_ecs_cluster", "cluster")
    assert cluster["name"] == f"hebo-{stage.stage}"
    insights = "enabled" if expect(stage)["container_insights"] else "disabled"
    assert cluster["setting"] == [{"name": "containerInsights", "value": insights}]
    _, providers = one(stage, "aws_ecs_cluster_capacity_providers", "cluster")
    assert providers["capacity_providers"] == ["FARGATE", "FARGATE_SPOT"]
    default = expect(stage)["capacity_provider"]
    assert providers["default_capacity_provider_strategy"] == [{"base": 0, "capacity_provider": default, "weight": 1}]


def test_ecs_exec_session_logging_only_where_exec_is_enabled(production: Synth, preview: Synth) -> None:
    _, cluster = one(production, "aws_ecs_cluster", "cluster")
    assert "configuration" not in cluster
    assert "exec_logs" not in production.resources("compute", "aws_cloudwatch_log_group")
    _, cluster = one(preview, "aws_ecs_cluster", "cluster")
    key_arn = compute_key_arn(preview)
    assert cluster["configuration"] == {
        "execute_command_configuration": {
            "kms_key_id": key_arn,
            "logging": "OVERRIDE",
            "log_configuration": {
                "cloud_watch_encryption_enabled": True,
                "cloud_watch_log_group_name": "${aws_cloudwatch_log_group.exec_logs.name}",
            },
        }
    }
    assert preview.resource("compute", "aws_cloudwatch_log_group", "exec_logs")["name"] == "/ecs/hebo-pr-42/exec"


def test_compute_key_alias_rotation_and_protection(stage: Synth) -> None:
    if compute_key_arn(stage) == SHARED_STAGE_KEY:
        return  # no key of its own (checked there); the stage key is tested with the network stack
    _, key = one(stage, "aws_kms_key", "key")
    assert key["enable_key_rotation"] is True
    assert key["lifecycle"] == {"prevent_destroy": expect(stage)["protect"]}
    _, alias = one(stage, "aws_kms_alias", "key")
    assert alias["name"] == f"alias/hebo-{stage.stage}-compute"


# -- task definitions ------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_task_definition_is_fargate_arm64_sized_per_stage(stage: Synth, svc: str) -> None:
    display, _ = SERVICES[svc]
    _, task = one(stage, "aws_ecs_task_definition", f"{svc}_service_task")
    cpu, memory = str(expect(stage)["task_cpu"]), str(expect(stage)["task_memory_mib"])
    exec_volumes = (
        [{"name": "exec-agents"}, {"name": "exec-ssm-lib"}, {"name": "exec-ssm-log"}]
        if expect(stage)["ecs_exec"]
        else []
    )
    assert {
        k: v for k, v in task.items() if k not in ("//", "container_definitions", "execution_role_arn", "task_role_arn")
    } == {
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
    assert env["LOG_LEVEL"] == expect(stage)["log_level"]
    assert env["NO_COLOR"] == "1"
    assert env["PG_PORT"] == "5432" and env["PG_DATABASE"] == "hebo"
    assert env["PG_USER"] == "hebo_app"  # the DML-only application role, never the master (heboadmin)
    # Through RDS Proxy where the policy has one (production), else the cluster writer.
    endpoint = (
        r"\$\{aws_db_proxy\.[^.]+\.endpoint\}"
        if expect(stage)["db_proxy"]
        else r"\$\{aws_rds_cluster\.[^.]+\.endpoint\}"
    )
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
    assert resolved == {env: expected_secret(stage, name) for env, name in EXPECTED_SECRET_ENV[svc].items()}


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_services_log_in_as_the_application_role_the_migrator_and_proxy_know(stage: Synth, svc: str) -> None:
    """One source of truth: the services, RDS Proxy and the migrator all read DbAppCredentials."""
    value_from = {e["name"]: e["valueFrom"] for e in container(stage, svc)["secrets"]}["PG_PASSWORD"]
    output = "cross-stack-output-aws_secretsmanager_secretsecret_DbAppCredentialsarn"
    assert value_from == f"${{{REMOTE.format(stack='data')}{output}}}:password::"
    app, master = (
        "${aws_secretsmanager_secret.secret_DbAppCredentials.arn}",
        "${aws_secretsmanager_secret.secret_DbCredentials.arn}",
    )
    assert stage.stack("data")["output"][output]["value"] == app
    (function,) = stage.resources("data", "aws_lambda_function").values()
    variables = function["environment"]["variables"]
    assert (variables["DB_SECRET_ARN"], variables["DB_APP_SECRET_ARN"], variables["DB_APP_USER"]) == (
        master,
        app,
        "hebo_app",
    )
    proxies = stage.resources("data", "aws_db_proxy")
    assert len(proxies) == (1 if expect(stage)["db_proxy"] else 0)
    for proxy in proxies.values():
        assert [(a["description"], a["secret_arn"]) for a in proxy["auth"]] == [
            ("master user (migrator)", master),
            ("application role (services)", app),
        ]
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
    expected = ["/tmp"] + (
        ["/managed-agents", "/var/lib/amazon/ssm", "/var/log/amazon/ssm"] if expect(stage)["ecs_exec"] else []
    )
    assert mounts == expected


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_build_mode_image_is_pinned_by_digest(preview: Synth, svc: str) -> None:
    repo, _ = one(preview, "aws_ecr_repository", f"{svc}_repository")
    push, _ = one(preview, "docker_registry_image", f"{svc}_image_push")
    assert container(preview, svc)["image"] == (
        f"{ref('aws_ecr_repository', repo, 'repository_url')}@{ref('docker_registry_image', push, 'sha256_digest')}"
    )


def test_log_groups_are_encrypted_with_stage_retention(stage: Synth) -> None:
    key_arn = compute_key_arn(stage)
    for svc, (display, _) in SERVICES.items():
        group = without_metadata(stage.resource("compute", "aws_cloudwatch_log_group", f"{svc}_logs"))
        assert group == {
            "name": f"/ecs/hebo-{stage.stage}/{display}",
            "retention_in_days": expect(stage)["log_retention_days"],
            "kms_key_id": key_arn,
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
    expected = expect(stage)
    network = service["network_configuration"]
    assert network["assign_public_ip"] is False
    private = _network_refs(stage, "aws_subnet", lambda k, v: "private" in v.get("tags", {}).get("Name", ""))
    assert len(private) >= 2
    assert {resolve(stage, "network", r) for r in network["subnets"]} == private
    (group,) = network["security_groups"]
    assert resolve(stage, "network", group) in _network_refs(
        stage, "aws_security_group", lambda k, v: v.get("name") == f"hebo-{stage.stage}-service"
    )
    tg = target_group(stage, svc)
    # ECS accepts a target group once a listener (own ALB) or a listener rule (shared ALB) uses it.
    if SHARED[stage.stage]:
        routed = "aws_lb_listener_rule." + one(stage, "aws_lb_listener_rule", f"shared_alb_{svc}_rule")[0]
    else:
        routed = "aws_lb_listener." + one(stage, "aws_lb_listener", f"{svc}_alb_https")[0]
    providers, _ = one(stage, "aws_ecs_cluster_capacity_providers", "cluster")
    assert {
        k: service[k] for k in service if k not in ("//", "network_configuration", "cluster", "task_definition")
    } == {
        "name": display,
        "desired_count": expected["service_min_tasks"],
        "capacity_provider_strategy": [{"base": 0, "capacity_provider": expected["capacity_provider"], "weight": 1}],
        "platform_version": "LATEST",
        "load_balancer": [
            {
                "container_name": display,
                "container_port": port,
                "target_group_arn": ref("aws_lb_target_group", tg, "arn"),
            }
        ],
        "deployment_circuit_breaker": {"enable": True, "rollback": True},
        "deployment_maximum_percent": 200,
        "deployment_minimum_healthy_percent": 100,
        "health_check_grace_period_seconds": 60,
        "enable_execute_command": expected["ecs_exec"],
        "wait_for_steady_state": expected["wait_for_steady_state"],
        "force_new_deployment": True,  # provider 6.x: a capacity-provider change (Spot <-> on-demand) needs it
        "propagate_tags": "SERVICE",
        "enable_ecs_managed_tags": True,
        "lifecycle": {"ignore_changes": ["desired_count"]}
        | (
            {
                "postcondition": [
                    {
                        # waiting for steady state: a circuit-breaker rollback must fail the apply, not pass it
                        "condition": f"${{self.task_definition == aws_ecs_task_definition.{one(stage, 'aws_ecs_task_definition', f'{svc}_service_task')[0]}.arn}}",
                        "error_message": "the deployment circuit breaker rolled the service back to its previous task definition: "
                        "the new tasks never became healthy (see the service's events and the task logs)",
                    }
                ]
            }
            if expected["wait_for_steady_state"]
            else {}
        ),
        "depends_on": [routed, f"aws_ecs_cluster_capacity_providers.{providers}"],
    }
    assert "launch_type" not in service


# -- load balancers, certificates, DNS -------------------------------------------------------
ALB_NAMES = {
    "production": {"api_alb": "hebo-production-api", "gateway_alb": "hebo-production-gateway"},
    "pr-42": {"shared_alb": "hebo-pr-42-shared"},
    "dev": {"shared_alb": "hebo-dev-shared"},
}


def test_alb_is_public_hardened_and_protected_in_production(every_stage: Synth) -> None:
    stage = every_stage
    albs = stage.resources("compute", "aws_lb")
    assert len(albs) == len(ALB_NAMES[stage.stage])
    public = _network_refs(stage, "aws_subnet", lambda k, v: "public" in v.get("tags", {}).get("Name", ""))
    for prefix, name in ALB_NAMES[stage.stage].items():
        _, alb = one(stage, "aws_lb", prefix)
        assert {resolve(stage, "network", r) for r in alb["subnets"]} == public
        (group,) = alb["security_groups"]
        assert resolve(stage, "network", group) in _network_refs(
            stage, "aws_security_group", lambda k, v: v.get("name") == f"hebo-{stage.stage}-alb"
        )
        # access_logs and depends_on: test_alb_writes_access_logs_under_its_prefix
        assert {
            k: v for k, v in alb.items() if k not in ("//", "subnets", "security_groups", "access_logs", "depends_on")
        } == {
            "name": name,
            "internal": False,
            "load_balancer_type": "application",
            "ip_address_type": "dualstack",  # A and AAAA aliases both answer; targets stay IPv4 (target group test)
            "drop_invalid_header_fields": True,
            "desync_mitigation_mode": "defensive",
            "enable_deletion_protection": expect(stage)["protect"],
            "enable_http2": True,
            "idle_timeout": 60,
        }


def test_production_keeps_one_alb_per_service_and_other_stages_share_one(
    production: Synth, preview: Synth, dev: Synth
) -> None:
    """The decision in docs/compute.md: isolation in production, one ALB (and certificate) elsewhere."""
    assert sorted(production.resources("compute", "aws_lb")) == ["api_alb_674ECFBF", "gateway_alb_8FDBDE96"]
    assert production.resources("compute", "aws_lb_listener_rule") == {}
    assert len(production.resources("compute", "aws_acm_certificate")) == 2
    for s in (preview, dev):
        assert [v["name"] for v in s.resources("compute", "aws_lb").values()] == [f"hebo-{s.stage}-shared"]
        assert len(s.resources("compute", "aws_lb_listener")) == 2
        assert len(s.resources("compute", "aws_lb_listener_rule")) == 2
        assert len(s.resources("compute", "aws_acm_certificate")) == 1
    assert [
        p.shared_load_balancer for p in (production.settings.policy, preview.settings.policy, dev.settings.policy)
    ] == [False, True, True]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_listeners_redirect_http_and_forward_https_with_modern_tls(production: Synth, svc: str) -> None:
    stage = production
    alb, _ = one(stage, "aws_lb", f"{svc}_alb")
    tg, _ = one(stage, "aws_lb_target_group", f"{svc}_alb_targets")
    validated, _ = one(stage, "aws_acm_certificate_validation", f"{svc}_certificate")
    _, http = one(stage, "aws_lb_listener", f"{svc}_alb_http_")
    _, https = one(stage, "aws_lb_listener", f"{svc}_alb_https")
    assert {k: v for k, v in http.items() if k != "//"} == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 80,
        "protocol": "HTTP",
        "default_action": [
            {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
        ],
    }
    assert {k: v for k, v in https.items() if k != "//"} == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificate_arn": ref("aws_acm_certificate_validation", validated, "certificate_arn"),
        "default_action": [{"type": "forward", "target_group_arn": ref("aws_lb_target_group", tg, "arn")}],
    }


@pytest.fixture(params=["preview", "dev"])
def shared_stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


def test_shared_alb_redirects_http_and_answers_unknown_hosts_with_404(shared_stage: Synth) -> None:
    s = shared_stage
    alb, _ = one(s, "aws_lb", "shared_alb")
    validated, _ = one(s, "aws_acm_certificate_validation", "shared_alb_certificate")
    _, http = one(s, "aws_lb_listener", "shared_alb_http_")
    _, https = one(s, "aws_lb_listener", "shared_alb_https")
    assert without_metadata(http) == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 80,
        "protocol": "HTTP",
        "default_action": [
            {"type": "redirect", "redirect": {"port": "443", "protocol": "HTTPS", "status_code": "HTTP_301"}}
        ],
    }
    assert without_metadata(https) == {
        "load_balancer_arn": ref("aws_lb", alb, "arn"),
        "port": 443,
        "protocol": "HTTPS",
        "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificate_arn": ref("aws_acm_certificate_validation", validated, "certificate_arn"),
        # No service is the default: a request for any other host reaches no application.
        "default_action": [
            {
                "type": "fixed-response",
                "fixed_response": {"content_type": "text/plain", "status_code": "404", "message_body": "Not Found"},
            }
        ],
    }


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_shared_alb_routes_each_host_to_its_target_group(shared_stage: Synth, svc: str) -> None:
    s = shared_stage
    https, _ = one(s, "aws_lb_listener", "shared_alb_https")
    _, rule = one(s, "aws_lb_listener_rule", f"shared_alb_{svc}_rule")
    assert without_metadata(rule) == {
        "listener_arn": ref("aws_lb_listener", https, "arn"),
        "priority": PRIORITIES[svc],
        "condition": [{"host_header": {"values": [f"{s.stage}.dev.{svc}.hebo.ai"]}}],
        "action": [{"type": "forward", "target_group_arn": ref("aws_lb_target_group", target_group(s, svc), "arn")}],
    }
    assert s.resources("compute", "aws_lb_target_group")[target_group(s, svc)]["port"] == SERVICES[svc][1]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_target_group_is_ip_on_service_port(every_stage: Synth, svc: str) -> None:
    stage = every_stage
    _, port = SERVICES[svc]
    tg = dict(stage.resources("compute", "aws_lb_target_group")[target_group(stage, svc)])  # the synth is shared
    (vpc,) = _network_refs(stage, "aws_vpc", lambda k, v: True)
    assert resolve(stage, "network", tg.pop("vpc_id")) == vpc
    # Own ALB: named by service; shared ALB: named by port, so switching a live stage to the
    # shared ALB never collides with a target group name still in use.
    name = f"hebo-{stage.stage}-tg{port}" if SHARED[stage.stage] else f"hebo-{stage.stage}-{svc}"
    assert {k: v for k, v in tg.items() if k != "//"} == {
        "name": name,
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


HOSTED_ZONE = "${data.aws_route53_zone.hosted_zone.zone_id}"
"""The zone every stage stack finds by name (HEBO_ZONE_ID unset): no stage stack reads the dns stack."""


def _validation(s: Synth, cert_prefix: str, names: list[str]) -> None:
    """One validation record per certificate name, keyed by the names known at synth (keys taken
    from domain_validation_options are unknown at plan for a certificate with SANs)."""
    cert_logical, _ = one(s, "aws_acm_certificate", cert_prefix)
    _, validation = one(s, "aws_route53_record", f"{cert_prefix}_validation")
    options = f"{{ for o in aws_acm_certificate.{cert_logical}.domain_validation_options : o.domain_name => o }}"
    assert without_metadata(validation) == {
        "for_each": {name: name for name in names},
        "zone_id": HOSTED_ZONE,
        "name": f"${{{options}[each.key].resource_record_name}}",
        "type": f"${{{options}[each.key].resource_record_type}}",
        "records": [f"${{{options}[each.key].resource_record_value}}"],
        "ttl": 60,
        "allow_overwrite": True,
    }


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_certificate_validation_and_alias_records_per_stage(every_stage: Synth, svc: str) -> None:
    stage = every_stage
    domain = f"{expect(stage).domain_prefix}{svc}.hebo.ai"
    if SHARED[stage.stage]:
        _, cert = one(stage, "aws_acm_certificate", "shared_alb_certificate")
        # One certificate names both hosts (one validation record per name, by for_each).
        assert (cert["domain_name"], cert["subject_alternative_names"]) == (
            f"{stage.stage}.dev.api.hebo.ai",
            [f"{stage.stage}.dev.gateway.hebo.ai"],
        )
        _validation(
            stage, "shared_alb_certificate", [f"{stage.stage}.dev.api.hebo.ai", f"{stage.stage}.dev.gateway.hebo.ai"]
        )
    else:
        _, cert = one(stage, "aws_acm_certificate", f"{svc}_certificate")
        assert cert["domain_name"] == domain and "subject_alternative_names" not in cert
        _validation(stage, f"{svc}_certificate", [domain])
    assert cert["validation_method"] == "DNS"
    zone = HOSTED_ZONE
    alb = load_balancer(stage, svc)
    for record_type in ("A", "AAAA"):
        record = stage.resource("compute", "aws_route53_record", f"{svc}_alias_{record_type.lower()}")
        assert record["zone_id"] == zone
        assert {k: v for k, v in record.items() if k not in ("//", "zone_id")} == {
            "name": domain,
            "type": record_type,
            # AAAA answers for an ELB alias only through its `dualstack.` name.
            "alias": {
                "name": "dualstack." + ref("aws_lb", alb, "dns_name"),
                "zone_id": ref("aws_lb", alb, "zone_id"),
                "evaluate_target_health": True,
            },
        }


# -- autoscaling -----------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_autoscaling_bounds_and_target_tracking_per_stage(stage: Synth, svc: str) -> None:
    display, _ = SERVICES[svc]
    target_logical, target = one(stage, "aws_appautoscaling_target", f"{svc}_scaling")
    cluster, _ = one(stage, "aws_ecs_cluster", "cluster")
    service, _ = one(stage, "aws_ecs_service", f"{svc}_service")
    low, high = expect(stage)["service_min_tasks"], expect(stage)["service_max_tasks"]
    assert without_metadata(target) == {
        "service_namespace": "ecs",
        "scalable_dimension": "ecs:service:DesiredCount",
        "resource_id": f"service/{ref('aws_ecs_cluster', cluster, 'name')}/{ref('aws_ecs_service', service, 'name')}",
        "min_capacity": low,
        "max_capacity": high,
    }
    policies = {
        k: v
        for k, v in stage.resources("compute", "aws_appautoscaling_policy").items()
        if k.startswith(f"{svc}_scaling")
    }
    metrics = {
        p["name"]: (
            p["target_tracking_scaling_policy_configuration"]["predefined_metric_specification"][
                "predefined_metric_type"
            ],
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
    # Exact ARNs (IAM does not take ECS's `:password::` suffix), each secret once: the app role's, no master secret.
    assert all(re.fullmatch(r"\$\{[^}]+\}", r) for r in found["ReadSecrets"]["resources"]), found["ReadSecrets"]
    names = sorted(secret_name(stage, r) for r in found["ReadSecrets"]["resources"])
    assert names == sorted(expected_secret(stage, n) for n in EXPECTED_SECRET_ENV[svc].values())
    assert f"hebo/{stage.stage}/DbAppCredentials" in names
    assert not {f"hebo/{stage.stage}/{m}" for m in MASTER_SECRET_NAMES} & set(names)
    decrypt = found["DecryptSecrets"]
    assert decrypt["actions"] == ["kms:Decrypt"]
    key_ref, *template_keys = decrypt["resources"]
    if expect(stage)["shared_stage_key"]:
        assert key_ref == SHARED_STAGE_KEY
    else:
        assert re.fullmatch(r"\$\{aws_kms_key\.[^.]+\.arn\}", resolve(stage, "data", key_ref))
    # A preview also decrypts with the key of each template secret it reads (as the secret reports it).
    shared = TEMPLATE_SECRETS_IN_CATALOG_ORDER[svc]
    assert template_keys == (
        []
        if expect(stage)["owns_app_secrets"]
        else [f"${{data.aws_secretsmanager_secret.template_{n}.kms_key_id}}" for n in shared]
    )
    assert decrypt["condition"] == [
        {"test": "StringEquals", "variable": "kms:ViaService", "values": ["secretsmanager.us-east-1.amazonaws.com"]}
    ]
    # Nothing else anywhere in the policy may name a secret.
    everything = json.dumps(found)
    template_key_refs = 0 if expect(stage)["owns_app_secrets"] else len(shared)
    assert everything.count("secretsmanager_secret") == len(EXPECTED_SECRET_ENV[svc]) + template_key_refs


def test_template_secret_lookups_require_a_key_arn(preview: Synth, production: Synth) -> None:
    """A preview's execution roles decrypt with the key each template secret reports: a lookup whose
    `kms_key_id` is not an ARN (a secret re-keyed in the console, or on the AWS managed key) fails the
    plan with the secret's name, never the role policy at apply (IAM: MalformedPolicyDocument).
    Production owns its secrets and looks none up."""
    lookups = preview.data_sources("compute", "aws_secretsmanager_secret")
    # the four the services inject (the publishable client key is the edge stack's, read as a value there)
    assert sorted(lookups) == [
        "template_GroqApiKey",
        "template_StackProjectId",
        "template_StackSecretServerKey",
        "template_VoyageApiKey",
    ]
    for logical, lookup in lookups.items():
        name = f"hebo/dev/{logical.removeprefix('template_')}"
        assert without_metadata(lookup) == {
            "name": name,
            "lifecycle": {
                "postcondition": [
                    {
                        "condition": '${can(regex("^arn:", self.kms_key_id))}',
                        "error_message": f"secret {name} must be encrypted with a customer managed KMS key named by "
                        "its ARN (as the template stage's data stack creates it), so that the preview's execution "
                        "roles can be granted kms:Decrypt on it; it reports another key id or none",
                    }
                ]
            },
        }
    assert production.data_sources("compute", "aws_secretsmanager_secret") == {}


def test_task_role_has_no_permissions_in_production(production: Synth) -> None:
    policies = production.resources("compute", "aws_iam_role_policy")
    assert sorted(k.split("_role")[0] for k in policies) == ["api_execution", "gateway_execution"]


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_task_role_gets_ecs_exec_channels_in_previews(preview: Synth, svc: str) -> None:
    key_arn = compute_key_arn(preview)
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
        {
            "sid": "EcsExecKms",
            "effect": "Allow",
            "actions": ["kms:Decrypt", "kms:GenerateDataKey"],
            "resources": [key_arn],
        },
    ]


def test_roles_trust_only_this_accounts_ecs_tasks(stage: Synth) -> None:
    """Both roles: this account's ECS tasks only. aws:SourceArn only on the task role, where AWS
    documents it; on the execution role it could keep every task from starting (issue #14.6)."""
    trusts = {k: v for k, v in stage.data_sources("compute", "aws_iam_policy_document").items() if "_role_trust" in k}
    assert len(trusts) == 4
    account = "${data.aws_caller_identity.account.account_id}"
    source_account = {"test": "StringEquals", "variable": "aws:SourceAccount", "values": [account]}
    source_arn = {
        "test": "ArnLike",
        "variable": "aws:SourceArn",
        "values": [f"arn:${{data.aws_partition.partition.partition}}:ecs:us-east-1:{account}:*"],
    }
    for name, trust in trusts.items():
        (statement,) = trust["statement"]
        assert statement["principals"] == [{"type": "Service", "identifiers": ["ecs-tasks.amazonaws.com"]}]
        assert statement["actions"] == ["sts:AssumeRole"]
        expected = [source_account] if "_execution_role_" in name else [source_account, source_arn]
        assert statement["condition"] == expected, name
    assert sorted(k.split("_role")[0] for k in trusts) == [
        "api_execution",
        "api_task",
        "gateway_execution",
        "gateway_task",
    ]
    roles = {v["name"] for v in stage.resources("compute", "aws_iam_role").values()}
    assert roles == {f"hebo-{stage.stage}-{r}" for r in ("api-exec", "api-task", "gateway-exec", "gateway-task")}


# -- ECR and images --------------------------------------------------------------------------
@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_ecr_repository_is_hardened(stage: Synth, svc: str) -> None:
    key_arn = compute_key_arn(stage)
    repo_logical, repo = one(stage, "aws_ecr_repository", f"{svc}_repository")
    assert {k: v for k, v in repo.items() if k != "//"} == {
        "name": f"hebo-{stage.stage}/{svc}",
        "image_tag_mutability": "IMMUTABLE",
        "image_scanning_configuration": {"scan_on_push": True},
        "encryption_configuration": [{"encryption_type": "KMS", "kms_key": key_arn}],
        "force_delete": expect(stage)["force_destroy"],
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
        {
            "registry_auth": [
                {
                    "address": f"{token}.proxy_endpoint}}",
                    "username": f"{token}.user_name}}",
                    "password": f"{token}.password}}",
                }
            ]
        }
    ]
    context = stage.settings.app_repo
    content_hash = context_hash(context)[:32]
    target = "debug" if expect(stage)["ecs_exec"] else "runtime"
    for svc in SERVICES:
        repo, _ = one(stage, "aws_ecr_repository", f"{svc}_repository")
        triggers = {
            "context_sha256": content_hash,
            "dockerfile": f"Dockerfile.{svc}",
            "target": target,
            "platform": "linux/arm64",
        }
        push_id_logical, push_id = one(stage, "terraform_data", f"{svc}_image_push_id")
        assert without_metadata(push_id) == {"triggers_replace": triggers}
        image_logical, image = one(stage, "docker_image", f"{svc}_image")
        assert without_metadata(image) == {
            "name": f"{ref('aws_ecr_repository', repo, 'repository_url')}:{content_hash}-{ref('terraform_data', push_id_logical, 'id')}",
            "platform": "linux/arm64",
            "build": {
                "context": "../../../../../docker/example-app",
                "dockerfile": f"Dockerfile.{svc}",
                "target": target,
                "platform": "linux/arm64",
            },
            "keep_locally": True,
            "triggers": triggers,
            "provider": "docker",
        }
        _, push = one(stage, "docker_registry_image", f"{svc}_image_push")
        assert without_metadata(push) == {
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


def test_prebuilt_images_in_an_exec_stage_warn_that_logging_needs_the_debug_target(
    prebuilt: Synth, preview: Synth
) -> None:
    def warnings(s: Synth) -> list[str]:
        return [a["message"] for a in s.manifest["stacks"]["compute"]["annotations"] if a["level"] == "@cdktf/warn"]

    assert warnings(prebuilt) == [
        "ECS Exec sessions of this stage are logged, which needs `script` and `cat` in the images; nothing here "
        "can inspect prebuilt images: build them with `--target debug` (docs/compute.md, ECS Exec)"
    ]
    assert warnings(preview) == []  # build mode: the invariant reads the Dockerfile instead


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
    assert (
        ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b:1")
        == "arn:aws:ecr:eu-west-1:123456789012:repository/a/b"
    )
    assert (
        ecr_repository_arn("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a@sha256:00")
        == "arn:aws:ecr:eu-west-1:123456789012:repository/a"
    )
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
    (tmp_path / "Dockerfile.api").write_text("FROM scratch AS runtime\n")
    with pytest.raises(ConfigError, match=r"invalid HEBO_APP_REPO .*Dockerfile\.gateway not found"):
        require_dockerfiles(tmp_path, "runtime")
    (tmp_path / "Dockerfile.gateway").write_text(
        "FROM debian:12-slim AS debug\nFROM --platform=linux/arm64 scratch as runtime\n"
    )
    require_dockerfiles(tmp_path, "runtime")
    # Templates from before the debug stage existed: an exec-enabled stage cannot build them.
    with pytest.raises(
        ConfigError,
        match=r"^invalid HEBO_APP_REPO '.*': Dockerfile\.api has no stage named 'debug' "
        r"\(this stage builds it\); copy the current templates from docker/",
    ):
        require_dockerfiles(tmp_path, "debug")


def test_dockerfile_stage_names_are_the_build_targets() -> None:
    templates = Path(__file__).resolve().parents[2] / "docker"
    assert {svc: dockerfile_stage_names(templates / f"Dockerfile.{svc}") for svc in SERVICES} == {
        "api": ["build", "debug", "runtime"],
        "gateway": ["build", "debug", "runtime"],
    }


# -- monitoring and outputs ------------------------------------------------------------------
def test_alarm_topic_is_encrypted_and_email_is_optional(stage: Synth, prebuilt: Synth) -> None:
    key_arn = compute_key_arn(stage)
    assert without_metadata(stage.resource("compute", "aws_sns_topic", "alarms")) == {
        "name": f"hebo-{stage.stage}-alarms",
        "kms_master_key_id": key_arn,
    }
    assert stage.resources("compute", "aws_sns_topic_subscription") == {}
    assert without_metadata(prebuilt.resource("compute", "aws_sns_topic_subscription", "alarm_email")) == {
        "topic_arn": "${aws_sns_topic.alarms.arn}",
        "protocol": "email",
        "endpoint": "oncall@example.com",
    }
    # The key the topic uses lets CloudWatch alarms publish: compute's own key, or the stage key.
    key_stack = "network" if key_arn == SHARED_STAGE_KEY else "compute"
    key_policy = next(
        v
        for k, v in stage.data_sources(key_stack, "aws_iam_policy_document").items()
        if re.match(r"(key|kms)_policy", k)
    )
    services = [s for s in key_policy["statement"] if s.get("sid") == "ServicesEncrypt"]
    assert services[0]["principals"] == [{"type": "Service", "identifiers": ["cloudwatch.amazonaws.com"]}]


def _rate_query(metric: str, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "id": "rate",
            "expression": "100 * FILL(errors, 0) / requests",
            "label": "5xx % of requests",
            "return_data": True,
        },
        {
            "id": "errors",
            "return_data": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metric_name": metric,
                "dimensions": dimensions,
                "period": 60,
                "stat": "Sum",
            },
        },
        {
            "id": "requests",
            "return_data": False,
            "metric": {
                "namespace": "AWS/ApplicationELB",
                "metric_name": "RequestCount",
                "dimensions": dimensions,
                "period": 60,
                "stat": "Sum",
            },
        },
    ]


def _common_alarm_settings(alarm: dict[str, Any]) -> None:
    assert alarm["alarm_actions"] == alarm["ok_actions"] == ["${aws_sns_topic.alarms.arn}"]
    assert (alarm["evaluation_periods"], alarm["datapoints_to_alarm"]) == (5, 5)
    assert alarm["comparison_operator"] == "GreaterThanThreshold"
    assert alarm["treat_missing_data"] == "notBreaching"


@pytest.mark.parametrize("svc", sorted(SERVICES))
def test_service_alarms(every_stage: Synth, svc: str) -> None:
    """Own ALB: the service's alarms may use the load balancer's metrics. Shared ALB: every
    service alarm is per target group, and the ALB's own 5xx alarm is the ALB's (next test)."""
    stage = every_stage
    alb, tg = load_balancer(stage, svc), target_group(stage, svc)
    alarms = {
        v["alarm_name"]: v
        for k, v in stage.resources("compute", "aws_cloudwatch_metric_alarm").items()
        if k.startswith(f"{svc}_alarms")
    }
    prefix = f"hebo-{stage.stage}-{svc}"
    lb_dim = {"LoadBalancer": ref("aws_lb", alb, "arn_suffix")}
    tg_dim = {**lb_dim, "TargetGroup": ref("aws_lb_target_group", tg, "arn_suffix")}
    service_dim = tg_dim if SHARED[stage.stage] else lb_dim
    expected = ["target-5xx-rate", "unhealthy-hosts", "p99-latency"] + ([] if SHARED[stage.stage] else ["alb-5xx-rate"])
    assert sorted(alarms) == sorted(f"{prefix}-{what}" for what in expected)
    for alarm in alarms.values():
        _common_alarm_settings(alarm)
    checked = [("target-5xx-rate", "HTTPCode_Target_5XX_Count", service_dim)]
    if not SHARED[stage.stage]:
        checked.append(("alb-5xx-rate", "HTTPCode_ELB_5XX_Count", lb_dim))
    for what, metric, dimensions in checked:
        alarm = alarms[f"{prefix}-{what}"]
        assert alarm["threshold"] == 5
        assert "metric_name" not in alarm
        assert alarm["metric_query"] == _rate_query(metric, dimensions)
    unhealthy = alarms[f"{prefix}-unhealthy-hosts"]
    assert (unhealthy["metric_name"], unhealthy["statistic"], unhealthy["threshold"]) == (
        "UnHealthyHostCount",
        "Maximum",
        0,
    )
    assert unhealthy["dimensions"] == tg_dim
    latency = alarms[f"{prefix}-p99-latency"]
    assert (latency["metric_name"], latency["extended_statistic"], latency["threshold"]) == (
        "TargetResponseTime",
        "p99",
        3,
    )
    assert latency["dimensions"] == service_dim


def test_shared_alb_has_its_own_5xx_alarm(shared_stage: Synth, production: Synth) -> None:
    """ELB-generated 5xx have no TargetGroup dimension: they are the shared ALB's, alarmed once."""
    s = shared_stage
    alb, _ = one(s, "aws_lb", "shared_alb")
    _, alarm = one(s, "aws_cloudwatch_metric_alarm", "shared_alb_alarms")
    _common_alarm_settings(alarm)
    assert (alarm["alarm_name"], alarm["threshold"]) == (f"hebo-{s.stage}-shared-alb-5xx-rate", 5)
    assert alarm["alarm_description"] == f"shared ALB (hebo-{s.stage}): load balancer 5xx above 5.0% of requests"
    assert alarm["metric_query"] == _rate_query(
        "HTTPCode_ELB_5XX_Count", {"LoadBalancer": ref("aws_lb", alb, "arn_suffix")}
    )
    assert not [k for k in production.resources("compute", "aws_cloudwatch_metric_alarm") if k.startswith("shared_alb")]


def test_outputs(stage: Synth) -> None:
    outputs = stage.stack("compute")["output"]
    for svc in SERVICES:
        alb = load_balancer(stage, svc)
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
def alb_log_bucket(s: Synth) -> str:
    name, _ = one(s, "aws_s3_bucket", "alb_logs_bucket")
    return name


def attached_to_log_bucket(s: Synth, rtype: str) -> dict[str, Any]:
    """The one `rtype` resource whose `bucket` is the ALB log bucket."""
    bucket_id = ref("aws_s3_bucket", alb_log_bucket(s), "id")
    found = [without_metadata(v) for v in s.resources("compute", rtype).values() if v.get("bucket") == bucket_id]
    assert len(found) == 1, rtype
    return found[0]


@pytest.fixture(params=["production", "preview", "dev"])
def every_stage(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)


def test_alb_log_bucket_is_private_sse_s3_versioned_and_expires_logs(every_stage: Synth) -> None:
    s = every_stage
    assert len(s.resources("compute", "aws_s3_bucket")) == 1
    _, bucket = one(s, "aws_s3_bucket", "alb_logs_bucket")
    assert without_metadata(bucket) == {
        "bucket_prefix": f"hebo-{s.stage}-alb-logs-",
        "force_destroy": expect(s)["force_destroy"],
        "lifecycle": {"prevent_destroy": expect(s)["protect"]},
    }
    bucket_id = ref("aws_s3_bucket", alb_log_bucket(s), "id")
    assert attached_to_log_bucket(s, "aws_s3_bucket_public_access_block") == {
        "bucket": bucket_id,
        "block_public_acls": True,
        "block_public_policy": True,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }
    assert attached_to_log_bucket(s, "aws_s3_bucket_ownership_controls") == {
        "bucket": bucket_id,
        "rule": {"object_ownership": "BucketOwnerEnforced"},
    }
    assert attached_to_log_bucket(s, "aws_s3_bucket_versioning") == {
        "bucket": bucket_id,
        "versioning_configuration": {"status": "Enabled"},
    }
    # SSE-S3 only: ALB log delivery cannot write to an SSE-KMS bucket.
    assert attached_to_log_bucket(s, "aws_s3_bucket_server_side_encryption_configuration") == {
        "bucket": bucket_id,
        "rule": [{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
    }
    versioning, _ = one(s, "aws_s3_bucket_versioning", "alb_logs_bucket")
    everything = [{"prefix": ""}]
    assert attached_to_log_bucket(s, "aws_s3_bucket_lifecycle_configuration") == {
        "bucket": bucket_id,
        "depends_on": [f"aws_s3_bucket_versioning.{versioning}"],
        "rule": [
            {
                "id": "expire-old-versions",
                "status": "Enabled",
                "filter": everything,
                "noncurrent_version_expiration": [{"noncurrent_days": 7}],
                "abort_incomplete_multipart_upload": [{"days_after_initiation": 1}],
            },
            {
                "id": "expire-current-versions",
                "status": "Enabled",
                "filter": everything,
                "expiration": [{"days": expect(s)["alb_log_retention_days"]}],
            },
            {
                "id": "remove-expired-delete-markers",
                "status": "Enabled",
                "filter": everything,
                "expiration": [{"expired_object_delete_marker": True}],
            },
        ],
    }
    assert s.stack("compute")["output"]["alb_logs_bucket"]["value"] == ref("aws_s3_bucket", alb_log_bucket(s), "bucket")


def test_alb_log_bucket_policy_lets_only_elb_write_each_service_prefix(stage: Synth) -> None:
    """us-east-1 (the default) predates August 2022: ELB writes as its regional account, found by
    the aws_elb_service_account data source; the service principal statement is the newer form.
    One prefix per ALB: the service names in production, `shared` where one ALB serves both."""
    bucket = alb_log_bucket(stage)
    arn = ref("aws_s3_bucket", bucket, "arn")
    (elb_account,) = stage.data_sources("compute", "aws_elb_service_account")
    assert (
        without_metadata(stage.data_sources("compute", "aws_elb_service_account")[elb_account]) == {}
    )  # provider region
    policy = attached_to_log_bucket(stage, "aws_s3_bucket_policy")
    pab, _ = one(stage, "aws_s3_bucket_public_access_block", "alb_logs_bucket")
    match = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}", policy.pop("policy"))
    assert match
    assert policy == {
        "bucket": ref("aws_s3_bucket", bucket, "id"),
        "depends_on": [f"aws_s3_bucket_public_access_block.{pab}"],
    }
    prefixes = ["shared"] if SHARED[stage.stage] else ["api", "gateway"]
    logs = [f"{arn}/{prefix}/AWSLogs/${{data.aws_caller_identity.account.account_id}}/*" for prefix in prefixes]
    document = stage.data_sources("compute", "aws_iam_policy_document")[match.group(1)]
    assert without_metadata(document)["statement"] == [
        {
            "sid": "ElbAccountWrites",
            "effect": "Allow",
            "actions": ["s3:PutObject"],
            "resources": logs,
            "principals": [{"type": "AWS", "identifiers": [f"${{data.aws_elb_service_account.{elb_account}.arn}}"]}],
        },
        {
            "sid": "ElbLogDeliveryWrites",
            "effect": "Allow",
            "actions": ["s3:PutObject"],
            "resources": logs,
            "principals": [{"type": "Service", "identifiers": ["logdelivery.elasticloadbalancing.amazonaws.com"]}],
        },
        {
            "sid": "DenyInsecureTransport",
            "effect": "Deny",
            "actions": ["s3:*"],
            "resources": [arn, f"{arn}/*"],
            "principals": [{"type": "AWS", "identifiers": ["*"]}],
            "condition": [{"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}],
        },
    ]


def test_alb_log_delivery_in_a_region_launched_after_august_2022(synth_variant: Any) -> None:
    """There the data source fails (no ELB account), so only the service principal may write."""
    s = synth_variant(HEBO_STAGE="pr-42", HEBO_REGION="eu-central-2")
    assert s.data_sources("compute", "aws_elb_service_account") == {}
    policy = attached_to_log_bucket(s, "aws_s3_bucket_policy")
    doc = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.([^.]+)\.json\}", policy["policy"]).group(1)  # type: ignore[union-attr]  # no match fails the test (AttributeError)
    statements = s.data_sources("compute", "aws_iam_policy_document")[doc]["statement"]
    assert [(st["sid"], st["principals"]) for st in statements] == [
        (
            "ElbLogDeliveryWrites",
            [{"type": "Service", "identifiers": ["logdelivery.elasticloadbalancing.amazonaws.com"]}],
        ),
        ("DenyInsecureTransport", [{"type": "AWS", "identifiers": ["*"]}]),
    ]


def test_alb_writes_access_logs_under_its_prefix(every_stage: Synth) -> None:
    s = every_stage
    bucket = alb_log_bucket(s)
    policy, _ = one(s, "aws_s3_bucket_policy", "alb_logs_bucket")
    prefixes = {"shared_alb": "shared"} if SHARED[s.stage] else {"api_alb": "api", "gateway_alb": "gateway"}
    assert len(s.resources("compute", "aws_lb")) == len(prefixes)
    for alb_prefix, log_prefix in prefixes.items():
        _, alb = one(s, "aws_lb", alb_prefix)
        assert alb["access_logs"] == {
            "bucket": ref("aws_s3_bucket", bucket, "bucket"),
            "prefix": log_prefix,
            "enabled": True,
        }
        # ELB tests its write access when logging is switched on: the policy must exist first.
        assert alb["depends_on"] == [f"aws_s3_bucket_policy.{policy}"]
    description = "prefix = shared" if SHARED[s.stage] else "prefix = service"
    assert (
        s.stack("compute")["output"]["alb_logs_bucket"]["description"]
        == f"S3 bucket of the ALB access logs ({description})"
    )


def test_production_albs_are_behind_one_waf_web_acl(production: Synth) -> None:
    acl_name, acl = one(production, "aws_wafv2_web_acl", "waf")
    stem = "hebo-production-albs"

    def visibility(metric: str) -> dict[str, Any]:
        return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}

    def managed(name: str, priority: int, group: str) -> dict[str, Any]:
        return {
            "name": name,
            "priority": priority,
            "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": {"name": group, "vendor_name": "AWS"}},
            "visibility_config": visibility(f"{stem}-{name}"),
        }

    assert without_metadata(acl) == {
        "name": stem,
        "description": "hebo-production API and Gateway load balancers",
        "scope": "REGIONAL",
        "default_action": {"allow": {}},
        "visibility_config": visibility(stem),
        "rule": [
            {
                "name": "rate-limit-per-ip",
                "priority": 10,
                "statement": {
                    "rate_based_statement": {"aggregate_key_type": "IP", "limit": 2000, "evaluation_window_sec": 300}
                },
                "action": {"block": {"custom_response": {"response_code": 429}}},
                "visibility_config": visibility(f"{stem}-rate-limit-per-ip"),
            },
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
    key_arn = compute_key_arn(production)
    logs = production.resource("compute", "aws_cloudwatch_log_group", "waf_logs")
    assert without_metadata(logs) == {
        "name": "aws-waf-logs-hebo-production",
        "retention_in_days": 365,
        "kms_key_id": key_arn,
    }
    _, logging = one(production, "aws_wafv2_web_acl_logging_configuration", "waf")
    assert without_metadata(logging) == {
        "resource_arn": ref("aws_wafv2_web_acl", acl_name, "arn"),
        "log_destination_configs": ["${aws_cloudwatch_log_group.waf_logs.arn}"],
        "redacted_fields": [{"single_header": {"name": "authorization"}}, {"single_header": {"name": "cookie"}}],
        "logging_filter": {
            "default_behavior": "DROP",
            "filter": [
                {
                    "behavior": "KEEP",
                    "requirement": "MEETS_ANY",
                    "condition": [{"action_condition": {"action": "BLOCK"}}, {"action_condition": {"action": "COUNT"}}],
                }
            ],
        },
    }


def test_no_waf_outside_production(preview: Synth, dev: Synth) -> None:
    for s in (preview, dev):
        for rtype in ("aws_wafv2_web_acl", "aws_wafv2_web_acl_association", "aws_wafv2_web_acl_logging_configuration"):
            assert s.resources("compute", rtype) == {}, (s.stage, rtype)
        assert "waf_logs" not in s.resources("compute", "aws_cloudwatch_log_group")
        assert '"wafv2' not in s.raw("compute")


def test_alb_log_and_waf_policy_and_names() -> None:
    from config.name_rules import RULES
    from config.naming import build_names
    from config.stage import policy_for

    assert [(p.alb_log_retention_days, p.waf) for p in map(policy_for, ("production", "pr-7", "dev"))] == [
        (90, True),
        (7, False),
        (7, False),
    ]
    names = build_names("hebo", policy_for("pr-7"), "hebo.ai")
    assert (names.alb_logs_bucket_prefix(), names.web_acl(), names.waf_log_group()) == (
        "hebo-pr-7-alb-logs-",
        "hebo-pr-7-albs",
        "aws-waf-logs-hebo-pr-7",
    )
    catalog = names.catalog()
    assert {
        ("s3_bucket_prefix", "hebo-pr-7-alb-logs-"),
        ("wafv2", "hebo-pr-7-albs"),
        ("waf_log_group", "aws-waf-logs-hebo-pr-7"),
    } <= set(catalog)
    assert RULES["wafv2"].check("a" * 129) and RULES["wafv2"].check("bad name")
    assert RULES["waf_log_group"].check("hebo-waf-logs") and not RULES["waf_log_group"].check("aws-waf-logs-x")


# -- the same stack through cdktf's Testing matchers (the API README.md documents for users) ----
from modules.cdk import Testing  # noqa: E402  (imported where the section using cdktf's matchers begins)


def test_testing_matchers_services_per_stage(production: Synth, preview: Synth) -> None:
    compute = production.raw("compute")
    for display in ("HeboApiService", "HeboGatewayService"):
        assert Testing.to_have_resource_with_properties(
            compute,
            "aws_ecs_service",
            {
                "name": display,
                "wait_for_steady_state": True,
                "capacity_provider_strategy": [{"capacity_provider": "FARGATE", "weight": 1}],
            },
        )
        assert Testing.to_have_resource_with_properties(
            preview.raw("compute"),
            "aws_ecs_service",
            {
                "name": display,
                "wait_for_steady_state": False,
                "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT", "weight": 1}],
            },
        )
    assert Testing.to_have_resource_with_properties(
        compute, "aws_appautoscaling_target", {"min_capacity": 4, "max_capacity": 16}
    )
    assert Testing.to_have_resource_with_properties(
        compute,
        "aws_lb",
        {"name": "hebo-production-api", "ip_address_type": "dualstack", "drop_invalid_header_fields": True},
    )
    assert Testing.to_have_resource_with_properties(
        compute,
        "aws_lb_listener",
        {"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    )
    # The zone is found by name, not read from the dns stack's state.
    assert Testing.to_have_data_source_with_properties(
        compute, "aws_route53_zone", {"name": "hebo.ai", "private_zone": False}
    )
    assert not Testing.to_have_data_source_with_properties(
        compute, "terraform_remote_state", {"config": {"key": "global/dns.tfstate"}}
    )


STACK_LEVEL_OVERRIDES = {"terraform"}
"""The only key a stack patches into its own document: `terraform.required_version` (stacks/base.py).
Constructs render their blocks themselves (e.g. the ECR token's `EphemeralBlock`), never by
overriding the stack's JSON, where nothing in the construct tree shows them."""


@pytest.mark.parametrize("stack_name", ["dns", "network", "data", "compute", "edge"])
def test_no_construct_overrides_its_stacks_document(any_stage: Synth, stack_name: str) -> None:
    overrides = any_stage.stack(stack_name)["//"]["metadata"].get("overrides", {}).get("stack", [])
    assert "terraform" in overrides, "the required_version override is seen (the check reads the right list)"
    assert set(overrides) <= STACK_LEVEL_OVERRIDES

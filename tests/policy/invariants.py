"""Whole-app invariants over synthesized stacks: pure functions `check_x(stacks, ...) -> [problem]`.

Each function takes `{stack name: parsed cdk.tf.json}` of one stage and returns human-readable
problems naming stack and resource, so the tests can run them on the real synth and on mutated
copies (test_gate_can_fail.py) alike. They are independent of any one stack's own tests.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from policy.dockerfile import EXEC_LOGGING_TOOLS, parse, stage_tools, target_stage
from synth_support import parse_jsonencode

Stacks = Mapping[str, dict[str, Any]]
DEFAULT_TAG_KEYS = ("app", "stage", "stack", "managed-by")
WORLD = {"0.0.0.0/0", "::/0"}
ALB_PUBLIC_PORTS = {80, 443}
REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}$")
REMOTE_REF = re.compile(
    r"^\$\{data\.terraform_remote_state\.cross-stack-reference-input-([a-z]+)\.outputs\.([A-Za-z0-9_.-]+)\}$"
)
DOC_REF = re.compile(r"\$\{data\.aws_iam_policy_document\.([A-Za-z0-9_-]+)\.json\}")


def resources(stacks: Stacks, *types: str) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(stack, type, name, config) of every resource (of `types`, if given)."""
    for stack, body in stacks.items():
        for rtype, instances in body.get("resource", {}).items():
            if types and rtype not in types:
                continue
            for name, config in instances.items():
                yield stack, rtype, name, config


def _first(block: Any) -> dict[str, Any]:
    """A nested block as cdktf writes it: a one-element list (or a plain object)."""
    if isinstance(block, list):
        return block[0] if block and isinstance(block[0], dict) else {}
    return block if isinstance(block, dict) else {}


def resolve_ref(stacks: Stacks, stack: str, value: Any, depth: int = 0) -> tuple[str, str, str] | None:
    """`${type.name.attr}` -> (stack, type, name), following cross-stack remote-state outputs."""
    if not isinstance(value, str) or depth > 3:
        return None
    if match := REF.match(value):
        return stack, match.group(1), match.group(2)
    if match := REMOTE_REF.match(value):
        source = match.group(1)
        output = stacks.get(source, {}).get("output", {}).get(match.group(2), {})
        return resolve_ref(stacks, source, output.get("value"), depth + 1)
    return None


# --- tags -------------------------------------------------------------------------------------
def check_default_tags(stacks: Stacks, expected: Callable[[str], dict[str, str]]) -> list[str]:
    """Every AWS provider (default and aliased) tags everything with app/stage/stack/managed-by,
    and no resource overrides those keys with its own `tags`."""
    problems = []
    for stack, body in stacks.items():
        providers = body.get("provider", {}).get("aws")
        if not providers:
            problems.append(f"{stack}: no aws provider block")
            continue
        for provider in providers:
            label = f"{stack}: provider aws{'.' + provider['alias'] if provider.get('alias') else ''}"
            tags = _first(provider.get("default_tags")).get("tags")
            if tags is None:
                problems.append(f"{label} has no default_tags")
            elif {k: tags.get(k) for k in DEFAULT_TAG_KEYS} != expected(stack):
                problems.append(f"{label} default_tags {tags} != {expected(stack)}")
    for stack, rtype, name, config in resources(stacks):
        for attr in ("tags", "tags_all"):
            overridden = (
                sorted(set(config.get(attr) or {}) & set(DEFAULT_TAG_KEYS))
                if isinstance(config.get(attr), dict)
                else []
            )
            if overridden:
                problems.append(f"{stack}: {rtype}.{name} {attr} overrides default tag(s) {overridden}")
    return problems


# --- security group ingress -------------------------------------------------------------------
def _alb_security_groups(stacks: Stacks, alb_sg_name: str) -> set[tuple[str, str]]:
    return {
        (stack, name) for stack, _, name, c in resources(stacks, "aws_security_group") if c.get("name") == alb_sg_name
    }


def _world_rule_problem(
    where: str, sources: set[str], protocol: Any, from_port: Any, to_port: Any, is_alb: bool
) -> str | None:
    if not sources & WORLD:
        return None
    tcp = str(protocol).lower() in ("tcp", "6")
    if is_alb and tcp and from_port == to_port and from_port in ALB_PUBLIC_PORTS:
        return None
    return (
        f"{where} admits {sorted(sources & WORLD)} on {protocol} {from_port}-{to_port}"
        f" (only the ALB security group may, on tcp 80/443)"
    )


def check_world_ingress(stacks: Stacks, alb_sg_name: str) -> list[str]:
    """No ingress from 0.0.0.0/0 or ::/0, except the ALB security group on tcp 80 and 443."""
    albs = _alb_security_groups(stacks, alb_sg_name)
    problems = []

    def group_is_alb(stack: str, ref: Any) -> bool:
        target = resolve_ref(stacks, stack, ref)
        return bool(target) and target[1] == "aws_security_group" and (target[0], target[2]) in albs

    for stack, _, name, config in resources(stacks, "aws_security_group"):
        for index, rule in enumerate(config.get("ingress") or []):
            sources = set(rule.get("cidr_blocks") or []) | set(rule.get("ipv6_cidr_blocks") or [])
            problem = _world_rule_problem(
                f"{stack}: aws_security_group.{name} ingress[{index}]",
                sources,
                rule.get("protocol"),
                rule.get("from_port"),
                rule.get("to_port"),
                (stack, name) in albs,
            )
            if problem:
                problems.append(problem)
    for stack, _, name, config in resources(stacks, "aws_vpc_security_group_ingress_rule"):
        sources = {config.get("cidr_ipv4"), config.get("cidr_ipv6")} - {None}
        problem = _world_rule_problem(
            f"{stack}: aws_vpc_security_group_ingress_rule.{name}",
            sources,
            config.get("ip_protocol"),
            config.get("from_port"),
            config.get("to_port"),
            group_is_alb(stack, config.get("security_group_id")),
        )
        if problem:
            problems.append(problem)
    for stack, _, name, config in resources(stacks, "aws_security_group_rule"):
        if config.get("type") != "ingress":
            continue
        sources = set(config.get("cidr_blocks") or []) | set(config.get("ipv6_cidr_blocks") or [])
        problem = _world_rule_problem(
            f"{stack}: aws_security_group_rule.{name}",
            sources,
            config.get("protocol"),
            config.get("from_port"),
            config.get("to_port"),
            group_is_alb(stack, config.get("security_group_id")),
        )
        if problem:
            problems.append(problem)
    return problems


# --- IAM --------------------------------------------------------------------------------------
SENSITIVE_SAMPLE_ACTIONS = {
    "secretsmanager": (
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",
        "secretsmanager:UpdateSecret",
    ),
    "kms": (
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:CreateGrant",
        "kms:DescribeKey",
        "kms:ScheduleKeyDeletion",
        "kms:PutKeyPolicy",
    ),
    "s3 data": (
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ListBucket",
        "s3:RestoreObject",
        "s3:PutObjectAcl",
    ),
}
ONLY_STAR_RESOURCE_ACTIONS = {
    "secretsmanager:getrandompassword",
    "secretsmanager:listsecrets",
    "kms:listkeys",
    "kms:listaliases",
    "kms:createkey",
}
"""Actions AWS only authorizes on Resource "*"; naming them alone is fine."""
POLICY_ATTRIBUTES = {
    "aws_iam_role": ("assume_role_policy",),
    "aws_iam_role_policy": ("policy",),
    "aws_iam_policy": ("policy",),
    "aws_iam_user_policy": ("policy",),
    "aws_iam_group_policy": ("policy",),
    "aws_kms_key": ("policy",),
    "aws_s3_bucket_policy": ("policy",),
    "aws_secretsmanager_secret_policy": ("policy",),
    "aws_secretsmanager_secret": ("policy",),
    "aws_ecr_repository_policy": ("policy",),
    "aws_sns_topic_policy": ("policy",),
    "aws_sns_topic": ("policy",),
    "aws_sqs_queue_policy": ("policy",),
    "aws_cloudwatch_log_resource_policy": ("policy_document",),
}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def statement_problems(where: str, statement: Mapping[str, Any], key_policy: bool) -> list[str]:
    """Problems of one statement, in either data-source (snake_case) or JSON (PascalCase) form."""
    effect = statement.get("effect", statement.get("Effect", "Allow"))
    if effect != "Allow":
        return []
    actions = [str(a) for a in _as_list(statement.get("actions", statement.get("Action")))]
    resources = [str(r) for r in _as_list(statement.get("resources", statement.get("Resource")))]
    problems = []
    if statement.get("not_actions") or statement.get("NotAction"):
        problems.append(f"{where}: Allow with NotAction grants everything else")
    if any(a in ("*", "*:*") for a in actions):
        problems.append(f"{where}: grants action '*'")
    if "*" in resources and not key_policy:
        for label, samples in SENSITIVE_SAMPLE_ACTIONS.items():
            hits = [
                a
                for a in actions
                if a.lower() not in ONLY_STAR_RESOURCE_ACTIONS
                and any(fnmatch.fnmatchcase(s.lower(), a.lower()) for s in samples)
            ]
            if hits:
                problems.append(f"{where}: {label} actions {hits} on Resource '*'")
    return problems


def key_policy_documents(stacks: Stacks) -> set[tuple[str, str]]:
    """(stack, document name) of every policy document referenced from an aws_kms_key.policy."""
    return {
        (stack, doc)
        for stack, _, _, config in resources(stacks, "aws_kms_key")
        for doc in DOC_REF.findall(str(config.get("policy") or ""))
    }


def check_iam(stacks: Stacks) -> list[str]:
    """No Allow of `*` actions; no `*` resource for secretsmanager, kms or S3 data actions, except
    in KMS key policies (documents referenced from aws_kms_key.policy), where `*` is the key."""
    problems = []
    key_policy_docs = key_policy_documents(stacks)
    for stack, rtype, name, config in resources(stacks):
        for attr in POLICY_ATTRIBUTES.get(rtype, ()):
            value = config.get(attr)
            if value is None:
                continue
            if isinstance(value, str) and REF_ONLY_DOC.match(value):
                continue
            try:
                parsed = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                problems.append(
                    f"{stack}: {rtype}.{name}.{attr} is neither a policy-document reference nor "
                    f"JSON ({value[:80]!r}); build it with modules/iam.policy_document"
                )
                continue
            for index, statement in enumerate(_as_list((parsed or {}).get("Statement"))):
                problems += statement_problems(
                    f"{stack}: {rtype}.{name}.{attr} Statement[{index}]", statement, key_policy=rtype == "aws_kms_key"
                )
    for stack, body in stacks.items():
        for name, config in body.get("data", {}).get("aws_iam_policy_document", {}).items():
            for index, statement in enumerate(config.get("statement") or []):
                problems += statement_problems(
                    f"{stack}: data.aws_iam_policy_document.{name} statement[{index}]",
                    statement,
                    key_policy=(stack, name) in key_policy_docs,
                )
    return problems


REF_ONLY_DOC = re.compile(r"^\$\{data\.aws_iam_policy_document\.[A-Za-z0-9_-]+\.json\}$")


# --- encryption at rest -----------------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value not in ("", "false"))


def _bucket_encrypted(stacks: Stacks, stack: str, name: str, config: dict[str, Any]) -> bool:
    if _first(_first(config.get("server_side_encryption_configuration")).get("rule")).get(
        "apply_server_side_encryption_by_default"
    ):
        return True
    for s, _, _, sse in resources(stacks, "aws_s3_bucket_server_side_encryption_configuration"):
        target = resolve_ref(stacks, s, sse.get("bucket"))
        default = _first(_first(sse.get("rule")).get("apply_server_side_encryption_by_default"))
        if target == (stack, "aws_s3_bucket", name) and default.get("sse_algorithm") in (
            "aws:kms",
            "aws:kms:dsse",
            "AES256",
        ):
            return True
    return False


def _instance_encrypted(config: dict[str, Any]) -> bool:
    root = _first(config.get("root_block_device"))
    return root.get("encrypted") is True and all(
        d.get("encrypted") is True for d in config.get("ebs_block_device") or []
    )


def _launch_template_encrypted(config: dict[str, Any]) -> bool:
    return all(
        _first(m.get("ebs")).get("encrypted") in (True, "true") for m in config.get("block_device_mappings") or []
    )


EncryptionRule = Callable[[Stacks, str, str, dict[str, Any]], bool]
ENCRYPTION_RULES: dict[str, tuple[str, EncryptionRule]] = {
    "aws_s3_bucket": ("an aws_s3_bucket_server_side_encryption_configuration (aws:kms or AES256)", _bucket_encrypted),
    "aws_rds_cluster": ("storage_encrypted = true", lambda s, st, n, c: c.get("storage_encrypted") is True),
    "aws_rds_global_cluster": (
        "storage_encrypted = true (or a source cluster)",
        lambda s, st, n, c: c.get("storage_encrypted") is True or bool(c.get("source_db_cluster_identifier")),
    ),
    "aws_db_instance": ("storage_encrypted = true", lambda s, st, n, c: c.get("storage_encrypted") is True),
    "aws_instance": (
        "root_block_device.encrypted = true (and every ebs_block_device)",
        lambda s, st, n, c: _instance_encrypted(c),
    ),
    "aws_launch_template": (
        "every block_device_mappings.ebs.encrypted = true",
        lambda s, st, n, c: _launch_template_encrypted(c),
    ),
    "aws_ebs_volume": ("encrypted = true", lambda s, st, n, c: c.get("encrypted") is True),
    "aws_efs_file_system": ("encrypted = true", lambda s, st, n, c: c.get("encrypted") is True),
    "aws_cloudwatch_log_group": ("kms_key_id", lambda s, st, n, c: _truthy(c.get("kms_key_id"))),
    "aws_ecr_repository": (
        "encryption_configuration (KMS or AES256)",
        lambda s, st, n, c: _first(c.get("encryption_configuration")).get("encryption_type") in ("KMS", "AES256"),
    ),
    "aws_secretsmanager_secret": ("kms_key_id", lambda s, st, n, c: _truthy(c.get("kms_key_id"))),
    "aws_dynamodb_table": (
        "server_side_encryption.enabled = true",
        lambda s, st, n, c: _first(c.get("server_side_encryption")).get("enabled") is True,
    ),
    "aws_sns_topic": ("kms_master_key_id", lambda s, st, n, c: _truthy(c.get("kms_master_key_id"))),
    "aws_sqs_queue": (
        "kms_master_key_id or sqs_managed_sse_enabled",
        lambda s, st, n, c: _truthy(c.get("kms_master_key_id")) or c.get("sqs_managed_sse_enabled") is True,
    ),
    "aws_kinesis_stream": ("encryption_type = KMS", lambda s, st, n, c: c.get("encryption_type") == "KMS"),
    "aws_lambda_function": (
        "kms_key_arn when it has environment variables",
        lambda s, st, n, c: not _first(c.get("environment")).get("variables") or _truthy(c.get("kms_key_arn")),
    ),
}
STORAGE_LIKE = re.compile(
    r"^aws_(s3_bucket|s3control_|rds_|db_instance|docdb|neptune|redshift|dynamodb_table|ebs_|efs_|fsx_|elasticache_|"
    r"memorydb_|opensearch_domain|elasticsearch_domain|kinesis_|firehose_|sqs_queue|sns_topic|ecr_repository|"
    r"cloudwatch_log_group|secretsmanager_secret|ssm_parameter|backup_vault|glacier_vault|msk_cluster|timestream_|"
    r"keyspaces_table|qldb_|instance|launch_template|lambda_function|codeartifact_|athena_)"
)
NOT_STORAGE = {
    "aws_rds_cluster_instance",  # encrypted through its cluster
    "aws_rds_cluster_parameter_group",
    "aws_rds_cluster_role_association",
    "aws_rds_cluster_endpoint",
    "aws_db_instance_role_association",
    "aws_s3_bucket_policy",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_logging",
    "aws_s3_bucket_notification",
    "aws_s3_bucket_cors_configuration",
    "aws_s3_bucket_website_configuration",
    "aws_s3_bucket_acl",
    "aws_ecr_repository_policy",
    "aws_ecr_lifecycle_policy",
    "aws_secretsmanager_secret_policy",
    "aws_secretsmanager_secret_rotation",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_sqs_queue_policy",
    "aws_cloudwatch_log_resource_policy",
    "aws_lambda_function_url",
    "aws_lambda_function_event_invoke_config",
    "aws_lambda_function_recursion_config",
    "aws_ebs_encryption_by_default",
    "aws_instance_profile",
    "aws_dynamodb_table_item",
    "aws_s3_object_copy",
}
"""Matches STORAGE_LIKE but holds no data of its own (configuration or attachments)."""


def check_encryption(stacks: Stacks) -> list[str]:
    """Every storage resource is encrypted by its type's rule; an unknown storage type fails."""
    problems = []
    for stack, rtype, name, config in resources(stacks):
        if rtype in ENCRYPTION_RULES:
            requirement, rule = ENCRYPTION_RULES[rtype]
            if not rule(stacks, stack, name, config):
                problems.append(f"{stack}: {rtype}.{name} is not encrypted: needs {requirement}")
        elif STORAGE_LIKE.match(rtype) and rtype not in NOT_STORAGE:
            problems.append(
                f"{stack}: {rtype}.{name}: storage-like type without an encryption rule — add one to "
                "ENCRYPTION_RULES (or to NOT_STORAGE, saying why) in tests/policy/invariants.py"
            )
    return problems


# --- nulls dropped by cdktf -------------------------------------------------------------------
def find_nulls_in_blocks(node: Any, path: str, inside_block_list: bool = False) -> Iterator[str]:
    """Paths of `null` values inside list-of-object blocks (cdktf's dropped snake_case dict keys)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "//":
                continue
            if value is None and inside_block_list:
                yield f"{path}.{key}"
            else:
                yield from find_nulls_in_blocks(value, f"{path}.{key}", inside_block_list)
    elif isinstance(node, list):
        objects = any(isinstance(item, dict) for item in node)
        for index, item in enumerate(node):
            if item is None and objects:
                yield f"{path}[{index}]"
            else:
                yield from find_nulls_in_blocks(item, f"{path}[{index}]", inside_block_list or objects)


def check_no_nulls(stacks: Stacks) -> list[str]:
    problems = []
    for stack, body in stacks.items():
        for section in ("resource", "data", "provider"):
            for path in find_nulls_in_blocks(body.get(section, {}), f"{stack}: {section}"):
                problems.append(
                    f"{path} is null (a snake_case dict key inside a list-of-block argument? "
                    "use the provider's struct class)"
                )
    return problems


# --- production protection ----------------------------------------------------------------------
PROTECTED_TYPES = {
    "aws_rds_cluster": "deletion_protection",
    "aws_rds_global_cluster": "deletion_protection",
    "aws_db_instance": "deletion_protection",
    "aws_kms_key": None,
    "aws_s3_bucket": None,
    "aws_route53_zone": None,
    "aws_secretsmanager_secret": None,
    "aws_dynamodb_table": "deletion_protection_enabled",
}


def check_protected(stacks: Stacks) -> list[str]:
    """Data-holding resources have lifecycle.prevent_destroy or (where the API has it) deletion protection."""
    problems = []
    for stack, rtype, name, config in resources(stacks, *PROTECTED_TYPES):
        protection = PROTECTED_TYPES[rtype]
        if _first(config.get("lifecycle")).get("prevent_destroy") is True:
            continue
        if protection and config.get(protection) is True:
            continue
        needs = "lifecycle.prevent_destroy" + (f" or {protection} = true" if protection else "")
        problems.append(f"{stack}: {rtype}.{name} holds data but has no {needs}")
    return problems


# --- ECS: secrets only through `secrets` --------------------------------------------------------
SECRETISH = re.compile(r"PASSWORD|PASSWD|SECRET|KEY|TOKEN|CREDENTIAL|PRIVATE", re.IGNORECASE)


def check_task_definitions(stacks: Stacks) -> list[str]:
    """No container environment variable whose name looks secret; `secrets` entries use valueFrom."""
    problems = []
    for stack, _, name, config in resources(stacks, "aws_ecs_task_definition"):
        where = f"{stack}: aws_ecs_task_definition.{name}"
        raw = config.get("container_definitions")
        try:
            containers = parse_jsonencode(raw) if isinstance(raw, str) else None
        except ValueError as error:  # JSONDecodeError and HclLiteralError
            problems.append(f"{where}: cannot read container_definitions ({error}); the gate cannot inspect it")
            continue
        if not isinstance(containers, list):
            problems.append(f"{where}: container_definitions is not a list of containers")
            continue
        for container in containers:
            cname = container.get("name", "?")
            for variable in container.get("environment") or []:
                var = str(variable.get("name", ""))
                if SECRETISH.search(var) and not var.upper().endswith("_ARN"):
                    problems.append(
                        f"{where} container {cname}: environment variable {var} looks secret; "
                        "pass it through `secrets` (valueFrom a Secrets Manager ARN)"
                    )
            for secret in container.get("secrets") or []:
                if set(secret) != {"name", "valueFrom"} or not secret.get("valueFrom"):
                    problems.append(
                        f"{where} container {cname}: secret {secret.get('name')} must be {{name, valueFrom}}"
                    )
    return problems


# --- container images: pushes and the images ECS Exec sessions run in --------------------------
INTERPOLATION = re.compile(r"\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_]+)\}")


def _interpolations(value: Any, rtype: str, attr: str) -> list[str]:
    """Names of the `rtype` resources whose `attr` the string `value` interpolates."""
    if not isinstance(value, str):
        return []
    return [m.group(2) for m in INTERPOLATION.finditer(value) if m.group(1) == rtype and m.group(3) == attr]


def _resource(stacks: Stacks, stack: str, rtype: str, name: str) -> dict[str, Any] | None:
    return stacks.get(stack, {}).get("resource", {}).get(rtype, {}).get(name)


def _pushed_image(stacks: Stacks, stack: str, push: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(full image name with tag, the docker_image it names or None) of a docker_registry_image."""
    built = _interpolations(push.get("name"), "docker_image", "name")
    if built and push.get("name") == f"${{docker_image.{built[0]}.name}}":
        image = _resource(stacks, stack, "docker_image", built[0]) or {}
        return str(image.get("name", "")), image
    return str(push.get("name", "")), None


def check_image_pushes(stacks: Stacks) -> list[str]:
    """No push that can collide with an immutable tag (issue #18).

    ECR refuses a push to an existing tag of an IMMUTABLE repository, even of the identical image
    (ImageTagAlreadyExistsException; aws/containers-roadmap#2179), and the docker provider pushes
    on every create or replacement of a `docker_registry_image`. So every push into one of the
    app's ECR repositories that is not MUTABLE must tag with the `id` of a `terraform_data`
    (a fresh UUID on each create or replacement) whose `triggers_replace` equal the push's
    `triggers`, and those triggers must cover the build inputs the content hash does not
    (`dockerfile`, `target`, `platform`). A push to a registry outside the app is flagged too:
    its tag mutability cannot be seen here.
    """
    problems = []
    for stack, _, name, push in resources(stacks, "docker_registry_image"):
        where = f"{stack}: docker_registry_image.{name}"
        full, image = _pushed_image(stacks, stack, push)
        repos = _interpolations(full, "aws_ecr_repository", "repository_url")
        repo = _resource(stacks, stack, "aws_ecr_repository", repos[0]) if repos else None
        if repo is None:
            problems.append(f"{where} pushes {full!r} to a repository that is not an aws_ecr_repository of this stack")
            continue
        if repo.get("image_tag_mutability", "MUTABLE") == "MUTABLE":
            continue
        tag = full.split(f"${{aws_ecr_repository.{repos[0]}.repository_url}}:", 1)[-1]
        ids = _interpolations(tag, "terraform_data", "id")
        push_id = _resource(stacks, stack, "terraform_data", ids[0]) if ids else None
        if push_id is None:
            problems.append(
                f"{where} pushes tag {tag!r} to immutable aws_ecr_repository.{repos[0]} without a terraform_data id "
                "in it: re-pushing earlier content would hit ImageTagAlreadyExistsException"
            )
            continue
        triggers = push.get("triggers") or {}
        if not triggers or push_id.get("triggers_replace") != triggers:
            problems.append(
                f"{where}: terraform_data.{ids[0]}.triggers_replace {push_id.get('triggers_replace')} != the push's "
                f"triggers {triggers}: a replaced push could reuse its tag"
            )
        build = _first((image or {}).get("build"))
        uncovered = sorted(
            k
            for k in ("dockerfile", "target", "platform")
            if build.get(k) is not None and build[k] not in triggers.values()
        )
        if uncovered:
            problems.append(
                f"{where}: build {uncovered} of docker_image not in the push triggers: changing them would "
                "rebuild different bytes under the same tag"
            )
    return problems


EXEC_LOGGING_MODES_NEEDING_TOOLS = {"DEFAULT", "OVERRIDE"}
"""ECS Exec `logging`: DEFAULT (to the container's awslogs group) and OVERRIDE (to the cluster's
log group / bucket) both record the session inside the container; NONE does not."""


def exec_enabled_images(stacks: Stacks) -> Iterator[tuple[str, str, str, dict[str, Any] | None]]:
    """(where, logging mode, container image, the docker_image it was built by or None) for each
    container of each ECS service with `enable_execute_command = true`."""
    for stack, _, name, service in resources(stacks, "aws_ecs_service"):
        if service.get("enable_execute_command") is not True:
            continue
        cluster_ref = resolve_ref(stacks, stack, service.get("cluster"))
        cluster = _resource(stacks, cluster_ref[0], cluster_ref[1], cluster_ref[2]) if cluster_ref else None
        command = _first(_first((cluster or {}).get("configuration")).get("execute_command_configuration"))
        mode = command.get("logging", "DEFAULT")
        task_ref = resolve_ref(stacks, stack, service.get("task_definition"))
        task = _resource(stacks, task_ref[0], task_ref[1], task_ref[2]) if task_ref else None
        containers = parse_jsonencode(task["container_definitions"]) if task else []
        for container in containers:
            image = str(container.get("image", ""))
            pushes = _interpolations(image, "docker_registry_image", "sha256_digest")
            push = _resource(stacks, stack, "docker_registry_image", pushes[0]) if pushes else None
            built = _pushed_image(stacks, stack, push)[1] if push else None
            yield f"{stack}: aws_ecs_service.{name} container {container.get('name')}", mode, image, built


def check_exec_session_logging(stacks: Stacks) -> list[str]:
    """Every container ECS Exec may open a logged session in is built from a Dockerfile stage whose
    image has the tools session logging runs (`script`, `cat`), read from the Dockerfile itself."""
    problems = []
    for where, mode, image, built in exec_enabled_images(stacks):
        if mode not in EXEC_LOGGING_MODES_NEEDING_TOOLS:
            continue
        build = _first((built or {}).get("build"))
        if not build.get("context") or not build.get("dockerfile"):
            problems.append(
                f"{where}: image {image!r} is not built from a Dockerfile here, so nothing shows it has "
                f"{sorted(EXEC_LOGGING_TOOLS)} for ECS Exec logging {mode}"
            )
            continue
        context = Path(build["context"])
        if not context.is_absolute() and getattr(stacks, "outdir", None) is not None:
            context = (
                Path(stacks.outdir) / "stacks" / where.split(":", 1)[0] / context
            )  # stack-relative, as Terraform reads it
        dockerfile = context / build["dockerfile"]
        try:
            stages = parse(dockerfile)
            stage = target_stage(stages, build.get("target"))
        except (OSError, KeyError, AssertionError) as error:
            problems.append(f"{where}: cannot read {dockerfile} target {build.get('target')!r}: {error}")
            continue
        tools = stage_tools(stages, stage)
        if tools is None:
            problems.append(
                f"{where}: {dockerfile.name} stage {stage.name!r} is FROM {stage.image}, whose tools are unknown"
            )
        elif EXEC_LOGGING_TOOLS - tools:
            problems.append(
                f"{where}: ECS Exec logging {mode} needs {sorted(EXEC_LOGGING_TOOLS - tools)}, which "
                f"{dockerfile.name} stage {stage.name!r} (FROM {stage.image}) lacks"
            )
    return problems


# --- role trust: only condition keys the assuming service documents ----------------------------
ECS_TASKS = "ecs-tasks.amazonaws.com"
TRUST_CONDITION_KEYS: dict[tuple[str, str | None], tuple[frozenset[str], frozenset[str], str]] = {
    # (service principal, ECS usage) -> (allowed keys, required keys, source)
    (ECS_TASKS, "execution"): (
        frozenset({"aws:SourceAccount"}),
        frozenset({"aws:SourceAccount"}),
        "AWS documents aws:SourceArn only for task roles "
        "(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html); the execution role "
        "(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_execution_IAM_role.html) gets the account guard",
    ),
    (ECS_TASKS, "task"): (
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html (confused deputy)",
    ),
    ("vpc-flow-logs.amazonaws.com", None): (
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        frozenset(),
        "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
    ),
    ("lambda.amazonaws.com", None): (frozenset(), frozenset(), "no condition key documented for execution roles"),
    ("ec2.amazonaws.com", None): (frozenset(), frozenset(), "instance profiles: no condition key documented"),
    ("rds.amazonaws.com", None): (frozenset(), frozenset(), "RDS Proxy role: no condition key documented"),
    ("monitoring.rds.amazonaws.com", None): (
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        frozenset({"aws:SourceAccount", "aws:SourceArn"}),
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html (confused deputy)",
    ),
}
"""What each service is documented to send when it assumes a role. A trust condition on a key
the service does not send makes every AssumeRole fail ("ECS was unable to assume the role"):
the kind of issue #14 defect 6. A new principal needs a row (with its source) before it is used."""


def _ecs_role_usage(stacks: Stacks) -> dict[tuple[str, str], set[str]]:
    """(stack, role name) -> {"execution", "task"}: how task definitions use each role."""
    usage: dict[tuple[str, str], set[str]] = {}
    for stack, _, _, config in resources(stacks, "aws_ecs_task_definition"):
        for attr, kind in (("execution_role_arn", "execution"), ("task_role_arn", "task")):
            target = resolve_ref(stacks, stack, config.get(attr))
            if target and target[1] == "aws_iam_role":
                usage.setdefault((target[0], target[2]), set()).add(kind)
    return usage


def role_trusts(stacks: Stacks) -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
    """(stack, role name, service principal, conditions) of each service statement of every role trust."""
    for stack, _, name, config in resources(stacks, "aws_iam_role"):
        match = DOC_REF.fullmatch(str(config.get("assume_role_policy") or ""))
        documents = stacks[stack].get("data", {}).get("aws_iam_policy_document", {})
        document = documents.get(match.group(1), {}) if match else {}
        for statement in document.get("statement") or []:
            for principal in statement.get("principals") or []:
                if principal.get("type") == "Service":
                    for service in principal.get("identifiers") or []:
                        yield stack, name, service, list(statement.get("condition") or [])


def check_role_trust(stacks: Stacks) -> list[str]:
    """Every service-role trust uses only the condition keys its service documents (and the
    required confused-deputy guards where they are documented); ECS roles by their usage."""
    problems = []
    usage = _ecs_role_usage(stacks)
    for stack, name, service, conditions in role_trusts(stacks):
        where = f"{stack}: aws_iam_role.{name} (trusts {service})"
        keys = {c.get("variable") for c in conditions}
        kinds = sorted(usage.get((stack, name), set())) if service == ECS_TASKS else [None]
        if not kinds:
            problems.append(f"{where}: no task definition uses it, so its documented trust keys are unknown")
        for kind in kinds:
            row = TRUST_CONDITION_KEYS.get((service, kind))
            if row is None:
                problems.append(f"{where}: no TRUST_CONDITION_KEYS row for this principal; add one with its source")
                continue
            allowed, required, source = row
            label = f" as {kind} role" if kind else ""
            if keys - allowed:
                problems.append(
                    f"{where}{label}: condition keys {sorted(keys - allowed)} are not documented ({source})"
                )
            if required - keys:
                problems.append(f"{where}{label}: lacks {sorted(required - keys)} ({source})")
    return problems


# --- apply-time defects (issue #14): one rule per kind ---------------------------------------------
def _lifecycle_ignores(config: dict[str, Any], attribute: str) -> bool:
    ignored = _first(config.get("lifecycle")).get("ignore_changes")
    return ignored == "all" or attribute in (ignored or [])


def _auto_minor(config: dict[str, Any]) -> bool:
    """`auto_minor_version_upgrade` defaults to true on RDS instances."""
    return config.get("auto_minor_version_upgrade", True) is not False


def _refers_to(value: Any, rtype: str, name: str) -> bool:
    return f"{rtype}.{name}." in json.dumps(value)


def _aurora_cluster_auto_upgrades(stacks: Stacks, stack: str, name: str, config: dict[str, Any]) -> bool:
    return any(
        _refers_to(i.get("cluster_identifier"), "aws_rds_cluster", name) and _auto_minor(i)
        for s, _, _, i in resources(stacks, "aws_rds_cluster_instance")
        if s == stack
    )


def _ami_is_most_recent_lookup(stacks: Stacks, stack: str, name: str, config: dict[str, Any]) -> bool:
    match = re.fullmatch(r"\$\{data\.aws_ami\.([A-Za-z0-9_-]+)\.id\}", str(config.get("ami", "")))
    return bool(match) and stacks[stack].get("data", {}).get("aws_ami", {}).get(match[1], {}).get("most_recent") is True


def _autoscaled(stacks: Stacks, stack: str, name: str, config: dict[str, Any]) -> bool:
    return any(
        _refers_to(t.get("resource_id"), "aws_ecs_service", name)
        for s, _, _, t in resources(stacks, "aws_appautoscaling_target")
        if s == stack
    )


AwsManagedRule = tuple[str, str, Callable[[Stacks, str, str, dict[str, Any]], bool], str]
AWS_MANAGED_VALUES: list[AwsManagedRule] = [
    (
        "aws_rds_cluster_instance",
        "engine_version",
        lambda s, st, n, c: _auto_minor(c),
        "auto_minor_version_upgrade moves it; RDS refuses the 'downgrade' (terraform-provider-aws#49396, #20086)",
    ),
    (
        "aws_db_instance",
        "engine_version",
        lambda s, st, n, c: _auto_minor(c),
        "auto_minor_version_upgrade moves it (terraform-provider-aws#49496)",
    ),
    (
        "aws_rds_cluster",
        "engine_version",
        _aurora_cluster_auto_upgrades,
        "its instances upgrade minors automatically, and the cluster version follows",
    ),
    ("aws_rds_global_cluster", "engine_version", lambda s, st, n, c: True, "follows its members' minor upgrades"),
    (
        "aws_instance",
        "ami",
        _ami_is_most_recent_lookup,
        "a most_recent AMI lookup changes with every new image and would replace the instance",
    ),
    ("aws_ecs_service", "desired_count", _autoscaled, "Application Auto Scaling changes it"),
]
"""(type, attribute, when AWS changes it, why): the attribute is pinned only with ignore_changes."""


def check_aws_managed_values_not_pinned(stacks: Stacks) -> list[str]:
    """Nothing AWS changes on its own is pinned without `lifecycle.ignore_changes`."""
    problems = []
    for rtype, attribute, applies, why in AWS_MANAGED_VALUES:
        for stack, _, name, config in resources(stacks, rtype):
            if (
                config.get(attribute) is not None
                and applies(stacks, stack, name, config)
                and not _lifecycle_ignores(config, attribute)
            ):
                problems.append(f"{stack}: {rtype}.{name} pins {attribute} without ignore_changes: {why}")
    return problems


def aws_managed_pins(stacks: Stacks) -> int:
    """How many pinned, AWS-managed values the rule above examined (non-vacuity)."""
    return sum(
        1
        for rtype, attribute, applies, _ in AWS_MANAGED_VALUES
        for stack, _, name, config in resources(stacks, rtype)
        if config.get(attribute) is not None and applies(stacks, stack, name, config)
    )


LOAD_BALANCER_TYPES = {"aws_lb", "aws_alb", "aws_elb"}


def elb_alias_targets(stacks: Stacks) -> Iterator[tuple[str, str, str, bool]]:
    """(stack, record name, alias name, dualstack-prefixed) of every alias record to a load balancer."""
    for stack, _, name, config in resources(stacks, "aws_route53_record"):
        target = str(_first(config.get("alias")).get("name") or "")
        bare = target.removeprefix("dualstack.")
        resolved = resolve_ref(stacks, stack, bare)
        if (resolved and resolved[1] in LOAD_BALANCER_TYPES) or bare.endswith(".elb.amazonaws.com"):
            yield stack, name, target, target.startswith("dualstack.")


def check_elb_aliases_dualstack(stacks: Stacks) -> list[str]:
    """Every alias to an Elastic Load Balancer targets `dualstack.<dns_name>`: without the prefix
    Route 53 answers no AAAA for it (Route 53 API reference, AliasTarget DNSName)."""
    return [
        f"{stack}: aws_route53_record.{name} aliases {target!r} without the 'dualstack.' prefix (no IPv6 answers)"
        for stack, name, target, dualstack in elb_alias_targets(stacks)
        if not dualstack
    ]


def check_no_reserved_lambda_concurrency(stacks: Stacks) -> list[str]:
    """No function reserves concurrency: Lambda refuses a reservation that leaves fewer than 100
    unreserved executions, so on new accounts (quota 10 or 50) the first apply would fail."""
    return [
        f"{stack}: aws_lambda_function.{name} reserves {config['reserved_concurrent_executions']} executions "
        "(fails on accounts whose concurrency quota is below 100 + the reservation)"
        for stack, _, name, config in resources(stacks, "aws_lambda_function")
        if isinstance(config.get("reserved_concurrent_executions"), int)
        and config["reserved_concurrent_executions"] >= 0
    ]


def check_lambdas_bypass_rds_proxy(stacks: Stacks) -> list[str]:
    """Lambdas (the migrator: DDL, advisory locks) reach the database through the writer endpoint,
    never RDS Proxy: those pin proxy sessions, and a proxy target can be registered before it is
    available. Nothing a Lambda invocation waits for is a proxy."""
    problems = []
    for stack, _, name, config in resources(stacks, "aws_lambda_function"):
        for key, value in (_first(config.get("environment")).get("variables") or {}).items():
            resolved = resolve_ref(stacks, stack, value)
            if "aws_db_proxy" in str(value) or (resolved and resolved[1].startswith("aws_db_proxy")):
                problems.append(f"{stack}: aws_lambda_function.{name} environment {key} points at RDS Proxy ({value})")
    for stack, _, name, config in resources(stacks, "aws_lambda_invocation"):
        proxies = [d for d in config.get("depends_on") or [] if d.startswith("aws_db_proxy")]
        if proxies:
            problems.append(
                f"{stack}: aws_lambda_invocation.{name} waits for {proxies}: migrations must not use the proxy"
            )
    return problems


SSM_MANAGED_POLICY = "AmazonSSMManagedInstanceCore"
SSM_AGENT_IMAGES = (re.compile(r"al2023-ami-2023\..*"), re.compile(r"amzn2-ami-hvm-.*"))
"""AMI name patterns (owner `amazon`) that ship the SSM agent: standard AL2023 and AL2; the AL2023
*minimal* images (`al2023-ami-minimal-*`, and fck-nat's, built from them) do not
(https://docs.aws.amazon.com/systems-manager/latest/userguide/ami-preinstalled-agent.html)."""


def _instance_ssm_role(stacks: Stacks, stack: str, config: dict[str, Any]) -> str | None:
    """The role of the instance's profile if that role has the SSM managed policy."""
    profile = resolve_ref(stacks, stack, config.get("iam_instance_profile"))
    if not profile:
        return None
    role = resolve_ref(stacks, stack, stacks[stack]["resource"]["aws_iam_instance_profile"][profile[2]].get("role"))
    if not role:
        return None
    for s, _, _, attachment in resources(stacks, "aws_iam_role_policy_attachment"):
        if (
            s == stack
            and resolve_ref(stacks, s, attachment.get("role")) == role
            and str(attachment.get("policy_arn", "")).endswith(f"/{SSM_MANAGED_POLICY}")
        ):
            return role[2]
    return None


def _image_has_ssm_agent(stacks: Stacks, stack: str, config: dict[str, Any]) -> bool:
    if "amazon-ssm-agent" in str(config.get("user_data", "")):
        return True
    match = re.fullmatch(r"\$\{data\.aws_ami\.([A-Za-z0-9_-]+)\.id\}", str(config.get("ami", "")))
    image = stacks[stack].get("data", {}).get("aws_ami", {}).get(match[1], {}) if match else {}
    names = [v for f in image.get("filter") or [] if f.get("name") == "name" for v in f.get("values") or []]
    return (
        image.get("owners") == ["amazon"]
        and bool(names)
        and all(any(p.fullmatch(n) for p in SSM_AGENT_IMAGES) for n in names)
    )


def check_ssm_roles_have_an_agent(stacks: Stacks) -> list[str]:
    """An instance whose role grants Session Manager runs an image with the SSM agent (or installs
    it in user data); a role the image cannot use is a false promise and a needless credential."""
    problems = []
    for stack, _, name, config in resources(stacks, "aws_instance"):
        role = _instance_ssm_role(stacks, stack, config)
        if role and not _image_has_ssm_agent(stacks, stack, config):
            problems.append(
                f"{stack}: aws_instance.{name} has {SSM_MANAGED_POLICY} (role {role}) but its image "
                f"({config.get('ami')}) is not one known to ship the SSM agent"
            )
    return problems


def check_ecs_strategy_changes_can_apply(stacks: Stacks) -> list[str]:
    """Services with a capacity-provider strategy set force_new_deployment: provider 6.x refuses to
    change a live service's strategy without it (terraform-provider-aws#43533)."""
    return [
        f"{stack}: aws_ecs_service.{name} has a capacity_provider_strategy but no force_new_deployment = true "
        "(a later Spot <-> on-demand change would fail the plan)"
        for stack, _, name, config in resources(stacks, "aws_ecs_service")
        if config.get("capacity_provider_strategy") and config.get("force_new_deployment") is not True
    ]


REQUIRED_VERSION = re.compile(r">= ?1\.(\d+)\.\d+, ?< ?1\.(\d+)\.\d+")


def check_backends_and_terraform_version(stacks: Stacks, lock_table_opted_in: bool = False) -> list[str]:
    """S3 backends lock natively (`use_lockfile`), carry the deprecated `dynamodb_table` only when
    the user opted in, and every stack bounds Terraform's version on both sides."""
    problems = []
    for stack, body in stacks.items():
        terraform = body.get("terraform", {})
        if not REQUIRED_VERSION.fullmatch(str(terraform.get("required_version", ""))):
            problems.append(
                f"{stack}: required_version {terraform.get('required_version')!r} is not bounded above "
                "(>= 1.x.0, < 1.y.0: the versions CI tests)"
            )
        s3 = terraform.get("backend", {}).get("s3")
        if s3 is not None:
            if s3.get("use_lockfile") is not True:
                problems.append(f"{stack}: S3 backend without use_lockfile = true (S3 native locking)")
            if "dynamodb_table" in s3 and not lock_table_opted_in:
                problems.append(f"{stack}: S3 backend carries the deprecated dynamodb_table by default")
        for name, block in body.get("data", {}).get("terraform_remote_state", {}).items():
            if "dynamodb_table" in (block.get("config") or {}):
                problems.append(
                    f"{stack}: terraform_remote_state.{name} carries dynamodb_table (breaks cdktf output parsing)"
                )
    return problems


# --- services never hold the database master's credentials -------------------------------------
REMOTE_REF_ANYWHERE = re.compile(
    r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-[a-z]+\.outputs\.[A-Za-z0-9_.-]+\}"
)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def secrets_referenced(stacks: Stacks, stack: str) -> list[str]:
    """Names of the Secrets Manager secrets `stack` references anywhere (resources, data sources,
    locals, outputs), following cross-stack outputs; embedded references (`${…}:password::`) count."""
    found: list[str] = []
    body = stacks.get(stack, {})
    for text in _strings({k: v for k, v in body.items() if k in ("resource", "data", "locals", "output")}):
        for reference in REMOTE_REF_ANYWHERE.findall(text) + ([text] if REF.match(text) else []):
            target = resolve_ref(stacks, stack, reference)
            if target and target[1] == "aws_secretsmanager_secret":
                config = stacks[target[0]]["resource"]["aws_secretsmanager_secret"][target[2]]
                found.append(str(config.get("name")))
    return found


def check_no_master_secret(stacks: Stacks, stack: str, master_names: Iterable[str]) -> list[str]:
    """`stack` (compute: the services) references no master credential secret, by reference or by name."""
    masters = tuple(master_names)
    problems = [
        f"{stack} references the master credential secret {name}"
        for name in secrets_referenced(stacks, stack)
        if name.rsplit("/", 1)[-1] in masters
    ]
    raw = json.dumps(stacks.get(stack, {}))
    problems += [
        f"{stack} names the master credential secret {m} literally" for m in masters if re.search(rf"[/_]{m}", raw)
    ]
    return problems

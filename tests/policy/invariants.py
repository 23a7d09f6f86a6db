"""Whole-app invariants over synthesized stacks: pure functions `check_x(stacks, ...) -> [problem]`.

Each function takes `{stack name: parsed cdk.tf.json}` of one stage and returns human-readable
problems naming stack and resource, so the tests can run them on the real synth and on mutated
copies (test_gate_can_fail.py) alike. They are independent of any one stack's own tests.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any, Callable, Iterable, Iterator, Mapping

from policy.hcl_literal import parse_jsonencode

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
            overridden = sorted(set(config.get(attr) or {}) & set(DEFAULT_TAG_KEYS)) if isinstance(config.get(attr), dict) else []
            if overridden:
                problems.append(f"{stack}: {rtype}.{name} {attr} overrides default tag(s) {overridden}")
    return problems


# --- security group ingress -------------------------------------------------------------------
def _alb_security_groups(stacks: Stacks, alb_sg_name: str) -> set[tuple[str, str]]:
    return {(stack, name) for stack, _, name, c in resources(stacks, "aws_security_group") if c.get("name") == alb_sg_name}


def _world_rule_problem(where: str, sources: set[str], protocol: Any, from_port: Any, to_port: Any, is_alb: bool) -> str | None:
    if not sources & WORLD:
        return None
    tcp = str(protocol).lower() in ("tcp", "6")
    if is_alb and tcp and from_port == to_port and from_port in ALB_PUBLIC_PORTS:
        return None
    return (f"{where} admits {sorted(sources & WORLD)} on {protocol} {from_port}-{to_port}"
            f" (only the ALB security group may, on tcp 80/443)")


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
            problem = _world_rule_problem(f"{stack}: aws_security_group.{name} ingress[{index}]", sources,
                                          rule.get("protocol"), rule.get("from_port"), rule.get("to_port"),
                                          (stack, name) in albs)
            if problem:
                problems.append(problem)
    for stack, _, name, config in resources(stacks, "aws_vpc_security_group_ingress_rule"):
        sources = {config.get("cidr_ipv4"), config.get("cidr_ipv6")} - {None}
        problem = _world_rule_problem(f"{stack}: aws_vpc_security_group_ingress_rule.{name}", sources,
                                      config.get("ip_protocol"), config.get("from_port"), config.get("to_port"),
                                      group_is_alb(stack, config.get("security_group_id")))
        if problem:
            problems.append(problem)
    for stack, _, name, config in resources(stacks, "aws_security_group_rule"):
        if config.get("type") != "ingress":
            continue
        sources = set(config.get("cidr_blocks") or []) | set(config.get("ipv6_cidr_blocks") or [])
        problem = _world_rule_problem(f"{stack}: aws_security_group_rule.{name}", sources, config.get("protocol"),
                                      config.get("from_port"), config.get("to_port"),
                                      group_is_alb(stack, config.get("security_group_id")))
        if problem:
            problems.append(problem)
    return problems


# --- IAM --------------------------------------------------------------------------------------
SENSITIVE_SAMPLE_ACTIONS = {
    "secretsmanager": ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                       "secretsmanager:DeleteSecret", "secretsmanager:UpdateSecret"),
    "kms": ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant",
            "kms:DescribeKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy"),
    "s3 data": ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
                "s3:ListBucket", "s3:RestoreObject", "s3:PutObjectAcl"),
}
ONLY_STAR_RESOURCE_ACTIONS = {"secretsmanager:getrandompassword", "secretsmanager:listsecrets", "kms:listkeys",
                              "kms:listaliases", "kms:createkey"}
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
            hits = [a for a in actions if a.lower() not in ONLY_STAR_RESOURCE_ACTIONS
                    and any(fnmatch.fnmatchcase(s.lower(), a.lower()) for s in samples)]
            if hits:
                problems.append(f"{where}: {label} actions {hits} on Resource '*'")
    return problems


def key_policy_documents(stacks: Stacks) -> set[tuple[str, str]]:
    """(stack, document name) of every policy document referenced from an aws_kms_key.policy."""
    return {(stack, doc) for stack, _, _, config in resources(stacks, "aws_kms_key")
            for doc in DOC_REF.findall(str(config.get("policy") or ""))}


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
                problems.append(f"{stack}: {rtype}.{name}.{attr} is neither a policy-document reference nor "
                                f"JSON ({value[:80]!r}); build it with modules/iam.policy_document")
                continue
            for index, statement in enumerate(_as_list((parsed or {}).get("Statement"))):
                problems += statement_problems(f"{stack}: {rtype}.{name}.{attr} Statement[{index}]", statement,
                                               key_policy=rtype == "aws_kms_key")
    for stack, body in stacks.items():
        for name, config in body.get("data", {}).get("aws_iam_policy_document", {}).items():
            for index, statement in enumerate(config.get("statement") or []):
                problems += statement_problems(f"{stack}: data.aws_iam_policy_document.{name} statement[{index}]",
                                               statement, key_policy=(stack, name) in key_policy_docs)
    return problems


REF_ONLY_DOC = re.compile(r"^\$\{data\.aws_iam_policy_document\.[A-Za-z0-9_-]+\.json\}$")


# --- encryption at rest -----------------------------------------------------------------------
def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value not in ("", "false"))


def _bucket_encrypted(stacks: Stacks, stack: str, name: str, config: dict[str, Any]) -> bool:
    if _first(_first(config.get("server_side_encryption_configuration")).get("rule")).get(
            "apply_server_side_encryption_by_default"):
        return True
    for s, _, _, sse in resources(stacks, "aws_s3_bucket_server_side_encryption_configuration"):
        target = resolve_ref(stacks, s, sse.get("bucket"))
        default = _first(_first(sse.get("rule")).get("apply_server_side_encryption_by_default"))
        if target == (stack, "aws_s3_bucket", name) and default.get("sse_algorithm") in ("aws:kms", "aws:kms:dsse", "AES256"):
            return True
    return False


def _instance_encrypted(config: dict[str, Any]) -> bool:
    root = _first(config.get("root_block_device"))
    return root.get("encrypted") is True and all(d.get("encrypted") is True for d in config.get("ebs_block_device") or [])


def _launch_template_encrypted(config: dict[str, Any]) -> bool:
    return all(_first(m.get("ebs")).get("encrypted") in (True, "true") for m in config.get("block_device_mappings") or [])


EncryptionRule = Callable[[Stacks, str, str, dict[str, Any]], bool]
ENCRYPTION_RULES: dict[str, tuple[str, EncryptionRule]] = {
    "aws_s3_bucket": ("an aws_s3_bucket_server_side_encryption_configuration (aws:kms or AES256)", _bucket_encrypted),
    "aws_rds_cluster": ("storage_encrypted = true", lambda s, st, n, c: c.get("storage_encrypted") is True),
    "aws_rds_global_cluster": ("storage_encrypted = true (or a source cluster)",
                               lambda s, st, n, c: c.get("storage_encrypted") is True or bool(c.get("source_db_cluster_identifier"))),
    "aws_db_instance": ("storage_encrypted = true", lambda s, st, n, c: c.get("storage_encrypted") is True),
    "aws_instance": ("root_block_device.encrypted = true (and every ebs_block_device)", lambda s, st, n, c: _instance_encrypted(c)),
    "aws_launch_template": ("every block_device_mappings.ebs.encrypted = true", lambda s, st, n, c: _launch_template_encrypted(c)),
    "aws_ebs_volume": ("encrypted = true", lambda s, st, n, c: c.get("encrypted") is True),
    "aws_efs_file_system": ("encrypted = true", lambda s, st, n, c: c.get("encrypted") is True),
    "aws_cloudwatch_log_group": ("kms_key_id", lambda s, st, n, c: _truthy(c.get("kms_key_id"))),
    "aws_ecr_repository": ("encryption_configuration (KMS or AES256)",
                           lambda s, st, n, c: _first(c.get("encryption_configuration")).get("encryption_type") in ("KMS", "AES256")),
    "aws_secretsmanager_secret": ("kms_key_id", lambda s, st, n, c: _truthy(c.get("kms_key_id"))),
    "aws_dynamodb_table": ("server_side_encryption.enabled = true",
                           lambda s, st, n, c: _first(c.get("server_side_encryption")).get("enabled") is True),
    "aws_sns_topic": ("kms_master_key_id", lambda s, st, n, c: _truthy(c.get("kms_master_key_id"))),
    "aws_sqs_queue": ("kms_master_key_id or sqs_managed_sse_enabled",
                      lambda s, st, n, c: _truthy(c.get("kms_master_key_id")) or c.get("sqs_managed_sse_enabled") is True),
    "aws_kinesis_stream": ("encryption_type = KMS", lambda s, st, n, c: c.get("encryption_type") == "KMS"),
    "aws_lambda_function": ("kms_key_arn when it has environment variables",
                            lambda s, st, n, c: not _first(c.get("environment")).get("variables") or _truthy(c.get("kms_key_arn"))),
}
STORAGE_LIKE = re.compile(
    r"^aws_(s3_bucket|s3control_|rds_|db_instance|docdb|neptune|redshift|dynamodb_table|ebs_|efs_|fsx_|elasticache_|"
    r"memorydb_|opensearch_domain|elasticsearch_domain|kinesis_|firehose_|sqs_queue|sns_topic|ecr_repository|"
    r"cloudwatch_log_group|secretsmanager_secret|ssm_parameter|backup_vault|glacier_vault|msk_cluster|timestream_|"
    r"keyspaces_table|qldb_|instance|launch_template|lambda_function|codeartifact_|athena_)"
)
NOT_STORAGE = {
    "aws_rds_cluster_instance",  # encrypted through its cluster
    "aws_rds_cluster_parameter_group", "aws_rds_cluster_role_association", "aws_rds_cluster_endpoint",
    "aws_db_instance_role_association", "aws_s3_bucket_policy", "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls", "aws_s3_bucket_versioning", "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_logging", "aws_s3_bucket_notification",
    "aws_s3_bucket_cors_configuration", "aws_s3_bucket_website_configuration", "aws_s3_bucket_acl",
    "aws_ecr_repository_policy", "aws_ecr_lifecycle_policy", "aws_secretsmanager_secret_policy",
    "aws_secretsmanager_secret_rotation", "aws_sns_topic_policy", "aws_sns_topic_subscription",
    "aws_sqs_queue_policy", "aws_cloudwatch_log_resource_policy", "aws_lambda_function_url",
    "aws_lambda_function_event_invoke_config", "aws_lambda_function_recursion_config", "aws_ebs_encryption_by_default",
    "aws_instance_profile", "aws_dynamodb_table_item", "aws_s3_object_copy",
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
            problems.append(f"{stack}: {rtype}.{name}: storage-like type without an encryption rule — add one to "
                            "ENCRYPTION_RULES (or to NOT_STORAGE, saying why) in tests/policy/invariants.py")
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
                problems.append(f"{path} is null (a snake_case dict key inside a list-of-block argument? "
                                "use the provider's struct class)")
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
                    problems.append(f"{where} container {cname}: environment variable {var} looks secret; "
                                    "pass it through `secrets` (valueFrom a Secrets Manager ARN)")
            for secret in container.get("secrets") or []:
                if set(secret) != {"name", "valueFrom"} or not secret.get("valueFrom"):
                    problems.append(f"{where} container {cname}: secret {secret.get('name')} must be {{name, valueFrom}}")
    return problems


# --- services never hold the database master's credentials -------------------------------------
REMOTE_REF_ANYWHERE = re.compile(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-[a-z]+\.outputs\.[A-Za-z0-9_.-]+\}")


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
    problems = [f"{stack} references the master credential secret {name}"
                for name in secrets_referenced(stacks, stack) if name.rsplit("/", 1)[-1] in masters]
    raw = json.dumps(stacks.get(stack, {}))
    problems += [f"{stack} names the master credential secret {m} literally"
                 for m in masters if re.search(rf"[/_]{m}", raw)]
    return problems

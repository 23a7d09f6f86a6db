"""The per-stage `compute` stack: ECS cluster, API and Gateway services behind HTTPS ALBs.

Per service: an ECR repository, the image (built and pushed by the docker provider, or a
pre-built URI), a KMS-encrypted log group, execution and task roles, a dual-stack ALB with an
ACM certificate and A/AAAA aliases, autoscaling and alarms. All stage differences come from
`self.policy`; all names from `self.names`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.cdk import Construct, Token, aws
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.iam import Condition, ServiceRole, ServiceRoleProps, Statement
from modules.logs import log_group
from modules.service.alarms import ServiceAlarms, ServiceAlarmsProps
from modules.service.autoscaling import ServiceAutoscaling, ServiceAutoscalingProps
from modules.service.cluster import FargateCluster, FargateClusterProps
from modules.service.fargate_service import FargateService, FargateServiceProps
from modules.service.image import (
    BuiltImage,
    BuiltImageProps,
    EcrRepository,
    EcrRepositoryProps,
    context_hash,
    ecr_docker_provider,
    ecr_repository_arn,
)
from modules.service.load_balancer import HttpsLoadBalancer, HttpsLoadBalancerProps
from modules.service.access_logs import AlbAccessLogBucket, AlbAccessLogBucketProps
from modules.service.waf import RegionalWebAcl, RegionalWebAclProps
from stacks.base import HeboStack
from stacks.data import DataOutputs
from config.naming import service_display_name
from config.topology import SERVICE_PORTS, SERVICES
from stacks.network import NetworkOutputs
from config.secrets import secrets_for
from config.settings import Settings
from config.stage import ConfigError

ECR_KEEP_IMAGES = 20
"""Images kept per repository: enough to roll back a few weeks of deploys."""
DOCKERFILES = {svc: f"Dockerfile.{svc}" for svc in SERVICES}
"""Dockerfile of each service, relative to HEBO_APP_REPO (templates in docker/)."""
ECS_EXEC_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
ECR_PULL_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage")


def require_dockerfiles(context: Path) -> None:
    """Fail synth (not the later `docker build`) when build mode has nothing to build."""
    missing = [DOCKERFILES[svc] for svc in SERVICES if not (context / DOCKERFILES[svc]).is_file()]
    if missing:
        raise ConfigError(
            f"invalid HEBO_APP_REPO {str(context)!r}: {', '.join(missing)} not found there "
            "(build mode builds the images from it; set HEBO_API_IMAGE and HEBO_GATEWAY_IMAGE to use pre-built images)"
        )


@dataclass(frozen=True)
class ComputeOutputs:
    """What other stacks or tools may read from compute."""

    cluster_name: str
    service_names: dict[str, str]
    alb_arns: dict[str, str]
    urls: dict[str, str]


class ComputeStack(HeboStack):
    stack_name = "compute"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs, data: DataOutputs) -> None:
        super().__init__(scope, settings)
        policy, names = self.policy, self.names
        self._network, self._data = network, data
        identity = aws.data_aws_caller_identity.DataAwsCallerIdentity(self, "account")
        partition = aws.data_aws_partition.DataAwsPartition(self, "partition")
        self._account, self._partition = identity.account_id, partition.partition

        self.key = self.stage_key(
            "key",
            "compute",
            f"{names.prefix} compute: service logs, ECR images, alarm topic, ECS Exec",
            logs_region=settings.region,
            service_principals=["cloudwatch.amazonaws.com"],  # alarms publish to the encrypted topic
        )
        exec_logs = None
        if policy.ecs_exec:
            exec_logs = log_group(
                self, "exec_logs", name=names.exec_log_group(), retention_days=policy.log_retention_days, kms_key_arn=self.key.arn
            )
        self.cluster = FargateCluster(
            self,
            "cluster",
            FargateClusterProps(
                name=names.ecs_cluster(),
                default_capacity_provider=policy.capacity_provider,
                container_insights=policy.container_insights,
                kms_key_arn=self.key.arn,
                exec_log_group_name=exec_logs.name if exec_logs is not None else None,
            ),
        )
        self.topic = aws.sns_topic.SnsTopic(self, "alarms", name=names.sns_topic("alarms"), kms_master_key_id=self.key.arn)
        if settings.alarm_email:
            aws.sns_topic_subscription.SnsTopicSubscription(
                self, "alarm_email", topic_arn=self.topic.arn, protocol="email", endpoint=settings.alarm_email
            )

        self.repositories = {
            svc: EcrRepository(
                self,
                f"{svc}_repository",
                EcrRepositoryProps(
                    name=names.ecr_repository(svc),
                    kms_key_arn=self.key.arn,
                    keep_images=ECR_KEEP_IMAGES,
                    force_delete=policy.force_destroy,
                ),
            )
            for svc in SERVICES
        }
        self.alb_logs = AlbAccessLogBucket(
            self,
            "alb_logs",
            AlbAccessLogBucketProps(
                bucket_prefix=names.alb_logs_bucket_prefix(),
                region=settings.region,
                account_id=self._account,
                log_prefixes=list(SERVICES),
                retention_days=policy.alb_log_retention_days,
                force_destroy=policy.force_destroy,
                prevent_destroy=policy.protect,
            ),
        )
        self.waf = self._web_acl() if policy.waf else None
        images = self._images(exec_logs)
        results = {svc: self._service(svc, images[svc], exec_logs) for svc in SERVICES}
        self.outputs = ComputeOutputs(
            cluster_name=self.cluster.name,
            service_names={svc: r["service"].name for svc, r in results.items()},
            alb_arns={svc: r["alb"].arn for svc, r in results.items()},
            urls={svc: f"https://{names.domain(svc)}" for svc in SERVICES},
        )
        self.output("cluster_name", self.cluster.name, "ECS cluster of this stage")
        self.output("alarm_topic_arn", self.topic.arn, "SNS topic the service alarms notify")
        self.output("alb_logs_bucket", self.alb_logs.name, "S3 bucket of the ALB access logs (prefix = service)")

    # -- edge protection ------------------------------------------------------------------------
    def _web_acl(self) -> RegionalWebAcl:
        """One web ACL for both ALBs: per-IP rate limit, IP reputation, known bad inputs. No
        CommonRuleSet/SQLi groups: the gateway's bodies are LLM prompts (arbitrary text, code, SQL)
        that those rules block as attacks. Logs (blocked/counted requests only) go to a KMS log group."""
        names = self.names
        logs = log_group(
            self, "waf_logs", name=names.waf_log_group(), retention_days=self.policy.log_retention_days,
            kms_key_arn=self.key.arn,
        )
        return RegionalWebAcl(
            self,
            "waf",
            RegionalWebAclProps(
                name=names.web_acl(),
                description=f"{names.prefix} API and Gateway load balancers",
                log_group_arn=logs.arn,
            ),
        )

    # -- images ---------------------------------------------------------------------------------
    def _images(self, exec_logs: Any) -> dict[str, str]:
        """Image URI per service: built + pushed and pinned by digest, or passed in (prebuilt)."""
        settings = self.settings
        if settings.image_mode == "prebuilt":
            return {"api": settings.api_image, "gateway": settings.gateway_image}
        context = settings.app_repo
        require_dockerfiles(context)
        tag = context_hash(context)[:32]
        provider = ecr_docker_provider(self, "docker")
        return {
            svc: BuiltImage(
                self,
                f"{svc}_image",
                BuiltImageProps(
                    repository_url=self.repositories[svc].url, context=context, dockerfile=DOCKERFILES[svc], tag=tag
                ),
                docker_provider=provider,
            ).image_uri
            for svc in SERVICES
        }

    # -- one service ----------------------------------------------------------------------------
    def _service(self, svc: str, image: str, exec_logs: Any) -> dict[str, Any]:
        policy, names, settings = self.policy, self.names, self.settings
        network, data = self._network, self._data
        display = service_display_name(svc)
        port = SERVICE_PORTS[svc]
        domain = names.domain(svc)

        logs = log_group(
            self, f"{svc}_logs", name=names.service_log_group(display), retention_days=policy.log_retention_days,
            kms_key_arn=self.key.arn,
        )
        injected = [s for s in secrets_for(svc) if s.env]
        # valueFrom may name one JSON member (PG_PASSWORD = DbCredentials' "password"); IAM takes the exact ARNs.
        secrets = {s.env: s.value_from(data.secret_arns[s.name]) for s in injected}
        secret_arns = list(dict.fromkeys(data.secret_arns[s.name] for s in injected))
        execution_role = ServiceRole(
            self,
            f"{svc}_execution_role",
            ServiceRoleProps(
                name=names.iam_role(f"{svc}-exec"),
                service="ecs-tasks.amazonaws.com",
                description=f"ECS agent for {display}: pull its image, write its logs, read its secrets",
                statements=self._execution_statements(svc, image, logs.arn, secret_arns),
                trust_conditions=self._trust_conditions(),
            ),
        )
        task_role = ServiceRole(
            self,
            f"{svc}_task_role",
            ServiceRoleProps(
                name=names.iam_role(f"{svc}-task"),
                service="ecs-tasks.amazonaws.com",
                description=f"{display} application"
                + (" (ECS Exec sessions)" if policy.ecs_exec else " (no AWS permissions)"),
                statements=self._task_statements(exec_logs),
                trust_conditions=self._trust_conditions(),
            ),
        )

        certificate = DnsValidatedCertificate(self, f"{svc}_certificate", domain_name=domain, zone_id=self.hosted_zone_id())
        alb = HttpsLoadBalancer(
            self,
            f"{svc}_alb",
            HttpsLoadBalancerProps(
                name=names.alb(svc),
                target_group_name=names.target_group(svc),
                vpc_id=network.vpc_id,
                subnet_ids=network.public_subnet_ids,
                security_group_ids=[network.security_group_ids["alb"]],
                certificate_arn=certificate.certificate_arn,
                ip_address_type=network.public_ip_address_type,  # dualstack: AAAA answers; targets stay IPv4
                target_port=port,
                health_check_path=settings.health_check_path,
                deletion_protection=policy.protect,
                access_logs_bucket=self.alb_logs.name,
                access_logs_prefix=svc,
                depends_on=[self.alb_logs.policy],
            ),
        )
        if self.waf is not None:
            self.waf.associate(f"{svc}_association", alb.arn)
        alias_records(self, f"{svc}_alias", zone_id=self.hosted_zone_id(), name=domain, target_dns_name=alb.dns_name,
                      target_zone_id=alb.zone_id)

        service = FargateService(
            self,
            f"{svc}_service",
            FargateServiceProps(
                name=display,
                family=names.task_family(display),
                cluster_arn=self.cluster.arn,
                image=image,
                port=port,
                cpu=policy.task_cpu,
                memory_mib=policy.task_memory_mib,
                environment={
                    "PORT": str(port),
                    "LOG_LEVEL": policy.log_level,
                    "NO_COLOR": "1",
                    "PG_HOST": data.db_endpoint,
                    "PG_PORT": str(data.db_port) if isinstance(data.db_port, int) else Token.as_string(data.db_port),
                    "PG_DATABASE": data.db_name,
                    "PG_USER": data.db_username,
                },
                secrets=secrets,
                log_group_name=logs.name,
                log_region=settings.region,
                execution_role_arn=execution_role.arn,
                task_role_arn=task_role.arn,
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[network.security_group_ids["service"]],
                target_group_arn=alb.target_group.arn,
                capacity_provider=policy.capacity_provider,
                desired_count=policy.service_min_tasks,
                wait_for_steady_state=policy.wait_for_steady_state,
                enable_execute_command=policy.ecs_exec,
                depends_on=[alb.https_listener, self.cluster.capacity_providers],
            ),
        )
        scaling = ServiceAutoscaling(
            self,
            f"{svc}_scaling",
            ServiceAutoscalingProps(
                cluster_name=self.cluster.name,
                service_name=service.name,
                policy_name=lambda metric, svc=svc: names.scaling_policy(svc, metric),
                min_tasks=policy.service_min_tasks,
                max_tasks=policy.service_max_tasks,
            ),
        )
        ServiceAlarms(
            self,
            f"{svc}_alarms",
            ServiceAlarmsProps(
                alarm_name=lambda what, svc=svc: names.alarm(svc, what),
                service_label=f"{display} ({names.prefix})",
                load_balancer_arn_suffix=alb.arn_suffix,
                target_group_arn_suffix=alb.target_group_arn_suffix,
                topic_arn=self.topic.arn,
            ),
        )
        self.output(f"{svc}_url", f"https://{domain}", f"{display} URL")
        self.output(f"{svc}_log_group", logs.name, f"CloudWatch log group of {display}")
        self.output(f"{svc}_alb_arn", alb.arn, f"Load balancer of {display}")
        self.output(f"{svc}_ecr_repository_url", self.repositories[svc].url, f"ECR repository of {display} (CI pushes here in prebuilt mode)")
        return {"service": service, "alb": alb, "scaling": scaling, "logs": logs}

    # -- IAM ------------------------------------------------------------------------------------
    def _trust_conditions(self) -> list[Condition]:
        """Only ECS tasks of this account (and region) may assume the roles (confused deputy)."""
        return [
            Condition(test="StringEquals", variable="aws:SourceAccount", values=[self._account]),
            Condition(
                test="ArnLike",
                variable="aws:SourceArn",
                values=[f"arn:{self._partition}:ecs:{self.settings.region}:{self._account}:*"],
            ),
        ]

    def _execution_statements(self, svc: str, image: str, log_group_arn: str, secret_arns: list[str]) -> list[Statement]:
        """AmazonECSTaskExecutionRolePolicy, scoped: this service's repository, log group, secrets."""
        repositories = [self.repositories[svc].arn]
        if self.settings.image_mode == "prebuilt":
            external = ecr_repository_arn(image, self._partition)
            if external:
                repositories.append(external)
        return [
            # GetAuthorizationToken has no resource-level permissions: "*" is the only valid value.
            Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            Statement(sid="PullImage", actions=list(ECR_PULL_ACTIONS), resources=repositories),
            Statement(sid="WriteLogs", actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                      resources=[f"{log_group_arn}:log-stream:*"]),
            Statement(sid="ReadSecrets", actions=["secretsmanager:GetSecretValue"], resources=secret_arns),
            Statement(
                sid="DecryptSecrets",
                actions=["kms:Decrypt"],
                resources=[self._data.kms_key_arn],
                conditions=[
                    Condition(test="StringEquals", variable="kms:ViaService",
                              values=[f"secretsmanager.{self.settings.region}.amazonaws.com"])
                ],
            ),
        ]

    def _task_statements(self, exec_logs: Any) -> list[Statement]:
        """The application itself needs no AWS API; ECS Exec (non-production) needs its channels."""
        if exec_logs is None:
            return []
        return [
            # ssmmessages has no resource-level permissions.
            Statement(sid="EcsExecChannels", actions=list(ECS_EXEC_ACTIONS), resources=["*"]),
            Statement(sid="EcsExecDescribeLogs", actions=["logs:DescribeLogGroups"], resources=["*"]),
            Statement(sid="EcsExecLogs", actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                      resources=[f"{exec_logs.arn}:log-stream:*"]),
            Statement(sid="EcsExecKms", actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.arn]),
        ]

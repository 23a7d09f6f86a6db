"""The per-stage `compute` stack: ECS cluster, API and Gateway services behind HTTPS ALBs.

Per service: an ECR repository and the image (built and pushed by the docker provider, or a
pre-built URI), then one `LoadBalancedFargateService` (modules/service/pattern.py): log group,
execution and task roles, a dual-stack ALB with an ACM certificate and A/AAAA aliases, the
ECS service, autoscaling and alarms. All stage differences come from
`self.policy`; all names from `self.names`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.account import account_id, partition
from modules.cdk import Annotations, Construct, Token, aws
from modules.dns_records import DnsValidatedCertificate, alias_records
from modules.logs import log_group
from modules.secrets import existing_secret
from modules.service.access_logs import AlbAccessLogBucket, AlbAccessLogBucketProps
from modules.service.alarms import LoadBalancerAlarms, LoadBalancerAlarmsProps
from modules.service.cluster import FargateCluster, FargateClusterProps
from modules.service.image import BuiltImage, BuiltImageProps, EcrRepository, EcrRepositoryProps, context_hash
from modules.service.image import dockerfile_stage_names, ecr_docker_provider, ecr_repository_arn
from modules.service.pattern import LoadBalancedFargateService
from modules.service.pattern_props import Capacity, ContainerSecret, DedicatedLoadBalancer, ExecuteCommand
from modules.service.pattern_props import LoadBalancedFargateServiceProps, SharedLoadBalancerRoute
from modules.service.load_balancer import AlbSettings, SharedHttpsLoadBalancer, SharedHttpsLoadBalancerProps
from modules.service.waf import RegionalWebAcl, RegionalWebAclProps
from stacks.base import STAGE_KEY_SERVICE_PRINCIPALS, HeboStack
from stacks.data import DataOutputs
from config.naming import SCALING_METRICS, SERVICE_ALARMS, service_display_name
from config.topology import LISTENER_RULE_PRIORITIES, SERVICE_PORTS, SERVICES
from stacks.network import NetworkOutputs
from config.secrets import secrets_for
from config.settings import Settings
from config.errors import ConfigError

SHARED_ALB_LOG_PREFIX = "shared"
"""Access-log prefix of a stage's shared ALB (dedicated ALBs log under their service's name)."""
ECR_KEEP_IMAGES = 20
"""Images kept per repository: enough to roll back a few weeks of deploys."""
DOCKERFILES = {svc: f"Dockerfile.{svc}" for svc in SERVICES}
"""Dockerfile of each service, relative to HEBO_APP_REPO (templates in docker/)."""
PREBUILT_EXEC_WARNING = (
    "ECS Exec sessions of this stage are logged, which needs `script` and `cat` in the images; "
    "nothing here can inspect prebuilt images: build them with `--target debug` (docs/compute.md, ECS Exec)"
)


def require_dockerfiles(context: Path, target: str) -> None:
    """Fail synth (not the later `docker build`) when build mode has nothing to build: a missing
    Dockerfile, or one without the stage this stage builds (`debug` or `runtime`). Raises ConfigError."""
    missing = [DOCKERFILES[svc] for svc in SERVICES if not (context / DOCKERFILES[svc]).is_file()]
    if missing:
        raise ConfigError(
            "HEBO_APP_REPO",
            str(context),
            reason=f"{', '.join(missing)} not found there (build mode builds the images from it)",
            hint="set HEBO_API_IMAGE and HEBO_GATEWAY_IMAGE to use pre-built images",
        )
    stageless = [
        DOCKERFILES[svc] for svc in SERVICES if target not in dockerfile_stage_names(context / DOCKERFILES[svc])
    ]
    if stageless:
        raise ConfigError(
            "HEBO_APP_REPO",
            str(context),
            reason=f"{', '.join(stageless)} has no stage named {target!r} (this stage builds it)",
            hint="copy the current templates from docker/ (docs/compute.md)",
        )


@dataclass(frozen=True)
class ComputeOutputs:
    """What other stacks or tools may read from compute."""

    cluster_name: str
    """The ECS cluster's name (a reference)."""
    service_names: dict[str, str]
    """Service key (`api`, `gateway`) -> ECS service name (a reference)."""
    alb_arns: dict[str, str]
    """Service key -> ARN of the ALB it is behind (its own, or the shared one)."""
    urls: dict[str, str]
    """Service key (every one of `SERVICES`) -> `https://<domain>`."""


class ComputeStack(HeboStack):
    """The per-stage services: ECS cluster, the API and Gateway services behind their ALBs (one
    shared ALB where the policy says so), images, certificates, DNS aliases, WAF and alarms.
    Reads the network and data stacks' outputs only (cross-stack references)."""

    stack_name = "compute"

    def __init__(self, scope: Construct, settings: Settings, network: NetworkOutputs, data: DataOutputs) -> None:
        super().__init__(scope, settings)
        policy, names = self.policy, self.names
        self._network, self._data = network, data
        self._template_secrets: dict[str, Any] = {}
        self._account, self._partition = account_id(self), partition(self)

        self.key = self.stage_key(
            "key",
            "compute",
            f"{names.prefix} compute: service logs, ECR images, alarm topic, ECS Exec",
            logs_region=settings.region,
            service_principals=list(STAGE_KEY_SERVICE_PRINCIPALS),  # alarms publish to the encrypted topic
            shared=network.stage_key_arn,
        )
        exec_logs = self._create_cluster()
        self.topic = self._create_alarm_topic()
        self.repositories = self._create_repositories()
        self.alb_logs = self._create_alb_logs()
        self.alb_settings = self._alb_settings()
        self.waf = self._web_acl() if policy.waf else None
        self.shared_alb = self._shared_load_balancer() if policy.shared_load_balancer else None
        images = self._images(exec_logs)
        self.services = {svc: self._service(svc, images[svc], exec_logs) for svc in SERVICES}
        self.outputs = ComputeOutputs(
            cluster_name=self.cluster.name,
            service_names={svc: r.service_name for svc, r in self.services.items()},
            alb_arns={svc: r.load_balancer_arn for svc, r in self.services.items()},
            urls={svc: f"https://{names.domain(svc)}" for svc in SERVICES},
        )
        self.output("cluster_name", self.cluster.name, "ECS cluster of this stage")
        self.output("alarm_topic_arn", self.topic.arn, "SNS topic the service alarms notify")
        prefix = f"prefix = {SHARED_ALB_LOG_PREFIX}" if self.shared_alb is not None else "prefix = service"
        self.output("alb_logs_bucket", self.alb_logs.name, f"S3 bucket of the ALB access logs ({prefix})")

    # -- steps, in the order __init__ runs them -------------------------------------------------
    def _create_cluster(self) -> Any:
        """The ECS cluster (Fargate and Fargate Spot) and, where ECS Exec is on, the KMS log group
        its sessions are logged to; returns that log group or None."""
        policy, names = self.policy, self.names
        exec_logs = None
        if policy.ecs_exec:
            exec_logs = log_group(
                self,
                "exec_logs",
                name=names.exec_log_group(),
                retention_days=policy.log_retention_days,
                kms_key_arn=self.key.arn,
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
        return exec_logs

    def _create_alarm_topic(self) -> Any:
        """The KMS-encrypted SNS topic the alarms notify, with HEBO_ALARM_EMAIL subscribed if set."""
        topic = aws.sns_topic.SnsTopic(
            self, "alarms", name=self.names.sns_topic("alarms"), kms_master_key_id=self.key.arn
        )
        if self.settings.alarm_email:
            aws.sns_topic_subscription.SnsTopicSubscription(
                self, "alarm_email", topic_arn=topic.arn, protocol="email", endpoint=self.settings.alarm_email
            )
        return topic

    def _create_repositories(self) -> dict[str, EcrRepository]:
        """One hardened ECR repository per service (immutable tags, scan on push, KMS)."""
        return {
            svc: EcrRepository(
                self,
                f"{svc}_repository",
                EcrRepositoryProps(
                    name=self.names.ecr_repository(svc),
                    kms_key_arn=self.key.arn,
                    keep_images=ECR_KEEP_IMAGES,
                    force_delete=self.policy.force_destroy,
                ),
            )
            for svc in SERVICES
        }

    def _create_alb_logs(self) -> AlbAccessLogBucket:
        """The ALB access-log bucket: one prefix per ALB (`shared`, or one per service)."""
        policy = self.policy
        return AlbAccessLogBucket(
            self,
            "alb_logs",
            AlbAccessLogBucketProps(
                bucket_prefix=self.names.alb_logs_bucket_prefix(),
                region=self.settings.region,
                account_id=self._account,
                log_prefixes=[SHARED_ALB_LOG_PREFIX] if policy.shared_load_balancer else list(SERVICES),
                retention_days=policy.alb_log_retention_days,
                force_destroy=policy.force_destroy,
                prevent_destroy=policy.protect,
            ),
        )

    def _alb_settings(self) -> AlbSettings:
        """What every ALB of this stage shares (the shared one, or one per service)."""
        network = self._network
        return AlbSettings(
            subnet_ids=network.public_subnet_ids,
            security_group_ids=[network.security_group_ids["alb"]],
            ip_address_type=network.public_ip_address_type,  # dualstack: AAAA answers; targets stay IPv4
            deletion_protection=self.policy.protect,
            access_logs_bucket=self.alb_logs.name,
            depends_on=[self.alb_logs.policy],
        )

    # -- edge protection ------------------------------------------------------------------------
    def _web_acl(self) -> RegionalWebAcl:
        """One web ACL for both ALBs: per-IP rate limit, IP reputation, known bad inputs. No
        CommonRuleSet/SQLi groups: the gateway's bodies are LLM prompts (arbitrary text, code, SQL)
        that those rules block as attacks. Logs (blocked/counted requests only) go to a KMS log group."""
        names = self.names
        logs = log_group(
            self,
            "waf_logs",
            name=names.waf_log_group(),
            retention_days=self.policy.log_retention_days,
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

    # -- one load balancer for both services (stage policy `shared_load_balancer`) ---------------
    def _shared_load_balancer(self) -> SharedHttpsLoadBalancer:
        """One dual-stack ALB serving every service by host name: one certificate naming all of
        them, A/AAAA aliases per name, a fixed 404 for any other host, its own 5xx alarm (the
        services alarm per target group), WAF when the policy has one."""
        names = self.names
        domains = [names.domain(svc) for svc in SERVICES]
        certificate = DnsValidatedCertificate(
            self,
            "shared_alb_certificate",
            domain_name=domains[0],
            subject_alternative_names=domains[1:],
            zone_id=self.hosted_zone_id(),
        )
        alb = SharedHttpsLoadBalancer(
            self,
            "shared_alb",
            SharedHttpsLoadBalancerProps(
                name=names.shared_alb(),
                settings=self.alb_settings,
                access_logs_prefix=SHARED_ALB_LOG_PREFIX,
                certificate_arn=certificate.certificate_arn,
            ),
        )
        if self.waf is not None:
            self.waf.associate("shared_alb_association", alb.arn)
        for svc, domain in zip(SERVICES, domains, strict=True):
            alias_records(
                self,
                f"{svc}_alias",
                zone_id=self.hosted_zone_id(),
                name=domain,
                target_dns_name=alb.dns_name,
                target_zone_id=alb.zone_id,
            )
        LoadBalancerAlarms(
            self,
            "shared_alb_alarms",
            LoadBalancerAlarmsProps(
                alarm_name=names.shared_alb_alarm,
                label=f"shared ALB ({names.prefix})",
                load_balancer_arn_suffix=alb.arn_suffix,
                topic_arn=self.topic.arn,
            ),
        )
        return alb

    # -- images ---------------------------------------------------------------------------------
    def _images(self, exec_logs: Any) -> dict[str, str]:
        """Image URI per service: built + pushed and pinned by digest, or passed in (prebuilt).
        Exec-enabled stages build the Dockerfile's `debug` stage (see StagePolicy.image_target)."""
        settings = self.settings
        if settings.api_image and settings.gateway_image:  # prebuilt mode (Settings requires both or neither)
            if self.policy.ecs_exec:
                Annotations.of(self).add_warning(PREBUILT_EXEC_WARNING)
                print(f"warning: compute: {PREBUILT_EXEC_WARNING}", file=sys.stderr)
            return {"api": settings.api_image, "gateway": settings.gateway_image}
        context = settings.app_repo
        require_dockerfiles(context, self.policy.image_target)
        content_hash = context_hash(context)[:32]
        provider = ecr_docker_provider(self, "docker")
        return {
            svc: BuiltImage(
                self,
                f"{svc}_image",
                BuiltImageProps(
                    repository_url=self.repositories[svc].url,
                    context=context,
                    dockerfile=DOCKERFILES[svc],
                    content_hash=content_hash,
                    target=self.policy.image_target,
                ),
                docker_provider=provider,
            ).image_uri
            for svc in SERVICES
        }

    # -- secrets: this stage's own, or the template stage's ----------------------------------------
    def _template_secret(self, name: str) -> Any:
        """The template stage's secret `name` (HEBO_PREVIEW_SECRETS_FROM), looked up once by name."""
        if name not in self._template_secrets:
            self._template_secrets[name] = existing_secret(self, f"template_{name}", self.names.secret(name))
        return self._template_secrets[name]

    def _secret_arn(self, name: str) -> str:
        """ARN of catalog secret `name`: the data stack's container, or the template stage's."""
        if name in self._data.secret_arns:
            return self._data.secret_arns[name]
        return self._template_secret(name).arn

    def _secret_key_arns(self, names: list[str]) -> list[str]:
        """The KMS keys these secrets are encrypted with: the data stack's key (if any of them is
        this stage's), then the key each template secret reports (`kms_key_id`: the ARN the
        template stage's data stack created it with). The template stage's secrets may use its
        own key; IAM ignores duplicates, which stay unresolved until plan."""
        own = [self._data.kms_key_arn] if any(n in self._data.secret_arns for n in names) else []
        return own + [self._template_secret(n).kms_key_id for n in names if n not in self._data.secret_arns]

    # -- one service ----------------------------------------------------------------------------
    def _service(self, svc: str, image: str, exec_logs: Any) -> LoadBalancedFargateService:
        """One service from the pattern: this stage's policy and names in, resources out."""
        policy, names, settings = self.policy, self.names, self.settings
        display = service_display_name(svc)
        injected = [(s.env, s) for s in secrets_for(svc) if s.env]  # (container variable, secret)
        service = LoadBalancedFargateService(
            self,
            svc,
            LoadBalancedFargateServiceProps(
                name=display,
                family=names.task_family(display),
                image=image,
                image_repository_arns=self._image_repositories(svc, image),
                port=SERVICE_PORTS[svc],
                environment=self._environment(svc),
                # valueFrom may name one JSON member (PG_PASSWORD = DbAppCredentials' "password").
                secrets={
                    env: ContainerSecret(arn=self._secret_arn(s.name), json_key=s.json_key) for env, s in injected
                },
                secrets_kms_key_arns=self._secret_key_arns([s.name for _, s in injected]),
                capacity=Capacity(
                    cpu=policy.task_cpu,
                    memory_mib=policy.task_memory_mib,
                    min_tasks=policy.service_min_tasks,
                    max_tasks=policy.service_max_tasks,
                    capacity_provider=policy.capacity_provider,
                    wait_for_steady_state=policy.wait_for_steady_state,
                ),
                cluster=self.cluster,
                network=self._network,
                security_group_ids=[self._network.security_group_ids["service"]],
                load_balancer=self._load_balancer_for(svc),
                health_check_path=settings.health_check_path,
                log_group_name=names.service_log_group(display),
                log_retention_days=policy.log_retention_days,
                log_kms_key_arn=self.key.arn,
                region=settings.region,
                execution_role_name=names.iam_role(f"{svc}-exec"),
                task_role_name=names.iam_role(f"{svc}-task"),
                execute_command=ExecuteCommand(log_group_arn=exec_logs.arn, kms_key_arn=self.key.arn)
                if exec_logs
                else None,
                alarm_topic_arn=self.topic.arn,
                alarm_names={what: names.alarm(svc, what) for what in SERVICE_ALARMS},
                alarm_label=f"{display} ({names.prefix})",
                scaling_policy_names={metric: names.scaling_policy(svc, metric) for metric in SCALING_METRICS},
                label=display,
            ),
        )
        self._service_outputs(svc, display, service)
        return service

    def _image_repositories(self, svc: str, image: str) -> list[str]:
        """The service's ECR repository, and a prebuilt image's own ECR repository if it has one."""
        repositories = [self.repositories[svc].arn]
        if self.settings.image_mode == "prebuilt" and (external := ecr_repository_arn(image, self._partition)):
            repositories.append(external)
        return repositories

    def _service_outputs(self, svc: str, display: str, service: LoadBalancedFargateService) -> None:
        """URL, log group, ALB and ECR repository of one service, as stack outputs."""
        self.output(f"{svc}_url", f"https://{self.names.domain(svc)}", f"{display} URL")
        self.output(f"{svc}_log_group", service.log_group.name, f"CloudWatch log group of {display}")
        self.output(f"{svc}_alb_arn", service.load_balancer_arn, f"Load balancer of {display}")
        self.output(
            f"{svc}_ecr_repository_url",
            self.repositories[svc].url,
            f"ECR repository of {display} (CI pushes here in prebuilt mode)",
        )

    def _load_balancer_for(self, svc: str) -> DedicatedLoadBalancer | SharedLoadBalancerRoute:
        """A host rule on the stage's shared ALB, or the service's own ALB (policy `shared_load_balancer`)."""
        names = self.names
        if self.shared_alb is not None:
            return SharedLoadBalancerRoute(
                load_balancer=self.shared_alb,
                host=names.domain(svc),
                priority=LISTENER_RULE_PRIORITIES[svc],
                target_group_name=names.routed_target_group(svc),
            )
        return DedicatedLoadBalancer(
            name=names.alb(svc),
            target_group_name=names.target_group(svc),
            domain=names.domain(svc),
            zone_id=self.hosted_zone_id(),
            settings=self.alb_settings,
            access_logs_prefix=svc,
            web_acl=self.waf,
        )

    def _environment(self, svc: str) -> dict[str, str]:
        """The container's plain environment: port, logging, and where the database is (no secrets)."""
        data = self._data
        return {
            "PORT": str(SERVICE_PORTS[svc]),
            "LOG_LEVEL": self.policy.log_level,
            "NO_COLOR": "1",
            "PG_HOST": data.db_endpoint,
            "PG_PORT": str(data.db_port) if isinstance(data.db_port, int) else Token.as_string(data.db_port),
            "PG_DATABASE": data.db_name,
            "PG_USER": data.db_app_username,  # the DML-only application role, never the master
        }

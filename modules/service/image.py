"""Container images: a hardened ECR repository, a content hash of a build context, and a
docker-provider build + push whose digest the task definition pins."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from modules.cdk import Construct, TerraformStack, aws, docker
from modules.paths import stack_relative


EXCLUDED_DIRS = frozenset({".git", "node_modules", ".turbo", ".cache", "cdktf.out"})
"""Never part of an image's identity: VCS data, installed packages, build caches."""


def context_hash(root: Path, excluded_dirs: Iterable[str] = EXCLUDED_DIRS) -> str:
    """SHA-256 over the relative path and bytes of every file under `root`, in sorted order.

    Computed at synth, so an unchanged application gives the same tag and Terraform plans no
    build; any source change gives a new tag, which immutable ECR tags require anyway.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"build context {root} is not a directory")
    skip = frozenset(excluded_dirs)
    digest = hashlib.sha256()
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        for filename in sorted(filenames):
            path = Path(directory, filename)
            relative = path.relative_to(root).as_posix()
            digest.update(relative.encode() + b"\0")
            if path.is_symlink():
                digest.update(b"link:" + os.readlink(path).encode())
            else:
                digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True, kw_only=True)
class EcrRepositoryProps:
    name: str
    kms_key_arn: str
    keep_images: int = 20
    """Lifecycle policy: keep the newest N images (any tag), expire older ones (rollback window)."""
    force_delete: bool = False
    """Let `destroy` delete a repository that still holds images (disposable stages only)."""


class EcrRepository(Construct):
    """Private repository: scan on push, immutable tags, KMS encryption, bounded history."""

    def __init__(self, scope: Construct, construct_id: str, props: EcrRepositoryProps, provider: Any = None) -> None:
        super().__init__(scope, construct_id)
        self.repository = aws.ecr_repository.EcrRepository(
            self,
            "repository",
            name=props.name,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr_repository.EcrRepositoryImageScanningConfiguration(scan_on_push=True),
            encryption_configuration=[
                aws.ecr_repository.EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=props.kms_key_arn)
            ],
            force_delete=props.force_delete,
            provider=provider,
        )
        policy = {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the newest {props.keep_images} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": props.keep_images},
                    "action": {"type": "expire"},
                }
            ]
        }
        aws.ecr_lifecycle_policy.EcrLifecyclePolicy(
            self, "lifecycle", repository=self.repository.name, policy=json.dumps(policy, sort_keys=True), provider=provider
        )

    @property
    def arn(self) -> str:
        return self.repository.arn

    @property
    def url(self) -> str:
        return self.repository.repository_url


def ecr_docker_provider(scope: Construct, construct_id: str, aws_provider_ref: str = "aws") -> Any:
    """A docker provider logged in to this account's ECR registry with a short-lived token.

    The token comes from an *ephemeral* `aws_ecr_authorization_token` (Terraform >= 1.10), so it is
    in neither the JSON, the plan nor the state; a data source would keep a 12-hour registry
    credential in state. cdktf 0.21 has no class for ephemeral blocks, hence the override.
    """
    name = f"{construct_id}_ecr_token"
    TerraformStack.of(scope).add_override(f"ephemeral.aws_ecr_authorization_token.{name}", {"provider": aws_provider_ref})
    token = f"ephemeral.aws_ecr_authorization_token.{name}"
    return docker.provider.DockerProvider(
        scope,
        construct_id,
        registry_auth=[
            docker.provider.DockerProviderRegistryAuth(
                address=f"${{{token}.proxy_endpoint}}", username=f"${{{token}.user_name}}", password=f"${{{token}.password}}"
            )
        ],
    )


@dataclass(frozen=True, kw_only=True)
class BuiltImageProps:
    repository_url: str
    context: Path
    """The build context; the JSON names it relative to the stack directory (modules/paths.py)."""
    dockerfile: str
    """Relative to `context`, e.g. `Dockerfile.api`."""
    tag: str
    """Content hash of the context: a new tag exactly when the sources change."""
    platform: str = "linux/arm64"


class BuiltImage(Construct):
    """`docker build` + push; `image_uri` is `<repository>@sha256:…`, so a task definition
    pins the exact bytes that were pushed (a tag could in theory be re-pointed elsewhere)."""

    def __init__(self, scope: Construct, construct_id: str, props: BuiltImageProps, docker_provider: Any) -> None:
        super().__init__(scope, construct_id)
        self._repository_url = props.repository_url
        triggers = {"context_sha256": props.tag, "dockerfile": props.dockerfile}
        self.image = docker.image.Image(
            self,
            "image",
            name=f"{props.repository_url}:{props.tag}",
            platform=props.platform,
            build_attribute=docker.image.ImageBuild(
                context=stack_relative(self, props.context), dockerfile=props.dockerfile, platform=props.platform
            ),
            triggers=triggers,
            keep_locally=True,
            provider=docker_provider,
        )
        self.pushed = docker.registry_image.RegistryImage(
            self,
            "push",
            name=self.image.name,
            keep_remotely=True,
            triggers=triggers,
            provider=docker_provider,
        )

    @property
    def image_uri(self) -> str:
        return f"{self._repository_url}@{self.pushed.sha256_digest}"


def ecr_repository_arn(image_uri: str, partition: str = "aws") -> str | None:
    """The repository ARN of an ECR image URI (`acct.dkr.ecr.region.amazonaws.com/repo:tag`),
    or None for images from other registries (which need no ECR pull permission)."""
    import re

    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?:[:@].*)?", image_uri)
    if not match:
        return None
    account, region, repository = match.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"

"""Container images: a hardened ECR repository, a content hash of a build context, and a
docker-provider build + push whose digest the task definition pins.

Why a push tag is `<content hash>-<push id>` and not the content hash alone: the repositories
have immutable tags, and ECR refuses to push a tag that already exists even when the image is
identical (`ImageTagAlreadyExistsException`; ECR user guide "Image tag mutability",
aws/containers-roadmap#2179). The kreuzwerker/docker provider (3.6.2, the version the stacks pin,
`PROVIDER_VERSIONS`; 4.x behaves the same, docs/cdk-terrain.md) replaces `docker_registry_image`
when its `name` or `triggers` change, and its create always pushes (internal/provider/
resource_docker_registry_image_funcs.go). So returning to content pushed before (a revert, a
rollback commit) would push an existing tag and fail the apply. The push id is the `id` of a
`terraform_data` resource that Terraform sets to a fresh UUID each time the resource is created
or replaced (hashicorp/terraform internal/builtin/providers/terraform/resource_data.go), and its
`triggers_replace` are the push's triggers: every push gets a tag no earlier push had, while an
unchanged build keeps its tag and plans nothing. Deploys pin the pushed digest, never the tag.

Alternatives not taken: `IMMUTABLE_WITH_EXCLUSION` tag filters exist only from hashicorp/aws
6.8.0 and the `aws_ecr_images` lookup only from 6.5.0 (provider CHANGELOG), while
`terraform validate` runs against 5.100.0; and a lookup of an existing tag (`aws_ecr_image`)
fails the plan when the image is absent, so it cannot decide between "push" and "reuse".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from modules.cdk import Construct, TerraformElement, aws, cdktf, docker, pin_provider_version
from modules.errors import ValidationError
from modules.paths import stack_relative


EXCLUDED_DIRS = frozenset({".git", "node_modules", ".turbo", ".cache", "cdktf.out"})
"""Never part of an image's identity: VCS data, installed packages, build caches."""


def context_hash(root: Path, excluded_dirs: Iterable[str] = EXCLUDED_DIRS) -> str:
    """SHA-256 over the relative path and bytes of every file under `root`, in sorted order.

    Computed at synth, so an unchanged application plans no build; any source change replaces
    the image (see the module docstring for how each push still gets a tag of its own).
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


_FROM_AS = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?\S+\s+AS\s+(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def dockerfile_stage_names(dockerfile: Path) -> list[str]:
    """Names of the `FROM <image> AS <name>` stages of a Dockerfile, in order (what
    `docker build --target` accepts). Raises OSError when the file cannot be read."""
    return _FROM_AS.findall(dockerfile.read_text())


@dataclass(frozen=True, kw_only=True)
class EcrRepositoryProps:
    """One private ECR repository with immutable tags, scan on push and KMS."""

    name: str
    """Repository name (≤ 256 characters, lowercase, `/` for namespaces)."""
    kms_key_arn: str
    """Encrypts the images (fixed at creation: changing it replaces the repository)."""
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
                aws.ecr_repository.EcrRepositoryEncryptionConfiguration(
                    encryption_type="KMS", kms_key=props.kms_key_arn
                )
            ],
            force_delete=props.force_delete,
            provider=provider,
        )
        policy = {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the newest {props.keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": props.keep_images,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
        aws.ecr_lifecycle_policy.EcrLifecyclePolicy(
            self,
            "lifecycle",
            repository=self.repository.name,
            policy=json.dumps(policy, sort_keys=True),
            provider=provider,
        )

    @property
    def arn(self) -> str:
        """The repository's ARN (execution roles' pull grant)."""
        return self.repository.arn

    @property
    def url(self) -> str:
        """`<account>.dkr.ecr.<region>.amazonaws.com/<name>`: where images are pushed."""
        return self.repository.repository_url


class EphemeralBlock(TerraformElement):
    """One `ephemeral "<block_type>" "<name>"` block (Terraform >= 1.10), as a node of the construct
    tree: it renders itself into its stack's JSON like any resource does, instead of patching the
    stack's document with an override. cdktf 0.21 has no class for ephemeral blocks.

    `reference(attribute)` is the `${ephemeral.<type>.<name>.<attribute>}` expression other
    arguments use (ephemeral values may go only to write-only and provider arguments)."""

    def __init__(self, scope: Construct, construct_id: str, *, block_type: str, arguments: dict[str, Any]) -> None:
        super().__init__(scope, construct_id, f"ephemeral.{block_type}")
        self._block_type, self._name, self._arguments = block_type, construct_id, dict(arguments)

    def to_terraform(self) -> Any:
        """`{"ephemeral": {<type>: {<name>: <arguments>}}}`, merged into the stack's JSON at synth."""
        return {"ephemeral": {self._block_type: {self._name: self._arguments}}}

    def reference(self, attribute: str) -> str:
        """`${ephemeral.<type>.<name>.<attribute>}`."""
        return f"${{ephemeral.{self._block_type}.{self._name}.{attribute}}}"


def ecr_docker_provider(scope: Construct, construct_id: str, aws_provider_ref: str = "aws") -> Any:
    """A docker provider logged in to this account's ECR registry with a short-lived token.

    The token comes from an *ephemeral* `aws_ecr_authorization_token` (an `EphemeralBlock` with
    id `<construct_id>_ecr_token`), so it is in neither the JSON, the plan nor the state; a data
    source would keep a 12-hour registry credential in state.
    """
    token = EphemeralBlock(
        scope,
        f"{construct_id}_ecr_token",
        block_type="aws_ecr_authorization_token",
        arguments={"provider": aws_provider_ref},
    )
    provider = docker.provider.DockerProvider(
        scope,
        construct_id,
        registry_auth=[
            docker.provider.DockerProviderRegistryAuth(
                address=token.reference("proxy_endpoint"),
                username=token.reference("user_name"),
                password=token.reference("password"),
            )
        ],
    )
    return pin_provider_version(provider)


@dataclass(frozen=True, kw_only=True)
class BuiltImageProps:
    """One image built from a Dockerfile stage and pushed to one repository."""

    repository_url: str
    """The repository to push to (`EcrRepository.url`)."""
    context: Path
    """The build context; the JSON names it relative to the stack directory (modules/paths.py)."""
    dockerfile: str
    """Relative to `context`, e.g. `Dockerfile.api`."""
    content_hash: str
    """Content hash of the context (`context_hash()`, shortened): the first part of every tag."""
    target: str
    """Dockerfile stage to build (`docker build --target`), e.g. `runtime` or `debug`."""
    platform: str = "linux/arm64"
    """`docker build --platform`; Fargate runs the services on arm64 (Graviton)."""


PUSH_TAG_MAX_LENGTH = 128
"""Docker/OCI tag grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` (distribution reference spec)."""
_UUID_LENGTH = 36


class BuiltImage(Construct):
    """`docker build` + push under a tag no earlier push used; `image_uri` is
    `<repository>@sha256:…`, so a task definition pins the exact bytes that were pushed.

    Resources: `terraform_data` `push_id` (a new UUID whenever a build input changes),
    `docker_image` `image` (builds `props.target` of the Dockerfile) and `docker_registry_image`
    `push` (`<repository>:<content hash>-<push id>`, kept in ECR on destroy for rollbacks).
    Raises ValidationError when the tag could exceed the 128-character tag limit.
    """

    def __init__(self, scope: Construct, construct_id: str, props: BuiltImageProps, docker_provider: Any) -> None:
        if len(props.content_hash) + 1 + _UUID_LENGTH > PUSH_TAG_MAX_LENGTH:
            raise ValidationError(
                f"image {construct_id!r}",
                "content_hash",
                props.content_hash,
                f"leaves no room for the push id in a {PUSH_TAG_MAX_LENGTH}-character tag",
            )
        super().__init__(scope, construct_id)
        self._repository_url = props.repository_url
        # Every build input that can change the pushed bytes: the content hash covers the files,
        # the rest select what is built from them.
        triggers = {
            "context_sha256": props.content_hash,
            "dockerfile": props.dockerfile,
            "target": props.target,
            "platform": props.platform,
        }
        self.push_id = cdktf.TerraformResource(self, "push_id", terraform_resource_type="terraform_data")
        self.push_id.add_override("triggers_replace", dict(triggers))
        self.tag = f"{props.content_hash}-{self.push_id.get_string_attribute('id')}"
        self.image = docker.image.Image(
            self,
            "image",
            name=f"{props.repository_url}:{self.tag}",
            platform=props.platform,
            build_attribute=docker.image.ImageBuild(
                context=stack_relative(self, props.context),
                dockerfile=props.dockerfile,
                target=props.target,
                platform=props.platform,
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
        """`<repository>@sha256:<digest>` of the pushed image: what task definitions run."""
        return f"{self._repository_url}@{self.pushed.sha256_digest}"


def ecr_repository_arn(image_uri: str, partition: str = "aws") -> str | None:
    """The repository ARN of an ECR image URI (`acct.dkr.ecr.region.amazonaws.com/repo:tag`),
    or None for images from other registries (which need no ECR pull permission)."""
    match = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)(?:[:@].*)?", image_uri)
    if not match:
        return None
    account, region, repository = match.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"

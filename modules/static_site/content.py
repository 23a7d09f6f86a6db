"""Upload a static build to S3 (one Terraform-managed object per file) plus a runtime config."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from modules.cdk import Construct, Fn, TerraformIterator, aws
from modules.paths import stack_relative
from modules.static_site.content_rules import NO_CACHE, SiteFile, content_hash, content_type

PLACEHOLDER_KEY = "index.html"


@dataclass(frozen=True, kw_only=True)
class SiteContentProps:
    """What goes into the site bucket: the build's files (or a placeholder) and the runtime config."""

    bucket: str
    """The site bucket's name."""
    files: Sequence[SiteFile]
    """The build; an empty list uploads `placeholder_html` as index.html instead."""
    placeholder_html: str
    """The `index.html` uploaded when there is no build yet."""
    runtime_config: Mapping[str, Any]
    """Written as JSON by Terraform at apply time (values may be tokens, e.g. data sources)."""
    runtime_config_key: str = "config.json"
    """S3 key of the runtime config the SPA fetches at start."""
    server_side_encryption: str | None = None
    """Each object's encryption (`AES256` or `aws:kms`), stated on the object and not only as the
    bucket default: S3 applies a bucket's default encryption to new writes only and never
    re-encrypts existing objects (S3 user guide, "Setting default server-side encryption behavior
    for Amazon S3 buckets"), so with the value on the object a change of scheme re-uploads every
    object in the same apply instead of leaving them encrypted under a key that is going away.
    None leaves it to the bucket default."""
    depends_on: Sequence[Any] = ()
    """Resources that must exist before any upload (e.g. the bucket's default encryption)."""


class SiteContent(Construct):
    """Objects are keyed by path in one `for_each` (`files["assets/app.js"]`): a file that
    disappears from the build is deleted from the bucket by the next apply (its old version
    then expires by lifecycle). `source_hash` (md5 computed at synth) triggers re-uploads; `etag`
    cannot, because S3 ETags of SSE-KMS objects are not MD5s (the bucket is SSE-S3 today; the rule
    should not depend on that)."""

    def __init__(self, scope: Construct, construct_id: str, props: SiteContentProps) -> None:
        super().__init__(scope, construct_id)
        files = list(props.files)
        # `for_each` entries hold only one-line strings, never a null or a multi-line string:
        # cdktf's HCL renderer (`synth --hcl`) can print neither inside a map. Build files set
        # `source`; the placeholder's (multi-line) HTML is the resource's own `content`.
        if files:
            entries: dict[str, dict[str, str]] = {
                f.key: {
                    "source": stack_relative(self, f.source),
                    "source_hash": f.md5,
                    "content_type": f.content_type,
                    "cache_control": f.cache_control,
                }
                for f in files
            }
            self.files_hash = content_hash(files)
        else:
            # The placeholder is an entry of the same for_each (key index.html), so the first
            # real build updates that object in place instead of a delete racing the upload.
            placeholder_md5 = hashlib.md5(props.placeholder_html.encode()).hexdigest()
            entries = {
                PLACEHOLDER_KEY: {
                    "source_hash": placeholder_md5,
                    "content_type": content_type(PLACEHOLDER_KEY),
                    "cache_control": NO_CACHE,
                }
            }
            self.files_hash = hashlib.sha256(f"{PLACEHOLDER_KEY}\0{placeholder_md5}".encode()).hexdigest()
        each = TerraformIterator.from_map(entries)
        body = {"source": each.get_string("source")} if files else {"content": props.placeholder_html}
        self.files = aws.s3_object.S3Object(
            self,
            "files",
            for_each=each,
            bucket=props.bucket,
            key=each.key,
            source_hash=each.get_string("source_hash"),
            content_type=each.get_string("content_type"),
            cache_control=each.get_string("cache_control"),
            server_side_encryption=props.server_side_encryption,
            depends_on=list(props.depends_on),
            **body,
        )
        self.config = aws.s3_object.S3Object(
            self,
            "config",
            bucket=props.bucket,
            key=props.runtime_config_key,
            content=Fn.jsonencode(dict(props.runtime_config)),
            content_type=content_type(props.runtime_config_key),
            cache_control=NO_CACHE,
            server_side_encryption=props.server_side_encryption,
            depends_on=list(props.depends_on),
        )
        self.objects: list[Any] = [self.files, self.config]

    @property
    def config_version(self) -> str:
        """Changes on every write of the config (the bucket is versioned); not sensitive."""
        return self.config.version_id

"""What each file of a static build is served as: Content-Type and Cache-Control (pure Python).

No cdktf import, so the rules can be unit-tested and reused without a synth.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_UTF8 = "; charset=utf-8"

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html" + _UTF8,
    ".htm": "text/html" + _UTF8,
    ".js": "text/javascript" + _UTF8,
    ".mjs": "text/javascript" + _UTF8,
    ".cjs": "text/javascript" + _UTF8,
    ".css": "text/css" + _UTF8,
    ".json": "application/json" + _UTF8,
    ".map": "application/json" + _UTF8,
    ".webmanifest": "application/manifest+json" + _UTF8,
    ".txt": "text/plain" + _UTF8,
    ".xml": "application/xml" + _UTF8,
    ".svg": "image/svg+xml" + _UTF8,
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}
DEFAULT_CONTENT_TYPE = "application/octet-stream"
"""Unknown extensions: browsers download rather than guess (and never sniff them as HTML)."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""Content-hashed files: a new build gets a new name, so the old one may be cached for a year."""
NO_CACHE = "no-cache"
"""Entry points (HTML, runtime config): browsers revalidate every time so a deploy shows at once."""
SHORT = "public, max-age=3600"
"""Unhashed static files (favicon, robots.txt): rarely change; an hour of staleness is harmless."""

HASHED_DIRS = ("assets/",)
"""Vite / React Router put every content-hashed output under `assets/`."""
_HEX_HASH = re.compile(r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$")
"""…or a file name carrying a hex content hash (`chunk.3f9a1c2b.js`) anywhere in the tree."""


def content_type(key: str) -> str:
    """`Content-Type` for an S3 key, by its extension (CONTENT_TYPES; DEFAULT_CONTENT_TYPE otherwise)."""
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), DEFAULT_CONTENT_TYPE)


def cache_control(key: str) -> str:
    """`Cache-Control` for an S3 key: HTML is never cached, content-hashed assets are immutable, the rest short."""
    suffix = PurePosixPath(key).suffix.lower()
    if suffix in (".html", ".htm"):
        return NO_CACHE
    if key.startswith(HASHED_DIRS) or _HEX_HASH.search(key):
        return IMMUTABLE
    return SHORT


@dataclass(frozen=True, kw_only=True)
class SiteFile:
    """One file of the build, with the metadata it is uploaded with."""

    key: str
    """S3 key: the path relative to the build directory, `/`-separated."""
    source: Path
    """The file on disk."""
    md5: str
    """Hex MD5 of the content (`source_hash`: a changed file is re-uploaded)."""
    content_type: str
    """`Content-Type` from the extension (`content_type()`)."""
    cache_control: str
    """`Cache-Control` from the path (`cache_control()`)."""


def scan_build_dir(build_dir: Path, *, skip: frozenset[str] = frozenset()) -> list[SiteFile]:
    """Every regular file under `build_dir`, sorted by key (hidden files like `.DS_Store` skipped,
    `.well-known/` kept). Keys in `skip` (e.g. a `config.json` the deploy writes) are left out."""
    files: list[SiteFile] = []
    for path in sorted(build_dir.rglob("*")):
        if not path.is_file():
            continue
        key = path.relative_to(build_dir).as_posix()
        parts = key.split("/")
        if any(p.startswith(".") and p != ".well-known" for p in parts) or key in skip:
            continue
        files.append(
            SiteFile(
                key=key,
                source=path.resolve(),
                md5=hashlib.md5(path.read_bytes()).hexdigest(),
                content_type=content_type(key),
                cache_control=cache_control(key),
            )
        )
    return files


def content_hash(files: list[SiteFile]) -> str:
    """One hash over every key, byte hash and header: changes exactly when the upload changes."""
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.key):
        digest.update(f"{f.key}\0{f.md5}\0{f.content_type}\0{f.cache_control}\n".encode())
    return digest.hexdigest()

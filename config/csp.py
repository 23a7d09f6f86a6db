"""The console's Content-Security-Policy, computed at synth from what is known then (pure Python).

The console is a static React app. Everything it talks to is known before deploy: its own origin
(the SPA and its runtime `config.json`), this stage's API and Gateway domains (`Names.domain`), and
Stack Auth's API. The policy allows exactly those for `connect-src`, scripts only from the console's
own origin (plus the SHA-256 of each inline `<script>` the build's HTML carries, so a React Router
build keeps working without `'unsafe-inline'`), and never `'unsafe-eval'`.

Sources:
- Stack Auth's REST API, used by its client SDK, lives at `https://api.stack-auth.com`
  (https://docs.stack-auth.com/rest-api, "API Overview"); a self-hosted Stack Auth or any other
  origin goes in `HEBO_CSP_EXTRA_ORIGINS`.
- CloudFront limits the Content-Security-Policy value of a response headers policy to 1,783
  characters (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html,
  "Quotas on response headers policies"; the API's error is `TooLongCSPInResponseHeadersPolicy`), so
  synth refuses a longer policy instead of letting the apply fail.
"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable

from config.rules import Invalid
from config.errors import ConfigError

STACK_AUTH_API_ORIGINS = ("https://api.stack-auth.com",)
"""Stack Auth's API origin(s) the browser SDK calls (docs.stack-auth.com/rest-api)."""
CLOUDFRONT_CSP_MAX_CHARS = 1783
"""CloudFront quota: maximum length of the Content-Security-Policy header value (see module docstring)."""
EXTRA_ORIGINS_SETTING = "HEBO_CSP_EXTRA_ORIGINS"

_HOST = r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_ORIGIN = re.compile(rf"https://{_HOST}(?::\d{{1,5}})?")
EXTRA_ORIGIN_RULE = "comma-separated https origins such as https://auth.example.com or https://*.example.com (no path, quotes or spaces)"


def extra_origins(raw: str) -> tuple[str, ...]:
    """`HEBO_CSP_EXTRA_ORIGINS`: comma-separated `https://host[:port]` (a leading `*.` allowed), lowercase.

    Raises `config.rules.Invalid` naming the bad entry (the settings table adds the setting's name
    and EXTRA_ORIGIN_RULE): anything else could smuggle a directive (`;`), a keyword
    (`'unsafe-eval'`) or a scheme-wide source (`https:`) into the policy.
    """
    origins: list[str] = []
    for raw_entry in raw.split(","):
        entry = raw_entry.strip()
        if not entry:
            continue
        if not _ORIGIN.fullmatch(entry):
            raise Invalid(f"entry {entry!r} is not an https origin")
        if entry not in origins:
            origins.append(entry)
    return tuple(origins)


class _InlineScripts(HTMLParser):
    """Collects the text of every `<script>` without `src` (what a hash source must cover)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.scripts.append("".join(self._current))
            self._current = None


def inline_script_hashes(build_dir: Path | None) -> tuple[str, ...]:
    """`'sha256-…'` of every inline `<script>` in the build's `.html` files, sorted, no duplicates.

    The hash is over the exact text between the tags, as CSP Level 2 hash sources require. A missing
    build dir (placeholder page, no scripts) gives none.
    """
    if build_dir is None or not Path(build_dir).is_dir():
        return ()
    found: set[str] = set()
    for page in sorted(Path(build_dir).rglob("*.html")):
        parser = _InlineScripts()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for script in parser.scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
            found.add(f"'sha256-{digest}'")
    return tuple(sorted(found))


def console_csp(
    *, api_origins: Iterable[str], extra_origins: Iterable[str] = (), script_hashes: Iterable[str] = ()
) -> str:
    """The header value: `default-src 'self'`, `connect-src 'self'` + exactly the given origins.

    `api_origins`: this stage's API and Gateway origins (`https://` + `Names.domain(...)`).
    Raises ConfigError when the value exceeds CloudFront's 1,783-character quota.
    """
    connect = list(dict.fromkeys([*api_origins, *STACK_AUTH_API_ORIGINS, *extra_origins]))
    directives = [
        "default-src 'self'",
        " ".join(["script-src 'self'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",  # style attributes of UI libraries; styles cannot run code
        "img-src 'self' data: https:",  # sign-in providers' avatars; images cannot run code
        "font-src 'self' data:",
        " ".join(["connect-src 'self'", *connect]),  # 'self': the runtime config.json
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "upgrade-insecure-requests",
    ]
    value = "; ".join(directives)
    if len(value) > CLOUDFRONT_CSP_MAX_CHARS:
        raise ConfigError(
            EXTRA_ORIGINS_SETTING,
            reason=f"the console's Content-Security-Policy would be {len(value)} characters, "
            f"CloudFront allows {CLOUDFRONT_CSP_MAX_CHARS}",
            hint="list fewer origins (a wildcard such as https://*.example.com covers many hosts)",
        )
    return value

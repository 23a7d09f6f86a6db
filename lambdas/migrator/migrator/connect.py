"""Open a verified-TLS pg8000 connection, retrying while an auto-paused Aurora resumes.

Aurora Serverless v2 with ``min_capacity = 0`` wakes on the first connection attempt and can take
up to ~15 s to accept it; during that window connections time out, are refused or get SQLSTATE
57P03 ("the database system is starting up"). Those are retried with capped exponential backoff.
Certificate, hostname and authentication failures are permanent and raised at once: retrying
them only delays a deploy that cannot succeed.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

log = logging.getLogger(__name__)

# SQLSTATEs that mean "try again shortly": cannot_connect_now (starting up / shutting down),
# too_many_connections, admin/crash shutdown while failing over.
TRANSIENT_SQLSTATES = frozenset({"57P03", "53300", "57P01", "57P02"})


class ConnectError(ConnectionError):
    """The database could not be reached; the message says why and after how many attempts."""


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect. The password is never logged (``repr`` hides it)."""

    host: str
    port: int
    database: str
    user: str
    password: str
    ca_bundle: Path
    connect_timeout: float = 20.0
    attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 8.0
    application_name: str = "hebo-migrator"

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(host={self.host!r}, port={self.port}, "
            f"database={self.database!r}, user={self.user!r}, ca_bundle={str(self.ca_bundle)!r})"
        )


def tls_context(ca_bundle: Path) -> ssl.SSLContext:
    """A context that verifies the server certificate against ``ca_bundle`` and its hostname.

    The RDS CAs are not publicly trusted and the Python Lambda runtime ships no RDS bundle, so
    the bundle travels inside the deployment package and is the *only* trust anchor.
    """
    path = Path(ca_bundle)
    if not path.is_file():
        raise ConnectError(f"CA bundle {path} not found")
    context = ssl.create_default_context(cafile=str(path))
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # Python 3.13 (the Lambda runtime) turns on RFC 5280 strict checks by default; set them
    # explicitly so tests on older Pythons verify exactly what production verifies.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def _sqlstate(exc: BaseException) -> str | None:
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return exc.args[0].get("C")
    return None


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_transient(exc: BaseException) -> bool:
    """True for failures a resuming or restarting server produces; False for permanent ones."""
    chain = _causes(exc)
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        return False  # wrong CA / hostname / protocol: a retry cannot fix it
    if _sqlstate(exc) is not None:
        return _sqlstate(exc) in TRANSIENT_SQLSTATES
    # Refused, reset, timed out, unreachable, DNS not yet resolvable: the network kind of OSError.
    return any(isinstance(e, OSError) for e in chain)


def describe(exc: BaseException) -> str:
    """One line naming the root cause (pg8000 wraps socket errors in generic InterfaceErrors)."""
    state = _sqlstate(exc)
    if state is not None:
        fields = exc.args[0]
        return f"{fields.get('M', exc)} (SQLSTATE {state})"
    root = _causes(exc)[-1]
    if root is exc:
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc} <- {type(root).__name__}: {root}"


def connect(
    settings: ConnectionSettings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> pg8000.native.Connection:
    """Connect with verified TLS, retrying transient failures; log every attempt."""
    context = tls_context(settings.ca_bundle)
    delay = settings.backoff_base
    for attempt in range(1, settings.attempts + 1):
        started = time.monotonic()
        try:
            conn = pg8000.native.Connection(
                user=settings.user,
                password=settings.password,
                host=settings.host,
                port=settings.port,
                database=settings.database,
                ssl_context=context,
                timeout=settings.connect_timeout,
                application_name=settings.application_name,
            )
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as ConnectError
            elapsed = time.monotonic() - started
            transient = is_transient(exc)
            log.warning(
                "connect attempt %d/%d to %s:%d failed after %.1fs (%s): %s",
                attempt,
                settings.attempts,
                settings.host,
                settings.port,
                elapsed,
                "transient" if transient else "permanent",
                describe(exc),
            )
            if not transient:
                raise ConnectError(
                    f"cannot connect to {settings.host}:{settings.port}/{settings.database}: "
                    f"{describe(exc)}"
                ) from exc
            if attempt == settings.attempts:
                raise ConnectError(
                    f"cannot connect to {settings.host}:{settings.port}/{settings.database} "
                    f"after {attempt} attempts: {describe(exc)}"
                ) from exc
            sleep(delay)
            delay = min(delay * 2, settings.backoff_max)
            continue
        log.info("connected to %s:%d on attempt %d", settings.host, settings.port, attempt)
        # pg8000 keeps the connect timeout as the socket timeout for every later read, which would
        # abort a long migration (an index build) mid-statement. Lift it once connected: the
        # Lambda timeout bounds the run, and TCP keepalive (pg8000 default) detects dead peers.
        usock = getattr(conn, "_usock", None)
        if usock is not None:
            usock.settimeout(None)
        return conn
    raise AssertionError("unreachable")  # pragma: no cover

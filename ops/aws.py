"""boto3 session/client factory and the one place AWS errors become one-line messages.

Clients are built from the standard AWS configuration (AWS_PROFILE, AWS_ACCESS_KEY_ID, …,
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>) and nothing else, so every command runs unchanged
against AWS or a local emulator such as moto. Errors are mapped here, not at each call site, so
every command names the same fix for the same problem.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
    SSOError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

# Short timeouts and few retries: these are interactive commands, and a wrong endpoint should
# fail in seconds with a clear message, not after botocore's default minute of retries.
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="hebo-ops",
)

NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"

_ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "403"}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"}
_THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown", "RequestLimitExceeded"}


class OpsError(Exception):
    """An operational failure with a one-line message that names the fix (exit code 1)."""

    exit_code = 1


class UsageError(OpsError):
    """Bad input from the user: arguments, files, values (exit code 2)."""

    exit_code = 2


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError ('' when absent)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    """The HTTP status code of a botocore ClientError (0 when the response carries none)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def make_session(region: str | None = None) -> boto3.Session:
    """A boto3 session from the standard configuration; fails early and clearly without credentials.

    Checking credentials before the first call turns botocore's late NoCredentialsError (raised
    after a slow instance-metadata probe on some machines) into the same one-line message.
    """
    try:
        session = boto3.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise explain(exc) from None
    if credentials is None:
        raise OpsError(NO_CREDENTIALS)
    return session


def client(session: boto3.Session, service: str, region: str | None = None) -> Any:
    """A client for `service` honouring AWS_ENDPOINT_URL(_<SERVICE>) (boto3 reads them itself)."""
    return session.client(service, region_name=region or session.region_name, config=_CLIENT_CONFIG)


def explain(exc: BaseException, context: str = "") -> OpsError:
    """Map a botocore exception to an OpsError whose one-line message says what to do."""
    where = f"{context}: " if context else ""
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return OpsError(NO_CREDENTIALS)
    if isinstance(exc, ProfileNotFound):
        return UsageError(f"AWS profile {exc.kwargs.get('profile')!r} not found: fix AWS_PROFILE or ~/.aws/config")
    if isinstance(exc, (UnauthorizedSSOTokenError, TokenRetrievalError, SSOError)):
        return OpsError("AWS SSO session expired or missing: run `aws sso login` (with the same AWS_PROFILE)")
    if isinstance(exc, CredentialRetrievalError):
        return OpsError(
            f"could not load AWS credentials ({exc}): fix the credential_process/profile or set AWS_ACCESS_KEY_ID"
        )
    if isinstance(exc, NoRegionError):
        return UsageError("no AWS region: pass --region or set AWS_DEFAULT_REGION")
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return OpsError(f"{where}cannot reach {url}: check the network, the region, or AWS_ENDPOINT_URL")
    if isinstance(exc, ReadTimeoutError):
        return OpsError(f"{where}AWS did not answer in time: retry, or check AWS_ENDPOINT_URL")
    if isinstance(exc, ClientError):
        code = error_code(exc)
        op = exc.operation_name
        if code in _BAD_CREDENTIALS:
            return OpsError(
                f"AWS rejected the credentials ({code}): check AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        if code in _EXPIRED:
            return OpsError(f"AWS credentials expired ({code}): refresh them (e.g. `aws sso login`) and retry")
        if code in _ACCESS_DENIED:
            return OpsError(f"{where}access denied on {op}: the caller needs that IAM permission (see ops/README.md)")
        if code in _THROTTLED:
            return OpsError(f"{where}AWS throttled {op} ({code}): wait a moment and retry")
        # One line whatever the service sent (an emulator's or proxy's 500 is a whole HTML page).
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:200]
        return OpsError(f"{where}{op} failed: {code}: {message}".rstrip(": "))
    if isinstance(exc, BotoCoreError):
        return OpsError(f"{where}{exc}")
    return OpsError(f"{where}{type(exc).__name__}: {exc}")


@contextlib.contextmanager
def wire_logs_silenced() -> Iterator[None]:
    """Suppress DEBUG logging while a request carries a secret value.

    botocore logs full request bodies at DEBUG (`botocore.endpoint`), so a caller that turned on
    boto3 debug logging would otherwise see the value. `logging.disable` is process-wide and
    covers every logger and handler, which a filter on one logger would not.
    """
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.DEBUG))
    try:
        yield
    finally:
        logging.disable(previous)

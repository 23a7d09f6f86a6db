"""`SdkRetries` (tools/emulator_idempotency.py) as plain WSGI: which requests count as an SDK's
retry of a delivered answer and get it again, and which are carried out. The real server and
the real SDK retry are tested in tests/terraform/test_emulator_idempotency.py."""

from __future__ import annotations

import io
from typing import Any, Callable, Iterable

import pytest

from tools.emulator_idempotency import REPLAYED_MARK, SdkRetries, attempt_number


class Moto:
    """A stand-in for moto's application: answers `status` with a body naming how many requests
    it has carried out."""

    def __init__(self, status: str = "200 OK") -> None:
        self.status = status
        self.carried_out = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.carried_out += 1
        start_response(self.status, [("Content-Type", "text/xml")])
        return [f"<n>{self.carried_out}</n>".encode()]


def ask(
    retries: SdkRetries, moto: Moto, body: bytes, invocation: str | None = "inv-1", attempt: int = 1
) -> tuple[str, bytes]:
    """One POST through `retries` to `moto`: (status, body)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    if invocation is not None:
        environ["HTTP_AMZ_SDK_INVOCATION_ID"] = invocation
        environ["HTTP_AMZ_SDK_REQUEST"] = f"ttl=20261207T000000Z; attempt={attempt}; max=25"
    answered: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
        answered["status"] = status
        return lambda _data: None

    chunks = b"".join(retries(environ, start_response, moto))
    return answered["status"], chunks


AUTHORIZE = b"Action=AuthorizeSecurityGroupEgress&GroupId=sg-1&Version=2016-11-15"


def test_a_retry_of_a_delivered_answer_gets_it_again(capsys) -> None:
    retries, moto = SdkRetries(), Moto()
    assert ask(retries, moto, AUTHORIZE) == ("200 OK", b"<n>1</n>")
    assert capsys.readouterr().out == ""
    assert ask(retries, moto, AUTHORIZE, attempt=2) == ("200 OK", b"<n>1</n>")
    assert moto.carried_out == 1
    # the log names each replay (an unsigned request does not decode: "unknown"), never the body
    assert capsys.readouterr().out == f"{REPLAYED_MARK}: unknown\n"


@pytest.mark.parametrize(
    ("body", "invocation", "attempt"),
    [
        (AUTHORIZE + b"&Extra=1", "inv-1", 2),  # another request under the same invocation id
        (AUTHORIZE, "inv-2", 2),  # another operation call
        (AUTHORIZE, "inv-1", 1),  # a first attempt is never a retry
        (AUTHORIZE, None, 2),  # no invocation id (not an SDK's request): nothing to match by
    ],
)
def test_anything_else_is_carried_out(body: bytes, invocation: str | None, attempt: int) -> None:
    retries, moto = SdkRetries(), Moto()
    ask(retries, moto, AUTHORIZE)
    assert ask(retries, moto, body, invocation, attempt) == ("200 OK", b"<n>2</n>")


def test_an_error_answer_is_not_kept() -> None:
    """The retry of an HTTP 500 (moto's, or an injected lost client-token answer) reaches the
    layers below, where `ClientTokens` answers it."""
    retries, moto = SdkRetries(), Moto("500 Internal Server Error")
    ask(retries, moto, AUTHORIZE)
    moto.status = "200 OK"
    assert ask(retries, moto, AUTHORIZE, attempt=2) == ("200 OK", b"<n>2</n>")


def test_the_oldest_answers_are_dropped_first() -> None:
    retries, moto = SdkRetries(keep=2), Moto()
    for invocation in ("inv-1", "inv-2", "inv-3"):
        ask(retries, moto, AUTHORIZE, invocation)
    assert ask(retries, moto, AUTHORIZE, "inv-1", attempt=2) == ("200 OK", b"<n>4</n>")  # dropped: carried out
    assert ask(retries, moto, AUTHORIZE, "inv-3", attempt=2) == ("200 OK", b"<n>3</n>")


@pytest.mark.parametrize(
    ("header", "attempt"),
    [("attempt=2; max=25", 2), ("ttl=20261207T000000Z; attempt=3; max=5", 3), ("", 1), ("max=3", 1)],
)
def test_attempt_numbers(header: str, attempt: int) -> None:
    """The Go SDK's header ("attempt=N; max=M") and botocore's ("ttl=…; attempt=N; max=M")."""
    assert attempt_number(header) == attempt

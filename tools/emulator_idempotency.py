"""Retries on the emulator: a request that repeats the client token of an earlier successful
request is answered with that request's answer, as AWS does, and so is an SDK's retry of a request
the emulator answered but the client did not receive — neither is carried out again.

AWS makes a create safe to retry with a client token: a retry of a successful request with the
same token and parameters succeeds without doing anything again, and with other parameters fails
with `IdempotentParameterMismatch` (Amazon EC2 developer guide, "Ensuring idempotency in Amazon EC2
API requests", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html; the same
contract for ECS `clientToken`, ACM `IdempotencyToken`, Secrets Manager `ClientRequestToken`). AWS
may answer a retry with updated information (a newer creation state); the emulator answers with
the first answer as it was. The AWS SDKs keep the token across
their own retries (they fill an empty one once per operation call, before the retry loop), so a
request whose answer was lost on the way back (a reset connection, an HTTP 5xx) is retried with
the same token. moto 5.2.5 ignores client tokens (`moto/ec2/responses/flow_logs.py` never reads
`ClientToken`): the retry was carried out a second time, and CreateFlowLogs answered
`FlowLogAlreadyExists` for the flow log the first attempt had created (a loaded CI run).

Which parameters are client tokens comes from the botocore service models, not from a hand list:
a member with the `idempotencyToken` trait, or a member whose name ends in "Token" and whose
documentation says it ensures idempotency (EC2 `ClientToken`, ECS `clientToken` and ACM
`IdempotencyToken` carry no trait; the Terraform AWS provider sets them explicitly).

SDK retries of an answered request: every AWS SDK sends the same `amz-sdk-invocation-id` header
on each attempt of one operation call and counts the attempts in `amz-sdk-request: attempt=N;
max=M` (aws-sdk-go-v2's retry middleware; botocore `handlers.add_retry_headers`). The emulator
answers a retry (attempt 2 or later, the same invocation id and the same method, path, query and
body) of a request it answered with 2xx with that answer, instead of carrying it out again. AWS
would carry it out again. The emulator does not because a local server makes the Terraform AWS
provider's Go SDK lose answers to a race of its own, which a network's round trip makes rare on
AWS. smithy-go (`ClientHandler.Handle`) closes the request body as soon as the response headers
arrive. net/http's writer goroutine has sent that body by then (smithy's body is not a known
in-memory reader, so the headers are flushed first and the body goes straight to the
connection), but then reads it once more to detect a body longer than its Content-Length
(`transferWriter.writeBody`, `doBodyCopy(io.Discard, body)`); `io.CopyBuffer` calls the body's
`WriteTo`, which answers `(0, io.EOF)` once the body is closed, and returns that EOF as an error;
the writer goroutine closes the connection while the response body is still being read, and the
SDK retries the request ("use of closed network connection" on a 200 answer, made retryable by
aws/aws-sdk-go-v2#2949 for the reports of #1825 and #2737; that pull request calls the early close
harmless for buffered operations, but strace here shows the provider closing the connection right
after the headers, and its next attempt carrying the same invocation id). It
takes an answer arriving before the writer goroutine runs again: a local server on a loaded
machine. Measured here (`dns` and `network` of pr-42 applied 12 times beside a busy loop, about
3,000 requests): 18 requests retried after moto had carried them out. Retried reads are harmless;
a retried `AuthorizeSecurityGroupEgress` (no client token) failed the apply with
`InvalidPermission.Duplicate` (CI, issue 26). The emulator so hides a rare real failure of the
provider — on AWS a create without a client token whose answer is lost fails the same way — which
no stack can prevent. tools/moto_emulator.py `_ONE_SEND_PER_ANSWER` makes the race rare here too.

Losing answers is fault injection for the tests: while the file named by env
HEBO_EMULATOR_LOSE_FIRST_ANSWERS exists, the first answer of every request that carries a client
token is replaced, after moto has carried the request out, by HTTP 500 `InternalError` (a lost
answer, which every SDK retries), and the first answer of every other SDK request that changes
something (an operation not named Describe…, List…, Get…, Head…, Lookup… or Search…) is never
delivered: the connection closes after moto carried the request out, as the race above loses it.
A whole apply then proves that each create with a client token survives a retry as it does on AWS,
and exercises the emulator's replay of every other create (tools/moto_emulator.py
`MotoServer.lose_first_answers`). Not covered: a token sent in an HTTP header (S3 `RenameObject`,
which no stack uses; requests are matched by their body and query string).

Runs inside the moto child process (decodes requests with tools/emulator_calls/decode.py).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

LOSE_FIRST_ANSWERS_ENV = "HEBO_EMULATOR_LOSE_FIRST_ANSWERS"
"""The path of a file whose existence switches lost answers on (read at each request, so a test can
switch them on and off while the server runs)."""

LOST_ANSWER_MARK = "hebo-emulator: lost answer"
"""The message of an injected HTTP 500 and the prefix of the log line every lost answer writes
(`<mark>: <service> <operation> answered …`), so a run's log tells injected failures from moto's
own (`MotoServer.server_errors` skips the injected HTTP 500s)."""

REPLAYED_MARK = "hebo-emulator: retry answered with the delivered answer"
"""The prefix of the log line `SdkRetries` writes for each retry it answers
(`<mark>: <service> <operation>`; `MotoServer.replayed_retries` reads them)."""

ANSWERED_500 = "answered HTTP 500"
"""How a lost answer of a request with a client token was lost (its log line says so)."""

ANSWERED_CLOSED = "answered by closing the connection"
"""How a lost answer of any other changing request was lost: nothing was delivered."""

READ_OPERATIONS = re.compile(r"^(Describe|List|Get|Head|Lookup|Search)[A-Z]")
"""Operations that change nothing (AWS names them so): their first answers are never lost."""

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], list[bytes]]
"""A whole WSGI answer: status line, headers, body chunks."""

KEPT_ANSWERS = 4096
"""How many delivered answers `SdkRetries` keeps, oldest dropped first: an SDK retries within
seconds (the Go SDK's backoff is at most 20 s), while the emulator answers a few hundred requests
a second at most."""


@lru_cache(maxsize=None)
def token_members(api: str, operation: str) -> tuple[str, ...]:
    """The client-token members of an operation's input (botocore service name `api`, e.g. "ec2",
    "ecs"; operation name, e.g. "CreateFlowLogs"), in model order; () when it has none or the
    model does not know it."""
    from tools.emulator_calls.decode import service_model

    try:
        model = service_model(api)
        shape_name = model["operations"][operation].get("input", {}).get("shape")
    except Exception:  # noqa: BLE001 - an unknown operation has no tokens
        return ()
    if not shape_name:
        return ()
    shapes = model["shapes"]
    members = shapes[shape_name].get("members", {})
    return tuple(
        name
        for name, member in members.items()
        if member.get("idempotencyToken")
        or shapes.get(member.get("shape", ""), {}).get("idempotencyToken")
        or (name.lower().endswith("token") and "idempoten" in str(member.get("documentation", "")).lower())
    )


class ClientTokens:
    """WSGI middleware around moto's server application (installed by `install`).

    An answer is kept when moto answered 2xx, keyed by (region, service, operation, token) — a
    token's scope is one account and region, and the emulator has one account. A repeat with the
    same other parameters gets the kept status, headers and body. A repeat with different
    parameters (AWS: `IdempotentParameterMismatch`) is passed to moto unchanged; no client of the
    stacks reuses a token that way. It runs inside the emulator's one-request-at-a-time lock
    (tools/moto_emulator.py `_ONE_REQUEST_AT_A_TIME`), so it keeps no lock of its own."""

    def __init__(self, lose_first_answers: Callable[[], bool] = lambda: False) -> None:
        self.lose_first_answers = lose_first_answers
        self._answers: dict[tuple[str, str, str, str], tuple[str, Answer]] = {}

    def __call__(self, environ: Environ, start_response: StartResponse, app: WsgiApp) -> Iterable[bytes]:
        from tools.emulator_calls.decode import request_body

        body = request_body(environ)
        if b"oken" not in body and "oken" not in environ.get("QUERY_STRING", ""):
            return app(environ, start_response)  # no member named ...Token/...token: nothing to match
        found = self._token(environ, body)
        if found is None:
            return app(environ, start_response)
        key, fingerprint, protocol = found
        kept = self._answers.get(key)
        if kept is not None and kept[0] == fingerprint:
            status, headers, chunks = kept[1]
            start_response(status, headers)
            return list(chunks)
        if kept is not None:  # the same token with other parameters: moto's to answer
            return app(environ, start_response)
        status, headers, chunks = _answer(app, environ)
        if not status.startswith("2"):
            start_response(status, headers)
            return chunks
        self._answers[key] = (fingerprint, (status, headers, chunks))
        if not self.lose_first_answers():
            start_response(status, headers)
            return chunks
        print(f"{LOST_ANSWER_MARK}: {key[1]} {key[2]} {ANSWERED_500} after it was carried out", flush=True)
        error, content_type = _internal_error(protocol)
        start_response(
            "500 Internal Server Error", [("Content-Type", content_type), ("Content-Length", str(len(error)))]
        )
        return [error]

    @staticmethod
    def _token(environ: Environ, body: bytes) -> tuple[tuple[str, str, str, str], str, str] | None:
        """(key, fingerprint of the other parameters, protocol) of a request carrying a client
        token; None for any other request (or one that does not decode)."""
        from tools.emulator_calls.decode import decode_request, service_model

        try:
            decoded = decode_request(environ, body)
        except Exception:  # noqa: BLE001 - a request the decoder cannot read is moto's to answer
            return None
        if not decoded.operation or decoded.error:
            return None
        names = token_members(decoded.api, decoded.operation)
        token = next((str(decoded.params[n]) for n in names if decoded.params.get(n)), None)
        if token is None:
            return None
        others = {k: v for k, v in decoded.params.items() if k not in names}
        fingerprint = json.dumps(others, sort_keys=True, default=str)
        protocol = service_model(decoded.api)["metadata"]["protocol"]
        return (decoded.region, decoded.api, decoded.operation, token), fingerprint, protocol


def _internal_error(protocol: str) -> tuple[bytes, str]:
    """An HTTP 500 body in the service's protocol: the AWS error shapes of query/EC2 XML and JSON."""
    if protocol in ("json", "rest-json"):
        return json.dumps(
            {"__type": "InternalFailure", "message": LOST_ANSWER_MARK}
        ).encode(), "application/x-amz-json-1.1"
    if protocol == "ec2":
        text = f"<Response><Errors><Error><Code>InternalError</Code><Message>{LOST_ANSWER_MARK}</Message></Error></Errors><RequestID>lost</RequestID></Response>"
    else:
        text = f"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>{LOST_ANSWER_MARK}</Message></Error><RequestId>lost</RequestId></ErrorResponse>"
    return text.encode(), "text/xml"


def _answer(app: WsgiApp, environ: Environ) -> Answer:
    """Call the inner WSGI `app` and return its whole answer: (status, headers, body chunks)."""
    answer: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        answer["status"], answer["headers"] = status, list(headers)
        return lambda _data: None  # the body is returned, after the caller's decision to keep it

    result = app(environ, capture)
    try:
        chunks = [bytes(c) for c in result]
    finally:
        getattr(result, "close", lambda: None)()
    return answer["status"], answer["headers"], chunks


def attempt_number(header: str) -> int:
    """The attempt an `amz-sdk-request` header value counts ("attempt=2; max=25" -> 2); 1 when
    the header is missing or names none."""
    found = re.search(r"(?:^|;)\s*attempt=(\d+)", header)
    return int(found.group(1)) if found else 1


class SdkRetries:
    """WSGI middleware around `ClientTokens` (installed by `install`): an SDK's retry of a request
    the emulator answered with 2xx gets that answer (see the module docstring for why a client
    loses answers here and how the tests lose them on purpose).

    A request is an SDK retry when it carries the `amz-sdk-invocation-id` of a kept answer, counts
    attempt 2 or later in `amz-sdk-request`, and has that answer's method, path, query string and
    body (headers differ: each attempt is signed anew). The last KEPT_ANSWERS delivered 2xx answers
    are kept, per invocation id; an HTTP 500 (moto's or an injected one) is never kept, so the
    retry of a lost client-token answer reaches `ClientTokens`. Runs inside the emulator's
    one-request-at-a-time lock, so it keeps no lock of its own."""

    def __init__(self, lose_first_answers: Callable[[], bool] = lambda: False, keep: int = KEPT_ANSWERS) -> None:
        self.lose_first_answers = lose_first_answers
        self._keep = keep
        self._answers: OrderedDict[str, tuple[tuple[str, str, str, bytes], Answer]] = OrderedDict()

    def __call__(self, environ: Environ, start_response: StartResponse, app: WsgiApp) -> Iterable[bytes]:
        from tools.emulator_calls.decode import request_body

        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID", "")
        if not invocation:
            return app(environ, start_response)  # not an SDK's request: nothing to match a retry by
        body = request_body(environ)
        request = (
            environ.get("REQUEST_METHOD", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            body,
        )
        attempt = attempt_number(environ.get("HTTP_AMZ_SDK_REQUEST", ""))
        kept = self._answers.get(invocation)
        if attempt > 1 and kept is not None and kept[0] == request:
            print(f"{REPLAYED_MARK}: {' '.join(_operation(environ, body) or ('unknown',))}", flush=True)
            status, headers, chunks = kept[1]
            start_response(status, headers)
            return list(chunks)
        status, headers, chunks = _answer(app, environ)
        if status.startswith("2"):
            self._answers[invocation] = (request, (status, headers, chunks))
            self._answers.move_to_end(invocation)
            while len(self._answers) > self._keep:
                self._answers.popitem(last=False)
            if attempt == 1 and self.lose_first_answers() and _close_if_changing(environ, body):
                return _undelivered()
        start_response(status, headers)
        return chunks


def _undelivered() -> Iterator[bytes]:
    """The body of an answer never delivered: werkzeug meets a dropped connection before it writes
    a byte (a `ConnectionError`, which it treats as the client gone), so nothing is half-written
    into its buffer and no traceback reaches moto's log."""
    raise ConnectionAbortedError(f"{LOST_ANSWER_MARK}: not delivered")
    yield b""  # unreachable: makes this a generator, which raises when werkzeug starts reading it


def _operation(environ: Environ, body: bytes) -> tuple[str, str] | None:
    """(service, operation) of a request in botocore's names, e.g. ("ec2", "CreateVpc"), or None
    when it does not decode. Never its parameters: they may hold secret values."""
    from tools.emulator_calls.decode import decode_request

    try:
        decoded = decode_request(environ, body)
    except Exception:  # noqa: BLE001 - a request the decoder cannot read has no name
        return None
    return (decoded.api, decoded.operation) if decoded.operation else None


def _close_if_changing(environ: Environ, body: bytes) -> bool:
    """Lose an answer on the way back: when the request is an operation that changes something,
    say so in the log and close the client's connection (werkzeug's socket) without a byte of the
    answer. Returns whether it did."""
    operation = _operation(environ, body)
    connection = environ.get("werkzeug.socket")
    if operation is None or READ_OPERATIONS.match(operation[1]) or connection is None:
        return False
    print(f"{LOST_ANSWER_MARK}: {' '.join(operation)} {ANSWERED_CLOSED} after it was carried out", flush=True)
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client is gone already: lost all the same
    return True


def install() -> SdkRetries:
    """Answer repeated client tokens and SDK retries in this process's moto server (call before the
    server starts, after the call recorder: the recorder records what moto carried out and
    answered, so a lost answer is recorded once, with the ARN moto's real answer names, and a
    replayed retry, which carries nothing out and is authorized exactly as its first request, is
    not recorded again). `SdkRetries` wraps `ClientTokens`, which wraps moto. Answers are lost
    while the file named by env HEBO_EMULATOR_LOSE_FIRST_ANSWERS exists. Returns the outer
    middleware."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    switch = os.environ.get(LOSE_FIRST_ANSWERS_ENV, "")

    def losing() -> bool:
        return bool(switch) and os.path.exists(switch)

    tokens, retries = ClientTokens(losing), SdkRetries(losing)
    original = DomainDispatcherApplication.__call__

    def with_retries(self: Any, environ: Environ, start_response: StartResponse) -> Any:
        return retries(environ, start_response, lambda e, s: tokens(e, s, lambda e2, s2: original(self, e2, s2)))

    DomainDispatcherApplication.__call__ = with_retries  # type: ignore[method-assign]  # wraps moto's server dispatcher in place
    return retries

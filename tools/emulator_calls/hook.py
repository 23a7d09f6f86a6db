"""The recorder: WSGI middleware around moto's server application (moto 5.2.5
`moto.moto_server.werkzeug_app.DomainDispatcherApplication`, the app `ThreadedMotoServer`
serves), installed in the moto child process before the server starts. Every request becomes
one or more lines of the call log; a request it cannot decode is a line with action null and
the reason in `error` (never dropped). The client-token middleware (tools/emulator_idempotency.py)
wraps the recorder: a retry it answers from a kept answer reaches neither moto nor the recorder
(it carries nothing out and is authorized as its first request, which is recorded)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tools.emulator_calls.record import Call, line_for

ENV = "HEBO_EMULATOR_CALL_LOG"
"""The moto child process records calls to this path when it is set."""


class Recorder:
    """Appends the lines of each request to `path` (thread-safe: moto serves requests on threads).
    `seq` counts requests from 1 in the order they reached moto."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seq = 0
        self._file = self.path.open("a", encoding="utf-8")

    def next_seq(self) -> int:
        """The next request's number (1, 2, ...), in arrival order."""
        with self._lock:
            self._seq += 1
            return self._seq

    def write(self, calls: list[Call]) -> None:
        """Append the lines of one request together (lines of concurrent requests never interleave)."""
        text = "".join(line_for(c) + "\n" for c in calls)
        with self._lock:
            self._file.write(text)
            self._file.flush()

    def __call__(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
    ) -> list[bytes]:
        from tools.emulator_calls.calls import complete, plan
        from tools.emulator_calls.decode import Decoded, decode_request, request_body

        seq = self.next_seq()
        path = environ.get("PATH_INFO", "")
        body = request_body(environ)
        try:
            decoded = decode_request(environ, body)
            planned, error = plan(decoded)
        except Exception as exc:  # noqa: BLE001 - a decoder defect must not break the emulator; it is logged
            decoded = Decoded(
                service="", region="", access_key_id="", operation=f"{environ.get('REQUEST_METHOD')} {path}"
            )
            planned, error = [], f"decoder failed: {type(exc).__name__}: {exc}"
        if not decoded.operation:
            decoded.operation = f"{environ.get('REQUEST_METHOD')} {path}"
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = int(status.split(" ", 1)[0]), headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            result = app(environ, capture)
            try:
                chunks = [bytes(c) for c in result]
            finally:
                getattr(result, "close", lambda: None)()
        except Exception as exc:  # moto itself failed (the server answers 500): record, then let it fail
            self.write(
                complete(seq, decoded, planned, error or f"moto raised {type(exc).__name__}: {exc}", 500, b"", "")
            )
            raise
        content_type = next((v for k, v in answer.get("headers", []) if k.lower() == "content-type"), "")
        try:
            calls = complete(seq, decoded, planned, error, answer.get("status", 0), b"".join(chunks), content_type)
        except Exception as exc:  # noqa: BLE001 - a decoder bug must not fail the request: recorded as not decoded
            calls = [
                Call(
                    seq,
                    decoded.access_key_id,
                    decoded.service,
                    decoded.operation,
                    None,
                    (),
                    {},
                    answer.get("status", 0),
                    decoded.region,
                    error=f"decoder failed: {type(exc).__name__}: {exc}",
                )
            ]
        self.write(calls)
        return chunks


def install(path: Path | str | None = None) -> Recorder | None:
    """Record every request the moto server of this process receives to `path` (default: env
    HEBO_EMULATOR_CALL_LOG; nothing is installed when neither is set). Call before the server
    starts. Returns the recorder."""
    target = path or os.environ.get(ENV)
    if not target:
        return None
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    recorder = Recorder(target)
    original = DomainDispatcherApplication.__call__

    def recorded(self: Any, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return recorder(environ, start_response, lambda e, s: original(self, e, s))

    DomainDispatcherApplication.__call__ = recorded  # type: ignore[method-assign]  # wraps moto's server dispatcher in place
    return recorder

"""Verified TLS and retry behaviour of the connection layer, against the real server."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from migrator.connect import ConnectError, connect


def attempts_logged(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "connect attempt" in r.getMessage()]


def test_connects_with_verified_tls(make_settings):
    conn = connect(make_settings())
    try:
        assert conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [[True]]
    finally:
        conn.close()


def test_refused_connections_are_retried_until_the_port_opens(make_settings, tcp_proxy, caplog):
    caplog.set_level(logging.INFO, logger="migrator.connect")
    proxy = tcp_proxy(delay=1.2)  # nothing listens for 1.2 s, like a resuming endpoint
    started = time.monotonic()
    conn = connect(make_settings(port=proxy.port, attempts=8, backoff_base=0.25, backoff_max=0.5))
    try:
        assert conn.run("SELECT 1") == [[1]]
    finally:
        conn.close()
    assert time.monotonic() - started >= 1.2
    failures = attempts_logged(caplog)
    assert len(failures) >= 2
    assert all("(transient)" in f and "ConnectionRefusedError" in f for f in failures)
    assert any("connected to 127.0.0.1" in r.getMessage() for r in caplog.records)


def test_gives_up_after_the_configured_attempts(make_settings, caplog):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(ConnectError, match=r"after 4 attempts: .*ConnectionRefusedError"):
        connect(make_settings(port=port, attempts=4, backoff_base=1, backoff_max=3), sleep=sleeps.append)
    assert sleeps == [1, 2, 3]


def test_wrong_ca_is_refused_at_once(make_settings, pg_server, caplog):
    with pytest.raises(ConnectError, match="certificate verify failed") as info:
        connect(make_settings(ca_bundle=pg_server.wrong_ca_file, attempts=5))
    assert "unable to get local issuer certificate" in str(info.value)
    assert len(attempts_logged(caplog)) == 1  # permanent: no retry


def test_hostname_not_in_certificate_is_refused(make_settings, tcp_proxy, caplog):
    proxy = tcp_proxy(listen_host="127.0.0.2")  # same server, address not in the certificate
    with pytest.raises(ConnectError, match="IP address mismatch"):
        connect(make_settings(host="127.0.0.2", port=proxy.port, attempts=5))
    assert len(attempts_logged(caplog)) == 1


def test_wrong_password_is_not_retried(make_settings, caplog):
    with pytest.raises(ConnectError, match=r"password authentication failed .*SQLSTATE 28P01"):
        connect(make_settings(password="nope", attempts=5))
    assert len(attempts_logged(caplog)) == 1


def test_missing_ca_bundle_is_a_clear_error(make_settings, tmp_path):
    with pytest.raises(ConnectError, match="CA bundle .*missing.pem not found"):
        connect(make_settings(ca_bundle=tmp_path / "missing.pem"))


def test_password_never_in_repr(make_settings):
    assert "s3cret" not in repr(make_settings())

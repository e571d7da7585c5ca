"""A throw-away PostgreSQL server for the store tests (and the store benchmark).

Debian's ``postgresql`` binaries (``initdb``, ``pg_ctl``) make a cluster in a
temporary folder listening on a free loopback port; it is stopped and
deleted afterwards. The system's own PostgreSQL service is never used. The
cluster's superuser is ``postgres``; :data:`OWNER` owns every test database
(as IT's owner role would) and :data:`WORKSTATION` is a workstation's login
role, a member of ``stethos_workstation``.

Optionally TLS: :meth:`PgServer.start` with ``tls=True`` writes a CA and a
server certificate for ``127.0.0.2`` (a loopback address the store treats
as another machine) and requires ``hostssl`` with a password there.
"""

from __future__ import annotations

import datetime as _dt
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER = "stethos_owner"
WORKSTATION = "ws1"
#: The password of :data:`WORKSTATION` for the TLS address (plain loopback is ``trust``).
WORKSTATION_PASSWORD = "ws1-database-password"
TLS_HOST = "127.0.0.2"


def find_bin_dir() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl`` (Debian's newest version first), or ``None``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _server_user() -> str | None:
    """Who runs the server when the tests run as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_tls(folder: Path) -> Path:
    """A CA and a server certificate for :data:`TLS_HOST` in ``folder``; returns the CA file."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = _dt.datetime.now(_dt.UTC)

    def cert(subject: str, key, issuer_name, issuer_key, *, ca: bool, ip: str | None = None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(hours=1))
            .not_valid_after(now + _dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ip:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test clinic CA")])
    ca_cert = cert("Test clinic CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    server_cert = cert(TLS_HOST, key, ca_name, ca_key, ca=False, ip=TLS_HOST)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (folder / "server.crt").write_bytes(server_cert.public_bytes(pem))
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return folder / "ca.pem"


class PgServer:
    """One throw-away cluster: start, make databases, stop."""

    def __init__(self, bin_dir: Path, *, fsync: bool = False, tls: bool = False) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="stethos-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.fsync = fsync
        self.tls = tls
        self.ca_file: Path | None = None
        self._names = itertools.count(1)
        self.run_as = _server_user()
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        return [*prefix, *args]

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> PgServer:
        """initdb (first time) and start the server; waits until it accepts connections."""
        if not self.data.exists():
            subprocess.run(
                self._command(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                              "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"),
                check=True, capture_output=True,
            )  # fmt: skip
            self._configure()
        for attempt in range(5):  # after a kill, the old backends may take a moment to go
            try:
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"))
                break
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise
                time.sleep(1.0)
        if not hasattr(self, "_roles_made"):
            self._make_roles()
            self._roles_made = True
        return self

    def _configure(self) -> None:
        listen = "127.0.0.1" + (f",{TLS_HOST}" if self.tls else "")
        conf = [
            f"listen_addresses = '{listen}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.root}'",
            f"fsync = {'on' if self.fsync else 'off'}",
            f"synchronous_commit = {'on' if self.fsync else 'off'}",
            "full_page_writes = off" if not self.fsync else "full_page_writes = on",
            "max_connections = 100",
            "track_functions = 'pl'",  # the benchmark reads the audit lock's time from it
            "shared_buffers = 64MB",
        ]
        hba = ["local all all trust"]
        if self.tls:
            self.ca_file = _write_tls(self.root)
            if self.run_as is not None:
                entry = pwd.getpwnam(self.run_as)
                for name in ("server.key", "server.crt", "ca.pem"):
                    os.chown(self.root / name, entry.pw_uid, entry.pw_gid)
            conf += [
                "ssl = on",
                f"ssl_cert_file = '{self.root / 'server.crt'}'",
                f"ssl_key_file = '{self.root / 'server.key'}'",
            ]
            # Over TLS (from any loopback address) a password is asked for.
            hba.append("hostssl all all 127.0.0.0/8 scram-sha-256")
        hba.append("host all all 127.0.0.1/32 trust")
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\n".join(conf) + "\n")
        (self.data / "pg_hba.conf").write_text("\n".join(hba) + "\n", encoding="utf-8")

    def _make_roles(self) -> None:
        self.sql(
            f"CREATE ROLE {OWNER} LOGIN CREATEROLE",
            "CREATE ROLE stethos_workstation NOLOGIN",
            f"CREATE ROLE {WORKSTATION} LOGIN PASSWORD '{WORKSTATION_PASSWORD}' "
            "IN ROLE stethos_workstation",
        )

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            self._command(str(self.bin / "pg_ctl"), "-D", str(self.data), *args),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast shutdown)."""
        self._pg_ctl("stop", "-m", "fast", "-w")

    def pid(self) -> int:
        """The running postmaster's process id."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash): every open transaction is lost, nothing half kept."""
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        # the backends notice their postmaster died; wait until the port is free again
        time.sleep(0.5)
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def destroy(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        try:
            self.stop()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases --------------------------------------------------------------------------
    def sql(self, *statements: str, dbname: str = "postgres") -> list[tuple]:
        """Run statements as the superuser; returns the last one's rows."""
        import psycopg

        rows: list[tuple] = []
        with psycopg.connect(self.url("postgres", dbname), autocommit=True) as conn:
            for statement in statements:
                cur = conn.execute(statement)  # type: ignore[arg-type]
                rows = cur.fetchall() if cur.description else []
        return rows

    def new_database(self) -> str:
        """A fresh, empty database owned by :data:`OWNER`; returns its name."""
        name = f"t_{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name} OWNER {OWNER}")
        return name

    def url(self, role: str, dbname: str) -> str:
        """``postgresql://role@127.0.0.1:port/dbname`` (plain: loopback needs no TLS)."""
        return f"postgresql://{role}@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def tls_url(self, role: str, dbname: str) -> str:
        """The address through :data:`TLS_HOST` with verify-full and the test CA."""
        return (
            f"postgresql://{role}@{TLS_HOST}:{self.port}/{dbname}"
            f"?sslmode=verify-full&sslrootcert={self.ca_file}"
        )


@contextmanager
def throwaway_server(**options) -> Iterator[PgServer]:
    """A started :class:`PgServer` (``options`` as its constructor's), destroyed afterwards.

    Skips the calling test, with the reason, where Debian's ``postgresql`` binaries are
    missing.
    """
    import pytest

    from tests._no_network import loopback_allowed

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt install postgresql)")
    with loopback_allowed():
        server = PgServer(bin_dir, **options)
        server.start()
    try:
        yield server
    finally:
        server.destroy()

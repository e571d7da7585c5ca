"""Nothing opens a network socket: the suite-wide guard fires, and the self-test runs offline."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from tests._no_network import NetworkAccessError, guard_active

REPO = Path(__file__).resolve().parents[1]


def test_guard_is_installed_for_the_whole_suite() -> None:
    assert guard_active()


def test_connect_to_localhost_fails_naming_the_caller() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(NetworkAccessError) as caught:
            sock.connect(("127.0.0.1", 9))
    finally:
        sock.close()
    message = str(caught.value)
    assert "127.0.0.1" in message
    assert "test_no_network.py" in message and "test_connect_to_localhost" in message


def test_every_way_out_is_guarded() -> None:
    with pytest.raises(NetworkAccessError, match=r"create_connection|getaddrinfo"):
        socket.create_connection(("example.org", 80), timeout=1)
    with pytest.raises(NetworkAccessError, match="getaddrinfo"):
        socket.getaddrinfo("localhost", 80)
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
        with pytest.raises(NetworkAccessError, match="bind"):
            s6.bind(("::1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        with pytest.raises(NetworkAccessError, match="sendto"):
            udp.sendto(b"x", ("127.0.0.1", 9))
        with pytest.raises(NetworkAccessError, match="connect_ex"):
            udp.connect_ex(("127.0.0.1", 9))


def test_local_sockets_and_worker_processes_still_work(tmp_path: Path) -> None:
    a, b = socket.socketpair(socket.AF_UNIX)
    with a, b:
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(tmp_path / "s.sock"))
        server.listen(1)
    # the engine's series loader uses a process pool (pipes, AF_UNIX; a fork server on Linux)
    from engine.dicom.volume import worker_context

    for context in (worker_context(), get_context("spawn")):
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            assert pool.submit(abs, -3).result(timeout=60) == 3


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30)
    return done.returncode == 0


@pytest.mark.slow
def test_engine_self_test_passes_without_a_network(tmp_path: Path) -> None:
    if not _unshare_works():
        pytest.skip("unshare -rn (a user and network namespace) is not permitted here")
    env = dict(os.environ, PYTHONPATH=str(REPO), STETHOS_DATA_DIR=str(tmp_path / "data"))
    # the namespace really has no network: even a raw connect is refused by the kernel
    probe = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c",
         "import socket; socket.create_connection(('192.0.2.1', 80), timeout=5)"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower(), probe.stderr
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "engine.cli", "self-test", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    checks = json.loads(done.stdout)
    assert checks and all(c["ok"] for c in checks), [c for c in checks if not c["ok"]]
    names = " ".join(c["check"] for c in checks)
    assert "runs" in names and "store" in names

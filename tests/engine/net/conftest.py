"""A real PACS for the network tests: a throw-away Orthanc on loopback ports.

Orthanc comes from Debian (``orthanc``, ``orthanc-dicomweb``; ``.ci/run``
installs them). Each test module gets its own server in a temporary folder
with a generated configuration; the suite's network guard lets the tests
reach 127.0.0.1 only, and only inside these fixtures.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._no_network import loopback_allowed

ORTHANC = shutil.which("Orthanc")
PLUGINS = [p for p in ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so",) if Path(p).is_file()]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class OrthancServer:
    dicom_port: int
    http_port: int
    aet: str
    folder: Path
    process: subprocess.Popen
    our_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def rest(self, path: str, data: bytes | None = None, method: str | None = None) -> object:
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def upload(self, path: Path) -> dict:
        return self.rest("/instances", path.read_bytes(), "POST")  # type: ignore[return-value]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def loopback() -> Iterator[None]:
    with loopback_allowed():
        yield


def start_orthanc(folder: Path, ports: tuple[int, int, int] | None = None) -> OrthancServer:
    """Start Orthanc with its database in ``folder`` (restartable on the same folder/ports)."""
    if ORTHANC is None:
        pytest.skip("Orthanc is not installed (Debian package orthanc)")
    dicom_port, http_port, our_port = ports or (free_port(), free_port(), free_port())
    config = {
        "Name": "stethos-test",
        "StorageDirectory": str(folder / "db"),
        "IndexDirectory": str(folder / "db"),
        "DicomAet": "ORTHANC",
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": False,
        "DicomAlwaysAllowStore": False,
        "DicomAlwaysAllowFind": False,
        "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False,
        "DicomCheckModalityHost": False,
        "DicomModalities": {"stethos": ["STETHOS", "127.0.0.1", our_port]},
        "Plugins": PLUGINS,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
        "HttpServerEnabled": True,
        "StableAge": 1,
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = open(folder / "orthanc.log", "ab")
    process = subprocess.Popen([ORTHANC, str(folder / "orthanc.json")], stdout=log, stderr=log)
    log.close()
    server = OrthancServer(dicom_port, http_port, "ORTHANC", folder, process, our_port)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.rest("/system")
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                pytest.fail(
                    f"Orthanc did not start:\n{(folder / 'orthanc.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory, loopback: None) -> Iterator[OrthancServer]:
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()

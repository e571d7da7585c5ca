"""A throw-away Orthanc for the network benchmarks (Debian package ``orthanc``).

Started on free loopback ports in a folder of the caller's, with a generated
configuration that lets ``STETHOS`` get, find and be a C-MOVE destination.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Orthanc:
    process: subprocess.Popen
    dicom_port: int
    http_port: int
    our_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def upload(self, files: list[Path]) -> None:
        for f in files:
            req = urllib.request.Request(self.url + "/instances", data=f.read_bytes(),
                                         method="POST")  # fmt: skip
            urllib.request.urlopen(req, timeout=60).read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start(folder: Path) -> Orthanc | None:
    """Orthanc with its database in ``folder`` (``None`` when it is not installed)."""
    exe = shutil.which("Orthanc")
    if exe is None:
        return None
    dicom_port, http_port, our_port = free_port(), free_port(), free_port()
    config = {"Name": "bench", "StorageDirectory": str(folder / "db"),
              "IndexDirectory": str(folder / "db"), "DicomAet": "ORTHANC",
              "DicomPort": dicom_port, "HttpPort": http_port, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": False, "DicomAlwaysAllowGet": True,
              "DicomAlwaysAllowFind": True, "DicomAlwaysAllowEcho": True,
              "DicomModalities": {"stethos": ["STETHOS", "127.0.0.1", our_port]}}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "orthanc.json").write_text(json.dumps(config))
    proc = subprocess.Popen([exe, str(folder / "orthanc.json")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    server = Orthanc(proc, dicom_port, http_port, our_port)
    for _ in range(300):
        try:
            urllib.request.urlopen(server.url + "/system", timeout=2).read()
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("Orthanc did not start")

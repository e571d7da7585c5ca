"""``stethos-engine net …`` against a real Orthanc: the commands IT staff and scripts use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom

from engine.cli import main
from engine.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from engine.resources import resource_path
from tests.engine.net.conftest import OrthancServer

REPO = Path(__file__).resolve().parents[3]
SAMPLE = resource_path("samples", "peds-cxr-normal-jls.dcm")


def test_nodes_echo_find_get_send(orthanc: OrthancServer, tmp_path: Path, capsys) -> None:
    address = f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"
    assert main(["net", "nodes", "add", "cli-pacs", address]) == EXIT_OK
    assert main(["net", "nodes", "add", "cli-pacs", address]) == EXIT_USAGE  # exists already
    assert main(["net", "nodes", "list", "--json"]) == EXIT_OK
    out = capsys.readouterr().out
    listed = json.loads(out.strip().splitlines()[-1])
    assert any(n["name"] == "cli-pacs" and n["port"] == orthanc.dicom_port for n in listed["nodes"])

    assert main(["net", "echo", "cli-pacs"]) == EXIT_OK
    assert "connected to ORTHANC@127.0.0.1" in capsys.readouterr().out
    assert main(["net", "echo", f"WRONG@127.0.0.1:{orthanc.dicom_port}"]) == EXIT_ERROR
    assert main(["net", "echo", "no-such-node"]) == EXIT_USAGE

    assert main(["net", "send", "cli-pacs", str(SAMPLE)]) == EXIT_OK
    assert "1 sent, 0 not sent" in capsys.readouterr().out
    study = str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).StudyInstanceUID)
    assert main(["net", "find", "cli-pacs", "--modality", "", "--json"]) == EXIT_OK
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    row = next(r for r in rows if r["StudyInstanceUID"] == study)
    assert {"PatientID", "StudyDate", "ModalitiesInStudy", "NumberOfStudyRelatedInstances"} <= set(
        row
    )
    assert row["NumberOfStudyRelatedInstances"] >= 1

    out_dir = tmp_path / "got"
    assert main(["net", "get", "cli-pacs", "--study", study, "--out", str(out_dir)]) == EXIT_OK
    got = [f for f in out_dir.rglob("*.dcm")]
    assert got and pydicom.dcmread(got[0]).PixelData == pydicom.dcmread(SAMPLE).PixelData
    # The same through the node's DICOMweb address.
    web = f"ORTHANC@127.0.0.1:{orthanc.dicom_port}"
    assert (
        main(["net", "nodes", "add", "cli-web", web, "--dicomweb", f"{orthanc.url}/dicom-web"])
        == EXIT_OK
    )
    assert main(["net", "echo", "cli-web", "--dicomweb"]) == EXIT_OK
    assert main(["net", "find", "cli-web", "--dicomweb", "--json"]) == EXIT_OK
    assert any(json.loads(line)["StudyInstanceUID"] == study
               for line in capsys.readouterr().out.splitlines() if line.startswith("{"))  # fmt: skip
    web_dir = tmp_path / "web"
    assert (
        main(["net", "get", "cli-web", "--dicomweb", "--study", study, "--out", str(web_dir)])
        == EXIT_OK
    )
    assert list(web_dir.rglob("*.dcm"))
    assert main(["net", "nodes", "remove", "cli-web"]) == EXIT_OK
    assert main(["net", "nodes", "remove", "cli-pacs"]) == EXIT_OK


def test_listen_receives_until_sigterm(orthanc: OrthancServer, tmp_path: Path) -> None:
    port = orthanc.our_port
    env = dict(
        os.environ,
        STETHOS_CONFIG_DIR=str(tmp_path / "cfg"),
        STETHOS_DATA_DIR=str(tmp_path / "data"),
    )
    # The child process runs without the test suite's network guard: it listens on loopback.
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "net", "listen", "--host", "127.0.0.1",
         "--port", str(port), "--out", str(tmp_path / "in"), "--allow", "ORTHANC"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "listening as STETHOS" in proc.stdout.readline()
        uploaded = orthanc.upload(SAMPLE)
        orthanc.rest("/modalities/stethos/store", json.dumps([uploaded["ID"]]).encode(), "POST")
        deadline = time.monotonic() + 30
        while not list((tmp_path / "in").rglob("*.dcm")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list((tmp_path / "in").rglob("*.dcm"))
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped; 1 instance(s) received" in out


def test_listen_refuses_wrong_arguments_before_it_listens(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "in")
    cases = [
        (["--port", "0", "--allow", "A"], EXIT_USAGE, "“0” is not a valid port"),
        (["--allow", "A_TITLE_OF_17_CHR"], EXIT_USAGE, "“A_TITLE_OF_17_CHR” is not a valid AE"),
    ]
    for extra, code, message in cases:
        assert main(["net", "listen", "--out", out, *extra]) == code
        assert message in capsys.readouterr().err
    # The listener a C-MOVE opens is checked the same way (port 99999 was an OverflowError).
    move = ["net", "get", "ORTHANC@127.0.0.1:104", "--study", "1.2.3", "--out", out, "--move"]
    assert main([*move, "--port", "99999"]) == EXIT_USAGE
    assert "“99999” is not a valid port" in capsys.readouterr().err
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    assert main(["net", "listen", "--out", str(in_the_way), "--allow", "A"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"error: The DICOM folder {in_the_way} cannot be used: File exists." in err
    assert "Traceback" not in err


def test_why_listening_failed_says_what_to_do() -> None:
    import errno
    import socket

    from engine.net.problems import listen_problem

    cases = [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "no such address"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "no such address"),
        (OSError(errno.EACCES, "Permission denied"), "Ports below 1024 need administrator"),
        (OSError(errno.EADDRINUSE, "Address already in use"), "Another program may be using"),
    ]
    for exc, expected in cases:
        assert expected in listen_problem("pacs-ws", 104, exc)

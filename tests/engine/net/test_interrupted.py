"""A peer that stops mid-transfer: what arrived is kept, and the next retrieve resumes."""

from __future__ import annotations

import threading
import time

import pydicom
import pytest

from engine.dicom.synthetic import write_ct_series
from engine.net import InstanceCache, Node, PeerError, get_study
from tests.engine.net.conftest import start_orthanc


def test_killing_the_pacs_mid_transfer_keeps_what_arrived_and_resume_fetches_the_rest(
    tmp_path, loopback
) -> None:
    folder = tmp_path / "orthanc"
    folder.mkdir()
    server = start_orthanc(folder)
    ports = (server.dicom_port, server.http_port, server.our_port)
    files = write_ct_series(tmp_path / "ct", 80, rows=512, cols=512, seed=5)
    for f in files:
        server.upload(f)
    study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    node = Node("pacs", "ORTHANC", "127.0.0.1", server.dicom_port)
    cache = InstanceCache(tmp_path / "cache")
    outcome: list[object] = []

    def fetch() -> None:
        try:
            outcome.append(get_study(node, study, cache))
        except PeerError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "cache").rglob("*.dcm"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.process.kill()  # the PACS dies mid-study
    server.process.wait()
    worker.join(timeout=60)
    assert isinstance(outcome[0], PeerError), outcome
    kept = len(cache.study_files(study))
    assert 0 < kept < 80
    assert not list((tmp_path / "cache").rglob(".part-*"))  # nothing half-written
    for f in cache.study_files(study):
        pydicom.dcmread(f)  # every indexed file is whole

    restarted = start_orthanc(folder, ports)  # same database
    try:
        result = get_study(node, study, cache)
    finally:
        restarted.stop()
    assert result.already_here == kept and result.received == 80 - kept
    assert len(cache.study_files(study)) == 80


@pytest.fixture()
def loopback():
    from tests._no_network import loopback_allowed

    with loopback_allowed():
        yield

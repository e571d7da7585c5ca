"""Verify, query, retrieve, send and receive against a real Orthanc on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest

from engine.net import (
    InstanceCache,
    Listener,
    Node,
    PeerError,
    echo,
    entries,
    find_studies,
    get_study,
    send_files,
)
from engine.net.dimse import _ae, _associate
from engine.net.nodes import DEFAULT_AET
from engine.resources import resource_path
from tests.engine.net.conftest import OrthancServer, free_port

SAMPLES = [
    resource_path("samples", name)
    for name in ("chest-cr-pa.dcm", "peds-cxr-pneumonia-j2k.dcm", "peds-cxr-normal-jls.dcm",
                 "peds-cxr-normal.dcm", "ecg-12-lead.dcm")
]  # fmt: skip


def node(server: OrthancServer, aet: str = "ORTHANC") -> Node:
    return Node("pacs", aet, "127.0.0.1", server.dicom_port)


@pytest.fixture(scope="module")
def loaded(orthanc: OrthancServer) -> OrthancServer:
    for path in SAMPLES:
        orthanc.upload(path)
    return orthanc


def test_echo_says_how_fast_or_why_not(orthanc: OrthancServer) -> None:
    ok = echo(node(orthanc))
    assert ok.ok and ok.message.startswith("connected to ORTHANC@127.0.0.1") and "ms" in ok.message
    wrong = echo(node(orthanc, aet="NOTORTHANC"))
    assert not wrong.ok and "rejected the association" in wrong.message
    assert "called ae title not recognised" in wrong.message
    nobody = echo(Node("ghost", "GHOST", "127.0.0.1", free_port()))
    assert not nobody.ok and "Cannot connect to 127.0.0.1" in nobody.message
    assert "refused" in nobody.message
    actions = [(e["action"], e["node"], e["result"]) for e in entries()[-3:]]
    assert actions == [
        ("echo", "pacs", "ok"),
        ("echo", "pacs", "failed"),
        ("echo", "ghost", "failed"),
    ]


def test_a_rejection_is_reported_as_one_when_the_peer_hangs_up_at_once(
    orthanc: OrthancServer,
) -> None:
    # Orthanc closes the connection right after its A-ASSOCIATE-RJ. If that close reached
    # pynetdicom before it looked at the connection (1 echo in 40 here), it reported an abort,
    # which we turned into "no answer within 10 s" (seen in CI). Pausing our side after the
    # request makes that order certain.
    from pynetdicom import evt
    from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

    ae = _ae(DEFAULT_AET)
    ae.add_requested_context(Verification)
    pause = [(evt.EVT_REQUESTED, lambda event: time.sleep(0.5))]
    with pytest.raises(PeerError, match="rejected the association: called ae title not"):
        _associate(ae, node(orthanc, aet="NOTORTHANC"), evt_handlers=pause)


@contextmanager
def tcp_peer(answer: bool) -> Iterator[int]:
    """A port where something takes the connection and then hangs up, or says nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []

        def serve() -> None:
            conn, _ = server.accept()
            if answer:
                conn.recv(65536)
                conn.close()  # a web server, say, that does not understand DICOM
            else:
                held.append(conn)  # taken, never answered

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield int(server.getsockname()[1])
        finally:
            thread.join(timeout=5)
            for conn in held:
                conn.close()


def test_a_peer_that_hangs_up_or_stays_silent_is_told_apart(
    loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tcp_peer(answer=True) as port:
        hung_up = echo(Node("web", "ORTHANC", "127.0.0.1", port))
    assert not hung_up.ok  # at once: a timeout would say "No answer"
    assert "accepted the connection but closed it without answering" in hung_up.message
    assert "DICOM port (not its web port)" in hung_up.message
    monkeypatch.setattr("engine.net.dimse.TIMEOUT_S", 1.0)
    with tcp_peer(answer=False) as port:
        silent = echo(Node("mute", "ORTHANC", "127.0.0.1", port))
    assert not silent.ok and f"No answer from 127.0.0.1:{port} (mute) within 1 s" in silent.message


def test_a_host_name_that_cannot_be_looked_up_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def unknown(host: object, *args: object, **kwargs: object) -> object:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown)  # no lookup leaves the test
    result = echo(Node("pacs", "ORTHANC", "pacs.clinic.invalid", 104))
    assert not result.ok
    assert result.message == (
        "Cannot connect to pacs.clinic.invalid:104 (pacs): this workstation cannot look up the "
        "host name 'pacs.clinic.invalid' (Name or service not known). Check the address, or "
        "give the peer's IP address."
    )
    assert entries()[-1]["result"] == "failed"


def test_find_lists_studies_with_the_contract_keys(loaded: OrthancServer) -> None:
    studies = find_studies(node(loaded))
    originals = {str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in SAMPLES}
    assert {s["StudyInstanceUID"] for s in studies} == originals
    for s in studies:
        assert {"StudyInstanceUID", "PatientID", "StudyDate", "ModalitiesInStudy",
                "NumberOfStudyRelatedInstances"} <= set(s)  # fmt: skip
        assert isinstance(s["NumberOfStudyRelatedInstances"], int)
    ecg = [s for s in studies if "ECG" in s["ModalitiesInStudy"]]
    assert len(ecg) == 1


def test_get_retrieves_identical_pixels_and_skips_what_is_here(
    loaded: OrthancServer, tmp_path
) -> None:
    cache = InstanceCache(tmp_path / "cache")
    original = pydicom.dcmread(SAMPLES[1])  # JPEG 2000
    result = get_study(node(loaded), str(original.StudyInstanceUID), cache)
    assert result.received >= 1 and result.failed == 0
    (got,) = [pydicom.dcmread(f) for f in result.files if
              pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID == original.SOPInstanceUID]  # fmt: skip
    assert got.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert got.PixelData == original.PixelData  # the same encoded frames
    for f in result.files:
        assert f.resolve().is_relative_to((tmp_path / "cache").resolve())
        assert f.name[:-4] == f.name[:-4].lower() and len(f.stem) == 64  # named by hash
    again = get_study(node(loaded), str(original.StudyInstanceUID), cache)
    assert again.received == 0 and again.already_here >= 1 and "already here" in again.message


def test_send_stores_files_on_the_peer(orthanc: OrthancServer, tmp_path) -> None:
    before = len(orthanc.rest("/instances"))  # type: ignore[arg-type]
    from pydicom.data import get_testdata_file

    sample = Path(get_testdata_file("CT_small.dcm", download=False))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"not dicom")
    result = send_files(node(orthanc), [sample, junk])
    assert (
        result.sent == 1 and len(result.failed) == 1 and "not a DICOM file" in result.failed[0][1]
    )
    assert len(orthanc.rest("/instances")) == before + 1  # type: ignore[arg-type]


def test_listener_receives_from_the_pacs_and_rejects_strangers(
    loaded: OrthancServer, tmp_path
) -> None:
    cache = InstanceCache(tmp_path / "received")
    arrived = []
    listener = Listener(cache, port=loaded.our_port, host="127.0.0.1",
                        allowed=[("ORTHANC", None)], on_stored=arrived.append)  # fmt: skip
    listener.start()
    try:
        ids = loaded.rest("/instances")
        loaded.rest("/modalities/stethos/store", json_bytes(ids), "POST")
        deadline = time.monotonic() + 30
        while len(arrived) < len(ids) and time.monotonic() < deadline:  # type: ignore[arg-type]
            time.sleep(0.1)
        assert len(arrived) == len(ids)  # type: ignore[arg-type]
        assert all(
            s.path.resolve().is_relative_to((tmp_path / "received").resolve()) for s in arrived
        )
        # A caller that is not configured is rejected, and the rejection is audited.
        stranger = Node("me", "STETHOS", "127.0.0.1", loaded.our_port)
        refused = send_files(stranger, [SAMPLES[0]], aet="INTRUDER")
        assert refused.sent == 0
    except PeerError as exc:
        assert "rejected" in exc.user_message
    finally:
        listener.stop()
    assert any(e["result"] == "rejected" and e["node"] == "INTRUDER" for e in entries())
    # Receives are audited once per association and study: who, which study, how many.
    received = [e for e in entries() if e["action"] == "receive" and e["node"] == "ORTHANC"]
    by_study: dict[str, int] = {}
    for e in received[-len({s.study_instance_uid for s in arrived}) :]:
        by_study[e["study"]] = e["count"]
    expected: dict[str, int] = {}
    for s in arrived:
        expected[s.study_instance_uid] = expected.get(s.study_instance_uid, 0) + 1
    assert by_study == expected and all(e["result"] == "ok" for e in received)


def test_hostile_uids_cannot_leave_the_cache(tmp_path) -> None:
    ds = pydicom.dcmread(SAMPLES[3])
    ds.SOPInstanceUID = "../../../etc/passwd"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = "/tmp/evil"
    cache = InstanceCache(tmp_path / "cache")
    stored = cache.store(ds)
    assert stored.path.resolve().is_relative_to((tmp_path / "cache").resolve())
    assert stored.path.stem == stored.path.stem.lower() and ".." not in str(stored.path)
    assert cache.study_files("/tmp/evil") == [stored.path]


def test_a_port_in_use_gives_a_clear_message(tmp_path, loopback) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        listener = Listener(InstanceCache(tmp_path / "c"), port=port, host="127.0.0.1",
                            allowed=[("ORTHANC", None)])  # fmt: skip
        with pytest.raises(PeerError, match=f"Cannot listen on port {port}"):
            listener.start()


def json_bytes(value: object) -> bytes:
    import json

    return json.dumps(value).encode()


def test_the_listener_survives_hostile_callers_and_keeps_serving(tmp_path, loopback) -> None:
    """Malformed and oversized PDUs and truncated associations: the next caller is served,
    and nothing half-written is indexed."""
    port = free_port()
    cache = InstanceCache(tmp_path / "in")
    listener = Listener(cache, port=port, host="127.0.0.1", allowed=[("GOOD", None)])
    listener.start()
    try:
        garbage = [
            b"\x00" * 10,  # too short for a PDU header
            b"\x01\x00\xff\xff\xff\xff" + b"A" * 4096,  # A-ASSOCIATE-RQ claiming 4 GiB
            b"\x07\x00\x00\x00\x00\x04\x00\x00",  # an A-ABORT before any association
            bytes(range(256)) * 64,  # noise
        ]
        for payload in garbage:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(payload)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # connect and vanish
        time.sleep(0.5)
        me = Node("self", "STETHOS", "127.0.0.1", port)
        result = send_files(me, [SAMPLES[3]], aet="GOOD")
        assert result.sent == 1
        assert listener.received == 1
        files = list((tmp_path / "in").rglob("*.dcm"))
        assert len(files) == 1 and not list((tmp_path / "in").rglob(".part-*"))
    finally:
        listener.stop()


def test_dicomweb_find_get_send(loaded: OrthancServer, tmp_path) -> None:
    from engine.net import web_echo, web_find_studies, web_get_study, web_send_files

    web = Node("web", "ORTHANC", "127.0.0.1", loaded.dicom_port,
               dicomweb=f"{loaded.url}/dicom-web")  # fmt: skip
    ok, message = web_echo(web)
    assert ok and "answered in" in message
    studies = web_find_studies(web)
    original = pydicom.dcmread(SAMPLES[2])  # JPEG-LS
    assert str(original.StudyInstanceUID) in {s["StudyInstanceUID"] for s in studies}
    cache = InstanceCache(tmp_path / "web")
    got = web_get_study(web, str(original.StudyInstanceUID), cache)
    assert got.received >= 1
    back = [pydicom.dcmread(f) for f in got.files]
    assert any(b.SOPInstanceUID == original.SOPInstanceUID for b in back)
    again = web_get_study(web, str(original.StudyInstanceUID), cache)
    assert again.received == 0 and again.already_here >= 1
    from pydicom.data import get_testdata_file

    sent = web_send_files(web, [Path(get_testdata_file("MR_small.dcm", download=False))])
    assert sent.sent == 1 and not sent.failed


def test_move_sends_the_study_to_our_listener(loaded: OrthancServer, tmp_path) -> None:
    from engine.net import move_study

    original = pydicom.dcmread(SAMPLES[0])
    cache = InstanceCache(tmp_path / "moved")
    result = move_study(node(loaded), str(original.StudyInstanceUID), cache,
                        port=loaded.our_port, host="127.0.0.1")  # fmt: skip
    assert result.received >= 1 and result.files
    assert any(pydicom.dcmread(f).SOPInstanceUID == original.SOPInstanceUID for f in result.files)


def test_a_transfer_syntax_stethos_cannot_decode_is_refused_in_the_association(
    tmp_path, loopback
) -> None:
    from pydicom.encaps import encapsulate

    ds = pydicom.dcmread(SAMPLES[3])
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])  # a made-up MPEG-2 stream
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG-2: no decoder here
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    odd = tmp_path / "mpeg2.dcm"
    ds.save_as(odd, enforce_file_format=True)
    port = free_port()
    listener = Listener(InstanceCache(tmp_path / "in"), port=port, host="127.0.0.1",
                        allowed=[("GOOD", None)])  # fmt: skip
    listener.start()
    try:
        me = Node("self", "STETHOS", "127.0.0.1", port)
        result = send_files(me, [odd, SAMPLES[3]], aet="GOOD")
    except PeerError as exc:  # the only context offered was refused: no association
        assert "rejected" in exc.user_message or "No answer" in exc.user_message
    else:
        assert result.sent == 1 and len(result.failed) == 1
    finally:
        listener.stop()
    assert listener.received <= 1
    assert not any(pydicom.dcmread(f).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.100"
                   for f in (tmp_path / "in").rglob("*.dcm"))  # fmt: skip

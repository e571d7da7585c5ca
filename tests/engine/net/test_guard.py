"""The listener's guards against misbehaving peers (engine.net.guard), in unit tests."""

from __future__ import annotations

import socket
import time

import pydicom
from pydicom.filewriter import write_dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from engine.net import InstanceCache, Listener, Node, echo, entries
from engine.net.guard import cut_short
from engine.resources import resource_path
from tests.engine.net.conftest import free_port


def _encoded(ds: pydicom.Dataset, implicit: bool) -> bytes:
    from pydicom.filebase import DicomBytesIO

    fp = DicomBytesIO()
    fp.is_little_endian, fp.is_implicit_VR = True, implicit
    write_dataset(fp, ds)
    return fp.getvalue()


def test_a_data_set_cut_inside_an_element_is_found() -> None:
    ds = pydicom.dcmread(resource_path("samples", "peds-cxr-normal.dcm"))
    for implicit, syntax in ((False, ExplicitVRLittleEndian), (True, ImplicitVRLittleEndian)):
        whole = _encoded(ds, implicit)
        assert not cut_short(whole, syntax)
        assert cut_short(whole[: len(whole) - 1000], syntax)  # inside Pixel Data
        assert cut_short(whole[:-3], syntax)
    assert cut_short(b"\x08\x00", ExplicitVRLittleEndian)  # half a tag


def test_a_host_no_allowed_caller_has_is_closed_at_once(tmp_path, loopback) -> None:
    port = free_port()
    listener = Listener(InstanceCache(tmp_path / "in"), port=port, host="127.0.0.1",
                        allowed=[("SENDER", "192.0.2.7")])  # fmt: skip
    listener.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            t0 = time.monotonic()
            assert sock.recv(16) == b""  # closed without a word
            assert time.monotonic() - t0 < 3
        assert any(e["action"] == "receive" and e["result"] == "rejected"
                   and "no allowed caller has" in e["detail"] for e in entries())  # fmt: skip
    finally:
        listener.stop()
    # The same caller from an allowed host (here loopback) is served.
    port = free_port()
    listener = Listener(InstanceCache(tmp_path / "in2"), port=port, host="127.0.0.1",
                        allowed=[("SENDER", "localhost")])  # a name, looked up once  # fmt: skip
    listener.start()
    try:
        assert echo(Node("us", "STETHOS", "127.0.0.1", port), aet="SENDER").ok
    finally:
        listener.stop()


def test_a_stalled_partial_pdu_is_dropped_after_the_timeout(
    tmp_path, loopback, monkeypatch
) -> None:
    import engine.net.dimse as dimse

    monkeypatch.setattr(dimse, "TIMEOUT_S", 1.0)
    port = free_port()
    listener = Listener(InstanceCache(tmp_path / "in"), port=port, host="127.0.0.1",
                        allowed=[("SENDER", None)])  # fmt: skip
    listener.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"\x01\x00\xff\xff\xff\xf0" + bytes(100_000))  # claims ~4 GiB
            t0 = time.monotonic()
            while sock.recv(65536):
                pass
            assert time.monotonic() - t0 < 5  # dropped, not held until we hang up
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"\x01\x00\x00")  # half a header, then nothing
            t0 = time.monotonic()
            assert sock.recv(16) == b""
            assert 0.5 < time.monotonic() - t0 < 5
        assert echo(Node("us", "STETHOS", "127.0.0.1", port), aet="SENDER").ok
    finally:
        listener.stop()

"""DICOM over TLS: our listener with a certificate, our client trusting a CA file."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pydicom
import pytest

from engine.net import (
    InstanceCache,
    Listener,
    NetConfigError,
    NetSettings,
    Node,
    echo,
    listener_tls,
    send_files,
)
from engine.resources import resource_path
from tests.engine.net.conftest import free_port

SAMPLE = resource_path("samples", "peds-cxr-normal.dcm")


def make_cert(folder: Path, name: str, *, ca: tuple[Path, Path] | None = None) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (self-signed, or signed by ``ca``) and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    if ca is None:
        cmd = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
               "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
               "-keyout", str(key), "-out", str(cert)]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        return cert, key
    csr = folder / f"{name}.csr"
    ext = folder / f"{name}.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj",
                    f"/CN={name}", "-keyout", str(key), "-out", str(csr)],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey",
                    str(ca[1]), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                    "-out", str(cert)], check=True, capture_output=True)  # fmt: skip
    return cert, key


def test_tls_listener_receives_from_a_trusting_client_only(tmp_path, loopback) -> None:
    cert, key = make_cert(tmp_path, "stethos")
    other, _ = make_cert(tmp_path, "someone-else")
    settings = NetSettings(tls_cert=str(cert), tls_key=str(key))
    port = free_port()
    cache = InstanceCache(tmp_path / "in")
    listener = Listener(cache, port=port, host="127.0.0.1", allowed=[("SENDER", None)],
                        ssl_context=listener_tls(settings))  # fmt: skip
    listener.start()
    try:
        trusting = Node("us", "STETHOS", "127.0.0.1", port, tls_ca=str(cert))
        assert echo(trusting, aet="SENDER").ok
        sent = send_files(trusting, [SAMPLE], aet="SENDER")
        assert sent.sent == 1 and not sent.failed
        uid = str(pydicom.dcmread(SAMPLE, stop_before_pixels=True).StudyInstanceUID)
        (got,) = cache.study_files(uid)
        assert pydicom.dcmread(got).PixelData == pydicom.dcmread(SAMPLE).PixelData

        # A client that does not trust our certificate, and one without TLS: no association.
        t0 = time.monotonic()
        wrong = echo(Node("us", "STETHOS", "127.0.0.1", port, tls_ca=str(other)), aet="SENDER")
        assert not wrong.ok and "No TLS association" in wrong.message
        assert "CA" in wrong.message
        plain = echo(Node("us", "STETHOS", "127.0.0.1", port), aet="SENDER")
        assert not plain.ok
        assert time.monotonic() - t0 < 30
        assert listener.received == 1
        # The listener still serves a good caller afterwards.
        assert echo(trusting, aet="SENDER").ok
    finally:
        listener.stop()


def test_callers_must_show_a_certificate_from_the_peer_ca(tmp_path, loopback) -> None:
    ca_cert, ca_key = make_cert(tmp_path, "clinic-ca")
    cert, key = make_cert(tmp_path, "stethos", ca=(ca_cert, ca_key))
    settings = NetSettings(tls_cert=str(cert), tls_key=str(key), tls_peer_ca=str(ca_cert))
    port = free_port()
    listener = Listener(InstanceCache(tmp_path / "in"), port=port, host="127.0.0.1",
                        allowed=[("SENDER", None)], ssl_context=listener_tls(settings))  # fmt: skip
    listener.start()
    try:
        # Our client shows no certificate: refused by the TLS handshake.
        result = echo(Node("us", "STETHOS", "127.0.0.1", port, tls_ca=str(ca_cert)), aet="SENDER")
        assert not result.ok and "No TLS association" in result.message
    finally:
        listener.stop()


def test_tls_settings_are_checked(tmp_path) -> None:
    cert, key = make_cert(tmp_path, "stethos")
    with pytest.raises(NetConfigError, match="both"):
        NetSettings(tls_cert=str(cert))
    with pytest.raises(NetConfigError, match="does not exist"):
        NetSettings(tls_cert=str(cert), tls_key=str(tmp_path / "missing.key"))
    with pytest.raises(NetConfigError, match="cannot be used"):
        listener_tls(NetSettings(tls_cert=str(cert), tls_key=str(cert)))  # a cert is not a key
    assert listener_tls(NetSettings()) is None
    again = NetSettings(tls_cert=str(cert), tls_key=str(key))
    assert again.to_json()["tls_cert"] == str(cert) and "tls_peer_ca" not in again.to_json()


def test_cli_sets_and_clears_the_listener_certificate(tmp_path, capsys) -> None:
    from engine.cli import main
    from engine.cli.common import EXIT_OK, EXIT_USAGE
    from engine.net import load_settings, save_settings

    cert, key = make_cert(tmp_path, "stethos")
    before = load_settings()
    try:
        bad = ["net", "nodes", "self", "--tls-cert", str(cert), "--tls-key", str(cert)]
        assert main(bad) == EXIT_USAGE
        assert "cannot be used" in capsys.readouterr().err
        assert load_settings().tls_cert == before.tls_cert  # nothing saved
        good = ["net", "nodes", "self", "--tls-cert", str(cert), "--tls-key", str(key)]
        assert main(good) == EXIT_OK
        assert main(["net", "nodes", "list"]) == EXIT_OK
        assert "(TLS)" in capsys.readouterr().out
        assert main(["net", "nodes", "self", "--no-tls"]) == EXIT_OK
        assert load_settings().tls_cert is None
    finally:
        save_settings(before)

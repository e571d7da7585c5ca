"""What the listener does against peers that misbehave on the wire.

pynetdicom (3.0.4, the pinned version) reads a PDU of whatever length its
header claims, up to 4 GiB, from a socket that has no timeout: a peer that
claims a huge PDU, or sends half of one and waits, holds a thread and its
memory for as long as it likes. :func:`guard_connection` bounds both for each
accepted connection: a PDU must arrive whole within the network timeout and
be at most :data:`MAX_PDU_READ` bytes, otherwise the read comes back short and
pynetdicom closes the connection as it does for any broken transport.
:func:`cut_short` finds a dataset whose last fragment came but whose elements
are shorter than their lengths say (such a file would be indexed whole).
"""

from __future__ import annotations

import io
import socket
import time
import zlib
from typing import Any

#: Longest PDU the listener reads (we advertise 16 KiB; senders use at most what we accept).
MAX_PDU_READ = 4 * 1024**2
#: Concurrent connections the listener serves (pynetdicom counts one from its accept).
MAX_ASSOCIATIONS = 64


def guard_connection(event: Any, timeout_s: float) -> None:
    """``EVT_CONN_OPEN`` handler: bound the time and size of every PDU read on the connection.

    Replaces the connection's ``AssociationSocket.recv`` (an instance attribute;
    pynetdicom calls it for the PDU header and body) with a read that gives up
    after ``timeout_s`` and refuses lengths over :data:`MAX_PDU_READ`.
    """
    transport = getattr(getattr(event.assoc, "dul", None), "socket", None)
    raw = getattr(transport, "socket", None)
    if transport is None or raw is None:
        return

    def drop(out: bytearray) -> bytearray:
        """Close the connection and give pynetdicom the short read (its "connection closed")."""
        try:
            raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return out

    def recv(n: int) -> bytearray:
        out = bytearray()
        if n > MAX_PDU_READ:
            return drop(out)
        deadline = time.monotonic() + timeout_s
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return drop(out)
            try:
                raw.settimeout(left)
                chunk = raw.recv(min(n - len(out), 65536))
            except OSError:  # timed out or reset
                return drop(out)
            if not chunk:
                break
            out += chunk
        return out

    transport.recv = recv


def cut_short(data: bytes, transfer_syntax: str) -> bool:
    """Whether a received data set ends inside an element (a value shorter than its length)."""
    from pydicom.filereader import data_element_generator
    from pydicom.uid import UID

    ts = UID(transfer_syntax)
    if ts.is_deflated:
        try:
            data = zlib.decompress(data, -zlib.MAX_WBITS)
        except zlib.error:
            return True
    fp = io.BytesIO(data)
    end = 0
    try:
        for elem in data_element_generator(fp, ts.is_implicit_VR, ts.is_little_endian):
            value, length = elem.value, getattr(elem, "length", None)
            if isinstance(value, bytes) and isinstance(length, int) and length != 0xFFFFFFFF:
                if len(value) < length:
                    return True
            end = fp.tell()
    except (EOFError, ValueError, OSError):
        return True
    return end != len(data)  # bytes after the last whole element: part of a header


def received_instance(event: Any) -> tuple[Any, bytes]:
    """The data set of a C-STORE request (decoded lazily, with its file meta) and the same
    instance as it arrived, in the DICOM file format, for the cache to write byte for byte.

    Raises
    ------
    ValueError
        When the data set is cut short (:func:`cut_short`).
    """
    from pynetdicom.dsutils import encode_file_meta

    raw = event.request.DataSet.getvalue()
    if cut_short(raw, event.context.transfer_syntax):
        raise ValueError("the data set ends inside an element (cut short)")
    meta = event.file_meta  # built once (pynetdicom builds it anew at each access)
    ds = event.dataset
    ds.file_meta = meta
    return ds, b"\x00" * 128 + b"DICM" + encode_file_meta(meta) + raw

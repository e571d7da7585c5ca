"""Read the header of an ordinary DICOM file without building pydicom elements.

A scan of a 300-file series spent most of its time in pydicom creating and
converting data elements it then threw away. :func:`parse_header` walks the
top level of the data set over bytes already read, keeps only the elements a
scan needs (:data:`~engine.dicom.files.SCAN_TAGS`) and converts them lazily,
the way pydicom would, behind the small ``get`` / ``in`` interface that
:func:`~engine.dicom.scan.instance_from_header` uses.

It handles the common case only — a Part 10 file, implicit or explicit VR
little endian (any pixel encoding), a character set of ASCII, Latin-1 or
UTF-8, no scan-relevant sequence at the top level (Modality/VOI LUT,
functional groups, DICOMDIR records). Anything else, and anything odd
(a length past the end of the file, deep nesting, UN elements), returns
``None`` and the caller reads the file with pydicom, which produces the proper
error or value. Results are equal to pydicom's (tests compare them).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword

from engine.dicom.files import SCAN_TAGS, Header

_IMPLICIT = "1.2.840.10008.1.2"
_EXPLICIT = "1.2.840.10008.1.2.1"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_BIG_ENDIAN = "1.2.840.10008.1.2.2"
_NATIVE = (_IMPLICIT, _EXPLICIT)

_LONG_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN", "SQ", "UT", "UC", "UR"})
_VRS = _LONG_VRS | {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL",
    "SS", "ST", "SV", "TM", "UI", "UL", "US", "UV",
}  # fmt: skip
_VR_NAMES = {vr.encode(): vr for vr in _VRS}
_PIXEL_TAGS = (0x7FE00010, 0x7FE00009, 0x7FE00008)
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_CHARSET_TAG = 0x00080005

#: Scan elements that are sequences: a file holding one is read by pydicom.
_SEQUENCES = frozenset(k for k in SCAN_TAGS if k.endswith("Sequence"))
#: tag → (keyword, VR) of the plain elements a scan reads.
_WANTED: dict[int, tuple[str, str]] = {
    int(tag_for_keyword(k)): (k, str(dictionary_VR(k)))  # type: ignore[arg-type]
    for k in (*SCAN_TAGS, "SpecificCharacterSet")
}
_SEQUENCE_TAGS = frozenset(t for t, (k, _) in _WANTED.items() if k in _SEQUENCES)
_META: dict[int, str] = {
    0x00020002: "MediaStorageSOPClassUID",
    0x00020003: "MediaStorageSOPInstanceUID",
    0x00020010: "TransferSyntaxUID",
}
#: Character sets decoded here (pydicom's default for none is Latin-1).
_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1", "ISO_IR 192": "utf-8"}
#: VRs whose value is one text (no backslash-separated multiplicity).
_SINGLE_TEXT = frozenset({"LT", "ST", "UT", "UR"})
_NUMERIC = {"US": ("<H", 2), "SS": ("<h", 2), "UL": ("<I", 4), "SL": ("<i", 4)}
_NUMERIC_F = {"FL": ("<f", 4), "FD": ("<d", 8)}

#: Bytes read first; most headers fit, longer ones are read again whole.
HEAD_BYTES = 16384
#: Deepest nesting walked while skipping sequences.
_MAX_DEPTH = 64


class _Fallback(Exception):
    """Not the common case: read this file with pydicom."""


class RawHeader:
    """The scan elements of one file, converted on first use like pydicom's values.

    Quacks like the part of :class:`pydicom.Dataset` a scan uses: ``get``,
    ``in`` and ``file_meta``.
    """

    __slots__ = ("_encoding", "_raw", "file_meta")

    def __init__(
        self,
        raw: dict[str, tuple[str, bytes, str]],
        meta: dict[str, str],
        encoding: str,
    ) -> None:
        self._raw = raw
        self._encoding = encoding
        self.file_meta = _Meta(meta)

    def __contains__(self, keyword: object) -> bool:
        return keyword in self._raw

    def __len__(self) -> int:
        return len(self._raw)

    def same_except(self, other: RawHeader, keywords: frozenset[str]) -> bool:
        """Whether both hold the same elements, with equal values outside ``keywords``."""
        mine, theirs = self._raw, other._raw
        if mine.keys() != theirs.keys() or self.file_meta.get(
            "TransferSyntaxUID"
        ) != other.file_meta.get("TransferSyntaxUID"):
            return False
        return all(v == theirs[k] for k, v in mine.items() if k not in keywords)

    def get(self, keyword: str, default: Any = None) -> Any:
        key = self._raw.get(keyword)  # (VR, bytes, encoding)
        if key is None:
            return default
        try:
            return _CONVERTED[key]
        except KeyError:
            if len(_CONVERTED) > 8192:
                _CONVERTED.clear()
            value = _CONVERTED[key] = _convert(*key)
            return value


#: Converted values by (VR, bytes, encoding): the files of a series repeat most of them.
#: Values are immutable (several values are a tuple), so they can be shared.
_CONVERTED: dict[tuple[str, bytes, str], Any] = {}


class _Meta(dict):
    """File meta values (``get`` like a data set)."""


def _convert(vr: str, data: bytes, encoding: str) -> Any:
    if vr in _NUMERIC or vr in _NUMERIC_F:
        fmt, size = _NUMERIC.get(vr) or _NUMERIC_F[vr]
        n = len(data) // size
        if n == 0:
            return None
        values = struct.unpack(f"<{n}{fmt[1]}", data[: n * size])
        return values[0] if n == 1 else values
    text = data.decode(encoding if vr in ("PN", "LO", "SH", "LT", "ST", "UT", "UC") else "latin-1")
    if vr in _SINGLE_TEXT:
        return text.rstrip(" \0")
    parts = text.rstrip(" \0").split("\\") if vr != "UI" else text.rstrip("\0 ").split("\\")
    if vr in ("DS", "IS"):
        parts = [p.strip() for p in parts]
    elif vr == "PN":  # pydicom drops empty trailing component groups
        parts = [p.rstrip(" \0").rstrip("=") for p in parts]
    else:
        parts = [p.rstrip(" \0") for p in parts]
    if len(parts) == 1:
        return parts[0]
    return tuple(parts)


def _skip_undefined(buf: bytes, pos: int, implicit: bool, end: int) -> int:
    """Position just past the sequence (or encapsulated value) whose value starts at ``pos``."""
    depth = 1
    while depth:
        if pos + 8 > end:
            raise _Fallback
        group, element, length = _IMPLICIT_HEAD.unpack_from(buf, pos)
        tag = group << 16 | element
        if tag in (_ITEM, _ITEM_END, _SEQ_END):
            pos += 8
            if tag == _SEQ_END:
                depth -= 1
            elif tag == _ITEM and length != 0xFFFFFFFF:
                pos += length
            continue
        pos, length, vr = _element_head(buf, pos, implicit, end)
        if length == 0xFFFFFFFF:
            if vr == "UN":
                raise _Fallback  # its content is implicit VR (PS3.5 6.2.2)
            depth += 1
            if depth > _MAX_DEPTH:
                raise _Fallback
        else:
            pos += length
    return pos


_EXPLICIT_HEAD = struct.Struct("<HH2sH")
_IMPLICIT_HEAD = struct.Struct("<HHI")
_U32 = struct.Struct("<I")


def _element_head(buf: bytes, pos: int, implicit: bool, end: int) -> tuple[int, int, str]:
    """``(value position, length, VR or '')`` of the element starting at ``pos``."""
    if pos + 8 > end:
        raise _Fallback
    if implicit:
        return pos + 8, _IMPLICIT_HEAD.unpack_from(buf, pos)[2], ""
    _, _, code, length = _EXPLICIT_HEAD.unpack_from(buf, pos)
    vr = _VR_NAMES.get(code)
    if vr is None:
        raise _Fallback  # not explicit VR after all (pydicom copes with such files)
    if vr in _LONG_VRS:
        if pos + 12 > end:
            raise _Fallback
        return pos + 12, _U32.unpack_from(buf, pos + 8)[0], vr
    return pos + 8, length, vr


def _parse(buf: bytes, size: int) -> Header:
    """Parse a whole header held in ``buf`` (the file's first ``len(buf)`` bytes)."""
    end = len(buf)
    if end < 144 or buf[128:132] != b"DICM":
        raise _Fallback
    # file meta: explicit VR little endian, group 0002
    pos = 132
    meta: dict[str, str] = {}
    while pos + 8 <= end and buf[pos : pos + 2] == b"\x02\x00":
        element = int.from_bytes(buf[pos + 2 : pos + 4], "little")
        value, length, vr = _element_head(buf, pos, False, end)
        if length == 0xFFFFFFFF or value + length > end:
            raise _Fallback
        keyword = _META.get(0x00020000 | element)
        if keyword:
            meta[keyword] = buf[value : value + length].decode("latin-1").rstrip("\0 ")
        pos = value + length
    syntax = meta.get("TransferSyntaxUID", "")
    if not syntax or syntax in (_DEFLATED, _BIG_ENDIAN):
        raise _Fallback
    implicit = syntax == _IMPLICIT
    raw: dict[str, tuple[str, bytes]] = {}
    offset = None
    while True:
        if pos + 8 > end:
            if end >= size:
                break  # the file ends: no pixel data
            raise _Fallback  # the header goes on past what was read
        group, element = _IMPLICIT_HEAD.unpack_from(buf, pos)[:2]
        tag = group << 16 | element
        if tag in _PIXEL_TAGS:
            offset = pos
            break
        value, length, vr = _element_head(buf, pos, implicit, end)
        wanted = _WANTED.get(tag)
        if tag in _SEQUENCE_TAGS:
            raise _Fallback
        if length == 0xFFFFFFFF:
            if vr == "UN":
                raise _Fallback
            pos = _skip_undefined(buf, value, implicit, end)
            continue
        if value + length > end:
            if value + length > size:
                raise _Fallback  # an element past the end of the file: pydicom says why
            if wanted:
                raise _Fallback
        if wanted:
            keyword, dict_vr = wanted
            if (vr or dict_vr) != dict_vr or " " in dict_vr:
                raise _Fallback  # UN, ambiguous or unexpected VR: pydicom decides
            raw[keyword] = (dict_vr, buf[value : value + length])
        pos = value + length
    charset = raw.pop("SpecificCharacterSet", ("CS", b""))[1].decode("latin-1").strip(" \0")
    encoding = _CHARSETS.get(charset)
    if encoding is None or not raw:
        raise _Fallback
    ds = RawHeader({k: (vr, data, encoding) for k, (vr, data) in raw.items()}, meta, encoding)
    if offset is None:
        return Header(ds, False, None)  # type: ignore[arg-type]
    has_pixels = offset + 8 <= size
    if syntax not in _NATIVE or not has_pixels:
        return Header(ds, has_pixels, None)  # type: ignore[arg-type]
    if offset + 12 > end:
        raise _Fallback
    start, length, _ = _element_head(buf, offset, implicit, end)
    truncated = length != 0xFFFFFFFF and start + length > size
    return Header(ds, True, offset, truncated)  # type: ignore[arg-type]


def parse_header(head: bytes, size: int) -> Header | None:
    """The scan header of a file from its first bytes, or ``None`` when pydicom must read it.

    Parameters
    ----------
    head
        The file's first bytes (all of them up to the pixel data, or more).
    size
        The file's size in bytes.
    """
    try:
        return _parse(head, size)
    except (_Fallback, UnicodeDecodeError, ValueError, IndexError):
        return None


def read_scan_header(path: Path) -> Header:
    """A file's scan header: parsed here in the common case, else by pydicom.

    Raises
    ------
    NotDicomError, CorruptDicomError
        As :func:`~engine.dicom.files.read_header`.
    """
    from engine.dicom.files import read_header

    try:
        with open(path, "rb", buffering=0) as fp:
            head = fp.read(HEAD_BYTES)
            size = _size_of(fp, len(head))
            header = parse_header(head, size)
            if header is None and size > len(head) and size <= (1 << 22):
                header = parse_header(head + fp.read(), size)
    except OSError:
        header = None
    return header if header is not None else read_header(path, tags=SCAN_TAGS)


def _size_of(fp: Any, got: int) -> int:
    return got if got < HEAD_BYTES else os.fstat(fp.fileno()).st_size

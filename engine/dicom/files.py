"""Opening DICOM files: typed errors, header values and the pixel-size guard.

Every way a file can fail to open ends here as a
:class:`~engine.errors.NotDicomError`, :class:`~engine.errors.CorruptDicomError`
or :class:`~engine.errors.UnsupportedDicomError` whose user message names the
file and the reason.
"""

from __future__ import annotations

import io
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from engine.dicom.plugin_order import configure_decoders
from engine.dicom.values import first_item as first_item  # header values, re-exported
from engine.dicom.values import floats as floats
from engine.dicom.values import integer as integer
from engine.dicom.values import is_multi as is_multi
from engine.dicom.values import number as number
from engine.dicom.values import text as text
from engine.errors import CorruptDicomError, DicomError, NotDicomError, UnsupportedDicomError
from engine.filetypes import has_dicom_preamble

#: Refuse images whose decoded pixels would need more than this many bytes.
#: Checked from the header, before anything is allocated.
MAX_PIXEL_BYTES = 2 * 1024**3

#: Refuse deflated data sets that would inflate to more than this many bytes
#: (measured by streaming through the data, before pydicom inflates it in memory).
MAX_INFLATED_BYTES = 1024**3

#: Transfer syntaxes whose pixels lie uncompressed, little endian, in the file.
NATIVE_LITTLE_ENDIAN = (ImplicitVRLittleEndian, ExplicitVRLittleEndian)

#: Transfer syntaxes without pixel compression.
UNCOMPRESSED = (*NATIVE_LITTLE_ENDIAN, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian)

#: Groups a DICOM data set without preamble may start with (file meta, identifying,
#: patient): ACR-NEMA files and bare data sets begin like this.
_BARE_START_GROUPS = (0x0002, 0x0008)


def quoted(path: Path | str) -> str:
    """The file name as shown in messages: “name.dcm”."""
    p = Path(path)
    return f"“{p.name or p}”"


def _looks_like_bare_dataset(path: Path) -> bool:
    """Whether a file without the 'DICM' preamble starts like a DICOM data set."""
    try:
        with path.open("rb") as fp:
            head = fp.read(8)
    except OSError:
        return False
    return _starts_like_dataset(head)


def _starts_like_dataset(head: bytes) -> bool:
    if len(head) < 8:
        return False
    for order in ("little", "big"):
        group = int.from_bytes(head[0:2], order)  # type: ignore[arg-type]
        element = int.from_bytes(head[2:4], order)  # type: ignore[arg-type]
        if group in _BARE_START_GROUPS and element < 0x0100:
            return True
    return False


def _ensure_transfer_syntax(ds: Dataset) -> None:
    """Give bare data sets (no file meta) the transfer syntax they were read with."""
    meta = ds.file_meta if hasattr(ds, "file_meta") else None
    try:
        if meta is not None and meta.get("TransferSyntaxUID"):
            return
    except Exception:  # a malformed element: replaced below (fuzzing)
        pass
    implicit, little = ds.original_encoding
    if implicit is None:
        implicit, little = True, True
    if not little:
        uid = ExplicitVRBigEndian
    else:
        uid = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    from pydicom.dataset import FileMetaDataset

    if meta is None:
        ds.file_meta = FileMetaDataset()
    if 0x00020010 in ds.file_meta:  # empty or malformed (e.g. with a numeric VR)
        del ds.file_meta[0x00020010]
    ds.file_meta.TransferSyntaxUID = uid


def check_inflated_size(fp: BinaryIO, path: Path, *, max_bytes: int | None = None) -> None:
    """Refuse a Deflated Explicit VR Little Endian file that inflates past a bound (a bomb).

    pydicom inflates the whole data set in memory before reading it; this
    streams through it first, counting bytes without keeping them. Other
    files cost a read of their file meta group. ``fp`` is left at offset 0.

    Raises
    ------
    UnsupportedDicomError
        When the data set inflates to more than ``max_bytes`` (default
        :data:`MAX_INFLATED_BYTES`).
    """
    limit = MAX_INFLATED_BYTES if max_bytes is None else max_bytes
    try:
        fp.seek(128)
        if fp.read(4) != b"DICM":
            return
        deflated = False
        while len(tag := fp.read(8)) == 8 and int.from_bytes(tag[0:2], "little") == 0x0002:
            if tag[4:6] in _LONG_VRS:
                length = int.from_bytes(fp.read(4), "little")
            else:
                length = int.from_bytes(tag[6:8], "little")
            if int.from_bytes(tag[2:4], "little") == 0x0010:
                uid = fp.read(min(length, 64)).rstrip(b"\0 ").decode("ascii", "replace")
                deflated = uid == DeflatedExplicitVRLittleEndian
                fp.seek(max(length - 64, 0), os.SEEK_CUR)
            else:
                fp.seek(length, os.SEEK_CUR)
        if not deflated:
            return
        fp.seek(-len(tag), os.SEEK_CUR)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        while (chunk := fp.read(1 << 16)) and not inflater.eof:
            while chunk and total <= limit:
                total += len(inflater.decompress(chunk, 1 << 20))
                chunk = inflater.unconsumed_tail
            if total > limit:
                raise UnsupportedDicomError(
                    f"{quoted(path)} is deflated and would unpack to more than "
                    f"{limit / 1024**3:.1f} GiB, more than Stethos opens safely. The file may be "
                    "damaged or malicious.",
                    f"inflated past {limit} bytes",
                )
    except (OSError, zlib.error, ValueError):
        pass  # the reader reports a damaged file itself
    finally:
        fp.seek(0)


def _require_regular_file(path: Path) -> None:
    """Refuse pipes, devices and sockets before opening them (opening a pipe waits forever)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # opening reports it
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise NotDicomError(
            f"{quoted(path)} is not a file but a device, pipe or socket; it was not opened.",
            f"st_mode {mode:o}",
        )


#: Reads larger than this are cut at the end of the file (see :func:`open_capped`).
_LARGE_READ = 1 << 20


class _CappedReader(io.BufferedReader):
    """A file whose large reads stop at its end instead of allocating what a header claims.

    pydicom reads a value with ``fp.read(length)`` and Python allocates
    ``length`` bytes before reading: a 10 KB file declaring a 4 GiB element
    made the reader ask for 4 GiB (found by fuzzing).
    """

    #: A read was cut: some element declares more data than the file holds.
    overrun = False

    def read(self, size: int | None = -1, /) -> bytes:
        if size is not None and size > _LARGE_READ:
            left = max(os.fstat(self.fileno()).st_size - self.tell(), 0)
            if size > left:
                self.overrun, size = True, left
        return super().read(size)


def _check_overrun(fp: BinaryIO, path: Path) -> None:
    if getattr(fp, "overrun", False):
        raise CorruptDicomError(
            f"{quoted(path)} is damaged or truncated: an element declares more data than the "
            "file holds.",
            "element length past the end of the file",
        )


def open_capped(path: Path) -> BinaryIO:
    """Open ``path`` for pydicom with reads bounded by the file's size.

    Pipes, devices and sockets are refused first (:class:`NotDicomError`).
    """
    _require_regular_file(path)
    return _CappedReader(io.FileIO(path, "rb"))


def access_error(path: Path, exc: BaseException) -> NotDicomError | None:
    """The message for a file that could not be opened at all (missing, a folder, no
    permission), whatever its format; ``None`` for any other error."""
    name = quoted(path)
    if isinstance(exc, FileNotFoundError):
        return NotDicomError(f"{name} does not exist.", str(exc))
    if isinstance(exc, IsADirectoryError):
        return NotDicomError(f"{name} is a folder, not a file.", str(exc))
    if isinstance(exc, PermissionError):
        return NotDicomError(
            f"{name} cannot be opened: permission denied. Check the file's access rights.",
            str(exc),
        )
    return None


def _open_error(path: Path, exc: BaseException) -> DicomError:
    name = quoted(path)
    denied = access_error(path, exc)
    if denied is not None:
        return denied
    if isinstance(exc, InvalidDicomError):
        return NotDicomError(
            f"{name} is not a DICOM file. Choose a .dcm file, a folder or a DICOMDIR.",
            str(exc),
        )
    return CorruptDicomError(
        f"{name} is damaged or truncated and cannot be read.", f"{type(exc).__name__}: {exc}"
    )


def read_dataset(path: str | os.PathLike[str], *, headers_only: bool = False) -> Dataset:
    """Read a DICOM file (or a bare data set without preamble).

    Parameters
    ----------
    path
        The file.
    headers_only
        Stop before the pixel data (fast; for scanning).

    Returns
    -------
    pydicom.Dataset
        With ``file_meta.TransferSyntaxUID`` always set.

    Raises
    ------
    NotDicomError, CorruptDicomError
        With a user message naming the file and the reason.
    """
    if headers_only:
        return read_header(path).ds
    return _read(Path(path))


@dataclass(frozen=True, eq=False)
class Header:
    """A file's header, read without its pixel data.

    Attributes
    ----------
    ds
        The data set up to (not including) the pixel data.
    has_pixel_data
        Whether a top-level Pixel Data (or Float / Double Float Pixel Data)
        element follows.
    pixel_offset
        Byte offset of that element in the file when its pixels lie there
        uncompressed and little endian, else ``None``; lets a series load read
        pixels straight into their final place.
    truncated
        The file ends before the end of its (uncompressed) pixel data.
    """

    ds: Dataset
    has_pixel_data: bool
    pixel_offset: int | None
    truncated: bool = False


#: The header elements a scan needs (pydicom converts only these: several times faster).
SCAN_TAGS: tuple[str, ...] = (
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "Modality",
    "ImageType",
    "PatientID",
    "PatientName",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "BodyPartExamined",
    "AcquisitionNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "EstimatedRadiographicMagnificationFactor",
    "SliceThickness",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PlanarConfiguration",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "ModalityLUTSequence",
    "WindowCenter",
    "WindowWidth",
    "WindowCenterWidthExplanation",
    "VOILUTFunction",
    "VOILUTSequence",
    "PresentationLUTShape",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "DirectoryRecordSequence",
)


def read_header(path: str | os.PathLike[str], *, tags: tuple[str, ...] | None = None) -> Header:
    """Read a file's header only (``stop_before_pixels``), fast enough for scanning.

    Parameters
    ----------
    path
        The file.
    tags
        Read only these elements (keywords), e.g. :data:`SCAN_TAGS`; all when ``None``.

    Raises
    ------
    NotDicomError, CorruptDicomError
        With a user message naming the file and the reason.
    """
    p = Path(path)
    try:
        with open_capped(p) as fp:
            size = os.fstat(fp.fileno()).st_size
            check_inflated_size(fp, p)
            head = fp.read(132)
            force = head[128:132] != b"DICM" and _starts_like_dataset(head)
            fp.seek(0)
            ds = dcmread(
                fp,
                stop_before_pixels=True,
                force=force,
                specific_tags=list(tags) if tags is not None else None,
            )
            _check_overrun(fp, p)
            offset = fp.tell()
            element = fp.read(12)
    except DicomError:
        raise
    except Exception as exc:  # pydicom raises many types on malformed input
        raise _open_error(p, exc) from exc
    _ensure_transfer_syntax(ds)
    _check_not_empty(ds, p)
    ts = transfer_syntax(ds)
    if ts == DeflatedExplicitVRLittleEndian:
        # the stream was inflated in memory: the file position says nothing
        return Header(ds, "Rows" in ds, None)
    has_pixels = offset + 8 <= size
    native = ts in NATIVE_LITTLE_ENDIAN and has_pixels
    truncated = native and _pixel_value_end(element, offset, ts) > size
    return Header(ds, has_pixels, offset if native else None, truncated)


_LONG_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN", b"SQ", b"UT", b"UC", b"UR")


def _pixel_value_end(head: bytes, offset: int, ts: str) -> int:
    """Where the native pixel data element whose first bytes are ``head`` ends (0: unknown)."""
    if len(head) < 8:
        return 0
    if ts == ImplicitVRLittleEndian:
        length, start = int.from_bytes(head[4:8], "little"), 8
    elif head[4:6] in _LONG_VRS and len(head) == 12:
        length, start = int.from_bytes(head[8:12], "little"), 12
    else:
        length, start = int.from_bytes(head[6:8], "little"), 8
    return 0 if length == 0xFFFFFFFF else offset + start + length


def _read(path: Path) -> Dataset:
    _require_regular_file(path)
    try:
        force = not has_dicom_preamble(path) and _looks_like_bare_dataset(path)
        with open_capped(path) as fp:
            check_inflated_size(fp, path)
            ds = dcmread(fp, force=force)
            _check_overrun(fp, path)
    except DicomError:
        raise
    except Exception as exc:  # pydicom raises many types on malformed input
        raise _open_error(path, exc) from exc
    _ensure_transfer_syntax(ds)
    _check_not_empty(ds, path)
    return ds


def _check_not_empty(ds: Dataset, path: Path) -> None:
    """A file whose data set could not be parsed at all is damaged, not empty."""
    if len(ds) == 0:
        raise CorruptDicomError(
            f"{quoted(path)} is damaged: nothing after its file header could be read.",
            "empty data set",
        )


#: Deepest nesting of sequences a data set may have to be processed as a whole
#: (real structured reports nest a few dozen levels; hostile files thousands).
MAX_SEQUENCE_DEPTH = 64


def check_nesting(ds: Dataset, path: Path | str, *, max_depth: int = MAX_SEQUENCE_DEPTH) -> None:
    """Refuse a data set whose sequences nest deeper than ``max_depth`` (walked without recursion).

    Raises
    ------
    UnsupportedDicomError
        Naming the file, before recursive code (writing, copying) meets the nesting.
    """
    stack = [(ds, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise UnsupportedDicomError(
                f"{quoted(path)} nests its data more than {max_depth} levels deep, which no "
                "genuine DICOM file needs; it was not processed.",
                f"sequence depth > {max_depth}",
            )
        for elem in item:
            if elem.VR == "SQ":
                stack.extend((child, depth + 1) for child in elem.value or ())


def is_dicomdir(ds: Dataset) -> bool:
    """Whether the data set is a DICOMDIR (Media Storage Directory)."""
    meta = getattr(ds, "file_meta", None)
    return text(meta, "MediaStorageSOPClassUID") == "1.2.840.10008.1.3.10" or (
        "DirectoryRecordSequence" in ds
    )


def is_image_storage(ds: Dataset) -> bool:
    """Whether the SOP Class is an image storage class (so pixel data is expected)."""
    meta = getattr(ds, "file_meta", None)
    sop = text(ds, "SOPClassUID") or text(meta, "MediaStorageSOPClassUID")
    return "Image Storage" in UID(sop).name if sop else False


def transfer_syntax(ds: Dataset) -> UID:
    """The data set's transfer syntax UID."""
    return UID(str(ds.file_meta.get("TransferSyntaxUID", ImplicitVRLittleEndian)))


def syntax_name(uid: str) -> str:
    """A readable name for a transfer syntax UID ("JPEG 2000 (lossless)", ...)."""
    u = UID(uid)
    if u == DeflatedExplicitVRLittleEndian:
        return "Deflated Explicit VR Little Endian"
    name = u.name
    return name if name and name != str(u) else f"unknown transfer syntax {u}"


def check_pixel_budget(
    path: Path | str,
    n_pixels: int,
    bytes_per_pixel: int,
    *,
    max_bytes: int | None = None,
    what: str = "image",
) -> None:
    """Refuse, before allocating, pixel arrays larger than ``max_bytes``.

    Raises
    ------
    UnsupportedDicomError
        When ``n_pixels * bytes_per_pixel`` exceeds the bound.
    """
    limit = MAX_PIXEL_BYTES if max_bytes is None else max_bytes
    need = int(n_pixels) * int(bytes_per_pixel)
    if need > limit:
        raise UnsupportedDicomError(
            f"{quoted(path)} describes an {what} of {need / 1024**3:.1f} GiB, more than the "
            f"{limit / 1024**3:.1f} GiB Stethos opens safely. The file may be damaged; "
            "if it is genuine, open it on a workstation with more memory.",
            f"{n_pixels} pixels × {bytes_per_pixel} bytes > {limit} bytes",
        )


# Fix the decoding plugins (and drop GDCM) as soon as pydicom is loaded, before anything
# can call pydicom's ``pixel_array`` with its own choice.
configure_decoders()

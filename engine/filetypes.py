"""What a file is: the one place that decides, used by every entry point.

The viewer, the command line (``predict``, ``evaluate``), the model input
loaders and the workflow layer all ask :func:`sniff` instead of looking at
suffixes or magic numbers themselves, so that they can never disagree.

The order of the checks matters. PS3.10 lets a DICOM file put anything in
its 128-byte preamble, and "dual-personality" files put a TIFF header there
(the NEMA WG04 test set, pydicom's ``MR2_UNCR.dcm``): a file with ``DICM`` at
offset 128 is DICOM, whatever its first bytes say, and must go through the
DICOM reader and its modality gates, never through a picture reader.
"""

from __future__ import annotations

import enum
from pathlib import Path

#: Suffixes of plain pictures (no DICOM metadata) that image models accept.
PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"})
#: Suffixes of DICOM files that carry no preamble check (bare data sets, CDs).
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
#: Suffixes of WFDB records (header, signal, annotation files).
WFDB_SUFFIXES = frozenset({".hea", ".dat", ".atr", ".mat"})

_PICTURE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM")


class FileKind(enum.Enum):
    """What :func:`sniff` found a file to be."""

    DICOM = "dicom"
    PICTURE = "picture"
    WFDB = "wfdb"
    UNKNOWN = "unknown"


def _head(path: Path, n: int = 132) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError:
        return b""


def has_dicom_preamble(path: str | Path) -> bool:
    """Whether ``path`` has the ``DICM`` prefix at offset 128 (a PS3.10 file).

    ``False`` for a file that cannot be read (the reader then says why).
    """
    return _head(Path(path))[128:132] == b"DICM"


def sniff(path: str | Path) -> FileKind:
    """What kind of file ``path`` is, by its content first and its suffix second.

    ``DICM`` at offset 128 wins over everything (a TIFF or any other
    preamble does not make a DICOM file a picture). Then picture signatures
    (PNG, JPEG, TIFF, BMP), then suffixes. A file without the preamble and
    without a known signature is :attr:`FileKind.DICOM` when its suffix says
    so (bare data sets), else :attr:`FileKind.UNKNOWN` — the DICOM reader,
    which also recognises bare data sets by their first tags, decides then.
    """
    p = Path(path)
    head = _head(p)
    if head[128:132] == b"DICM":
        return FileKind.DICOM
    suffix = p.suffix.lower()
    if suffix in WFDB_SUFFIXES:
        return FileKind.WFDB
    if head.startswith(_PICTURE_MAGIC):
        return FileKind.PICTURE
    if suffix in DICOM_SUFFIXES:
        return FileKind.DICOM
    if suffix in PICTURE_SUFFIXES:
        return FileKind.PICTURE
    return FileKind.UNKNOWN


def is_picture_file(path: str | Path) -> bool:
    """Whether ``path`` is a plain picture (PNG/JPEG/TIFF/BMP), not a DICOM file."""
    return sniff(path) is FileKind.PICTURE


def is_dicom_file(path: str | Path) -> bool:
    """Whether ``path`` is (or says by its suffix it is) a DICOM file."""
    return sniff(path) is FileKind.DICOM

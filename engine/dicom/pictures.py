"""Picture files (PNG, JPEG) opened beside DICOM studies, as secondary images.

A radiograph exported as a PNG or JPEG carries no DICOM header: no patient,
modality, body part, age or pixel spacing. Stethos shows it as its own
series under a "no DICOM header" entry, says so in the series description,
and measures in pixels. Only picture files named explicitly (opened, dropped,
given on the command line) are taken: a folder is searched for DICOM files
alone, since CDs often carry JPEG previews and viewer artwork.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from engine.errors import NotDicomError

#: File suffixes opened as pictures.
PICTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
#: Secondary Capture Image Storage: what a picture stands for.
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
#: The patient entry, study and series description pictures are shown under.
NO_HEADER_PATIENT = "(no DICOM header)"
NO_HEADER_NOTE = "no DICOM header: modality and age unknown"


def is_picture(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a PNG or JPEG file (by its suffix)."""
    return Path(path).suffix.lower() in PICTURE_SUFFIXES


def picture_uid(path: Path, kind: str) -> str:
    """A stable made-up identifier of a picture (or its folder), never a DICOM UID."""
    return f"picture-{kind}:{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]}"


def read_pixels(path: Path) -> np.ndarray:
    """``(rows, cols)`` float32 grey values, or ``(rows, cols, 3)`` uint8 RGB for colour."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return np.asarray(im, dtype=np.float32)
            if im.mode == "RGB":
                rgb = np.asarray(im)
                if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(
                    rgb[..., 1], rgb[..., 2]
                ):
                    return rgb[..., 0].astype(np.float32)  # a grey picture stored as RGB
                return rgb
            if im.mode == "L":
                return np.asarray(im, dtype=np.float32)
            if im.mode in ("LA", "P", "PA", "1"):
                return np.asarray(im.convert("L"), dtype=np.float32)
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotDicomError(
            f"“{path.name}” is not a picture Stethos can read (PNG or JPEG).", repr(exc)
        ) from exc


def picture_size(path: Path) -> tuple[int, int, int]:
    """``(rows, cols, samples per pixel)`` from the picture's header alone."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            cols, rows = im.size
            return rows, cols, 3 if im.mode in ("RGB", "RGBA", "CMYK", "YCbCr") else 1
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotDicomError(
            f"“{path.name}” is not a picture Stethos can read (PNG or JPEG).", repr(exc)
        ) from exc


def picture_grouping(path: Path) -> dict[str, str]:
    """The patient/study/series entry a picture is listed under (no DICOM values)."""
    return {
        "PatientID": "",
        "PatientName": NO_HEADER_PATIENT,
        "PatientBirthDate": "",
        "PatientSex": "",
        "StudyInstanceUID": picture_uid(path.parent, "folder"),
        "StudyDate": "",
        "StudyTime": "",
        "StudyDescription": f"Pictures in {path.parent.name or path.parent}",
        "AccessionNumber": "",
        "SeriesInstanceUID": picture_uid(path, "series"),
        "SeriesNumber": "",
        "SeriesDescription": f"{path.name} — {NO_HEADER_NOTE}",
        "Modality": "",
        "BodyPartExamined": "",
    }

"""Read a DICOM image into modality values and render it to 8 bits.

The pipeline follows DICOM PS3.3 C.11: stored values → Modality LUT
(rescale slope/intercept) → VOI LUT (window) → Presentation (MONOCHROME1
inverted). Modality values (e.g. HU) are kept as float32 for measurement and
models; rendering to 8 bits is a separate, cheap step.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import CorruptDicomError, NotDicomError, UnsupportedDicomError

#: Refuse images whose decoded pixels would exceed this many bytes.
MAX_PIXEL_BYTES = 4 * 1024**3


@dataclass(frozen=True)
class Window:
    """A VOI window: centre and width in modality units."""

    center: float
    width: float
    explanation: str = ""
    function: str = "LINEAR"


@dataclass(frozen=True, eq=False)
class DicomImage:
    """One DICOM image object, decoded.

    Attributes
    ----------
    frames
        ``(n_frames, rows, cols)`` float32 modality values for grayscale
        images, ``(n_frames, rows, cols, 3)`` uint8 for colour images.
    windows
        The file's own VOI windows (may be empty).
    """

    path: Path
    frames: np.ndarray
    photometric: str
    windows: tuple[Window, ...]
    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    study_description: str = ""
    series_description: str = ""
    study_date: str = ""
    body_part: str = ""
    view_position: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    units: str = ""
    pixel_spacing: tuple[float, float] | None = None
    spacing_source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_color(self) -> bool:
        """Whether pixels are RGB."""
        return self.frames.ndim == 4

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.frames.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of one frame."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    @property
    def monochrome1(self) -> bool:
        """Whether low values are to be shown bright (MONOCHROME1)."""
        return self.photometric == "MONOCHROME1"

    def default_window(self, frame: int = 0) -> Window:
        """The file's first window, else one covering the frame's full range."""
        if self.windows:
            return self.windows[0]
        return full_range_window(self.frames[frame])


def full_range_window(values: np.ndarray) -> Window:
    """A linear window that maps the min..max of ``values`` to 0..255."""
    lo = float(np.min(values))
    hi = float(np.max(values))
    width = max(hi - lo, 1.0)
    return Window(center=lo + width / 2.0, width=width, explanation="full range")


def apply_window(
    values: np.ndarray,
    center: float,
    width: float,
    *,
    function: str = "LINEAR",
    invert: bool = False,
) -> np.ndarray:
    """Map modality values to 8-bit display values with a VOI window.

    Implements PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT, SIGMOID) with an
    output range of 0..255.
    """
    x = values.astype(np.float32, copy=False)
    function = (function or "LINEAR").upper()
    if function == "SIGMOID":
        w = max(width, 1e-6)
        out = 255.0 / (1.0 + np.exp(-4.0 * (x - center) / w))
    elif function == "LINEAR_EXACT":
        w = max(width, 1e-6)
        out = ((x - center) / w + 0.5) * 255.0
    else:
        w = max(width, 1.0)
        out = ((x - (center - 0.5)) / (w - 1.0) + 0.5) * 255.0
    out = np.clip(out, 0.0, 255.0)
    if invert:
        out = 255.0 - out
    return np.rint(out).astype(np.uint8)


def render_8bit(image: DicomImage, frame: int = 0, window: Window | None = None) -> np.ndarray:
    """Render one frame as it is shown: 8-bit grayscale ``(H, W)`` or RGB ``(H, W, 3)``."""
    pixels = image.frames[frame]
    if image.is_color:
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    win = window or image.default_window(frame)
    return apply_window(
        pixels, win.center, win.width, function=win.function, invert=image.monochrome1
    )


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword, "")
    return "" if value is None else str(value).strip()


def _floats(value) -> list[float]:
    if value is None or value == "":
        return []
    try:
        return [float(v) for v in value] if _is_multi(value) else [float(value)]
    except (TypeError, ValueError):
        return []


def _is_multi(value) -> bool:
    return hasattr(value, "__iter__") and not isinstance(value, str | bytes)


def _windows(ds) -> tuple[Window, ...]:
    centers = _floats(ds.get("WindowCenter"))
    widths = _floats(ds.get("WindowWidth"))
    if not centers or not widths:
        return ()
    explanations = ds.get("WindowCenterWidthExplanation", "")
    if not _is_multi(explanations):
        explanations = [explanations]
    function = _text(ds, "VOILUTFunction") or "LINEAR"
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        if w <= 0:
            continue
        text = str(explanations[i]) if i < len(explanations) else ""
        out.append(Window(center=c, width=w, explanation=text, function=function))
    return tuple(out)


def _spacing(ds) -> tuple[tuple[float, float] | None, str | None]:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        values = _floats(ds.get(keyword))
        if len(values) == 2 and all(v > 0 for v in values):
            return (values[0], values[1]), keyword
    return None, None


def read_image(path: str | os.PathLike[str]) -> DicomImage:
    """Read and decode a DICOM image file.

    Parameters
    ----------
    path
        A DICOM Part 10 file (or a bare dataset with a transfer syntax that
        can be inferred).

    Returns
    -------
    DicomImage
        Frames as modality values (grayscale) or RGB bytes (colour).

    Raises
    ------
    NotDicomError, CorruptDicomError, UnsupportedDicomError
        With a user message naming the file and the reason.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    name = p.name
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(p)
    except InvalidDicomError as exc:
        raise NotDicomError(
            f"“{name}” is not a DICOM file. Choose a .dcm file, a folder or a DICOMDIR.",
            str(exc),
        ) from exc
    except FileNotFoundError as exc:
        raise NotDicomError(f"“{name}” does not exist or cannot be opened.", str(exc)) from exc
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CorruptDicomError(
            f"“{name}” is damaged or truncated and cannot be read.", repr(exc)
        ) from exc

    truncated = [w for w in caught if "End of file reached" in str(w.message)]
    if truncated:
        raise CorruptDicomError(
            f"“{name}” is truncated (the file ends before its data does) and cannot be shown.",
            str(truncated[0].message),
        )
    if "PixelData" not in ds and "FloatPixelData" not in ds:
        raise UnsupportedDicomError(
            f"“{name}” holds no image (it may be a report, a waveform or a structured document).",
            f"SOP Class {_text(ds, 'SOPClassUID')}",
        )
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.get("BitsAllocated", 8) or 8)
    if rows <= 0 or cols <= 0:
        raise CorruptDicomError(f"“{name}” has no valid image size.", f"{rows}x{cols}")
    if rows * cols * n_frames * spp * max(bits // 8, 1) > MAX_PIXEL_BYTES:
        raise UnsupportedDicomError(
            f"“{name}” claims an image too large to open safely.",
            f"{rows}x{cols}x{n_frames}x{spp} at {bits} bits",
        )
    try:
        arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        raise UnsupportedDicomError(
            f"“{name}” uses a compression this installation cannot decode.",
            f"{ds.file_meta.get('TransferSyntaxUID', '?')}: {exc}",
        ) from exc
    except Exception as exc:  # decoders raise many types; the file is at fault
        raise CorruptDicomError(
            f"“{name}” has damaged or incomplete pixel data.", repr(exc)
        ) from exc

    photometric = _text(ds, "PhotometricInterpretation") or "MONOCHROME2"
    windows = _windows(ds)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
    if spp == 1:
        frames = arr.reshape((n_frames, rows, cols)) if n_frames > 1 else arr[np.newaxis]
        frames = frames.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    else:
        from pydicom.pixels import convert_color_space

        if photometric.startswith("YBR"):
            arr = convert_color_space(arr, photometric, "RGB")
            photometric = "RGB"
        frames = arr if n_frames > 1 else arr[np.newaxis]
        if frames.dtype != np.uint8:
            frames = (frames >> max(int(ds.get("BitsStored", 8)) - 8, 0)).astype(np.uint8)

    spacing, source = _spacing(ds)
    return DicomImage(
        path=p,
        frames=np.ascontiguousarray(frames),
        photometric=photometric,
        windows=windows,
        modality=_text(ds, "Modality"),
        patient_name=_text(ds, "PatientName").replace("^", " ").strip(),
        patient_id=_text(ds, "PatientID"),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        study_date=_text(ds, "StudyDate"),
        body_part=_text(ds, "BodyPartExamined"),
        view_position=_text(ds, "ViewPosition"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        rescale_slope=slope,
        rescale_intercept=intercept,
        units=_text(ds, "RescaleType") or ("HU" if _text(ds, "Modality") == "CT" else ""),
        pixel_spacing=spacing,
        spacing_source=source,
    )

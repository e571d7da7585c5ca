"""Read one DICOM image into modality values and render it to 8 bits.

The pipeline follows DICOM PS3.3 C.11 (see :mod:`engine.dicom.pixels`):
stored values → Modality LUT → modality values (e.g. HU, float32, kept for
measurement and models) → VOI LUT (window) → Presentation LUT /
MONOCHROME1 → 8 bits. Colour images (RGB, YBR_FULL, YBR_FULL_422, YBR_ICT,
YBR_RCT, PALETTE COLOR) become 8-bit RGB. Enhanced multi-frame images keep
their per-frame rescale, windows, spacing and position in ``frame_info``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import Dataset

from engine.dicom._plugins import DeclaredSizeError
from engine.dicom.decoders import decode_pixels
from engine.dicom.files import (
    UNCOMPRESSED,
    check_pixel_budget,
    first_item,
    integer,
    is_dicomdir,
    is_image_storage,
    quoted,
    read_dataset,
    syntax_name,
    text,
    transfer_syntax,
)
from engine.dicom.geometry import SpacingInfo, orientation_of, position_of, spacing_info
from engine.dicom.pictures import (
    NO_HEADER_NOTE,
    NO_HEADER_PATIENT,
    is_picture,
    picture_uid,
    read_pixels,
)
from engine.dicom.pixels import (
    LookupTable,
    ModalityTransform,
    Window,
    apply_window,
    full_range_window,
    modality_transform,
    palette_to_rgb,
    parse_voi_luts,
    parse_windows,
    to_8bit_rgb,
    window_to_8bit,
)
from engine.errors import CorruptDicomError, UnsupportedDicomError

__all__ = [
    "DicomImage",
    "FrameInfo",
    "LookupTable",
    "Window",
    "apply_window",
    "full_range_window",
    "read_image",
    "render_8bit",
]

_GRAY = ("MONOCHROME1", "MONOCHROME2")
_COLOR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "PALETTE COLOR")


@dataclass(frozen=True)
class FrameInfo:
    """Values that may differ per frame (enhanced multi-frame functional groups).

    For classic single- and multi-frame images every frame gets the top-level
    values.
    """

    modality: ModalityTransform = field(default_factory=ModalityTransform)
    windows: tuple[Window, ...] = ()
    spacing: SpacingInfo = field(default_factory=SpacingInfo)
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    slice_thickness: float | None = None


@dataclass(frozen=True, eq=False)
class DicomImage:
    """One DICOM image object, decoded.

    Attributes
    ----------
    frames
        ``(n_frames, rows, cols)`` float32 modality values for grayscale
        images, ``(n_frames, rows, cols, 3)`` uint8 RGB for colour images.
    photometric
        ``MONOCHROME1``/``MONOCHROME2`` for grayscale, ``RGB`` once colour was
        converted (``stored_photometric`` keeps the file's value).
    windows
        The VOI windows and VOI LUTs of the first frame (may be empty).
    pixel_spacing, spacing_source
        Spacing for measurement of the first frame (see
        :class:`~engine.dicom.geometry.SpacingInfo`).
    frame_info
        Per-frame rescale, windows, spacing, position and orientation.
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
    #: Presentation Intent Type (DX, MG, IO): ``FOR PROCESSING`` is a raw detector image.
    presentation_intent: str = ""
    patient_age: str = ""
    patient_birth_date: str = ""
    sop_instance_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    units: str = ""
    pixel_spacing: tuple[float, float] | None = None
    spacing_source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    stored_photometric: str = ""
    presentation_lut_shape: str = ""
    transfer_syntax: str = ""
    #: Pixel Padding Value (and Range Limit) in modality units: not image (left out of the
    #: full-range window); ``None`` when the file declares none.
    padding: tuple[float, float] | None = None
    decoder: str = ""
    bits_stored: int = 0
    frame_info: tuple[FrameInfo, ...] = ()

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

    @property
    def inverted(self) -> bool:
        """Whether display inverts the VOI output (MONOCHROME1 or Presentation LUT INVERSE).

        For MONOCHROME1 the standard's Presentation LUT Shape INVERSE is the same
        single inversion, not a second one.
        """
        return self.monochrome1 or self.presentation_lut_shape == "INVERSE"

    def info(self, frame: int = 0) -> FrameInfo:
        """The per-frame values of ``frame``."""
        if not self.frame_info:
            return FrameInfo(windows=self.windows)
        return self.frame_info[min(frame, len(self.frame_info) - 1)]

    def frame_windows(self, frame: int = 0) -> tuple[Window, ...]:
        """The windows and VOI LUTs that apply to ``frame``."""
        return self.info(frame).windows if self.frame_info else self.windows

    def default_window(self, frame: int = 0) -> Window:
        """The frame's first window, else one covering the frame's full range."""
        windows = self.frame_windows(frame)
        if windows:
            return windows[0]
        return full_range_window(self.frames[frame], self.padding)


def render_8bit(image: DicomImage, frame: int = 0, window: Window | None = None) -> np.ndarray:
    """Render one frame as it is shown: 8-bit grayscale ``(H, W)`` or RGB ``(H, W, 3)``.

    Parameters
    ----------
    image
        A decoded image.
    frame
        Frame index (0-based).
    window
        The VOI window or LUT; the frame's own first window (else its full
        range) when ``None``.
    """
    if not 0 <= frame < image.n_frames:
        raise IndexError(f"frame {frame} out of range 0..{image.n_frames - 1}")
    pixels = image.frames[frame]
    if image.is_color:
        return np.ascontiguousarray(pixels, dtype=np.uint8)
    return window_to_8bit(pixels, window or image.default_window(frame), invert=image.inverted)


# --- reading ------------------------------------------------------------------
def frame_infos(ds: Dataset, n_frames: int) -> tuple[FrameInfo, ...]:
    """Per-frame values from the functional groups (or the top level for every frame)."""
    shared = first_item(ds, "SharedFunctionalGroupsSequence")
    try:
        per_frame = ds.get("PerFrameFunctionalGroupsSequence") or ()
    except Exception:
        per_frame = ()
    signed = integer(ds, "PixelRepresentation") == 1
    top_windows = parse_windows(ds) + parse_voi_luts(ds, signed_input=signed)
    thickness = _thickness(ds, None, shared)
    if not per_frame and shared is None:
        info = FrameInfo(
            modality=modality_transform(ds),
            windows=top_windows,
            spacing=spacing_info(ds),
            position=position_of(ds),
            orientation=orientation_of(ds),
            slice_thickness=thickness,
        )
        return (info,) * n_frames
    out = []
    for i in range(n_frames):
        item = per_frame[i] if i < len(per_frame) else None
        windows: tuple[Window, ...] = ()
        for source in (item, shared):
            voi = first_item(source, "FrameVOILUTSequence")
            if voi is not None:
                windows = parse_windows(voi)
                if windows:
                    break
        out.append(
            FrameInfo(
                modality=modality_transform(ds, item, shared),
                windows=windows or top_windows,
                spacing=spacing_info(ds, item, shared),
                position=position_of(ds, item, shared),
                orientation=orientation_of(ds, item, shared),
                slice_thickness=_thickness(ds, item, shared),
            )
        )
    return tuple(out)


def _thickness(ds, item, shared) -> float | None:
    for source in (item, shared):
        group = first_item(source, "PixelMeasuresSequence")
        if group is not None and group.get("SliceThickness") not in (None, ""):
            try:
                return float(group.SliceThickness)
            except (TypeError, ValueError):
                pass
    try:
        value = ds.get("SliceThickness")
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _size(ds: Dataset, path: Path) -> tuple[int, int, int, int, int]:
    raw_frames = ds.get("NumberOfFrames")
    if raw_frames not in (None, ""):
        try:
            int(str(raw_frames))
        except ValueError as exc:
            raise CorruptDicomError(
                f"{quoted(path)} has an invalid Number of Frames ({raw_frames!r}) and cannot "
                "be shown safely.",
                "NumberOfFrames is not an integer",
            ) from exc
    rows, cols = integer(ds, "Rows"), integer(ds, "Columns")
    n_frames = max(integer(ds, "NumberOfFrames", 1), 1)
    spp = max(integer(ds, "SamplesPerPixel", 1), 1)
    if "FloatPixelData" in ds:
        bits = 32
    elif "DoubleFloatPixelData" in ds:
        bits = 64
    else:
        bits = integer(ds, "BitsAllocated", 8)
    if rows <= 0 or cols <= 0 or bits <= 0:
        raise CorruptDicomError(
            f"{quoted(path)} has no valid image size.", f"{rows}x{cols}, {bits} bits allocated"
        )
    return rows, cols, n_frames, spp, bits


def _picture_image(path: Path) -> DicomImage:
    """A PNG/JPEG as an image without DICOM attributes (see :mod:`engine.dicom.pictures`)."""
    pixels = read_pixels(path)
    colour = pixels.ndim == 3
    photometric = "RGB" if colour else "MONOCHROME2"
    return DicomImage(
        path=path,
        frames=pixels[None, ...],
        photometric=photometric,
        windows=(),
        patient_name=NO_HEADER_PATIENT,
        study_description=f"Pictures in {path.parent.name or path.parent}",
        series_description=f"{path.name} — {NO_HEADER_NOTE}",
        sop_instance_uid=picture_uid(path, "image"),
        series_instance_uid=picture_uid(path, "series"),
        study_instance_uid=picture_uid(path.parent, "folder"),
        stored_photometric=photometric,
        decoder="pillow",
        bits_stored=8 if colour or float(pixels.max(initial=0)) <= 255 else 16,
        extra={"Source": f"{path.suffix.lower().lstrip('.').upper()} picture, {NO_HEADER_NOTE}"},
    )


def read_image(
    path: str | os.PathLike[str], *, max_bytes: int | None = None, external: bool = True
) -> DicomImage:
    """Read and decode a DICOM image file.

    Parameters
    ----------
    path
        A DICOM Part 10 file (or a bare data set whose encoding can be inferred).
    max_bytes
        Refuse images whose decoded pixels need more bytes than this, before
        allocating (default :data:`engine.dicom.files.MAX_PIXEL_BYTES`).
    external
        When no in-process decoder can decode compressed pixel data, try GDCM's
        ``gdcmconv --raw`` in a child process (if installed; see
        :mod:`engine.dicom.external`).

    Returns
    -------
    DicomImage
        Frames as modality values (grayscale) or RGB bytes (colour).

    Raises
    ------
    NotDicomError, CorruptDicomError, UnsupportedDicomError
        With a user message naming the file and the reason.
    """
    p = Path(path)
    if is_picture(p):
        return _picture_image(p)
    ds = read_dataset(p)
    if is_dicomdir(ds):
        raise UnsupportedDicomError(
            f"{quoted(p)} is a DICOMDIR, the index of a disc or folder, not an image. "
            "Open it as a study to see the images it lists.",
            "Media Storage Directory",
        )
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        if is_image_storage(ds) or "Rows" in ds:
            raise CorruptDicomError(
                f"{quoted(p)} is an image file whose pixel data is missing; it is probably "
                "truncated.",
                f"SOP Class {text(ds, 'SOPClassUID')}",
            )
        raise UnsupportedDicomError(
            f"{quoted(p)} holds no image (it may be a report, a waveform or a structured "
            "document).",
            f"SOP Class {text(ds, 'SOPClassUID') or 'unknown'}",
        )
    rows, cols, n_frames, spp, bits = _size(ds, p)
    photometric = (text(ds, "PhotometricInterpretation") or "MONOCHROME2").upper()
    if photometric not in _GRAY + _COLOR:
        raise UnsupportedDicomError(
            f"{quoted(p)} uses the colour model {photometric}, which Stethos cannot show.",
            f"Photometric Interpretation {photometric}",
        )
    gray = photometric in _GRAY
    # decoded stored values plus the float32 (grey) or 8-bit RGB result
    per_pixel = spp * max(bits // 8, 1) + (4 if gray else 3)
    check_pixel_budget(p, rows * cols * n_frames, per_pixel, max_bytes=max_bytes)

    ts = str(transfer_syntax(ds))
    decoder = "pydicom"
    try:
        arr, props = decode_pixels(ds, p)
        decoder = str(props.get("stethos_plugin", decoder))
    except (CorruptDicomError, UnsupportedDicomError) as exc:
        if not (external and ts not in UNCOMPRESSED) or isinstance(
            exc.__cause__, DeclaredSizeError
        ):  # a decompression bomb is not handed to another decoder either
            raise
        from engine.dicom.external import decompress_with_gdcm

        raw, why = decompress_with_gdcm(p)
        if raw is None:
            exc.detail = f"{exc.detail}; {why}"
            raise
        arr, props = decode_pixels(raw, p)
        decoder = "gdcmconv (child process)"
    expected = (n_frames, rows, cols) if spp == 1 else (n_frames, rows, cols, spp)
    if arr.size != int(np.prod(expected)):
        raise CorruptDicomError(
            f"{quoted(p)} has pixel data that does not match its image size.",
            f"decoded {arr.shape}, header says {expected}",
        )
    arr = arr.reshape(expected)
    infos = frame_infos(ds, n_frames)

    if gray:
        frames = _modality_values(arr, infos, ds)
        out_photometric = photometric
    elif photometric == "PALETTE COLOR":
        frames = palette_to_rgb(arr, ds, little_endian=transfer_syntax(ds).is_little_endian)
        out_photometric = "RGB"
    else:
        frames, out_photometric = _to_rgb(
            arr, props, photometric, integer(ds, "BitsStored", bits), p, ts
        )

    first = infos[0]
    spacing = first.spacing
    modality = text(ds, "Modality")
    return DicomImage(
        path=p,
        frames=np.ascontiguousarray(frames),
        photometric=out_photometric,
        windows=first.windows if gray else (),
        modality=modality,
        patient_name=text(ds, "PatientName").replace("^", " ").strip(),
        patient_id=text(ds, "PatientID"),
        study_description=text(ds, "StudyDescription"),
        series_description=text(ds, "SeriesDescription"),
        study_date=text(ds, "StudyDate"),
        body_part=text(ds, "BodyPartExamined"),
        view_position=text(ds, "ViewPosition"),
        presentation_intent=text(ds, "PresentationIntentType"),
        patient_age=text(ds, "PatientAge"),
        patient_birth_date=text(ds, "PatientBirthDate"),
        sop_instance_uid=text(ds, "SOPInstanceUID"),
        study_instance_uid=text(ds, "StudyInstanceUID"),
        series_instance_uid=text(ds, "SeriesInstanceUID"),
        rescale_slope=first.modality.slope,
        rescale_intercept=first.modality.intercept,
        units=first.modality.units,
        pixel_spacing=spacing.spacing,
        spacing_source=spacing.source,
        stored_photometric=photometric,
        presentation_lut_shape=text(ds, "PresentationLUTShape").upper(),
        transfer_syntax=ts,
        decoder=decoder,
        bits_stored=integer(ds, "BitsStored", bits),
        frame_info=infos,
        padding=_padding(ds, first) if gray else None,
    )


def _padding(ds: Dataset, first: FrameInfo) -> tuple[float, float] | None:
    """Pixel Padding Value (to Pixel Padding Range Limit) through the modality transform."""
    value, limit = ds.get("PixelPaddingValue"), ds.get("PixelPaddingRangeLimit")
    try:
        stored = [float(value)] + ([float(limit)] if limit is not None else [])
    except (TypeError, ValueError):
        return None
    try:
        real = first.modality.apply(np.asarray(stored, dtype=np.int64)).astype(np.float64)
    except (TypeError, ValueError, IndexError):  # a modality LUT that does not cover it
        return None
    return (float(real.min()), float(real.max()))


def _modality_values(arr: np.ndarray, infos: tuple[FrameInfo, ...], ds: Dataset) -> np.ndarray:
    """Stored values → float32 modality values, frame by frame when they differ."""
    if arr.dtype.kind == "f":  # Float / Double Float Pixel Data: already real values
        return arr.astype(np.float32, copy=False)
    transforms = {info.modality for info in infos}
    if len(transforms) == 1:
        return next(iter(transforms)).apply(arr)
    out = np.empty(arr.shape, dtype=np.float32)
    for i, info in enumerate(infos):
        info.modality.apply(arr[i], out=out[i])
    return out


def _to_rgb(
    arr: np.ndarray, props: dict, photometric: str, bits_stored: int, path: Path, ts: str
) -> tuple[np.ndarray, str]:
    decoded = str(props.get("photometric_interpretation", photometric)).upper()
    if decoded in ("YBR_FULL", "YBR_FULL_422"):
        from pydicom.pixels import convert_color_space

        arr = convert_color_space(arr, decoded, "RGB")
        decoded = "RGB"
    if decoded != "RGB":
        raise UnsupportedDicomError(
            f"{quoted(path)} stores colour as {photometric} in {syntax_name(ts)}, "
            "which Stethos cannot convert to RGB.",
            f"decoder returned {decoded}",
        )
    return to_8bit_rgb(arr, bits_stored), "RGB"

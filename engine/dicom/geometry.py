"""Spatial header values: pixel spacing for measurement, slice position and order.

Pixel spacing for measurement follows PS3.3 10.7.1.3: ``PixelSpacing`` is in
the patient plane; ``ImagerPixelSpacing`` is at the detector, where a
projection radiograph is magnified, so it is divided by the Estimated
Radiographic Magnification Factor when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dicom.values import first_item, floats, number

#: ``spacing_source`` values, from most to least trustworthy for measurement.
SPACING_PATIENT = "PixelSpacing"
SPACING_ESTIMATED = "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
SPACING_DETECTOR = "ImagerPixelSpacing"


@dataclass(frozen=True)
class SpacingInfo:
    """The spacing a measurement uses, and the header values it came from.

    Attributes
    ----------
    spacing
        ``(row spacing, column spacing)`` in mm for measurement, or ``None``.
    source
        One of ``PixelSpacing`` (patient plane), ``ImagerPixelSpacing/
        EstimatedRadiographicMagnificationFactor`` (detector spacing corrected
        by the estimated magnification) or ``ImagerPixelSpacing`` (detector
        plane: lengths of anatomy come out magnified), or ``None``.
    pixel_spacing, imager_pixel_spacing, magnification
        The raw header values.
    """

    spacing: tuple[float, float] | None = None
    source: str | None = None
    pixel_spacing: tuple[float, float] | None = None
    imager_pixel_spacing: tuple[float, float] | None = None
    magnification: float | None = None

    @property
    def note(self) -> str:
        """A sentence telling the user how far measurements can be trusted."""
        if self.source == SPACING_PATIENT:
            return "Distances are in the patient plane (Pixel Spacing)."
        if self.source == SPACING_ESTIMATED:
            return (
                "Distances use the detector spacing corrected by the estimated "
                f"magnification factor {self.magnification:g}."
            )
        if self.source == SPACING_DETECTOR:
            return (
                "Distances are at the detector (Imager Pixel Spacing): anatomy "
                "appears magnified, so lengths are overestimated."
            )
        return "The image has no pixel spacing: distances are in pixels."


def _pair(value) -> tuple[float, float] | None:
    values = floats(value)
    if len(values) >= 2 and all(np.isfinite(v) and v > 0 for v in values[:2]):
        return values[0], values[1]
    return None


def spacing_info(ds, frame_item=None, shared_item=None) -> SpacingInfo:
    """Measurement spacing of a frame (per-frame, shared groups, then top level)."""
    pixel = None
    for source in (frame_item, shared_item):
        measures = first_item(source, "PixelMeasuresSequence")
        if measures is not None:
            pixel = _pair(measures.get("PixelSpacing"))
            if pixel:
                break
    if pixel is None:
        pixel = _pair(ds.get("PixelSpacing"))
    imager = _pair(ds.get("ImagerPixelSpacing"))
    if imager is None:
        # enhanced DX/MG/XA put it in the shared or per-frame groups
        for source in (frame_item, shared_item):
            group = first_item(source, "PixelMeasuresSequence")
            if group is not None and "ImagerPixelSpacing" in group:
                imager = _pair(group.get("ImagerPixelSpacing"))
    magnification = number(ds, "EstimatedRadiographicMagnificationFactor")
    if magnification is not None and not (np.isfinite(magnification) and magnification > 0):
        magnification = None
    if pixel is not None:
        return SpacingInfo(pixel, SPACING_PATIENT, pixel, imager, magnification)
    if imager is not None and magnification is not None and magnification != 1.0:
        corrected = (imager[0] / magnification, imager[1] / magnification)
        return SpacingInfo(corrected, SPACING_ESTIMATED, None, imager, magnification)
    if imager is not None:
        return SpacingInfo(imager, SPACING_DETECTOR, None, imager, magnification)
    return SpacingInfo()


def _vector(value, n: int) -> tuple[float, ...] | None:
    values = floats(value)
    if len(values) == n and all(np.isfinite(v) for v in values):
        return tuple(values)
    return None


def position_of(ds, frame_item=None, shared_item=None) -> tuple[float, float, float] | None:
    """Image Position (Patient) of a frame, in mm."""
    for source in (frame_item, shared_item):
        group = first_item(source, "PlanePositionSequence")
        if group is not None:
            vec = _vector(group.get("ImagePositionPatient"), 3)
            if vec:
                return vec  # type: ignore[return-value]
    return _vector(ds.get("ImagePositionPatient"), 3)  # type: ignore[return-value]


def orientation_of(ds, frame_item=None, shared_item=None) -> tuple[float, ...] | None:
    """Image Orientation (Patient) of a frame: row then column direction cosines."""
    for source in (frame_item, shared_item):
        group = first_item(source, "PlaneOrientationSequence")
        if group is not None:
            vec = _vector(group.get("ImageOrientationPatient"), 6)
            if vec:
                return vec
    return _vector(ds.get("ImageOrientationPatient"), 6)


def slice_normal(orientation: tuple[float, ...]) -> np.ndarray:
    """Unit normal of the image plane (row × column)."""
    row = np.asarray(orientation[:3], dtype=np.float64)
    col = np.asarray(orientation[3:6], dtype=np.float64)
    normal = np.cross(row, col)
    norm = float(np.linalg.norm(normal))
    return normal / norm if norm > 0 else normal


def same_orientation(a: tuple[float, ...], b: tuple[float, ...], tol: float = 1e-3) -> bool:
    """Whether two orientations agree within ``tol`` per direction cosine."""
    return bool(np.all(np.abs(np.asarray(a) - np.asarray(b)) <= tol))

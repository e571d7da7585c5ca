"""Measurements on a 2-D image: distance, angle and region statistics.

Pure numpy, no GUI: the viewer draws the shapes and calls these functions,
and tests call them directly.

Coordinates are continuous image coordinates ``(x, y)``: ``x`` runs along
the columns and ``y`` down the rows, and pixel ``(row r, column c)`` covers
``[c, c + 1) × [r, r + 1)`` with its centre at ``(c + 0.5, r + 0.5)``. This is
how the viewer draws the image, so a point under the mouse maps directly.

``spacing`` is ``(row spacing, column spacing)`` in mm, the DICOM Pixel
Spacing order (see :class:`engine.dicom.SpacingInfo`); ``None`` means the
image is not calibrated and results are in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RoiStats",
    "angle_degrees",
    "distance",
    "roi_mask",
    "roi_stats",
]

Point = tuple[float, float]
Spacing = tuple[float, float] | None

#: Region shapes :func:`roi_stats` understands.
ROI_KINDS = ("rectangle", "ellipse")


def _scale(spacing: Spacing) -> tuple[float, float]:
    """``(mm per x unit, mm per y unit)``; ``(1, 1)`` when uncalibrated."""
    if spacing is None:
        return 1.0, 1.0
    row_spacing, col_spacing = spacing
    return float(col_spacing), float(row_spacing)


def distance(p0: Point, p1: Point, spacing: Spacing = None) -> float:
    """Length of the segment ``p0``–``p1`` in mm (in pixels when ``spacing`` is ``None``).

    Parameters
    ----------
    p0, p1
        ``(x, y)`` image coordinates.
    spacing
        ``(row spacing, column spacing)`` in mm, or ``None``.
    """
    sx, sy = _scale(spacing)
    return math.hypot((p1[0] - p0[0]) * sx, (p1[1] - p0[1]) * sy)


def angle_degrees(a: Point, vertex: Point, b: Point, spacing: Spacing = None) -> float:
    """Angle ``a``–``vertex``–``b`` in degrees (0–180), measured in physical space.

    With anisotropic pixels the angle on screen differs from the angle in the
    patient; this function scales both arms by the spacing first.
    Returns ``nan`` when an arm has zero length.
    """
    sx, sy = _scale(spacing)
    u = ((a[0] - vertex[0]) * sx, (a[1] - vertex[1]) * sy)
    v = ((b[0] - vertex[0]) * sx, (b[1] - vertex[1]) * sy)
    nu, nv = math.hypot(*u), math.hypot(*v)
    if nu == 0.0 or nv == 0.0:
        return math.nan
    cos = (u[0] * v[0] + u[1] * v[1]) / (nu * nv)
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the pixels inside a region, in the image's modality units.

    Attributes
    ----------
    mean, sd, minimum, maximum
        Over the pixels whose centres lie inside the shape; ``sd`` is the
        sample standard deviation (``n - 1``), as ImageJ and most PACS report.
        ``nan`` when the region holds no pixel.
    n_pixels
        Number of pixels used.
    area
        Geometric area of the drawn shape, in mm² when calibrated, else in
        square pixels (see ``calibrated``).
    calibrated
        Whether ``area`` is in mm².
    """

    mean: float
    sd: float
    minimum: float
    maximum: float
    n_pixels: int
    area: float
    calibrated: bool


def _box(corners: tuple[Point, Point]) -> tuple[float, float, float, float]:
    (x0, y0), (x1, y1) = corners
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def roi_mask(
    shape: tuple[int, int], kind: str, corners: tuple[Point, Point]
) -> tuple[np.ndarray, tuple[slice, slice]]:
    """The pixels of a rectangle or an ellipse (inscribed in the rectangle).

    Parameters
    ----------
    shape
        ``(rows, cols)`` of the image.
    kind
        ``"rectangle"`` or ``"ellipse"``.
    corners
        Two opposite corners ``(x, y)`` of the bounding rectangle.

    Returns
    -------
    mask, window
        A boolean mask over ``image[window]`` (the part of the image the
        bounding box covers, clipped to the image), true where a pixel's
        centre lies inside the shape.
    """
    if kind not in ROI_KINDS:
        raise ValueError(f"unknown region kind {kind!r}; expected one of {ROI_KINDS}")
    rows, cols = shape
    x0, y0, x1, y1 = _box(corners)
    # pixels whose centre c + 0.5 can fall inside [x0, x1]
    c0 = min(max(math.ceil(x0 - 0.5), 0), cols)
    c1 = min(max(math.floor(x1 - 0.5) + 1, c0), cols)
    r0 = min(max(math.ceil(y0 - 0.5), 0), rows)
    r1 = min(max(math.floor(y1 - 0.5) + 1, r0), rows)
    window = (slice(r0, r1), slice(c0, c1))
    xs = np.arange(c0, c1, dtype=np.float64) + 0.5
    ys = np.arange(r0, r1, dtype=np.float64) + 0.5
    if kind == "rectangle":
        mask = np.ones((r1 - r0, c1 - c0), dtype=bool)
        return mask, window
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    ax, ay = (x1 - x0) / 2.0, (y1 - y0) / 2.0
    if ax <= 0.0 or ay <= 0.0:
        return np.zeros((r1 - r0, c1 - c0), dtype=bool), window
    dx = ((xs - cx) / ax) ** 2
    dy = ((ys - cy) / ay) ** 2
    mask = dy[:, None] + dx[None, :] <= 1.0
    return mask, window


def roi_stats(
    values: np.ndarray,
    kind: str,
    corners: tuple[Point, Point],
    spacing: Spacing = None,
) -> RoiStats:
    """Mean, SD, minimum, maximum and area of a rectangle or ellipse region.

    Parameters
    ----------
    values
        ``(rows, cols)`` modality values (HU for CT); any real dtype.
    kind
        ``"rectangle"`` or ``"ellipse"`` (inscribed in the rectangle).
    corners
        Two opposite corners ``(x, y)`` of the bounding rectangle.
    spacing
        ``(row spacing, column spacing)`` in mm, or ``None`` (area in pixels).
    """
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D array of values, got shape {values.shape}")
    mask, window = roi_mask(values.shape, kind, corners)
    inside = np.asarray(values[window], dtype=np.float64)[mask]
    x0, y0, x1, y1 = _box(corners)
    sx, sy = _scale(spacing)
    area = (x1 - x0) * sx * (y1 - y0) * sy
    if kind == "ellipse":
        area *= math.pi / 4.0
    n = int(inside.size)
    if n == 0:
        nan = math.nan
        return RoiStats(nan, nan, nan, nan, 0, area, spacing is not None)
    sd = float(inside.std(ddof=1)) if n > 1 else 0.0
    return RoiStats(
        mean=float(inside.mean()),
        sd=sd,
        minimum=float(inside.min()),
        maximum=float(inside.max()),
        n_pixels=n,
        area=area,
        calibrated=spacing is not None,
    )

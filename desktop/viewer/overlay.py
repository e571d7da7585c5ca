"""Pure helpers for the viewer's overlays: heat-map colours, region outline, scale bar.

No Qt here, so the numbers can be tested directly. The heat map is drawn on
its own layer; nothing in this module touches the image's pixels.

They run on the UI thread when a result arrives, on maps the size of the
image (a million pixels), so they take the short way to the same numbers:
opaque pixels are coloured from a table in one gather, the outline's level
is numpy's linear quantile without ``np.quantile``'s extras
(:func:`~desktop.viewer.presets.linear_quantiles`), and edges are looked for
only inside the region's bounding box.
"""

from __future__ import annotations

import math

import numpy as np

from desktop.viewer.presets import linear_quantiles
from engine.explain import FADE_BELOW, TURBO_LUT, turbo

__all__ = ["FADE_BELOW", "TURBO_LUT", "turbo"]  # re-exported: the viewer's colours are the engine's

#: Lowest relevance the heat map's top region is outlined at...
OUTLINE_LEVEL = 0.5
#: ...raised so that the outline holds at most this fraction of the image.
TOP_FRACTION = 0.10
#: The same colours, opaque, as premultiplied B, G, R, A bytes packed in one uint32 each.
_OPAQUE_BGRA = (
    np.concatenate([TURBO_LUT[:, ::-1], np.full((256, 1), 255, np.uint8)], axis=1)
    .copy()
    .view(np.uint32)
    .ravel()
)


def _finite(heatmap: np.ndarray) -> np.ndarray:
    """The map as float32 with NaN as 0 and ±inf as the largest floats (``np.nan_to_num``).

    Copies only when something is not finite (one float64 sum tells: it
    cannot overflow on float32 values). The result may be the input itself.
    """
    h = np.asarray(heatmap, dtype=np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        total = np.add.reduce(h, axis=None, dtype=np.float64)
    if not np.isfinite(total):
        h = np.nan_to_num(h, nan=0.0)
    return h


def heatmap_rgba(heatmap: np.ndarray) -> np.ndarray:
    """Colour a relevance map in ``[0, 1]`` → premultiplied ``(rows, cols, 4)`` uint8.

    Byte order is B, G, R, A (Qt's ``Format_ARGB32_Premultiplied`` on
    little-endian machines). Alpha rises from 0 to 255 over
    ``[0, FADE_BELOW]`` and stays opaque above; the layer's opacity is set
    when it is drawn.
    """
    h = np.clip(_finite(heatmap), 0.0, 1.0)
    index = np.ascontiguousarray(np.rint(h * 255.0).astype(np.uint8))  # any memory order
    # alpha is exactly 1 from FADE_BELOW up: those pixels are the table's colours
    out = _OPAQUE_BGRA[index].view(np.uint8).reshape(*h.shape, 4)
    faded = h < FADE_BELOW
    if faded.any():
        alpha = np.clip(h[faded] / FADE_BELOW, 0.0, 1.0)
        rgb = TURBO_LUT[index[faded]].astype(np.float32)
        part = np.empty((alpha.size, 4), dtype=np.uint8)
        part[:, 0] = np.rint(rgb[:, 2] * alpha)
        part[:, 1] = np.rint(rgb[:, 1] * alpha)
        part[:, 2] = np.rint(rgb[:, 0] * alpha)
        part[:, 3] = np.rint(alpha * 255.0)
        out[faded] = part
    return out


def outline_segments(mask: np.ndarray) -> np.ndarray:
    """Boundary of a boolean mask as line segments ``(x0, y0, x1, y1)`` in image coordinates.

    Pixel ``(r, c)`` is the square ``[c, c + 1) × [r, r + 1)``; every edge
    between an inside and an outside pixel is returned, with collinear
    neighbouring edges merged into one segment.
    """
    m = np.asarray(mask, dtype=bool)
    # only the region's bounding box can hold edges
    inside_rows = np.flatnonzero(m.any(axis=1))
    if inside_rows.size == 0:
        return np.zeros((0, 4))
    inside_cols = np.flatnonzero(m.any(axis=0))
    r0, c0 = int(inside_rows[0]), int(inside_cols[0])
    m = m[r0 : int(inside_rows[-1]) + 1, c0 : int(inside_cols[-1]) + 1]
    return _box_segments(m) + np.array([c0, r0, c0, r0], dtype=np.float64)


def _box_segments(m: np.ndarray) -> np.ndarray:
    # horizontal edges lie along the rows of m; vertical ones along the rows of m.T
    line, start, stop = _runs_of_row_edges(m)
    horizontal = np.stack([start, line, stop, line], axis=1)
    line, start, stop = _runs_of_row_edges(np.ascontiguousarray(m.T))
    vertical = np.stack([line, start, line, stop], axis=1)
    return np.concatenate([horizontal, vertical]).astype(np.float64)


def _runs_of_row_edges(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of edges at ``y = r`` (``r = 0..rows``) between rows ``r - 1`` and ``r``.

    Returns each run's line ``r``, first column and the column after its last,
    sorted by line then column.
    """
    rows, cols = m.shape
    width = cols + 2  # a False column either side: every run ends within its line
    edges = np.zeros((rows + 1, width), dtype=bool)
    edges[0, 1:-1] = m[0]
    np.not_equal(m[1:], m[:-1], out=edges[1:-1, 1:-1])
    edges[-1, 1:-1] = m[-1]
    flips = np.flatnonzero(np.diff(edges.view(np.int8).ravel())) + 1
    starts, stops = flips[0::2], flips[1::2]
    return (starts // width).astype(np.float64), starts % width - 1, stops % width - 1


def outline_level(
    heatmap: np.ndarray, level: float = OUTLINE_LEVEL, top_fraction: float = TOP_FRACTION
) -> float:
    """The relevance the outline is drawn at: ``level``, raised to the top ``top_fraction``.

    A diffuse map can be above 0.5 over half the image; outlining only its
    most relevant tenth keeps the contour on the region that drove the result.
    """
    h = _finite(heatmap)
    if h.size == 0:
        return level
    if h.size > 1_000_000:
        h = h.ravel()[:: h.size // 1_000_000 + 1]
    return max(level, float(linear_quantiles(h, 1.0 - top_fraction)))


def top_region(heatmap: np.ndarray, level: float) -> np.ndarray:
    """The pixels whose relevance reaches ``level`` (the outlined region)."""
    return _finite(heatmap) >= level


def scale_bar(mm_per_pixel: float, max_pixels: float) -> tuple[float, float]:
    """A round scale-bar length (1, 2 or 5 × 10^k mm) that fits in ``max_pixels``.

    Returns ``(length in mm, length in view pixels)``; ``(0, 0)`` when the
    spacing is unknown or the bar cannot fit.
    """
    if not (mm_per_pixel > 0 and math.isfinite(mm_per_pixel) and max_pixels > 0):
        return 0.0, 0.0
    limit = mm_per_pixel * max_pixels
    exponent = math.floor(math.log10(limit))
    best = 0.0
    for e in (exponent - 1, exponent):
        for m in (1.0, 2.0, 5.0):
            length = m * 10.0**e
            if length <= limit:
                best = max(best, length)
    return best, best / mm_per_pixel

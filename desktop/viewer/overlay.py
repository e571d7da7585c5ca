"""Pure helpers for the viewer's overlays: heat-map colours, region outline, scale bar.

No Qt here, so the numbers can be tested directly. The heat map is drawn on
its own layer; nothing in this module touches the image's pixels.
"""

from __future__ import annotations

import math

import numpy as np

#: Lowest relevance the heat map's top region is outlined at...
OUTLINE_LEVEL = 0.5
#: ...raised so that the outline holds at most this fraction of the image.
TOP_FRACTION = 0.10
#: Relevance below this fades to transparent, so low values do not veil the image.
FADE_BELOW = 0.2

# Turbo colormap, polynomial fit by Anton Mikhailov (Google, Apache-2.0).
_RED4 = (0.13572138, 4.61539260, -42.66032258, 132.13108234)
_GREEN4 = (0.09140261, 2.19418839, 4.84296658, -14.18503333)
_BLUE4 = (0.10667330, 12.64194608, -60.58204836, 110.36276771)
_RED2 = (-152.94239396, 59.28637943)
_GREEN2 = (4.27729857, 2.82956604)
_BLUE2 = (-89.90310912, 27.34824973)


def turbo(x: np.ndarray) -> np.ndarray:
    """Turbo colours for values in ``[0, 1]`` → float RGB in ``[0, 1]``, shape ``(..., 3)``."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    powers = [np.ones_like(x), x, x**2, x**3]
    tail = [x**4, x**5]
    channels = []
    for four, two in ((_RED4, _RED2), (_GREEN4, _GREEN2), (_BLUE4, _BLUE2)):
        c = sum((k * p for k, p in zip(four, powers, strict=True)), np.zeros_like(x))
        c = c + sum((k * p for k, p in zip(two, tail, strict=True)), np.zeros_like(x))
        channels.append(np.clip(c, 0.0, 1.0))
    return np.stack(channels, axis=-1)


#: 256 turbo colours as uint8 RGB.
TURBO_LUT = np.rint(turbo(np.linspace(0.0, 1.0, 256)) * 255.0).astype(np.uint8)


def heatmap_rgba(heatmap: np.ndarray) -> np.ndarray:
    """Colour a relevance map in ``[0, 1]`` → premultiplied ``(rows, cols, 4)`` uint8.

    Byte order is B, G, R, A (Qt's ``Format_ARGB32_Premultiplied`` on
    little-endian machines). Alpha rises from 0 to 255 over
    ``[0, FADE_BELOW]`` and stays opaque above; the layer's opacity is set
    when it is drawn.
    """
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    np.clip(h, 0.0, 1.0, out=h)
    index = np.rint(h * 255.0).astype(np.uint8)
    rgb = TURBO_LUT[index].astype(np.float32)
    alpha = np.clip(h / FADE_BELOW, 0.0, 1.0)
    out = np.empty((*h.shape, 4), dtype=np.uint8)
    out[..., 0] = np.rint(rgb[..., 2] * alpha)
    out[..., 1] = np.rint(rgb[..., 1] * alpha)
    out[..., 2] = np.rint(rgb[..., 0] * alpha)
    out[..., 3] = np.rint(alpha * 255.0)
    return out


def outline_segments(mask: np.ndarray) -> np.ndarray:
    """Boundary of a boolean mask as line segments ``(x0, y0, x1, y1)`` in image coordinates.

    Pixel ``(r, c)`` is the square ``[c, c + 1) × [r, r + 1)``; every edge
    between an inside and an outside pixel is returned, with collinear
    neighbouring edges merged into one segment.
    """
    m = np.asarray(mask, dtype=bool)
    rows, cols = m.shape
    padded = np.zeros((rows + 2, cols + 2), dtype=bool)
    padded[1:-1, 1:-1] = m
    # horizontal edges at y = r (r = 0..rows) for columns 0..cols-1
    horizontal = padded[:-1, 1:-1] != padded[1:, 1:-1]
    # vertical edges at x = c (c = 0..cols) for rows 0..rows-1
    vertical = padded[1:-1, :-1] != padded[1:-1, 1:]
    segments = []
    for edges, along_x in ((horizontal, True), (vertical.T, False)):
        runs = np.zeros((edges.shape[0], edges.shape[1] + 2), dtype=np.int8)
        runs[:, 1:-1] = edges
        step = np.diff(runs, axis=1)
        line_s, start = np.nonzero(step == 1)
        _, stop = np.nonzero(step == -1)
        line = line_s.astype(np.float64)
        if along_x:
            segments.append(np.stack([start, line, stop, line], axis=1))
        else:
            segments.append(np.stack([line, start, line, stop], axis=1))
    return np.concatenate(segments).astype(np.float64) if segments else np.zeros((0, 4))


def outline_level(
    heatmap: np.ndarray, level: float = OUTLINE_LEVEL, top_fraction: float = TOP_FRACTION
) -> float:
    """The relevance the outline is drawn at: ``level``, raised to the top ``top_fraction``.

    A diffuse map can be above 0.5 over half the image; outlining only its
    most relevant tenth keeps the contour on the region that drove the result.
    """
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    if h.size == 0:
        return level
    if h.size > 1_000_000:
        h = h.ravel()[:: h.size // 1_000_000 + 1]
    return max(level, float(np.quantile(h, 1.0 - top_fraction)))


def top_region(heatmap: np.ndarray, level: float) -> np.ndarray:
    """The pixels whose relevance reaches ``level`` (the outlined region)."""
    return np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0) >= level


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

"""The heat-map colours, shared by the viewer and the derived images Stethos writes.

The viewer draws a relevance map in ``[0, 1]`` with the turbo colours, fading
to transparent below :data:`FADE_BELOW`; :func:`burn_in` blends the same
colours into a copy of the rendered image (for the DICOM secondary capture
that viewers without overlay support show). numpy only.
"""

from __future__ import annotations

import numpy as np

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


def burn_in(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """``image`` (8-bit gray ``(H, W)`` or RGB) with the heat map blended in, as uint8 RGB.

    ``heatmap`` is stretched (nearest neighbour) to the image's size; the
    colour's weight is ``opacity`` times the viewer's alpha (fading below
    :data:`FADE_BELOW`). The input is not modified.
    """
    base = np.asarray(image, dtype=np.float32)
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=2)
    rows, cols = base.shape[:2]
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    r_idx = np.minimum((np.arange(rows) * heat.shape[0]) // max(rows, 1), heat.shape[0] - 1)
    c_idx = np.minimum((np.arange(cols) * heat.shape[1]) // max(cols, 1), heat.shape[1] - 1)
    h = np.clip(heat[np.ix_(r_idx, c_idx)], 0.0, 1.0)
    colour = TURBO_LUT[np.rint(h * 255.0).astype(np.uint8)].astype(np.float32)
    alpha = (opacity * np.clip(h / FADE_BELOW, 0.0, 1.0))[..., None]
    return np.rint(base * (1.0 - alpha) + colour * alpha).clip(0, 255).astype(np.uint8)

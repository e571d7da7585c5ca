"""The body outline of a radiograph, and the crop to it that a CNN can declare.

A network that sees the air, the collimator borders and the burned-in
markers around the patient can learn the acquisition instead of the lungs
(docs/experiments/cxr-generalisation-plan.md). ``resize: "body-crop"`` in a
bundle's preprocessing crops the squashed image to the body's bounding box
and blacks out everything outside the outline before the network sees it;
training and inference both call :func:`body_crop`, so they see the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Margin around the body's bounding box, as a share of the image side.
MARGIN = 0.02


def body_mask(image_u8: np.ndarray) -> np.ndarray:
    """The body outline of a grey 8-bit radiograph: Otsu threshold, largest component, holes filled.

    Returns an all-true mask when nothing stands out from the background.
    """
    from scipy import ndimage

    a = image_u8.astype(np.float64)
    hist = np.bincount(image_u8.ravel(), minlength=256)[:256].astype(np.float64)
    p = hist / max(hist.sum(), 1.0)
    omega = np.cumsum(p)
    mu = np.cumsum(p * np.arange(256))
    between = (mu[-1] * omega - mu) ** 2 / np.maximum(omega * (1 - omega), 1e-12)
    k = int(np.argmax(between))  # Otsu: levels <= k are the dark class
    # Half the Otsu split: the body is brighter than the air around it, but soft
    # tissue and the lungs are dim. A constant (padded) background — one dark
    # level holding at least 8 % of the pixels — is air whatever its level.
    fg = a > 0.5 * (k + 1)
    air = int(np.argmax(hist[: k + 1]))
    if hist[air] >= 0.08 * hist.sum():
        fg &= a > air
    fg = ndimage.binary_opening(fg, iterations=2)
    labels, n = ndimage.label(fg)
    if n == 0:
        return np.ones_like(fg, dtype=bool)
    sizes = ndimage.sum(fg, labels, index=np.arange(1, n + 1))
    largest = labels == (1 + int(np.argmax(sizes)))
    return np.asarray(ndimage.binary_fill_holes(ndimage.binary_closing(largest, iterations=3)))


@dataclass(frozen=True)
class CropBox:
    """The part of the source image the network saw, as shares of its height and width."""

    top: float = 0.0
    bottom: float = 1.0
    left: float = 0.0
    right: float = 1.0

    def pixels(self, rows: int, cols: int) -> tuple[int, int, int, int]:
        """``(r0, r1, c0, c1)`` in a ``rows × cols`` image (at least one pixel each way)."""
        r0 = min(rows - 1, max(0, round(self.top * rows)))
        c0 = min(cols - 1, max(0, round(self.left * cols)))
        r1 = max(r0 + 1, min(rows, round(self.bottom * rows)))
        c1 = max(c0 + 1, min(cols, round(self.right * cols)))
        return r0, r1, c0, c1

    @property
    def whole(self) -> bool:
        return (self.top, self.bottom, self.left, self.right) == (0.0, 1.0, 0.0, 1.0)


WHOLE = CropBox()


def body_crop(square_u8: np.ndarray) -> tuple[np.ndarray, CropBox]:
    """Crop a grey ``size × size`` image to its body outline, black outside, back to ``size``.

    Returns the new image and the box it came from (shares of the input's
    sides, which are the source image's sides: the input was squashed).
    """
    from PIL import Image

    size_r, size_c = square_u8.shape
    mask = body_mask(square_u8)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        return square_u8, WHOLE
    m_r, m_c = round(MARGIN * size_r), round(MARGIN * size_c)
    r0, r1 = max(0, rows[0] - m_r), min(size_r, rows[-1] + 1 + m_r)
    c0, c1 = max(0, cols[0] - m_c), min(size_c, cols[-1] + 1 + m_c)
    crop = np.where(mask, square_u8, 0).astype(np.uint8)[r0:r1, c0:c1]
    out = np.asarray(
        Image.fromarray(np.ascontiguousarray(crop)).resize(
            (size_c, size_r), Image.Resampling.BILINEAR
        )
    )
    box = CropBox(r0 / size_r, r1 / size_r, c0 / size_c, c1 / size_c)
    return np.ascontiguousarray(out), box

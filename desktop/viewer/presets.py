"""Window presets per modality, and the automatic window from the histogram (no Qt).

CT presets are the usual reading-room pairs (width / level in HU). For
projection radiographs and everything else the file's own windows come
first, all of them, then an automatic window from the 1st–99th percentile
and the full range.

These run on the UI thread when an image is shown, so the percentiles are
taken by :func:`linear_quantiles`, numpy's own "linear" quantile (the same
numbers, bit for bit) without what ``np.percentile`` adds around it: its
``np.unique`` of the partition indices imports ``numpy.ma`` on first use
(8–17 ms) and it partitions around four indices instead of two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dicom import Window, full_range_window

#: (key, width, level) in HU; the key is also the label the viewer translates.
CT_PRESETS: tuple[tuple[str, float, float], ...] = (
    ("Lung", 1500.0, -600.0),
    ("Mediastinum", 350.0, 50.0),
    ("Abdomen", 400.0, 40.0),
    ("Bone", 1800.0, 400.0),
    ("Brain", 80.0, 40.0),
)

#: Percentiles of the automatic window.
AUTO_PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class Preset:
    """A named window: ``kind`` is ``ct``, ``file``, ``auto`` or ``full``."""

    key: str
    window: Window
    kind: str


def linear_quantiles(values: np.ndarray, q: float | list[float]) -> np.ndarray:
    """``np.quantile(values, q)`` (method "linear") for values without NaN, bit for bit.

    ``values`` is flattened; ``q`` is a probability (a Python float: the
    result then has the values' precision, as numpy's weak promotion gives)
    or a list of them (float64 results, as ``np.quantile`` with a list).
    Only the two order statistics around each quantile are selected
    (``np.partition`` on a copy); the interpolation is numpy's ``_lerp``.
    """
    weak = isinstance(q, int | float)
    a = np.asarray(values).ravel()
    n = a.size
    virtual = (n - 1) * np.asanyarray(q, dtype=np.float64)
    previous = np.floor(virtual)
    following = previous + 1
    previous = np.where(virtual >= n - 1, -1, np.where(virtual < 0, 0, previous))
    following = np.where(virtual >= n - 1, -1, np.where(virtual < 0, 0, following))
    previous, following = previous.astype(np.intp), following.astype(np.intp)
    kth = sorted({int(i) % n for i in np.concatenate([previous.ravel(), following.ravel()])})
    part = np.partition(a, kth)
    low, high = part[previous], part[following]
    gamma = np.asanyarray(virtual - previous, dtype=virtual.dtype)
    t = float(gamma) if weak else gamma
    # numpy's _lerp: a + (b - a) t, or b - (b - a)(1 - t) from t = 0.5 on
    diff = high - low
    out = np.add(low, diff * t, out=...)
    np.subtract(
        high, diff * (1 - t), out=out, where=t >= 0.5, casting="unsafe", dtype=type(out.dtype)
    )
    return out[()] if out.ndim == 0 else out


def percentile_window(
    values: np.ndarray, low: float = AUTO_PERCENTILES[0], high: float = AUTO_PERCENTILES[1]
) -> Window:
    """A LINEAR window from the ``low``–``high`` percentiles of the finite values.

    The window maps the ``low`` percentile to black and the ``high`` percentile
    to white (centre halfway, width their distance, at least 1).
    """
    flat = np.asarray(values).ravel()
    if flat.dtype.kind == "f":
        flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Window(center=0.5, width=1.0, explanation="auto")
    if flat.size > 1_000_000:
        # a regular subsample is enough for percentiles and keeps this fast
        flat = flat[:: flat.size // 1_000_000 + 1]
    lo, hi = (float(v) for v in linear_quantiles(flat, [low / 100.0, high / 100.0]))
    width = max(hi - lo, 1.0)
    return Window(center=(lo + hi) / 2.0, width=width, explanation="auto")


def presets_for(
    modality: str, file_windows: tuple[Window, ...], values: np.ndarray | None
) -> list[Preset]:
    """The presets offered for an image of ``modality`` with ``file_windows``.

    Parameters
    ----------
    modality
        DICOM Modality (``CT``, ``CR``, ``DX``, ``MR``…).
    file_windows
        The frame's own windows and VOI LUTs (all are offered).
    values
        The frame's modality values, for the automatic and full-range windows
        (left out when ``None``).
    """
    out: list[Preset] = []
    if modality.upper() == "CT":
        out += [
            Preset(key, Window(center=level, width=width, explanation=key), "ct")
            for key, width, level in CT_PRESETS
        ]
    for i, w in enumerate(file_windows, start=1):
        label = w.explanation or (
            f"VOI LUT {i}" if w.lut is not None else f"W {w.width:g} / L {w.center:g}"
        )
        out.append(Preset(label, w, "file"))
    if values is not None:
        out.append(Preset("Auto", percentile_window(values), "auto"))
        out.append(Preset("Full range", full_range_window(values), "full"))
    return out

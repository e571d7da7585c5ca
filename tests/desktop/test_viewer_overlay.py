"""The heat-map helpers give exactly what the plain formulas give (they run on the UI thread
in a shorter way: a colour table for opaque pixels, bounding box for the outline)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.viewer.overlay import (
    FADE_BELOW,
    TURBO_LUT,
    heatmap_rgba,
    outline_level,
    outline_segments,
    top_region,
)


def _plain_rgba(heatmap: np.ndarray) -> np.ndarray:
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


def _plain_segments(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask, dtype=bool)
    rows, cols = m.shape
    padded = np.zeros((rows + 2, cols + 2), dtype=bool)
    padded[1:-1, 1:-1] = m
    horizontal = padded[:-1, 1:-1] != padded[1:, 1:-1]
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
    return np.concatenate(segments).astype(np.float64)


def _maps(n: int = 60):
    rng = np.random.default_rng(11)
    for i in range(n):
        shape = tuple(int(v) for v in rng.integers(1, 50, 2))
        h = rng.random(shape).astype(np.float32) * float(rng.choice([1.0, 1.5, 0.3]))
        if i % 3 == 0:
            h -= 0.2
        if i % 5 == 0:
            h.flat[rng.integers(0, h.size, 3)] = [np.nan, np.inf, -np.inf]
        yield h.astype(np.float64) if i % 7 == 0 else h


def test_colours_and_level_are_the_plain_formulas():
    for h in _maps():
        rgba = heatmap_rgba(h)
        assert rgba.dtype == np.uint8 and rgba.flags.c_contiguous
        assert np.array_equal(rgba, _plain_rgba(h))
        plain = np.nan_to_num(np.asarray(h, dtype=np.float32), nan=0.0)
        level = outline_level(h)
        assert level == max(0.5, float(np.quantile(plain, 0.9)))
        assert np.array_equal(top_region(h, level), plain >= level)


@pytest.mark.parametrize("fill", [0.0, 0.05, 0.5, 0.95, 1.0])
def test_outline_segments_are_the_plain_edges_in_the_same_order(fill):
    rng = np.random.default_rng(int(fill * 100))
    for _ in range(30):
        shape = tuple(int(v) for v in rng.integers(1, 40, 2))
        mask = rng.random(shape) < fill
        ours = outline_segments(mask)
        assert ours.dtype == np.float64
        assert np.array_equal(ours, _plain_segments(mask))
    assert outline_segments(np.zeros((5, 7), bool)).shape == (0, 4)

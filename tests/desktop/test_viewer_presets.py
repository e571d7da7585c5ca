"""Window presets: the automatic window's percentiles are numpy's, without numpy's extras."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.viewer.presets import linear_quantiles, percentile_window


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint16, np.uint8])
@pytest.mark.parametrize("n", [1, 2, 3, 100, 10_001])
@pytest.mark.filterwarnings("ignore:overflow encountered")  # int16 differences wrap in both
def test_linear_quantiles_are_numpys_bit_for_bit(dtype, n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        if np.dtype(dtype).kind == "f":
            values = (rng.standard_normal(n) * 1000.0).astype(dtype)
        else:
            info = np.iinfo(dtype)
            values = rng.integers(info.min, info.max, n, endpoint=True).astype(dtype)
        for q in (0.0, 0.01, 0.5, 0.9, 0.99, 1.0, float(rng.random())):
            ours, theirs = linear_quantiles(values, q), np.quantile(values, q)
            assert type(ours) is type(theirs) and np.array_equal(ours, theirs), q
        ours = linear_quantiles(values, [0.01, 0.99])
        theirs = np.percentile(values, [1.0, 99.0])
        assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_percentile_window_is_unchanged_and_leaves_numpy_ma_alone(monkeypatch):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 4096, (300, 200)).astype(np.uint16)
    lo, hi = np.percentile(image, [1.0, 99.0])
    win = percentile_window(image)
    assert win.center == (lo + hi) / 2.0 and win.width == max(hi - lo, 1.0)
    floats = rng.standard_normal((50, 40)).astype(np.float32)
    floats[0, :3] = [np.nan, np.inf, -np.inf]
    finite = floats[np.isfinite(floats)]
    lo, hi = np.percentile(finite, [1.0, 99.0])
    assert percentile_window(floats).center == (float(lo) + float(hi)) / 2.0
    assert percentile_window(np.array([], np.float32)).width == 1.0

    # np.percentile's np.unique imports numpy.ma (8-17 ms on the UI thread the first time)
    def not_here(*args, **kwargs):
        raise AssertionError("np.percentile / np.quantile / np.unique on the UI path")

    for name in ("percentile", "quantile", "unique"):
        monkeypatch.setattr(np, name, not_here)
    assert percentile_window(image) == win

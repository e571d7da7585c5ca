"""Distance, angle and region statistics on image coordinates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.dicom.measure import angle_degrees, distance, roi_mask, roi_stats


def test_distance_uses_row_and_column_spacing():
    # PixelSpacing is (row spacing, column spacing): x runs along columns
    assert distance((0, 0), (10, 0), (2.0, 0.5)) == pytest.approx(5.0)
    assert distance((0, 0), (0, 10), (2.0, 0.5)) == pytest.approx(20.0)
    assert distance((1, 1), (4, 5)) == pytest.approx(5.0)  # uncalibrated: pixels


def test_angle_in_physical_space():
    assert angle_degrees((10, 0), (0, 0), (0, 10)) == pytest.approx(90.0)
    assert angle_degrees((10, 0), (0, 0), (10, 10)) == pytest.approx(45.0)
    # with rows twice as far apart as columns, the on-screen 45° is steeper
    assert angle_degrees((10, 0), (0, 0), (10, 10), (2.0, 1.0)) == pytest.approx(
        math.degrees(math.atan2(20, 10))
    )
    assert math.isnan(angle_degrees((0, 0), (0, 0), (1, 1)))


def test_rectangle_statistics_match_numpy_on_the_covered_pixels():
    rng = np.random.default_rng(1)
    values = rng.normal(40, 10, size=(50, 60)).astype(np.float32)
    stats = roi_stats(values, "rectangle", ((10.0, 5.0), (30.0, 25.0)), (0.5, 0.25))
    block = values[5:25, 10:30].astype(np.float64)
    assert stats.n_pixels == 400
    assert stats.mean == pytest.approx(block.mean())
    assert stats.sd == pytest.approx(block.std(ddof=1))
    assert (stats.minimum, stats.maximum) == (
        pytest.approx(block.min()),
        pytest.approx(block.max()),
    )
    assert stats.area == pytest.approx(20 * 0.25 * 20 * 0.5) and stats.calibrated


def test_ellipse_takes_pixels_whose_centres_are_inside():
    mask, window = roi_mask((20, 20), "ellipse", ((2.0, 2.0), (12.0, 12.0)))
    ys, xs = np.mgrid[window[0], window[1]]
    inside = ((xs + 0.5 - 7) / 5) ** 2 + ((ys + 0.5 - 7) / 5) ** 2 <= 1
    assert np.array_equal(mask, inside)
    stats = roi_stats(np.ones((20, 20)), "ellipse", ((12.0, 12.0), (2.0, 2.0)))
    assert stats.area == pytest.approx(math.pi * 25) and not stats.calibrated
    assert stats.n_pixels == int(inside.sum())


def test_regions_outside_the_image_are_clipped_or_empty():
    values = np.arange(16, dtype=np.float32).reshape(4, 4)
    stats = roi_stats(values, "rectangle", ((-5.0, -5.0), (2.0, 1.0)))
    assert stats.n_pixels == 2 and stats.mean == pytest.approx(0.5)
    empty = roi_stats(values, "rectangle", ((10.0, 10.0), (12.0, 12.0)))
    assert empty.n_pixels == 0 and math.isnan(empty.mean)
    with pytest.raises(ValueError):
        roi_stats(values, "triangle", ((0.0, 0.0), (1.0, 1.0)))

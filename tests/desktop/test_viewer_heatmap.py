"""AI results on images: the heat map is a separate layer that never alters the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.viewer.overlay import (
    TURBO_LUT,
    heatmap_rgba,
    outline_level,
    outline_segments,
    scale_bar,
    top_region,
)
from engine.resources import resource_path
from tests.desktop.conftest import analyse_an_adult_without_age, open_and_wait

SAMPLE = resource_path("samples", "chest-cr-pa.dcm")


def _blob(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = shape
    y, x = np.mgrid[0:rows, 0:cols]
    return np.exp(
        -(((y - rows * 0.4) / (rows * 0.15)) ** 2 + ((x - cols * 0.6) / (cols * 0.1)) ** 2)
    )


def test_heatmap_toggle_leaves_the_image_pixels_unchanged(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    viewer, panel = window.viewer, window.viewer_panel
    before = viewer.rendered().copy()
    plain = viewer.grab().toImage()
    assert not panel.heatmap_action.isEnabled()

    viewer.set_heatmap(_blob(viewer.image.shape).astype(np.float32), title="test")
    assert panel.heatmap_action.isEnabled() and panel.heatmap_action.isChecked()
    assert np.array_equal(viewer.rendered(), before)
    with_heat = viewer.grab().toImage()
    assert with_heat != plain  # the layer is drawn over the image

    panel.heat_opacity.setValue(20)
    assert viewer.heatmap_opacity == pytest.approx(0.2)
    panel.heatmap_action.trigger()  # H: hide
    assert not viewer.heatmap_visible
    assert np.array_equal(viewer.rendered(), before)
    assert viewer.grab().toImage() == plain
    panel.heatmap_action.trigger()  # H: show again
    assert viewer.heatmap_visible and np.array_equal(viewer.rendered(), before)


def test_analyze_image_shows_result_and_heatmap(qtbot, window, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from tests.engine.models.factory import make_cnn_bundle

    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path / "data"))
    make_cnn_bundle(tmp_path / "data" / "models", "test-cnn-viewer")
    window.image_model_id = "test-cnn-viewer"
    open_and_wait(qtbot, window, [SAMPLE])
    viewer = window.viewer
    before = viewer.rendered().copy()
    with qtbot.waitSignal(window.analysis_jobs.finished, timeout=120000):
        window.analyze_image_action.trigger()
    p = window.results.prediction
    assert p is not None and p.model_id == "test-cnn-viewer"
    heat = viewer.heatmap
    assert heat is not None and heat.shape == viewer.image.shape
    assert 0.0 <= float(heat.min()) and float(heat.max()) <= 1.0
    assert np.array_equal(heat, p.heatmap)
    assert viewer.heatmap_frame == viewer.frame and viewer.heatmap_visible
    assert viewer.heatmap_outline_level == pytest.approx(outline_level(heat))
    assert np.array_equal(viewer.rendered(), before)
    assert "test-cnn-viewer" in window.status_text.text()
    # another image: the result and its heat map do not stay beside it
    open_and_wait(qtbot, window, [resource_path("samples", "chest-cr-pa-monochrome1.dcm")])
    assert window.results.prediction is None and viewer.heatmap is None


def test_heatmap_colours_outline_and_scale_bar_helpers():
    # Turbo: dark at 0, blue then green then red as relevance rises
    assert TURBO_LUT[0].max() < 60
    assert TURBO_LUT[64][2] > 200 > TURBO_LUT[64][0]
    assert TURBO_LUT[128][1] > 200
    assert TURBO_LUT[200][0] > 200 > TURBO_LUT[200][2]
    rgba = heatmap_rgba(np.array([[0.0, 1.0]], np.float32))
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 255  # no relevance: transparent
    assert tuple(rgba[0, 1, :3]) == tuple(TURBO_LUT[-1][::-1])  # B, G, R
    mask = np.zeros((6, 8), bool)
    mask[1:4, 2:7] = True
    segments = {tuple(s) for s in outline_segments(mask)}
    assert segments == {(2, 1, 7, 1), (2, 4, 7, 4), (2, 1, 2, 4), (7, 1, 7, 4)}
    # the outline: relevance ≥ 0.5, tightened to the top 10 % of a diffuse map
    focal = np.zeros((100, 100), np.float32)
    focal[40:50, 40:50] = 1.0
    assert outline_level(focal) == 0.5 and top_region(focal, 0.5).sum() == 100
    diffuse = np.linspace(0.0, 1.0, 10000, dtype=np.float32).reshape(100, 100)
    level = outline_level(diffuse)
    assert level == pytest.approx(0.9, abs=1e-3)
    assert top_region(diffuse, level).mean() == pytest.approx(0.10, abs=0.002)
    assert scale_bar(0.5, 250) == (100.0, 200.0)
    assert scale_bar(0.1, 100) == (10.0, 100.0)
    assert scale_bar(0.0, 100) == (0.0, 0.0)


def test_an_out_of_domain_image_gets_a_banner_and_its_heat_map_only_on_request(
    qtbot, window, tmp_path
):
    """The shipped CNN flags this adult radiograph (its age removed): no result, no heat map."""
    analyse_an_adult_without_age(qtbot, window, tmp_path)
    p = window.results.prediction
    assert p is not None and p.extra["out_of_domain"] is True and p.label == ""
    assert window.results.ood_banner.isVisible() and window.results.ood_reveal.isVisible()
    assert window.viewer.heatmap is None
    window.results.ood_reveal.click()
    assert window.viewer.heatmap is not None and window.results.score_bar.isVisible()

"""Slices, cine, presets, view transforms and overlays of the viewer."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from engine.dicom import apply_window
from engine.dicom.synthetic import write_ct_series
from engine.resources import resource_path
from tests.desktop.conftest import open_and_wait
from tests.desktop.viewer_data import shared_file, write_image

SAMPLE = resource_path("samples", "chest-cr-pa.dcm")


def _wheel(widget, steps: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)


def _hu(path) -> np.ndarray:
    """Independent reference: pydicom's stored values through the file's rescale."""
    ds = pydicom.dcmread(path)
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


@pytest.fixture()
def ct_folder(tmp_path):
    write_ct_series(tmp_path / "ct", 6, rows=48, cols=48, seed=3)
    return tmp_path / "ct"


def test_multiframe_cine_advances_frames(qtbot, window):
    emri = shared_file("dicom", "pydicom-data", "emri_small.dcm")
    open_and_wait(qtbot, window, [emri])
    viewer, panel = window.viewer, window.viewer_panel
    assert viewer.n_frames == 10 and viewer.stack.image is not None
    assert panel.slider.isEnabled() and panel.slider.maximum() == 9
    panel.fps.setValue(30)
    assert viewer.fps == 30
    seen = []
    viewer.frame_changed.connect(seen.append)
    panel.cine_action.trigger()
    assert viewer.cine_running and panel.cine_action.isChecked()
    for _ in range(3):
        qtbot.waitSignal(viewer.frame_changed, timeout=2000).wait()
    panel.cine_action.trigger()
    assert not viewer.cine_running
    assert seen[:3] == [1, 2, 3]
    frame = viewer.frame
    raw = pydicom.dcmread(emri).pixel_array[frame].astype(np.float32)
    win = viewer.window
    assert np.array_equal(viewer.rendered(), apply_window(raw, win.center, win.width))
    assert f"Frame {frame + 1}/10" in viewer.overlay_lines()[1]


def test_slices_scroll_with_wheel_keys_and_slider(qtbot, window, ct_folder):
    open_and_wait(qtbot, window, [ct_folder])
    viewer, panel = window.viewer, window.viewer_panel
    stack = viewer.stack
    assert stack.series is not None and viewer.n_frames == 6 and not stack.loading
    assert viewer.frame == 0
    _wheel(viewer, -1)  # wheel down: next slice
    assert viewer.frame == 1
    _wheel(viewer, -2)
    assert viewer.frame == 3
    _wheel(viewer, 1)
    assert viewer.frame == 2
    zoom = viewer.zoom
    _wheel(viewer, 1, Qt.KeyboardModifier.ControlModifier)  # Ctrl+wheel zooms
    assert viewer.frame == 2 and viewer.zoom > zoom
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_Down)
    assert viewer.frame == 3
    qtbot.keyClick(viewer, Qt.Key.Key_PageDown)
    assert viewer.frame == 5  # clamped at the last slice
    qtbot.keyClick(viewer, Qt.Key.Key_Home)
    assert viewer.frame == 0
    panel.slider.setValue(4)
    assert viewer.frame == 4 and panel.slice_label.text() == "5 / 6"
    # slice 4 in series order (along the normal) is what is shown, in HU
    path, _ = stack.sources[4]
    win = viewer.window
    assert np.array_equal(viewer.rendered(), apply_window(_hu(path), win.center, win.width))
    z = [p[2] for p in stack._positions]
    assert z == sorted(z, reverse=True) or z == sorted(z)
    assert any(line.startswith("Im: 5/6") for line in viewer.overlay_lines()[1])


def test_ct_presets_set_the_window(qtbot, window, ct_folder):
    open_and_wait(qtbot, window, [ct_folder])
    viewer, panel = window.viewer, window.viewer_panel
    keys = [a.data() for a in panel.preset_actions]
    assert keys[:5] == ["Lung", "Mediastinum", "Abdomen", "Bone", "Brain"]
    hu = _hu(viewer.stack.sources[0][0])
    for key, (width, level) in {
        "Lung": (1500, -600),
        "Bone": (1800, 400),
        "Brain": (80, 40),
    }.items():
        panel.preset_action(key).trigger()
        assert (viewer.window.width, viewer.window.center) == (width, level)
        assert np.array_equal(viewer.rendered(), apply_window(hu, level, width))
    assert panel.preset_actions[0].shortcut().toString() == "1"


def test_radiograph_presets_offer_every_file_window_and_the_histogram(qtbot, window, tmp_path):
    rng = np.random.default_rng(0)
    stored = rng.integers(100, 4000, size=(64, 64)).astype(np.uint16)
    path = write_image(
        tmp_path / "dx.dcm", stored, modality="DX", windows=[(2000, 4000), (1500, 1000)]
    )
    open_and_wait(qtbot, window, [path])
    viewer, panel = window.viewer, window.viewer_panel
    files = [p for p in panel.presets if p.kind == "file"]
    assert [(p.window.center, p.window.width) for p in files] == [(2000, 4000), (1500, 1000)]
    file_actions = [
        a for a, p in zip(panel.preset_actions, panel.presets, strict=True) if p.kind == "file"
    ]
    file_actions[1].trigger()
    assert (viewer.window.center, viewer.window.width) == (1500, 1000)
    panel.auto_window_action.trigger()
    lo, hi = np.percentile(stored.astype(np.float64), [1, 99])
    assert viewer.window.center == pytest.approx((lo + hi) / 2)
    assert viewer.window.width == pytest.approx(hi - lo)
    window.reset_window_action.trigger()
    assert (viewer.window.center, viewer.window.width) == (2000, 4000)


def test_invert_rotate_flip_change_the_view_not_the_values(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    viewer, panel = window.viewer, window.viewer_panel
    shown = viewer.rendered().copy()
    panel.invert_action.trigger()
    assert viewer.inverted and np.array_equal(viewer.rendered(), 255 - shown)
    panel.invert_action.trigger()
    assert np.array_equal(viewer.rendered(), shown)

    top_left = viewer.image_to_view(QPointF(0, 0))
    panel.rotate_right_action.trigger()  # clockwise: the top-left corner goes top-right
    rotated = viewer.image_to_view(QPointF(0, 0))
    assert rotated.x() > top_left.x() + 100 and abs(rotated.y() - top_left.y()) < 1
    panel.flip_h_action.trigger()  # and back to the left
    assert viewer.image_to_view(QPointF(0, 0)).x() == pytest.approx(top_left.x(), abs=1)
    panel.flip_v_action.trigger()
    assert viewer.flipped == (True, True)
    assert any("Rotated 90°" in line for line in viewer.overlay_corners()["bottom_right"])
    assert np.array_equal(viewer.rendered(), shown)
    panel.reset_view_action.trigger()
    assert viewer.rotation == 0 and viewer.flipped == (False, False)
    panel.actual_size_action.trigger()
    assert viewer.zoom == pytest.approx(1.0 / viewer.devicePixelRatioF())


def test_overlays_hide_identity_and_show_a_scale_bar(qtbot, window, tmp_path):
    path = write_image(tmp_path / "dx.dcm", np.full((200, 200), 900, np.uint16), modality="DX")
    open_and_wait(qtbot, window, [path])
    viewer, panel = window.viewer, window.viewer_panel
    corners = viewer.overlay_corners()
    assert "TEST VIEWER" in corners["top_left"] and "ID: VIEW-001" in corners["top_left"]
    assert "2024-01-02" in corners["top_right"]
    panel.identity_action.trigger()
    text = "\n".join(line for lines in viewer.overlay_corners().values() for line in lines)
    assert "TEST" not in text and "VIEW-001" not in text and "2024-01-02" not in text
    assert "1970" not in text and "DX" in text
    assert viewer.mm_per_view_pixel() == pytest.approx(0.5 / viewer.zoom)
    panel.overlay_action.trigger()
    assert not viewer.overlay_visible


def test_single_key_shortcuts_act_only_in_the_viewer(qtbot, window, ct_folder):
    open_and_wait(qtbot, window, [ct_folder])
    viewer = window.viewer
    editor = window.form.editor("age")
    editor.setFocus()
    qtbot.keyClicks(editor, "d")
    qtbot.keyClick(editor, Qt.Key.Key_Down)
    assert viewer.tool == "pan" and viewer.frame == 0  # typing is typing
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_D)
    assert viewer.tool == "distance"
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.keyClick(viewer, Qt.Key.Key_P)
    assert viewer.tool == "pan"

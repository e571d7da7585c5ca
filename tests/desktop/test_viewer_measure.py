"""Measurements in the viewer: distance, angle, regions, calibration warnings, deletion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.desktop.conftest import open_and_wait
from tests.desktop.viewer_data import drag, view_point, write_image


def _tool(window, name: str):
    action = next(a for a in window.viewer_panel.tool_actions if a.data() == name)
    action.trigger()
    assert window.viewer.tool == name


def test_distance_on_a_file_with_pixel_spacing_reads_millimetres(qtbot, window, tmp_path):
    path = write_image(tmp_path / "dx.dcm", np.full((200, 200), 1000, np.uint16), modality="DX")
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer
    _tool(window, "distance")
    start, end = view_point(viewer, 20, 30), view_point(viewer, 120, 30)
    drag(qtbot, viewer, start, end)

    (m,) = viewer.measurements
    (x0, y0), (x1, y1) = m.points
    expected = math.hypot((x1 - x0) * 0.5, (y1 - y0) * 0.5)  # PixelSpacing 0.5\0.5
    assert viewer.measurement_value(m) == pytest.approx(expected)
    assert expected == pytest.approx(50.0, abs=0.5)  # 100 pixels, to a mouse pixel
    rows = window.measurements.rows()
    assert rows == [f"Distance, image 1: {expected:.1f} mm"]
    assert viewer.calibration_warning() == ""
    assert not window.measurements.warning.isVisible()


def test_region_statistics_on_a_ct_in_hounsfield_units(qtbot, window, tmp_path):
    hu = np.full((64, 64), -1000, np.int32)
    hu[4:60, 4:60] = 40  # water-like insert
    check = (np.add.outer(np.arange(16), np.arange(16)) % 2).astype(np.int32)
    hu[8:24, 8:24] = np.where(check == 1, 70, 10)  # checkerboard of 10 and 70 HU
    stored = (hu + 1024).astype(np.uint16)
    path = write_image(tmp_path / "ct.dcm", stored, modality="CT", intercept=-1024.0)
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer

    # a rectangle exactly over the checkerboard: statistics against numpy
    m = viewer.add_measurement("rectangle", [(8.0, 8.0), (24.0, 24.0)])
    stats = viewer.measurement_value(m)
    block = hu[8:24, 8:24].astype(np.float64)
    assert stats.mean == pytest.approx(block.mean()) and stats.mean == pytest.approx(40.0)
    assert stats.sd == pytest.approx(block.std(ddof=1))
    assert (stats.minimum, stats.maximum) == (10.0, 70.0)
    assert stats.n_pixels == 256
    assert stats.area == pytest.approx(16 * 16 * 0.25)  # mm²
    text = viewer.measurement_text(m)
    assert "Mean 40.0 HU" in text and "Area 64.0 mm²" in text

    # an ellipse drawn with the mouse inside the uniform 40 HU region
    _tool(window, "ellipse")
    drag(qtbot, viewer, view_point(viewer, 30, 30), view_point(viewer, 54, 50))
    ellipse = viewer.measurements[-1]
    assert ellipse.kind == "ellipse"
    stats = viewer.measurement_value(ellipse)
    assert (stats.mean, stats.sd, stats.minimum, stats.maximum) == (40.0, 0.0, 40.0, 40.0)
    (x0, y0), (x1, y1) = ellipse.points
    assert stats.area == pytest.approx(math.pi / 4 * abs(x1 - x0) * abs(y1 - y0) * 0.25)
    assert len(window.measurements.rows()) == 2


def test_angle_is_drawn_with_two_arms(qtbot, window, tmp_path):
    path = write_image(tmp_path / "dx.dcm", np.full((100, 100), 500, np.uint16), modality="DX")
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer
    _tool(window, "angle")
    a, vertex, c = (
        view_point(viewer, 80, 20),
        view_point(viewer, 20, 20),
        view_point(viewer, 20, 80),
    )
    drag(qtbot, viewer, a, vertex)  # first arm, ending at the vertex
    qtbot.mouseMove(viewer, c)
    qtbot.mouseClick(viewer, Qt.MouseButton.LeftButton, pos=c)  # end of the second arm
    (m,) = viewer.measurements
    assert m.kind == "angle" and len(m.points) == 3
    assert viewer.measurement_value(m) == pytest.approx(90.0, abs=1.5)
    assert viewer.measurement_text(m).endswith("°")


def test_only_imager_pixel_spacing_shows_a_warning(qtbot, window, tmp_path):
    path = write_image(
        tmp_path / "cr.dcm",
        np.full((100, 100), 800, np.uint16),
        modality="DX",
        pixel_spacing=None,
        imager_spacing=(0.2, 0.2),
    )
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer
    m = viewer.add_measurement("distance", [(10.0, 10.0), (60.0, 10.0)])
    assert viewer.measurement_value(m) == pytest.approx(10.0)  # 50 px × 0.2 mm at the detector
    warning = window.measurements.warning
    assert warning.isVisible() and "Imager Pixel Spacing" in warning.text()
    assert "Imager Pixel Spacing" in viewer.calibration_warning()
    assert any("Imager Pixel Spacing" in text for text, warn in viewer.overlay_notes() if warn)
    assert "mm" in window.measurements.rows()[0]


def test_without_spacing_measurements_are_in_pixels(qtbot, window, tmp_path):
    path = write_image(
        tmp_path / "ot.dcm", np.full((50, 50), 10, np.uint16), modality="DX", pixel_spacing=None
    )
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer
    m = viewer.add_measurement("distance", [(0.0, 0.0), (30.0, 40.0)])
    assert viewer.measurement_text(m) == "50.0 px"
    assert "pixels" in window.measurements.warning.text()


def test_measurements_follow_rotation_and_delete_key_removes_the_selected_one(
    qtbot, window, tmp_path
):
    path = write_image(tmp_path / "dx.dcm", np.full((100, 200), 500, np.uint16), modality="DX")
    open_and_wait(qtbot, window, [path])
    viewer = window.viewer
    first = viewer.add_measurement("distance", [(10.0, 10.0), (90.0, 10.0)])
    second = viewer.add_measurement("rectangle", [(20.0, 20.0), (40.0, 60.0)])
    value = viewer.measurement_value(first)
    before = view_point(viewer, 10, 10)
    window.viewer_panel.rotate_right_action.trigger()
    after = view_point(viewer, 10, 10)
    assert viewer.rotation == 90 and before != after  # drawn where the image point now is
    assert viewer.measurement_value(first) == value  # image coordinates, unchanged

    viewer.select_measurement(second.id)
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_Delete)
    assert [m.id for m in viewer.measurements] == [first.id]
    assert len(window.measurements.rows()) == 1
    window.viewer_panel.clear_measurements_action.trigger()
    assert viewer.measurements == ()


_HIDPI_SCRIPT = r"""
import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
from desktop.viewer.image_view import ImageView
from desktop.viewer.stack import ImageStack, StackInfo
from engine.dicom import DicomImage
from pathlib import Path

app = QApplication([])
image = DicomImage(path=Path("x.dcm"), frames=np.zeros((1, 100, 100), np.float32),
                   photometric="MONOCHROME2", windows=())
view = ImageView()
view.resize(200, 200)
view.show()
view.set_stack(ImageStack.from_image(image, StackInfo()))
view.set_overlay_visible(False)
view.add_measurement("distance", [(10.0, 50.0), (90.0, 50.0)])
app.processEvents()
grab = view.grab().toImage()
ratio = view.devicePixelRatioF()
x = round(grab.width() / 2)
centre = round(view.image_to_view(QPointF(50.0, 50.0)).y() * ratio)
# the line's weight in device pixels: its (selected, cyan) coverage down one column
rows = range(centre - 12, centre + 13)
weight = sum(QColor(grab.pixel(x, y)).green() for y in rows) / 220.0
print(ratio, weight)
"""


def test_overlay_lines_keep_their_weight_on_hidpi_screens(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    widths = {}
    for scale in ("1", "2"):
        env["QT_SCALE_FACTOR"] = scale
        done = subprocess.run(
            [sys.executable, "-c", _HIDPI_SCRIPT], cwd=REPO, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        ratio, weight = done.stdout.split()
        assert float(ratio) == float(scale)
        widths[scale] = float(weight)
    # 1.5 logical pixels: 1.5 device pixels at 1×, 3 at 2×
    assert widths["1"] == pytest.approx(1.5, rel=0.25)
    assert widths["2"] / widths["1"] == pytest.approx(2.0, rel=0.2)

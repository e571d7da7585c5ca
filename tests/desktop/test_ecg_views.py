"""ECG paper in real millimetres: grid, calibration pulse, 12-lead layout, caliper."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from desktop.ecg.paper import MM_PER_INCH, TWELVE_LEAD_COLUMNS, paper_colours, twelve_lead_cells
from desktop.ecg.views import StripView, TwelveLeadView, column_maxima
from engine.ecg import detect_qrs, lead, read_signal
from engine.resources import resource_path

DICOM_ECG = resource_path("samples", "ecg-12-lead.dcm")


def pixels(widget) -> np.ndarray:
    """The widget as painted: ``(rows, cols, 3)`` uint8 RGB."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return raw[:, : w * 3].reshape(h, w, 3).copy()


def rgb(colour) -> tuple[int, int, int]:
    return colour.red(), colour.green(), colour.blue()


def runs(mask: np.ndarray) -> np.ndarray:
    """Centres of the runs of True in a 1-D mask."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return idx.astype(float)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return (starts + ends) / 2.0


@pytest.fixture(scope="module")
def dicom_signal():
    return read_signal(DICOM_ECG)


@pytest.mark.parametrize("dpi", [None, 96.0, 150.0])
def test_major_and_minor_grid_lines_are_5_and_1_mm_apart_at_the_dpi(qtbot, dpi):
    view = StripView()
    qtbot.addWidget(view)
    view.resize(900, 320)
    view.set_dpi(dpi)
    used = view.dpi()[0]
    if dpi is None:
        assert used == view.screen().physicalDotsPerInchX()  # the screen's own density
    image = pixels(view)
    major = np.all(image == rgb(paper_colours(view.palette()).major), axis=2)
    mm = used / MM_PER_INCH
    y_between = round(2.5 * mm)  # halfway between horizontal lines at 2 and 3 mm
    x_between = round(2.5 * mm)
    for centres in (runs(major[y_between, :]), runs(major[:, x_between])):
        gaps = np.diff(centres)
        assert len(centres) >= 4
        assert abs(gaps.mean() - 5 * mm) < 0.1, (gaps, 5 * mm)
        assert np.all(np.abs(gaps - 5 * mm) <= 1.0)
    minor = np.all(image == rgb(paper_colours(view.palette()).minor), axis=2)
    both = runs(minor[y_between, :] | major[y_between, :])
    assert abs(np.diff(both).mean() - mm) < 0.05


@pytest.mark.parametrize("gain", [5.0, 10.0, 20.0])
def test_calibration_pulse_is_1_mv_high_and_200_ms_wide(qtbot, dicom_signal, gain):
    view = TwelveLeadView()
    qtbot.addWidget(view)
    view.set_dpi(96.0)
    view.set_gain(gain)
    view.set_signal(dicom_signal)
    view.resize(view.sizeHint())
    image = pixels(view)
    dark = image.max(axis=2) < 110  # the black trace (grid lines are pink)
    s = view.scale()
    mm = 96.0 / MM_PER_INCH
    row_top, row_bottom = 0, round(s.row_mm * mm)
    # The pulse's top is where, mid-pulse, the trace leaves the 0 mV line.
    mid_pulse = round((2.5 + 0.1 * s.speed_mm_s) * mm)
    before_pulse = round(1.0 * mm)
    top = runs(dark[row_top:row_bottom, mid_pulse])
    baseline = runs(dark[row_top:row_bottom, before_pulse])
    assert len(top) == 1 and len(baseline) == 1
    height_mm = (baseline[0] - top[0]) / mm
    assert height_mm == pytest.approx(gain * 1.0, abs=0.3)  # 1 mV at `gain` mm/mV
    # Width: the top edge spans 200 ms = 5 mm at 25 mm/s.
    top_row = round(top[0])
    top_edge = np.flatnonzero(dark[top_row, : round(s.margin_mm * mm)])
    width_mm = (top_edge.max() - top_edge.min()) / mm
    assert width_mm == pytest.approx(0.2 * s.speed_mm_s, abs=0.4)


def test_twelve_lead_layout_has_the_standard_cells_and_a_rhythm_strip(qtbot, dicom_signal):
    cells = twelve_lead_cells(dicom_signal.leads)
    grid = {(c.row, c.column): c for c in cells if not c.is_rhythm}
    assert [grid[(r, 0)].lead for r in range(3)] == ["I", "II", "III"]
    assert [grid[(r, 1)].lead for r in range(3)] == ["aVR", "aVL", "aVF"]
    assert [grid[(r, 2)].lead for r in range(3)] == ["V1", "V2", "V3"]
    assert [grid[(r, 3)].lead for r in range(3)] == ["V4", "V5", "V6"]
    for c in grid.values():
        assert dicom_signal.leads[c.lead_index] == c.lead
        assert (c.t0, c.t1) == (2.5 * c.column, 2.5 * (c.column + 1))
    rhythm = [c for c in cells if c.is_rhythm]
    assert len(rhythm) == 1 and rhythm[0].lead == "II" and (rhythm[0].t0, rhythm[0].t1) == (0, 10)
    assert len(TWELVE_LEAD_COLUMNS) * 3 + 1 == len(cells) == 13


def test_each_lead_is_drawn_in_its_cell_at_its_voltage(qtbot, dicom_signal):
    view = TwelveLeadView()
    qtbot.addWidget(view)
    view.set_dpi(96.0)
    view.set_signal(dicom_signal)
    view.resize(view.sizeHint())
    image = pixels(view)
    dark = image.max(axis=2) < 110
    s = view.scale()
    for cell in view.cells():
        rect = view.cell_rect(cell)
        samples = lead(dicom_signal, cell.lead)
        i0, i1 = int(cell.t0 * dicom_signal.fs), int(cell.t1 * dicom_signal.fs)
        peak = i0 + int(np.argmax(samples[i0:i1]))
        x = round(rect.left() + (peak / dicom_signal.fs - cell.t0) * s.px_per_s)
        y = view.row_baseline(cell.row) - float(samples[peak]) * s.px_per_mv
        column = dark[:, max(0, x - 1) : x + 2].any(axis=1)
        near = np.flatnonzero(column[max(0, round(y) - 3) : round(y) + 4])
        assert near.size, (
            f"{cell.lead} (row {cell.row}, column {cell.column}) not drawn at its peak"
        )
        # Rows follow each other; columns start 2.5 s × speed apart.
        assert rect.left() == pytest.approx((s.margin_mm + cell.t0 * s.speed_mm_s) * s.px_per_mm_x)
        assert rect.top() == pytest.approx(cell.row * s.row_mm * s.px_per_mm_y)


def test_caliper_reads_an_rr_interval_its_rate_and_an_amplitude(qtbot, dicom_signal):
    view = StripView()
    qtbot.addWidget(view)
    view.set_dpi(200.0)
    view.resize(1400, 500)
    view.set_signal(dicom_signal)
    view.show()
    qtbot.waitExposed(view)
    ii = lead(dicom_signal, "II")
    peaks = detect_qrs(ii, dicom_signal.fs)
    first, second = (int(p) for p in peaks[1:3])
    rr_ms = (second - first) / dicom_signal.fs * 1000.0
    s = view.scale()
    baseline = view.row_baseline(dicom_signal.leads.index("II"))
    start = QPoint(round(view.x_for_time(first / dicom_signal.fs)), round(baseline))
    end = QPoint(
        round(view.x_for_time(second / dicom_signal.fs)),
        round(baseline - float(ii[second]) * s.px_per_mv),
    )
    emitted = []
    view.caliper_changed.connect(emitted.append)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, end)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)
    reading = emitted[-1]
    assert reading == view.caliper_reading()
    one_px_ms = 1000.0 / s.px_per_s
    assert reading.dt_ms == pytest.approx(rr_ms, abs=one_px_ms + 0.5)
    assert reading.heart_rate_bpm == pytest.approx(60000.0 / rr_ms, rel=0.02)
    assert reading.dv_mv == pytest.approx(float(ii[second]), abs=1.0 / s.px_per_mv + 0.01)
    # A plain click removes it.
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=start)
    assert emitted[-1] is None and view.caliper_reading() is None


def test_speed_and_gain_scale_the_paper(qtbot):
    view = StripView()
    qtbot.addWidget(view)
    view.set_dpi(100.0)
    base = view.scale()
    view.set_speed(50.0)
    view.set_gain(20.0)
    fast = view.scale()
    assert fast.px_per_s == pytest.approx(2 * base.px_per_s)
    assert fast.px_per_mv == pytest.approx(2 * base.px_per_mv)
    view.set_calibration(1.1)
    assert view.scale().px_per_mm_x == pytest.approx(100.0 / 25.4 * 1.1)


def test_column_maxima_take_the_largest_sample_under_each_pixel():
    values = np.array([0, 5, 1, 2, 9, 3, 0, 0], dtype=np.float32)
    # 1 sample per second, 0.5 px per second: each column covers two samples.
    assert column_maxima(values, 1.0, 0.0, 0.5, 4).tolist() == [5, 2, 9, 0]
    # 2 px per sample: each sample fills two columns; past the end is 0.
    assert column_maxima(values[:2], 1.0, 0.0, 2.0, 6).tolist() == [0, 0, 5, 5, 0, 0]

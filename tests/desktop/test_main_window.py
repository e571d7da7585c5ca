"""Drive the real main window: open, view, fill the record, analyse, cancel."""

from __future__ import annotations

import numpy as np
import pydicom
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QComboBox

from desktop.viewer.image_view import window_after_drag
from engine.dicom import apply_window
from engine.resources import resource_path
from tests.desktop.conftest import DEFAULT_RECORD_MODEL, VALID_RECORD, open_and_wait

SAMPLE = resource_path("samples", "chest-cr-pa.dcm")
SAMPLE_M1 = resource_path("samples", "chest-cr-pa-monochrome1.dcm")


def test_sample_opens_with_the_expected_window(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    viewer = window.viewer
    raw = pydicom.dcmread(SAMPLE).pixel_array.astype(np.float32)
    assert viewer.image is not None and viewer.image.modality == "CR"
    # The file has no window: the viewer uses the full stored range, so the
    # darkest stored value is black and the brightest white.
    win = viewer.window
    assert win == viewer.image.default_window()
    assert win.center - win.width / 2 <= raw.min() and raw.max() <= win.center + win.width / 2
    shown = viewer.rendered()
    assert np.array_equal(shown, apply_window(raw, win.center, win.width))
    assert shown[raw == raw.min()].max() == 0 and shown[raw == raw.max()].min() == 255
    top, bottom = viewer.overlay_lines()
    assert any("CR" in line for line in top)
    assert any(f"W: {win.width:.0f}" in line and f"L: {win.center:.0f}" in line for line in bottom)


def test_monochrome1_is_shown_inverted(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE_M1])
    raw = pydicom.dcmread(SAMPLE_M1).pixel_array
    shown = window.viewer.rendered().astype(int)
    bright_stored = raw >= np.percentile(raw, 99)
    dark_stored = raw <= np.percentile(raw, 1)
    assert shown[bright_stored].mean() < 30 < 225 < shown[dark_stored].mean()


def test_right_drag_changes_window_as_the_formula_says(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    viewer = window.viewer
    start = viewer.window
    centre = viewer.rect().center()
    qtbot.mousePress(viewer, Qt.MouseButton.RightButton, pos=centre)
    qtbot.mouseMove(viewer, centre + QPoint(60, -40))
    qtbot.mouseRelease(viewer, Qt.MouseButton.RightButton, pos=centre + QPoint(60, -40))
    expected_c, expected_w = window_after_drag(start, 60, -40, viewer._wl_step)
    assert viewer.window.center == expected_c and viewer.window.width == expected_w
    raw = viewer.image.frames[0]
    assert np.array_equal(viewer.rendered(), apply_window(raw, expected_c, expected_w))


def test_wheel_zooms_and_fit_restores(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    viewer = window.viewer
    fitted = viewer.zoom
    viewer.set_zoom(fitted * 2, QPointF(10, 10))
    assert viewer.zoom == fitted * 2
    window.fit_action.trigger()
    assert viewer.zoom == fitted


def test_invalid_value_shows_inline_message_and_disables_analyze(qtbot, window):
    window.form.set_record(VALID_RECORD)
    assert window.analyze_button.isEnabled()
    editor = window.form.editor("trestbps")
    editor.clear()
    qtbot.keyClicks(editor, "400")
    assert "at most 260 mmHg" in window.form.message("trestbps")
    assert not window.analyze_button.isEnabled()
    assert not window.analyze_action.isEnabled()
    editor.clear()
    qtbot.keyClicks(editor, "abc")
    assert "must be a number" in window.form.message("trestbps")
    editor.clear()
    qtbot.keyClicks(editor, "145")
    assert window.form.message("trestbps") == ""
    assert window.analyze_button.isEnabled()


def test_choice_fields_are_named_not_coded(window):
    box = window.form.editor("cp")
    assert isinstance(box, QComboBox)
    labels = [box.itemText(i) for i in range(box.count())]
    assert "Typical angina" in labels and "Asymptomatic" in labels


def test_analyze_shows_probability_label_model_and_intended_use(qtbot, window):
    window.form.set_record(VALID_RECORD)
    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        qtbot.mouseClick(window.analyze_button, Qt.MouseButton.LeftButton)
    panel = window.results
    p = panel.prediction
    assert p is not None and p.model_id == DEFAULT_RECORD_MODEL
    assert f"{p.score:.1%}" in panel.title.text()
    assert p.label in panel.label.text()
    assert p.model_id in panel.model.text() and p.model_version in panel.model.text()
    assert "coronary artery disease" in panel.intended_use.text()
    assert panel.support.isVisible()
    assert panel.contributions.rowCount() == 13


def _slow_engine_work(*, progress, cancel):
    """Real engine work that takes seconds: repeated cross-validation."""
    from engine.records.uci import read_uci_heart
    from engine.train.data import shared_data_dir
    from engine.train.heart import cross_validate

    X, y = read_uci_heart(shared_data_dir() / "tabular" / "uci-heart" / "processed.cleveland.data")
    return cross_validate(X, y, repeats=200, progress=progress, cancel=cancel)


def test_cancel_stops_the_job_and_restores_the_ui(qtbot, window, shared_data):
    runner = window.analysis_jobs
    runner.submit(_slow_engine_work, name="slow")
    assert window.cancel_button.isVisible()
    qtbot.waitSignal(runner.progressed, timeout=30000).wait()
    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert not runner.busy
    assert not window.cancel_button.isVisible()
    assert window.status_text.text() == "Cancelled."
    assert runner.wait(30.0)  # the worker itself stopped at its next check


def test_bad_files_give_a_message_and_the_app_stays_usable(qtbot, window, tmp_path):
    text_file = tmp_path / "report.dcm"
    text_file.write_text("not an image")
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(SAMPLE.read_bytes()[:5000])
    for bad, words in ((text_file, "not a DICOM file"), (truncated, "truncated")):
        with qtbot.waitSignal(window.image_jobs.failed, timeout=20000):
            window.open_paths([bad])
        box = window.last_error
        assert box is not None and box.isVisible()
        assert bad.name in box.text() and words in box.text()
        assert "Traceback" in box.detailedText()
        box.close()
    open_and_wait(qtbot, window, [SAMPLE])
    assert window.viewer.image.path == SAMPLE


def test_folder_open_skips_bad_files(qtbot, window, tmp_path):
    (tmp_path / "a_readme.txt").write_text("hello")
    (tmp_path / "b.dcm").write_bytes(SAMPLE.read_bytes())
    open_and_wait(qtbot, window, [tmp_path])
    assert window.viewer.image is not None
    assert "1 file(s) could not be read" in window.status_text.text()


def test_drop_opens_the_file(qtbot, window):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(SAMPLE))])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    # Offscreen Qt has no drag session, so deliver the drop to the handler.
    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        window.dropEvent(event)
    assert event.isAccepted()
    assert window.viewer.image is not None


def test_a_wfdb_record_given_to_open_opens_in_the_ecg_view(qtbot, window):
    """`stethos 119.hea` (or its .dat) is an ECG, not "not a DICOM file"."""
    record = resource_path("samples", "mitdb", "119.dat")
    window.open_paths([record])
    qtbot.waitUntil(lambda: window.ecg.signal is not None, timeout=20000)
    assert window.tabs.currentWidget() is window.ecg
    assert window.last_error is None

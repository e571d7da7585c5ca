"""The ECG panel: open through a job, analyse with the beat model, read the beats."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop.ecg import install_ecg_panel
from desktop.ecg.beat_list import BEAT_ROLE, BeatListModel
from desktop.ecg.panel import LAYOUT_12_LEAD, LAYOUT_STRIPS
from desktop.ecg.paper import CLASS_COLOURS, format_time
from desktop.settings import Preferences
from engine.ecg import read_signal
from engine.resources import resource_path
from tests.desktop.test_ecg_views import pixels

DICOM_ECG = resource_path("samples", "ecg-12-lead.dcm")
HOLTER = resource_path("samples", "mitdb", "119.hea")


@pytest.fixture()
def panel(ecg_panel):
    return ecg_panel


def load(qtbot, panel, path):
    with qtbot.waitSignal(panel.signal_loaded, timeout=30000):
        panel.open_signal(path)


def analyze(qtbot, panel, explain):
    panel.explain = explain
    with qtbot.waitSignal(panel.analysis_done, timeout=120000):
        qtbot.mouseClick(panel.analyze_button, Qt.MouseButton.LeftButton)
    return panel.prediction


def test_dicom_ecg_opens_as_a_12_lead_print(qtbot, panel):
    load(qtbot, panel, DICOM_ECG)
    assert panel.current_layout == LAYOUT_12_LEAD
    assert panel.stack.currentWidget().widget() is panel.twelve_lead
    assert [c.lead for c in panel.twelve_lead.cells() if c.lead_index is not None] == [
        "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "II",
    ]  # fmt: skip
    assert "12 leads" in panel.info.text() and "1000 Hz" in panel.info.text()
    # The print is fitted to the view: no sideways scrolling (within the fitting range).
    viewport = panel.twelve_scroll.viewport()
    assert panel.twelve_lead.width() <= viewport.width() + 1
    assert panel.twelve_lead.width() >= 0.95 * viewport.width() or (
        panel.twelve_lead.height() >= 0.95 * viewport.height()
    )
    assert panel.analyze_button.isEnabled() and panel.analyze_action.isEnabled()


def test_a_single_lead_handheld_recording_says_one_lead(qtbot, panel, shared_data):
    load(qtbot, panel, shared_data / "ecg" / "cinc2017-train" / "A00243.hea")
    assert panel.current_layout == LAYOUT_STRIPS
    text = panel.info.text()
    assert "1 lead (ECG)" in text and "leads" not in text and "300 Hz" in text


def test_a_record_that_does_not_name_its_lead_says_unnamed(qtbot, panel, tmp_path):
    sample = resource_path("samples") / "cinc2017" / "A00250.hea"
    record, signal_line = sample.read_text().splitlines()[:2]
    (tmp_path / "A00250.dat").write_bytes(sample.with_suffix(".dat").read_bytes())
    header = tmp_path / "nameless.hea"
    header.write_text(
        f"nameless {record.split(maxsplit=1)[1]}\n{signal_line.rsplit(maxsplit=1)[0]}\n"
    )
    load(qtbot, panel, header)
    assert "1 lead (unnamed)" in panel.info.text() and "None" not in panel.info.text()


def test_a_gap_in_the_file_is_shaded_and_kept_beside_the_rhythm_episodes(qtbot, panel, tmp_path):
    import wfdb

    rec = wfdb.rdrecord(str(HOLTER.with_suffix("")), sampto=360 * 60)
    x = rec.p_signal.copy()
    x[360 * 20 : 360 * 25, 0] = np.nan  # 5 s without signal in MLII
    wfdb.wrsamp("gap", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    load(qtbot, panel, tmp_path / "gap.hea")
    band = (20.0, 25.0, "No signal: MLII")  # the lead it is missing from
    assert panel.strip.episodes == (band,) and panel.twelve_lead.episodes == (band,)
    with qtbot.waitSignal(panel.analysis_done, timeout=120000):
        panel.analyze_rhythm()
    assert band in panel.strip.episodes
    assert panel.prediction.extra["rhythm"]["pauses"] == []


def test_two_lead_holter_opens_as_scrolling_strips_with_a_time_slider(qtbot, panel):
    load(qtbot, panel, HOLTER)
    assert panel.current_layout == LAYOUT_STRIPS
    signal = panel.signal
    assert signal.leads == ("MLII", "V1") and signal.duration_s > 1800
    strip = panel.strip
    assert 5 < strip.visible_s() < 30
    # The two rows share the view's height (at least the paper's row each): no empty canvas
    # below them, and each lead's zero line sits in the middle part of its row.
    qtbot.waitUntil(lambda: strip.height() >= panel.strip_scroll.viewport().height() - 2)
    viewport = panel.strip_scroll.viewport().height()
    assert strip.row_rect(1).bottom() > 0.85 * viewport
    assert strip.row_mm() >= strip.scale().row_mm
    for row in (0, 1):
        rect = strip.row_rect(row)
        assert rect.top() + 0.3 * rect.height() < strip.row_baseline(row) < rect.bottom()
    slider = panel.time_slider
    assert slider.isEnabled()
    assert slider.maximum() / 100 == pytest.approx(signal.duration_s - strip.visible_s(), abs=0.02)
    slider.setValue(slider.maximum())
    assert strip.position_s == pytest.approx(strip.max_position_s(), abs=0.01)
    assert "30:05" in panel.time_label.text()
    strip.set_position(600.0)
    assert slider.value() == 60000


def test_a_bad_file_reports_the_engine_message_and_the_panel_stays_usable(qtbot, panel, tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_text("not an ECG")
    with qtbot.waitSignal(panel.jobs.failed, timeout=30000) as failed:
        panel.open_signal(bad)
    failure = failed.args[0]
    assert "notes.dcm" in failure.user_message
    assert panel.info.text() == failure.user_message
    assert panel.signal is None and not panel.analyze_button.isEnabled()
    load(qtbot, panel, DICOM_ECG)
    assert panel.signal is not None


def test_holter_analysis_lists_v_beats_draws_labels_and_jumps_to_a_beat(qtbot, panel):
    load(qtbot, panel, HOLTER)
    p = analyze(qtbot, panel, explain=False)
    counts = p.extra["beat_counts"]
    reference = read_signal(HOLTER).annotations.beats()
    assert counts["V"] >= 0.8 * sum(1 for s in reference.symbols if s == "V")  # bigeminy found
    model = panel.beat_list.model()
    v_group = model.class_index("V")
    assert model.rowCount(v_group) == counts["V"]
    assert model.data(v_group).startswith("V ") and model.data(v_group).endswith(f": {counts['V']}")
    assert panel.beat_list.isExpanded(v_group) and not panel.beat_list.isExpanded(
        model.class_index("N")
    )
    assert panel.results.beat_count("V") == counts["V"]
    assert "ecg-beats-bilstm-360" in panel.results.model.text()

    # Labels are painted above the analysed lead (MLII), in their class colour.
    strip = panel.strip
    image = pixels(strip)
    drawn = {b.label for b in strip.drawn_beats}
    assert "V" in drawn and "N" in drawn
    red = np.array([int(CLASS_COLOURS["V"][i : i + 2], 16) for i in (1, 3, 5)])
    for beat in [b for b in strip.drawn_beats if b.label == "V"][:3]:
        x, y = round(beat.position.x()), round(beat.position.y())
        patch = image[max(0, y - 14) : y + 2, x - 6 : x + 7].reshape(-1, 3).astype(int)
        assert (np.abs(patch - red).sum(axis=1) < 60).any(), "no V-coloured letter at the beat"

    # Clicking a V beat late in the record scrolls there and highlights it.
    v_index = [i for i, b in enumerate(p.beats) if b.label == "V"][300]
    item = panel.beat_item(v_index)
    assert item.parent() == v_group and model.data(item, BEAT_ROLE) == v_index
    assert model.data(item).endswith("  V") and model.data(item.siblingAtColumn(1)).endswith("%")
    panel.beat_list.scrollTo(item)
    rect = panel.beat_list.visualRect(item)
    qtbot.mouseClick(panel.beat_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    t = p.beats[v_index].sample / panel.signal.fs
    assert strip.highlighted_beat == v_index
    assert strip.position_s < t < strip.position_s + strip.visible_s()
    assert strip.position_s == pytest.approx(t - strip.visible_s() / 2, abs=0.01)
    assert panel.time_slider.value() == round(strip.position_s * 100)
    pixels(strip)  # repaint at the new position
    assert v_index in {b.index for b in strip.drawn_beats}


def test_dicom_analysis_shades_attributions_on_lead_ii_and_the_toggle_hides_them(qtbot, panel):
    load(qtbot, panel, DICOM_ECG)
    p = analyze(qtbot, panel, explain=True)
    assert p.extra["lead"] == "II" and p.attribution is not None
    view = panel.twelve_lead
    pixels(view)
    assert [b.label for b in view.drawn_beats] == ["N"] * p.extra["beat_counts"]["N"]
    cell = next(c for c in view.cells() if c.lead == "II" and c.column == 0 and not c.is_rhythm)
    rect = view.cell_rect(cell).toRect()

    def shaded_pixels() -> int:
        area = pixels(view)[rect.top() : rect.bottom(), rect.left() : rect.right()].astype(int)
        # The orange band: green well above blue (paper, grid and trace are grey or pink).
        return int(((area[..., 1] - area[..., 2]) > 15).sum())

    assert shaded_pixels() > 200
    panel.attribution_check.setChecked(False)
    assert shaded_pixels() == 0
    panel.attribution_check.setChecked(True)
    assert shaded_pixels() > 200


def test_analysis_reports_progress_and_can_be_cancelled(qtbot, panel):
    load(qtbot, panel, HOLTER)
    panel.explain = True  # explaining 2000 beats takes long enough to cancel
    with qtbot.waitSignal(panel.jobs.progressed, timeout=30000):
        panel.analyze()
    assert panel.cancel_button.isVisible() and not panel.analyze_button.isEnabled()
    with qtbot.waitSignal(panel.jobs.cancelled, timeout=5000):
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert not panel.jobs.busy and panel.prediction is None
    assert not panel.cancel_button.isVisible() and panel.analyze_button.isEnabled()
    assert panel.jobs.wait(120.0)


def test_speed_gain_and_preferences_reach_both_views(qtbot, panel):
    load(qtbot, panel, DICOM_ECG)
    width_25 = panel.twelve_lead.width()
    panel.set_speed(50.0)
    assert panel.twelve_lead.width() > 1.9 * width_25 - 40
    panel.apply_preferences(
        Preferences(ecg_speed_mm_s=12.5, ecg_gain_mm_mv=20.0, screen_calibration=1.2, device="cpu")
    )
    assert panel.speed_box.currentData() == 12.5 and panel.gain_box.currentData() == 20.0
    assert panel.device == "cpu"
    for view in (panel.twelve_lead, panel.strip):
        s = view.scale()
        assert (s.speed_mm_s, s.gain_mm_mv) == (12.5, 20.0)
        assert s.px_per_mm_x == pytest.approx(view.dpi()[0] * view.zoom / 25.4 * 1.2)


def test_install_adds_a_tab_and_menu_actions(qtbot):
    from PySide6.QtWidgets import QMainWindow, QTabWidget

    window = QMainWindow()
    qtbot.addWidget(window)
    tabs = QTabWidget()
    window.setCentralWidget(tabs)
    file_menu = window.menuBar().addMenu("File")
    analysis_menu = window.menuBar().addMenu("Analysis")
    panel = install_ecg_panel(tabs, file_menu=file_menu, analysis_menu=analysis_menu)
    assert tabs.widget(tabs.count() - 1) is panel and tabs.tabText(tabs.count() - 1) == "ECG"
    assert panel.open_action in file_menu.actions()
    assert panel.analyze_action in analysis_menu.actions()
    with qtbot.waitSignal(panel.signal_loaded, timeout=30000):
        panel.open_sample_action.trigger()
    assert panel.signal.source.name == "ecg-12-lead.dcm"
    panel.shutdown()


def test_the_12_lead_print_can_be_shown_at_real_size(qtbot, panel):
    load(qtbot, panel, DICOM_ECG)
    fitted = panel.twelve_lead.zoom
    panel.real_size_check.setChecked(True)
    assert panel.twelve_lead.zoom == 1.0
    panel.resize(1000, 700)  # a resize no longer refits
    qtbot.wait(20)
    assert panel.twelve_lead.zoom == 1.0
    panel.real_size_check.setChecked(False)
    assert panel.twelve_lead.zoom != 1.0 or fitted == 1.0


def test_beat_list_model_serves_a_days_beats_by_class(qtbot) -> None:
    """A 24-hour Holter's 110,000 beats: one row per class, its beats in time order under it,
    and any beat found from its index (the list no longer makes an item per beat)."""
    from engine.workflow import BeatResult, Prediction

    rng = np.random.default_rng(5)
    labels = rng.choice(["N", "V", "S", "X"], size=110_000, p=[0.88, 0.09, 0.02, 0.01])
    beats = tuple(
        BeatResult(int(250 * i), str(c), {str(c): 0.91}) for i, c in enumerate(labels.tolist())
    )
    counts = {c: int((labels == c).sum()) for c in ("N", "S", "V", "F", "Q")}
    p = Prediction("m", "1", "m", "", "", {}, "V", "V", "default", 0.5, 0.0, 0.0, "cpu", 0.0, "",
                   extra={"beat_counts": counts}, beats=beats)  # fmt: skip
    model = BeatListModel(("Beat", "Probability"))
    model.set_prediction(p, 250.0)
    assert [label for label, _ in model.class_rows()] == ["N", "S", "V", "F", "Q", "X"]
    assert dict(model.class_rows()) == {**counts, "X": int((labels == "X").sum())}
    v = model.class_index("V")
    assert model.data(v).startswith("V — ") and model.data(v).endswith(f": {counts['V']}")
    assert model.rowCount(v) == counts["V"] and model.rowCount(model.index(0, 0, v)) == 0
    first_v = int(np.flatnonzero(labels == "V")[0])
    assert model.data(model.index(0, 0, v), BEAT_ROLE) == first_v
    assert model.data(model.index(0, 0, v)) == f"{format_time(first_v, 2)}  V"
    assert model.data(model.index(0, 1, v)) == "91%"
    for index in rng.integers(0, len(beats), 50).tolist():
        row = model.beat_index(index)
        assert row.isValid() and model.data(row, BEAT_ROLE) == index
        assert model.parent(row) == model.class_index(labels[index])
    assert not model.beat_index(len(beats)).isValid() and not model.class_index("Z").isValid()
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Probability"
    model.clear()
    assert model.rowCount() == 0 and not model.beat_index(0).isValid()

"""The rhythm report in the ECG panel: summary, trend, events that jump, AF shaded, PDF text."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from desktop.ecg.panel import LAYOUT_STRIPS
from desktop.ecg.rhythm import events, summary_rows
from engine.resources import resource_path
from tests.desktop.test_ecg_panel import load

HANDHELD = resource_path("samples", "cinc2017", "A00264.hea")
HOLTER = resource_path("samples", "mitdb", "119.hea")


@pytest.fixture()
def panel(ecg_panel):
    return ecg_panel


def rhythm_report(qtbot, panel):
    with qtbot.waitSignal(panel.analysis_done, timeout=120000):
        qtbot.mouseClick(panel.rhythm_button, Qt.MouseButton.LeftButton)
    return panel.prediction


def test_buttons_say_why_they_are_disabled_until_an_ecg_is_open(qtbot, panel):
    assert not panel.rhythm_button.isEnabled() and not panel.rhythm_action.isEnabled()
    assert "Open an ECG" in panel.rhythm_button.toolTip()
    assert "Open an ECG" in panel.analyze_button.toolTip()


def test_handheld_af_recording_gets_a_rhythm_report_with_the_episode_shaded(qtbot, panel):
    load(qtbot, panel, HANDHELD)
    assert panel.rhythm_button.isEnabled()
    p = rhythm_report(qtbot, panel)
    assert p.model_id == "ecg-rhythm-features-300"
    assert panel.side_tabs.currentWidget() is panel.rhythm_report
    text = panel.rhythm_report.summary.text()
    assert "Atrial fibrillation" in text and "AF burden" in text and "100.0 %" in text
    # One lead named ECG: the beat model does not take it, and the report says so.
    assert "not counted" in text
    assert panel.strip.episodes == ((0.0, pytest.approx(42.32), "AF"),)
    assert panel.rhythm_report.events.topLevelItemCount() >= 1
    assert panel.rhythm_report.events.topLevelItem(0).text(0) == "AF episode"
    assert "Rhythm: AF" in panel.results.title.text()
    assert panel.results.intended_use.text().startswith("Intended use:")
    # The explanation's irregular RR intervals are shaded on the analysed lead.
    marks = p.extra["rhythm"]["explanation"]["irregular_rr"]
    assert len(marks) > 20 and panel.strip.rr_marks == tuple(tuple(m) for m in marks)
    assert f"From 0:00 to 0:42, the stretch the features below describe, {len(marks)} of " in (
        panel.results.label.text()
    )
    assert panel.rhythm_report.events.topLevelItem(1).text(0) == (
        f"Explained stretch ({len(marks)} irregular RR)"
    )
    assert "beat-to-beat RR changes exceed 10 %" in panel.results.label.text()
    panel.attribution_check.setChecked(False)
    assert not panel.strip.attribution_visible


def test_holter_report_counts_ectopy_draws_the_trend_and_events_jump(qtbot, panel):
    load(qtbot, panel, HOLTER)
    assert panel.current_layout == LAYOUT_STRIPS
    p = rhythm_report(qtbot, panel)
    rhythm = p.extra["rhythm"]
    # 119 is ventricular bigeminy: counted by the beat model, named in the report.
    assert rhythm["ectopy"]["V"]["count"] > 300
    assert rhythm["ectopy"]["V"]["bigeminy"]
    text = panel.rhythm_report.summary.text()
    assert "Ventricular ectopy" in text and "ecg-beats-bilstm-360" in text
    assert len(panel.rhythm_report.trend.trend) == 31 or len(panel.rhythm_report.trend.trend) == 30
    assert panel.beat_list.model().rowCount() >= 2  # the beat labels came with the report
    # Clicking an event moves the strip there.
    tree = panel.rhythm_report.events
    assert tree.topLevelItemCount() > 0
    item = tree.topLevelItem(tree.topLevelItemCount() - 1)
    start = float(item.data(0, Qt.ItemDataRole.UserRole + 1))
    tree.setCurrentItem(item)
    visible = panel.strip.visible_s()
    assert panel.strip.position_s <= start <= panel.strip.position_s + visible
    # The same rows feed the PDF report.
    rows = dict(summary_rows(p.extra["rhythm_label"], rhythm))
    assert "Ventricular ectopy" in rows and rows["Rhythm"]
    assert [e[0] for e in events(rhythm)].count("V bigeminy") >= 1


def test_a_site_calibration_of_af_is_shown_with_the_rhythm_report(
    qtbot, panel, tmp_path, monkeypatch
):
    import numpy as np

    from engine.api import clear_model_cache
    from engine.models.registry import ModelRegistry
    from engine.validation.site import fit_site_calibration
    from engine.workflow import save_site_calibration

    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path / "data"))
    bundle = ModelRegistry().open("ecg-rhythm-features-300")
    rng = np.random.default_rng(0)  # a clinic's 80 recordings: scores and its own readings
    p = np.clip(rng.beta(2, 2, 80), 0.02, 0.98)
    y = (rng.random(80) < p).astype(int)
    cal = fit_site_calibration(p, y, bundle, created_by="dr.lee", n_boot=20)
    save_site_calibration(cal)
    clear_model_cache()
    try:
        load(qtbot, panel, HANDHELD)
        pred = rhythm_report(qtbot, panel)
        assert pred.operating_point == "site" and pred.threshold == cal.threshold
        text = panel.results.operating_point.text()
        assert "Operating point “site”" in text
        assert "validated on 80 local cases" in text and "dr.lee" in text
        assert "Atrial fibrillation" in panel.rhythm_report.summary.text()
    finally:
        clear_model_cache()


def test_possible_pauses_are_listed_apart_from_pauses(qtbot):
    """A pause another lead fills with beats is neither counted nor hidden: the summary row
    says how many and which lead, the events list has it to jump to, and its warning is
    translated."""
    from desktop.results.panel import warning_text
    from engine.workflow import PAUSE_WARNING

    rhythm = {
        "af_burden": 0.0,
        "episodes": [],
        "pauses": [{"label": "pause", "start": 10.0, "end": 12.5, "duration": 2.5}],
        "unconfirmed_pauses": [
            {"label": "possible pause", "start": 1354.4, "end": 1361.9, "duration": 7.5,
             "beats_on": "V1"}
        ],
    }  # fmt: skip
    rows = dict(summary_rows("normal", rhythm))
    assert rows["Pauses > 2 s"] == "1 (and 1 possible, not confirmed: lead V1 shows beats there)"
    assert ("Possible pause (not confirmed)", 1354.4, 1361.9) in events(rhythm)
    assert ("Pause", 10.0, 12.5) in events(rhythm)
    assert dict(summary_rows("normal", {**rhythm, "unconfirmed_pauses": []}))["Pauses > 2 s"] == "1"
    text = PAUSE_WARNING.format(n=1, lead="MLII", name="116", other="V1")
    assert warning_text(text) == text  # English: as the engine wrote it

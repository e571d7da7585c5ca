"""The result card: contribution bars, operating point, model card, ECG beat counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from desktop.results.chart import negative_colour, positive_colour
from desktop.results.panel import _SUPPORT, ResultPanel, result_kind
from engine.api import analyze_record, analyze_signal
from engine.ecg import read_signal
from engine.models.results import SUPPORT_STATEMENT
from engine.resources import resource_path
from tests.desktop.conftest import VALID_RECORD
from tests.desktop.test_ecg_views import pixels

RECORD_MODEL = "heart-disease-logreg-13"


@pytest.fixture(scope="module")
def record_prediction():
    return analyze_record(RECORD_MODEL, VALID_RECORD)


@pytest.fixture()
def panel(qtbot):
    p = ResultPanel()
    qtbot.addWidget(p)
    p.resize(640, 900)
    p.show()
    qtbot.waitExposed(p)
    return p


def test_contributions_are_bars_sorted_by_size_with_signs_values_and_units(
    qtbot, panel, record_prediction
):
    p = record_prediction
    panel.show_prediction(p)
    assert result_kind(p) == "record"
    chart = panel.chart
    assert chart.isVisible() and not panel.contributions.isVisible()
    sizes = [abs(r.contribution) for r in chart.rows]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) == 13
    by_label = {c.label: c for c in p.contributions}
    assert {r.label for r in chart.rows} == set(by_label)
    age = next(r for r in chart.rows if r.label == "Age")
    assert age.value == "63 years"
    assert next(r for r in chart.rows if r.label == "Sex").value == "Male"
    image = pixels(chart)
    zero = chart.zero_x()
    pos, neg = positive_colour(False), negative_colour(False)
    signs = set()
    for i, row in enumerate(chart.rows):
        assert row.contribution == by_label[row.label].contribution
        if abs(row.contribution) < 0.02:
            continue
        rect = chart.bar_rect(i)
        if row.contribution > 0:
            assert rect.left() == pytest.approx(zero) and rect.right() > zero
            colour = pos
        else:
            assert rect.right() == pytest.approx(zero) and rect.left() < zero
            colour = neg
        signs.add(row.contribution > 0)
        centre = rect.center().toPoint()
        assert tuple(image[centre.y(), centre.x()]) == (colour.red(), colour.green(), colour.blue())
    assert signs == {True, False}  # this record has findings on both sides
    # Bar lengths are proportional to the contributions.
    lengths = [chart.bar_rect(i).width() / abs(r.contribution) for i, r in enumerate(chart.rows)]
    assert np.ptp(lengths) < 1e-6 * max(lengths)
    # The same numbers as a table, on request.
    panel.table_check.setChecked(True)
    assert panel.contributions.isVisible() and panel.contributions.rowCount() == 13
    assert panel.contributions.item(0, 0).text() == chart.rows[0].label


def test_every_result_names_model_version_use_and_support(qtbot, panel, record_prediction):
    panel.show_prediction(record_prediction)
    p = record_prediction
    assert p.model_id in panel.model.text() and f"version {p.model_version}" in panel.model.text()
    assert panel.intended_use.text().startswith("Intended use:")
    assert panel.support.isVisible() and panel.support.text() == SUPPORT_STATEMENT
    assert _SUPPORT == SUPPORT_STATEMENT  # the sentence marked for translation is the engine's
    assert panel.card_link.isVisible()


def test_image_result_shows_score_operating_point_with_se_sp(qtbot, panel, record_prediction):
    # An image model's result has no contributions and no beats.
    p = dataclasses.replace(
        record_prediction,
        contributions=(),
        extra={},
        positive_label="Pneumonia",
        probabilities={"Pneumonia": 0.83, "No pneumonia": 0.17},
        label="Pneumonia",
        operating_point="high-sensitivity",
        threshold=0.31,
        sensitivity=0.92,
        specificity=0.71,
    )
    assert result_kind(p) == "image"
    panel.show_prediction(p)
    assert panel.title.text() == "Probability of Pneumonia: 83.0%"
    assert panel.score_bar.format() == "83.0%"
    assert panel.score_bar.isVisible() and panel.score_bar.value() == 830
    assert "POSITIVE" in panel.label.text()
    text = panel.operating_point.text()
    assert "high-sensitivity" in text and "0.310" in text and "92%" in text and "71%" in text
    assert not panel.chart.isVisible() and not panel.beat_counts.isVisible()


def test_model_card_link_opens_the_rendered_card(qtbot, panel, record_prediction):
    panel.show_prediction(record_prediction)
    with qtbot.waitSignal(panel.card_jobs.succeeded, timeout=30000):
        panel.card_link.linkActivated.emit("card")
    dialog = panel.card_dialog
    assert dialog is not None and dialog.isVisible()
    card = (resource_path("models", RECORD_MODEL) / "card.md").read_text(encoding="utf-8")
    heading = next(line.lstrip("# ").strip() for line in card.splitlines() if line.startswith("#"))
    shown = dialog.browser.toPlainText()
    assert heading in shown and "#" not in shown.splitlines()[0]  # rendered, not raw Markdown
    assert RECORD_MODEL in dialog.windowTitle()
    dialog.close()


def test_a_missing_model_card_is_reported_in_the_dialog(qtbot, panel, record_prediction):
    panel.show_prediction(dataclasses.replace(record_prediction, model_id="no-such-model"))
    with qtbot.waitSignal(panel.card_jobs.failed, timeout=30000):
        dialog = panel.open_model_card()
    assert "no-such-model" in dialog.browser.toPlainText()
    dialog.close()


def test_ecg_result_shows_beats_per_class(qtbot, panel):
    signal = read_signal(resource_path("samples", "ecg-12-lead.dcm"))
    p = analyze_signal("ecg-beats-bilstm-360", signal, explain=False)
    panel.show_prediction(p)
    assert result_kind(p) == "signal"
    assert panel.beat_counts.isVisible() and not panel.score_bar.isVisible()
    for label, n in p.extra["beat_counts"].items():
        assert panel.beat_count(label) == n
    assert panel.title.text() == f"ECG: {len(p.beats)} beats classified"
    assert "not reported" in panel.operating_point.text()  # no per-class specificity
    assert "ecg-beats-bilstm-360" in panel.model.text()
    # What the post-processing changed is a plain note, apart from the (orange) warnings.
    note = "3 of 12 beats that the network called V lost that label: …"
    noted = dataclasses.replace(p, extra={**p.extra, "notes": [note]}, warnings=())
    panel.show_prediction(noted)
    assert panel.notes.isVisible() and panel.notes.text() == note
    assert not panel.warnings.isVisible() and "e65100" not in panel.notes.styleSheet()
    panel.clear()
    assert panel.title.text() == "No analysis yet" and not panel.beat_counts.isVisible()
    assert not panel.notes.isVisible()


def test_clicking_the_link_text_with_the_mouse_opens_the_card(qtbot, panel, record_prediction):
    panel.show_prediction(record_prediction)
    link = panel.card_link
    with qtbot.waitSignal(panel.card_jobs.finished, timeout=30000):
        qtbot.mouseClick(link, Qt.MouseButton.LeftButton, pos=QPoint(8, link.height() // 2))
    assert panel.card_dialog is not None
    panel.card_dialog.close()


def test_a_record_with_missing_inputs_says_what_it_was_based_on(qtbot, panel):
    p = analyze_record(RECORD_MODEL, {"age": 58, "sex": 0, "cp": 2})
    panel.show_prediction(p)
    basis = panel.basis.text()
    assert panel.basis.isVisible()
    assert basis.startswith("Based on 3 of 13 inputs; not recorded: ")
    auc, lo, hi = p.extra["inputs"]["validated"]["auroc"]
    assert f"AUROC {auc:.2f} (95 % CI {lo:.2f}–{hi:.2f})" in basis
    rows = panel.chart.rows
    # Recorded findings first, then the ten not recorded, each named as such, never as a value.
    assert [r.missing for r in rows] == [False] * 3 + [True] * 10
    assert all(r.value == "not recorded" for r in rows[3:])
    image = pixels(panel.chart)
    coloured = {
        (c.red(), c.green(), c.blue()) for c in (positive_colour(False), negative_colour(False))
    }
    for i in range(3, len(rows)):
        rect = panel.chart.bar_rect(i)
        y = int(rect.center().y())
        span = range(int(rect.left()) + 1, int(rect.right()))
        assert not {tuple(image[y, x]) for x in span} & coloured  # hatched grey, not a bar colour


def test_a_complete_record_says_so(qtbot, panel, record_prediction):
    panel.show_prediction(record_prediction)
    assert "Based on 13 of 13 inputs (complete record)." in panel.basis.text()
    assert "Validated on complete records" in panel.basis.text()


def test_a_site_calibrated_result_says_so_beside_the_operating_point(
    qtbot, panel, record_prediction, tmp_path, monkeypatch, shared_data
):
    """The clinic's calibration (saved by `evaluate --save-site-calibration`) is on the card."""
    from engine.records.uci import read_uci_heart
    from engine.validation.site import fit_site_calibration
    from engine.workflow import clear_model_cache, load_model, save_site_calibration

    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path))
    X, y = read_uci_heart(shared_data / "tabular" / "uci-heart" / "processed.cleveland.data")
    model = load_model(RECORD_MODEL, site_calibration=False)
    names = [f.name for f in model.schema.fields]
    records = [
        {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, row, strict=True)}
        for row in X
    ]
    preds = model.run([model.prepare(r) for r in records], explain=False)
    cal = fit_site_calibration(
        np.array([p.score for p in preds]), y, model.bundle, data=(), created_by="dr-site"
    )
    save_site_calibration(cal)
    try:
        p = analyze_record(RECORD_MODEL, VALID_RECORD)
        panel.show_prediction(p)
        text = panel.operating_point.text()
        assert p.operating_point == "site"
        assert f"validated on {len(y)} local cases" in text and "by dr-site" in text
        assert (
            f"the model's own probability was {p.extra['site_calibration']['model_score']:.1%}"
            in text
        )
    finally:
        clear_model_cache()


def test_an_out_of_domain_image_shows_a_banner_and_no_result_until_asked(
    qtbot, panel, record_prediction
):
    p = dataclasses.replace(
        record_prediction,
        contributions=(),
        extra={"out_of_domain": True, "domain_score": 61.2, "domain_threshold": 30.5,
               "withheld_label": "pneumonia", "operating_point_ci": {
                   "sensitivity": [0.86, 0.95], "specificity": [0.80, 0.90]}},
        positive_label="pneumonia",
        probabilities={"pneumonia": 0.83, "normal": 0.17},
        label="",
    )  # fmt: skip
    panel.show_prediction(p)
    assert panel.title.text() == "No result for this image"
    banner = panel.ood_banner.text()
    assert (
        panel.ood_banner.isVisible() and "unlike the images this model was validated on" in banner
    )
    assert "61.2" in banner and "30.5" in banner
    assert not panel.score_bar.isVisible() and "83" not in panel.label.text()
    assert "(95 % CI 86%–95%)" in panel.operating_point.text()
    with qtbot.waitSignal(panel.score_revealed, timeout=2000) as shown:
        qtbot.mouseClick(panel.ood_reveal, Qt.MouseButton.LeftButton)
    assert shown.args == [p]
    assert panel.score_bar.isVisible() and panel.score_bar.value() == 830
    assert "Shown on request" in panel.label.text() and "<b>pneumonia</b>" in panel.label.text()
    assert not panel.ood_reveal.isVisible()
    panel.show_prediction(record_prediction)  # the next result: no banner
    assert not panel.ood_banner.isVisible() and not panel.ood_reveal.isVisible()
    # One threshold on the two scores together: the banner names the statistic that decided.
    combined = dataclasses.replace(p, extra={**p.extra, "adult_score": -3.1,
                                             "domain_statistic": 3.27,
                                             "domain_statistic_threshold": 2.59})  # fmt: skip
    panel.show_prediction(combined)
    banner = panel.ood_banner.text()
    assert "combined score 3.27, threshold 2.59" in banner and "adult-likeness -3.1" in banner

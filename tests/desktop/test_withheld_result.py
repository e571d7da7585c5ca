"""An image result the model withheld (out of domain) in the patient's timeline and report:
"no result", never the probability or the heat map the clinician did not ask to see."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from desktop.patients.panel import PatientsPanel
from desktop.patients.report import report_content, report_html
from engine.resources import resource_path
from engine.store import KdfParams, Store, create_store
from engine.workflow.report import collect_report
from engine.workflow.session import add_patient, save_outcome
from tests.engine.workflow._outcomes import withheld_image_outcome


@pytest.fixture
def off_ui() -> Iterator[Callable[..., Any]]:
    """Runs a call on a worker thread, as the app does with every store call."""
    with ThreadPoolExecutor(1) as pool:
        yield lambda fn, *a, **kw: pool.submit(fn, *a, **kw).result()


@pytest.fixture
def store(tmp_path: Path, off_ui) -> Iterator[Store]:
    opened, _key = off_ui(
        create_store,
        tmp_path / "db" / "stethos.db",
        "admin",
        "admin-password-1",
        kdf=KdfParams.fast(),
    )
    yield opened
    off_ui(opened.close)


def test_a_withheld_result_reads_no_result_in_the_timeline_and_the_report(
    qtbot, store: Store, tmp_path: Path, off_ui
) -> None:
    image = tmp_path / "chest.dcm"
    shutil.copyfile(resource_path("samples", "chest-cr-pa.dcm"), image)
    patient = off_ui(
        add_patient, store, {"mrn": "MRN-9", "family_name": "Ito", "given_name": "Ken"}
    )
    outcome = withheld_image_outcome(image)
    stored = off_ui(save_outcome, store, patient.id, None, outcome).result
    probability = f"{outcome.prediction.probabilities['pneumonia']:.1%}"

    panel = PatientsPanel()
    qtbot.addWidget(panel)
    panel.show_patient(patient, off_ui(store.timeline, patient.id))
    texts = [
        panel.timeline.topLevelItem(i).text(1) for i in range(panel.timeline.topLevelItemCount())
    ]
    (line,) = [t for t in texts if stored.model_id in t]
    assert "No result (out of domain)" in line and "%" not in line

    html = report_html(
        report_content(off_ui(collect_report, store, stored.encounter_id, patient_id=patient.id))
    )
    assert "No result" in html and "does not mean the image is normal" in html
    assert probability not in html


def test_a_withheld_result_is_saved_for_the_patient_and_takes_no_decision(qtbot, tmp_path):
    """With a patient selected, an adult radiograph (its age removed) is analysed: the
    withheld result is saved (it used to fail: "lacks label"), and Accept / Override… stay
    hidden, as there is no result to accept."""
    from tests.desktop.conftest import analyse_an_adult_without_age
    from tests.desktop.test_patients_workflow import add_patient as add_in_window
    from tests.desktop.test_patients_workflow import make_window, set_up, settle

    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_in_window(qtbot, window)
    analyse_an_adult_without_age(qtbot, window, tmp_path)
    settle(qtbot, window)
    encounter = window.patients.encounter
    saved = encounter.last_result
    assert saved is not None and saved.label == "" and saved.result["out_of_domain"] is True
    assert window.patients.last_message is None  # no error box: the save did not fail
    assert not encounter.decision_box.isVisible()
    assert any("No result (out of domain)" in t for t in window.patients.panel.timeline_texts())


def test_the_report_carries_the_caveats_the_screen_showed(
    qtbot, store: Store, tmp_path: Path, off_ui
) -> None:
    """A result's warnings (a gate, noise, a gap in the file) and post-processing notes are
    printed with it, as the result panel showed them."""
    from dataclasses import replace

    from engine.ecg.quality import GAP_WARNING
    from tests.engine.workflow._outcomes import image_outcome

    image = tmp_path / "chest.dcm"
    shutil.copyfile(resource_path("samples", "chest-cr-pa.dcm"), image)
    patient = off_ui(add_patient, store, {"mrn": "MRN-10", "family_name": "Oy", "given_name": "Al"})
    outcome = image_outcome(image)
    gap = GAP_WARNING.format(seconds=5.0, n=1, lead="MLII", name="x")
    p = replace(outcome.prediction, warnings=(gap,),
                extra={**outcome.prediction.extra, "notes": ["3 of 40 beats lost V."]})  # fmt: skip
    stored = off_ui(save_outcome, store, patient.id, None, replace(outcome, prediction=p)).result
    data = off_ui(collect_report, store, stored.encounter_id, patient_id=patient.id)
    html = report_html(report_content(data))
    assert "5.0 s of lead MLII of “x” hold no signal" in html and "3 of 40 beats lost V." in html

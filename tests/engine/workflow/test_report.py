"""engine.workflow.report: the data of an encounter's report, files read again, without Qt."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import StoreError
from engine.resources import resource_path
from engine.store import Store
from engine.workflow import open_study, render_study_image
from engine.workflow.report import (
    REPORT_ECG_SECONDS,
    Unavailable,
    collect_report,
    record_export,
)
from engine.workflow.session import (
    add_patient,
    decide,
    link_study,
    save_outcome,
    save_record,
)
from tests.engine.workflow._outcomes import (
    HEART,
    ecg_outcome,
    image_outcome,
    record_outcome,
    withheld_image_outcome,
)


def _encounter(store: Store, tmp_path: Path):
    """A patient with one encounter: a record result, an image result, an ECG result."""
    image = tmp_path / "chest.dcm"
    shutil.copyfile(resource_path("samples", "chest-cr-pa.dcm"), image)
    ecg = tmp_path / "ecg.dcm"
    shutil.copyfile(resource_path("samples", "ecg-12-lead.dcm"), ecg)
    patient = add_patient(store, {"mrn": "MRN-7", "family_name": "Lee", "given_name": "Ana"})
    encounter_id, record = save_record(store, patient.id, None, HEART)
    ref = open_study([image]).view.ref
    link = link_study(store, patient.id, ref, encounter_id=encounter_id)
    result = save_outcome(
        store, patient.id, encounter_id, record_outcome(), saved_record=record
    ).result
    decide(store, result.id, "overridden", "old infarct")
    save_outcome(
        store, patient.id, encounter_id, image_outcome(image, ref.study.study_instance_uid),
        study_link_id=link.id,
    )  # fmt: skip
    save_outcome(store, patient.id, encounter_id, ecg_outcome(ecg, lead="V2"))
    return patient, encounter_id, image, ecg


def test_the_report_has_the_results_the_image_with_its_heat_map_and_the_ecg(
    store: Store,
    tmp_path: Path,
) -> None:
    patient, encounter_id, image, ecg = _encounter(store, tmp_path)
    data = collect_report(
        store, encounter_id, patient_id=patient.id, intended_uses={"ecg-beats-lstm": "Holter."}
    )
    assert data.patient.mrn == "MRN-7" and data.encounter.id == encounter_id
    assert data.signed_by == "admin" and data.software_version
    assert [r.values["chol"] for r in data.records] == [233]
    models = [r.stored.model_id for r in data.results]
    assert models == ["heart-disease-logreg-13", "cxr-pneumonia-resnet18-128", "ecg-beats-lstm"]
    assert data.results[0].stored.decision.comment == "old infarct"
    assert data.intended_uses["ecg-beats-lstm"] == "Holter."  # the one given wins
    assert "coronary artery disease" in data.intended_uses["heart-disease-logreg-13"]  # manifest
    assert data.unavailable == ()

    assert data.image is not None and data.image.path == str(image)
    np.testing.assert_array_equal(data.image.pixels, render_study_image(image))
    assert data.image.caption.endswith("chest.dcm") and data.image.caption.startswith("CR")
    assert data.image.heatmap is not None and data.image.heatmap.shape == (64, 50)
    assert data.image.heatmap[0, 0] == 1.0 and data.image.heatmap[-1, -1] == 0.0

    strip = data.ecg
    assert strip is not None and strip.path == str(ecg)
    assert strip.signal.leads[strip.lead_index] == "V2"
    assert strip.seconds == min(REPORT_ECG_SECONDS, strip.signal.duration_s)
    assert [b.label for b in strip.beats] == ["N", "V"]
    assert (strip.model_id, strip.model_version) == ("ecg-beats-lstm", "3.6.1")

    only_data = collect_report(store, encounter_id, patient_id=patient.id, images=False, ecg=False)
    assert only_data.image is None and only_data.ecg is None and len(only_data.results) == 3


def test_files_that_are_gone_are_named_instead_of_stopping_the_report(
    store: Store,
    tmp_path: Path,
) -> None:
    patient, encounter_id, image, ecg = _encounter(store, tmp_path)
    image.unlink()
    ecg.write_bytes(b"not an ECG any more")
    data = collect_report(store, encounter_id, patient_id=patient.id)
    assert data.image is None and data.ecg is None
    assert [(u.kind, u.path) for u in data.unavailable] == [
        ("image", str(image)),
        ("ecg", str(ecg)),
    ]
    gone, unreadable = data.unavailable
    assert gone.text == f"Image not available: {image} (file missing)"
    assert unreadable.reason and unreadable.text.startswith(f"ECG not available: {ecg} (")
    assert len(data.results) == 3  # the results are still listed
    assert Unavailable("ecg", "/x.hea").text == "ECG not available: /x.hea (file missing)"


def test_an_encounter_of_another_patient_is_refused_and_exports_are_logged(
    store: Store,
    tmp_path: Path,
) -> None:
    patient, encounter_id, _image, _ecg = _encounter(store, tmp_path)
    other = add_patient(store, {"mrn": "MRN-8", "family_name": "Kim"})
    with pytest.raises(StoreError, match="cannot be found"):
        collect_report(store, encounter_id, patient_id=other.id)
    record_export(store, encounter_id, patient.id, tmp_path / "out" / "report.pdf")
    (entry,) = store.audit_entries(action="exported")
    assert entry.object_type == "encounter" and entry.object_id == str(encounter_id)
    assert entry.details == {"format": "pdf", "patient_id": patient.id, "file": "report.pdf"}


def test_a_withheld_image_result_is_kept_without_a_label_score_or_heat_map(
    store: Store, tmp_path: Path
) -> None:
    """An out-of-domain image gets no result, and the store keeps that it was run: the
    probabilities stay for audit, but no score, no positive, no heat map in the report."""
    from dataclasses import replace as replaced

    from engine.store.timeline import NO_RESULT
    from engine.workflow.saved import result_input

    image = tmp_path / "chest.dcm"
    shutil.copyfile(resource_path("samples", "chest-cr-pa.dcm"), image)
    patient = add_patient(store, {"mrn": "MRN-8", "family_name": "Ng", "given_name": "Li"})
    outcome = withheld_image_outcome(image)
    stored = save_outcome(store, patient.id, None, outcome).result
    assert (stored.label, stored.score, stored.is_positive) == ("", None, None)
    assert stored.probabilities == outcome.prediction.probabilities
    assert stored.result["out_of_domain"] is True and stored.result["withheld_label"]
    (entry,) = [e for e in store.timeline(patient.id) if e.kind == "result"]
    assert entry.summary == NO_RESULT
    (row,) = store.drift_report(model_id=stored.model_id)
    assert (row.results, row.positives, row.positive_share) == (1, 0, None)

    data = collect_report(store, stored.encounter_id, patient_id=patient.id)
    assert data.image is not None and data.image.path == str(image)
    assert data.image.heatmap is None  # as on screen, until "show anyway"

    with pytest.raises(StoreError, match="nothing to accept or override"):
        decide(store, stored.id, "accepted")

    # an empty label is still refused where the model did not withhold it
    plain = image_outcome(image)
    with pytest.raises(StoreError, match="lacks label"):
        result_input(replaced(plain, prediction=replaced(plain.prediction, label="")))

"""Patients, encounters, records, results, decisions, study links and the timeline."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from engine.errors import RecordValidationError, StoreConflictError, StoreError
from engine.models.results import Contribution, Prediction
from engine.records.schema import HEART_RECORD
from engine.store import ResultInput, Store, mismatch_warning, open_store
from tests.engine.store._helpers import (
    ADMIN,
    ADMIN_PASSWORD,
    FAST,
    HEART,
    FakeClock,
    raw_connection,
)
from tests.engine.store._results import fake_result, result_input


@pytest.mark.sqlite_only
def test_database_settings(store: Store, db_path: Path):
    conn = raw_connection(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn().execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._conn().execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert store.integrity_check() == "ok"
    conn.close()


def test_patient_search_is_case_and_accent_insensitive_substring(store: Store):
    store.add_patient("MRN-0042", "Müller", "Anna", date(1950, 3, 1), "F")
    store.add_patient("MRN-0043", "Miller", "Jon", "1961-07-30", "M")
    store.add_patient("X-77", "Okafor", "Chidi")

    assert [p.mrn for p in store.search_patients("muller")] == ["MRN-0042"]
    assert [p.mrn for p in store.search_patients("MÜLL")] == ["MRN-0042"]
    assert {p.mrn for p in store.search_patients("mrn-00")} == {"MRN-0042", "MRN-0043"}
    assert [p.mrn for p in store.search_patients("jon mil")] == ["MRN-0043"]
    assert [p.mrn for p in store.search_patients("x-77")] == ["X-77"]
    assert store.search_patients("100%") == []  # LIKE wildcards are literal
    assert len(store.search_patients("")) == 3
    anna = store.search_patients("anna")[0]
    assert anna.display_name == "MÜLLER, Anna" and anna.sex_label == "Female"
    assert anna.age_on(date(2025, 3, 1)) == 75


def test_patient_values_are_validated(store: Store):
    with pytest.raises(RecordValidationError) as err:
        store.add_patient("", "", sex="Q", birth_date="3000-01-01")
    assert set(err.value.problems) == {"mrn", "family_name", "sex", "birth_date"}
    store.add_patient("A1", "Doe")
    with pytest.raises(RecordValidationError, match="mrn") as taken:
        store.add_patient("A1", "Roe")
    assert "Another patient already has the MRN A1" in taken.value.problems["mrn"]
    # refused by the MRN's UNIQUE constraint: nothing of it written, the store goes on
    assert [p.family_name for p in store.search_patients("A1")] == ["Doe"]
    assert len(store.audit_entries(action="created", object_type="patient")) == 1
    store.add_patient("A2", "Roe")
    assert store.verify_audit().ok


def test_patient_edits_keep_every_version(store: Store, clock: FakeClock):
    p = store.add_patient("A1", "Doe", "Jane", "1970-01-01", "F")
    clock.advance(days=1)
    p2 = store.update_patient(p.id, {"family_name": "Doe-Smith"}, reason="married")
    clock.advance(days=1)
    p3 = store.update_patient(p.id, {"birth_date": "1970-01-02"}, expected_version=2)
    assert (p2.version, p3.version) == (2, 3)
    assert store.update_patient(p.id, {"given_name": "Jane"}).version == 3  # no change, no row
    history = store.patient_history(p.id)
    assert [v.family_name for v in history] == ["Doe", "Doe-Smith", "Doe-Smith"]
    assert [v.birth_date for v in history] == [date(1970, 1, 1)] * 2 + [date(1970, 1, 2)]
    assert history[1].reason == "married"
    assert store.search_patients("smith")[0].version == 3
    assert not store.search_patients("doe jane x")
    with pytest.raises(StoreConflictError):
        store.update_patient(p.id, {"given_name": "J."}, expected_version=2)
    changed = store.audit_entries(action="changed", object_type="patient")
    assert [e.details["fields"] for e in changed] == [["family_name"], ["birth_date"]]


def test_history_rows_cannot_be_overwritten_even_with_sql(store: Store, db_path: Path):
    p = store.add_patient("A1", "Doe")
    conn = raw_connection(db_path)
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE patient_versions SET family_name = 'X' WHERE patient_id = ?", (p.id,))
    with pytest.raises(Exception, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    conn.close()


def test_records_are_validated_against_the_schema_and_versioned(store: Store, clock: FakeClock):
    p = store.add_patient("A1", "Doe")
    visit = store.add_encounter(p.id, reason="chest pain")
    with pytest.raises(RecordValidationError) as err:
        store.save_record(visit.id, {**HEART, "trestbps": 400, "bogus": 1})
    assert set(err.value.problems) == {"trestbps", "bogus"}
    assert "260 mmHg" in err.value.problems["trestbps"]

    first = store.save_record(visit.id, {**HEART, "ca": None})
    assert first.values["ca"] is None and first.units["trestbps"] == "mmHg"
    assert first.schema_name == HEART_RECORD.name and len(first.schema_version) == 12
    assert list(first.values) == list(HEART_RECORD.names)
    clock.advance(minutes=5)
    second = store.update_record(first.id, {**HEART, "chol": 250}, reason="lab typo")
    assert (second.version, second.supersedes) == (2, first.id)
    assert [r.values["chol"] for r in store.record_history(first.id)] == [233, 250]
    assert [r.id for r in store.records(visit.id)] == [second.id]
    with pytest.raises(StoreConflictError):
        store.update_record(first.id, HEART)  # stale version: no silent overwrite


def _prediction(label: str = "disease") -> Prediction:
    return Prediction(
        model_id="heart-disease-logreg",
        model_version="1.2.0",
        model_name="Heart disease (logistic regression)",
        weights_sha256="c" * 64,
        intended_use="decision support",
        probabilities={"no disease": 0.25, "disease": 0.75},
        positive_label="disease",
        label=label,
        operating_point="balanced",
        threshold=0.5,
        sensitivity=0.86,
        specificity=0.81,
        device="cpu",
        elapsed_ms=2.5,
        input_hash="d" * 64,
        contributions=(
            Contribution("thal", "Thallium stress test", "Fixed defect", 0.9),
            Contribution("ca", "Major vessels", "0", -0.3),
            Contribution("oldpeak", "ST depression", "2.3", 0.5),
            Contribution("age", "Age", "63", 0.01),
        ),
    )


def test_results_keep_model_identity_and_decisions_never_overwrite(store: Store, clock: FakeClock):
    p = store.add_patient("A1", "Doe")
    visit = store.add_encounter(p.id)
    rec = store.save_record(visit.id, HEART)
    result = store.save_result(visit.id, result_input(_prediction()), record_id=rec.id)
    assert (result.model_id, result.model_version) == ("heart-disease-logreg", "1.2.0")
    assert (result.weights_sha256, result.input_hash) == ("c" * 64, "d" * 64)
    assert result.score == 0.75 and result.is_positive is True
    assert (result.threshold, result.sensitivity, result.specificity) == (0.5, 0.86, 0.81)
    assert result.explanation_summary.startswith("Thallium stress test = Fixed defect (+0.90)")
    assert result.result["model"] == "heart-disease-logreg" and result.created_by == ADMIN

    unlabelled = store.save_result(visit.id, fake_result("no disease", 0.2, positive_label=None))
    assert unlabelled.positive_label is None and unlabelled.is_positive is None
    assert unlabelled.score is None
    with_label = store.save_result(visit.id, fake_result("no disease", 0.2))
    assert with_label.is_positive is False and with_label.score == 0.2
    assert with_label.result == fake_result().payload | {
        "label": "no disease",
        "probabilities": {"no disease": 0.8, "disease": 0.2},
    }

    with pytest.raises(StoreError, match="comment"):
        store.record_decision(result.id, "overridden")
    clock.advance(minutes=1)
    store.record_decision(result.id, "accepted")
    clock.advance(minutes=1)
    store.record_decision(result.id, "overridden", "ECG shows an old infarct")
    decided = store.get_result(result.id)
    assert decided.decision is not None and decided.decision.decision == "overridden"
    assert decided.label == "disease"  # the result itself is unchanged
    assert [d.decision for d in store.decisions(result.id)] == ["accepted", "overridden"]

    with pytest.raises(StoreError, match="ResultInput"):
        store.save_result(visit.id, _prediction())  # type: ignore[arg-type]
    other = store.add_encounter(store.add_patient("B2", "Roe").id)
    with pytest.raises(StoreError, match="another encounter"):
        store.save_result(other.id, result_input(_prediction()), record_id=rec.id)


def _result_input(**changes: object) -> ResultInput:
    fields: dict = {
        "model_id": "m",
        "model_version": "1",
        "model_name": "",
        "weights_sha256": "w" * 64,
        "input_hash": "i" * 64,
        "label": "yes",
        "probabilities": {"yes": 0.6, "no": 0.4},
        "positive_label": "yes",
    }
    return ResultInput(**{**fields, **changes})


def test_result_input_is_checked_and_normalised():
    with pytest.raises(StoreError, match="lacks model_version, input_hash"):
        _result_input(model_version="", input_hash="")
    with pytest.raises(StoreError, match="lacks probabilities"):
        _result_input(probabilities={})
    with pytest.raises(StoreError, match="positive label “maybe” is not among"):
        _result_input(positive_label="maybe")
    with pytest.raises(StoreError, match="not a number"):
        _result_input(threshold="high")
    result = _result_input(probabilities={"yes": "0.6", "no": 0.4}, threshold=1, positive_label="")
    assert result.probabilities == {"yes": 0.6, "no": 0.4} and result.threshold == 1.0
    assert (result.positive_label, result.score, result.is_positive) == (None, None, None)
    assert (_result_input().score, _result_input(label="no").is_positive) == (0.6, False)
    assert _result_input().payload == {}


def test_result_input_from_a_prediction_keeps_todays_summary_and_payload():
    prediction = _prediction()
    converted = result_input(prediction, positive_label="no disease", model_name="Heart")
    assert converted.explanation_summary == (
        "Thallium stress test = Fixed defect (+0.90); ST depression = 2.3 (+0.50); "
        "Major vessels = 0 (-0.30)"
    )
    assert converted.payload == prediction.to_json() and converted.model_name == "Heart"
    assert (converted.positive_label, converted.score) == ("no disease", 0.25)
    shap = replace(prediction, explanation_method="SHAP", contributions=())
    assert result_input(shap).explanation_summary == "SHAP"
    assert result_input(shap, payload={"x": 1}).payload == {"x": 1}


def test_study_link_mismatch_warning(store: Store):
    p = store.add_patient("MRN-7", "Ñúñez", "José María")
    assert mismatch_warning(p, "mrn-7 ", "NUNEZ^JOSE^M") is None
    assert mismatch_warning(p, "MRN-7", "Nunez, Jose") is None
    warning = mismatch_warning(p, "MRN-8", "SMITH^ANNA")
    assert warning and "MRN-8" in warning and "SMITH^ANNA" in warning
    assert "no Patient ID" in (mismatch_warning(p, "", "NUNEZ^JOSE") or "")
    link = store.link_study(
        p.id,
        study_uid="1.2.3.4",
        series_uid="1.2.3.4.5",
        path="/data/study",
        modality="CR",
        dicom_patient_id="OTHER",
        dicom_patient_name="DOE^JOHN",
    )
    assert "OTHER" in link.warning and link.dicom_patient_name == "DOE^JOHN"
    ok = store.link_study(
        p.id, study_uid="1.2.3.9", path="/x", dicom_patient_id="MRN-7",
        dicom_patient_name="NUNEZ^JOSE",
    )  # fmt: skip
    assert ok.warning == ""
    assert [s.id for s in store.find_study("1.2.3.4")] == [link.id]
    assert store.audit_entries(action="linked")[0].details["mismatch"] is True


def test_timeline_orders_everything_by_time(store: Store, clock: FakeClock):
    p = store.add_patient("A1", "Doe")
    clock.advance(days=1)
    visit = store.add_encounter(p.id, reason="dyspnoea")
    clock.advance(minutes=10)
    rec = store.save_record(visit.id, HEART)
    clock.advance(minutes=1)
    link = store.link_study(p.id, study_uid="1.2.3", path="/s", encounter_id=visit.id)
    clock.advance(minutes=1)
    result = store.save_result(
        visit.id, result_input(_prediction()), record_id=rec.id, study_link_id=link.id
    )
    clock.advance(minutes=1)
    store.update_record(rec.id, {**HEART, "chol": 240}, reason="typo")
    clock.advance(minutes=1)
    store.record_decision(result.id, "accepted")

    line = store.timeline(p.id)
    assert [e.kind for e in line] == ["encounter", "study", "result", "record", "decision"]
    assert [e.time for e in line] == sorted(e.time for e in line)
    assert "version 2" in line[3].title
    assert line[3].summary == "Changed Serum cholesterol: 233 mg/dL → 240 mg/dL"
    assert line[2].summary == "disease (75%)" and line[4].summary == "Accepted"


def test_delete_hides_patient_but_keeps_history(store: Store):
    p = store.add_patient("A1", "Doe")
    with pytest.raises(StoreError, match="why"):
        store.delete_patient(p.id, " ")
    store.delete_patient(p.id, "duplicate registration")
    assert store.search_patients("doe") == []
    with pytest.raises(StoreError, match="deleted"):
        store.get_patient(p.id)
    assert store.patient_history(p.id)[0].family_name == "Doe"
    assert store.audit_entries(action="deleted")[0].details["reason"] == "duplicate registration"


def test_gui_thread_and_worker_thread_write_at_the_same_time(store: Store, db_path: Path):
    """Two threads, each with its own connection, write 2 x 150 transactions concurrently."""
    p = store.add_patient("A1", "Doe")
    visit = store.add_encounter(p.id)
    second = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)  # a second window/process
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def gui() -> None:
        start.wait()
        try:
            for i in range(150):
                store.add_patient(f"G{i}", "Gui")
        except BaseException as exc:
            errors.append(exc)

    def worker() -> None:
        start.wait()
        try:
            for i in range(150):
                store.save_result(visit.id, result_input(_prediction()))
                if i % 3 == 0:
                    second.add_patient(f"W{i}", "Other")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=gui), threading.Thread(target=worker)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(store.search_patients("gui")) == 150
    assert len(store.search_patients("other")) == 50
    assert len(store.results(visit.id)) == 150
    assert store.verify_audit().ok
    assert store.integrity_check() == "ok"
    second.close()

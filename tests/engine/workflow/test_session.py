"""engine.workflow: accounts, the saved-result format and the encounter session, without Qt."""

from __future__ import annotations

import base64
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.errors import AuthenticationError, OperationCancelled, StoreError
from engine.progress import CancelToken
from engine.resources import resource_path
from engine.store import KdfParams, ResultInput, Store
from engine.workflow import InputRef, open_study
from engine.workflow.accounts import (
    add_user,
    change_password,
    new_recovery_key,
    set_access,
    setup_store,
    sign_in,
    sign_out,
)
from engine.workflow.saved import HEATMAP_KEPT, explanation_summary, read_saved, result_input
from engine.workflow.session import (
    ANALYSIS_REASON,
    RECORD_REASON,
    add_patient,
    decide,
    latest_encounter,
    link_study,
    open_patient,
    patient_timeline,
    save_outcome,
    save_record,
    search_patients,
    update_record,
)
from tests.engine.workflow._outcomes import (
    HEART,
    ecg_outcome,
    image_outcome,
    record_outcome,
)

FAST = KdfParams.fast()
PATIENT = {"mrn": "MRN-1", "family_name": "Lee", "given_name": "Ana", "sex": "F"}


def test_accounts_from_setup_to_recovery(tmp_path: Path) -> None:
    path = tmp_path / "stethos.db"
    admin, key = setup_store(path, "admin", "admin-password-1", "Ada Admin", kdf=FAST)
    assert admin.user.is_admin and len(key.replace("-", "")) == 32
    users = add_user(admin, "dr.lee", "first password 1", full_name="Dr Lee")
    assert [u.username for u in users] == ["admin", "dr.lee"]
    lee = sign_in(path, "dr.lee", "first password 1", FAST)
    change_password(lee, "first password 1", "second password 2")
    sign_out(lee)
    with pytest.raises(StoreError):
        lee.list_users()  # closed
    users = set_access(admin, "dr.lee", "temporary pass 3")
    assert next(u for u in users if u.username == "dr.lee").must_change_password
    users = set_access(admin, "dr.lee", None)
    assert not next(u for u in users if u.username == "dr.lee").active
    with pytest.raises(AuthenticationError):
        sign_in(path, "dr.lee", "temporary pass 3", FAST)
    new_key = new_recovery_key(admin)
    sign_out(admin)
    with pytest.raises(AuthenticationError):
        sign_in(path, "admin", "a new password 4", FAST, recovery_key=key)
    restored = sign_in(path, "admin", "a new password 4", FAST, recovery_key=new_key)
    assert restored.user.username == "admin"
    sign_out(restored)
    with pytest.raises(OperationCancelled):
        sign_in(path, "admin", "a new password 4", FAST, cancel=_cancelled())


def _cancelled() -> CancelToken:
    token = CancelToken()
    token.cancel()
    return token


def test_result_input_keeps_the_prediction_its_input_and_a_small_heat_map(tmp_path) -> None:
    outcome = image_outcome(tmp_path / "chest.dcm")
    saved = result_input(outcome)
    assert isinstance(saved, ResultInput)
    assert saved.model_id == "cxr-pneumonia-resnet18-128" and saved.positive_label == "pneumonia"
    assert saved.score == pytest.approx(0.8)
    payload = saved.payload
    assert payload["input"] == {
        "kind": "image",
        "path": str(tmp_path / "chest.dcm"),
        "frame": 0,
        "study_instance_uid": "1.2.3",
    }
    kept = payload["heatmap"]
    assert (kept["rows"], kept["cols"]) == (64, 50)  # every 2nd row, every 4th column
    assert max(kept["rows"], kept["cols"]) <= HEATMAP_KEPT
    pixels = np.frombuffer(base64.b64decode(kept["uint8_base64"]), np.uint8).reshape(64, 50)
    assert pixels[:32, :25].min() == 255
    assert pixels[32:, :].max() == 0 and pixels[:, 25:].max() == 0
    assert {k: payload[k] for k in ("model", "version", "label")} == {
        "model": "cxr-pneumonia-resnet18-128",
        "version": "1.2.0",
        "label": "pneumonia",
    }
    assert "heatmap" not in result_input(record_outcome()).payload


def test_explanation_summary_names_the_three_largest_contributions() -> None:
    prediction = record_outcome().prediction
    assert prediction.explanation_method == "linear-exact"
    top3 = "Thallium stress test = Fixed defect (+0.90); ca = 0 (-0.40); Age = 63 (+0.10)"
    assert explanation_summary(prediction) == f"linear-exact: {top3}"
    assert explanation_summary(replace(prediction, explanation_method="")) == top3
    assert result_input(record_outcome()).explanation_summary == f"linear-exact: {top3}"
    assert explanation_summary(image_outcome("x.dcm").prediction) == "grad-cam"


def test_a_result_saved_by_the_old_desktop_reads_back(store: Store) -> None:
    """The controller wrote ``to_json()`` + ``"input"`` + a base64 heat map: it still reads."""
    patient = store.add_patient("MRN-9", "Old", "Result")
    encounter = store.add_encounter(patient.id, reason="Analysis")
    kept = np.array([[0, 51, 255], [102, 204, 0]], dtype=np.uint8)
    payload = image_outcome("/old/chest.dcm").prediction.to_json()
    payload["input"] = {"kind": "image", "path": "/old/chest.dcm", "frame": 2}
    payload["heatmap"] = {
        "rows": 2,
        "cols": 3,
        "uint8_base64": base64.b64encode(kept.tobytes()).decode("ascii"),
    }
    old = result_input(image_outcome("/old/chest.dcm"))
    stored = store.save_result(
        encounter.id,
        ResultInput(**{**_fields(old), "payload": payload}),
    )
    saved = read_saved(store.get_result(stored.id))
    assert saved.source == InputRef("image", path="/old/chest.dcm", frame=2)
    assert saved.kind == "image" and saved.path == "/old/chest.dcm"
    np.testing.assert_allclose(saved.heatmap, kept / 255.0, atol=1e-7)
    # an old ECG result: the lead and the beats come back
    ecg = ecg_outcome("/old/100.hea").prediction.to_json()
    ecg["input"] = {"kind": "ecg", "path": "/old/100.hea", "lead": "MLII"}
    stored = store.save_result(
        encounter.id, ResultInput(**{**_fields(result_input(ecg_outcome("x"))), "payload": ecg})
    )
    saved = read_saved(store.get_result(stored.id))
    assert saved.source == InputRef("signal", path="/old/100.hea", lead="MLII")
    assert [(b.sample, b.label) for b in saved.beats] == [(100, "N"), (400, "V")]
    assert saved.heatmap is None


def _fields(result: ResultInput) -> dict:
    return {name: getattr(result, name) for name in result.__dataclass_fields__}


def test_a_damaged_heat_map_or_input_block_reads_as_none(store: Store) -> None:
    patient = store.add_patient("MRN-8", "Damaged")
    encounter = store.add_encounter(patient.id)
    payload = {
        "input": {"kind": "hologram"},
        "heatmap": {"rows": 3, "cols": 3, "uint8_base64": "AA"},
    }
    base = result_input(record_outcome())
    stored = store.save_result(encounter.id, ResultInput(**{**_fields(base), "payload": payload}))
    saved = read_saved(stored)
    assert saved.source is None and saved.heatmap is None and saved.kind == ""


def test_save_outcome_of_a_record_saves_the_record_first_unless_it_was_saved(
    store: Store,
) -> None:
    patient = add_patient(store, PATIENT)
    first = save_outcome(store, patient.id, None, record_outcome(dict(HEART, thal=None)))
    assert first.record is not None and first.record.values["chol"] == 233
    assert first.result.record_id == first.record.id
    assert first.result.encounter_id == first.record.encounter_id
    assert first.result.result["input"] == {"kind": "record"}
    assert [e.reason for e in store.encounters(patient.id)] == [RECORD_REASON]

    # the same values again (an empty field left out): that record and encounter, nothing new
    same = {k: v for k, v in HEART.items() if k != "thal"}
    again = save_outcome(store, patient.id, None, record_outcome(same), saved_record=first.record)
    assert again.record is None and again.result.record_id == first.record.id
    assert again.result.encounter_id == first.result.encounter_id
    # other values: a new encounter with the record analysed
    other = save_outcome(
        store, patient.id, again.result.encounter_id, record_outcome(dict(HEART, chol=250)),
        saved_record=first.record,
    )  # fmt: skip
    assert other.record is not None and other.record.values["chol"] == 250
    assert other.result.encounter_id not in (first.result.encounter_id, None)
    assert len(store.encounters(patient.id)) == 2


def test_save_outcome_of_an_image_opens_an_encounter_and_ties_the_study(
    store: Store,
    tmp_path: Path,
) -> None:
    patient = add_patient(store, PATIENT)
    ref = open_study([resource_path("samples", "chest-cr-pa.dcm")]).view.ref
    link = link_study(store, patient.id, ref)
    assert link.path.endswith("chest-cr-pa.dcm") and link.warning  # another DICOM patient
    done = save_outcome(
        store, patient.id, None, image_outcome(link.path, ref.study.study_instance_uid),
        study_link_id=link.id,
    )  # fmt: skip
    assert done.record is None
    assert done.result.study_link_id == link.id and done.result.record_id is None
    assert [e.reason for e in store.encounters(patient.id)] == [ANALYSIS_REASON]
    assert latest_encounter(store, patient.id) == done.result.encounter_id
    saved = read_saved(done.result)
    assert saved.heatmap is not None and saved.heatmap.shape == (64, 50)


def test_save_outcome_of_an_ecg_goes_into_the_current_encounter(store: Store) -> None:
    patient = add_patient(store, PATIENT)
    encounter_id, record = save_record(store, patient.id, None, HEART)
    done = save_outcome(
        store, patient.id, encounter_id, ecg_outcome("/x/ecg.dcm"), study_link_id=99
    )  # a study link is for images only
    assert done.result.encounter_id == encounter_id and done.result.study_link_id is None
    assert read_saved(done.result).source == InputRef("signal", path="/x/ecg.dcm", lead="II")
    assert record.encounter_id == encounter_id


def test_decisions_are_recorded_and_an_override_needs_a_reason(store: Store) -> None:
    patient = add_patient(store, PATIENT)
    result = save_outcome(store, patient.id, None, record_outcome()).result
    accepted = decide(store, result.id, "accepted")
    assert accepted.decision.decision == "accepted" and accepted.decision.decided_by == "admin"
    with pytest.raises(StoreError):
        decide(store, result.id, "overridden", "")
    overridden = decide(store, result.id, "overridden", "old infarct on the ECG")
    assert overridden.decision.comment == "old infarct on the ECG"
    assert [d.decision for d in store.decisions(result.id)] == ["accepted", "overridden"]


def test_the_timeline_names_the_version_an_edited_record_replaced(store: Store) -> None:
    patient = add_patient(store, PATIENT)
    assert [p.mrn for p in search_patients(store, "lee")] == ["MRN-1"]
    _encounter, record = save_record(store, patient.id, None, HEART)
    new = update_record(store, record.id, dict(HEART, chol=250), reason="lab correction")
    timeline = open_patient(store, patient.id)
    assert timeline.patient.id == patient.id
    assert {e.kind for e in timeline.entries} == {"encounter", "record"}
    assert timeline.previous_records[new.id].values["chol"] == 233
    assert patient_timeline(store, patient.id).previous_records.keys() == {new.id}
    assert any(e.action == "opened" for e in store.audit_entries(object_type="patient"))


def test_a_study_link_names_the_first_file_of_the_series(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copyfile(resource_path("samples", "chest-cr-pa.dcm"), folder / "a.dcm")
    from engine.workflow.session import study_path

    ref = open_study([folder]).view.ref
    assert study_path(ref) == str(folder / "a.dcm")


def test_showing_an_out_of_domain_score_is_audited(store: Store) -> None:
    from engine.workflow import note_out_of_domain_shown

    p = replace(
        image_outcome("adult.dcm").prediction,
        label="",
        extra={"out_of_domain": True, "domain_score": 55.0, "adult_score": 3.2,
               "withheld_label": "pneumonia", "input_name": "adult.dcm"},
    )  # fmt: skip
    note_out_of_domain_shown(store, p)
    (entry,) = store.audit_entries(action="out_of_domain_score_shown")
    assert entry.object_id == "cxr-pneumonia-resnet18-128 1.2.0"
    assert entry.details["domain_score"] == 55.0 and entry.details["label_withheld"] == "pneumonia"
    assert store.verify_audit().ok

"""The encounter session: patients, records, results, decisions and study links.

What the Patient menu and dock do with the local store, without them:
every function takes the open :class:`~engine.store.Store` first, is a few
quick queries (so it has no ``progress``/``cancel``) and touches nothing
but the store, so that the desktop runs each one as a job (no store call on
the UI thread) and a script or test calls it directly.

A saved analysis follows the rules the clinic works by:

- a result goes into the current encounter; one is opened when there is
  none (reason :data:`ANALYSIS_REASON`);
- a record analysis first saves the record analysed, in a new encounter
  (reason :data:`RECORD_REASON`), unless it is the record saved last;
- an image result is tied to the study link of its study when given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.store import (
    Patient,
    Store,
    StoredRecord,
    StoredResult,
    StudyLink,
    TimelineEntry,
)
from engine.workflow.analysis import AnalysisOutcome
from engine.workflow.saved import result_input
from engine.workflow.studies import SeriesRef

#: Reason of the encounter a saved record opens (the desktop passes its translation).
RECORD_REASON = "Heart-disease risk record"
#: Reason of the encounter an analysis opens when none is current.
ANALYSIS_REASON = "Analysis"


# --- patients ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientTimeline:
    """A patient and everything of theirs in time order (the dock's timeline).

    ``previous_records`` maps each edited record's id to the version it
    replaced, so that a view can say what changed without asking the store.
    """

    patient: Patient
    entries: tuple[TimelineEntry, ...]
    previous_records: Mapping[int, StoredRecord] = field(default_factory=dict)


def search_patients(store: Store, text: str = "") -> list[Patient]:
    """Patients whose name or MRN contains ``text`` (all when empty)."""
    return store.search_patients(text)


def patient_timeline(store: Store, patient_id: int) -> PatientTimeline:
    """The patient's current data and timeline (with the replaced record versions)."""
    return _timeline(store, store.get_patient(patient_id))


def open_patient(store: Store, patient_id: int) -> PatientTimeline:
    """Open a patient's file (the opening is audited) and read their timeline."""
    return _timeline(store, store.open_patient(patient_id))


def _timeline(store: Store, patient: Patient) -> PatientTimeline:
    entries = tuple(store.timeline(patient.id))
    previous = {
        entry.id: entry.previous
        for entry in entries
        if entry.kind == "record" and isinstance(entry.previous, StoredRecord)
    }
    return PatientTimeline(patient, entries, previous)


def add_patient(store: Store, values: Mapping[str, Any]) -> Patient:
    """Register a patient from ``mrn``, ``family_name``, ``given_name``, ``birth_date``, ``sex``.

    Raises
    ------
    RecordValidationError
        A value is missing or wrong, or the MRN is taken (``problems`` says which).
    """
    return store.add_patient(**dict(values))


def update_patient(
    store: Store,
    patient_id: int,
    values: Mapping[str, Any],
    *,
    reason: str,
    expected_version: int | None = None,
) -> Patient:
    """Save a new version of a patient's data with the reason; returns the new version."""
    return store.update_patient(
        patient_id, values, reason=reason, expected_version=expected_version
    )


def patient_history(store: Store, patient_id: int) -> list[Patient]:
    """Every version of a patient's identifying data, oldest first."""
    return store.patient_history(patient_id)


def latest_encounter(store: Store, patient_id: int) -> int | None:
    """Id of the patient's latest encounter (``None`` when they have none)."""
    encounters = store.encounters(patient_id)
    return encounters[-1].id if encounters else None


# --- records ---------------------------------------------------------------------------------
def get_record(store: Store, record_id: int) -> StoredRecord:
    """One saved record version."""
    return store.get_record(record_id)


def record_history(store: Store, record_id: int) -> list[StoredRecord]:
    """Every version of a record, oldest first."""
    return store.record_history(record_id)


def update_record(
    store: Store,
    record_id: int,
    values: Mapping[str, Any],
    *,
    reason: str,
) -> StoredRecord:
    """Save corrected values as a new version of a record (the earlier one stays)."""
    return store.update_record(record_id, values, reason=reason)


def save_record(
    store: Store,
    patient_id: int,
    encounter_id: int | None,
    values: Mapping[str, Any],
    *,
    reason: str = RECORD_REASON,
) -> tuple[int, StoredRecord]:
    """Save a record in ``encounter_id``, or in a new encounter opened with ``reason``.

    Returns
    -------
    tuple of int and StoredRecord
        The encounter and the saved record.

    Raises
    ------
    RecordValidationError
        A value is out of range or missing.
    """
    if encounter_id is None:
        encounter_id = store.add_encounter(patient_id, reason=reason).id
    return encounter_id, store.save_record(encounter_id, values)


def same_record(saved: StoredRecord | None, values: Mapping[str, Any] | None) -> bool:
    """Whether ``values`` are those of the saved record (fields left empty count as absent)."""
    if saved is None or values is None:
        return False

    def given(data: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if v is not None}

    return given(saved.values) == given(values)


# --- results -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutcomeSaved:
    """What :func:`save_outcome` saved: the result, and the record it saved first.

    ``result.encounter_id`` is the encounter it went into (opened when there
    was none); ``record`` is the analysed record when it was saved with it
    (``None`` when it was the record saved last, or for other kinds).
    """

    result: StoredResult
    record: StoredRecord | None = None


def save_outcome(
    store: Store,
    patient_id: int,
    encounter_id: int | None,
    outcome: AnalysisOutcome,
    *,
    saved_record: StoredRecord | None = None,
    study_link_id: int | None = None,
    reason: str = ANALYSIS_REASON,
    record_reason: str = RECORD_REASON,
) -> OutcomeSaved:
    """Save an analysis of the patient's input in their current encounter.

    Parameters
    ----------
    store, patient_id
        Where, and whose.
    encounter_id
        The current encounter; ``None`` opens one (``reason``).
    outcome
        The analysis (:func:`engine.workflow.analyze`).
    saved_record
        The record saved last. A record analysis of other values first saves
        them, in a new encounter (``record_reason``); of the same values, the
        result refers to that record and goes into its encounter.
    study_link_id
        The patient's link to the study an image result was made on.

    Returns
    -------
    OutcomeSaved
        The stored result (with the encounter and record it was saved with)
        and the record saved for it, if any.

    Raises
    ------
    StoreError, RecordValidationError
    """
    record_id, record = None, None
    if outcome.kind == "record" and outcome.record is not None:
        if saved_record is not None and same_record(saved_record, outcome.record):
            encounter_id, record_id = saved_record.encounter_id, saved_record.id
        else:
            encounter_id, record = save_record(
                store, patient_id, None, outcome.record, reason=record_reason
            )
            record_id = record.id
    if encounter_id is None:
        encounter_id = store.add_encounter(patient_id, reason=reason).id
    result = store.save_result(
        encounter_id,
        result_input(outcome),
        record_id=record_id,
        study_link_id=study_link_id if outcome.kind == "image" else None,
    )
    return OutcomeSaved(result, record)


def decide(store: Store, result_id: int, decision: str, comment: str = "") -> StoredResult:
    """Record the clinician's decision (``accepted`` or ``overridden``, with why).

    Returns
    -------
    StoredResult
        The result with this decision as its latest.

    Raises
    ------
    StoreError
        An override without a comment, or an unknown decision.
    """
    store.record_decision(result_id, decision, comment)
    return store.get_result(result_id)


# --- studies ---------------------------------------------------------------------------------
def record_network_event(
    store: Store, action: str, node: str, *, study: str = "", count: int | None = None,
    result: str = "ok",
) -> None:  # fmt: skip
    """Audit a DICOM network event (query, retrieve, receive, send) by the signed-in user.

    The network's own trail (``net-audit.jsonl``) has every event; this puts the
    ones a signed-in clinician made in the patient store's hash-chained log too.
    """
    store.audit(
        f"network_{action}",
        object_type="study" if study else "node",
        object_id=study or node,
        details={"node": node, "count": count, "result": result},
    )


def record_print(store: Store, encounter_id: int, patient_id: int, printer: str) -> None:
    """Audit that an encounter's report was printed (``printer`` names where)."""
    store.audit(
        "printed",
        object_type="encounter",
        object_id=encounter_id,
        details={"patient_id": patient_id, "printer": printer},
    )


def note_out_of_domain_shown(store: Store, prediction: Any) -> None:
    """Audit that a clinician asked to see the score of an image the model flagged out of domain."""
    extra = getattr(prediction, "extra", {}) or {}
    store.audit(
        "out_of_domain_score_shown",
        object_type="model",
        object_id=f"{prediction.model_id} {prediction.model_version}",
        details={
            "input": str(extra.get("input_name", "")),
            "input_hash": str(getattr(prediction, "input_hash", "")),
            "domain_score": extra.get("domain_score"),
            "adult_score": extra.get("adult_score"),
            "score": float(prediction.score),
            "label_withheld": str(extra.get("withheld_label", "")),
        },
    )


def study_path(ref: SeriesRef) -> str:
    """The file a link to ``ref``'s study names: its first slice (first file otherwise)."""
    series = ref.series
    if series.slices:
        return str(series.slices[0].instance.path)
    return str(series.instances[0].path) if series.instances else ""


def link_study(
    store: Store,
    patient_id: int,
    ref: SeriesRef,
    *,
    encounter_id: int | None = None,
    path: str | Path | None = None,
) -> StudyLink:
    """Link a study to the patient (``warning`` says when its DICOM identity differs).

    ``path`` is the file a report reads the study's image from (by default
    :func:`study_path`). A study retrieved into the local DICOM cache is then
    kept out of the cache's eviction: the report must be able to read it again.
    """
    _protect_in_cache(ref.study.study_instance_uid, path or study_path(ref))
    return store.link_study(
        patient_id,
        study_uid=ref.study.study_instance_uid,
        path=str(path) if path is not None else study_path(ref),
        series_uid=ref.series.series_instance_uid,
        modality=ref.series.modality,
        study_date=ref.study.date,
        dicom_patient_id=ref.patient.patient_id,
        dicom_patient_name=ref.patient.name,
        encounter_id=encounter_id,
    )


def _protect_in_cache(study_uid: str, path: str | Path) -> None:
    """Mark a study of the DICOM cache as linked (no-op for files elsewhere)."""
    from engine.net import InstanceCache, default_cache_dir

    root = default_cache_dir()
    try:
        inside = Path(path).resolve().is_relative_to(root.resolve())
    except OSError:
        inside = False
    if inside and root.is_dir():
        cache = InstanceCache(root)
        try:
            cache.protect(study_uid)
        finally:
            cache.close()

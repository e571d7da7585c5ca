"""The Patients dock: search, select, register and correct patients, the timeline, histories.

Every read and write goes through the store's job queue
(:mod:`engine.workflow.session`); the dock shows what comes back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QObject, Slot
from PySide6.QtWidgets import QDialog

from desktop.jobs import JobFailure
from desktop.patients.dialogs import (
    EditPatientDialog,
    EditRecordDialog,
    HistoryDialog,
    NewPatientDialog,
)
from desktop.patients.report import value_text, when_text
from desktop.patients.session_controller import make_action
from engine.errors import RecordValidationError
from engine.records import HEART_RECORD
from engine.store import Patient, StoredRecord
from engine.workflow import (
    PatientTimeline,
    add_patient,
    get_record,
    open_patient,
    patient_history,
    patient_timeline,
    record_history,
    search_patients,
    update_patient,
    update_record,
)

if TYPE_CHECKING:
    from desktop.patients.controller import PatientController

translate = QCoreApplication.translate

#: Patient-data problems the engine words in English, as the dialogs show them.
_KNOWN_PROBLEMS = (
    QT_TRANSLATE_NOOP("PatientController", "The MRN (patient identifier) is required."),
    QT_TRANSLATE_NOOP("PatientController", "The MRN must have at most 64 characters."),
    QT_TRANSLATE_NOOP("PatientController", "The family name is required."),
    QT_TRANSLATE_NOOP("PatientController", "Sex must be Female, Male, Other or Unknown."),
    QT_TRANSLATE_NOOP("PatientController", "The birth date must be a date (YYYY-MM-DD)."),
    QT_TRANSLATE_NOOP("PatientController", "The birth date cannot be in the future."),
    QT_TRANSLATE_NOOP("PatientController", "The birth date is before 1880."),
)


class PatientsController(QObject):
    """The patients list, the selected patient's timeline, editing with history."""

    def __init__(self, ctl: PatientController) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        #: The timeline shown (``None`` when no patient is).
        self.timeline: PatientTimeline | None = None
        self.new_patient_action = make_action(
            ctl.window,
            translate("PatientController", "&New patient…"),
            self.new_patient,
            "new_patient_action",
        )
        panel = ctl.panel
        panel.search_changed.connect(self._on_panel_search_changed)
        panel.patient_selected.connect(self._on_panel_patient_selected)
        panel.new_patient.connect(self.new_patient)
        panel.edit_patient_requested.connect(self.edit_patient)
        panel.patient_history_requested.connect(self.patient_history)
        panel.edit_record_requested.connect(self.edit_record)
        panel.record_history_requested.connect(self.record_history)

    def update_state(self) -> None:
        self.new_patient_action.setEnabled(self.ctl.active)

    # --- the list and the timeline -------------------------------------------------------------
    def refresh_patients(self, select: int | None = None) -> None:
        """Search again (and select ``select`` when found)."""
        self.ctl.step(
            search_patients,
            self.ctl.panel.search.text(),
            name="search patients",
            on_success=lambda found: self.ctl.panel.set_patients(found, select),
        )

    @Slot(str)
    def _on_panel_search_changed(self, _text: str) -> None:
        self.refresh_patients()

    @Slot(int)
    def _on_panel_patient_selected(self, patient_id: int) -> None:
        ctl = self.ctl
        if ctl.store is None:
            return
        if patient_id == 0:
            ctl.set_patient(None)
            self.show_timeline(None)
            return
        if ctl.patient is not None and ctl.patient.id == patient_id:
            self.refresh_timeline()
            return
        ctl.step(open_patient, patient_id, name="open patient", on_success=self._opened)

    def _opened(self, timeline: PatientTimeline) -> None:
        self.ctl.set_patient(timeline.patient)
        self.show_timeline(timeline)

    def select_patient(self, patient_id: int) -> None:
        """Select a patient in the list (clearing the search when needed)."""
        if self.ctl.panel.search.text():
            self.ctl.panel.search.clear()
        self.refresh_patients(select=patient_id)

    def refresh_timeline(self) -> None:
        """Read the selected patient's timeline again."""
        patient = self.ctl.patient
        if self.ctl.store is None or patient is None:
            self.show_timeline(None)
            return

        def show(timeline: PatientTimeline) -> None:
            if self.ctl.patient is not None and self.ctl.patient.id == timeline.patient.id:
                self.show_timeline(timeline)

        self.ctl.step(patient_timeline, patient.id, name="timeline", on_success=show)

    def show_timeline(self, timeline: PatientTimeline | None) -> None:
        """Show a patient's header and timeline (``None``: no patient)."""
        self.timeline = timeline
        if timeline is None:
            self.ctl.panel.show_patient(None, [])
            return
        changes = {
            record_id: self._record_changes_text(record, previous)
            for record_id, previous in timeline.previous_records.items()
            if (record := self._timeline_record(record_id)) is not None
        }
        self.ctl.panel.show_patient(
            timeline.patient, list(timeline.entries), record_changes=changes
        )

    def _timeline_record(self, record_id: int) -> StoredRecord | None:
        """A record's latest version, from the timeline shown."""
        for entry in self.timeline.entries if self.timeline is not None else ():
            if entry.kind == "record" and entry.id == record_id:
                return entry.item
        return None

    # --- registering and correcting patients ---------------------------------------------------
    @Slot()
    def new_patient(self) -> QDialog | None:
        """Register a patient (Patient ▸ New patient…)."""
        if not self.ctl.active:
            return None
        dialog = NewPatientDialog(self.ctl.window)

        def added(patient: Patient) -> None:
            dialog.accept()
            self.select_patient(patient.id)

        dialog.submitted.connect(
            lambda: self.ctl.step(
                add_patient,
                dialog.values(),
                name="add patient",
                on_success=added,
                on_failure=lambda failure: dialog.show_message(self._problem_text(failure)),
            )
        )
        return self.ctl.open_dialog(dialog)

    def _problem_text(self, failure: JobFailure) -> str:
        """An engine error about patient data, in the interface language where it is known."""
        exc = failure.error
        if not isinstance(exc, RecordValidationError):
            return failure.user_message
        known = {str(t): translate("PatientController", str(t)) for t in _KNOWN_PROBLEMS}
        lines = []
        for name, text in exc.problems.items():
            if name == "mrn" and text.startswith("Another patient already has the MRN"):
                lines.append(
                    translate("PatientController", "Another patient already has this MRN.")
                )
            else:
                lines.append(known.get(text, text))
        return translate("PatientController", "Nothing was saved.") + " " + " ".join(lines)

    @Slot()
    def edit_patient(self) -> QDialog | None:
        """Correct the selected patient's data; the earlier version stays in the history."""
        ctl = self.ctl
        patient = ctl.patient
        if not ctl.active or patient is None:
            return None
        dialog = EditPatientDialog(patient, ctl.window)

        def saved(updated: Patient) -> None:
            dialog.accept()
            if ctl.patient is None or ctl.patient.id != updated.id:
                return
            ctl.patient = updated
            ctl.status(
                translate("PatientController", "Changes to {0} saved (version {1}).").format(
                    updated.display_name, updated.version
                )
                if updated.version != patient.version
                else translate("PatientController", "Nothing was changed.")
            )
            self.refresh_patients(select=updated.id)
            self.refresh_timeline()

        dialog.submitted.connect(
            lambda: ctl.step(
                update_patient,
                patient.id,
                dialog.values(),
                reason=dialog.reason.text().strip(),
                expected_version=dialog.version,
                name="edit patient",
                on_success=saved,
                on_failure=lambda failure: dialog.show_message(self._problem_text(failure)),
            )
        )
        return ctl.open_dialog(dialog)

    def _sex_text(self, code: str) -> str:
        labels = {
            "F": translate("PatientController", "Female"),
            "M": translate("PatientController", "Male"),
            "O": translate("PatientController", "Other"),
        }
        return labels.get(code, translate("PatientController", "Unknown"))

    def _reason_text(self, reason: str) -> str:
        return {"registered": translate("PatientController", "registered")}.get(reason, reason)

    @Slot()
    def patient_history(self) -> QDialog | None:
        """List every version of the selected patient's data, newest first."""
        patient = self.ctl.patient
        if not self.ctl.active or patient is None:
            return None

        def row(v: Patient, _before: Patient | None) -> tuple[str, str, str, str, str]:
            born = (
                v.birth_date.isoformat()
                if v.birth_date
                else translate("PatientController", "unknown")
            )
            data = translate("PatientController", "MRN {0} · {1} · born {2} · {3}").format(
                v.mrn, v.display_name, born, self._sex_text(v.sex)
            )
            return (
                str(v.version),
                when_text(v.updated_at),
                v.updated_by,
                self._reason_text(v.reason),
                data,
            )

        return self._history(
            translate("PatientController", "History of {0}").format(patient.display_name),
            translate(
                "PatientController",
                "Every version of this patient's identifying data, newest first.",
            ),
            patient_history,
            patient.id,
            row,
        )

    def _history(self, title: str, intro: str, versions_of, item_id: int, row) -> QDialog:
        """Open a history dialog; its rows (``row(version, the one before)``) come when read."""
        dialog = HistoryDialog(title, intro, [], self.ctl.window)

        def show(versions: list) -> None:
            pairs = list(zip(versions, [None, *versions[:-1]], strict=True))
            dialog.set_rows([row(version, before) for version, before in reversed(pairs)])

        self.ctl.step(versions_of, item_id, name="history", on_success=show)
        return self.ctl.open_dialog(dialog)

    # --- records ---------------------------------------------------------------------------------
    def _record_values_text(self, rec: StoredRecord, previous: StoredRecord | None) -> str:
        parts = [
            f"{label}: {text}" for label, text, value in _record_items(rec) if value is not None
        ]
        out = "; ".join(parts)
        if previous is not None:
            out = self._record_changes_text(rec, previous) + "\n" + out
        return out

    def _record_changes_text(self, rec: StoredRecord, previous: StoredRecord) -> str:
        """“Changed: Serum cholesterol: 233 mg/dL → 250 mg/dL” in the interface language."""
        before = {label: text for label, text, _ in _record_items(previous)}
        changes = [
            f"{label}: {before.get(label, '–')} → {text}"
            for label, text, _ in _record_items(rec)
            if before.get(label) != text
        ]
        return translate("PatientController", "Changed: {0}").format(
            "; ".join(changes) if changes else translate("PatientController", "no values")
        )

    @Slot(int)
    def record_history(self, record_id: int) -> QDialog | None:
        """List every version of a record, newest first, with what changed."""
        if not self.ctl.active:
            return None

        def row(rec: StoredRecord, before: StoredRecord | None) -> tuple[str, str, str, str, str]:
            return (
                str(rec.version), when_text(rec.recorded_at), rec.recorded_by,
                self._reason_text(rec.reason), self._record_values_text(rec, before),
            )  # fmt: skip

        return self._history(
            translate("PatientController", "History of the record"),
            translate(
                "PatientController",
                "Every version of this record, newest first. Earlier values are never lost.",
            ),
            record_history,
            record_id,
            row,
        )

    @Slot(int)
    def edit_record(self, record_id: int) -> QDialog | None:
        """Correct a saved record in the record form; the values before stay as a version.

        The record is taken from the timeline shown; one not in it is read first
        (the dialog then opens when it has been read, and ``None`` is returned).
        """
        if not self.ctl.active:
            return None
        rec = self._timeline_record(record_id)
        if rec is None:
            self.ctl.step(get_record, record_id, name="record", on_success=self._edit)
            return None
        return self._edit(rec)

    def _edit(self, rec: StoredRecord) -> QDialog | None:
        ctl = self.ctl
        if rec.schema_name != HEART_RECORD.name:
            ctl.message(
                translate("PatientController", "Records of this kind cannot be edited here."),
                warning=True,
            )
            return None
        dialog = EditRecordDialog(HEART_RECORD, rec.values, ctl.window)

        def saved(new: StoredRecord) -> None:
            dialog.accept()
            ctl.encounter.record_replaced(rec.id, new)
            ctl.status(
                translate("PatientController", "Record corrected (version {0}).").format(
                    new.version
                )
            )
            self.refresh_timeline()

        dialog.submitted.connect(
            lambda: ctl.step(
                update_record,
                rec.id,
                dialog.record_form.record(),
                reason=dialog.reason.text().strip(),
                name="edit record",
                on_success=saved,
                on_failure=lambda failure: dialog.show_message(failure.user_message),
            )
        )
        return ctl.open_dialog(dialog)


def _record_items(rec: StoredRecord) -> list[tuple[str, str, object]]:
    """(label, value text, value) of each field of a record, in the interface language."""
    specs = {f.name: f for f in HEART_RECORD.fields}
    out = []
    for name, value in rec.values.items():
        spec = specs.get(name)
        if spec is None:
            out.append((name, "–" if value is None else str(value), value))
        else:
            label = QCoreApplication.translate("RecordForm", spec.label)
            out.append((label, value_text(spec, value, rec.units.get(name)), value))
    return out

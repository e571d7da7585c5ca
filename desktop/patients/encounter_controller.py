"""Saving into the current encounter: records, analysis results, decisions, study links.

Every analysis the window makes while a patient is selected arrives as an
:class:`~engine.workflow.AnalysisOutcome` (``host.analysis_completed``) and
is saved with :func:`engine.workflow.session.save_outcome` on the store's
job queue; what kind of result it is comes from the outcome itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from desktop.patients.dialogs import OverrideDialog
from desktop.patients.session_controller import make_action
from engine.store import Store, StoredRecord, StoredResult, StudyLink
from engine.workflow import (
    AnalysisOutcome,
    OutcomeSaved,
    Prediction,
    decide,
    link_study,
    save_outcome,
    save_record,
)

if TYPE_CHECKING:
    from desktop.patients.controller import PatientController

translate = QCoreApplication.translate

#: Saved results remembered for the decision buttons (the latest ones).
KEPT_RESULTS = 10


class EncounterController(QObject):
    """Save record, the automatic saving of results, Accept / Override…, Link study."""

    def __init__(self, ctl: PatientController) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        #: The result saved last.
        self.last_result: StoredResult | None = None
        #: The record saved last (a record analysis of the same values refers to it).
        self.saved_record: StoredRecord | None = None
        #: Intended use per model id of the analyses made in this window.
        self.intended_uses: dict[str, str] = {}
        self._saved_results: list[tuple[Prediction, StoredResult]] = []  # latest last
        self._linked: dict[tuple[int, str], int] = {}  # (patient, study UID) -> link id
        w = ctl.window
        self.save_record_action = make_action(
            w, translate("PatientController", "Save &record"), self.save_record,
            "save_record_action",
        )  # fmt: skip
        self.save_record_action.setShortcut("Ctrl+S")
        self.link_study_action = make_action(
            w, translate("PatientController", "&Link study to patient"), self.link_study,
            "link_study_action",
        )  # fmt: skip
        self.save_record_button = QPushButton(translate("PatientController", "Save record"))
        self.save_record_button.setObjectName("save_record_button")
        self.save_record_button.clicked.connect(self.save_record)
        self.decision_box = QWidget()
        self.decision_box.setObjectName("decision_box")
        row = QHBoxLayout(self.decision_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.accept_button = QPushButton(translate("PatientController", "Accept"))
        self.accept_button.setObjectName("accept_button")
        self.override_button = QPushButton(translate("PatientController", "Override…"))
        self.override_button.setObjectName("override_button")
        self.decision_label = QLabel("")
        self.decision_label.setObjectName("decision_label")
        self.decision_label.setWordWrap(True)
        row.addWidget(self.accept_button)
        row.addWidget(self.override_button)
        row.addWidget(self.decision_label, 1)
        self.accept_button.clicked.connect(lambda: self.accept_result())
        self.override_button.clicked.connect(lambda: self.override_result())
        ctl.host.add_record_widgets(self.save_record_button, self.decision_box)
        self.link_button = QPushButton(translate("PatientController", "Link to patient"))
        self.link_button.setObjectName("link_button")
        self.link_button.clicked.connect(self.link_study)
        self.link_button.hide()
        ctl.host.add_status_widget(self.link_button)
        ctl.panel.decision_requested.connect(self._on_panel_decision_requested)
        ctl.host.analysis_completed.connect(self._on_host_analysis_completed)

    def menu_actions(self) -> list[QAction]:
        """Save record, link study (in menu order)."""
        return [self.save_record_action, self.link_study_action]

    def reset(self) -> None:
        """Another patient (or none) is selected: nothing of theirs saved yet."""
        self.saved_record = None
        self.last_result = None
        self._saved_results = []

    def update_state(self) -> None:
        ctl = self.ctl
        on = ctl.active
        patient = ctl.patient if on else None
        self.save_record_action.setEnabled(patient is not None)
        self.save_record_button.setVisible(on)
        self.save_record_button.setEnabled(patient is not None)
        study = ctl.host.shown_study() if patient is not None else None
        self.link_study_action.setEnabled(study is not None)
        self.link_button.setVisible(
            patient is not None
            and study is not None
            and (patient.id, study.study.study_instance_uid) not in self._linked
        )
        shown = self.shown_result() if on else None
        # a withheld result (out of domain: no label) has nothing to accept or override
        self.decision_box.setVisible(shown is not None and not shown.withheld)
        if shown is not None:
            d = shown.decision
            self.decision_label.setText(
                ""
                if d is None
                else (
                    translate("PatientController", "Accepted by {0}.").format(d.decided_by)
                    if d.decision == "accepted"
                    else translate("PatientController", "Overridden by {0}: {1}").format(
                        d.decided_by, d.comment
                    )
                )
            )

    def shown_result(self) -> StoredResult | None:
        """The saved result of the prediction in the result panel, if it was saved."""
        shown = self.ctl.host.shown_prediction()
        for prediction, stored in reversed(self._saved_results):
            if prediction is shown:
                return stored
        return None

    def record_replaced(self, record_id: int, new: StoredRecord) -> None:
        """A record was corrected: the new version is the one saved last if it was."""
        if self.saved_record is not None and self.saved_record.id == record_id:
            self.saved_record = new

    # --- records ---------------------------------------------------------------------------------
    @Slot()
    def save_record(self) -> bool:
        """Store the form's record in a new encounter of the selected patient.

        Returns whether the record was valid and its saving started.
        """
        ctl = self.ctl
        patient = ctl.need_patient()
        if patient is None:
            return False
        problems = ctl.host.record_problems()
        if problems:
            ctl.message(
                translate(
                    "PatientController", "The record was not saved. Correct these values first:"
                )
                + "\n\n"
                + "\n".join(problems),
                warning=True,
            )
            return False

        record = ctl.host.current_record()

        def saved(outcome: tuple[int, StoredRecord]) -> None:
            ctl.host.record_saved(record)
            if ctl.patient is None or ctl.patient.id != patient.id:
                return
            ctl.encounter_id, self.saved_record = outcome
            ctl.status(
                translate("PatientController", "Record saved for {0}.").format(patient.display_name)
            )
            ctl.patients.refresh_timeline()
            ctl.update_state()

        return ctl.step(
            save_record,
            patient.id,
            None,
            record,
            reason=translate("PatientController", "Heart-disease risk record"),
            name="save record",
            on_success=saved,
        )

    # --- results ---------------------------------------------------------------------------------
    @Slot(object)
    def _on_host_analysis_completed(self, outcome: object) -> None:
        """Save a result made while a patient is selected."""
        if not isinstance(outcome, AnalysisOutcome):
            return
        ctl = self.ctl
        self.intended_uses[outcome.model.id] = outcome.model.intended_use
        if not ctl.active or ctl.patient is None:
            return
        patient = ctl.patient
        link_id = self._linked.get((patient.id, outcome.source.study_instance_uid))

        def save(store: Store) -> OutcomeSaved:
            # The encounter and the record saved last are read when the job starts:
            # the queue starts it after the callbacks of the jobs before it, so it
            # sees the encounter they opened (two quick analyses share one).
            return save_outcome(
                store,
                patient.id,
                ctl.encounter_id,
                outcome,
                saved_record=self.saved_record,
                study_link_id=link_id,
                reason=translate("PatientController", "Analysis"),
                record_reason=translate("PatientController", "Heart-disease risk record"),
            )

        def saved(done: OutcomeSaved) -> None:
            if outcome.kind == "record" and outcome.record is not None:
                ctl.host.record_saved(outcome.record)  # saved with the result, or already
            if ctl.patient is None or ctl.patient.id != patient.id:
                return
            stored = done.result
            ctl.encounter_id = stored.encounter_id
            if done.record is not None:
                self.saved_record = done.record
            self.last_result = stored
            self._saved_results = [
                *self._saved_results[-(KEPT_RESULTS - 1) :],
                (outcome.prediction, stored),
            ]
            ctl.status(
                translate("PatientController", "Result of {0} {1} saved for {2}.").format(
                    stored.model_id, stored.model_version, patient.display_name
                )
            )
            ctl.patients.refresh_timeline()
            ctl.update_state()

        ctl.step(save, name="save result", on_success=saved)

    @Slot()
    def accept_result(self, result_id: int | None = None) -> bool:
        """The clinician accepts the result shown (or the result ``result_id``)."""
        return self._decide(result_id, "accepted")

    @Slot()
    def override_result(self, result_id: int | None = None) -> QDialog | None:
        """Ask why, then record the override of the result shown (or ``result_id``)."""
        if result_id is None and self.shown_result() is None:
            return None
        dialog = OverrideDialog(self.ctl.window)

        def submitted() -> None:
            if not self._decide(result_id, "overridden", dialog.comment.toPlainText(), dialog):
                dialog.set_busy(False)

        dialog.submitted.connect(submitted)
        return self.ctl.open_dialog(dialog)

    @Slot(int, str)
    def _on_panel_decision_requested(self, result_id: int, decision: str) -> None:
        if decision == "accepted":
            self.accept_result(result_id)
        else:
            self.override_result(result_id)

    def _decide(
        self,
        result_id: int | None,
        decision: str,
        comment: str = "",
        dialog: OverrideDialog | None = None,
    ) -> bool:
        """Start recording a decision; the dialog it came from closes once it is saved."""
        if result_id is None:
            shown = self.shown_result()
            result_id = None if shown is None else shown.id
        ctl = self.ctl
        if not ctl.active or result_id is None:
            return False

        def decided(updated: StoredResult) -> None:
            if dialog is not None:
                dialog.accept()
            self._saved_results = [
                (p, updated if r.id == updated.id else r) for p, r in self._saved_results
            ]
            if self.last_result is not None and self.last_result.id == updated.id:
                self.last_result = updated
            ctl.patients.refresh_timeline()
            ctl.update_state()

        def failed(failure) -> None:
            ctl.message(failure.user_message, warning=True)
            if dialog is not None:
                dialog.set_busy(False)

        return ctl.step(
            decide,
            result_id,
            decision,
            comment,
            name="decision",
            on_success=decided,
            on_failure=failed,
        )

    # --- studies --------------------------------------------------------------------------------
    @Slot()
    def link_study(self) -> bool:
        """Attach the study shown to the selected patient (warns on an identity mismatch).

        Returns whether the linking started.
        """
        ctl = self.ctl
        ref = ctl.host.shown_study()
        patient = ctl.need_patient()
        if patient is None or ref is None:
            return False

        def linked(link: StudyLink) -> None:
            self._linked[(patient.id, ref.study.study_instance_uid)] = link.id
            if link.warning:
                ctl.message(
                    translate(
                        "PatientController", "The study was linked, but check it: {0}"
                    ).format(link.warning),
                    warning=True,
                )
            else:
                ctl.status(
                    translate("PatientController", "Study linked to {0}.").format(
                        patient.display_name
                    )
                )
            ctl.patients.refresh_timeline()
            ctl.update_state()

        return ctl.step(
            link_study,
            patient.id,
            ref,
            encounter_id=ctl.encounter_id,
            name="link study",
            on_success=linked,
        )

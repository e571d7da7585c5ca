"""Patients, records and results kept on the workstation: the Patient menu and dock.

The application starts without anyone signed in (images and ECGs can be
viewed). Patient ▸ Sign in… opens the store (or, on the first run, creates
it with the administrator and shows the recovery key once). While signed in:

- the Patients dock searches and lists patients and shows the selected
  patient's timeline (newest first);
- “Save record” stores the form's record in a new encounter;
- every analysis made while a patient is selected is saved with the model's
  id, version and weights hash; Accept / Override… record the clinician's
  decision on it;
- a study opened while a patient is selected can be linked to them (with a
  warning when its DICOM identity does not match);
- Patient ▸ Report… writes a PDF of an encounter;
- after ``lock_timeout_s`` without keyboard or mouse input the session locks
  until the password is typed again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QImage, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QWidget,
)

import engine
from desktop.jobs import JobFailure, JobRunner
from desktop.patients import tasks
from desktop.patients.dialogs import (
    ChangePasswordDialog,
    LockDialog,
    NewPatientDialog,
    OverrideDialog,
    RecoveryKeyDialog,
    SetupDialog,
    SignInDialog,
    UsersDialog,
)
from desktop.patients.panel import PatientsPanel
from desktop.patients.report import ReportContent, write_report_pdf
from desktop.viewer.overlay import heatmap_rgba
from engine.errors import EngineError
from engine.models.results import Prediction
from engine.records import HEART_RECORD
from engine.store import KdfParams, Patient, Store, StoredResult, default_store_path, store_exists

log = logging.getLogger(__name__)

#: Minutes of inactivity before the session locks.
DEFAULT_LOCK_MINUTES = 10

_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class PatientController(QObject):
    """Adds the Patient menu, the Patients dock and the save/decide/link/report actions.

    Parameters
    ----------
    window
        The :class:`~desktop.main_window.MainWindow`.
    store_path
        The database (default: :func:`engine.store.default_store_path`).
    kdf
        Argon2 cost for new passwords (``None``: the product's; tests pass
        :meth:`KdfParams.fast`).
    """

    def __init__(
        self, window, *, store_path: str | Path | None = None, kdf: KdfParams | None = None
    ) -> None:
        super().__init__(window)
        self.window = window
        self.store_path = Path(store_path) if store_path else default_store_path()
        self.kdf = kdf
        self.store: Store | None = None
        self.patient: Patient | None = None
        self.encounter_id: int | None = None
        self.last_result: StoredResult | None = None
        self.last_message: QMessageBox | None = None
        self.last_report: Path | None = None
        self.dialog: QDialog | None = None
        self.lock_timeout_s = DEFAULT_LOCK_MINUTES * 60.0
        self.locked = False
        self.intended_uses: dict[str, str] = {}
        self._saved_record: tuple[int, int, dict] | None = None  # encounter, record id, values
        self._analysed_record: dict | None = None
        self._saved_results: list[tuple[Prediction, StoredResult]] = []  # latest last
        self._study = None  # tasks.SeriesRef of the study shown
        self._study_path = ""
        self._linked: dict[tuple[int, str], int] = {}  # (patient, study UID) -> link id
        self.jobs = JobRunner(self)
        self.jobs.failed.connect(self._on_jobs_failed)
        self._build_actions()
        self._build_widgets()
        self._connect_window()
        self.lock_timer = QTimer(self)
        self.lock_timer.setInterval(5000)
        self.lock_timer.timeout.connect(self.check_lock)
        QApplication.instance().installEventFilter(self)
        self._update_state()

    def configure(
        self, *, store_path: str | Path | None = None, kdf: KdfParams | None = None
    ) -> None:
        """Use another database or Argon2 cost (tests; before signing in)."""
        if store_path is not None:
            self.store_path = Path(store_path)
        if kdf is not None:
            self.kdf = kdf
        self._update_state()

    # --- building --------------------------------------------------------------------------
    def _action(self, text: str, slot, name: str) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        w = self.window
        self.sign_in_action = self._action(self.tr("&Sign in…"), self.sign_in, "sign_in_action")
        self.sign_out_action = self._action(self.tr("Sign &out"), self.sign_out, "sign_out_action")
        self.change_password_action = self._action(
            self.tr("&Change password…"), self.change_password, "change_password_action"
        )
        self.users_action = self._action(self.tr("&Users…"), self.manage_users, "users_action")
        self.new_patient_action = self._action(
            self.tr("&New patient…"), self.new_patient, "new_patient_action"
        )
        self.save_record_action = self._action(
            self.tr("Save &record"), self.save_record, "save_record_action"
        )
        self.save_record_action.setShortcut("Ctrl+S")
        self.link_study_action = self._action(
            self.tr("&Link study to patient"), self.link_study, "link_study_action"
        )
        self.report_action = self._action(
            self.tr("&Report of encounter…"), self.export_report_dialog, "report_action"
        )
        self.export_report_action = self._action(
            self.tr("Export &report…"), self.export_report_dialog, "export_report_action"
        )
        self.menu = w.menuBar().addMenu(self.tr("&Patient"))
        help_action = w.menuBar().actions()[-2]  # Help, before the menu just added
        w.menuBar().removeAction(self.menu.menuAction())
        w.menuBar().insertMenu(help_action, self.menu)
        for a in (
            self.sign_in_action,
            self.sign_out_action,
            self.change_password_action,
            self.users_action,
            None,
            self.new_patient_action,
            self.save_record_action,
            self.link_study_action,
            None,
            self.report_action,
        ):
            if a is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(a)
        w.file_menu.insertAction(w.close_studies_action, self.export_report_action)

    def _build_widgets(self) -> None:
        w = self.window
        self.panel = PatientsPanel()
        self.dock = QDockWidget(self.tr("Patients"), w)
        self.dock.setObjectName("patients_dock")
        self.dock.setWidget(self.panel)
        w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        w.tabifyDockWidget(w.browser_dock, self.dock)
        self.dock.hide()
        toggle = self.dock.toggleViewAction()
        toggle.setShortcut("Ctrl+Shift+L")
        w.view_menu.insertAction(w.record_dock.toggleViewAction(), toggle)

        side = w.analyze_button.parentWidget().layout()
        self.save_record_button = QPushButton(self.tr("Save record"))
        self.save_record_button.setObjectName("save_record_button")
        self.save_record_button.clicked.connect(self.save_record)
        side.insertWidget(side.indexOf(w.analyze_button) + 1, self.save_record_button)
        self.decision_box = QWidget()
        self.decision_box.setObjectName("decision_box")
        row = QHBoxLayout(self.decision_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.accept_button = QPushButton(self.tr("Accept"))
        self.accept_button.setObjectName("accept_button")
        self.override_button = QPushButton(self.tr("Override…"))
        self.override_button.setObjectName("override_button")
        self.decision_label = QLabel("")
        self.decision_label.setObjectName("decision_label")
        self.decision_label.setWordWrap(True)
        row.addWidget(self.accept_button)
        row.addWidget(self.override_button)
        row.addWidget(self.decision_label, 1)
        side.insertWidget(side.indexOf(w.results) + 1, self.decision_box)
        self.accept_button.clicked.connect(lambda: self.accept_result())
        self.override_button.clicked.connect(lambda: self.override_result())

        self.link_button = QPushButton(self.tr("Link to patient"))
        self.link_button.setObjectName("link_button")
        self.link_button.clicked.connect(self.link_study)
        self.link_button.hide()
        w.statusBar().addPermanentWidget(self.link_button)
        self.user_status = QLabel("")
        self.user_status.setObjectName("user_status")
        w.statusBar().addPermanentWidget(self.user_status)

        self.panel.search_changed.connect(self._on_panel_search_changed)
        self.panel.patient_selected.connect(self._on_panel_patient_selected)
        self.panel.new_patient.connect(self.new_patient)
        self.panel.report_requested.connect(self.export_report_dialog)
        self.panel.decision_requested.connect(self._on_panel_decision_requested)

    def _connect_window(self) -> None:
        w = self.window
        w.analysis_jobs.started.connect(self._on_analysis_started)
        w.analysis_jobs.succeeded.connect(self._on_prediction)
        w.ecg.jobs.succeeded.connect(self._on_prediction)
        w.image_jobs.succeeded.connect(self._on_study_shown)
        w.viewer.image_changed.connect(self._update_state)
        w.form.record_changed.connect(self._update_state)

    # --- state ---------------------------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return self.store is not None

    def _update_state(self) -> None:
        on = self.store is not None and not self.locked
        has_patient = on and self.patient is not None
        admin = on and self.store is not None and self.store.user.is_admin
        self.sign_in_action.setEnabled(self.store is None)
        self.sign_in_action.setText(
            self.tr("&Sign in…") if store_exists(self.store_path) else self.tr("&Set up…")
        )
        for a in (self.sign_out_action, self.change_password_action, self.new_patient_action):
            a.setEnabled(on)
        self.users_action.setEnabled(admin)
        self.save_record_action.setEnabled(has_patient)
        self.save_record_button.setVisible(on)
        self.save_record_button.setEnabled(has_patient)
        self.report_action.setEnabled(has_patient)
        self.export_report_action.setEnabled(has_patient)
        can_link = has_patient and self._study is not None and self.window.viewer.stack is not None
        self.link_study_action.setEnabled(can_link)
        self.link_button.setVisible(
            can_link and (self.patient.id, self._study.study.study_instance_uid) not in self._linked
        )
        shown = self._shown_result() if on else None
        showing = shown is not None
        self.decision_box.setVisible(showing)
        if shown is not None:
            d = shown.decision
            self.decision_label.setText(
                ""
                if d is None
                else (
                    self.tr("Accepted by {0}.").format(d.decided_by)
                    if d.decision == "accepted"
                    else self.tr("Overridden by {0}: {1}").format(d.decided_by, d.comment)
                )
            )
        if self.store is None:
            self.user_status.setText(self.tr("Not signed in"))
        else:
            self.user_status.setText(self.tr("Signed in: {0}").format(self.store.user.username))
        self.panel.user_label.setText(self.user_status.text())

    def _shown_result(self) -> StoredResult | None:
        """The saved result of the prediction in the result panel, if it was saved."""
        shown = self.window.results.prediction
        for prediction, stored in reversed(self._saved_results):
            if prediction is shown:
                return stored
        return None

    def _message(self, text: str, warning: bool = False) -> QMessageBox:
        box = QMessageBox(
            QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Information,
            self.tr("Stethos"),
            text,
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        box.open()
        self.last_message = box
        return box

    def _run(self, fn, *args, done=None) -> bool:
        """Call a quick store method on the UI thread; a store error is shown, not raised."""
        try:
            value = fn(*args)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return False
        if done is not None:
            done(value)
        return True

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        if (
            self.dialog is not None
            and self.dialog.isVisible()
            and hasattr(self.dialog, "show_message")
        ):
            self.dialog.show_message(failure.user_message)
        else:
            self._message(failure.user_message, warning=True)

    def _open_dialog(self, dialog: QDialog) -> QDialog:
        self.dialog = dialog
        dialog.open()
        return dialog

    # --- signing in ----------------------------------------------------------------------------
    @Slot()
    def sign_in(self) -> QDialog | None:
        """Sign in, or on the first run create the store (Patient ▸ Sign in… / Set up…)."""
        if self.store is not None:
            return None
        if not store_exists(self.store_path):
            dialog = SetupDialog(self.window)
            dialog.submitted.connect(lambda: self._on_setup_submitted(dialog))
        else:
            dialog = SignInDialog(self.window)
            dialog.submitted.connect(lambda: self._on_sign_in_submitted(dialog))
        return self._open_dialog(dialog)

    def _on_setup_submitted(self, dialog: SetupDialog) -> None:
        def done(outcome) -> None:
            store, key = outcome
            dialog.accept()
            self._signed_in(store)
            self.recovery_dialog = RecoveryKeyDialog(key, self.window)
            self._open_dialog(self.recovery_dialog)

        self.jobs.submit(
            tasks.setup_store,
            self.store_path,
            dialog.username.text().strip(),
            dialog.password.text(),
            dialog.full_name.text(),
            self.kdf,
            name="setup",
            on_success=done,
        )

    def _on_sign_in_submitted(self, dialog: SignInDialog) -> None:
        def done(store: Store) -> None:
            dialog.accept()
            self._signed_in(store)
            if store.user.must_change_password:
                self.change_password(forced=True)

        self.jobs.submit(
            tasks.sign_in,
            self.store_path,
            dialog.username.text().strip(),
            dialog.password.text(),
            self.kdf,
            name="sign in",
            on_success=done,
        )

    def _signed_in(self, store: Store) -> None:
        self.store = store
        self.locked = False
        self.patient = None
        self.encounter_id = None
        self.dock.show()
        self.dock.raise_()
        QTimer.singleShot(
            0, lambda: self.window.resizeDocks([self.dock], [400], Qt.Orientation.Horizontal)
        )
        self.refresh_patients()
        self.lock_timer.start()
        self.window.status_text.setText(self.tr("Signed in as {0}.").format(store.user.username))
        self._update_state()

    @Slot()
    def sign_out(self) -> None:
        """Close the store and forget the patient shown."""
        self.lock_timer.stop()
        if self.dialog is not None and isinstance(self.dialog, LockDialog):
            self.dialog.done(0)
        if self.store is not None:
            self.store.close()
        self.store = None
        self.locked = False
        self._select(None)
        self.panel.set_patients([])
        self.dock.hide()
        self.window.record_dock.show()
        self.window.status_text.setText(self.tr("Signed out."))
        self._update_state()

    def shutdown(self) -> None:
        """On closing the window: wait for a running sign-in, close the store."""
        self.jobs.cancel()
        self.jobs.wait(5.0)
        QApplication.instance().removeEventFilter(self)
        self.lock_timer.stop()
        if self.store is not None:
            self.store.close()
            self.store = None

    @Slot()
    def change_password(self, forced: bool = False) -> QDialog | None:
        if self.store is None:
            return None
        dialog = ChangePasswordDialog(self.window, forced=bool(forced))
        store = self.store

        def submitted() -> None:
            self.jobs.submit(
                tasks.change_password,
                store,
                dialog.current.text(),
                dialog.password.text(),
                name="change password",
                on_success=lambda _: (
                    dialog.accept(),
                    self._message(self.tr("Your password was changed.")),
                ),
            )

        dialog.submitted.connect(submitted)
        return self._open_dialog(dialog)

    @Slot()
    def manage_users(self) -> QDialog | None:
        if self.store is None or not self.store.user.is_admin:
            return None
        store = self.store
        dialog = UsersDialog(store.list_users(), self.window)

        def added(users) -> None:
            dialog.set_users(users)
            dialog.show_message(self.tr("The account was added."))
            for edit in (dialog.username, dialog.full_name, dialog.password):
                edit.clear()

        def submitted() -> None:
            self.jobs.submit(
                tasks.add_user,
                store,
                dialog.username.text().strip(),
                dialog.password.text(),
                dialog.role.currentData(),
                dialog.full_name.text(),
                name="add user",
                on_success=added,
            )

        def reset(username: str, password: str) -> None:
            dialog.set_busy(True)
            self.jobs.submit(
                tasks.reset_user,
                store,
                username,
                password,
                name="reset user",
                on_success=lambda users: (
                    dialog.set_users(users),
                    dialog.show_message(
                        self.tr("{0} must choose a new password at the next sign-in.").format(
                            username
                        )
                    ),
                ),
            )

        dialog.submitted.connect(submitted)
        dialog.reset_requested.connect(reset)
        return self._open_dialog(dialog)

    # --- lock ----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS and self.store is not None and not self.locked:
            self.store.session.touch()
        return False

    @Slot()
    def check_lock(self) -> None:
        """Lock when the session has been idle for :attr:`lock_timeout_s` (timer)."""
        if self.store is not None and not self.locked:
            if self.store.session.is_locked(self.lock_timeout_s):
                self.lock()

    def lock(self) -> QDialog | None:
        """Hide patient data and ask for the password again."""
        if self.store is None or self.locked:
            return None
        self.locked = True
        self._docks_before_lock = (self.dock.isVisible(), self.window.record_dock.isVisible())
        self.dock.hide()
        self.window.record_dock.hide()
        self._update_state()
        dialog = LockDialog(self.store.user.username, self.window)
        store = self.store

        def submitted() -> None:
            self.jobs.submit(
                tasks.unlock,
                store,
                dialog.password.text(),
                name="unlock",
                on_success=lambda _: self._unlocked(dialog),
            )

        dialog.submitted.connect(submitted)
        dialog.sign_out_requested.connect(self.sign_out)
        return self._open_dialog(dialog)

    def _unlocked(self, dialog: LockDialog) -> None:
        self.locked = False
        dialog.accept()
        patients, record = self._docks_before_lock
        self.dock.setVisible(patients)
        self.window.record_dock.setVisible(record)
        self._update_state()

    # --- patients ---------------------------------------------------------------------------------
    def refresh_patients(self, select: int | None = None) -> None:
        if self.store is None:
            return
        self._run(
            self.store.search_patients,
            self.panel.search.text(),
            done=lambda found: self.panel.set_patients(found, select),
        )

    @Slot(str)
    def _on_panel_search_changed(self, _text: str) -> None:
        self.refresh_patients()

    @Slot(int)
    def _on_panel_patient_selected(self, patient_id: int) -> None:
        if self.store is None:
            return
        if patient_id == 0:
            self._select(None)
            return
        if self.patient is not None and self.patient.id == patient_id:
            self.refresh_timeline()
            return
        self._run(self.store.open_patient, patient_id, done=self._select)

    def _select(self, patient: Patient | None) -> None:
        self.patient = patient
        self.encounter_id = None
        self._saved_record = None
        self.last_result = None
        self._saved_results = []
        self.refresh_timeline()
        self._update_state()

    def select_patient(self, patient_id: int) -> None:
        """Select a patient in the list (clearing the search when needed)."""
        if self.panel.search.text():
            self.panel.search.clear()
        self.refresh_patients(select=patient_id)

    def refresh_timeline(self) -> None:
        if self.store is None or self.patient is None:
            self.panel.show_patient(None, [])
            return
        patient = self.patient
        self._run(
            self.store.timeline, patient.id, done=lambda e: self.panel.show_patient(patient, e)
        )

    @Slot()
    def new_patient(self) -> QDialog | None:
        if self.store is None or self.locked:
            return None
        dialog = NewPatientDialog(self.window)

        def submitted() -> None:
            try:
                patient = self.store.add_patient(**dialog.values())
            except EngineError as exc:
                dialog.show_message(exc.user_message)
                return
            dialog.accept()
            self.select_patient(patient.id)

        dialog.submitted.connect(submitted)
        return self._open_dialog(dialog)

    # --- records and results -------------------------------------------------------------------
    def _need_patient(self) -> bool:
        if self.store is None or self.locked:
            self._message(self.tr("Sign in (Patient ▸ Sign in…) to keep patient data."))
            return False
        if self.patient is None:
            self._message(self.tr("Select or create a patient in the Patients list first."))
            return False
        return True

    @Slot()
    def save_record(self) -> bool:
        """Store the form's record in a new encounter of the selected patient."""
        if not self._need_patient():
            return False
        form = self.window.form
        if not form.is_valid:
            problems = HEART_RECORD.problems(form.raw_values())
            lines = [form.message(name) or problems[name] for name in problems]
            self._message(
                self.tr("The record was not saved. Correct these values first:")
                + "\n\n"
                + "\n".join(lines),
                warning=True,
            )
            return False
        values = form.record()
        return self._save_values(values) is not None

    def _save_values(self, values: dict) -> int | None:
        assert self.store is not None and self.patient is not None
        try:
            encounter = self.store.add_encounter(
                self.patient.id, reason=self.tr("Heart-disease risk record")
            )
            record = self.store.save_record(encounter.id, values)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return None
        self.encounter_id = encounter.id
        self._saved_record = (encounter.id, record.id, dict(values))
        self.window.status_text.setText(
            self.tr("Record saved for {0}.").format(self.patient.display_name)
        )
        self.refresh_timeline()
        self._update_state()
        return record.id

    @Slot(str)
    def _on_analysis_started(self, name: str) -> None:
        self._analysed_record = dict(self.window.form.record()) if name == "analyze" else None

    @Slot(object)
    def _on_prediction(self, prediction: object) -> None:
        """Save a result made while a patient is selected."""
        if not isinstance(prediction, Prediction):
            return
        self.intended_uses[prediction.model_id] = prediction.intended_use
        if self.store is None or self.locked or self.patient is None:
            return
        record_id = None
        if self._analysed_record is not None and self.sender() is self.window.analysis_jobs:
            values = self._analysed_record
            if self._saved_record is not None and self._saved_record[2] == values:
                record_id = self._saved_record[1]
            else:
                record_id = self._save_values(values)
                if record_id is None:
                    return
        if self.encounter_id is None:
            try:
                self.encounter_id = self.store.add_encounter(
                    self.patient.id, reason=self.tr("Analysis")
                ).id
            except EngineError as exc:
                self._message(exc.user_message, warning=True)
                return
        link_id = None
        if self.sender() is self.window.analysis_jobs and self._analysed_record is None:
            if self._study is not None:  # an image result: tie it to the linked study
                link_id = self._linked.get((self.patient.id, self._study.study.study_instance_uid))
        try:
            stored = self.store.save_result(
                self.encounter_id,
                prediction,
                record_id=record_id,
                study_link_id=link_id,
                positive_label=prediction.positive_label,
                model_name=prediction.model_name,
            )
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return
        self.last_result = stored
        self._saved_results = [*self._saved_results[-9:], (prediction, stored)]
        self.window.status_text.setText(
            self.tr("Result of {0} {1} saved for {2}.").format(
                prediction.model_id, prediction.model_version, self.patient.display_name
            )
        )
        self.refresh_timeline()
        self._update_state()

    @Slot()
    def accept_result(self, result_id: int | None = None) -> bool:
        """The clinician accepts the result shown (or the result ``result_id``)."""
        return self._decide("accepted", "", result_id)

    @Slot()
    def override_result(self, result_id: int | None = None) -> QDialog | None:
        """Ask why, then record the override of the result shown (or ``result_id``)."""
        if result_id is None and self._shown_result() is None:
            return None
        dialog = OverrideDialog(self.window)

        def submitted() -> None:
            if self._decide("overridden", dialog.comment.toPlainText(), result_id):
                dialog.accept()
            else:
                dialog.set_busy(False)

        dialog.submitted.connect(submitted)
        return self._open_dialog(dialog)

    @Slot(int, str)
    def _on_panel_decision_requested(self, result_id: int, decision: str) -> None:
        if decision == "accepted":
            self.accept_result(result_id)
        else:
            self.override_result(result_id)

    def _decide(self, decision: str, comment: str, result_id: int | None = None) -> bool:
        if result_id is None:
            shown = self._shown_result()
            result_id = None if shown is None else shown.id
        if self.store is None or self.locked or result_id is None:
            return False
        try:
            self.store.record_decision(result_id, decision, comment)
            updated = self.store.get_result(result_id)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return False
        self._saved_results = [
            (p, updated if r.id == updated.id else r) for p, r in self._saved_results
        ]
        if self.last_result is not None and self.last_result.id == updated.id:
            self.last_result = updated
        self.refresh_timeline()
        self._update_state()
        return True

    # --- studies --------------------------------------------------------------------------------
    @Slot(object)
    def _on_study_shown(self, outcome: object) -> None:
        view = getattr(outcome, "view", outcome)
        ref = getattr(view, "ref", None)
        if ref is None or not hasattr(ref, "study"):
            return
        self._study = ref
        stack = self.window.viewer.stack
        self._study_path = str(stack.sources[0][0]) if stack is not None and stack.sources else ""
        self._update_state()

    @Slot()
    def link_study(self) -> bool:
        """Attach the study shown to the selected patient (warns on an identity mismatch)."""
        if not self._need_patient() or self._study is None:
            return False
        ref = self._study
        try:
            link = self.store.link_study(
                self.patient.id,
                study_uid=ref.study.study_instance_uid,
                path=self._study_path,
                series_uid=ref.series.series_instance_uid,
                modality=ref.series.modality,
                study_date=ref.study.date,
                dicom_patient_id=ref.patient.patient_id,
                dicom_patient_name=ref.patient.name,
                encounter_id=self.encounter_id,
            )
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return False
        self._linked[(self.patient.id, ref.study.study_instance_uid)] = link.id
        if link.warning:
            self._message(
                self.tr("The study was linked, but check it: {0}").format(link.warning),
                warning=True,
            )
        else:
            self.window.status_text.setText(
                self.tr("Study linked to {0}.").format(self.patient.display_name)
            )
        self.refresh_timeline()
        self._update_state()
        return True

    # --- report ---------------------------------------------------------------------------------
    def _report_encounter(self) -> int | None:
        chosen = self.panel.selected_encounter()
        if chosen is not None:
            return chosen
        if self.encounter_id is not None:
            return self.encounter_id
        encounters = self.store.encounters(self.patient.id) if self.store and self.patient else []
        return encounters[-1].id if encounters else None

    @Slot()
    def export_report_dialog(self, encounter_id: int | None = None) -> Path | None:
        """Ask where to write the PDF report of an encounter, then write it."""
        if not self._need_patient():
            return None
        if isinstance(encounter_id, bool) or not isinstance(encounter_id, int):
            encounter_id = self._report_encounter()  # called from a menu
        if encounter_id is None:
            self._message(self.tr("This patient has no encounter yet: save a record first."))
            return None
        name = f"{self.patient.mrn}-encounter-{encounter_id}.pdf"
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            self.tr("Export report"),
            str(Path.home() / name),
            self.tr("PDF documents (*.pdf)"),
        )
        if not path:
            return None
        return self.export_report(encounter_id, Path(path))

    def export_report(self, encounter_id: int, path: Path) -> Path | None:
        """Write the PDF report of ``encounter_id`` to ``path``; logs “exported”."""
        if self.store is None or self.patient is None:
            return None
        store = self.store
        try:
            encounter = next(e for e in store.encounters(self.patient.id) if e.id == encounter_id)
            records = store.records(encounter_id)
            results = store.results(encounter_id)
        except (EngineError, StopIteration):
            self._message(self.tr("This encounter cannot be found."), warning=True)
            return None
        for res in results:
            if res.model_id not in self.intended_uses:
                self.intended_uses[res.model_id] = tasks.intended_use(res.model_id)
        content = ReportContent(
            patient=self.patient,
            encounter=encounter,
            records=records,
            results=results,
            schema=HEART_RECORD,
            software_version=engine.__version__,
            signed_by=store.user.full_name or store.user.username,
            intended_uses=dict(self.intended_uses),
        )
        if encounter_id == self.encounter_id:
            self._add_views(content)
        try:
            write_report_pdf(content, path)
            store.audit(
                "exported",
                object_type="encounter",
                object_id=encounter_id,
                details={"format": "pdf", "patient_id": self.patient.id, "file": path.name},
            )
        except OSError as exc:
            self._message(
                self.tr("The report could not be written to {0}: {1}").format(path, exc),
                warning=True,
            )
            return None
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return None
        self.last_report = path
        self.window.status_text.setText(self.tr("Report written to {0}.").format(path))
        return path

    def _add_views(self, content: ReportContent) -> None:
        """The image shown (with and without its heat map) and the ECG shown."""
        viewer = self.window.viewer
        data = viewer.rendered()
        if viewer.stack is not None and data is not None:
            base = _qimage(data)
            content.image = base
            info = viewer.stack.info
            content.image_caption = " · ".join(
                t for t in (info.modality, info.series_description, info.study_date) if t
            )
            heat = viewer.heatmap
            if heat is not None and viewer.heatmap_frame == viewer.frame:
                rgba = np.ascontiguousarray(heatmap_rgba(heat))
                layer = QImage(
                    rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
                    QImage.Format.Format_ARGB32_Premultiplied,
                ).copy()  # fmt: skip
                combined = base.convertToFormat(QImage.Format.Format_RGB32)
                painter = QPainter(combined)
                painter.setOpacity(viewer.heatmap_opacity)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(combined.rect(), layer)
                painter.end()
                content.image_with_heatmap = combined
        ecg = self.window.ecg
        if ecg.signal is not None:
            content.ecg = ecg.current_view().grab().toImage()
            beats = ""
            if ecg.prediction is not None:
                beats = self.tr("beats labelled by {0} {1}").format(
                    ecg.prediction.model_id, ecg.prediction.model_version
                )
            content.ecg_caption = " · ".join(
                t for t in (self.tr("{0} Hz").format(f"{ecg.signal.fs:g}"), beats) if t
            )


def _qimage(data: np.ndarray) -> QImage:
    data = np.ascontiguousarray(data)
    if data.ndim == 3:
        fmt, stride = QImage.Format.Format_RGB888, data.shape[1] * 3
    else:
        fmt, stride = QImage.Format.Format_Grayscale8, data.shape[1]
    return QImage(data.data, data.shape[1], data.shape[0], stride, fmt).copy()


def install_patients(window, **kwargs) -> PatientController:
    """Add patient storage to the main window (see :class:`PatientController`)."""
    return PatientController(window, **kwargs)

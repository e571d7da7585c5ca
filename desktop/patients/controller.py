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
- Patient ▸ Report… writes a PDF of an encounter (for an earlier encounter,
  its study image and ECG are read again from the files they came from);
- “Edit patient…” and “Edit record…” save a new version with the reason;
  “… history…” lists every version with who, when and why;
- administrators add, reset and disable accounts and replace the recovery
  key (Patient ▸ Users…); the sign-in dialog restores access with the
  recovery key;
- after ``lock_timeout_s`` (Settings ▸ Lock patient data after) without
  keyboard or mouse input the session locks until the password is typed again.
"""

from __future__ import annotations

import base64
import logging
import math
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal, Slot
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
    EditPatientDialog,
    EditRecordDialog,
    HistoryDialog,
    LockDialog,
    NewPatientDialog,
    OverrideDialog,
    RecoverAccessDialog,
    RecoveryKeyDialog,
    SetupDialog,
    SignInDialog,
    UsersDialog,
)
from desktop.patients.panel import PatientsPanel
from desktop.patients.report import ReportContent, value_text, write_report_pdf
from desktop.settings import (
    DEFAULT_LOCK_MINUTES,
    LOCK_MINUTES_RANGE,
    Preferences,
    load_preferences,
    preferences_notifier,
)
from desktop.viewer.overlay import heatmap_rgba
from engine.errors import EngineError, RecordValidationError
from engine.models.results import BeatResult, Prediction
from engine.records import HEART_RECORD
from engine.store import (
    KdfParams,
    Patient,
    Store,
    StoredRecord,
    StoredResult,
    default_store_path,
    store_exists,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_LOCK_MINUTES", "PatientController", "install_patients"]

#: Side of the largest heat map kept with a saved image result (enough for a report).
HEATMAP_KEPT = 64
#: Seconds of ECG drawn in the report of an earlier encounter.
REPORT_ECG_SECONDS = 10.0
# How long closing the window waits for a report being written.
REPORT_SHUTDOWN_WAIT_S = 30.0

_INPUT_EVENTS = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class PatientController(QObject):
    """Adds the Patient menu, the Patients dock and the save/decide/link/report actions.

    Signals: ``report_exported(Path)`` when a PDF report has been written,
    ``report_failed(str)`` (the message shown) when it could not be.

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

    report_exported = Signal(object)
    report_failed = Signal(str)

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
        self._lock_timeout_s = DEFAULT_LOCK_MINUTES * 60.0
        self.locked = False
        self.intended_uses: dict[str, str] = {}
        self._saved_record: tuple[int, int, dict] | None = None  # encounter, record id, values
        self._analysed_record: dict | None = None
        self._saved_results: list[tuple[Prediction, StoredResult]] = []  # latest last
        self._study = None  # tasks.SeriesRef of the study shown
        self._study_path = ""
        self._linked: dict[tuple[int, str], int] = {}  # (patient, study UID) -> link id
        self._analysed_image: dict | None = None  # {"path", "frame"} of the image analysed
        self.jobs = JobRunner(self)
        self.jobs.failed.connect(self._on_jobs_failed)
        # Reports have their own worker: exporting one never cancels a save or a search.
        self.report_jobs = JobRunner(self)
        self.report_jobs.failed.connect(self._on_report_failed)
        self._build_actions()
        self._build_widgets()
        self._connect_window()
        # One shot per timeout: when it fires early (input since), it is re-armed for the rest.
        self.lock_timer = QTimer(self)
        self.lock_timer.setSingleShot(True)
        self.lock_timer.timeout.connect(self._on_lock_timer_timeout)
        self.set_lock_minutes(load_preferences().lock_minutes)
        preferences_notifier().saved.connect(self._on_preferences_saved)
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
        self.panel.edit_patient_requested.connect(self.edit_patient)
        self.panel.patient_history_requested.connect(self.patient_history)
        self.panel.edit_record_requested.connect(self.edit_record)
        self.panel.record_history_requested.connect(self.record_history)

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
        self.users_action.setVisible(admin)  # clinicians manage no accounts
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
            dialog.recover_requested.connect(lambda: self.recover_access(dialog))
        return self._open_dialog(dialog)

    def recover_access(self, sign_in: QDialog | None = None) -> QDialog | None:
        """Restore a user's access with the recovery key (from the sign-in dialog)."""
        if self.store is not None or not store_exists(self.store_path):
            return None
        if sign_in is not None:
            sign_in.reject()
        dialog = RecoverAccessDialog(self.window)

        def done(store: Store) -> None:
            dialog.accept()
            self._signed_in(store)
            self._message(
                self.tr(
                    "Access restored for {0}; nothing stored was lost. The recovery key still "
                    "works: if it may have been seen by others, make a new one "
                    "(Patient ▸ Users… ▸ New recovery key…)."
                ).format(store.user.username)
            )

        def submitted() -> None:
            self.jobs.submit(
                tasks.recover,
                self.store_path,
                dialog.key.text().strip(),
                dialog.username.text().strip(),
                dialog.password.text(),
                self.kdf,
                name="recover access",
                on_success=done,
            )

        dialog.submitted.connect(submitted)
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
        self._restart_lock_timer()
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
        """On closing the window: finish a report being written, wait for a running
        sign-in, close the store."""
        deadline = time.monotonic() + REPORT_SHUTDOWN_WAIT_S
        while self.report_jobs.busy and time.monotonic() < deadline:
            # Its steps end on this thread (the strip, the audit entry): let them run.
            QCoreApplication.processEvents()
            self.report_jobs.wait(0.05)
        self.report_jobs.cancel()
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

        def disable(username: str) -> None:
            self.jobs.submit(
                tasks.disable_user,
                store,
                username,
                name="disable user",
                on_success=lambda users: (
                    dialog.set_users(users),
                    dialog.show_message(self.tr("{0} can no longer sign in.").format(username)),
                ),
            )

        def replace_key() -> None:
            dialog.set_busy(True)

            def done(key: str) -> None:
                dialog.set_busy(False)
                dialog.show_message(self.tr("A new recovery key was made."))
                self.recovery_dialog = RecoveryKeyDialog(key, dialog, replaced=True)
                self.recovery_dialog.open()

            self.jobs.submit(
                tasks.new_recovery_key, store, name="new recovery key", on_success=done
            )

        dialog.submitted.connect(submitted)
        dialog.reset_requested.connect(reset)
        dialog.disable_requested.connect(disable)
        dialog.recovery_key_requested.connect(replace_key)
        return self._open_dialog(dialog)

    # --- lock ----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS and self.store is not None and not self.locked:
            self.store.session.touch()
        return False

    @property
    def lock_timeout_s(self) -> float:
        """Seconds without input before the session locks."""
        return self._lock_timeout_s

    @lock_timeout_s.setter
    def lock_timeout_s(self, seconds: float) -> None:
        self._lock_timeout_s = max(0.0, float(seconds))
        self.lock_timer.setInterval(round(self._lock_timeout_s * 1000))
        if self.lock_timer.isActive():
            self._restart_lock_timer()

    def set_lock_minutes(self, minutes: int) -> None:
        """Lock after ``minutes`` (1 to 120) without input; applies at once."""
        low, high = LOCK_MINUTES_RANGE
        self.lock_timeout_s = min(max(int(minutes), low), high) * 60.0

    @Slot(object)
    def _on_preferences_saved(self, prefs: Preferences) -> None:
        self.set_lock_minutes(prefs.lock_minutes)

    def _restart_lock_timer(self) -> None:
        self.lock_timer.start(round(self._lock_timeout_s * 1000))

    @Slot()
    def _on_lock_timer_timeout(self) -> None:
        self.check_lock()
        if self.store is not None and not self.locked:
            remaining = self._lock_timeout_s - self.store.session.idle_seconds()
            self.lock_timer.start(max(1000, math.ceil(remaining * 1000)))

    @Slot()
    def check_lock(self) -> None:
        """Lock when the session has been idle for :attr:`lock_timeout_s`."""
        if self.store is not None and not self.locked:
            if self.store.session.is_locked(self.lock_timeout_s):
                self.lock()

    def lock(self) -> QDialog | None:
        """Hide patient data and ask for the password again."""
        if self.store is None or self.locked:
            return None
        self.locked = True
        self.lock_timer.stop()
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
        self._restart_lock_timer()
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
        patient, store = self.patient, self.store

        def show(entries) -> None:
            changes = {}
            for e in entries:  # an edited record: what changed, in the interface language
                if e.kind == "record" and e.item.supersedes is not None:
                    try:
                        previous = store.get_record(e.item.supersedes)
                    except EngineError:
                        continue
                    changes[e.id] = self._record_changes_text(e.item, previous)
            self.panel.show_patient(patient, entries, record_changes=changes)

        self._run(store.timeline, patient.id, done=show)

    @Slot()
    def new_patient(self) -> QDialog | None:
        if self.store is None or self.locked:
            return None
        dialog = NewPatientDialog(self.window)

        def submitted() -> None:
            try:
                patient = self.store.add_patient(**dialog.values())
            except EngineError as exc:
                dialog.show_message(self._problem_text(exc))
                return
            dialog.accept()
            self.select_patient(patient.id)

        dialog.submitted.connect(submitted)
        return self._open_dialog(dialog)

    def _problem_text(self, exc: EngineError) -> str:
        """An engine error about patient data, in the interface language where it is known."""
        if not isinstance(exc, RecordValidationError):
            return exc.user_message
        known = {
            "The MRN (patient identifier) is required.": self.tr(
                "The MRN (patient identifier) is required."
            ),
            "The MRN must have at most 64 characters.": self.tr(
                "The MRN must have at most 64 characters."
            ),
            "The family name is required.": self.tr("The family name is required."),
            "Sex must be Female, Male, Other or Unknown.": self.tr(
                "Sex must be Female, Male, Other or Unknown."
            ),
            "The birth date must be a date (YYYY-MM-DD).": self.tr(
                "The birth date must be a date (YYYY-MM-DD)."
            ),
            "The birth date cannot be in the future.": self.tr(
                "The birth date cannot be in the future."
            ),
            "The birth date is before 1880.": self.tr("The birth date is before 1880."),
        }
        lines = []
        for name, text in exc.problems.items():
            if name == "mrn" and text.startswith("Another patient already has the MRN"):
                lines.append(self.tr("Another patient already has this MRN."))
            else:
                lines.append(known.get(text, text))
        return self.tr("Nothing was saved.") + " " + " ".join(lines)

    # --- editing with history -------------------------------------------------------------------
    @Slot()
    def edit_patient(self) -> QDialog | None:
        """Correct the selected patient's data; the earlier version stays in the history."""
        if self.store is None or self.locked or self.patient is None:
            return None
        store, patient = self.store, self.patient
        dialog = EditPatientDialog(patient, self.window)

        def submitted() -> None:
            try:
                updated = store.update_patient(
                    patient.id,
                    dialog.values(),
                    reason=dialog.reason.text().strip(),
                    expected_version=dialog.version,
                )
            except EngineError as exc:
                dialog.show_message(self._problem_text(exc))
                return
            dialog.accept()
            self.patient = updated
            self.window.status_text.setText(
                self.tr("Changes to {0} saved (version {1}).").format(
                    updated.display_name, updated.version
                )
                if updated.version != patient.version
                else self.tr("Nothing was changed.")
            )
            self.refresh_patients(select=updated.id)
            self.refresh_timeline()

        dialog.submitted.connect(submitted)
        return self._open_dialog(dialog)

    def _sex_text(self, code: str) -> str:
        labels = {"F": self.tr("Female"), "M": self.tr("Male"), "O": self.tr("Other")}
        return labels.get(code, self.tr("Unknown"))

    def _reason_text(self, reason: str) -> str:
        return {"registered": self.tr("registered")}.get(reason, reason)

    @Slot()
    def patient_history(self) -> QDialog | None:
        """List every version of the selected patient's data, newest first."""
        if self.store is None or self.locked or self.patient is None:
            return None
        try:
            versions = self.store.patient_history(self.patient.id)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return None
        rows = []
        for v in reversed(versions):
            born = v.birth_date.isoformat() if v.birth_date else self.tr("unknown")
            data = self.tr("MRN {0} · {1} · born {2} · {3}").format(
                v.mrn, v.display_name, born, self._sex_text(v.sex)
            )
            rows.append(
                (
                    str(v.version),
                    _when(v.updated_at),
                    v.updated_by,
                    self._reason_text(v.reason),
                    data,
                )
            )
        dialog = HistoryDialog(
            self.tr("History of {0}").format(self.patient.display_name),
            self.tr("Every version of this patient's identifying data, newest first."),
            rows,
            self.window,
        )
        return self._open_dialog(dialog)

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
        return self.tr("Changed: {0}").format(
            "; ".join(changes) if changes else self.tr("no values")
        )

    @Slot(int)
    def record_history(self, record_id: int) -> QDialog | None:
        """List every version of a record, newest first, with what changed."""
        if self.store is None or self.locked:
            return None
        try:
            versions = self.store.record_history(record_id)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return None
        rows = []
        for i in range(len(versions) - 1, -1, -1):
            rec = versions[i]
            previous = versions[i - 1] if i > 0 else None
            rows.append(
                (
                    str(rec.version),
                    _when(rec.recorded_at),
                    rec.recorded_by,
                    self._reason_text(rec.reason),
                    self._record_values_text(rec, previous),
                )
            )
        dialog = HistoryDialog(
            self.tr("History of the record"),
            self.tr("Every version of this record, newest first. Earlier values are never lost."),
            rows,
            self.window,
        )
        return self._open_dialog(dialog)

    @Slot(int)
    def edit_record(self, record_id: int) -> QDialog | None:
        """Correct a saved record in the record form; the values before stay as a version."""
        if self.store is None or self.locked:
            return None
        store = self.store
        try:
            rec = store.get_record(record_id)
        except EngineError as exc:
            self._message(exc.user_message, warning=True)
            return None
        if rec.schema_name != HEART_RECORD.name:
            self._message(self.tr("Records of this kind cannot be edited here."), warning=True)
            return None
        dialog = EditRecordDialog(HEART_RECORD, rec.values, self.window)

        def submitted() -> None:
            values = dialog.record_form.record()
            try:
                new = store.update_record(record_id, values, reason=dialog.reason.text().strip())
            except EngineError as exc:
                dialog.show_message(exc.user_message)
                return
            dialog.accept()
            if self._saved_record is not None and self._saved_record[1] == record_id:
                self._saved_record = (new.encounter_id, new.id, dict(values))
            self.window.status_text.setText(
                self.tr("Record corrected (version {0}).").format(new.version)
            )
            self.refresh_timeline()

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
        self._analysed_image = None
        stack = self.window.viewer.stack
        if name == "analyze image" and stack is not None and stack.sources:
            path, frame = stack.sources[min(self.window.viewer.frame, len(stack.sources) - 1)]
            self._analysed_image = {"kind": "image", "path": str(path), "frame": int(frame)}

    def _result_to_save(self, prediction: Prediction) -> Prediction | dict:
        """The prediction, with the file it was made on (and a small heat map) when known.

        A report of the encounter reads the image or ECG again from that file.
        """
        source: dict | None = None
        if self.sender() is self.window.analysis_jobs and self._analysed_image is not None:
            source = dict(self._analysed_image)
        elif self.sender() is self.window.ecg.jobs and self.window.ecg.signal is not None:
            source = {
                "kind": "ecg",
                "path": str(self.window.ecg.signal.source),
                "lead": str(prediction.extra.get("lead", "")),
            }
        if source is None:
            return prediction
        data = prediction.to_json()
        data["input"] = source
        if prediction.heatmap is not None and source["kind"] == "image":
            data["heatmap"] = _encode_heatmap(prediction.heatmap)
        return data

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
                self._result_to_save(prediction),
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
    def export_report_dialog(self, encounter_id: int | None = None) -> bool:
        """Ask where to write the PDF report of an encounter, then write it."""
        if not self._need_patient():
            return False
        if isinstance(encounter_id, bool) or not isinstance(encounter_id, int):
            encounter_id = self._report_encounter()  # called from a menu
        if encounter_id is None:
            self._message(self.tr("This patient has no encounter yet: save a record first."))
            return False
        name = f"{self.patient.mrn}-encounter-{encounter_id}.pdf"
        path, _ = QFileDialog.getSaveFileName(
            self.window,
            self.tr("Export report"),
            str(Path.home() / name),
            self.tr("PDF documents (*.pdf)"),
        )
        if not path:
            return False
        return self.export_report(encounter_id, Path(path))

    def export_report(self, encounter_id: int, path: Path) -> bool:
        """Start writing the PDF report of ``encounter_id`` to ``path``; logs “exported”.

        The files of an earlier encounter are read, and the PDF is written, on
        a worker thread; ``report_exported(path)`` or ``report_failed(message)``
        follows. Returns whether the export started.
        """
        if self.store is None or self.patient is None:
            return False
        store = self.store
        patient_id = self.patient.id
        try:
            encounter = next(e for e in store.encounters(patient_id) if e.id == encounter_id)
            records = store.records(encounter_id)
            results = store.results(encounter_id)
        except (EngineError, StopIteration):
            self._report_failed(self.tr("This encounter cannot be found."))
            return False
        try:
            links = {link.id: link for link in store.studies(patient_id)}
        except EngineError:
            links = {}  # the report goes without the linked studies' pictures
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
        need_image, need_ecg = content.image is None, content.ecg is None

        def read_files(progress, cancel):
            if need_image:
                self._add_saved_image(content, encounter_id, results, links)
            return self._read_saved_ecg(content, results) if need_ecg else None

        def write(progress, cancel) -> Path:
            try:
                return write_report_pdf(content, path)
            except OSError as exc:
                raise EngineError(
                    self.tr("The report could not be written to {0}: {1}").format(path, exc)
                ) from exc

        def files_read(ecg) -> None:
            if ecg is not None:
                content.ecg = _ecg_strip(*ecg)  # widgets: UI thread
            self.report_jobs.submit(write, name="report", on_success=written)

        def written(_result) -> None:
            try:
                store.audit(
                    "exported",
                    object_type="encounter",
                    object_id=encounter_id,
                    details={"format": "pdf", "patient_id": patient_id, "file": path.name},
                )
            except EngineError as exc:
                self._report_failed(exc.user_message)
                return
            self.last_report = path
            self.window.status_text.setText(self.tr("Report written to {0}.").format(path))
            self.report_exported.emit(path)

        self.window.status_text.setText(self.tr("Writing the report to {0}…").format(path))
        self.report_jobs.submit(read_files, name="report files", on_success=files_read)
        return True

    def _report_failed(self, message: str) -> None:
        self._message(message, warning=True)
        self.report_failed.emit(message)

    @Slot(object)
    def _on_report_failed(self, failure: JobFailure) -> None:
        self._report_failed(failure.user_message)

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
                content.image_with_heatmap = _with_heatmap(base, heat, viewer.heatmap_opacity)
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

    # --- pictures of an earlier encounter, read again from their files --------------------------
    def _not_available(self, what: str, path: str, exc: EngineError | None) -> str:
        reason = self.tr("file missing") if exc is None else exc.user_message
        if what == "ecg":
            return self.tr("ECG not available: {0} ({1})").format(path, reason)
        return self.tr("Image not available: {0} ({1})").format(path, reason)

    def _add_saved_image(
        self, content: ReportContent, encounter_id: int, results: list[StoredResult], links: dict
    ) -> None:
        """The study image of the encounter (and the result's heat map when it was kept).

        Runs on the report worker: reads files, never the store or a widget.
        """
        candidates: list[tuple[str, int, str, dict | None]] = []  # path, frame, caption, heat
        for res in results:
            source = res.result.get("input") or {}
            heat = res.result.get("heatmap")
            if source.get("kind") == "image" and source.get("path"):
                link = links.get(res.study_link_id) if res.study_link_id else None
                caption = (
                    " · ".join(t for t in (link.modality, link.study_date) if t) if link else ""
                )
                candidates.append((source["path"], int(source.get("frame", 0)), caption, heat))
            elif res.study_link_id in links:
                link = links[res.study_link_id]
                candidates.append((link.path, 0, f"{link.modality} · {link.study_date}", None))
        for link in links.values():
            if link.encounter_id == encounter_id and link.modality != "ECG":
                candidates.append((link.path, 0, f"{link.modality} · {link.study_date}", None))
        seen: set[str] = set()
        for path, frame, caption, heat in candidates:
            if not path or path in seen:
                continue
            seen.add(path)
            if not Path(path).is_file():
                content.image_notes.append(self._not_available("image", path, None))
                continue
            try:
                data = tasks.render_study_image(path, frame)
            except EngineError as exc:
                content.image_notes.append(self._not_available("image", path, exc))
                continue
            content.image = _qimage(data)
            content.image_caption = " · ".join(
                t for t in (caption.strip(" ·"), Path(path).name) if t
            )
            if heat is not None:
                decoded = _decode_heatmap(heat)
                if decoded is not None:
                    content.image_with_heatmap = _with_heatmap(content.image, decoded, 0.5)
            return

    def _read_saved_ecg(self, content: ReportContent, results: list[StoredResult]):
        """The ECG a result of the encounter was made on: (signal, beats, lead index) or None.

        Runs on the report worker (reads the file; the strip is drawn on the UI
        thread); notes a missing or unreadable file in ``content``.
        """
        for res in results:
            source = res.result.get("input") or {}
            if source.get("kind") != "ecg" or not source.get("path"):
                continue
            path = str(source["path"])
            if not Path(path).is_file():
                content.ecg_notes.append(self._not_available("ecg", path, None))
                continue
            try:
                signal = tasks.read_ecg(path)
            except EngineError as exc:
                content.ecg_notes.append(self._not_available("ecg", path, exc))
                continue
            beats = tuple(
                BeatResult(int(b["sample"]), str(b["label"]), dict(b.get("probabilities") or {}))
                for b in res.result.get("beats") or ()
            )
            lower = [lead.lower() for lead in signal.leads]
            lead = str(source.get("lead", "")).lower()
            seconds = min(REPORT_ECG_SECONDS, signal.duration_s)
            content.ecg_caption = " · ".join(
                (
                    Path(path).name,
                    self.tr("{0} Hz").format(f"{signal.fs:g}"),
                    self.tr("first {0:g} s").format(seconds),
                    self.tr("beats labelled by {0} {1}").format(res.model_id, res.model_version),
                )
            )
            return signal, beats, (lower.index(lead) if lead in lower else None)
        return None


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


def _when(moment) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _encode_heatmap(heatmap: np.ndarray) -> dict:
    """A heat map reduced to at most HEATMAP_KEPT² bytes, for the JSON of a saved result."""
    h = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    step_r = max(1, math.ceil(h.shape[0] / HEATMAP_KEPT))
    step_c = max(1, math.ceil(h.shape[1] / HEATMAP_KEPT))
    small = h[::step_r, ::step_c]
    data = np.rint(np.clip(small, 0.0, 1.0) * 255.0).astype(np.uint8)
    return {
        "rows": int(data.shape[0]),
        "cols": int(data.shape[1]),
        "uint8_base64": base64.b64encode(data.tobytes()).decode("ascii"),
    }


def _decode_heatmap(kept: dict) -> np.ndarray | None:
    try:
        rows, cols = int(kept["rows"]), int(kept["cols"])
        raw = base64.b64decode(kept["uint8_base64"])
        return np.frombuffer(raw, dtype=np.uint8).reshape(rows, cols).astype(np.float32) / 255.0
    except (KeyError, TypeError, ValueError):
        return None


def _with_heatmap(base: QImage, heat: np.ndarray, opacity: float) -> QImage:
    rgba = np.ascontiguousarray(heatmap_rgba(heat))
    layer = QImage(
        rgba.data, rgba.shape[1], rgba.shape[0], rgba.shape[1] * 4,
        QImage.Format.Format_ARGB32_Premultiplied,
    ).copy()  # fmt: skip
    combined = base.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(combined)
    painter.setOpacity(opacity)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.drawImage(combined.rect(), layer)
    painter.end()
    return combined


def _ecg_strip(signal, beats: tuple[BeatResult, ...], lead_index: int | None) -> QImage:
    """The first :data:`REPORT_ECG_SECONDS` of ``signal`` on ECG paper, beats labelled.

    A 12-lead record is drawn as the conventional print, as the ECG tab shows it.
    """
    from desktop.ecg.views import StripView, TwelveLeadView
    from engine.ecg import STANDARD_LEADS

    twelve = all(lead in signal.leads for lead in STANDARD_LEADS)
    view = TwelveLeadView() if twelve else StripView()
    view.set_dpi(96.0)
    view.set_signal(signal)
    view.set_beats(beats, lead_index)
    if twelve:
        view.resize(view.sizeHint())
    else:
        scale = view.scale()
        seconds = min(REPORT_ECG_SECONDS, signal.duration_s)
        width = math.ceil(view.trace_left() + seconds * scale.px_per_s + 8 * scale.px_per_mm_x)
        view.resize(width, view.sizeHint().height())
    image = view.grab().toImage()
    view.deleteLater()
    return image


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

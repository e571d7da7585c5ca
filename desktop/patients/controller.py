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
  key (Patient ▸ Users…), and back up a workstation's database (Patient ▸
  Back up database…); the sign-in dialog restores access with the
  recovery key;
- after ``lock_timeout_s`` (Settings ▸ Lock patient data after) without
  keyboard or mouse input the session locks until the password is typed again.

:class:`PatientController` holds what the concerns share (the open store,
the selected patient, the current encounter, the store's job queue) and
builds the menu and dock from them: :class:`SessionController` (signing in,
accounts, the lock), :class:`PatientsController` (the dock: search, edit,
timeline, histories), :class:`EncounterController` (saving records and
results, decisions, study links) and :class:`ReportController`. They talk
to the window through :class:`~desktop.patients.host.PatientHost` only, and
to the store only through :mod:`engine.workflow` functions run as jobs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QDialog, QDockWidget, QLabel, QMenu, QMessageBox, QWidget

from desktop.jobs import JobFailure
from desktop.patients.backup_controller import BackupController
from desktop.patients.encounter_controller import EncounterController
from desktop.patients.host import PatientHost
from desktop.patients.panel import PatientsPanel
from desktop.patients.patients_controller import PatientsController
from desktop.patients.report_controller import ReportController
from desktop.patients.session_controller import SessionController
from desktop.patients.store_jobs import StoreJobs
from desktop.settings import DEFAULT_LOCK_MINUTES
from engine.errors import StoreError, StoreUnreachableError
from engine.progress import CancelToken, Progress, check_cancelled
from engine.store import (
    KdfParams,
    Location,
    Patient,
    Store,
    as_location,
    configured_location,
    store_exists,
)

__all__ = ["DEFAULT_LOCK_MINUTES", "PatientController", "install_patients"]


class PatientController(QObject):
    """The Patient menu, the Patients dock and what the concerns behind them share.

    Parameters
    ----------
    host
        The window (a :class:`~desktop.patients.host.PatientHost`).
    store_path
        The database: a file or the clinic database's ``postgresql://`` URL
        (default: :func:`engine.store.configured_location`).
    kdf
        Argon2 cost for new passwords (``None``: the product's; tests pass
        :meth:`KdfParams.fast`).

    Attributes
    ----------
    session, patients, encounter, report
        The controllers of each concern.
    jobs
        Every store call, one after another on a worker thread.
    """

    def __init__(
        self,
        host: PatientHost,
        *,
        store_path: str | Path | None = None,
        kdf: KdfParams | None = None,
    ) -> None:
        self.window = host if isinstance(host, QWidget) else None
        super().__init__(self.window)
        self.host = host
        #: ``None`` when the configured database cannot be used (``store_problem`` says why):
        #: then nobody signs in, and nothing falls back to another database.
        self.store_path: Location | None = None
        self.store_problem = ""
        try:
            self.store_path = as_location(store_path) if store_path else configured_location()
        except StoreError as exc:  # a setting IT must fix: the viewer still opens
            self.store_problem = exc.user_message
        self.kdf = kdf
        self.store: Store | None = None
        self.patient: Patient | None = None
        self.encounter_id: int | None = None
        self.locked = False
        self.dialog: QDialog | None = None
        self.last_message: QMessageBox | None = None
        self.jobs = StoreJobs(self)
        self.jobs.failed.connect(self._on_jobs_failed)

        self.panel = PatientsPanel()
        self.dock = QDockWidget(self.tr("Patients"), self.window)
        self.dock.setObjectName("patients_dock")
        self.dock.setWidget(self.panel)
        self.dock.toggleViewAction().setShortcut("Ctrl+Shift+L")
        self.dock.hide()  # before it is added: the host may restore it as it was left
        host.add_patients_dock(self.dock)
        self.user_status = QLabel("")
        self.user_status.setObjectName("user_status")

        self.session = SessionController(self)
        self.patients = PatientsController(self)
        self.encounter = EncounterController(self)
        self.report = ReportController(self)
        self.backup = BackupController(self)
        host.add_status_widget(self.user_status)
        self.menu = QMenu(self.tr("&Patient"), self.window)
        for action in (
            *self.session.menu_actions(),
            self.backup.backup_action,
            None,
            self.patients.new_patient_action,
            *self.encounter.menu_actions(),
            None,
            self.report.report_action,
            self.report.print_report_action,
        ):
            if action is None:
                self.menu.addSeparator()
            else:
                self.menu.addAction(action)
        self.menu.setToolTipsVisible(True)  # a disabled action says why
        host.add_patient_menu(
            self.menu, [self.report.export_report_action, self.report.print_report_action]
        )
        host.image_shown.connect(self.update_state)
        self.update_state()

    def store_in_place(self) -> bool:
        """Whether the configured database exists (``False`` too when it cannot be used)."""
        return self.store_path is not None and store_exists(self.store_path)

    def configure(
        self, *, store_path: str | Path | None = None, kdf: KdfParams | None = None
    ) -> None:
        """Use another database or Argon2 cost (tests; before signing in)."""
        if store_path is not None:
            self.store_path, self.store_problem = as_location(store_path), ""
        if kdf is not None:
            self.kdf = kdf
        self.update_state()

    # --- what the concerns share -------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        """Whether a store is open."""
        return self.store is not None

    @property
    def active(self) -> bool:
        """Signed in and not locked."""
        return self.store is not None and not self.locked

    def update_state(self) -> None:
        """Enable, show and label every action and widget for the current state."""
        self.session.update_state()
        self.patients.update_state()
        self.encounter.update_state()
        self.report.update_state()
        self.backup.update_state()
        self.user_status.setToolTip(self.store_problem)
        if self.store_path is None:
            self.user_status.setText(self.tr("Database setting unusable: patients are off"))
        elif self.store is None:
            self.user_status.setText(self.tr("Not signed in"))
        else:
            self.user_status.setText(self.tr("Signed in: {0}").format(self.store.user.username))
        self.panel.user_label.setText(self.user_status.text())

    def run(self, fn, *args, name: str, on_success=None, on_failure=None, **kwargs) -> bool:
        """Queue ``fn(store, *args, **kwargs, progress=..., cancel=...)``.

        ``fn`` is an :mod:`engine.workflow` function taking the store first.
        ``on_success`` is called with its result, unless the store was closed
        (or another one opened) meanwhile. Returns whether it was queued.
        """
        store = self.store
        if store is None:
            return False

        def done(value) -> None:
            if self.store is store and on_success is not None:
                on_success(value)

        self.jobs.submit(
            fn, store, *args, name=name, on_success=done, on_failure=on_failure, **kwargs
        )
        return True

    def step(self, fn, *args, name: str, on_success=None, on_failure=None, **kwargs) -> bool:
        """:meth:`run` for a quick :mod:`engine.workflow.session` step (no progress/cancel)."""
        return self.run(
            _quick_step, fn, *args, name=name, on_success=on_success, on_failure=on_failure,
            **kwargs,
        )  # fmt: skip

    def message(self, text: str, warning: bool = False) -> QMessageBox:
        """Show ``text`` in a message box (not blocking)."""
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

    def open_dialog(self, dialog: QDialog) -> QDialog:
        """Open ``dialog``; a failed job's message goes to it while it is shown."""
        self.dialog = dialog
        dialog.open()
        return dialog

    def need_patient(self) -> Patient | None:
        """The patient selected in an open session; says how to get one otherwise."""
        if self.store is None or self.locked:
            self.message(self.tr("Sign in (Patient ▸ Sign in…) to keep patient data."))
            return None
        if self.patient is None:
            self.message(self.tr("Select or create a patient in the Patients list first."))
        return self.patient

    def status(self, text: str) -> None:
        """Show ``text`` in the window's status bar."""
        self.host.show_status(text)

    def set_patient(self, patient: Patient | None) -> None:
        """Make ``patient`` the selected one: no current encounter, nothing saved yet."""
        self.patient = patient
        self.encounter_id = None
        self.encounter.reset()
        self.update_state()

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        text = failure.user_message
        if isinstance(failure.error, StoreUnreachableError):
            # Nothing was written (one transaction) and nothing on screen is cleared: the
            # record stays in the form, an open dialog keeps what was typed in it.
            text = self.tr(
                "The clinic database cannot be reached (the server is down or the network is "
                "cut), so this was not saved. What you entered is still here: save it again "
                "when the database is back. Stethos reconnects by itself; viewing and "
                "analysing go on meanwhile."
            )
            self.status(self.tr("Clinic database unreachable: not saved"))
        dialog = self.dialog
        if dialog is not None and dialog.isVisible() and hasattr(dialog, "show_message"):
            dialog.show_message(text)
        else:
            self.message(text, warning=True)

    def shutdown(self) -> None:
        """On closing the window: finish a report being written, close the store."""
        self.report.shutdown()
        self.session.shutdown()


def _quick_step(store: Store, fn, *args, progress: Progress, cancel: CancelToken, **kwargs):
    """Run a quick store step as a job (it takes neither progress nor cancel)."""
    check_cancelled(cancel)
    return fn(store, *args, **kwargs)


def install_patients(window: PatientHost, **kwargs) -> PatientController:
    """Add patient storage to the main window (see :class:`PatientController`)."""
    return PatientController(window, **kwargs)

"""Patient ▸ Back up database…: the workstation database's checked copy, for administrators.

Runs :func:`engine.workflow.back_up_store` as a store job: one consistent
snapshot, copied with its key file and an anchor of its own into a new
folder named by the date and time, then opened and checked there. Shown to
administrators of a workstation's own database only (a clinic database on
PostgreSQL is backed up on its server).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject
from PySide6.QtWidgets import QFileDialog

from desktop.jobs import JobFailure
from engine.store import BackupReport, is_database_url
from engine.workflow import back_up_store

if TYPE_CHECKING:
    from desktop.patients.controller import PatientController


translate = QCoreApplication.translate


def backup_folder_name(now: datetime) -> str:
    """The new folder a backup goes into, inside the folder chosen: one per backup."""
    return f"Stethos backup {now:%Y-%m-%d %H%M%S}"


class BackupController(QObject):
    """The Back up database… action and the job behind it."""

    def __init__(self, ctl: PatientController) -> None:
        from desktop.patients.session_controller import make_action

        super().__init__(ctl)
        self.ctl = ctl
        self.backup_action = make_action(
            ctl.window,
            translate("PatientController", "&Back up database…"),
            self.back_up,
            "backup_action",
        )
        self.backup_action.setToolTip(
            translate(
                "PatientController",
                "A checked copy of this workstation's patient database, its key file and audit "
                "anchor, in a new folder; safe while Stethos is in use.",
            )
        )
        self.running = False
        self.last_report: BackupReport | None = None

    def update_state(self) -> None:
        store = self.ctl.store
        if store is None:  # signed out while a backup ran: its answer is dropped
            self.running = False
        shown = (
            self.ctl.active
            and store is not None
            and store.user.is_admin
            and not is_database_url(store.location)
        )
        self.backup_action.setVisible(shown)
        self.backup_action.setEnabled(shown and not self.running)

    def back_up(self, parent_folder: str | Path | None = None) -> bool:
        """Back up into a new folder inside ``parent_folder`` (asked for when not given)."""
        if not self.backup_action.isEnabled():
            return False
        if parent_folder is None:
            chosen = QFileDialog.getExistingDirectory(
                self.ctl.window, translate("PatientController", "Choose where to keep the backup")
            )
            if not chosen:
                return False
            parent_folder = chosen
        folder = Path(parent_folder) / backup_folder_name(datetime.now())
        self.running = True
        self.update_state()
        self.ctl.status(translate("PatientController", "Backing up the database…"))
        return self.ctl.run(
            back_up_store,
            folder,
            name="back up the database",
            on_success=self._done,
            on_failure=self._failed,
        )

    def _done(self, report: BackupReport) -> None:
        self.running, self.last_report = False, report
        self.update_state()
        self.ctl.status(translate("PatientController", "Database backed up"))
        self.ctl.message(
            translate(
                "PatientController",
                "The database was copied to {0} and the copy checked: it opens, SQLite finds "
                "it intact, and its audit trail (entries 1 to {1}) verifies.\n\nKeep the "
                "folder with the clinic's backups. To restore it: close Stethos and run "
                'stethos-engine store restore --from "{0}" --user (an administrator); '
                "a password or the recovery key valid on the day of the backup opens it.",
            ).format(report.folder, report.audit_entries)
        )

    def _failed(self, failure: JobFailure) -> None:
        self.running = False
        self.update_state()
        self.ctl.status(translate("PatientController", "Backup failed"))
        self.ctl.message(
            translate("PatientController", "The database was not backed up: {0}").format(
                failure.user_message
            ),
            warning=True,
        )

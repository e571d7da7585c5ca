"""Patient ▸ Report… and Print report…: an encounter's report, gathered off the UI thread.

:func:`engine.workflow.report.collect_report` reads the encounter and its
pictures on a worker; the UI thread turns them into pictures (the ECG strip
is drawn by the ECG views); the PDF is written, and its export logged, on
the worker again. Printing asks for a printer (the system print dialog) and
prints on the UI thread, as Qt requires; the audit trail records it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from PySide6.QtGui import QKeySequence, QPageSize
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QFileDialog

from desktop.jobs import JobFailure
from desktop.patients.report import (
    ReportContent,
    print_report,
    report_content,
    write_report_pdf,
)
from desktop.patients.session_controller import make_action
from desktop.patients.store_jobs import StoreJobs
from engine.errors import EngineError
from engine.store import Store
from engine.workflow import (
    ReportData,
    collect_report,
    latest_encounter,
    record_export,
    record_print,
)

if TYPE_CHECKING:
    from desktop.patients.controller import PatientController

translate = QCoreApplication.translate

# How long closing the window waits for a report being written.
REPORT_SHUTDOWN_WAIT_S = 30.0


class ReportController(QObject):
    """Exports an encounter's report.

    Signals: ``report_exported(Path)`` when a PDF report has been written,
    ``report_failed(str)`` (the message shown) when it could not be.
    """

    report_exported = Signal(object)
    report_printed = Signal(str)
    report_failed = Signal(str)

    def __init__(self, ctl: PatientController) -> None:
        super().__init__(ctl)
        self.ctl = ctl
        #: The report written last.
        self.last_report: Path | None = None
        # Reports have their own queue: exporting one never waits for a save or a search.
        self.jobs = StoreJobs(self)
        self.report_action = make_action(
            ctl.window,
            translate("PatientController", "&Report of encounter…"),
            self.export_report_dialog,
            "report_action",
        )
        self.export_report_action = make_action(
            ctl.window,
            translate("PatientController", "Export &report…"),
            self.export_report_dialog,
            "export_report_action",
        )
        self.print_report_action = make_action(
            ctl.window,
            translate("PatientController", "&Print report…"),
            self.print_report_dialog,
            "print_report_action",
        )
        self.print_report_action.setShortcut(QKeySequence("Ctrl+P"))
        ctl.panel.report_requested.connect(self.export_report_dialog)
        #: Printer and dialog for printing (tests replace the dialog step).
        self.ask_printer = self._ask_printer

    def update_state(self) -> None:
        has_patient = self.ctl.active and self.ctl.patient is not None
        if not self.ctl.active:
            why = translate(
                "PatientController", "Sign in first (Patient ▸ Sign in…), then choose a patient."
            )
        elif self.ctl.patient is None:
            why = translate("PatientController", "Choose a patient in the Patients dock first.")
        else:
            why = ""
        for action, what in (
            (
                self.report_action,
                translate("PatientController", "Write the PDF report of an encounter."),
            ),
            (
                self.export_report_action,
                translate("PatientController", "Write the PDF report of an encounter."),
            ),
            (
                self.print_report_action,
                translate("PatientController", "Print the report of an encounter."),
            ),
        ):
            action.setEnabled(has_patient)
            action.setToolTip(what if has_patient else why)

    @Slot()
    def export_report_dialog(self, encounter_id: int | None = None) -> bool:
        """Ask where to write the PDF report of an encounter, then write it.

        Without ``encounter_id`` (from a menu): the encounter selected in the
        timeline, else the current one, else the patient's latest.
        """
        return self._with_encounter(encounter_id, self._ask_where)

    def _with_encounter(self, encounter_id: int | None, then) -> bool:
        """Call ``then(encounter_id)`` with the encounter asked for, else the one selected in
        the timeline, else the current one, else (looked up) the patient's latest."""
        ctl = self.ctl
        patient = ctl.need_patient()
        if patient is None:
            return False
        if isinstance(encounter_id, bool) or not isinstance(encounter_id, int):
            encounter_id = ctl.panel.selected_encounter()
            if encounter_id is None:
                encounter_id = ctl.encounter_id
        if encounter_id is None:
            return ctl.step(latest_encounter, patient.id, name="encounters", on_success=then)
        return then(encounter_id)

    @Slot()
    def print_report_dialog(self, encounter_id: int | None = None) -> bool:
        """Print the report of an encounter (chosen as for :meth:`export_report_dialog`)."""
        return self._with_encounter(encounter_id, self.print_report)

    def _ask_printer(self) -> QPrinter | None:
        """The system print dialog (UI thread); ``None`` when cancelled."""
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        printer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
        dialog = QPrintDialog(printer, self.ctl.window)
        dialog.setWindowTitle(translate("PatientController", "Print report"))
        return printer if dialog.exec() == QPrintDialog.DialogCode.Accepted else None

    def print_report(self, encounter_id: int | None) -> bool:
        """Collect the report of ``encounter_id``, ask for a printer, print; logs “printed”."""
        ctl = self.ctl
        if encounter_id is None:
            return self._ask_where(None)  # says there is no encounter yet
        store, patient = ctl.store, ctl.patient
        if store is None or patient is None:
            return False
        views = ctl.host.screen_views() if encounter_id == ctl.encounter_id else None

        def collected(data: ReportData) -> None:
            content = report_content(data, views)
            printer = self.ask_printer()
            if printer is None:
                return
            print_report(content, printer)
            where = printer.outputFileName() or printer.printerName() or "printer"
            self.jobs.submit(
                self._log_print,
                store,
                encounter_id,
                patient.id,
                where,
                name="report printed",
                on_success=lambda _none: self._printed(where),
            )

        self._collect(store, encounter_id, patient.id, views, collected)
        return True

    def _collect(self, store: Store, encounter_id: int, patient_id: int, views, collected) -> None:
        """Read the encounter's report data on the report worker; ``collected`` gets it."""
        self.jobs.submit(
            collect_report,
            store,
            encounter_id,
            patient_id=patient_id,
            images=views is None or views.image is None,
            ecg=views is None or views.ecg is None,
            intended_uses=dict(self.ctl.encounter.intended_uses),
            name="report data",
            on_success=collected,
            on_failure=lambda _failure: self._failed(
                translate("PatientController", "This encounter cannot be found.")
            ),
        )

    @staticmethod
    def _log_print(
        store: Store, encounter_id: int, patient_id: int, where: str, *, progress, cancel
    ) -> None:
        record_print(store, encounter_id, patient_id, where)

    def _printed(self, where: str) -> None:
        self.ctl.status(translate("PatientController", "Report sent to {0}.").format(where))
        self.report_printed.emit(where)

    def _ask_where(self, encounter_id: int | None) -> bool:
        ctl = self.ctl
        if encounter_id is None:
            ctl.message(
                translate(
                    "PatientController", "This patient has no encounter yet: save a record first."
                )
            )
            return False
        if ctl.patient is None:
            return False
        name = f"{ctl.patient.mrn}-encounter-{encounter_id}.pdf"
        path, _ = QFileDialog.getSaveFileName(
            ctl.window,
            translate("PatientController", "Export report"),
            str(Path.home() / name),
            translate("PatientController", "PDF documents (*.pdf)"),
        )
        if not path:
            return False
        return self.export_report(encounter_id, Path(path))

    def export_report(self, encounter_id: int, path: Path) -> bool:
        """Start writing the PDF report of ``encounter_id`` to ``path``; logs “exported”.

        For the current encounter the pictures are what the window shows;
        for an earlier one they are read again from their files.
        ``report_exported(path)`` or ``report_failed(message)`` follows.
        Returns whether the export started.
        """
        ctl = self.ctl
        store, patient = ctl.store, ctl.patient
        if store is None or patient is None:
            return False
        views = ctl.host.screen_views() if encounter_id == ctl.encounter_id else None
        ctl.status(translate("PatientController", "Writing the report to {0}…").format(path))

        def collected(data: ReportData) -> None:
            content = report_content(data, views)  # pictures and the ECG strip: UI thread
            self.jobs.submit(
                self._write,
                store,
                content,
                path,
                name="report",
                on_success=self._written,
                on_failure=self._on_failed,
            )

        self._collect(store, encounter_id, patient.id, views, collected)
        return True

    @staticmethod
    def _write(store: Store, content: ReportContent, path: Path, *, progress, cancel) -> Path:
        try:
            write_report_pdf(content, path)
        except OSError as exc:
            raise EngineError(
                translate(
                    "PatientController", "The report could not be written to {0}: {1}"
                ).format(path, exc)
            ) from exc
        record_export(store, content.encounter.id, content.patient.id, path)
        return path

    def _written(self, path: Path) -> None:
        self.last_report = path
        self.ctl.status(translate("PatientController", "Report written to {0}.").format(path))
        self.report_exported.emit(path)

    def _failed(self, message: str) -> None:
        self.ctl.message(message, warning=True)
        self.report_failed.emit(message)

    @Slot(object)
    def _on_failed(self, failure: JobFailure) -> None:
        self._failed(failure.user_message)

    def shutdown(self) -> None:
        """On closing the window: let a report being written finish (up to 30 s)."""
        self.jobs.finish(REPORT_SHUTDOWN_WAIT_S)

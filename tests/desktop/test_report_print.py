"""Printing an encounter's report, and report actions that say why they are disabled."""

from __future__ import annotations

from PySide6.QtPrintSupport import QPrinter

from tests.desktop.conftest import VALID_RECORD, store_on_this_thread
from tests.desktop.test_patients_workflow import (
    add_patient,
    make_window,
    set_up,
    settle,
)


def test_report_actions_say_why_they_are_disabled_then_print(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "stethos.db")
    report = window.patients.report
    actions = (report.report_action, report.export_report_action, report.print_report_action)
    for action in actions:
        assert not action.isEnabled() and "Sign in first" in action.toolTip()
    set_up(qtbot, window)
    for action in actions:
        assert not action.isEnabled() and "Choose a patient" in action.toolTip()
    add_patient(qtbot, window)
    for action in actions:
        assert action.isEnabled() and "report" in action.toolTip()

    window.form.set_record(VALID_RECORD)
    assert window.patients.encounter.save_record()
    settle(qtbot, window)
    # The print dialog is the system's; here the chosen "printer" writes a PDF file.
    out = tmp_path / "printed.pdf"

    def printer() -> QPrinter:
        p = QPrinter(QPrinter.PrinterMode.HighResolution)
        p.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        p.setOutputFileName(str(out))
        return p

    report.ask_printer = printer
    with qtbot.waitSignal(report.report_printed, timeout=60_000) as printed:
        report.print_report_action.trigger()
    assert printed.args == [str(out)]
    assert out.read_bytes().startswith(b"%PDF") and out.stat().st_size > 2000
    with store_on_this_thread():
        logged = [e for e in window.patients.store.audit_entries() if e.action == "printed"]
    assert logged and logged[-1].details["printer"] == str(out)

    # Cancelling the print dialog prints nothing and logs nothing.
    n_logged = len(logged)
    report.ask_printer = lambda: None
    out.unlink()
    report.print_report_action.trigger()
    settle(qtbot, window)
    qtbot.wait(200)
    assert not out.exists()
    with store_on_this_thread():
        again = [e for e in window.patients.store.audit_entries() if e.action == "printed"]
    assert len(again) == n_logged

"""Closing Stethos with a record typed in but not saved: ask first (nothing is lost silently)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QMessageBox, QWidget


def ask_before_closing(parent: QWidget, patient: str, close: Callable[[], None]) -> QMessageBox:
    """Show (window-modal, not blocking) whether to close and lose the unsaved record.

    ``close`` is called when the clinician chooses to close without saving;
    “Keep editing” (the default, and Escape) leaves everything as it is.
    """

    translate = QCoreApplication.translate
    box = QMessageBox(parent)
    box.setObjectName("unsaved_record_dialog")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(translate("UnsavedRecord", "Record not saved"))
    box.setText(
        translate("UnsavedRecord", "The record in the form has not been saved for {0}.").format(
            patient
        )
    )
    box.setInformativeText(
        translate(
            "UnsavedRecord",
            "Save it with “Save record” first, or close Stethos and lose what was typed.",
        )
    )
    discard = box.addButton(
        translate("UnsavedRecord", "Close without saving"), QMessageBox.ButtonRole.DestructiveRole
    )
    keep = box.addButton(
        translate("UnsavedRecord", "Keep editing"), QMessageBox.ButtonRole.RejectRole
    )
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.buttonClicked.connect(lambda button: close() if button is discard else None)
    box.open()
    return box

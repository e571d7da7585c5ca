"""Closing the window with a record typed in but not saved asks first; a saved one does not."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from tests.desktop.conftest import VALID_RECORD
from tests.desktop.test_patients_workflow import add_patient, make_window, set_up, settle


def _button(box: QMessageBox, text: str):
    (button,) = [b for b in box.buttons() if b.text() == text]
    return button


def test_closing_with_an_unsaved_record_asks_and_keeps_it_unless_told(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_patient(qtbot, window)
    window.form.set_record(VALID_RECORD)  # filled from elsewhere: nothing typed yet
    assert not window.form.edited
    window.form.editor("chol").setText("250")  # typed in
    assert window.form.edited

    window.close()
    box = window.unsaved_box
    assert window.isVisible() and box is not None and box.isVisible()
    window.close()  # again, the question still open: the same box, not a second one
    assert window.unsaved_box is box and window.isVisible()
    assert "LEE, Ana" in box.text() or "Lee" in box.text()
    _button(box, "Keep editing").click()
    assert window.isVisible() and window.form.editor("chol").text() == "250"

    # saved: closing no longer asks
    assert window.patients.encounter.save_record()
    settle(qtbot, window)
    assert not window.form.edited
    window.form.editor("chol").setText("251")
    assert window.form.edited
    window.form.editor("chol").setText("250")  # back to what was saved
    assert not window.form.edited
    window.form.editor("chol").setText("251")
    window.close()
    assert window.unsaved_box.isVisible()
    _button(window.unsaved_box, "Close without saving").click()
    assert not window.isVisible()


def test_a_record_saved_then_closed_closes_at_once(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_patient(qtbot, window)
    window.form.set_record(VALID_RECORD)
    window.form.editor("age").setText("64")
    assert window.patients.encounter.save_record()
    settle(qtbot, window)
    window.close()
    assert not window.isVisible() and window.unsaved_box is None


def test_without_a_patient_nothing_is_asked(qtbot, window):
    window.form.editor("age").setText("64")
    assert window.form.edited
    window.close()
    assert not window.isVisible() and window.unsaved_box is None

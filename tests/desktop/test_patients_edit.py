"""Editing a patient or a record keeps every earlier version, with who, when and why."""

from __future__ import annotations

from desktop.patients.dialogs import (
    EditPatientDialog,
    EditRecordDialog,
    HistoryDialog,
    RecoverAccessDialog,
    RecoveryKeyDialog,
    SignInDialog,
    UsersDialog,
)
from desktop.settings import SettingsDialog
from engine.records import HEART_RECORD
from tests.desktop.conftest import VALID_RECORD, store_on_this_thread
from tests.desktop.test_i18n import chinese, english_words, untranslated  # noqa: F401 - fixture
from tests.desktop.test_patients_workflow import add_patient, make_window, set_up, settle, submit


def test_edit_patient_updates_the_list_and_the_history_keeps_both_versions(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_patient(qtbot, window)
    patients, panel = window.patients, window.patients.panel
    pid = patients.patient.id
    assert panel.edit_patient_button.isEnabled()

    panel.edit_patient_button.click()
    dialog = patients.dialog
    assert isinstance(dialog, EditPatientDialog)
    assert dialog.mrn.text() == "MRN-0042" and dialog.given_name.text() == "Ana"
    assert dialog.birth_date.text() == "1961-03-04" and dialog.sex.currentData() == "F"

    # an invalid birth date: a message, nothing saved
    dialog.birth_date.setText("1961-13-45")
    dialog.reason.setText("typing error")
    submit(qtbot, window, dialog)
    assert dialog.isVisible()
    assert "birth date must be a date" in dialog.message.text()
    assert "Nothing was saved" in dialog.message.text()
    # no reason: refused before the store is asked
    dialog.birth_date.setText("1961-04-03")
    dialog.reason.clear()
    dialog.ok_button.click()
    assert dialog.isVisible() and "reason is required" in dialog.message.text()
    assert not patients.jobs.busy
    with store_on_this_thread():
        assert len(patients.store.patient_history(pid)) == 1

    dialog.given_name.setText("Anna")
    dialog.reason.setText("day and month swapped at registration")
    submit(qtbot, window, dialog)
    assert not dialog.isVisible()
    row = panel.patients.currentItem().text()
    assert "LEE, Anna" in row and "1961-04-03" in row
    assert "LEE, Anna" in panel.header.text()
    assert patients.patient.version == 2

    panel.patient_history_button.click()
    settle(qtbot, window)
    history = patients.dialog
    assert isinstance(history, HistoryDialog)
    lines = history.texts()
    assert len(lines) == 2
    assert lines[0].startswith("2 | ") and "admin" in lines[0]
    assert "day and month swapped" in lines[0] and "LEE, Anna" in lines[0]
    assert "1961-04-03" in lines[0]
    assert lines[1].startswith("1 | ") and "registered" in lines[1]
    assert "LEE, Ana " in lines[1] and "1961-03-04" in lines[1]
    history.reject()
    with store_on_this_thread():
        changed = patients.store.audit_entries(action="changed", object_type="patient")
    assert [e.details["reason"] for e in changed] == ["day and month swapped at registration"]
    window.close()


def test_edit_record_validates_and_keeps_the_earlier_values(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_patient(qtbot, window)
    patients, panel = window.patients, window.patients.panel
    window.form.set_record(VALID_RECORD)
    assert patients.encounter.save_record()
    settle(qtbot, window)
    assert not panel.edit_record_button.isEnabled()  # nothing selected yet
    assert panel.select_timeline_kind("record")
    record_id = panel.selected_record()
    panel.edit_record_button.click()
    dialog = patients.dialog
    assert isinstance(dialog, EditRecordDialog)
    form = dialog.record_form
    assert form.editor("chol").text() == "233" and form.is_valid

    form.editor("chol").setText("9999")  # out of range: a message, nothing saved
    dialog.reason.setText("lab correction")
    submit(qtbot, window, dialog)
    assert dialog.isVisible() and "Nothing was saved" in dialog.message.text()
    assert "Serum cholesterol" in dialog.message.text()
    with store_on_this_thread():
        assert len(patients.store.record_history(record_id)) == 1

    form.editor("chol").setText("250")
    dialog.reason.clear()
    dialog.ok_button.click()
    assert dialog.isVisible() and "reason is required" in dialog.message.text()
    dialog.reason.setText("lab correction")
    submit(qtbot, window, dialog)
    assert not dialog.isVisible()
    edited = [t for t in panel.timeline_texts() if "Record (edited, version 2)" in t]
    assert len(edited) == 1 and "Changed: Serum cholesterol: 233 mg/dL → 250 mg/dL" in edited[0]

    assert panel.select_timeline_kind("record")
    new_id = panel.selected_record()
    assert new_id != record_id
    with store_on_this_thread():
        assert patients.store.get_record(new_id).values["chol"] == 250
        assert patients.store.get_record(record_id).values["chol"] == 233  # not overwritten
    panel.record_history_button.click()
    settle(qtbot, window)
    history = patients.dialog
    assert isinstance(history, HistoryDialog)
    lines = history.texts()
    assert len(lines) == 2
    assert "lab correction" in lines[0] and "admin" in lines[0]
    assert "Serum cholesterol: 233 mg/dL → 250 mg/dL" in lines[0]
    assert "Serum cholesterol: 233 mg/dL" in lines[1]
    history.reject()
    window.close()


def test_edit_history_and_account_dialogs_are_translated(qtbot, chinese, tmp_path):  # noqa: F811
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    patients = window.patients
    with store_on_this_thread():
        patient = patients.store.add_patient("004211", "李", "安娜", "1961-03-04", "F")
    patients.patients.select_patient(patient.id)
    settle(qtbot, window)
    window.form.set_record(VALID_RECORD)
    assert patients.encounter.save_record()
    settle(qtbot, window)
    patients.panel.select_timeline_kind("record")
    record_id = patients.panel.selected_record()
    dialogs = [
        patients.patients.edit_patient(),
        patients.patients.patient_history(),
        EditRecordDialog(HEART_RECORD, {}, window),
        RecoverAccessDialog(window, username="u1"),
        UsersDialog([], window),
        SignInDialog(window),
        RecoveryKeyDialog("", window, replaced=True),
        SettingsDialog(parent=window),
    ]
    settle(qtbot, window)  # the patient's history is read
    edit = patients.patients.edit_record(record_id)
    edit.record_form.editor("chol").setText("9999")
    edit.reason.setText("化验室更正")
    submit(qtbot, window, edit)
    assert "未保存" in edit.message.text()
    dialogs.append(edit)
    for dialog in dialogs:
        dialog.show()
        assert untranslated(dialog) == [], type(dialog).__name__
        dialog.hide()
    edit.reject()
    assert any("登记" in line for line in dialogs[1].texts())  # the patient's first version
    edit = patients.patients.edit_record(record_id)
    edit.record_form.editor("chol").setText("250")
    edit.reason.setText("化验室更正")
    submit(qtbot, window, edit)
    assert not edit.isVisible()
    history = patients.patients.record_history(record_id)
    settle(qtbot, window)
    assert untranslated(history) == []
    assert "修改：" in history.texts()[0]
    assert any("修改：" in line for line in patients.panel.timeline_texts())
    panel = patients.panel
    for button in (
        panel.edit_patient_button,
        panel.patient_history_button,
        panel.edit_record_button,
        panel.record_history_button,
    ):
        assert english_words(button.text()) == [], button.text()
    window.close()

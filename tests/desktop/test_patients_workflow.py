"""Patients, records and results kept on the workstation, driven like a user.

The store lives in ``tmp_path`` and uses cheap Argon2 parameters
(:meth:`KdfParams.fast`). The PDF's text is read with ``pdftotext``
(Debian ``poppler-utils``); without it only the PDF's header is checked.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop.main_window import MainWindow
from desktop.patients.dialogs import (
    LockDialog,
    NewPatientDialog,
    OverrideDialog,
    SetupDialog,
    SignInDialog,
)
from engine.store import KdfParams, open_store
from tests.desktop.conftest import DEFAULT_RECORD_MODEL, VALID_RECORD, store_on_this_thread

PASSWORD = "correct horse battery"


def export(qtbot, patients, encounter_id, pdf):
    """Export a report (on the report worker) and wait until it is written."""
    with qtbot.waitSignal(patients.report.report_exported, timeout=60_000) as written:
        assert patients.report.export_report(encounter_id, pdf)
    assert written.args == [pdf] and patients.report.last_report == pdf


def settle(qtbot, window, timeout=60_000) -> None:
    """Wait until the store work queued so far (saves, reads) has ended."""
    if window.patients.jobs.busy:
        with qtbot.waitSignal(window.patients.jobs.finished, timeout=timeout):
            pass


def make_window(qtbot, store_path) -> MainWindow:
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    w.patients.configure(store_path=store_path, kdf=KdfParams.fast())
    return w


def submit(qtbot, window, dialog) -> None:
    """Click OK in a dialog; wait for the store work it started (if its input was valid)."""
    dialog.ok_button.click()
    settle(qtbot, window)


def submit_setup(qtbot, window) -> SetupDialog:
    """Open first-run setup, fill in the administrator and submit it."""
    dialog = window.patients.session.sign_in()
    assert isinstance(dialog, SetupDialog)
    dialog.username.setText("admin")
    dialog.password.setText(PASSWORD)
    dialog.repeat.setText(PASSWORD)
    submit(qtbot, window, dialog)
    return dialog


def set_up(qtbot, window) -> str:
    submit_setup(qtbot, window)
    keys = window.patients.session.recovery_dialog
    key = keys.key.text()
    ok = keys.buttons.buttons()[0]
    assert not ok.isEnabled()  # not before “I have written it down”
    keys.confirm.setChecked(True)
    ok.click()
    assert not keys.isVisible()
    return key


def sign_in(qtbot, window, password=PASSWORD) -> SignInDialog:
    dialog = window.patients.session.sign_in()
    assert isinstance(dialog, SignInDialog)
    dialog.username.setText("admin")
    dialog.password.setText(password)
    submit(qtbot, window, dialog)
    return dialog


def add_patient(qtbot, window) -> None:
    dialog = window.patients.patients.new_patient()
    assert isinstance(dialog, NewPatientDialog)
    dialog.mrn.setText("MRN-0042")
    dialog.family_name.setText("Lee")
    dialog.given_name.setText("Ana")
    dialog.birth_date.setText("1961-03-04")
    # Nothing is preselected: saving without a choice of sex is refused, nothing is lost.
    assert dialog.sex.currentData() is None
    submit(qtbot, window, dialog)
    assert dialog.isVisible() and "sex" in dialog.message.text()
    assert dialog.family_name.text() == "Lee"
    dialog.sex.setCurrentIndex(dialog.sex.findData("F"))
    submit(qtbot, window, dialog)  # saved, then selected: the patient is shown
    assert not dialog.isVisible()


@pytest.fixture()
def store_path(tmp_path):
    return tmp_path / "stethos.db"


def test_patient_record_result_decision_and_report_survive_a_restart(qtbot, store_path, tmp_path):
    window = make_window(qtbot, store_path)
    assert not window.patients.signed_in and not window.patients.dock.isVisible()

    key = set_up(qtbot, window)
    assert len(key.replace("-", "")) == 32
    assert window.patients.signed_in and window.patients.dock.isVisible()

    add_patient(qtbot, window)
    patients = window.patients
    encounter = patients.encounter
    assert patients.patient is not None and patients.patient.mrn == "MRN-0042"
    assert "LEE, Ana" in patients.panel.header.text()

    # an invalid value: a message, nothing saved
    window.form.set_record(VALID_RECORD)
    window.form.editor("trestbps").setText("900")
    assert not encounter.save_record()
    assert "not saved" in patients.last_message.text()
    assert "Resting blood pressure" in patients.last_message.text()
    assert not patients.jobs.busy  # nothing was sent to the store
    with store_on_this_thread():
        assert patients.store.encounters(patients.patient.id) == []

    window.form.set_record(VALID_RECORD)
    qtbot.mouseClick(encounter.save_record_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert any("Record" in line for line in patients.panel.timeline_texts())

    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        qtbot.mouseClick(window.analyze_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    result = encounter.last_result
    assert result is not None and result.model_id == DEFAULT_RECORD_MODEL
    assert result.record_id is not None  # the saved record, not a second copy
    assert result.positive_label and result.model_name
    assert result.result["input"] == {"kind": "record"}
    with store_on_this_thread():
        assert len(patients.store.encounters(patients.patient.id)) == 1
    assert encounter.decision_box.isVisible()

    assert encounter.accept_result()
    settle(qtbot, window)
    assert encounter.last_result.decision.decision == "accepted"
    dialog = encounter.override_result()
    assert isinstance(dialog, OverrideDialog)
    dialog.ok_button.click()  # no comment: refused
    assert dialog.isVisible() and "comment is required" in dialog.message.text()
    assert not patients.jobs.busy
    assert encounter.last_result.decision.decision == "accepted"
    dialog.comment.setPlainText("ECG shows an old inferior infarct")
    submit(qtbot, window, dialog)
    assert not dialog.isVisible()
    assert encounter.last_result.decision.decision == "overridden"
    assert "Overridden" in encounter.decision_label.text()

    pdf = tmp_path / "report.pdf"
    report = patients.report
    export(qtbot, patients, patients.encounter_id, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    for bad, reason in ((tmp_path / "no-such-folder" / "r.pdf", "No such file or directory"),
                        (Path("/dev/full"), "No space left on device")):  # fmt: skip
        with qtbot.waitSignal(report.report_failed, timeout=60_000) as failed:
            assert report.export_report(patients.encounter_id, bad)
        assert f"The report could not be written to {bad}" in failed.args[0]
        assert reason in failed.args[0] and reason in patients.last_message.text()
        assert report.last_report == pdf  # the earlier report stands; the app goes on
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        for expected in (
            "LEE, Ana",
            "MRN-0042",
            DEFAULT_RECORD_MODEL,
            "Resting blood pressure",
            "145 mmHg",
            "coronary artery disease",  # intended use
            "does not replace",
            "overridden",
            "old inferior infarct",
            "Stethos 0.",
        ):
            assert expected in text, expected
    with store_on_this_thread():
        exported = [e for e in patients.store.audit_entries() if e.action == "exported"]
    assert [e.details["file"] for e in exported] == ["report.pdf"]  # failures are not logged
    window.close()
    assert patients.store is None  # closed with the window

    # a new window: wrong password first, then everything is back
    window = make_window(qtbot, store_path)
    dialog = sign_in(qtbot, window, password="wrong password!")
    assert dialog.isVisible() and "password" in dialog.message.text().lower()
    assert not window.patients.signed_in
    dialog.password.setText(PASSWORD)
    submit(qtbot, window, dialog)
    assert window.patients.signed_in
    window.patients.panel.search.setText("lee")
    with qtbot.waitSignal(window.patients.panel.search_changed, timeout=2000):
        pass
    settle(qtbot, window)
    window.patients.panel.patients.setCurrentRow(0)
    settle(qtbot, window)
    lines = window.patients.panel.timeline_texts()
    joined = "\n".join(lines)
    assert "Record" in joined and DEFAULT_RECORD_MODEL in joined
    assert "Overridden: ECG shows an old inferior infarct" in joined
    assert "Accepted" in joined
    assert "Overridden" in lines[0] and "Encounter" in lines[-1]  # newest first
    # a decision on a result of an earlier session, from the timeline
    panel = window.patients.panel
    panel.select_timeline_row(next(i for i, t in enumerate(lines) if "Result:" in t))
    assert panel.accept_button.isEnabled()
    panel.accept_button.click()
    settle(qtbot, window)
    assert panel.timeline_texts()[0].endswith("| Accepted")
    window.close()


def test_session_locks_after_inactivity_and_unlocks_with_the_password(qtbot, store_path):
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    patients, session = window.patients, window.patients.session
    session.lock_timeout_s = 0.0
    session.check_lock()
    assert patients.locked and not patients.dock.isVisible()
    dialog = patients.dialog
    assert isinstance(dialog, LockDialog)
    dialog.password.setText("not it at all")
    submit(qtbot, window, dialog)
    assert patients.locked and "wrong" in dialog.message.text()
    dialog.password.setText(PASSWORD)
    session.lock_timeout_s = 600.0
    submit(qtbot, window, dialog)
    assert not patients.locked and patients.dock.isVisible()
    window.close()


def test_link_study_warns_when_the_dicom_patient_differs(qtbot, store_path):
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    add_patient(qtbot, window)
    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        window.open_sample()
    encounter = window.patients.encounter
    assert encounter.link_button.isVisible()
    assert encounter.link_study()
    settle(qtbot, window)
    assert "another patient" in window.patients.last_message.text()
    assert not encounter.link_button.isVisible()
    assert any("Study" in line for line in window.patients.panel.timeline_texts())
    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        window.analyze_image()
    settle(qtbot, window)
    result = encounter.last_result
    assert result.model_id == "cxr-pneumonia-resnet18-224"
    assert result.study_link_id is not None
    assert result.result["input"]["kind"] == "image"
    assert result.result["input"]["study_instance_uid"]
    assert encounter.decision_box.isVisible()
    window.close()


def test_users_dialog_adds_a_clinician_who_can_sign_in(qtbot, store_path):
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    dialog = window.patients.session.manage_users()
    dialog.username.setText("dr.lee")
    dialog.password.setText("temporary pass 1")
    submit(qtbot, window, dialog)
    assert dialog.users.count() == 2
    window.close()
    with store_on_this_thread():
        store = open_store(store_path, "dr.lee", "temporary pass 1")
        assert store.user.role == "clinician"
        store.close()


def test_reset_access_makes_the_user_choose_a_new_password(qtbot, store_path):
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    session = window.patients.session
    users = session.manage_users()
    users.username.setText("dr.lee")
    users.password.setText("first password 1")
    submit(qtbot, window, users)
    users.users.setCurrentRow(
        next(i for i in range(users.users.count()) if "dr.lee" in users.users.item(i).text())
    )
    users.password.setText("temporary pass 2")
    with qtbot.waitSignal(window.patients.jobs.finished, timeout=20000):
        users.reset_button.click()
    assert "dr.lee must choose a new password" in users.message.text()
    users.reject()
    session.sign_out()
    assert not window.patients.signed_in and not window.patients.dock.isVisible()

    dialog = session.sign_in()
    dialog.username.setText("dr.lee")
    dialog.password.setText("temporary pass 2")
    submit(qtbot, window, dialog)
    change = window.patients.dialog
    assert change.isVisible() and "reset by an administrator" in change.intro.text()
    change.current.setText("temporary pass 2")
    change.password.setText("my own password 3")
    change.repeat.setText("my own password 3")
    submit(qtbot, window, change)
    assert not change.isVisible()
    assert not window.patients.store.user.must_change_password
    assert not session.users_action.isEnabled()  # a clinician manages no accounts
    window.close()


def test_saving_without_signing_in_says_how(qtbot, store_path):
    window = make_window(qtbot, store_path)
    window.form.set_record(VALID_RECORD)
    encounter = window.patients.encounter
    assert not encounter.save_record_button.isVisible()
    assert not encounter.save_record()
    assert "Sign in" in window.patients.last_message.text()
    window.close()


def test_closing_the_window_right_after_an_analysis_keeps_its_result(qtbot, store_path):
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    add_patient(qtbot, window)
    window.form.set_record(VALID_RECORD)
    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        qtbot.mouseClick(window.analyze_button, Qt.MouseButton.LeftButton)
    assert window.patients.jobs.busy  # the save is queued...
    window.close()  # ...and closing waits for it
    with store_on_this_thread():
        store = open_store(store_path, "admin", PASSWORD, kdf=KdfParams.fast())
        (patient,) = store.search_patients("")
        (encounter,) = store.encounters(patient.id)
        (result,) = store.results(encounter.id)
        assert result.model_id == DEFAULT_RECORD_MODEL and result.record_id is not None
        store.close()

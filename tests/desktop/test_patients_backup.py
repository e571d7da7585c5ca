"""Patient ▸ Back up database…: administrators of a workstation's database, off the UI thread."""

from __future__ import annotations

from engine.store import KdfParams, open_store
from tests.desktop.conftest import store_on_this_thread
from tests.desktop.test_patients_admin import add_clinician, sign_in_as
from tests.desktop.test_patients_workflow import PASSWORD, add_patient, make_window, set_up


def test_an_administrator_backs_up_and_the_copy_opens(qtbot, tmp_path):
    store_path = tmp_path / "data" / "stethos.db"
    window = make_window(qtbot, store_path)
    patients = window.patients
    action = patients.backup.backup_action
    assert not action.isVisible()  # nobody signed in
    set_up(qtbot, window)
    assert action.isVisible() and action.isEnabled()
    assert action in patients.menu.actions()
    add_patient(qtbot, window)

    backups = tmp_path / "usb-disk"
    with qtbot.waitSignal(patients.jobs.finished, timeout=30000):
        assert patients.backup.back_up(backups)
    report = patients.backup.last_report
    assert report is not None and report.folder.parent == backups
    assert report.folder.name.startswith("Stethos backup ")
    assert "copy checked" in patients.last_message.text()
    assert str(report.folder) in patients.last_message.text()
    assert action.isEnabled()
    with store_on_this_thread():
        entry = patients.store.audit_entries(action="backed_up")[-1]
    assert entry.details["folder"] == str(report.folder)

    with (
        store_on_this_thread(),
        open_store(report.files[0], "admin", PASSWORD, kdf=KdfParams.fast()) as copy,
    ):
        assert [p.mrn for p in copy.search_patients("")] == ["MRN-0042"]
        assert copy.verify_audit().ok
    window.close()


def test_a_clinician_has_no_backup_and_a_failure_is_said(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "data" / "stethos.db")
    patients = window.patients
    set_up(qtbot, window)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with qtbot.waitSignal(patients.jobs.finished, timeout=30000):
        patients.backup.back_up(blocked)
    assert "was not backed up" in patients.last_message.text()
    assert patients.backup.backup_action.isEnabled()  # ready to try elsewhere

    users = patients.session.manage_users()
    add_clinician(qtbot, window, users, "dr.lee", "first password 1")
    users.reject()
    patients.session.sign_out()
    sign_in_as(qtbot, window, "dr.lee", "first password 1")
    assert patients.signed_in and not patients.backup.backup_action.isVisible()
    assert patients.backup.back_up(tmp_path / "elsewhere") is False
    assert not (tmp_path / "elsewhere").exists()
    window.close()

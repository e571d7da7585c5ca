"""Accounts administration, the recovery key, and the inactivity lock as a setting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from desktop.patients.dialogs import RecoverAccessDialog, SignInDialog
from desktop.settings import SettingsDialog, load_preferences
from engine.errors import AuthenticationError
from engine.store import KdfParams, open_store, recover_access
from tests.desktop.conftest import store_on_this_thread
from tests.desktop.test_patients_workflow import (
    PASSWORD,
    add_patient,
    make_window,
    set_up,
    submit,
)


def sign_in_as(qtbot, window, username: str, password: str) -> SignInDialog:
    dialog = window.patients.session.sign_in()
    assert isinstance(dialog, SignInDialog)
    dialog.username.setText(username)
    dialog.password.setText(password)
    submit(qtbot, window, dialog)
    return dialog


def add_clinician(qtbot, window, users, name: str, password: str) -> None:
    users.username.setText(name)
    users.password.setText(password)
    submit(qtbot, window, users)
    assert "was added" in users.message.text()


def test_admin_disables_a_clinician_who_then_cannot_sign_in(qtbot, tmp_path):
    store_path = tmp_path / "stethos.db"
    window = make_window(qtbot, store_path)
    set_up(qtbot, window)
    patients, session = window.patients, window.patients.session
    assert session.users_action.isVisible() and session.users_action.isEnabled()
    users = session.manage_users()
    add_clinician(qtbot, window, users, "dr.lee", "first password 1")
    add_clinician(qtbot, window, users, "dr.kim", "second password 2")

    users.select_user("admin")  # one's own account cannot be disabled
    with qtbot.waitSignal(patients.jobs.finished, timeout=20000):
        users.disable_button.click()
    assert "cannot disable your own account" in users.message.text()

    users.select_user("dr.lee")
    with qtbot.waitSignal(patients.jobs.finished, timeout=20000):
        users.disable_button.click()
    assert "dr.lee can no longer sign in" in users.message.text()
    assert any(
        "dr.lee" in users.users.item(i).text() and "(disabled)" in users.users.item(i).text()
        for i in range(users.users.count())
    )
    users.reject()
    with store_on_this_thread():
        disabled = patients.store.audit_entries(action="user_disabled")
    assert [e.details["username"] for e in disabled] == ["dr.lee"]
    session.sign_out()

    dialog = sign_in_as(qtbot, window, "dr.lee", "first password 1")
    assert dialog.isVisible() and not patients.signed_in
    assert "password" in dialog.message.text().lower()
    dialog.reject()

    # the other clinician still signs in, and sees no account administration
    sign_in_as(qtbot, window, "dr.kim", "second password 2")
    assert patients.signed_in and patients.store.user.username == "dr.kim"
    assert not session.users_action.isVisible()
    assert session.manage_users() is None
    window.close()


def test_recovery_key_restores_the_admin_and_keeps_the_data(qtbot, tmp_path):
    store_path = tmp_path / "stethos.db"
    window = make_window(qtbot, store_path)
    key = set_up(qtbot, window)
    add_patient(qtbot, window)
    patients = window.patients
    patients.session.sign_out()

    dialog = patients.session.sign_in()
    assert isinstance(dialog, SignInDialog)
    dialog.recover_button.click()
    assert not dialog.isVisible()
    recover = patients.dialog
    assert isinstance(recover, RecoverAccessDialog)
    recover.key.setText("AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HHHH")
    recover.password.setText("a new admin password")
    recover.repeat.setText("a new admin password")
    submit(qtbot, window, recover)
    assert recover.isVisible() and "recovery key was not accepted" in recover.message.text()
    assert not patients.signed_in

    recover.key.setText(key.lower())
    submit(qtbot, window, recover)
    assert not recover.isVisible() and patients.signed_in
    assert patients.store.user.username == "admin"
    assert "nothing stored was lost" in patients.last_message.text()
    listed = patients.panel.patients
    rows = [listed.item(i).text() for i in range(listed.count())]
    assert len(rows) == 1 and "MRN-0042" in rows[0]  # the patients, read again after sign-in
    with store_on_this_thread():
        assert patients.store.verify_audit().ok
        assert any(e.action == "access_recovered" for e in patients.store.audit_entries())
    window.close()

    with store_on_this_thread():
        with pytest.raises(AuthenticationError):
            open_store(store_path, "admin", PASSWORD, kdf=KdfParams.fast())
        store = open_store(store_path, "admin", "a new admin password", kdf=KdfParams.fast())
        assert [p.mrn for p in store.search_patients("")] == ["MRN-0042"]
        store.close()


def test_new_recovery_key_is_shown_once_and_replaces_the_old_one(qtbot, tmp_path):
    store_path = tmp_path / "stethos.db"
    window = make_window(qtbot, store_path)
    old_key = set_up(qtbot, window)
    patients = window.patients
    users = patients.session.manage_users()
    with qtbot.waitSignal(patients.jobs.finished, timeout=20000):
        users.recovery_button.click()
    shown = patients.session.recovery_dialog
    assert shown.isVisible()
    assert "previous recovery key no longer opens" in shown.explanation.text()
    new_key = shown.key.text()
    assert new_key != old_key and len(new_key.replace("-", "")) == 32
    shown.confirm.setChecked(True)
    shown.accept()
    users.reject()
    window.close()

    with store_on_this_thread():
        with pytest.raises(AuthenticationError):
            recover_access(store_path, old_key, "admin", "another pw 9", kdf=KdfParams.fast())
        store = recover_access(store_path, new_key, "admin", "another pw 9", kdf=KdfParams.fast())
        store.close()


def test_lock_timeout_comes_from_settings_and_applies_at_once(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path / "config"))
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    patients, session = window.patients, window.patients.session
    assert session.lock_timeout_s == 10 * 60  # the default
    assert session.lock_timer.isActive()

    settings = SettingsDialog(parent=window)
    qtbot.addWidget(settings)
    assert settings.lock_box.value() == 10
    assert (settings.lock_box.minimum(), settings.lock_box.maximum()) == (1, 120)
    settings.lock_box.setValue(1)
    settings.accept()
    assert load_preferences().lock_minutes == 1  # kept in settings.ini
    assert session.lock_timeout_s == 60.0
    assert session.lock_timer.interval() == 60_000 and session.lock_timer.isActive()

    # input a moment ago: the timer fires early, nothing locks, it waits for the rest
    patients.store.session.last_activity -= timedelta(seconds=30)
    session.lock_timer.timeout.emit()
    assert not patients.locked
    assert 29_000 <= session.lock_timer.remainingTime() <= 31_000

    # a minute without input: locked, patient data hidden until the password
    patients.store.session.last_activity -= timedelta(seconds=31)
    session.lock_timer.timeout.emit()
    assert patients.locked and not patients.dock.isVisible()
    assert not session.lock_timer.isActive()
    lock = patients.dialog
    lock.password.setText(PASSWORD)
    submit(qtbot, window, lock)
    assert not patients.locked and patients.dock.isVisible()
    assert session.lock_timer.interval() == 60_000 and session.lock_timer.isActive()
    window.close()

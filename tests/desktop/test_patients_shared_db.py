"""The clinic's shared database on PostgreSQL, from the window: the server goes away, and
the server asks for the workstation's password.

A throw-away PostgreSQL cluster (``tests/engine/store/_pg.py``; skipped with
the reason where Debian's ``postgresql`` binaries are missing) holds the
store. The server is stopped while a record is being saved: the user is told
the clinic database is unreachable, the record stays in the form, and once
the server is back the same click saves it (the store reconnects by itself).

Over TLS the server asks the workstation's role for its password: the
sign-in dialog asks for it once, says a wrong one was not accepted, and
remembers the right one (in the Argon2id-wrapped file, or in a real Secret
Service: GNOME Keyring on a private D-Bus, ``_secret_service.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from desktop.patients.dialogs import RecoverAccessDialog, SignInDialog
from engine.store import KdfParams, create_store, credentials
from tests.desktop.conftest import VALID_RECORD, store_on_this_thread
from tests.desktop.test_patients_workflow import (
    PASSWORD,
    add_patient,
    make_window,
    settle,
    sign_in,
    submit,
)
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer, throwaway_server
from tests.engine.store._secret_service import SecretService
from tests.engine.store._secret_service import missing as missing_secret_service

DB_PASSWORD = "room-3-database-password"


@pytest.fixture
def server() -> Iterator[PgServer]:
    with throwaway_server() as pg:
        yield pg


def test_saving_while_the_clinic_database_is_down_keeps_the_record(qtbot, server: PgServer):
    name = server.new_database()
    with store_on_this_thread():  # IT's set-up, before the window
        store, _ = create_store(server.url(OWNER, name), "admin", PASSWORD, kdf=KdfParams.fast())
        store.close()
    window = make_window(qtbot, server.url(WORKSTATION, name))
    sign_in(qtbot, window)
    patients = window.patients
    assert patients.signed_in
    add_patient(qtbot, window)
    assert patients.patient is not None

    window.form.set_record(VALID_RECORD)
    server.stop()
    qtbot.mouseClick(patients.encounter.save_record_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    message = patients.last_message.text()
    assert "clinic database cannot be reached" in message and "still here" in message
    assert window.current_record() == window.form.record()
    assert {k: window.current_record()[k] for k in VALID_RECORD} == VALID_RECORD  # kept
    assert window.status_text.text().startswith("Clinic database unreachable")

    server.start()
    qtbot.mouseClick(patients.encounter.save_record_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    assert any("Record" in line for line in patients.panel.timeline_texts())
    with store_on_this_thread():
        visits = patients.store.encounters(patients.patient.id)
        assert len(visits) == 1 and len(patients.store.records(visits[0].id)) == 1
        assert patients.store.verify_audit().ok
    window.close()


# --- the clinic database's own password ---------------------------------------------------------
@pytest.fixture(scope="module")
def tls_server() -> Iterator[PgServer]:
    """A server that asks each workstation role for its password (over TLS, on 127.0.0.2)."""
    with throwaway_server(tls=True) as pg:
        yield pg


@pytest.fixture(params=["wrapped file", "secret service"])
def kept_in(request, monkeypatch) -> Iterator[str]:
    """Where the password is kept: the Argon2id-wrapped file, or a real Secret Service."""
    service = None
    if request.param == "wrapped file":
        monkeypatch.setenv(credentials.KEYRING_ENV, "off")
    else:
        reason = missing_secret_service()
        if reason is not None:
            pytest.skip(reason)
        service = SecretService().start()
        monkeypatch.delenv(credentials.KEYRING_ENV, raising=False)
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", service.address)
    credentials.choose_keyring_again()
    yield request.param
    credentials.choose_keyring_again()
    if service is not None:
        service.stop()


def test_sign_in_asks_for_the_clinic_database_password_once(
    qtbot, tls_server: PgServer, kept_in: str
):
    name = tls_server.new_database()
    with store_on_this_thread():  # IT's set-up: the database, and this workstation's role
        store, _ = create_store(
            tls_server.url(OWNER, name), "admin", PASSWORD, kdf=KdfParams.fast()
        )
        store.close()
    role = "ws_room_" + kept_in.split()[0]
    tls_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}' IN ROLE stethos_workstation")
    window = make_window(qtbot, tls_server.tls_url(role, name))
    patients = window.patients
    shown = f"postgresql://{role}@127.0.0.2:{tls_server.port}/{name}"

    dialog = patients.session.sign_in()
    assert isinstance(dialog, SignInDialog) and not dialog.database.isVisible()
    dialog.username.setText("admin")
    dialog.password.setText(PASSWORD)
    dialog.ok_button.click()
    assert patients.jobs.busy and not dialog.ok_button.isEnabled()  # on a worker: no freeze
    settle(qtbot, window)
    # The server asked for the workstation's password: the same dialog asks for it.
    assert dialog.isVisible() and not patients.signed_in
    assert dialog.database.isVisible() and dialog.database.password.hasFocus()
    assert shown in dialog.database.intro.text() and "sslrootcert" not in shown
    assert dialog.database.remember.isChecked() and dialog.ok_button.isEnabled()
    submit(qtbot, window, dialog)  # nothing typed: said so, nothing sent
    assert "Enter the clinic database password" in dialog.message.text()

    dialog.database.password.setText("not-the-password")
    submit(qtbot, window, dialog)
    assert dialog.isVisible() and not patients.signed_in
    assert "did not accept this database password" in dialog.message.text()
    assert dialog.password.text() == PASSWORD  # what was typed stays

    dialog.database.password.setText(DB_PASSWORD)
    submit(qtbot, window, dialog)
    assert not dialog.isVisible() and patients.signed_in
    saved = credentials.saved_in(shown, "admin")
    assert saved is not None
    assert saved.kind == (credentials.FILE if kept_in == "wrapped file" else credentials.KEYRING)
    if credentials.credentials_path().exists():
        assert DB_PASSWORD not in credentials.credentials_path().read_text()

    patients.session.sign_out()
    settle(qtbot, window)
    again = sign_in(qtbot, window)  # not asked again
    assert not again.isVisible() and patients.signed_in
    assert not again.database.isVisibleTo(again)
    patients.session.sign_out()
    settle(qtbot, window)
    with store_on_this_thread():
        credentials.forget(shown, "admin")
    window.close()


def test_recovering_access_asks_for_the_database_password_again(qtbot, tls_server: PgServer):
    """The saved database password was wrapped under the lost one: recovery asks for it."""
    name = tls_server.new_database()
    with store_on_this_thread():
        store, recovery_key = create_store(
            tls_server.url(OWNER, name), "admin", PASSWORD, kdf=KdfParams.fast()
        )
        store.close()
    role = "ws_room_recover"
    tls_server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{DB_PASSWORD}' IN ROLE stethos_workstation")
    shown = f"postgresql://{role}@127.0.0.2:{tls_server.port}/{name}"
    with store_on_this_thread():  # saved earlier, under the password now lost
        credentials.remember(shown, "admin", PASSWORD, DB_PASSWORD, KdfParams.fast())
    window = make_window(qtbot, tls_server.tls_url(role, name))
    patients = window.patients
    new_password = "a-new-long-passphrase-2"

    dialog = patients.session.recover_access()
    assert isinstance(dialog, RecoverAccessDialog) and not dialog.database.isVisible()
    dialog.key.setText(recovery_key)
    dialog.username.setText("admin")
    dialog.password.setText(new_password)
    dialog.repeat.setText(new_password)
    submit(qtbot, window, dialog)
    # the slot cannot be opened with the new password: the database password is asked for
    assert dialog.isVisible() and not patients.signed_in
    assert dialog.database.isVisible() and shown in dialog.database.intro.text()
    assert not dialog.database.remember.isVisible()  # it is saved under the new password

    dialog.database.password.setText(DB_PASSWORD)
    submit(qtbot, window, dialog)
    assert not dialog.isVisible() and patients.signed_in
    patients.session.sign_out()
    settle(qtbot, window)
    again = sign_in(qtbot, window, password=new_password)  # the new password opens the slot
    assert not again.isVisible() and patients.signed_in
    patients.session.sign_out()
    settle(qtbot, window)
    with store_on_this_thread():
        credentials.forget(shown, "admin")
    window.close()

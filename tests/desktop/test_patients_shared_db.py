"""The clinic's shared database on PostgreSQL, from the window: the server goes away.

A throw-away PostgreSQL cluster (``tests/engine/store/_pg.py``; skipped with
the reason where Debian's ``postgresql`` binaries are missing) holds the
store. The server is stopped while a record is being saved: the user is told
the clinic database is unreachable, the record stays in the form, and once
the server is back the same click saves it (the store reconnects by itself).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from engine.store import KdfParams, create_store
from tests._no_network import loopback_allowed
from tests.desktop.conftest import VALID_RECORD, store_on_this_thread
from tests.desktop.test_patients_workflow import (
    PASSWORD,
    add_patient,
    make_window,
    settle,
    sign_in,
)
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer, find_bin_dir


@pytest.fixture
def server() -> Iterator[PgServer]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL's initdb/pg_ctl are not installed (Debian: apt install postgresql)")
    with loopback_allowed():
        pg = PgServer(bin_dir)
        pg.start()
    yield pg
    pg.destroy()


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

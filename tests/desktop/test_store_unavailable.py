"""A data folder the store cannot be created in shows the reason in the dialog; the app goes on."""

from __future__ import annotations

from tests.desktop.test_patients_workflow import make_window, submit_setup


def test_setup_in_an_unusable_data_folder_shows_why_and_keeps_running(qtbot, tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data folder should be")
    window = make_window(qtbot, blocker / "stethos.db")
    dialog = submit_setup(qtbot, window)
    assert dialog.isVisible() and dialog.message.isVisible()
    text = dialog.message.text()
    assert str(blocker) in text and "file is in the way" in text
    assert "Traceback" not in text
    assert window.patients.store is None and window.isVisible()
    assert dialog.ok_button.isEnabled()  # the user may fix the folder and retry


def test_a_configured_database_address_that_cannot_be_used_leaves_the_viewer_running(
    qtbot, monkeypatch
):
    # Set by IT (environment or store.ini) and wrong: the window opened on a traceback before.
    from PySide6.QtWidgets import QMessageBox

    from desktop.main_window import MainWindow
    from engine.store.location import URL_ENV

    monkeypatch.setenv(URL_ENV, "mysql://db.clinic/stethos")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    patients = window.patients
    assert patients.store_path is None and window.isVisible()
    why = "“mysql://db.clinic/stethos” is not a database Stethos can use"
    assert why in patients.store_problem
    sign_in = patients.session.sign_in_action
    assert not sign_in.isEnabled() and why in sign_in.toolTip()
    assert patients.user_status.text() == "Database setting unusable: patients are off"
    assert why in patients.user_status.toolTip()
    assert patients.session.sign_in() is None  # nothing set up anywhere else
    box = patients.last_message
    assert isinstance(box, QMessageBox) and why in box.text()
    # The DICOM network stays for administrators: a broken setting unlocks nothing.
    window.show_nodes()
    assert not window.dialogs["nodes"].add_button.isEnabled()
    window.dialogs["nodes"].close()
    window.close()

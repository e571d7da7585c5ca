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

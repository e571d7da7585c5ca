"""Tag browser, keyboard shortcuts, About and model cards."""

from __future__ import annotations

import pydicom
from PySide6.QtGui import QKeySequence

from desktop.dialogs.shortcuts import shortcut_rows
from engine import __version__
from engine.resources import resource_path
from tests.desktop.conftest import open_and_wait

SAMPLE = resource_path("samples", "chest-cr-pa.dcm")


def test_tag_browser_lists_and_filters_the_file_tags(qtbot, window):
    open_and_wait(qtbot, window, [SAMPLE])
    window.show_tags()
    dialog = window.dialogs["tags"]
    qtbot.waitUntil(lambda: not dialog.jobs.busy, timeout=10000)
    rows = dialog.visible_rows()
    ds = pydicom.dcmread(SAMPLE, stop_before_pixels=True)
    assert len(rows) >= len(ds)
    keywords = {r[1] for r in rows}
    assert {"PatientID", "Modality", "TransferSyntaxUID", "PixelData"} <= keywords
    qtbot.keyClicks(dialog.filter, "modality")
    shown = dialog.visible_rows()
    assert shown and all("modality" in " ".join(r).lower() for r in shown)
    assert ("(0008,0060)", "Modality", "CS", "CR") in shown
    dialog.filter.clear()
    assert len(dialog.visible_rows()) == len(rows)
    dialog.close()


def test_shortcuts_dialog_is_made_from_the_menus(qtbot, window):
    rows = shortcut_rows(window.menuBar())
    by_action = {action: keys for _menu, action, keys in rows}
    native = QKeySequence.SequenceFormat.NativeText
    assert by_action["Analyze image"] == QKeySequence("Ctrl+Shift+R").toString(native)
    assert by_action["Distance"] == "D" and by_action["Heat map"] == "H"
    assert by_action["Play cine"] == "Space" and by_action["Invert"] == "I"
    assert "Down" in by_action["Next image"]
    # every viewer action is reachable from the keyboard
    panel = window.viewer_panel
    actions = [
        a
        for group in (panel.view_actions(), panel.image_actions(), panel.measure_actions())
        for a in group
        if a
    ]
    assert all(not a.shortcut().isEmpty() for a in actions)
    window.shortcuts_action.trigger()
    dialog = window.dialogs["shortcuts"]
    assert dialog.isVisible() and dialog.table.rowCount() == len(rows) + 7
    dialog.close()


def test_about_names_version_models_data_and_samples(qtbot, window):
    window.about_action.trigger()
    dialog = window.dialogs["about"]
    text = dialog.browser.toPlainText()
    assert f"Stethos {__version__}" in text
    assert "heart-disease-logreg-13" in text and "UCI Heart Disease" in text
    assert "ChestX-ray14" in text  # the sample attributions file
    assert "pydicom" in text and "PySide6" in text
    dialog.close()


def test_model_cards_dialog_shows_the_card(qtbot, window):
    window.model_cards_action.trigger()
    dialog = window.dialogs["model_cards"]
    index = dialog.models.findData("heart-disease-logreg-13")
    assert index >= 0
    dialog.models.setCurrentIndex(index)
    qtbot.waitUntil(lambda: not dialog.jobs.busy, timeout=30000)
    text = dialog.browser.toPlainText()
    assert "heart" in text.lower() and "Checking" not in text
    dialog.close()

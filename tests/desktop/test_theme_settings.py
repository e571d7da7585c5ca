"""Themes switch the palette (ECG paper included); preferences persist in settings.ini."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from desktop.ecg.paper import paper_colours
from desktop.ecg.views import StripView
from desktop.settings import (
    Preferences,
    SettingsDialog,
    load_preferences,
    save_preferences,
    settings_path,
)
from desktop.theme import apply_theme, current_theme, is_dark, palette_for
from tests.desktop.test_ecg_views import pixels


@pytest.fixture()
def app_theme(qapp):
    """Restore the application's style and palette after the test."""
    palette, style = QPalette(qapp.palette()), qapp.style().name()
    yield qapp
    qapp.setPalette(palette)
    qapp.setStyle(style)
    qapp.setProperty("stethos_theme", None)


@pytest.fixture()
def config_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_dark_and_light_themes_change_the_palette_and_the_ecg_paper(qtbot, app_theme):
    view = StripView()
    qtbot.addWidget(view)
    view.resize(400, 200)
    apply_theme(app_theme, "dark")
    qtbot.waitUntil(lambda: is_dark(view.palette()))
    assert app_theme.style().name().lower() == "fusion"
    assert current_theme(app_theme) == "dark"
    window = app_theme.palette().color(QPalette.ColorRole.Window)
    text = app_theme.palette().color(QPalette.ColorRole.WindowText)
    assert window.lightness() < 60 < 200 < text.lightness()
    dark_paper = paper_colours(view.palette()).background
    corner = pixels(view)[1, 1]
    assert dark_paper.lightness() < 40
    assert tuple(corner) == (dark_paper.red(), dark_paper.green(), dark_paper.blue())

    apply_theme(app_theme, "light")
    qtbot.waitUntil(lambda: not is_dark(view.palette()))
    assert app_theme.palette().color(QPalette.ColorRole.Window).lightness() > 200
    light_paper = paper_colours(view.palette()).background
    assert light_paper.lightness() > 240
    assert tuple(pixels(view)[1, 1]) == (light_paper.red(), light_paper.green(), light_paper.blue())


def test_palettes_keep_text_readable():
    for theme in ("light", "dark"):
        p = palette_for(theme)
        for back, fore in (
            (QPalette.ColorRole.Window, QPalette.ColorRole.WindowText),
            (QPalette.ColorRole.Base, QPalette.ColorRole.Text),
            (QPalette.ColorRole.Button, QPalette.ColorRole.ButtonText),
        ):
            assert abs(p.color(back).lightness() - p.color(fore).lightness()) > 150, (theme, back)


def test_preferences_persist_across_instances(config_dir):
    assert load_preferences() == Preferences()  # nothing saved yet: defaults
    wanted = Preferences(
        theme="dark",
        language="zh_CN",
        ecg_speed_mm_s=50.0,
        ecg_gain_mm_mv=20.0,
        screen_calibration=1.07,
        device="cpu",
    )
    save_preferences(wanted)
    assert settings_path() == config_dir / "settings.ini" and settings_path().is_file()
    assert load_preferences() == wanted
    text = settings_path().read_text()
    assert "theme=dark" in text and "language=zh_CN" in text


def test_bad_values_in_the_file_fall_back_to_defaults(config_dir):
    config_dir.mkdir(parents=True)
    settings_path().write_text(
        "[display]\ntheme=purple\nlanguage=xx\nscreen_calibration=abc\n"
        "[ecg]\nspeed_mm_s=33\ngain_mm_mv=ten\n[models]\ndevice=tpu\n"
    )
    assert load_preferences() == Preferences()


def test_settings_dialog_saves_applies_the_theme_and_shows_the_saved_values(
    qtbot, config_dir, app_theme
):
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.theme_box.setCurrentIndex(dialog.theme_box.findData("dark"))
    dialog.language_box.setCurrentIndex(dialog.language_box.findData("zh_CN"))
    assert "starts again" in dialog.notice.text()
    dialog.speed_box.setCurrentIndex(dialog.speed_box.findData(12.5))
    dialog.gain_box.setCurrentIndex(dialog.gain_box.findData(5.0))
    dialog.calibration_box.setValue(0.95)
    dialog.device_box.setCurrentIndex(dialog.device_box.findData("cuda"))
    with qtbot.waitSignal(dialog.preferences_saved) as saved:
        dialog.accept()
    expected = Preferences("dark", "zh_CN", 12.5, 5.0, 0.95, "cuda")
    assert saved.args[0] == expected
    assert load_preferences() == expected
    assert app_theme.palette().color(QPalette.ColorRole.Window).lightness() < 60

    again = SettingsDialog()
    qtbot.addWidget(again)
    assert again.preferences() == expected
    assert again.ruler.calibration == 0.95


def test_startup_applies_saved_theme_and_language(qtbot, config_dir, app_theme):
    from desktop.i18n import current_language, remove_translators
    from desktop.settings import apply_startup_preferences

    save_preferences(Preferences(theme="dark", language="zh_CN"))
    try:
        prefs = apply_startup_preferences(app_theme)
        assert prefs.theme == "dark" and current_theme(app_theme) == "dark"
        assert current_language() == "zh_CN"
        assert QApplication.translate("EcgPanel", "Analyze ECG") != "Analyze ECG"
    finally:
        remove_translators(app_theme)
    assert QApplication.translate("EcgPanel", "Analyze ECG") == "Analyze ECG"
    assert os.environ["STETHOS_CONFIG_DIR"] == str(config_dir)

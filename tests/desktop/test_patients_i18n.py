"""The Patient menu, dock, dialogs and report in Chinese: no English left but data."""

from __future__ import annotations

import shutil
import subprocess

from PySide6.QtGui import QFontDatabase

from desktop.patients.dialogs import (
    ChangePasswordDialog,
    LockDialog,
    OverrideDialog,
    SignInDialog,
    UsersDialog,
)
from tests.desktop.conftest import VALID_RECORD
from tests.desktop.test_i18n import chinese, untranslated  # noqa: F401 - fixture
from tests.desktop.test_patients_workflow import PASSWORD, export, make_window, settle, submit


def test_patients_ui_and_report_are_translated(qtbot, chinese, tmp_path):  # noqa: F811
    from desktop.browser.recent import clear_recent

    clear_recent()  # recent-study entries are file names (data), left by earlier tests
    window = make_window(qtbot, tmp_path / "stethos.db")
    patients = window.patients
    setup = patients.session.sign_in()
    assert untranslated(setup) == []
    setup.username.setText("u1")
    setup.password.setText(PASSWORD)
    setup.repeat.setText(PASSWORD)
    submit(qtbot, window, setup)
    keys = patients.session.recovery_dialog
    keys.key.setText("")  # the key itself is letters and digits, not words
    assert untranslated(keys) == []
    keys.confirm.setChecked(True)
    keys.accept()

    new = patients.patients.new_patient()
    assert untranslated(new) == []
    new.mrn.setText("004211")
    new.family_name.setText("李")
    new.given_name.setText("安娜")
    new.sex.setCurrentIndex(new.sex.findData("U"))
    submit(qtbot, window, new)
    window.form.set_record(VALID_RECORD)
    assert patients.encounter.save_record()
    settle(qtbot, window)
    texts = patients.panel.timeline_texts()
    assert any("静息血压" in t or "血压" in t for t in texts), texts  # translated record values

    for dialog in (
        ChangePasswordDialog(window),
        UsersDialog([], window),
        LockDialog("u1", window),
        ChangePasswordDialog(window, forced=True),
        OverrideDialog(window),
        SignInDialog(window),
    ):
        assert untranslated(dialog) == [], type(dialog).__name__
    assert untranslated(window) == []
    assert patients.menu.title() == "患者(&P)"

    pdf = tmp_path / "report.pdf"
    export(qtbot, patients, patients.encounter_id, pdf)
    has_cjk_font = bool(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))
    if shutil.which("pdftotext") and has_cjk_font:  # else the glyphs cannot be drawn
        text = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        ).stdout
        # pdftotext maps Qt's subset CJK glyphs back to text only in part (the
        # page renders whole — checked by eye with pdftoppm), so check that a
        # CJK font is embedded and that translated words come through.
        if shutil.which("pdffonts"):
            fonts = subprocess.run(
                ["pdffonts", str(pdf)], capture_output=True, text=True, check=True
            ).stdout
            assert "CJK" in fonts or "Hei" in fonts or "Song" in fonts, fonts
        assert "Stethos" in text and "报告" in text and "未知" in text
    window.close()

"""Simplified Chinese: every string of desktop/ is in the .ts, translated, compiled, shown.

The coverage tests walk real widgets with the Chinese translator installed
and list every user-visible string that still contains English words.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QTranslator
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QDialog,
    QGroupBox,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableView,
    QTabWidget,
    QTextEdit,
    QTreeView,
    QTreeWidget,
    QWidget,
)

from desktop.i18n import install_translator, remove_translators, translation_file
from engine.resources import resource_path

REPO = Path(__file__).resolve().parents[2]
TS = resource_path("translations", "stethos_zh_CN.ts")
LUPDATE = REPO / ".venv" / "bin" / "pyside6-lupdate"

#: Latin words a Chinese interface keeps: names, standards, units, lead and device names.
KEPT_WORDS = {
    "Stethos", "DICOM", "DICOMDIR", "Holter", "MIT", "BIH", "AI", "GPU", "CPU", "CUDA",
    "NVIDIA", "Python", "Qt", "English", "Grad", "CAM", "Esc", "Ctrl", "ID", "VR", "Estes",
    "Turbo", "Google", "LLC", "Apache", "ST", "QRS", "mm", "mV", "ms", "bpm", "mmHg", "mg",
    "dL", "Hz", "px", "fps", "aVR", "aVL", "aVF", "II", "III", "MLII", "dcm", "DCM", "hea",
    "dat", "dicomdir", "CinC", "PACS", "AE", "TLS", "PEM", "CA", "DICOMweb", "WADO", "RS",
    "GET", "MOVE", "http", "dicom", "web", "mmol", "kPa",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_TAG = re.compile(r"<[^>]+>")
_IDENTIFIER = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b")
_QUOTED = re.compile(r"“[^”]*”")
_FIELD = re.compile(r"\{\d+(?::[^}]*)?\}")


def english_words(text: str) -> list[str]:
    """Latin words of ``text`` that a translation should have replaced.

    Markup, product names, “quoted” names (an operating point's, a file's)
    and kebab-case identifiers (model ids) are not counted.
    """
    text = _TAG.sub(" ", text).replace("&nbsp;", " ").replace("&", "")
    text = _QUOTED.sub(" ", text).replace("Qt for Python", " ")
    text = _IDENTIFIER.sub(" ", text)
    return [w for w in _WORD.findall(text) if w not in KEPT_WORDS]


def visible_strings(root: QWidget) -> list[tuple[str, str]]:
    """(where, text) of every user-visible string under ``root``, hidden widgets included."""
    out: list[tuple[str, str]] = []
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        where = f"{type(w).__name__}({w.objectName()})"
        if isinstance(w, (QMainWindow, QDialog)) or w is root:
            out.append((where + ".windowTitle", w.windowTitle()))
        if isinstance(w, QLabel):
            out.append((where, w.text()))
        elif isinstance(w, QAbstractButton):
            out.append((where, w.text()))
        elif isinstance(w, QGroupBox):
            out.append((where, w.title()))
        elif isinstance(w, QLineEdit):
            out.append((where + ".placeholder", w.placeholderText()))
        elif isinstance(w, QTextEdit) and not w.isReadOnly():
            out.append((where + ".placeholder", w.placeholderText()))
        elif isinstance(w, QComboBox):
            out.extend((f"{where}[{i}]", w.itemText(i)) for i in range(w.count()))
        elif isinstance(w, QTabWidget):
            out.extend((f"{where}.tab{i}", w.tabText(i)) for i in range(w.count()))
        elif isinstance(w, QMenu):
            out.append((where + ".title", w.title()))
        if isinstance(w, QTreeWidget):
            header = w.headerItem()
            out.extend((f"{where}.header{i}", header.text(i)) for i in range(w.columnCount()))
        elif isinstance(w, (QTableView, QTreeView)) and w.model() is not None:
            header = w.horizontalHeader() if isinstance(w, QTableView) else w.header()
            for i in range(header.count()):
                value = w.model().headerData(i, Qt.Orientation.Horizontal)
                if isinstance(value, str):
                    out.append((f"{where}.header{i}", value))
    for action in root.findChildren(QAction):
        if not action.isSeparator():
            out.append((f"QAction({action.objectName()})", action.text()))
    if isinstance(root, QMainWindow):
        for action in root.menuBar().actions():
            out.append(("menu", action.text()))
    return [(where, text) for where, text in out if text]


def untranslated(root: QWidget) -> list[str]:
    return [f"{where}: {text!r}" for where, text in visible_strings(root) if english_words(text)]


@pytest.fixture()
def chinese(qapp):
    installed = install_translator(qapp, "zh_CN")
    assert installed, f"cannot load {translation_file('zh_CN')}; run `make translations`"
    yield qapp
    remove_translators(qapp)


def ts_messages() -> list[tuple[str, str, ET.Element]]:
    root = ET.parse(TS).getroot()
    return [
        (ctx.findtext("name"), m.findtext("source"), m.find("translation"))
        for ctx in root.findall("context")
        for m in ctx.findall("message")
    ]


def test_every_message_in_the_ts_file_is_translated_with_the_same_fields():
    messages = ts_messages()
    assert len(messages) > 200
    problems = []
    for context, source, translation in messages:
        text = translation.text or ""
        if translation.get("type") in ("unfinished", "obsolete", "vanished") or not text.strip():
            problems.append(f"{context}: {source!r} has no translation")
            continue
        if sorted(_FIELD.findall(source)) != sorted(_FIELD.findall(text)):
            problems.append(f"{context}: {source!r} -> {text!r} changes the {{n}} fields")
        if re.search(r"&\w", source) and not re.search(r"&\w", text):
            problems.append(f"{context}: {source!r} -> {text!r} loses its keyboard mnemonic")
        if english_words(text) and english_words(text) == english_words(source):
            problems.append(f"{context}: {source!r} is left in English")
    assert problems == []


def test_the_compiled_qm_matches_the_ts_source(qapp):
    translator = QTranslator()
    assert translator.load(str(translation_file("zh_CN")))
    stale = [
        f"{context}: {source!r}"
        for context, source, translation in ts_messages()
        if translator.translate(context, source) != (translation.text or "")
    ]
    assert stale == [], "run `make translations` to rebuild the .qm file"


@pytest.mark.skipif(not LUPDATE.exists(), reason="pyside6-lupdate is not installed in .venv")
def test_every_string_of_desktop_is_in_the_ts_file(tmp_path):
    copy = tmp_path / "check_zh_CN.ts"
    shutil.copy(TS, copy)
    sources = sorted(str(p) for p in (REPO / "desktop").rglob("*.py"))
    done = subprocess.run(
        [str(LUPDATE), "-locations", "none", "-no-obsolete", *sources, "-ts", str(copy)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    missing = [
        f"{ctx.findtext('name')}: {m.findtext('source')!r}"
        for ctx in ET.parse(copy).getroot().findall("context")
        for m in ctx.findall("message")
        if m.find("translation").get("type") == "unfinished"
    ]
    assert missing == [], "run `make translations-update`, translate the new strings"


def test_the_record_form_vocabulary_covers_the_schema():
    from desktop.records.strings import RECORD_WORDS
    from engine.records import HEART_RECORD

    words = set(RECORD_WORDS)
    for spec in HEART_RECORD.fields:
        for text in (spec.label, *spec.unit_symbols, spec.help, *(c.label for c in spec.choices)):
            assert not text or text in words, text


def test_translator_switches_the_language(chinese):
    assert QCoreApplication.translate("EcgPanel", "Analyze ECG") == "分析心电图"
    assert QCoreApplication.translate("ResultPanel", "POSITIVE") == "阳性"
    # Qt's own dialogs follow (standard buttons).
    assert QCoreApplication.translate("QPlatformTheme", "Cancel") == "取消"


def test_main_window_shows_no_english_in_chinese(qtbot, chinese):
    from desktop.browser.recent import clear_recent
    from desktop.main_window import MainWindow

    clear_recent()  # recent-study entries are file names (data), left by earlier tests
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    strings = visible_strings(window)
    assert len(strings) > 20  # the walk found the window's words
    assert untranslated(window) == []
    window.close()


def test_ecg_results_and_settings_show_no_english_in_chinese(qtbot, chinese):
    from desktop.ecg import EcgPanel
    from desktop.results.model_card import ModelCardDialog
    from desktop.settings import SettingsDialog
    from engine.api import analyze_record
    from tests.desktop.conftest import VALID_RECORD

    panel = EcgPanel()
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.signal_loaded, timeout=30000):
        panel.open_signal(resource_path("samples", "ecg-12-lead.dcm"))
    panel.explain = False
    with qtbot.waitSignal(panel.analysis_done, timeout=120000):
        panel.analyze()
    # Record data (names, values, the model's own texts) are data, not interface.
    data = {
        panel.info,
        panel.results.model,
        panel.results.intended_use,
        panel.time_label,
    }
    problems = [
        p
        for p in untranslated(panel)
        if not any(p.startswith(f"{type(w).__name__}({w.objectName()})") for w in data)
    ]
    assert problems == []
    assert panel.analyze_button.text() == "分析心电图"
    assert panel.results.title.text() == f"心电图：已分类 {len(panel.prediction.beats)} 个心搏"

    record = analyze_record("heart-disease-logreg-13", VALID_RECORD)
    panel.results.show_prediction(record)
    rows = panel.results.chart.rows
    assert {r.label for r in rows} >= {"年龄", "性别", "胸痛类型"}
    assert next(r for r in rows if r.label == "年龄").value == "63 岁"

    settings = SettingsDialog()
    qtbot.addWidget(settings)
    assert untranslated(settings) == []
    card = ModelCardDialog("ecg-beats-bilstm-360")
    qtbot.addWidget(card)
    assert [p for p in untranslated(card) if "model_card_browser" not in p] == []
    panel.shutdown()


def test_the_walk_finds_english_when_no_translation_is_installed(qtbot):
    from desktop.ecg import EcgPanel

    panel = EcgPanel()
    qtbot.addWidget(panel)
    found = "\n".join(untranslated(panel))
    assert "Analyze ECG" in found and "Show attributions" in found and "Probability" in found


def test_record_form_messages_are_translated(qtbot, chinese):
    from desktop.records.form import RecordForm
    from engine.records import HEART_RECORD

    form = RecordForm(HEART_RECORD)
    qtbot.addWidget(form)
    form.editor("trestbps").setText("400")
    assert form.message("trestbps") == "静息血压（收缩压）不得高于 260 mmHg。"
    form.editor("age").setText("abc")
    assert form.message("age") == "年龄必须是数字。"
    form.editor("age").setText("12")
    assert form.message("age") == "年龄不得低于 18 岁。"
    assert untranslated(form) == []

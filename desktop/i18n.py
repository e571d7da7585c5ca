"""Translations: Stethos' own (``resources/translations``) and Qt's standard dialogs.

User-visible strings go through ``self.tr`` / ``QCoreApplication.translate``;
``make translations`` compiles ``stethos_<lang>.ts`` into the ``.qm`` files
loaded here. English is the source language and needs no file.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QLibraryInfo, QLocale, QTranslator

from engine.resources import resource_path

log = logging.getLogger(__name__)

SOURCE_LANGUAGE = "en"
#: Languages Stethos ships, with their names in themselves.
LANGUAGES: dict[str, str] = {"en": "English", "zh_CN": "简体中文"}

_installed: list[QTranslator] = []
_language = [SOURCE_LANGUAGE]


def translation_file(language: str) -> Path:
    """Path of the compiled translation of ``language`` (may not exist)."""
    return resource_path("translations", f"stethos_{language}.qm")


def install_translator(app: QCoreApplication, language: str) -> list[QTranslator]:
    """Install Stethos' and Qt's translators for ``language`` into ``app``.

    Translators installed by an earlier call are removed first, so the
    function can be called again (tests switch languages). Returns the
    translators installed (empty for English or when the files are missing,
    which is logged: the interface then stays in English).
    """
    remove_translators(app)
    if language == SOURCE_LANGUAGE or language not in LANGUAGES:
        QLocale.setDefault(QLocale("en_US"))
        return []
    installed: list[QTranslator] = []
    own = QTranslator(app)
    path = translation_file(language)
    if own.load(str(path)):
        app.installTranslator(own)
        installed.append(own)
    else:
        log.warning("no translation file %s; the interface stays in English", path)
        return []
    qt = QTranslator(app)
    qt_folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if qt.load(f"qtbase_{language}", qt_folder):
        app.installTranslator(qt)
        installed.append(qt)
    QLocale.setDefault(QLocale(language))
    _installed.extend(installed)
    _language[0] = language
    return installed


def remove_translators(app: QCoreApplication) -> None:
    """Remove the translators :func:`install_translator` installed."""
    for translator in _installed:
        app.removeTranslator(translator)
        translator.deleteLater()
    _installed.clear()
    _language[0] = SOURCE_LANGUAGE


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:
    """Mark ``source`` for translation in ``context``; return it untranslated.

    Qt's marker with its real type (PySide6 declares a return of ``object``).
    lupdate finds the call by its name, so the strings are still collected.
    """
    return source


def current_language() -> str:
    """The language installed by :func:`install_translator` (``"en"`` before any)."""
    return _language[0]

"""Recently opened studies, kept in the user's settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from engine.resources import user_config_dir

#: How many recent studies are remembered.
MAX_RECENT = 10
_KEY = "browser/recent"


def _settings() -> QSettings:
    # An INI file in Stethos' config folder (STETHOS_CONFIG_DIR in tests), organisation Stethos.
    path = user_config_dir() / "Stethos.ini"
    return QSettings(str(path), QSettings.Format.IniFormat)


def recent_studies() -> list[list[Path]]:
    """The remembered openings, newest first; each is the list of paths opened together."""
    raw = _settings().value(_KEY, [])
    # An INI file gives back one string for a one-item list, a list for more.
    entries: list[object] | tuple[object, ...]
    if isinstance(raw, str):
        entries = [raw]
    elif isinstance(raw, (list, tuple)):
        entries = raw
    else:
        entries = []
    out = []
    for entry in entries:
        paths = [Path(p) for p in str(entry).split("\n") if p]
        if paths:
            out.append(paths)
    return out


def add_recent(paths: list[Path]) -> list[list[Path]]:
    """Put ``paths`` first in the recent list (no duplicates) and save it."""
    key = "\n".join(str(Path(p).resolve()) for p in paths)
    current = ["\n".join(str(p) for p in entry) for entry in recent_studies()]
    entries = [key, *(e for e in current if e != key)][:MAX_RECENT]
    settings = _settings()
    settings.setValue(_KEY, entries)
    settings.sync()
    return recent_studies()


def clear_recent() -> None:
    """Forget every recent study."""
    settings = _settings()
    settings.remove(_KEY)
    settings.sync()

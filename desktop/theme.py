"""Light and dark themes: Qt's Fusion style with a QPalette per theme.

Custom-painted views (ECG paper, charts) read their colours from the
palette, so a theme switch reaches them through ``QEvent.PaletteChange``.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = ("light", "dark")

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup

_LIGHT = {
    _Role.Window: "#f3f4f6",
    _Role.WindowText: "#1b1f24",
    _Role.Base: "#ffffff",
    _Role.AlternateBase: "#eef1f4",
    _Role.ToolTipBase: "#ffffdc",
    _Role.ToolTipText: "#1b1f24",
    _Role.PlaceholderText: "#6b7280",
    _Role.Text: "#1b1f24",
    _Role.Button: "#e8eaed",
    _Role.ButtonText: "#1b1f24",
    _Role.BrightText: "#d32f2f",
    _Role.Light: "#ffffff",
    _Role.Midlight: "#eceef1",
    _Role.Mid: "#b8bec6",
    _Role.Dark: "#8a929c",
    _Role.Shadow: "#4b5058",
    _Role.Highlight: "#1f6fd1",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#1558b0",
    _Role.LinkVisited: "#6a3fb0",
}

_DARK = {
    _Role.Window: "#1e2227",
    _Role.WindowText: "#e6e8eb",
    _Role.Base: "#15181c",
    _Role.AlternateBase: "#23272d",
    _Role.ToolTipBase: "#2b3038",
    _Role.ToolTipText: "#e6e8eb",
    _Role.PlaceholderText: "#8b939e",
    _Role.Text: "#e6e8eb",
    _Role.Button: "#2a2f36",
    _Role.ButtonText: "#e6e8eb",
    _Role.BrightText: "#ff6b6b",
    _Role.Light: "#3a4048",
    _Role.Midlight: "#30353c",
    _Role.Mid: "#262a30",
    _Role.Dark: "#101215",
    _Role.Shadow: "#000000",
    _Role.Highlight: "#3d8ee8",
    _Role.HighlightedText: "#ffffff",
    _Role.Link: "#7ab4ff",
    _Role.LinkVisited: "#c29bff",
}


def palette_for(theme: str) -> QPalette:
    """The palette of ``theme`` (``"light"`` or ``"dark"``; anything else is light)."""
    colours = _DARK if theme == "dark" else _LIGHT
    palette = QPalette()
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    # Disabled widgets: text and icons fade towards the background.
    faded = QColor(colours[_Role.PlaceholderText])
    for role in (_Role.WindowText, _Role.Text, _Role.ButtonText, _Role.HighlightedText):
        palette.setColor(_Group.Disabled, role, faded)
    palette.setColor(_Group.Disabled, _Role.Highlight, QColor(colours[_Role.Mid]))
    return palette


def is_dark(palette: QPalette) -> bool:
    """Whether ``palette`` has a dark window background."""
    return palette.color(_Role.Window).lightness() < 128


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch ``app`` to the Fusion style with the palette of ``theme``."""
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None and app.style().name().lower() != "fusion":
        app.setStyle(fusion)
    app.setPalette(palette_for(theme))
    app.setProperty("stethos_theme", theme if theme in THEMES else "light")


def current_theme(app: QApplication) -> str:
    """The theme last applied with :func:`apply_theme` (``"light"`` before any)."""
    value = app.property("stethos_theme")
    return value if value in THEMES else "light"

"""Help ▸ Keyboard shortcuts: a table made from the actual actions of the menus."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


def _clean(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").replace("…", "").strip()


def shortcut_rows(menubar: QMenuBar) -> list[tuple[str, str, str]]:
    """``(menu, action, shortcuts)`` for every menu action with a shortcut, in menu order."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            if action.isSeparator():
                continue
            sub = action.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{path} ▸ {_clean(action.text())}")
                continue
            keys = [
                k.toString(QKeySequence.SequenceFormat.NativeText)
                for k in action.shortcuts()
                if not k.isEmpty()
            ]
            if keys:
                rows.append((path, _clean(action.text()), ", ".join(keys)))

    for action in menubar.actions():
        menu = action.menu()
        if isinstance(menu, QMenu):
            walk(menu, _clean(action.text()))
    return rows


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut of the menus, plus the mouse gestures of the viewer."""

    def __init__(self, menubar: QMenuBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle(self.tr("Keyboard shortcuts"))
        self.resize(640, 700)
        rows = shortcut_rows(menubar)
        mouse = [
            (self.tr("Mouse"), self.tr("Window / level"), self.tr("Right-drag")),
            (self.tr("Mouse"), self.tr("Pan"), self.tr("Middle-drag, or left-drag with Pan")),
            (self.tr("Mouse"), self.tr("Next / previous image"), self.tr("Wheel")),
            (self.tr("Mouse"), self.tr("Zoom"), self.tr("Ctrl+wheel (wheel on single images)")),
            (self.tr("Mouse"), self.tr("Fit to window"), self.tr("Double-click")),
            (self.tr("Mouse"), self.tr("Measure"), self.tr("Left-drag with a measuring tool")),
            (self.tr("Mouse"), self.tr("Cancel a measurement"), self.tr("Esc")),
        ]
        self.rows = rows + mouse
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(self.tr("Search"))
        self.filter.setClearButtonEnabled(True)
        self.table = QTableWidget(len(self.rows), 3)
        self.table.setObjectName("shortcuts_table")
        self.table.setHorizontalHeaderLabels([self.tr("Menu"), self.tr("Action"), self.tr("Keys")])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        for r, row in enumerate(self.rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self._on_filter_text_changed)

    def _on_filter_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        for r, row in enumerate(self.rows):
            self.table.setRowHidden(r, bool(needle) and not any(needle in t.lower() for t in row))

"""The DICOM tag browser: every data element of the file shown, searchable."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QTreeWidgetItemIterator,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobFailure, JobRunner
from engine.workflow import dataset_tree


class TagBrowser(QDialog):
    """A tree of a file's tags (sequences expandable) with a filter box."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tag_browser")
        self.setWindowTitle(self.tr("DICOM tags"))
        self.resize(900, 700)
        self.path: Path | None = None
        self.heading = QLabel("")
        self.heading.setWordWrap(True)
        self.filter = QLineEdit()
        self.filter.setObjectName("tag_filter")
        self.filter.setPlaceholderText(
            self.tr("Filter by tag, keyword or value (e.g. 0010, Spacing)")
        )
        self.filter.setClearButtonEnabled(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("tag_tree")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(
            [self.tr("Tag"), self.tr("Keyword"), self.tr("VR"), self.tr("Value")]
        )
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 170)
        self.tree.setColumnWidth(1, 240)
        self.tree.setColumnWidth(2, 50)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree, 1)
        layout.addWidget(buttons)
        self.jobs = JobRunner(self)
        self.jobs.succeeded.connect(self._on_jobs_succeeded)
        self.jobs.failed.connect(self._on_jobs_failed)
        self.filter.textChanged.connect(self.set_filter)

    def load(self, path: Path, frame_note: str = "") -> None:
        """Read the tags of ``path`` on a worker thread and show them."""
        self.path = Path(path)
        self.heading.setText(
            self.tr("Reading {0}…").format(self.path.name)
            + (f" {frame_note}" if frame_note else "")
        )
        self.tree.clear()
        self.jobs.submit(dataset_tree, self.path, name="tags")

    def set_nodes(self, nodes) -> None:
        """Fill the tree from :class:`engine.dicom.tags.TagNode` objects."""
        self.tree.clear()

        def add(parent, node) -> None:
            item = QTreeWidgetItem(parent, [node.tag, node.keyword, node.vr, node.value])
            item.setToolTip(1, node.name)
            item.setToolTip(3, node.value)
            for child in node.children:
                add(item, child)

        for node in nodes:
            add(self.tree, node)
        self.set_filter(self.filter.text())

    def visible_rows(self) -> list[tuple[str, str, str, str]]:
        """``(tag, keyword, VR, value)`` of every row the filter leaves visible."""
        rows: list[tuple[str, str, str, str]] = []
        it = QTreeWidgetItemIterator(self.tree)
        while it.value():
            item = it.value()
            if not item.isHidden():
                rows.append((item.text(0), item.text(1), item.text(2), item.text(3)))
            it += 1
        return rows

    @Slot(str)
    def set_filter(self, text: str) -> None:
        """Show the rows matching ``text`` (case-insensitive), their parents and children."""
        needle = text.strip().lower()

        def visit(item: QTreeWidgetItem, parent_matches: bool) -> bool:
            own = not needle or any(needle in item.text(c).lower() for c in range(4))
            # (an empty needle has matched already)
            own = own or needle in (item.toolTip(1) or "").lower()
            child_match = False
            for i in range(item.childCount()):
                child = item.child(i)
                if child is not None and visit(child, parent_matches or own):
                    child_match = True
            shown = own or child_match or parent_matches
            item.setHidden(not shown)
            if needle and child_match:
                item.setExpanded(True)
            return own or child_match

        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            if top is not None:
                visit(top, False)

    @Slot(object)
    def _on_jobs_succeeded(self, nodes) -> None:
        self.heading.setText(
            self.tr("{0} — {1} elements").format(str(self.path) if self.path else "", len(nodes))
        )
        self.set_nodes(nodes)

    @Slot(object)
    def _on_jobs_failed(self, failure: JobFailure) -> None:
        self.heading.setText(failure.user_message)

    def done(self, result: int) -> None:
        self.jobs.cancel()
        super().done(result)

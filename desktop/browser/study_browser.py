"""Patient → study → series tree with thumbnails, series details and unreadable files.

Scans come in as :class:`engine.dicom.ScanResult`; opening more files adds
to the tree (a series already listed is not added twice). Thumbnails are
made on a worker thread and appear one by one. Activating a series
(double-click or Enter) emits :attr:`StudyBrowser.series_activated`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, cast

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import JobRunner
from engine.workflow import SeriesRef, series_refs, series_thumbnails

if TYPE_CHECKING:  # engine.dicom (pydicom) loads after the window is shown
    from engine.dicom import ScanResult, Series

#: Thumbnail edge in pixels.
THUMB_SIZE = 64
#: Thumbnail side once a study list holds more than :data:`COMPACT_AFTER` series: a CT with
#: dozens of reconstructions must show at least 15 of them at 1080p.
COMPACT_THUMB_SIZE = 32
COMPACT_AFTER = 8
_REF = Qt.ItemDataRole.UserRole
_AI_ROW = Qt.ItemDataRole.UserRole + 1  # a row listing an earlier AI finding


def _date(value: str) -> str:
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


class StudyBrowser(QWidget):
    """The study browser dock's content."""

    series_activated = Signal(object)  # SeriesRef

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setObjectName("study_tree")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(
            [
                self.tr("Patient / study / series"),
                self.tr("Modality"),
                self.tr("Date"),
                self.tr("Images"),
            ]
        )
        self.tree.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        # The names take the width the dock has; the short columns take what they need. The
        # date is the study's (shown on the study row), so the series rows do not repeat it.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setColumnHidden(2, True)
        self.info = QLabel(self.tr("Open files, a folder or a DICOMDIR to list its studies."))
        self.info.setObjectName("series_info")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setMargin(4)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems_label = QLabel("")
        self.problems_label.setObjectName("problems_label")
        self.problems = QTreeWidget()
        self.problems.setObjectName("problem_list")
        self.problems.setColumnCount(2)
        self.problems.setHeaderLabels([self.tr("File"), self.tr("Problem")])
        self.problems.setRootIsDecorated(False)
        self.problems_box = QWidget()
        box = QVBoxLayout(self.problems_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.problems_label)
        box.addWidget(self.problems)
        self.problems_box.hide()

        self.info_scroll = QScrollArea()
        self.info_scroll.setWidgetResizable(True)
        self.info_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.info_scroll.setWidget(self.info)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.info_scroll)
        splitter.addWidget(self.problems_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setStretchFactor(2, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._series_items: dict[str, QTreeWidgetItem] = {}
        self._patients: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._studies: dict[str, QTreeWidgetItem] = {}
        self._thumbs: dict[str, QPixmap] = {}
        self._problem_paths: set[str] = set()
        self._current: str | None = None
        self.thumb_jobs = JobRunner(self)
        self.thumb_jobs.partial.connect(self._on_thumb_jobs_partial)

        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)

    # --- content --------------------------------------------------------------------
    def add_scan(self, scan: ScanResult) -> list[SeriesRef]:
        """Add a scan's patients, studies and series; returns the series that were new."""
        new: list[SeriesRef] = []
        for ref in series_refs(scan):
            uid = ref.series.series_instance_uid
            if uid in self._series_items:
                known = self._series_items[uid]
                old = known.data(0, _REF)
                if old is not None and len(ref.series.instances) > len(old.series.instances):
                    self._fill_series_item(known, ref)  # the series grew (still arriving)
                continue
            study_item = self._study_item(ref)
            item = QTreeWidgetItem(study_item)
            self._fill_series_item(item, ref)
            self._series_items[uid] = item
            new.append(ref)
        for path, message in scan.problems:
            key = str(path)
            if key in self._problem_paths:
                continue
            self._problem_paths.add(key)
            row = QTreeWidgetItem(self.problems, [path.name, message])
            row.setToolTip(0, key)
            row.setToolTip(1, message)
        n = self.problems.topLevelItemCount()
        self.problems_label.setText(
            self.tr("{0} file(s) could not be read:").format(n) if n else ""
        )
        self.problems_box.setVisible(n > 0)
        self.tree.expandAll()
        self._fit_rows()
        for column in range(1, 4):
            self.tree.resizeColumnToContents(column)
        if new:
            self.thumb_jobs.submit(
                series_thumbnails,
                [r.series for r in self.refs() if r.series.series_instance_uid not in self._thumbs],
                THUMB_SIZE,
                name="thumbnails",
                with_partial=True,
            )
        return new

    def clear(self) -> None:
        """Forget every study."""
        self.thumb_jobs.cancel()
        self.tree.clear()
        self.problems.clear()
        self.problems_box.hide()
        self._series_items.clear()
        self._patients.clear()
        self._studies.clear()
        self._thumbs.clear()
        self._problem_paths.clear()
        self._current = None
        self.info.setText("")
        self._fit_rows()

    def refs(self) -> list[SeriesRef]:
        """Every series listed, in tree order."""
        return [item.data(0, _REF) for item in self._series_items.values()]

    def series_item(self, uid: str) -> QTreeWidgetItem | None:
        """The tree row of a series."""
        return self._series_items.get(uid)

    def set_study_results(self, study_uid: str, lines: list[str]) -> bool:
        """List earlier AI findings (from the study's structured reports) under its study row.

        Returns ``False`` when the study is not listed (a study without images).
        """
        study_item = self._studies.get(study_uid)
        if study_item is None:
            return False
        for i in reversed(range(study_item.childCount())):
            child = study_item.child(i)
            if child is not None and child.data(0, _AI_ROW):
                study_item.removeChild(child)
        for line in lines:
            row = QTreeWidgetItem(study_item, [self.tr("AI result: {0}").format(line)])
            row.setData(0, _AI_ROW, True)
            row.setFirstColumnSpanned(True)
            row.setToolTip(0, line)
            row.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = QFont(row.font(0))
            font.setItalic(True)
            row.setFont(0, font)
        return True

    def study_results(self, study_uid: str) -> list[str]:
        """The AI finding rows listed under a study."""
        item = self._studies.get(study_uid)
        children = [item.child(i) for i in range(item.childCount())] if item is not None else []
        return [c.toolTip(0) for c in children if c is not None and c.data(0, _AI_ROW)]

    def problem_rows(self) -> list[tuple[str, str]]:
        """``(file name, message)`` of every file that could not be read."""
        items = (self.problems.topLevelItem(i) for i in range(self.problems.topLevelItemCount()))
        return [(item.text(0), item.text(1)) for item in items if item is not None]

    def thumbnail(self, uid: str) -> QPixmap | None:
        """The thumbnail of a series, once made."""
        return self._thumbs.get(uid)

    def mark_current(self, uid: str | None) -> None:
        """Show which series is in the viewer (bold) and select its row."""
        for key, item in self._series_items.items():
            font = QFont(item.font(0))
            font.setBold(key == uid)
            item.setFont(0, font)
        self._current = uid
        current = self._series_items.get(uid or "")
        if current is not None:
            self.tree.blockSignals(True)
            self.tree.setCurrentItem(current)
            self.tree.blockSignals(False)
            self._show_info(current.data(0, _REF))

    def activate(self, uid: str) -> None:
        """Open a series as if its row had been double-clicked."""
        item = self._series_items.get(uid)
        if item is not None:
            self._on_tree_item_activated(item, 0)

    @property
    def identity_hidden(self) -> bool:
        return getattr(self, "_identity_hidden", False)

    def set_identity_hidden(self, hidden: bool) -> None:
        """Show "Patient 1, 2, …" instead of names, IDs and birth dates (teaching, screenshots)."""
        self._identity_hidden = bool(hidden)
        for number, item in enumerate(self._patients.values(), start=1):
            self._apply_identity(item, number)

    def _apply_identity(self, item: QTreeWidgetItem, number: int) -> None:
        label, tooltip, born = item.data(0, Qt.ItemDataRole.UserRole)
        if self.identity_hidden:
            item.setText(0, self.tr("Patient {0}").format(number))
            item.setToolTip(0, "")
            item.setText(2, "")
        else:
            item.setText(0, label)
            item.setToolTip(0, tooltip)
            item.setText(2, born)

    # --- rows -------------------------------------------------------------------------
    def _study_item(self, ref: SeriesRef) -> QTreeWidgetItem:
        p, st = ref.patient, ref.study
        key = (p.patient_id, p.name)
        patient_item = self._patients.get(key)
        if patient_item is None:
            name = p.name.replace("^", " ").strip() or self.tr("(no name)")
            label = f"{name}  ({p.patient_id})" if p.patient_id else name
            patient_item = QTreeWidgetItem(self.tree, [label, "", _date(p.birth_date), ""])
            patient_item.setToolTip(
                0,
                self.tr("Patient ID {0}, born {1}, sex {2}").format(
                    p.patient_id or "—", _date(p.birth_date) or "—", p.sex or "—"
                ),
            )
            font = QFont(patient_item.font(0))
            font.setBold(True)
            patient_item.setFont(0, font)
            # Keep what identifies the patient, to restore it after hiding.
            patient_item.setData(
                0, Qt.ItemDataRole.UserRole, (label, patient_item.toolTip(0), patient_item.text(2))
            )
            self._patients[key] = patient_item
            # Patient and study rows use the whole width: their names are not cut short.
            patient_item.setFirstColumnSpanned(True)
            self._apply_identity(patient_item, len(self._patients))
        study_item = self._studies.get(st.study_instance_uid)
        if study_item is None:
            label = st.description or self.tr("(study without description)")
            if st.date:
                label = f"{label} · {_date(st.date)}"
            study_item = QTreeWidgetItem(patient_item, [label, "", _date(st.date), ""])
            study_item.setFirstColumnSpanned(True)
            if st.accession_number:
                study_item.setToolTip(0, self.tr("Accession {0}").format(st.accession_number))
            self._studies[st.study_instance_uid] = study_item
        return study_item

    def row_size(self) -> int:
        """The thumbnail side now: smaller once the list holds many series."""
        return THUMB_SIZE if len(self._series_items) <= COMPACT_AFTER else COMPACT_THUMB_SIZE

    def _fit_rows(self) -> None:
        size = self.row_size()
        self.tree.setIconSize(QSize(size, size))
        for item in self._series_items.values():
            item.setSizeHint(0, QSize(size, size + 4))

    def _fill_series_item(self, item: QTreeWidgetItem, ref: SeriesRef) -> None:
        s = ref.series
        number = f"{s.series_number}: " if s.series_number is not None else ""
        label = number + (s.description or self.tr("(series without description)"))
        item.setText(0, label)
        item.setText(1, s.modality)
        item.setText(2, _date(ref.study.date))
        item.setText(3, str(s.n_images))
        item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setData(0, _REF, ref)
        item.setSizeHint(0, QSize(self.row_size(), self.row_size() + 4))
        item.setToolTip(0, label)  # the whole name, where the column cuts it short
        if s.problems:
            item.setToolTip(0, "\n".join([label, *s.problems]))
            item.setForeground(1, Qt.GlobalColor.darkYellow)
            item.setText(1, s.modality + " ⚠")

    def series_info_html(self, ref: SeriesRef) -> str:
        """The series details shown under the tree (HTML)."""
        s: Series = ref.series
        esc = html.escape
        rows = [
            (self.tr("Series"), esc(s.label)),
            (
                self.tr("Study"),
                esc(ref.study.description or "—") + " " + esc(_date(ref.study.date)),
            ),
        ]
        if s.shape:
            rows.append((self.tr("Size"), f"{s.shape[1]} × {s.shape[0]}"))
        rows.append((self.tr("Images"), str(s.n_images)))
        rows.append((self.tr("Ordered by"), esc(s.ordered_by)))
        if s.slice_spacing:
            rows.append((self.tr("Slice spacing"), f"{s.slice_spacing:.3g} mm"))
        if s.spacing.spacing:
            rows.append(
                (
                    self.tr("Pixel spacing"),
                    f"{s.spacing.spacing[0]:g} × {s.spacing.spacing[1]:g} mm",
                )
            )
        rows.append((self.tr("Measurements"), esc(s.spacing.note)))
        body = "".join(f"<tr><td><b>{k}</b>&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        out = f"<table>{body}</table>"
        flags = [
            (s.has_gaps, self.tr("gaps between slices")),
            (s.non_uniform_spacing, self.tr("non-uniform slice spacing")),
            (s.mixed_orientations, self.tr("mixed orientations")),
            (s.duplicate_instances > 0, self.tr("duplicate images")),
            (s.inconsistent_pixel_spacing, self.tr("inconsistent pixel spacing")),
            (s.mixed_sizes, self.tr("mixed image sizes")),
        ]
        found = [text for on, text in flags if on]
        if found or s.problems:
            items = "".join(f"<li>{esc(p)}</li>" for p in s.problems)
            out += (
                f"<p style='color:#d9822b'><b>{self.tr('Check this series:')}</b> "
                f"{esc(', '.join(found))}</p><ul style='color:#d9822b'>{items}</ul>"
            )
        return out

    def _show_info(self, ref: SeriesRef | None) -> None:
        if ref is None:
            return
        self.info.setText(self.series_info_html(ref))

    # --- slots ---------------------------------------------------------------------------
    @Slot(QTreeWidgetItem, int)
    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        ref = item.data(0, _REF)
        if ref is not None:
            self.series_activated.emit(ref)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_tree_current_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if current is not None:
            self._show_info(current.data(0, _REF))

    @Slot(object)
    def _on_thumb_jobs_partial(self, payload: object) -> None:
        # series_thumbnails reports (series UID, thumbnail pixels)
        uid, pixels = cast("tuple[str, np.ndarray]", payload)
        item = self._series_items.get(uid)
        if item is None:
            return
        pixmap = _pixmap(pixels)
        self._thumbs[uid] = pixmap
        item.setIcon(0, QIcon(pixmap))


def _pixmap(pixels: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    if data.ndim == 3:
        image = QImage(
            data.data, data.shape[1], data.shape[0], data.shape[1] * 3, QImage.Format.Format_RGB888
        )
    else:
        image = QImage(
            data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8
        )
    return QPixmap.fromImage(image.copy())

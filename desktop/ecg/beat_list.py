"""The beats of an ECG analysis by class, as a model the beat list reads on demand.

A 24-hour Holter has over 100,000 beats. One ``QTreeWidgetItem`` each held
the interface for 2.6 s when its rhythm report arrived; this model builds
one array of beat indices per class and hands the view only the rows it
draws, so showing 110,000 beats costs about what 2,000 do.

Rows: one per class (``"V — Ventricular ectopic: 10198"``), in the order of
:data:`~desktop.ecg.paper.BEAT_CLASSES` and then any other label; under each,
its beats in time order (``"1:02:03.45  V"`` and the class probability).
:data:`BEAT_ROLE` holds a beat's index in the prediction (``None`` on a class
row).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractItemModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import QTreeView

from desktop.ecg.paper import BEAT_CLASSES, class_colour, class_name, format_time
from engine.workflow import Prediction

# The role holding a beat's index in the prediction (``None`` on a class row).
BEAT_ROLE = Qt.ItemDataRole.UserRole

_Index = QModelIndex | QPersistentModelIndex
# The invisible root (the default ``parent`` of Qt's model methods).
_ROOT = QModelIndex()
# The most beats a class may have to be listed expanded when a result arrives.
EXPAND_MAX_BEATS = 2000
# ``internalId`` of a class row; a beat row's is its class row + 1.
_CLASS_ROW = 0
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class BeatListModel(QAbstractItemModel):
    """Classes and their beats (two columns: beat, probability) of one prediction."""

    def __init__(self, headers: tuple[str, str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers = headers
        self._prediction: Prediction | None = None
        self._fs = 1.0
        self._groups: list[tuple[str, str, np.ndarray]] = []  # label, title, beat indices
        self._brushes: dict[str, QBrush] = {}

    # --- filling -------------------------------------------------------------------------
    def set_prediction(self, prediction: Prediction | None, fs: float) -> None:
        """Show the beats of ``prediction`` (``None``: none) at sampling rate ``fs``."""
        self.beginResetModel()
        self._prediction, self._fs, self._groups = prediction, float(fs) or 1.0, []
        if prediction is not None:
            labels = np.array([b.label for b in prediction.beats], dtype=object)
            counts = prediction.extra.get("beat_counts") or {}
            order = list(BEAT_CLASSES) + [c for c in counts if c not in BEAT_CLASSES]
            order += [c for c in dict.fromkeys(labels.tolist()) if c not in order]
            for c in order:
                members = np.flatnonzero(labels == c)
                n = int(counts.get(c, len(members)))
                title = QCoreApplication.translate("EcgPanel", "{0} — {1}: {2}").format(
                    c, class_name(c), n
                )
                self._groups.append((str(c), title, members))
        self.endResetModel()

    def clear(self) -> None:
        self.set_prediction(None, 1.0)

    # --- lookups -------------------------------------------------------------------------
    def class_rows(self) -> list[tuple[str, int]]:
        """Each class row's label and how many beats it lists."""
        return [(label, len(members)) for label, _, members in self._groups]

    def class_index(self, label: str) -> QModelIndex:
        """The row of class ``label`` (invalid when there is none)."""
        for row, (c, _, _) in enumerate(self._groups):
            if c == label:
                return self.createIndex(row, 0, _CLASS_ROW)
        return QModelIndex()

    def beat_index(self, index: int) -> QModelIndex:
        """The row of beat ``index`` of the prediction (invalid when it is not listed)."""
        if self._prediction is None or not 0 <= index < len(self._prediction.beats):
            return QModelIndex()
        label = self._prediction.beats[index].label
        for row, (c, _, members) in enumerate(self._groups):
            if c == label:
                k = int(np.searchsorted(members, index))
                if k < len(members) and members[k] == index:
                    return self.createIndex(k, 0, row + 1)
        return QModelIndex()

    # --- QAbstractItemModel ---------------------------------------------------------------
    # (The view calls these for every row of an expanded class when it lays the list out, so
    # they check bounds themselves instead of through ``hasIndex``'s calls back into Python.)
    def index(self, row: int, column: int, parent: _Index = _ROOT) -> QModelIndex:
        if not 0 <= column < 2 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _CLASS_ROW) if row < len(self._groups) else _ROOT
        group = parent.row()
        if parent.internalId() != _CLASS_ROW or row >= len(self._groups[group][2]):
            return QModelIndex()
        return self.createIndex(row, column, group + 1)

    def parent(self, child: _Index = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not child.isValid() or child.internalId() == _CLASS_ROW:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, _CLASS_ROW)

    def rowCount(self, parent: _Index = _ROOT) -> int:
        if not parent.isValid():
            return len(self._groups)
        if parent.internalId() == _CLASS_ROW and parent.column() == 0:
            return len(self._groups[parent.row()][2])
        return 0

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 2

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._headers[section] if 0 <= section < len(self._headers) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._prediction is None:
            return None
        group = index.internalId()
        if group == _CLASS_ROW:
            label, title, _ = self._groups[index.row()]
            if role == Qt.ItemDataRole.DisplayRole:
                return title if index.column() == 0 else ""
            if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
                return self._brush(label)
            return None
        label, _, members = self._groups[group - 1]
        number = int(members[index.row()])
        if role == BEAT_ROLE:
            return number
        if role == Qt.ItemDataRole.DisplayRole:
            beat = self._prediction.beats[number]
            if index.column() == 0:
                return f"{format_time(beat.sample / self._fs, 2)}  {beat.label}"
            return f"{beat.probabilities.get(beat.label, 0.0):.0%}"
        if role == Qt.ItemDataRole.ForegroundRole and index.column() == 0:
            return self._brush(label)
        return None

    def _brush(self, label: str) -> QBrush:
        if label not in self._brushes:
            self._brushes[label] = QBrush(class_colour(label))
        return self._brushes[label]


def show_beats(view: QTreeView, model: BeatListModel, prediction: Prediction, fs: float) -> None:
    """List the beats of ``prediction`` in ``view`` (showing ``model``), the rarer (ectopic)
    classes expanded: the ones a reader looks for first. A class of more than
    ``EXPAND_MAX_BEATS`` stays folded (a day's ventricular beats are read from the rhythm
    report; the view lays out every row of an expanded class, a fifth of a second for 10,000).
    """
    model.set_prediction(prediction, fs)
    # Sized to the class titles while all are folded (a beat's line is narrower; measuring
    # with classes expanded reads up to a thousand rows, a tenth of a second).
    view.resizeColumnToContents(0)
    for label, n in model.class_rows():
        expand = label != "N" and 0 < n <= EXPAND_MAX_BEATS
        view.setExpanded(model.class_index(label), expand)

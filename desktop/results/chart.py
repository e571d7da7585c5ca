"""Feature contributions as a sorted horizontal bar chart (custom-painted).

Bars right of the zero line push the result towards the model's positive
label, bars left of it away from it; the largest effect is at the top. Each
row names the finding and shows the patient's value with its unit. Findings
that were not recorded come after the recorded ones, with a hatched grey bar
(the effect of their absence) and "not recorded" in italics, so a missing
input never reads as a measured value with no effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QHelpEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from desktop.records.units import value_in_chosen_unit
from desktop.theme import is_dark
from engine.records import HEART_RECORD
from engine.workflow import Contribution

ROW_HEIGHT = 24
HEADER_HEIGHT = 26
AXIS_HEIGHT = 46


def positive_colour(dark: bool) -> QColor:
    return QColor("#ff7043" if dark else "#d84315")


def negative_colour(dark: bool) -> QColor:
    return QColor("#64b5f6" if dark else "#1565c0")


def missing_brush(text: QColor) -> QBrush:
    """Hatched grey: the bar of a finding that was not recorded."""
    colour = QColor(text)
    colour.setAlpha(140)
    return QBrush(colour, Qt.BrushStyle.BDiagPattern)


def translated_label(c: Contribution) -> str:
    """The finding's name in the interface language (record-form vocabulary)."""
    return QCoreApplication.translate("RecordForm", c.label)


def translated_value(c: Contribution, *, with_stored: bool = True) -> str:
    """The patient's value with its unit (or the chosen option) in the interface language.

    In the unit the record form takes it in; ``with_stored`` adds the stored value
    after it where that unit differs (``7.4 mmol/L (286 mg/dL)``).
    """
    if c.raw_value is not None and c.unit:
        spec = next((f for f in HEART_RECORD.fields if f.name == c.name), None)
        return value_in_chosen_unit(spec, c.raw_value, c.unit, with_stored=with_stored)
    return QCoreApplication.translate("RecordForm", c.value)


@dataclass(frozen=True)
class ChartRow:
    """One drawn bar: the finding, its value text and its contribution."""

    label: str
    value: str
    contribution: float
    missing: bool = False


_Columns = tuple[float, float, float, float, float]


class ContributionChart(QWidget):
    """Horizontal bars of per-feature contributions, largest |effect| first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contribution_chart")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.rows: list[ChartRow] = []
        self.positive_label = ""
        self.units = ""
        # (_columns for these rows at a width and font: every bar asks for them when painted)
        self._columns_memo: tuple[tuple[int, str], _Columns] | None = None

    def set_contributions(
        self, contributions: Sequence[Contribution], positive_label: str, units: str = ""
    ) -> None:
        """Show ``contributions`` (towards ``positive_label``, in ``units`` such as log-odds)."""
        ordered = sorted(contributions, key=lambda c: (c.missing, -abs(c.contribution)))
        self.rows = [
            ChartRow(
                translated_label(c),
                self.tr("not recorded") if c.missing else translated_value(c, with_stored=False),
                float(c.contribution),
                c.missing,
            )
            for c in ordered
        ]
        self._columns_memo = None
        self.positive_label = positive_label
        self.units = units
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, HEADER_HEIGHT + ROW_HEIGHT * max(1, len(self.rows)) + AXIS_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, self.sizeHint().height())

    # --- geometry ------------------------------------------------------------
    def _columns(self) -> _Columns:
        """x of the label column's right edge, the value column's width, the bar area's
        left and right ends, and of the zero line."""
        key = (self.width(), self.font().key())
        if self._columns_memo is not None and self._columns_memo[0] == key:
            return self._columns_memo[1]
        columns = self._measure_columns()
        self._columns_memo = (key, columns)
        return columns

    def _measure_columns(self) -> _Columns:
        metrics = QFontMetricsF(self.font())
        width = float(self.width())
        label_w = max((metrics.horizontalAdvance(r.label) for r in self.rows), default=0.0)
        value_w = max((metrics.horizontalAdvance(r.value) for r in self.rows), default=0.0)
        label_right = 4.0 + min(label_w + 8.0, width * 0.30)
        value_width = min(value_w + 8.0, width * 0.22)
        number_room = metrics.horizontalAdvance("+0.00") + 8.0
        bar_left = label_right + value_width + number_room
        bar_right = max(bar_left + 40.0, width - number_room)
        return label_right, value_width, bar_left, bar_right, (bar_left + bar_right) / 2.0

    def extent(self) -> float:
        """The contribution shown at each end of the scale (a rounded maximum)."""
        biggest = max((abs(r.contribution) for r in self.rows), default=0.0)
        if biggest <= 0:
            return 1.0
        step = 10 ** math.floor(math.log10(biggest))
        for m in (1, 2, 2.5, 5, 10):
            if biggest <= m * step:
                return m * step
        return 10 * step

    def zero_x(self) -> float:
        return self._columns()[4]

    def bar_rect(self, row: int) -> QRectF:
        """Pixels of row ``row``'s bar (from the zero line towards its sign)."""
        _, _, bar_left, bar_right, zero = self._columns()
        half = (bar_right - bar_left) / 2.0
        length = self.rows[row].contribution / self.extent() * half
        top = HEADER_HEIGHT + row * ROW_HEIGHT + 4
        height = ROW_HEIGHT - 8
        return QRectF(min(zero, zero + length), top, abs(length), height)

    def row_at(self, y: float) -> int | None:
        """The row under pixel row ``y`` (``None`` outside the bars)."""
        row = int((y - HEADER_HEIGHT) // ROW_HEIGHT)
        return row if y >= HEADER_HEIGHT and 0 <= row < len(self.rows) else None

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            row = self.row_at(event.pos().y())
            if row is None:
                QToolTip.hideText()
            else:
                r = self.rows[row]
                QToolTip.showText(
                    event.globalPos(), f"{r.label}: {r.value} ({r.contribution:+.3f})", self
                )
            return True
        return super().event(event)

    # --- painting ------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        dark = is_dark(self.palette())
        text = self.palette().windowText().color()
        pos, neg = positive_colour(dark), negative_colour(dark)
        label_right, value_width, bar_left, bar_right, zero = self._columns()
        metrics = painter.fontMetrics()
        # Legend.
        x = 4.0
        for colour, words in (
            (pos, self.tr("towards {0}").format(self.positive_label)),
            (neg, self.tr("away from {0}").format(self.positive_label)),
        ):
            painter.fillRect(QRectF(x, 7, 12, 12), colour)
            painter.setPen(text)
            painter.drawText(QPointF(x + 16, 18), words)
            x += 16 + metrics.horizontalAdvance(words) + 18
        if any(r.missing for r in self.rows):
            words = self.tr("not recorded (effect of its absence)")
            painter.fillRect(QRectF(x, 7, 12, 12), missing_brush(text))
            painter.setPen(text)
            painter.drawText(QPointF(x + 16, 18), words)
        if not self.rows:
            painter.setPen(text)
            painter.drawText(QPointF(4, HEADER_HEIGHT + 16), self.tr("No contributions."))
            painter.end()
            return
        value_font = QFont(self.font())
        for i, row in enumerate(self.rows):
            top = HEADER_HEIGHT + i * ROW_HEIGHT
            if i % 2:
                band = QColor(self.palette().alternateBase().color())
                painter.fillRect(QRectF(0, top, self.width(), ROW_HEIGHT), band)
            painter.setPen(text)
            painter.setFont(self.font())
            label = metrics.elidedText(row.label, Qt.TextElideMode.ElideRight, int(label_right - 8))
            painter.drawText(
                QRectF(4, top, label_right - 4, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, label
            )
            value_font.setItalic(row.missing)
            painter.setFont(value_font)
            muted = QColor(text)
            muted.setAlpha(170)
            painter.setPen(muted)
            value = metrics.elidedText(row.value, Qt.TextElideMode.ElideRight, int(value_width - 8))
            painter.drawText(
                QRectF(label_right + 4, top, value_width - 4, ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                value,
            )
            rect = self.bar_rect(i)
            if row.missing:
                painter.fillRect(rect, missing_brush(text))
            else:
                painter.fillRect(rect, pos if row.contribution > 0 else neg)
            number = f"{row.contribution:+.2f}"
            painter.setPen(text)
            if row.contribution >= 0:
                painter.drawText(
                    QRectF(rect.right() + 3, top, 60, ROW_HEIGHT),
                    Qt.AlignmentFlag.AlignVCenter,
                    number,
                )
            else:
                painter.drawText(
                    QRectF(rect.left() - 63, top, 60, ROW_HEIGHT),
                    Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                    number,
                )
        # Zero line and scale.
        bottom = HEADER_HEIGHT + len(self.rows) * ROW_HEIGHT
        pen = QPen(text)
        pen.setWidth(1)
        painter.setPen(pen)
        painter.drawLine(QPointF(zero, HEADER_HEIGHT), QPointF(zero, bottom + 4))
        painter.drawLine(QPointF(bar_left, bottom + 4), QPointF(bar_right, bottom + 4))
        extent = self.extent()
        ticks: tuple[float, ...] = (-extent, -extent / 2, 0.0, extent / 2, extent)
        if bar_right - bar_left < 8 * metrics.horizontalAdvance("+0.0"):
            ticks = (-extent, 0.0, extent)
        for tick in ticks:
            x = zero + tick / extent * (bar_right - bar_left) / 2.0
            painter.drawLine(QPointF(x, bottom + 4), QPointF(x, bottom + 8))
            label = f"{tick:+g}" if tick else "0"
            w = metrics.horizontalAdvance(label)
            painter.drawText(QPointF(x - w / 2, bottom + 8 + metrics.ascent()), label)
        if self.units:
            caption = self.tr("Effect ({0})").format(self.units)
            painter.drawText(
                QPointF(bar_left, bottom + 10 + metrics.ascent() + metrics.height()), caption
            )
        painter.end()

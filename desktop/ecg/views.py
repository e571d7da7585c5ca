"""ECG views on real-millimetre paper: the 12-lead print and the scrolling strips.

Both views share :class:`EcgPaper`: the scale (screen DPI × calibration,
speed, gain), the caliper (left-drag: Δt in ms with the heart rate it
implies, and Δ amplitude in mV), beat labels coloured by class, a
highlighted beat, and attribution shading on the analysed lead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QSizePolicy, QWidget

from desktop.ecg.paper import (
    RHYTHM_S,
    RIGHT_PAD_MM,
    TWELVE_LEAD_COLUMNS,
    Cell,
    PaperColours,
    PaperScale,
    calibration_pulse,
    class_colour,
    draw_grid,
    format_time,
    paper_colours,
    scale_for,
    trace_polygon,
    twelve_lead_cells,
)
from engine.ecg import Signal as EcgSignal
from engine.workflow import BeatResult

#: Half-width of the band drawn behind the highlighted beat (seconds).
HIGHLIGHT_HALF_S = 0.2
#: The zoom range a 12-lead print is fitted to its view within.
FIT_ZOOM = (0.6, 2.5)


@dataclass(frozen=True)
class CaliperReading:
    """What the caliper measures between its two ends."""

    dt_ms: float
    dv_mv: float

    @property
    def heart_rate_bpm(self) -> float | None:
        """The rate whose RR interval is ``dt_ms`` (``None`` for a zero interval)."""
        return 60000.0 / abs(self.dt_ms) if abs(self.dt_ms) > 1e-9 else None


@dataclass(frozen=True)
class DrawnBeat:
    """A beat label painted at ``position`` (widget pixels) in the last paint."""

    index: int
    label: str
    position: QPointF


class EcgPaper(QWidget):
    """Base of the ECG views: scale, caliper, beats, attribution.

    Signals: ``caliper_changed(object)`` with a :class:`CaliperReading` or
    ``None``; ``scale_changed()``.
    """

    caliper_changed = Signal(object)
    scale_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.signal: EcgSignal | None = None
        self.speed_mm_s = 25.0
        self.gain_mm_mv = 10.0
        self.calibration = 1.0
        #: On-screen enlargement of the paper (1 = true size at the screen's dpi); a
        #: 12-lead print is fitted to its view. Calipers measure in paper mm whatever it is.
        self.zoom = 1.0
        self._dpi_override: tuple[float, float] | None = None
        self.beats: tuple[BeatResult, ...] = ()
        self._beat_times = np.zeros(0)
        self.beat_lead: int | None = None
        self.highlighted_beat: int | None = None
        self.attribution: np.ndarray | None = None
        self._attribution_scale = 1.0
        self.attribution_visible = True
        self._caliper: tuple[QPointF, QPointF] | None = None
        self._dragging = False
        self.drawn_beats: list[DrawnBeat] = []
        #: Rhythm episodes shaded on the paper: ``(start_s, end_s, label)``.
        self.episodes: tuple[tuple[float, float, str], ...] = ()
        #: Irregular RR intervals the rhythm model's explanation names: ``(start_s, end_s, change)``.
        self.rr_marks: tuple[tuple[float, float, float], ...] = ()

    # --- scale -------------------------------------------------------------
    def dpi(self) -> tuple[float, float]:
        """Physical dots per inch used (device-independent pixels, as Qt paints)."""
        if self._dpi_override is not None:
            return self._dpi_override
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return 96.0, 96.0
        return screen.physicalDotsPerInchX(), screen.physicalDotsPerInchY()

    def set_dpi(self, dpi_x: float | None, dpi_y: float | None = None) -> None:
        """Use ``dpi_x`` × ``dpi_y`` instead of the screen's (``None``: the screen's again)."""
        self._dpi_override = None if dpi_x is None else (float(dpi_x), float(dpi_y or dpi_x))
        self._on_scale_changed()

    def scale(self) -> PaperScale:
        dpi_x, dpi_y = self.dpi()
        z = self.zoom
        return scale_for(dpi_x * z, dpi_y * z, self.speed_mm_s, self.gain_mm_mv, self.calibration)

    def set_zoom(self, zoom: float) -> None:
        if abs(zoom - self.zoom) > 1e-3:
            self.zoom = float(zoom)
            self._on_scale_changed()

    def set_speed(self, mm_s: float) -> None:
        self.speed_mm_s = float(mm_s)
        self._on_scale_changed()

    def set_gain(self, mm_mv: float) -> None:
        self.gain_mm_mv = float(mm_mv)
        self._on_scale_changed()

    def set_calibration(self, factor: float) -> None:
        self.calibration = float(factor)
        self._on_scale_changed()

    def _on_scale_changed(self) -> None:
        self.clear_caliper()
        self.updateGeometry()
        self.scale_changed.emit()
        self.update()

    def colours(self) -> PaperColours:
        return paper_colours(self.palette())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.update()
        super().changeEvent(event)

    # --- content -------------------------------------------------------------
    def set_signal(self, signal: EcgSignal | None) -> None:
        self.signal = signal
        self.episodes = ()
        self.rr_marks = ()
        self.set_beats((), None)
        self.set_attribution(None, None)
        self.clear_caliper()
        self.updateGeometry()
        self.update()

    def set_beats(self, beats: tuple[BeatResult, ...], lead_index: int | None) -> None:
        """Label ``beats`` (source sample positions) above lead ``lead_index``."""
        self.beats = tuple(beats)
        fs = self.signal.fs if self.signal is not None else 1.0
        samples = np.fromiter((b.sample for b in self.beats), np.int64, len(self.beats))
        self._beat_times = samples / fs
        self.beat_lead = lead_index
        self.highlighted_beat = None
        self.update()

    def set_attribution(self, values: np.ndarray | None, lead_index: int | None) -> None:
        """Shade lead ``lead_index`` by ``|values|`` (one value per source sample)."""
        if values is None or lead_index is None:
            self.attribution = None
        else:
            magnitude = np.abs(np.nan_to_num(np.asarray(values, dtype=np.float32)))
            self.attribution = magnitude
            top = float(np.percentile(magnitude, 99.5)) if magnitude.size else 0.0
            self._attribution_scale = top if top > 0 else 1.0
            self.beat_lead = lead_index
        self.update()

    def set_episodes(self, episodes: tuple[tuple[float, float, str], ...]) -> None:
        """Shade rhythm episodes (seconds from the start, with their label) across the leads."""
        self.episodes = tuple(episodes)
        self.update()

    def _draw_episodes(self, painter: QPainter, t0: float, t1: float, x0: float, band: QRectF,
                       s, colours) -> None:  # fmt: skip
        """Each episode in view as a translucent band with its label at the top."""
        fill = QColor(colours.text)
        fill.setAlpha(28)
        for start, end, label in self.episodes:
            if end <= t0 or start >= t1:
                continue
            left = x0 + (max(start, t0) - t0) * s.px_per_s
            right = x0 + (min(end, t1) - t0) * s.px_per_s
            painter.fillRect(QRectF(left, band.top(), right - left, band.height()), fill)
            painter.setPen(colours.text)
            painter.drawText(QPointF(left + 3, band.top() + 2.5 * s.px_per_mm_y), label)

    def set_rr_marks(self, marks: tuple[tuple[float, float, float], ...]) -> None:
        """Shade RR intervals ``(start_s, end_s, change)`` on the analysed lead with attributions."""
        self.rr_marks = tuple(marks)
        self.update()

    def _draw_rr_marks(self, painter: QPainter, t0: float, t1: float, x0: float, band: QRectF,
                       baseline: float, s, colours) -> None:  # fmt: skip
        """Each irregular RR interval in view: a faint column and a bar 5–7 mm under the trace,
        more opaque the larger its change (a change of half the median RR or more: full)."""
        if not self.attribution_visible:
            return
        bar_top = min(baseline + 5 * s.px_per_mm_y, band.bottom() - 2 * s.px_per_mm_y)
        for start, end, change in self.rr_marks:
            if end <= t0 or start >= t1:
                continue
            level = min(abs(change) / 0.5, 1.0)
            left = x0 + (max(start, t0) - t0) * s.px_per_s
            right = x0 + (min(end, t1) - t0) * s.px_per_s
            fill = QColor(colours.attribution)
            fill.setAlpha(round(10 + 25 * level))
            painter.fillRect(QRectF(left, band.top(), right - left, band.height()), fill)
            fill.setAlpha(round(90 + 165 * level))
            painter.fillRect(QRectF(left + 1, bar_top, right - left - 2, 2 * s.px_per_mm_y), fill)

    def set_attribution_visible(self, visible: bool) -> None:
        self.attribution_visible = bool(visible)
        self.update()

    def highlight_beat(self, index: int | None) -> None:
        self.highlighted_beat = index
        self.update()

    # --- caliper -------------------------------------------------------------
    def caliper_reading(self) -> CaliperReading | None:
        """The caliper's interval and amplitude, or ``None`` when none is drawn."""
        if self._caliper is None:
            return None
        a, b = self._caliper
        s = self.scale()
        return CaliperReading(
            dt_ms=(b.x() - a.x()) / s.px_per_s * 1000.0,
            dv_mv=(a.y() - b.y()) / s.px_per_mv,
        )

    def clear_caliper(self) -> None:
        if self._caliper is not None:
            self._caliper = None
            self.caliper_changed.emit(None)
            self.update()

    def set_caliper(self, start: QPointF, end: QPointF) -> None:
        self._caliper = (QPointF(start), QPointF(end))
        self.caliper_changed.emit(self.caliper_reading())
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            p = event.position()
            self.set_caliper(p, p)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._dragging and self._caliper is not None:
            self.set_caliper(self._caliper[0], event.position())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._dragging:
            self._dragging = False
            start = self._caliper[0] if self._caliper is not None else event.position()
            end = event.position()
            if (end - start).manhattanLength() < 2:
                self.clear_caliper()  # a click without a drag removes the caliper
            else:
                self.set_caliper(start, end)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.clear_caliper()
            return
        super().keyPressEvent(event)

    # --- painting helpers ------------------------------------------------------
    def _draw_trace(
        self,
        painter: QPainter,
        lead_index: int,
        t0: float,
        t1: float,
        x0: float,
        baseline_y: float,
        scale: PaperScale,
        colours: PaperColours,
    ) -> None:
        assert self.signal is not None
        pen = QPen(colours.trace)
        pen.setWidthF(1.2)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        polygon = trace_polygon(
            self.signal.data[lead_index], self.signal.fs, t0, t1, x0, baseline_y, scale
        )
        painter.drawPolyline(polygon)

    def _draw_pulse(self, painter: QPainter, x0: float, baseline_y: float, scale, colours) -> None:
        pen = QPen(colours.trace)
        pen.setWidthF(1.2)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(calibration_pulse(x0, baseline_y, scale))

    def _draw_label(self, painter: QPainter, text: str, x: float, y: float, colours) -> None:
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(colours.text)
        painter.drawText(QPointF(x, y), text)

    def _draw_attribution(
        self,
        painter: QPainter,
        t0: float,
        t1: float,
        x0: float,
        band: QRectF,
        scale: PaperScale,
        colours: PaperColours,
    ) -> None:
        """A translucent band over ``band`` whose opacity follows |attribution|."""
        if self.attribution is None or not self.attribution_visible or self.signal is None:
            return
        width = math.ceil((t1 - t0) * scale.px_per_s)
        if width <= 0:
            return
        level = column_maxima(self.attribution, self.signal.fs, t0, scale.px_per_s, width)
        level = np.clip(level / self._attribution_scale, 0.0, 1.0)
        rgba = np.zeros((1, width, 4), dtype=np.uint8)
        c = colours.attribution
        # QImage.Format_ARGB32 in memory is B, G, R, A on little-endian machines.
        rgba[0, :, 0], rgba[0, :, 1], rgba[0, :, 2] = c.blue(), c.green(), c.red()
        rgba[0, :, 3] = np.round(level * 150).astype(np.uint8)
        image = QImage(rgba.data, width, 1, width * 4, QImage.Format.Format_ARGB32)
        target = QRectF(x0, band.top(), width, band.height())
        painter.drawImage(target, image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied))

    def _draw_beats(
        self,
        painter: QPainter,
        t0: float,
        t1: float,
        x0: float,
        y: float,
        scale: PaperScale,
        colours: PaperColours,
        band: QRectF | None = None,
    ) -> None:
        """Class letters above the beats between ``t0`` and ``t1`` (and the highlight)."""
        if not self.beats:
            return
        lo, hi = np.searchsorted(self._beat_times, [t0, t1])
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(9, round(3.0 * scale.px_per_mm_y)))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        if self.highlighted_beat is not None and lo <= self.highlighted_beat < hi and band:
            t = self._beat_times[self.highlighted_beat]
            x = x0 + (t - t0) * scale.px_per_s
            half = HIGHLIGHT_HALF_S * scale.px_per_s
            painter.fillRect(
                QRectF(x - half, band.top(), 2 * half, band.height()), colours.highlight
            )
        for i in range(int(lo), int(hi)):
            beat = self.beats[i]
            x = x0 + (self._beat_times[i] - t0) * scale.px_per_s
            colour = class_colour(beat.label)
            painter.setPen(colour)
            w = metrics.horizontalAdvance(beat.label)
            painter.drawText(QPointF(x - w / 2, y), beat.label)
            if i == self.highlighted_beat:
                pen = QPen(colour)
                pen.setWidthF(2.0)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                r = metrics.height() * 0.75
                painter.drawEllipse(QPointF(x, y - metrics.ascent() / 2.5), r, r)
            self.drawn_beats.append(DrawnBeat(i, beat.label, QPointF(x, y)))

    def _draw_caliper(self, painter: QPainter, colours: PaperColours) -> None:
        reading = self.caliper_reading()
        if self._caliper is None or reading is None:
            return
        a, b = self._caliper
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pen = QPen(colours.caliper)
        pen.setWidthF(1.5)
        painter.setPen(pen)
        top, bottom = 0.0, float(self.height())
        painter.drawLine(QPointF(a.x(), top), QPointF(a.x(), bottom))
        painter.drawLine(QPointF(b.x(), top), QPointF(b.x(), bottom))
        dashed = QPen(colours.caliper)
        dashed.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(dashed)
        painter.drawLine(QPointF(a.x(), a.y()), QPointF(b.x(), a.y()))
        painter.drawLine(
            QPointF(min(a.x(), b.x()) - 6, b.y()), QPointF(max(a.x(), b.x()) + 6, b.y())
        )
        text = caliper_text(reading)
        metrics = painter.fontMetrics()
        box = QRectF(
            max(a.x(), b.x()) + 6, min(a.y(), b.y()) - metrics.height() - 6,
            metrics.horizontalAdvance(text) + 10, metrics.height() + 6,
        )  # fmt: skip
        if box.right() > self.width():
            box.moveRight(min(a.x(), b.x()) - 6)
        if box.top() < 0:
            box.moveTop(0)
        back = QColor(colours.background)
        back.setAlpha(230)
        painter.setBrush(QBrush(back))
        painter.setPen(QPen(colours.caliper))
        painter.drawRect(box)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def column_maxima(
    values: np.ndarray, fs: float, t0: float, px_per_s: float, width: int
) -> np.ndarray:
    """Largest of ``values`` (one per sample) under each of ``width`` pixel columns from ``t0``.

    A column narrower than a sample takes the sample it falls on; columns
    outside the record are 0.
    """
    n = len(values)
    if n == 0 or width <= 0:
        return np.zeros(max(width, 0))
    edges = np.floor((t0 + np.arange(width + 1) / px_per_s) * fs).astype(np.int64)
    start = edges[:-1]
    inside = (start >= 0) & (start < n)
    s = np.clip(start, 0, n - 1)
    e = np.clip(np.maximum(edges[1:], s + 1), s + 1, n)
    padded = np.append(np.asarray(values, dtype=np.float64), 0.0)
    maxima = np.maximum.reduceat(padded, np.ravel(np.column_stack([s, e])))[::2]
    return np.where(inside, maxima, 0.0)


def caliper_text(reading: CaliperReading) -> str:
    """``Δt 800 ms (75 bpm) · ΔV 1.20 mV`` in the interface language."""
    from PySide6.QtCore import QCoreApplication

    rate = reading.heart_rate_bpm
    text = QCoreApplication.translate("EcgPaper", "Δt {0:.0f} ms").format(abs(reading.dt_ms))
    if rate is not None:
        text += " " + QCoreApplication.translate("EcgPaper", "({0:.0f} bpm)").format(rate)
    text += " · " + QCoreApplication.translate("EcgPaper", "ΔV {0:+.2f} mV").format(reading.dv_mv)
    return text


class TwelveLeadView(EcgPaper):
    """The conventional 12-lead print: 3 rows × 4 columns of 2.5 s, plus a 10 s rhythm strip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.start_s = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_start(self, seconds: float) -> None:
        """Show the 10 s beginning at ``seconds``."""
        limit = max(0.0, (self.signal.duration_s if self.signal else 0.0) - RHYTHM_S)
        self.start_s = min(max(0.0, float(seconds)), limit)
        self.update()

    def set_signal(self, signal: EcgSignal | None) -> None:
        self.start_s = 0.0
        super().set_signal(signal)

    def cells(self) -> list[Cell]:
        leads = self.signal.leads if self.signal is not None else ()
        return twelve_lead_cells(tuple(leads), self.start_s)

    def paper_size_mm(self) -> tuple[float, float]:
        s = self.scale()
        rows = len(TWELVE_LEAD_COLUMNS[0]) + 1
        return s.margin_mm + RHYTHM_S * s.speed_mm_s + RIGHT_PAD_MM, rows * s.row_mm

    def sizeHint(self) -> QSize:
        w, h = self.paper_size_mm()
        s = self.scale()
        return QSize(math.ceil(w * s.px_per_mm_x) + 1, math.ceil(h * s.px_per_mm_y) + 1)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def fit_to(self, width: int, height: int) -> None:
        """Zoom the print so that all of it shows in ``width`` × ``height`` pixels (a zoom
        within :data:`FIT_ZOOM`; below its lower bound the view scrolls)."""
        natural = self.sizeHint()
        nat_w, nat_h = natural.width() / self.zoom, natural.height() / self.zoom
        if nat_w <= 0 or nat_h <= 0 or width <= 0 or height <= 0:
            return
        fit = min(width / nat_w, height / nat_h) * 0.995
        self.set_zoom(min(max(fit, FIT_ZOOM[0]), FIT_ZOOM[1]))

    def cell_rect(self, cell: Cell) -> QRectF:
        """Pixels of ``cell``'s trace area (from its start time to its end, one row high)."""
        s = self.scale()
        x = (s.margin_mm + (cell.t0 - self.start_s) * s.speed_mm_s) * s.px_per_mm_x
        width = (cell.t1 - cell.t0) * s.px_per_s
        return QRectF(x, cell.row * s.row_mm * s.px_per_mm_y, width, s.row_mm * s.px_per_mm_y)

    def row_baseline(self, row: int) -> float:
        s = self.scale()
        return (row * s.row_mm + s.baseline_mm) * s.px_per_mm_y

    def x_for_time(self, seconds: float) -> float:
        """Pixel column of ``seconds`` on the rhythm strip."""
        s = self.scale()
        return (s.margin_mm + (seconds - self.start_s) * s.speed_mm_s) * s.px_per_mm_x

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        s = self.scale()
        colours = self.colours()
        draw_grid(painter, QRectF(self.rect()), s, colours)
        self.drawn_beats = []
        if self.signal is None:
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        label_pad = 1.0 * s.px_per_mm_x
        for row in range(len(TWELVE_LEAD_COLUMNS[0]) + 1):
            self._draw_pulse(painter, 0.0, self.row_baseline(row), s, colours)
        for cell in self.cells():
            rect = self.cell_rect(cell)
            baseline = self.row_baseline(cell.row)
            if cell.lead_index is not None:
                if cell.lead_index == self.beat_lead:
                    self._draw_attribution(painter, cell.t0, cell.t1, rect.left(), rect, s, colours)
                self._draw_trace(
                    painter, cell.lead_index, cell.t0, cell.t1, rect.left(), baseline, s, colours
                )
            label = cell.lead if cell.lead_index is not None else f"{cell.lead} —"
            self._draw_label(
                painter, label, rect.left() + label_pad, rect.top() + 4 * s.px_per_mm_y, colours
            )
            if cell.column > 0 and not cell.is_rhythm:
                pen = QPen(colours.trace)
                pen.setWidthF(1.2)
                painter.setPen(pen)
                painter.drawLine(
                    QPointF(rect.left(), baseline - 2.5 * s.px_per_mm_y),
                    QPointF(rect.left(), baseline + 2.5 * s.px_per_mm_y),
                )
            if cell.is_rhythm:
                self._draw_beats(
                    painter, cell.t0, cell.t1, rect.left(),
                    rect.top() + 3.5 * s.px_per_mm_y, s, colours, band=rect,
                )  # fmt: skip
        self._draw_caliper(painter, colours)
        painter.end()


class StripView(EcgPaper):
    """Every lead of a long record, one row each, scrolled through time.

    ``position_s`` is the time at the left edge of the traces; the visible
    duration follows the widget's width. Signals: ``position_changed(float)``
    and ``range_changed()`` (duration or visible span changed).
    """

    position_changed = Signal(float)
    range_changed = Signal()

    #: Height of the time axis under the rows (mm).
    AXIS_MM = 5.0

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position_s = 0.0
        # Rows share the height the view is given (at least the paper's row height each):
        # a two-lead Holter fills the screen, and tall beats are not clipped.
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.MinimumExpanding)
        self.scale_changed.connect(self.range_changed)

    def set_signal(self, signal: EcgSignal | None) -> None:
        self.position_s = 0.0
        super().set_signal(signal)
        self.range_changed.emit()
        self.position_changed.emit(0.0)

    def rows(self) -> int:
        return self.signal.n_leads if self.signal is not None else 1

    def sizeHint(self) -> QSize:
        s = self.scale()
        height = (self.rows() * s.row_mm + self.AXIS_MM) * s.px_per_mm_y
        return QSize(800, math.ceil(height) + 1)

    def minimumSizeHint(self) -> QSize:
        hint = self.sizeHint()
        return QSize(200, hint.height())

    def trace_left(self) -> float:
        s = self.scale()
        return s.margin_mm * s.px_per_mm_x

    def visible_s(self) -> float:
        """Seconds of signal that fit in the current width."""
        s = self.scale()
        return max(
            0.0, (self.width() - self.trace_left() - RIGHT_PAD_MM * s.px_per_mm_x) / s.px_per_s
        )

    def max_position_s(self) -> float:
        duration = self.signal.duration_s if self.signal is not None else 0.0
        return max(0.0, duration - self.visible_s())

    def set_position(self, seconds: float) -> None:
        """Scroll so that ``seconds`` is at the left edge of the traces (clamped)."""
        value = min(max(0.0, float(seconds)), self.max_position_s())
        if value != self.position_s:
            self.position_s = value
            self.update()
            self.position_changed.emit(value)

    def center_on(self, seconds: float) -> None:
        self.set_position(seconds - self.visible_s() / 2.0)

    def x_for_time(self, seconds: float) -> float:
        """Pixel column of ``seconds``."""
        return self.trace_left() + (seconds - self.position_s) * self.scale().px_per_s

    def time_for_x(self, x: float) -> float:
        return self.position_s + (x - self.trace_left()) / self.scale().px_per_s

    def row_mm(self) -> float:
        """Height of one lead's row (mm): the paper's row height, or more to fill the view."""
        s = self.scale()
        available = self.height() / s.px_per_mm_y - self.AXIS_MM
        return max(s.row_mm, available / self.rows())

    def row_rect(self, row: int) -> QRectF:
        s = self.scale()
        r = self.row_mm()
        return QRectF(0, row * r * s.px_per_mm_y, self.width(), r * s.px_per_mm_y)

    def row_baseline(self, row: int) -> float:
        """The lead's zero line: the paper's baseline, moved down by half the extra height."""
        s = self.scale()
        r = self.row_mm()
        return (row * r + s.baseline_mm + (r - s.row_mm) / 2.0) * s.px_per_mm_y

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.position_s > self.max_position_s():
            self.set_position(self.max_position_s())
        self.range_changed.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        steps = (delta.x() or delta.y()) / 120.0
        if steps:
            self.set_position(self.position_s - steps * max(1.0, self.visible_s() / 5.0))
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event) -> None:
        step = max(1.0, self.visible_s() / 5.0)
        if event.key() == Qt.Key.Key_Right:
            self.set_position(self.position_s + step)
        elif event.key() == Qt.Key.Key_Left:
            self.set_position(self.position_s - step)
        elif event.key() == Qt.Key.Key_PageDown:
            self.set_position(self.position_s + self.visible_s())
        elif event.key() == Qt.Key.Key_PageUp:
            self.set_position(self.position_s - self.visible_s())
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        s = self.scale()
        colours = self.colours()
        draw_grid(painter, QRectF(self.rect()), s, colours)
        self.drawn_beats = []
        if self.signal is None:
            painter.end()
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        t0 = self.position_s
        t1 = t0 + self.visible_s()
        x0 = self.trace_left()
        if self.episodes:
            last = self.row_rect(self.rows() - 1)
            self._draw_episodes(painter, t0, t1, x0,
                                QRectF(x0, 0, last.right() - x0, last.bottom()), s, colours)  # fmt: skip
        for row in range(self.rows()):
            rect = self.row_rect(row)
            baseline = self.row_baseline(row)
            band = QRectF(x0, rect.top(), rect.right() - x0, rect.height())
            self._draw_pulse(painter, 0.0, baseline, s, colours)
            if row == self.beat_lead:
                self._draw_attribution(painter, t0, t1, x0, band, s, colours)
                self._draw_rr_marks(painter, t0, t1, x0, band, baseline, s, colours)
            self._draw_trace(painter, row, t0, t1, x0, baseline, s, colours)
            # The label sits where it does on paper, relative to the trace (not the row top).
            self._draw_label(
                painter, self.signal.leads[row], x0 + 1.0 * s.px_per_mm_x,
                baseline - (s.baseline_mm - 4) * s.px_per_mm_y, colours,
            )  # fmt: skip
        if self.beats:
            row = self.beat_lead if self.beat_lead is not None else 0
            rect = self.row_rect(row)
            everything = QRectF(x0, 0, rect.right() - x0, self.rows() * rect.height())
            top = self.row_baseline(row) - (s.baseline_mm - 3.5) * s.px_per_mm_y
            self._draw_beats(painter, t0, t1, x0, top, s, colours, band=everything)
        self._draw_axis(painter, t0, t1, x0, s, colours)
        self._draw_caliper(painter, colours)
        painter.end()

    def _draw_axis(self, painter: QPainter, t0: float, t1: float, x0: float, s, colours) -> None:
        y = (self.rows() * self.row_mm() + self.AXIS_MM * 0.8) * s.px_per_mm_y
        font = QFont(self.font())
        font.setPixelSize(max(9, round(2.8 * s.px_per_mm_y)))
        painter.setFont(font)
        painter.setPen(colours.text)
        step = 1.0 if s.speed_mm_s >= 25 else 2.0
        first = math.ceil(t0 / step) * step
        t = first
        while t <= t1:
            x = x0 + (t - t0) * s.px_per_s
            painter.drawText(QPointF(x + 2, y), format_time(t))
            painter.drawLine(QPointF(x, y - 3 * s.px_per_mm_y), QPointF(x, y + 1))
            t += step

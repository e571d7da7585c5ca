"""ECG paper: scale in real millimetres, grid, calibration pulse, the 12-lead layout.

Everything here is geometry in millimetres and seconds; the views turn it
into pixels with the screen's physical DPI (times the user's calibration
factor), so 25 mm/s on screen is 25 mm/s with a ruler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QLineF, QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen, QPolygonF

from desktop.theme import is_dark

MM_PER_INCH = 25.4
#: Calibration pulse: 1 mV for 200 ms, drawn at the start of every row.
CAL_PULSE_MV = 1.0
CAL_PULSE_S = 0.2
#: Flat paper before and after the pulse (mm).
CAL_PAD_MM = 2.5
#: Empty paper after the last sample of a row (mm).
RIGHT_PAD_MM = 5.0
#: The conventional 12-lead print: four columns of 2.5 s, three rows, and a rhythm strip.
TWELVE_LEAD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("I", "II", "III"),
    ("aVR", "aVL", "aVF"),
    ("V1", "V2", "V3"),
    ("V4", "V5", "V6"),
)
COLUMN_S = 2.5
RHYTHM_S = 10.0
RHYTHM_LEAD = "II"

#: AAMI EC57 beat classes, in the order the beat model reports them.
BEAT_CLASSES = ("N", "S", "V", "F", "Q")
#: One colour per class, readable on light and dark paper.
CLASS_COLOURS = {
    "N": "#43a047",
    "S": "#1e88e5",
    "V": "#e53935",
    "F": "#fb8c00",
    "Q": "#8e24aa",
}


def class_name(label: str) -> str:
    """The clinical name of an AAMI class letter, in the interface language."""
    names = {
        "N": QCoreApplication.translate("BeatClasses", "Normal"),
        "S": QCoreApplication.translate("BeatClasses", "Supraventricular ectopic"),
        "V": QCoreApplication.translate("BeatClasses", "Ventricular ectopic"),
        "F": QCoreApplication.translate("BeatClasses", "Fusion"),
        "Q": QCoreApplication.translate("BeatClasses", "Unclassifiable"),
    }
    return names.get(label, label)


def class_colour(label: str) -> QColor:
    """The colour beats of class ``label`` are drawn in."""
    return QColor(CLASS_COLOURS.get(label, "#757575"))


@dataclass(frozen=True)
class PaperColours:
    """Colours of the paper, its grid and the trace."""

    background: QColor
    minor: QColor
    major: QColor
    trace: QColor
    text: QColor
    attribution: QColor
    highlight: QColor
    caliper: QColor


def paper_colours(palette: QPalette) -> PaperColours:
    """Classic pink paper with a black trace, or dark paper with a light trace."""
    if is_dark(palette):
        return PaperColours(
            background=QColor("#14171a"),
            minor=QColor("#2d2224"),
            major=QColor("#5c3036"),
            trace=QColor("#e8efe8"),
            text=QColor("#c9d1d9"),
            attribution=QColor("#ffb300"),
            highlight=QColor(61, 142, 232, 70),
            caliper=QColor("#4fc3f7"),
        )
    return PaperColours(
        background=QColor("#fffafa"),
        minor=QColor("#f6d2d2"),
        major=QColor("#e08a8a"),
        trace=QColor("#000000"),
        text=QColor("#333333"),
        attribution=QColor("#ff6f00"),
        highlight=QColor(31, 111, 209, 50),
        caliper=QColor("#0d47a1"),
    )


@dataclass(frozen=True)
class PaperScale:
    """Pixels per millimetre on this screen and the paper's speed and gain."""

    px_per_mm_x: float
    px_per_mm_y: float
    speed_mm_s: float = 25.0
    gain_mm_mv: float = 10.0

    @property
    def px_per_s(self) -> float:
        """Horizontal pixels per second of signal."""
        return self.px_per_mm_x * self.speed_mm_s

    @property
    def px_per_mv(self) -> float:
        """Vertical pixels per millivolt."""
        return self.px_per_mm_y * self.gain_mm_mv

    @property
    def margin_mm(self) -> float:
        """Width of the calibration-pulse area at the start of each row."""
        return CAL_PAD_MM + CAL_PULSE_S * self.speed_mm_s + CAL_PAD_MM

    @property
    def row_mm(self) -> float:
        """Height of one row of trace: 3 mV of signal, at least 20 mm, whole 5 mm squares."""
        return max(20.0, 5.0 * math.ceil(3.0 * self.gain_mm_mv / 5.0))

    @property
    def baseline_mm(self) -> float:
        """Distance of a row's 0 mV line below the row's top, on a major grid line."""
        return 5.0 * round(self.row_mm * 2.0 / 3.0 / 5.0)


def scale_for(
    dpi_x: float, dpi_y: float, speed_mm_s: float, gain_mm_mv: float, calibration: float = 1.0
) -> PaperScale:
    """The :class:`PaperScale` of a screen with ``dpi_x`` × ``dpi_y`` physical dots per inch."""
    return PaperScale(
        px_per_mm_x=dpi_x / MM_PER_INCH * calibration,
        px_per_mm_y=dpi_y / MM_PER_INCH * calibration,
        speed_mm_s=speed_mm_s,
        gain_mm_mv=gain_mm_mv,
    )


def draw_grid(painter: QPainter, rect: QRectF, scale: PaperScale, colours: PaperColours) -> None:
    """Fill ``rect`` with paper: 1 mm minor and 5 mm major lines from ``rect``'s top-left."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.fillRect(rect, colours.background)
    for spacing_mm, colour, skip in ((1.0, colours.minor, 5), (5.0, colours.major, 0)):
        step_x, step_y = scale.px_per_mm_x * spacing_mm, scale.px_per_mm_y * spacing_mm
        if min(step_x, step_y) < 3.0:
            continue  # too dense to be useful on this screen
        pen = QPen(colour)
        pen.setWidth(0)  # cosmetic: one device pixel
        painter.setPen(pen)
        lines: list[QLineF] = []
        n_x = int(rect.width() / step_x) + 1
        for i in range(n_x):
            if skip and i % skip == 0:
                continue
            x = rect.left() + i * step_x
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
        n_y = int(rect.height() / step_y) + 1
        for j in range(n_y):
            if skip and j % skip == 0:
                continue
            y = rect.top() + j * step_y
            lines.append(QLineF(rect.left(), y, rect.right(), y))
        painter.drawLines(lines)
    painter.restore()


def calibration_pulse(x0: float, baseline_y: float, scale: PaperScale) -> QPainterPath:
    """The 1 mV × 200 ms calibration pulse starting at ``x0`` on a row's 0 mV line."""
    pad = CAL_PAD_MM * scale.px_per_mm_x
    width = CAL_PULSE_S * scale.px_per_s
    top = baseline_y - CAL_PULSE_MV * scale.px_per_mv
    path = QPainterPath(QPointF(x0, baseline_y))
    path.lineTo(x0 + pad, baseline_y)
    path.lineTo(x0 + pad, top)
    path.lineTo(x0 + pad + width, top)
    path.lineTo(x0 + pad + width, baseline_y)
    path.lineTo(x0 + 2 * pad + width, baseline_y)
    return path


def trace_polygon(
    samples: np.ndarray,
    fs: float,
    t0: float,
    t1: float,
    x0: float,
    baseline_y: float,
    scale: PaperScale,
) -> QPolygonF:
    """The trace of ``samples`` (mV) between ``t0`` and ``t1`` seconds, starting at pixel ``x0``.

    When several samples fall on one pixel column only that column's minimum
    and maximum are kept, which draws the same picture with far fewer points.
    """
    n = len(samples)
    i0 = max(0, math.floor(t0 * fs))
    i1 = min(n, math.ceil(t1 * fs) + 1)
    if i1 - i0 < 2:
        return QPolygonF()
    seg = np.nan_to_num(np.asarray(samples[i0:i1], dtype=np.float64))
    rel = (np.arange(i0, i1, dtype=np.float64) / fs - t0) * scale.px_per_s
    if fs / scale.px_per_s > 2.0:
        cols = np.floor(rel).astype(np.int64)
        starts = np.r_[0, np.flatnonzero(np.diff(cols)) + 1]
        lo = np.minimum.reduceat(seg, starts)
        hi = np.maximum.reduceat(seg, starts)
        xs = np.repeat(rel[starts], 2)
        ys = np.empty(2 * len(starts))
        ys[0::2], ys[1::2] = lo, hi
        rel, seg = xs, ys
    xs = (x0 + rel).tolist()
    ys = (baseline_y - seg * scale.px_per_mv).tolist()
    return QPolygonF([QPointF(x, y) for x, y in zip(xs, ys, strict=True)])


@dataclass(frozen=True)
class Cell:
    """One panel of a printed layout: a lead shown from ``t0`` to ``t1`` seconds.

    ``lead_index`` is ``None`` when the record has no such lead.
    """

    lead: str
    lead_index: int | None
    row: int
    column: int
    t0: float
    t1: float

    @property
    def is_rhythm(self) -> bool:
        return self.row == len(TWELVE_LEAD_COLUMNS[0])


def twelve_lead_cells(leads: tuple[str, ...], start_s: float = 0.0) -> list[Cell]:
    """The standard 3 × 4 layout (columns of 2.5 s) plus a 10 s lead II rhythm strip.

    Row 0 shows I, aVR, V1, V4; row 1 II, aVL, V2, V5; row 2 III, aVF, V3,
    V6; row 3 is the rhythm strip. Column ``c`` covers
    ``start_s + 2.5 c`` to ``start_s + 2.5 (c + 1)`` seconds.
    """
    lower = [name.lower() for name in leads]

    def index(name: str) -> int | None:
        if name.lower() in lower:
            return lower.index(name.lower())
        if name == RHYTHM_LEAD and "mlii" in lower:
            return lower.index("mlii")
        return None

    cells = []
    for column, names in enumerate(TWELVE_LEAD_COLUMNS):
        t0 = start_s + column * COLUMN_S
        for row, name in enumerate(names):
            cells.append(Cell(name, index(name), row, column, t0, t0 + COLUMN_S))
    rhythm_row = len(TWELVE_LEAD_COLUMNS[0])
    cells.append(Cell(RHYTHM_LEAD, index(RHYTHM_LEAD), rhythm_row, 0, start_s, start_s + RHYTHM_S))
    return cells


def format_time(seconds: float, decimals: int = 0) -> str:
    """``m:ss`` (or ``h:mm:ss``), with ``decimals`` digits of seconds."""
    seconds = max(0.0, seconds)
    minutes, secs = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    width = 2 + (decimals + 1 if decimals else 0)
    text = f"{secs:0{width}.{decimals}f}"
    return f"{hours}:{minutes:02d}:{text}" if hours else f"{minutes}:{text}"

"""The rhythm report of an ECG: summary, heart-rate trend and events, as a clinician reads it.

Everything shown comes from a rhythm model's result (``extra["rhythm"]``,
the same block its JSON and the PDF report carry): the rhythm label, AF
episodes and burden, heart rate with the times of its minimum and maximum,
pauses, brady- and tachycardia, and the ectopy counted by the beat model the
report names. Clicking an event or the trend asks the ECG view to go there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.ecg.paper import format_time

_ROLE_TIME = Qt.ItemDataRole.UserRole + 1


translate = QCoreApplication.translate


def rhythm_name(label: str) -> str:
    """The rhythm class in plain words."""
    names = {
        "normal": translate("RhythmReport", "Normal sinus rhythm"),
        "AF": translate("RhythmReport", "Atrial fibrillation or flutter"),
        "other": translate("RhythmReport", "Another rhythm (not normal, not AF)"),
        "noisy": translate("RhythmReport", "Too noisy to classify"),
    }
    return names.get(label, label)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return translate("RhythmReport", "{0:.1f} h").format(seconds / 3600)
    if seconds >= 60:
        return translate("RhythmReport", "{0:.0f} min").format(seconds / 60)
    return translate("RhythmReport", "{0:.0f} s").format(seconds)


def summary_rows(label: str, r: dict[str, Any]) -> list[tuple[str, str]]:
    """``(what, value)`` rows of a rhythm report, most important first (panel and PDF)."""
    rows = [(translate("RhythmReport", "Rhythm"), rhythm_name(label))]
    episodes = r.get("episodes") or []
    af_s = sum(float(e["duration"]) for e in episodes)
    rows.append(
        (
            translate("RhythmReport", "AF burden"),
            translate("RhythmReport", "{0:.1f} % ({1} in {2} episode(s))").format(
                100 * float(r.get("af_burden", 0.0)), _duration(af_s), len(episodes)
            ),
        )
    )
    hr = r.get("heart_rate") or {}
    if hr.get("mean_bpm") is not None:
        rows.append(
            (
                translate("RhythmReport", "Heart rate"),
                translate(
                    "RhythmReport", "mean {0:.0f} bpm; min {1:.0f} at {2}; max {3:.0f} at {4}"
                ).format(
                    hr["mean_bpm"],
                    hr["min_bpm"],
                    format_time(hr["min_at"]),
                    hr["max_bpm"],
                    format_time(hr["max_at"]),
                ),
            )
        )
    pauses = str(len(r.get("pauses") or []))
    possible = r.get("unconfirmed_pauses") or []
    if possible:  # another lead shows beats in them: listed, not counted
        leads = ", ".join(dict.fromkeys(str(p.get("beats_on", "")) for p in possible))
        pauses = translate(
            "RhythmReport", "{0} (and {1} possible, not confirmed: lead {2} shows beats there)"
        ).format(pauses, len(possible), leads)
    rows.append((translate("RhythmReport", "Pauses > 2 s"), pauses))
    gaps = r.get("signal_gaps") or []
    if gaps:  # stretches with no signal (missing or flat): not pauses, not analysed
        rows.append(
            (
                translate("RhythmReport", "No signal"),
                translate("RhythmReport", "{0} in {1} stretch(es), not analysed").format(
                    _duration(sum(float(g["duration"]) for g in gaps)), len(gaps)
                ),
            )
        )
    rows.append(
        (
            translate("RhythmReport", "Bradycardia / tachycardia"),
            translate("RhythmReport", "{0} / {1} episode(s)").format(
                len(r.get("bradycardia") or []), len(r.get("tachycardia") or [])
            ),
        )
    )
    ectopy = r.get("ectopy")
    if ectopy:
        for key, what in (
            ("V", translate("RhythmReport", "Ventricular ectopy")),
            ("S", translate("RhythmReport", "Supraventricular ectopy")),
        ):
            e = ectopy[key]
            rows.append(
                (
                    what,
                    translate(
                        "RhythmReport",
                        "{0} beats ({1:.2f} %); couplets {2}; runs ≥ 3: {3}; bigeminy {4}; trigeminy {5}",
                    ).format(
                        e["count"],
                        100 * e["burden"],
                        e["couplets"],
                        e["runs"],
                        len(e["bigeminy"]),
                        len(e["trigeminy"]),
                    ),
                )
            )
        model = r.get("ectopy_model") or {}
        if model:
            rows.append(
                (
                    translate("RhythmReport", "Beats classified by"),
                    f"{model.get('id')} {model.get('version')}",
                )
            )
    else:
        rows.append(
            (
                translate("RhythmReport", "Ectopy"),
                str(r.get("ectopy_note") or translate("RhythmReport", "not counted")),
            )
        )
    rows.append(
        (
            translate("RhythmReport", "Analysed"),
            translate("RhythmReport", "{0}, lead {1}, {2} beats").format(
                _duration(float(r.get("analysed_s", 0.0))), r.get("lead", "?"), r.get("beats", 0)
            ),
        )
    )
    return rows


def irregular_rr_marks(r: dict[str, Any] | None) -> tuple[tuple[float, float, float], ...]:
    """``(start_s, end_s, change)`` of the explained stretch's irregular RR intervals (none: ())."""
    rows = ((r or {}).get("explanation") or {}).get("irregular_rr") or []
    return tuple((float(a), float(b), float(c)) for a, b, c in rows)


def events(r: dict[str, Any]) -> list[tuple[str, float, float]]:
    """``(what, start_s, end_s)`` of every event worth looking at, in time order."""
    out: list[tuple[str, float, float]] = []
    for e in r.get("episodes") or []:
        out.append((translate("RhythmReport", "AF episode"), float(e["start"]), float(e["end"])))
    explained = r.get("explanation") or {}
    if explained.get("irregular_rr"):  # the stretch whose features the result panel lists
        what = translate("RhythmReport", "Explained stretch ({0} irregular RR)")
        out.append(
            (what.format(len(explained["irregular_rr"])), explained["start"], explained["end"])
        )
    for g in r.get("signal_gaps") or []:  # not analysed: the file holds no signal there
        out.append((translate("RhythmReport", "No signal"), g["start"], g["end"]))
    for a, b in r.get("noise_like") or []:  # beats there are what the detector made of noise
        out.append((translate("RhythmReport", "Looks like noise"), float(a), float(b)))
    for key, what in (
        ("pauses", translate("RhythmReport", "Pause")),
        ("unconfirmed_pauses", translate("RhythmReport", "Possible pause (not confirmed)")),
        ("bradycardia", translate("RhythmReport", "Bradycardia")),
        ("tachycardia", translate("RhythmReport", "Tachycardia")),
    ):
        for e in r.get(key) or []:
            out.append((what, float(e["start"]), float(e["end"])))
    for key, e in (r.get("ectopy") or {}).items():
        for run in e.get("run_episodes", []):
            out.append(
                (
                    translate("RhythmReport", "{0} run").format(key),
                    float(run["start"]),
                    float(run["end"]),
                )
            )
        for name in ("bigeminy", "trigeminy"):
            for p in e.get(name, []):
                what = (
                    translate("RhythmReport", "{0} bigeminy")
                    if name == "bigeminy"
                    else translate("RhythmReport", "{0} trigeminy")
                )
                out.append((what.format(key), float(p["start"]), float(p["end"])))
    return sorted(out, key=lambda x: x[1])


class HeartRateTrend(QWidget):
    """The per-minute heart rate over the recording, AF episodes shaded; click to go there."""

    seek = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rhythm_hr_trend")
        self.trend: list[float | None] = []
        self.bin_s = 60.0
        self.duration_s = 0.0
        self.episodes: list[tuple[float, float]] = []
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(
            translate(
                "RhythmReport", "Heart rate per minute; AF episodes shaded. Click to go there."
            )
        )

    def sizeHint(self) -> QSize:
        return QSize(320, 110)

    def set_report(self, r: dict[str, Any] | None) -> None:
        hr = (r or {}).get("heart_rate") or {}
        self.trend = list(hr.get("trend") or [])
        self.bin_s = float(hr.get("bin_s", 60.0))
        self.duration_s = float((r or {}).get("analysed_s", 0.0))
        self.episodes = [
            (float(e["start"]), float(e["end"])) for e in (r or {}).get("episodes", [])
        ]
        self.update()

    def _plot(self) -> QRectF:
        return QRectF(34, 6, max(10, self.width() - 40), max(10, self.height() - 22))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        plot = self._plot()
        if self.duration_s > 0 and plot.left() <= event.position().x() <= plot.right():
            self.seek.emit((event.position().x() - plot.left()) / plot.width() * self.duration_s)
        super().mousePressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        text = pal.color(pal.ColorRole.WindowText)
        plot = self._plot()
        painter.fillRect(plot, pal.color(pal.ColorRole.Base))
        values = [v for v in self.trend if v is not None]
        if not values or self.duration_s <= 0:
            painter.setPen(text)
            painter.drawText(
                plot,
                Qt.AlignmentFlag.AlignCenter,
                translate("RhythmReport", "No heart-rate trend yet."),
            )
            painter.end()
            return
        lo = min(40.0, min(values) - 5)
        hi = max(120.0, max(values) + 5)

        def x_at(t: float) -> float:
            return plot.left() + t / self.duration_s * plot.width()

        def y_at(bpm: float) -> float:
            return plot.bottom() - (bpm - lo) / (hi - lo) * plot.height()

        shade = QColor(200, 60, 60, 60)
        for start, end in self.episodes:
            painter.fillRect(
                QRectF(x_at(start), plot.top(), max(1.0, x_at(end) - x_at(start)), plot.height()),
                shade,
            )
        painter.setPen(QPen(text, 1, Qt.PenStyle.DotLine))
        for bpm in (50.0, 100.0):
            painter.drawLine(QPointF(plot.left(), y_at(bpm)), QPointF(plot.right(), y_at(bpm)))
            painter.drawText(QPointF(2, y_at(bpm) + 4), f"{bpm:.0f}")
        line = pal.color(pal.ColorRole.Highlight)
        painter.setPen(QPen(line, 1.6))
        last: QPointF | None = None
        for i, v in enumerate(self.trend):
            if v is None:
                last = None
                continue
            point = QPointF(x_at(min(self.duration_s, (i + 0.5) * self.bin_s)), y_at(v))
            if last is not None:
                painter.drawLine(last, point)
            last = point
        if len(values) == 1:  # a recording under a minute: one value, drawn across it
            y = y_at(values[0])
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.drawText(QPointF(plot.left() + 4, y - 4), f"{values[0]:.0f}")
        painter.setPen(text)
        painter.drawText(QPointF(plot.left(), self.height() - 3), "0:00")
        end_text = format_time(self.duration_s)
        painter.drawText(QPointF(plot.right() - 8 * len(end_text), self.height() - 3), end_text)
        painter.drawText(QPointF(2, plot.top() + 8), translate("RhythmReport", "bpm"))
        painter.end()


class RhythmReportPanel(QWidget):
    """Summary table, heart-rate trend and the list of events of one rhythm result."""

    #: Go to this time (seconds from the start of the recording).
    seek = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rhythm_report_panel")
        self.report: dict[str, Any] | None = None
        self.summary = QLabel(
            translate(
                "RhythmReport", "Run “Rhythm report” to summarise the rhythm of this recording."
            )
        )
        self.summary.setObjectName("rhythm_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trend = HeartRateTrend()
        self.events = QTreeWidget()
        self.events.setObjectName("rhythm_events")
        self.events.setColumnCount(3)
        self.events.setHeaderLabels(
            [
                translate("RhythmReport", "Event"),
                translate("RhythmReport", "Start"),
                translate("RhythmReport", "Duration"),
            ]
        )
        self.events.setRootIsDecorated(False)
        self.events.setUniformRowHeights(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.trend)
        layout.addWidget(QLabel(translate("RhythmReport", "<b>Events</b> (click to go there)")))
        layout.addWidget(self.events, 1)
        self.trend.seek.connect(self.seek)
        self.events.currentItemChanged.connect(self._on_events_current_changed)

    def clear(self) -> None:
        self.report = None
        self.summary.setText(
            translate(
                "RhythmReport", "Run “Rhythm report” to summarise the rhythm of this recording."
            )
        )
        self.trend.set_report(None)
        self.events.clear()

    def show_report(self, label: str, r: dict[str, Any]) -> None:
        """Show a rhythm result's report (``extra["rhythm"]``) and its record-level ``label``."""
        self.report = r
        cells = "".join(
            f"<tr><td style='padding-right:8px'><b>{what}</b></td><td>{value}</td></tr>"
            for what, value in summary_rows(label, r)
        )
        self.summary.setText(f"<table>{cells}</table>")
        self.trend.set_report(r)
        self.events.clear()
        for what, start, end in events(r):
            item = QTreeWidgetItem([what, format_time(start), _duration(end - start)])
            item.setData(0, _ROLE_TIME, start)
            self.events.addTopLevelItem(item)
        for col in range(3):
            self.events.resizeColumnToContents(col)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_events_current_changed(self, current: QTreeWidgetItem | None, _) -> None:
        if current is not None:
            self.seek.emit(float(current.data(0, _ROLE_TIME)))

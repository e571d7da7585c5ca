"""The image view's measurement tools: distance, angle, rectangle and ellipse regions.

:class:`MeasureToolsMixin` is part of :class:`~desktop.viewer.image_view.ImageView`.
It owns the left-button tool, the measurements (vectors in image coordinates,
one frame each) and their cached values, and does their drawing, labels,
picking and the drawing interaction: press and drag draws a distance or a
region; an angle is dragged along its first arm, then its second arm follows
the mouse until the next click. Values come from :mod:`engine.dicom`
(:func:`~engine.dicom.distance`, :func:`~engine.dicom.angle_degrees`,
:func:`~engine.dicom.roi_stats`) with the frame's pixel spacing. Strings are
translated in the ``ImageView`` context, like the rest of the view.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from PySide6.QtCore import QCoreApplication, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
    QTransform,
)

from desktop.viewer.overlay_text import shadow_text
from engine.dicom import SPACING_PATIENT, RoiStats, angle_degrees, distance, roi_stats

if TYPE_CHECKING:
    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import QWidget

    from desktop.viewer.stack import ImageStack

    _ViewBase = QWidget
else:
    _ViewBase = object

#: A press and release closer than this (view pixels) is a click, not a drag.
CLICK_SLOP = 3.0
#: How close (view pixels) a click must be to a measurement to select it.
PICK_DISTANCE = 6.0

PAN, DISTANCE, ANGLE, RECTANGLE, ELLIPSE = "pan", "distance", "angle", "rectangle", "ellipse"
TOOLS = (PAN, DISTANCE, ANGLE, RECTANGLE, ELLIPSE)

_LINE = QColor(255, 214, 10)
_SELECTED = QColor(0, 220, 255)


@dataclass(frozen=True)
class Measurement:
    """A measurement drawn on one frame, in image coordinates ``(x, y)``.

    ``points``: two ends (distance), three points with the vertex in the
    middle (angle), or two opposite corners (rectangle, ellipse).
    """

    id: int
    kind: str
    frame: int
    points: tuple[tuple[float, float], ...]


class MeasureToolsMixin(_ViewBase):
    """Measurements of :class:`ImageView`: the tool, the list, values, drawing, mouse."""

    if TYPE_CHECKING:  # provided by ImageView and its other parts
        tool_changed: ClassVar[Signal]
        measurements_changed: ClassVar[Signal]
        selection_changed: ClassVar[Signal]
        _stack: ImageStack | None
        _frame: int

        def set_frame(self, index: int) -> None: ...
        def transform(self) -> QTransform: ...
        def _image_point(self, pos: QPointF) -> tuple[float, float]: ...
        def _pen(self, color: QColor, width: float) -> QPen: ...
        def _overlay_font(self, painter: QPainter) -> QFontMetricsF: ...

    _ids = itertools.count(1)

    def _init_measure_tools(self) -> None:
        self._tool = PAN
        self._measurements: list[Measurement] = []
        self._results: dict[int, float | RoiStats] = {}
        self._selected: int | None = None
        self._pending: Measurement | None = None
        self._angle_second_arm = False

    def _forget_measurements(self) -> None:
        """A new stack (or none): no measurements, no selection, nothing being drawn."""
        self._measurements.clear()
        self._results.clear()
        self._selected = None
        self._pending = None

    def _forget_values(self) -> None:
        """The pixels changed: measure again when asked."""
        self._results.clear()

    def _drop_pending(self) -> None:
        self._pending = None
        self._angle_second_arm = False

    # --- the tool and the list ------------------------------------------------------
    @property
    def tool(self) -> str:
        """What a left-drag does: ``pan``, ``distance``, ``angle``, ``rectangle``, ``ellipse``."""
        return self._tool

    def set_tool(self, tool: str) -> None:
        """Choose the left-button tool."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self._drop_pending()
        if tool != self._tool:
            self._tool = tool
            self.setCursor(
                Qt.CursorShape.ArrowCursor if tool == PAN else Qt.CursorShape.CrossCursor
            )
            self.tool_changed.emit(tool)
        self.update()

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """Every measurement of the stack, oldest first."""
        return tuple(self._measurements)

    def frame_measurements(self) -> list[Measurement]:
        """The measurements drawn on the frame shown."""
        return [m for m in self._measurements if m.frame == self._frame]

    def add_measurement(
        self,
        kind: str,
        points: Sequence[tuple[float, float]],
        frame: int | None = None,
    ) -> Measurement:
        """Add a measurement (image coordinates) and select it."""
        if kind not in TOOLS or kind == PAN:
            raise ValueError(f"unknown measurement kind {kind!r}")
        m = Measurement(
            id=next(self._ids),
            kind=kind,
            frame=self._frame if frame is None else frame,
            points=tuple((float(x), float(y)) for x, y in points),
        )
        self._measurements.append(m)
        self._selected = m.id
        self.update()
        self.measurements_changed.emit()
        self.selection_changed.emit(m.id)
        return m

    def remove_measurement(self, measurement_id: int) -> None:
        """Delete one measurement."""
        before = len(self._measurements)
        self._measurements = [m for m in self._measurements if m.id != measurement_id]
        self._results.pop(measurement_id, None)
        if self._selected == measurement_id:
            self._selected = None
        if len(self._measurements) != before:
            self.update()
            self.measurements_changed.emit()

    def remove_selected_measurement(self) -> None:
        """Delete the selected measurement (Del)."""
        if self._pending is not None:
            self.cancel_pending()
        elif self._selected is not None:
            self.remove_measurement(self._selected)

    def clear_measurements(self) -> None:
        """Delete every measurement."""
        if self._measurements:
            self._measurements.clear()
            self._results.clear()
            self._selected = None
            self.update()
            self.measurements_changed.emit()

    @property
    def selected_measurement(self) -> int | None:
        """Id of the selected measurement."""
        return self._selected

    def select_measurement(self, measurement_id: int | None) -> None:
        """Select a measurement, showing its frame."""
        self._selected = measurement_id
        m = self._find(measurement_id)
        if m is not None and m.frame != self._frame:
            self.set_frame(m.frame)
        self.update()
        self.selection_changed.emit(measurement_id if measurement_id is not None else 0)

    def cancel_pending(self) -> None:
        """Drop a measurement being drawn."""
        self._drop_pending()
        self.update()

    def _find(self, measurement_id: int | None) -> Measurement | None:
        return next((m for m in self._measurements if m.id == measurement_id), None)

    # --- values and labels ----------------------------------------------------------
    def spacing_for_measurement(self, frame: int) -> tuple[float, float] | None:
        """``(row, column)`` spacing in mm used to measure on ``frame`` (``None``: pixels)."""
        return self._stack.spacing(frame).spacing if self._stack is not None else None

    def measurement_value(self, m: Measurement) -> float | RoiStats | None:
        """Length (mm or px), angle (degrees) or region statistics of ``m``."""
        if m.id in self._results:
            return self._results[m.id]
        spacing = self.spacing_for_measurement(m.frame)
        value: float | RoiStats | None
        if m.kind == DISTANCE:
            value = distance(m.points[0], m.points[1], spacing)
        elif m.kind == ANGLE:
            value = angle_degrees(m.points[0], m.points[1], m.points[2], spacing)
        else:
            values = self._stack.values(m.frame) if self._stack is not None else None
            if values is None:
                return None  # still loading; not cached
            if values.ndim == 3:  # colour: statistics of the luminance
                values = values.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
            value = roi_stats(values, m.kind, (m.points[0], m.points[1]), spacing)
        self._results[m.id] = value
        return value

    def measurement_text(self, m: Measurement) -> str:
        """What the label of ``m`` says (units included)."""
        value = self.measurement_value(m)
        calibrated = self.spacing_for_measurement(m.frame) is not None
        if value is None:
            return QCoreApplication.translate("ImageView", "…")
        if not isinstance(value, RoiStats):  # a distance or an angle
            if m.kind == DISTANCE:
                unit = (
                    QCoreApplication.translate("ImageView", "mm")
                    if calibrated
                    else QCoreApplication.translate("ImageView", "px")
                )
                return f"{value:.1f} {unit}"
            return "—" if math.isnan(value) else f"{value:.1f}°"
        units = self._stack.info.units if self._stack is not None else ""
        suffix = f" {units}" if units else ""
        area_unit = (
            QCoreApplication.translate("ImageView", "mm²")
            if value.calibrated
            else QCoreApplication.translate("ImageView", "px²")
        )
        if value.n_pixels == 0:
            return QCoreApplication.translate("ImageView", "Area {0:.1f} {1} (no pixels)").format(
                value.area, area_unit
            )
        return QCoreApplication.translate(
            "ImageView", "Mean {0:.1f}{1}  SD {2:.1f}\nMin {3:.1f}  Max {4:.1f}\nArea {5:.1f} {6}"
        ).format(value.mean, suffix, value.sd, value.minimum, value.maximum, value.area, area_unit)

    def measurement_title(self, m: Measurement) -> str:
        """A short name of the measurement kind."""
        return {
            DISTANCE: QCoreApplication.translate("ImageView", "Distance"),
            ANGLE: QCoreApplication.translate("ImageView", "Angle"),
            RECTANGLE: QCoreApplication.translate("ImageView", "Rectangle"),
            ELLIPSE: QCoreApplication.translate("ImageView", "Ellipse"),
        }[m.kind]

    def calibration_warning(self) -> str:
        """A warning when measurements are not in the patient plane, else empty."""
        if self._stack is None:
            return ""
        info = self._stack.spacing(self._frame)
        if info.source == SPACING_PATIENT:
            return ""
        if info.source is None:
            return QCoreApplication.translate(
                "ImageView", "No pixel spacing in this image: measurements are in pixels."
            )
        if info.source.startswith("ImagerPixelSpacing/"):
            return QCoreApplication.translate(
                "ImageView",
                "Only Imager Pixel Spacing, corrected by the estimated magnification {0:g}: "
                "measurements are approximate.",
            ).format(info.magnification or 1.0)
        return QCoreApplication.translate(
            "ImageView",
            "Only Imager Pixel Spacing (at the detector) is known: anatomy is magnified, "
            "so measurements overestimate.",
        )

    def _calibration_note(self) -> str:
        """The calibration warning while measuring or when the frame has measurements."""
        warning = self.calibration_warning()
        if warning and (self._tool != PAN or self.frame_measurements()):
            return warning
        return ""

    # --- drawing ------------------------------------------------------------------------
    def _measurement_path(self, m: Measurement, transform: QTransform) -> QPainterPath:
        pts = [transform.map(QPointF(x, y)) for x, y in m.points]
        path = QPainterPath()
        if m.kind in (DISTANCE, ANGLE):
            path.addPolygon(QPolygonF(pts))
        else:
            (x0, y0), (x1, y1) = m.points
            shape = QPainterPath()
            rect = QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized()
            if m.kind == RECTANGLE:
                shape.addRect(rect)
            else:
                shape.addEllipse(rect)
            path = transform.map(shape)
        return path

    def _paint_measurements(self, painter: QPainter, transform: QTransform) -> None:
        shown = self.frame_measurements()
        if self._pending is not None:
            shown = [*shown, self._pending]
        if not shown:
            return
        metrics = self._overlay_font(painter)
        for m in shown:
            path = self._measurement_path(m, transform)
            color = _SELECTED if m.id == self._selected else _LINE
            for pen_color, width in ((QColor(0, 0, 0, 160), 3.0), (color, 1.5)):
                painter.setPen(self._pen(pen_color, width))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawPath(path)
            if m.kind in (DISTANCE, ANGLE):
                painter.setBrush(QBrush(color))
                painter.setPen(Qt.PenStyle.NoPen)
                for x, y in m.points:
                    painter.drawEllipse(transform.map(QPointF(x, y)), 2.5, 2.5)
            if (
                m.kind == ANGLE
                and len(m.points) == 3
                and m is self._pending
                and not self._angle_second_arm
            ):
                continue
            self._paint_label(painter, metrics, m, path, transform, color)

    def _paint_label(
        self,
        painter: QPainter,
        metrics: QFontMetricsF,
        m: Measurement,
        path: QPainterPath,
        transform: QTransform,
        color: QColor,
    ) -> None:
        text = self.measurement_text(m)
        anchor = path.boundingRect().topRight() + QPointF(6.0, 0.0)
        if m.kind == ANGLE:
            anchor = transform.map(QPointF(*m.points[1])) + QPointF(8.0, -4.0)
        lines = text.split("\n")
        width = max(metrics.horizontalAdvance(t) for t in lines) + 6
        height = metrics.height() * len(lines) + 4
        # keep the label inside the view (long lines reach the edges)
        x = min(max(anchor.x(), 4.0), self.width() - width - 4.0)
        y = min(max(anchor.y(), metrics.ascent() + 6.0), self.height() - height)
        box = QRectF(x - 3, y - metrics.ascent() - 2, width, height)
        painter.fillRect(box, QColor(0, 0, 0, 150))
        for i, t in enumerate(lines):
            shadow_text(painter, x, y + i * metrics.height(), t, color)

    def _pick(self, pos: QPointF) -> int | None:
        transform = self.transform()
        best, best_d = None, PICK_DISTANCE
        for m in self.frame_measurements():
            path = self._measurement_path(m, transform)
            if m.kind in (RECTANGLE, ELLIPSE) and path.contains(pos):
                return m.id
            d = _distance_to_path(path, pos)
            if d <= best_d:
                best, best_d = m.id, d
        return best

    # --- the mouse ----------------------------------------------------------------------
    def _drawing(self) -> bool:
        """Whether a measurement is being drawn."""
        return self._pending is not None

    def _measure_press(self, pos: QPointF) -> bool:
        """A left press: pick (pan tool), start a measurement, or finish an angle.

        True when the press finished an angle, so there is nothing to drag.
        """
        if self._tool == PAN:
            picked = self._pick(pos)
            if picked is not None or self._selected is not None:
                self.select_measurement(picked)
            return False
        p = self._image_point(pos)
        if self._tool == ANGLE and self._pending is not None and self._angle_second_arm:
            a, b, _ = self._pending.points
            self._drop_pending()
            self.add_measurement(ANGLE, (a, b, p))
            return True
        points = (p, p, p) if self._tool == ANGLE else (p, p)
        self._pending = Measurement(0, self._tool, self._frame, points)
        return False

    def _measure_hover(self, pos: QPointF) -> bool:
        """The mouse moved: an angle's second arm follows it. True when it did."""
        if self._pending is None or not self._angle_second_arm:
            return False
        a, b, _ = self._pending.points
        self._pending = Measurement(0, ANGLE, self._frame, (a, b, self._image_point(pos)))
        self.update()
        return True

    def _measure_drag(self, pos: QPointF) -> None:
        """A left drag moves the end of the measurement being drawn."""
        if self._pending is None:
            return
        p = self._image_point(pos)
        first = self._pending.points[0]
        points = (first, p, p) if self._pending.kind == ANGLE else (first, p)
        self._pending = Measurement(0, self._pending.kind, self._frame, points)
        self.update()

    def _measure_release(self, pos: QPointF, origin: QPointF | None) -> None:
        """A left release: add the measurement dragged, or start an angle's second arm."""
        pending = self._pending
        if pending is None or self._angle_second_arm:
            return
        dragged = _length(pos - (origin or pos))
        end = self._image_point(pos)
        if dragged < CLICK_SLOP:
            self._pending = None  # a click without a drag draws nothing
        elif pending.kind == ANGLE:
            self._pending = Measurement(0, ANGLE, self._frame, (pending.points[0], end, end))
            self._angle_second_arm = True
        else:
            self._pending = None
            self.add_measurement(pending.kind, (pending.points[0], end))
        self.update()


def _length(p: QPointF) -> float:
    return math.hypot(p.x(), p.y())


def _distance_to_path(path: QPainterPath, pos: QPointF) -> float:
    """Distance from ``pos`` to the nearest segment of a polygonal path (view pixels)."""
    best = math.inf
    for polygon in path.toSubpathPolygons():
        points = [polygon.at(i) for i in range(polygon.size())]
        for a, b in itertools.pairwise(points):
            ab = b - a
            denom = ab.x() ** 2 + ab.y() ** 2
            t = 0.0 if denom == 0 else max(0.0, min(1.0, QPointF.dotProduct(pos - a, ab) / denom))
            best = min(best, _length(pos - (a + ab * t)))
    return best

"""The 2-D image view: window/level, zoom, pan, rotate/flip, slices, cine,
measurements, corner overlays and the AI heat-map layer.

The view keeps the frames' modality values and renders them to 8 bits with
the engine's VOI pipeline (:meth:`ImageStack.render`) whenever the window or
the frame changes. Everything drawn on top (measurements, heat map, text)
is a separate layer: the source pixels and :meth:`ImageView.rendered` never
change because of it. Overlays are vectors in image coordinates mapped
through the view transform and drawn with cosmetic pens, so they follow
zoom, pan and rotation and stay sharp on high-DPI screens.

Mouse: right-drag window/level, middle-drag pan, left-drag the current tool
(pan, distance, angle, rectangle or ellipse region); wheel scrolls slices
(zooms on single images), Ctrl+wheel zooms; double-click fits.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.viewer.overlay import (
    TURBO_LUT,
    heatmap_rgba,
    outline_level,
    outline_segments,
    scale_bar,
    top_region,
)
from desktop.viewer.presets import Preset
from desktop.viewer.stack import ImageStack
from engine.dicom import (
    SPACING_PATIENT,
    DicomImage,
    RoiStats,
    Window,
    angle_degrees,
    distance,
    roi_stats,
)

ZOOM_STEP = 1.15
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0
#: Cine speed range in frames per second.
MIN_FPS, MAX_FPS = 1, 60
DEFAULT_FPS = 10
#: A press and release closer than this (view pixels) is a click, not a drag.
CLICK_SLOP = 3.0
#: How close (view pixels) a click must be to a measurement to select it.
PICK_DISTANCE = 6.0

PAN, DISTANCE, ANGLE, RECTANGLE, ELLIPSE = "pan", "distance", "angle", "rectangle", "ellipse"
TOOLS = (PAN, DISTANCE, ANGLE, RECTANGLE, ELLIPSE)

_TEXT = QColor(255, 230, 120)
_LINE = QColor(255, 214, 10)
_SELECTED = QColor(0, 220, 255)
_WARNING = QColor(255, 150, 40)


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


class ImageView(QWidget):
    """Shows one frame of an :class:`ImageStack` with its overlays."""

    window_changed = Signal(float, float)
    image_changed = Signal()
    frame_changed = Signal(int)
    view_changed = Signal()
    tool_changed = Signal(str)
    measurements_changed = Signal()
    selection_changed = Signal(int)
    heatmap_changed = Signal()
    cine_changed = Signal(bool)

    _ids = itertools.count(1)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 320)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMouseTracking(True)
        self._stack: ImageStack | None = None
        self._frame = 0
        self._window: Window | None = None
        self._invert = False
        self._rendered: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._pixmap: QPixmap | None = None
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)  # image coordinate at the view centre
        self._rotation = 0  # degrees clockwise: 0, 90, 180, 270
        self._flip_h = False
        self._flip_v = False
        self._drag_origin: QPointF | None = None
        self._drag_button = Qt.MouseButton.NoButton
        self._drag_start_window: Window | None = None
        self._drag_start_offset = QPointF()
        self._drag_start_inverse = QTransform()
        self._wl_step = 1.0
        self._wheel_rest = 0.0
        self._fitted = True  # refit on resize until the user zooms or pans
        self._tool = PAN
        self._measurements: list[Measurement] = []
        self._results: dict[int, float | RoiStats] = {}
        self._selected: int | None = None
        self._pending: Measurement | None = None
        self._angle_second_arm = False
        self._overlay_visible = True
        self._hide_identity = False
        self._heat: np.ndarray | None = None
        self._heat_frame = 0
        self._heat_image: QImage | None = None
        self._heat_rgba: np.ndarray | None = None
        self._heat_outline: np.ndarray | None = None
        self._heat_level = 0.5
        self._heat_visible = True
        self._heat_opacity = 0.5
        self._heat_title = ""
        self._loading_text = ""
        self._fps = DEFAULT_FPS
        self._cine = QTimer(self)
        self._cine.setInterval(round(1000 / self._fps))
        self._cine.timeout.connect(self._on_cine_timeout)
        self.placeholder = self.tr("Open a DICOM file (File ▸ Open) or drop it here.")

    # --- content -------------------------------------------------------------
    @property
    def stack(self) -> ImageStack | None:
        """The frames shown."""
        return self._stack

    @property
    def image(self) -> DicomImage | None:
        """The decoded file shown, when the stack is one file."""
        return self._stack.image if self._stack is not None else None

    @property
    def frame(self) -> int:
        """Index of the frame shown."""
        return self._frame

    @property
    def n_frames(self) -> int:
        """Frames (slices) in the stack."""
        return self._stack.n_frames if self._stack is not None else 0

    def set_image(self, image: DicomImage, frame: int = 0) -> None:
        """Show ``image`` with its own window, fitted to the view."""
        self.set_stack(ImageStack.from_image(image), frame)

    def set_stack(self, stack: ImageStack, frame: int = 0) -> None:
        """Show a new stack: its default window, fitted, no measurements or heat map."""
        self.stop_cine()
        self._stack = stack
        self._frame = min(max(frame, 0), stack.n_frames - 1)
        self._window = stack.default_window(self._frame)
        self._invert = False
        self._rotation, self._flip_h, self._flip_v = 0, False, False
        self._measurements.clear()
        self._results.clear()
        self._selected = None
        self._pending = None
        self._clear_heat()
        self._wl_step = self._window_step()
        self._render()
        self.fit_to_window()
        self.image_changed.emit()
        self.measurements_changed.emit()
        self.heatmap_changed.emit()
        self.frame_changed.emit(self._frame)
        if self._window is not None:
            self.window_changed.emit(self._window.center, self._window.width)

    def replace_stack(self, stack: ImageStack) -> None:
        """The same series, now complete: keep frame, window, view, measurements, heat map."""
        if self._stack is None or stack.n_frames != self._stack.n_frames:
            self.set_stack(stack)
            return
        self._stack = stack
        if self._window is None:
            self._window = stack.default_window(self._frame)
        self._results.clear()
        self._wl_step = self._window_step()
        self._render()
        self.update()
        self.image_changed.emit()
        self.measurements_changed.emit()

    def clear(self) -> None:
        """Show nothing."""
        self.stop_cine()
        self._stack = None
        self._rendered = None
        self._qimage = None
        self._pixmap = None
        self._measurements.clear()
        self._results.clear()
        self._selected = None
        self._pending = None
        self._clear_heat()
        self.update()
        self.image_changed.emit()
        self.measurements_changed.emit()
        self.heatmap_changed.emit()

    def rendered(self) -> np.ndarray | None:
        """The 8-bit pixels of the frame as shown (before zoom and overlays)."""
        return self._rendered

    def set_loading_text(self, text: str) -> None:
        """A short note drawn over the image while a series loads (empty: none)."""
        self._loading_text = text
        self.update()

    # --- frames -----------------------------------------------------------------
    def set_frame(self, index: int) -> None:
        """Show frame ``index`` (clamped to the stack)."""
        if self._stack is None:
            return
        index = min(max(int(index), 0), self._stack.n_frames - 1)
        if index == self._frame:
            return
        self._frame = index
        if self._window is None:
            self._window = self._stack.default_window(index)
        self._pending = None
        self._angle_second_arm = False
        self._render()
        self.update()
        self.frame_changed.emit(index)

    def step_frame(self, delta: int) -> None:
        """Move ``delta`` frames (clamped)."""
        self.set_frame(self._frame + delta)

    # --- cine -----------------------------------------------------------------------
    @property
    def fps(self) -> int:
        """Cine speed in frames per second."""
        return self._fps

    def set_fps(self, fps: int) -> None:
        """Set the cine speed (clamped to 1–60 frames per second)."""
        self._fps = int(min(max(fps, MIN_FPS), MAX_FPS))
        self._cine.setInterval(round(1000 / self._fps))

    @property
    def cine_running(self) -> bool:
        """Whether cine is playing."""
        return self._cine.isActive()

    def start_cine(self) -> None:
        """Play the frames in a loop."""
        if self.n_frames > 1 and not self._cine.isActive():
            self._cine.start()
            self.cine_changed.emit(True)

    def stop_cine(self) -> None:
        """Stop playing."""
        if self._cine.isActive():
            self._cine.stop()
            self.cine_changed.emit(False)

    def toggle_cine(self) -> None:
        """Play or stop."""
        if self.cine_running:
            self.stop_cine()
        else:
            self.start_cine()

    def _on_cine_timeout(self) -> None:
        if self.n_frames <= 1:
            self.stop_cine()
            return
        self.set_frame((self._frame + 1) % self.n_frames)

    # --- window ---------------------------------------------------------------------
    @property
    def window(self) -> Window | None:
        """The VOI window in modality units (``None`` for colour images)."""
        return self._window

    def set_window(self, center: float, width: float) -> None:
        """Set a window in modality units and re-render."""
        if self._stack is None or self._stack.is_color:
            return
        function = self._window.function if self._window else "LINEAR"
        if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            function = "LINEAR"  # a dragged VOI LUT becomes a linear window
        self._apply_window(Window(center=center, width=max(width, 1.0), function=function))

    def apply_preset(self, preset: Preset) -> None:
        """Use a preset's window (or VOI LUT) as it is."""
        if self._stack is None or self._stack.is_color:
            return
        self._apply_window(preset.window)

    def reset_window(self) -> None:
        """Back to the frame's own first window (or its full range)."""
        if self._stack is not None and not self._stack.is_color:
            window = self._stack.default_window(self._frame)
            if window is not None:
                self._apply_window(window)

    def _apply_window(self, window: Window) -> None:
        self._window = window
        self._render()
        self.update()
        self.window_changed.emit(window.center, window.width)

    @property
    def inverted(self) -> bool:
        """Whether the user inverted the grey scale (on top of MONOCHROME1 handling)."""
        return self._invert

    def set_inverted(self, inverted: bool) -> None:
        """Invert the display (the pixel values are unchanged)."""
        if inverted != self._invert:
            self._invert = inverted
            self._render()
            self.update()
            self.view_changed.emit()

    def _window_step(self) -> float:
        stack = self._stack
        if stack is None or stack.is_color:
            return 1.0
        values = stack.values(self._frame)
        if values is None or values.size == 0:
            return 1.0
        return window_sensitivity_of(values)

    # --- geometry -----------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """View pixels per image pixel."""
        return self._zoom

    @property
    def rotation(self) -> int:
        """Clockwise rotation in degrees (0, 90, 180, 270)."""
        return self._rotation

    @property
    def flipped(self) -> tuple[bool, bool]:
        """``(horizontal, vertical)`` flips, applied on screen after rotation."""
        return self._flip_h, self._flip_v

    def transform(self) -> QTransform:
        """Image coordinates → view coordinates."""
        t = QTransform()
        t.translate(self.width() / 2.0, self.height() / 2.0)
        t.scale(
            self._zoom * (-1.0 if self._flip_h else 1.0),
            self._zoom * (-1.0 if self._flip_v else 1.0),
        )
        t.rotate(self._rotation)
        t.translate(-self._offset.x(), -self._offset.y())
        return t

    def view_to_image(self, p: QPointF) -> QPointF:
        """A view position in image coordinates."""
        inverse, _ = self.transform().inverted()
        return inverse.map(QPointF(p))

    def image_to_view(self, p: QPointF) -> QPointF:
        """An image coordinate in view coordinates."""
        return self.transform().map(QPointF(p))

    def fit_to_window(self) -> None:
        """Scale the image to fit the view and centre it."""
        if self._stack is None:
            return
        rows, cols = self._stack.shape
        if self._rotation in (90, 270):
            rows, cols = cols, rows
        self._zoom = min(max(min(self.width() / cols, self.height() / rows), MIN_ZOOM), MAX_ZOOM)
        self._offset = QPointF(self._stack.shape[1] / 2.0, self._stack.shape[0] / 2.0)
        self._fitted = True
        self.update()
        self.view_changed.emit()

    def actual_size(self) -> None:
        """One image pixel per screen pixel, around the view centre."""
        self.set_zoom(1.0 / max(self.devicePixelRatioF(), 1e-6))

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (view coordinates) fixed."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is not None and self._stack is not None:
            before = self.view_to_image(anchor)
            self._zoom = zoom
            after = self.view_to_image(anchor)
            self._offset += before - after
        else:
            self._zoom = zoom
        self._fitted = False
        self.update()
        self.view_changed.emit()

    def zoom_by(self, steps: float) -> None:
        """Zoom in (positive) or out by ``steps`` wheel notches around the centre."""
        self.set_zoom(self._zoom * ZOOM_STEP**steps)

    def rotate(self, degrees: int) -> None:
        """Rotate by a multiple of 90° (positive: clockwise)."""
        self._rotation = (self._rotation + int(degrees)) % 360
        self.update()
        self.view_changed.emit()

    def flip_horizontal(self) -> None:
        """Mirror left–right on screen."""
        self._flip_h = not self._flip_h
        self.update()
        self.view_changed.emit()

    def flip_vertical(self) -> None:
        """Mirror top–bottom on screen."""
        self._flip_v = not self._flip_v
        self.update()
        self.view_changed.emit()

    def reset_view(self) -> None:
        """No rotation or flip, fitted."""
        self._rotation, self._flip_h, self._flip_v = 0, False, False
        self.fit_to_window()

    # --- rendering ----------------------------------------------------------------
    def _render(self) -> None:
        stack = self._stack
        if stack is None:
            return
        data = stack.render(self._frame, self._window, self._invert)
        self._rendered = data
        if data is None:
            self._qimage = None
            self._pixmap = None
            return
        if data.ndim == 3:
            fmt, stride = QImage.Format.Format_RGB888, data.shape[1] * 3
        else:
            fmt, stride = QImage.Format.Format_Grayscale8, data.shape[1]
        # QImage borrows the buffer; self._rendered keeps it alive.
        self._qimage = QImage(data.data, data.shape[1], data.shape[0], stride, fmt)
        self._pixmap = QPixmap.fromImage(self._qimage)

    def _pen(self, color: QColor, width: float) -> QPen:
        """A cosmetic pen ``width`` logical pixels wide on any screen.

        Cosmetic pens ignore every transform, the device pixel ratio included,
        so the width is scaled by it here: lines keep their weight on HiDPI
        screens while following zoom, pan and rotation.
        """
        pen = QPen(color, width * self.devicePixelRatioF())
        pen.setCosmetic(True)
        return pen

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        stack = self._stack
        if stack is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        transform = self.transform()
        rows, cols = stack.shape
        target = QRectF(0.0, 0.0, cols, rows)
        if self._pixmap is not None:
            painter.save()
            painter.setTransform(transform)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 1.0)
            painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
            if self._heat_shown():
                painter.setOpacity(self._heat_opacity)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(target, self._heat_image)
                painter.setOpacity(1.0)
            painter.restore()
        else:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.tr("Loading…"))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self._heat_shown():
            self._paint_heat_outline(painter, transform)
        self._paint_measurements(painter, transform)
        if self._overlay_visible:
            self._paint_corners(painter)
            self._paint_scale_bar(painter)
        if self._heat_shown():
            self._paint_legend(painter)
        self._paint_notes(painter)

    # --- overlay text ---------------------------------------------------------------
    @property
    def overlay_visible(self) -> bool:
        """Whether the corner text and scale bar are drawn."""
        return self._overlay_visible

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the corner text and scale bar."""
        self._overlay_visible = visible
        self.update()

    @property
    def identity_hidden(self) -> bool:
        """Whether identifying text (name, ID, birth date, dates, accession) is hidden."""
        return self._hide_identity

    def set_identity_hidden(self, hidden: bool) -> None:
        """Hide identifying text in the overlays (for screenshots and teaching)."""
        self._hide_identity = hidden
        self.update()

    def overlay_corners(self) -> dict[str, list[str]]:
        """Corner text: keys ``top_left``, ``top_right``, ``bottom_left``, ``bottom_right``."""
        stack = self._stack
        if stack is None:
            return {"top_left": [], "top_right": [], "bottom_left": [], "bottom_right": []}
        info = stack.info
        hide = self._hide_identity
        top_left = []
        if not hide:
            top_left.append(info.patient_name or self.tr("(no name)"))
            top_left.append(self.tr("ID: {0}").format(info.patient_id or "—"))
            extra = " ".join(x for x in (_date(info.birth_date), info.sex) if x)
            if extra:
                top_left.append(extra)
        else:
            top_left.append(self.tr("(identity hidden)"))
        top_left.append(
            " ".join(x for x in (info.modality, info.body_part, info.view_position) if x)
        )
        top_right = []
        if info.study_description:
            top_right.append(info.study_description)
        if not hide and info.study_date:
            top_right.append(_date(info.study_date))
        if not hide and info.accession_number:
            top_right.append(self.tr("Acc: {0}").format(info.accession_number))
        series = info.series_description
        if info.series_number is not None:
            series = self.tr("Se {0}").format(info.series_number) + (
                f": {series}" if series else ""
            )
        if series:
            top_right.append(series)

        bottom_left = []
        if self._window is not None:
            bottom_left.append(
                self.tr("W: {0:.0f}  L: {1:.0f}").format(self._window.width, self._window.center)
            )
        bottom_left.append(self.tr("Zoom: {0:.0%}").format(self._zoom))
        if stack.n_frames > 1:
            label = self.tr("Im: {0}/{1}") if stack.series is not None else self.tr("Frame {0}/{1}")
            bottom_left.append(label.format(self._frame + 1, stack.n_frames))
        location = stack.slice_location(self._frame)
        if location is not None and stack.n_frames > 1:
            bottom_left.append(self.tr("Loc: {0:.2f} mm").format(location))
        if stack.slice_thickness:
            bottom_left.append(self.tr("Thk: {0:g} mm").format(stack.slice_thickness))

        bottom_right = []
        if self._rotation:
            bottom_right.append(self.tr("Rotated {0}°").format(self._rotation))
        if self._flip_h or self._flip_v:
            bottom_right.append(
                self.tr("Flipped {0}").format(
                    " + ".join(
                        t
                        for t, on in ((self.tr("H"), self._flip_h), (self.tr("V"), self._flip_v))
                        if on
                    )
                )
            )
        if self._invert:
            bottom_right.append(self.tr("Inverted"))
        if self._stack is not None:
            w, h = self._stack.shape[1], self._stack.shape[0]
            bottom_right.append(self.tr("{0} × {1}").format(w, h))
        return {
            "top_left": top_left,
            "top_right": top_right,
            "bottom_left": bottom_left,
            "bottom_right": bottom_right,
        }

    def overlay_lines(self) -> tuple[list[str], list[str]]:
        """Top-left and bottom-left overlay text."""
        corners = self.overlay_corners()
        return corners["top_left"], corners["bottom_left"]

    def _overlay_font(self, painter: QPainter) -> QFontMetricsF:
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0))
        painter.setFont(font)
        return QFontMetricsF(font)

    def _paint_corners(self, painter: QPainter) -> None:
        metrics = self._overlay_font(painter)
        line = metrics.height()
        corners = self.overlay_corners()
        margin = 8.0
        w, h = float(self.width()), float(self.height())
        for i, text in enumerate(corners["top_left"]):
            _shadow_text(painter, margin, margin + line * (i + 1) - metrics.descent(), text)
        for i, text in enumerate(corners["top_right"]):
            x = w - margin - metrics.horizontalAdvance(text)
            _shadow_text(painter, x, margin + line * (i + 1) - metrics.descent(), text)
        for i, text in enumerate(reversed(corners["bottom_left"])):
            _shadow_text(painter, margin, h - margin - line * i - metrics.descent(), text)
        for i, text in enumerate(reversed(corners["bottom_right"])):
            x = w - margin - metrics.horizontalAdvance(text)
            _shadow_text(painter, x, h - margin - line * i - metrics.descent(), text)

    def mm_per_view_pixel(self) -> float | None:
        """Physical size of one horizontal screen pixel (mm), when calibrated."""
        if self._stack is None:
            return None
        spacing = self._stack.spacing(self._frame).spacing
        if spacing is None:
            return None
        along = spacing[0] if self._rotation in (90, 270) else spacing[1]
        return along / self._zoom

    def _paint_scale_bar(self, painter: QPainter) -> None:
        per_pixel = self.mm_per_view_pixel()
        if per_pixel is None:
            return
        length_mm, length_px = scale_bar(per_pixel, self.width() / 4.0)
        if length_px < 10:
            return
        metrics = self._overlay_font(painter)
        y = self.height() - 12.0 - metrics.height()
        x0 = (self.width() - length_px) / 2.0
        path = QPainterPath()
        path.moveTo(x0, y - 5)
        path.lineTo(x0, y)
        path.lineTo(x0 + length_px, y)
        path.lineTo(x0 + length_px, y - 5)
        for color, dx in ((QColor(0, 0, 0), 1.0), (_TEXT, 0.0)):
            painter.setPen(self._pen(color, 1.5))
            painter.drawPath(path.translated(dx, dx))
        label = f"{length_mm:g} mm" if length_mm >= 1 else f"{length_mm * 1000:g} µm"
        _shadow_text(
            painter,
            (self.width() - metrics.horizontalAdvance(label)) / 2.0,
            y + metrics.ascent() + 2,
            label,
        )

    def overlay_notes(self) -> list[tuple[str, bool]]:
        """Centred notes over the image: ``(text, is_warning)``.

        The calibration warning (while measuring or when the frame has
        measurements), the first problem of the series, and the loading state.
        """
        notes: list[tuple[str, bool]] = []
        warning = self.calibration_warning()
        if warning and (self._tool != PAN or self.frame_measurements()):
            notes.append((warning, True))
        if self._stack is not None and self._stack.info.problems:
            problems = self._stack.info.problems
            text = self.tr("Series: {0}").format(_shorten(problems[0], 110))
            if len(problems) > 1:
                text += self.tr(" (+{0} more, see Studies)").format(len(problems) - 1)
            notes.append((text, True))
        if self._loading_text:
            notes.append((self._loading_text, False))
        return notes

    def _paint_notes(self, painter: QPainter) -> None:
        metrics = self._overlay_font(painter)
        # below the corner text, so neither hides the other
        corners = self.overlay_corners() if self._overlay_visible else {}
        lines = max(len(corners.get("top_left", [])), len(corners.get("top_right", [])))
        y = 8.0 + metrics.height() * lines + metrics.ascent() + 4.0
        room = max(self.width() - 16.0, 40.0)
        for text, warning in self.overlay_notes():
            text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
            x = (self.width() - metrics.horizontalAdvance(text)) / 2.0
            _shadow_text(painter, max(x, 8.0), y, text, _WARNING if warning else _TEXT)
            y += metrics.height()

    # --- measurements ------------------------------------------------------------
    @property
    def tool(self) -> str:
        """What a left-drag does: ``pan``, ``distance``, ``angle``, ``rectangle``, ``ellipse``."""
        return self._tool

    def set_tool(self, tool: str) -> None:
        """Choose the left-button tool."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self._pending = None
        self._angle_second_arm = False
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
        self, kind: str, points: tuple[tuple[float, float], ...] | list, frame: int | None = None
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
        self._pending = None
        self._angle_second_arm = False
        self.update()

    def _find(self, measurement_id: int | None) -> Measurement | None:
        return next((m for m in self._measurements if m.id == measurement_id), None)

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
            return self.tr("…")
        if m.kind == DISTANCE:
            unit = self.tr("mm") if calibrated else self.tr("px")
            return f"{value:.1f} {unit}"
        if m.kind == ANGLE:
            return "—" if math.isnan(value) else f"{value:.1f}°"
        assert isinstance(value, RoiStats)
        units = self._stack.info.units if self._stack is not None else ""
        suffix = f" {units}" if units else ""
        area_unit = self.tr("mm²") if value.calibrated else self.tr("px²")
        if value.n_pixels == 0:
            return self.tr("Area {0:.1f} {1} (no pixels)").format(value.area, area_unit)
        return self.tr(
            "Mean {0:.1f}{1}  SD {2:.1f}\nMin {3:.1f}  Max {4:.1f}\nArea {5:.1f} {6}"
        ).format(value.mean, suffix, value.sd, value.minimum, value.maximum, value.area, area_unit)

    def measurement_title(self, m: Measurement) -> str:
        """A short name of the measurement kind."""
        return {
            DISTANCE: self.tr("Distance"),
            ANGLE: self.tr("Angle"),
            RECTANGLE: self.tr("Rectangle"),
            ELLIPSE: self.tr("Ellipse"),
        }[m.kind]

    def calibration_warning(self) -> str:
        """A warning when measurements are not in the patient plane, else empty."""
        if self._stack is None:
            return ""
        info = self._stack.spacing(self._frame)
        if info.source == SPACING_PATIENT:
            return ""
        if info.source is None:
            return self.tr("No pixel spacing in this image: measurements are in pixels.")
        if info.source.startswith("ImagerPixelSpacing/"):
            return self.tr(
                "Only Imager Pixel Spacing, corrected by the estimated magnification {0:g}: "
                "measurements are approximate."
            ).format(info.magnification or 1.0)
        return self.tr(
            "Only Imager Pixel Spacing (at the detector) is known: anatomy is magnified, "
            "so measurements overestimate."
        )

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
                _shadow_text(painter, x, y + i * metrics.height(), t, color)

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

    # --- heat map -------------------------------------------------------------------
    def set_heatmap(self, heatmap: np.ndarray, frame: int | None = None, title: str = "") -> None:
        """Show a relevance map in ``[0, 1]`` (source rows × columns) over ``frame``.

        The map is drawn on its own layer with a colour legend and an outline of
        its most relevant region (see :func:`~desktop.viewer.overlay.outline_level`:
        relevance ≥ 0.5 and within the top 10 %); the image's pixels are
        untouched.
        """
        if self._stack is None:
            return
        heat = np.asarray(heatmap, dtype=np.float32)
        if heat.shape != self._stack.shape:
            raise ValueError(
                f"heat map shape {heat.shape} does not match the image {self._stack.shape}"
            )
        self._heat = heat
        self._heat_frame = self._frame if frame is None else frame
        self._heat_rgba = np.ascontiguousarray(heatmap_rgba(heat))
        rows, cols = heat.shape
        self._heat_image = QImage(
            self._heat_rgba.data, cols, rows, cols * 4, QImage.Format.Format_ARGB32_Premultiplied
        )
        self._heat_level = outline_level(heat)
        self._heat_outline = outline_segments(top_region(heat, self._heat_level))
        self._heat_title = title
        self._heat_visible = True
        self.update()
        self.heatmap_changed.emit()

    def _clear_heat(self) -> None:
        self._heat = None
        self._heat_image = None
        self._heat_rgba = None
        self._heat_outline = None

    def clear_heatmap(self) -> None:
        """Remove the heat map."""
        self._clear_heat()
        self.update()
        self.heatmap_changed.emit()

    @property
    def heatmap(self) -> np.ndarray | None:
        """The relevance map shown (``None`` when there is none)."""
        return self._heat

    @property
    def heatmap_outline_level(self) -> float:
        """Relevance at which the top region is outlined."""
        return self._heat_level

    @property
    def heatmap_frame(self) -> int:
        """The frame the heat map belongs to."""
        return self._heat_frame

    @property
    def heatmap_visible(self) -> bool:
        """Whether the heat-map layer is switched on."""
        return self._heat_visible

    def set_heatmap_visible(self, visible: bool) -> None:
        """Switch the heat-map layer on or off (H)."""
        if visible != self._heat_visible:
            self._heat_visible = visible
            self.update()
            self.heatmap_changed.emit()

    @property
    def heatmap_opacity(self) -> float:
        """Opacity of the heat-map layer (0–1)."""
        return self._heat_opacity

    def set_heatmap_opacity(self, opacity: float) -> None:
        """Set the heat-map layer's opacity (0–1)."""
        self._heat_opacity = float(min(max(opacity, 0.0), 1.0))
        self.update()

    def _heat_shown(self) -> bool:
        return (
            self._heat_image is not None
            and self._heat_visible
            and self._heat_frame == self._frame
            and self._pixmap is not None
        )

    def _paint_heat_outline(self, painter: QPainter, transform: QTransform) -> None:
        segments = self._heat_outline
        if segments is None or len(segments) == 0:
            return
        path = QPainterPath()
        for x0, y0, x1, y1 in segments:
            path.moveTo(x0, y0)
            path.lineTo(x1, y1)
        mapped = transform.map(path)
        for color, width in ((QColor(0, 0, 0, 180), 3.0), (QColor(255, 255, 255), 1.5)):
            painter.setPen(self._pen(color, width))
            painter.drawPath(mapped)

    def _paint_legend(self, painter: QPainter) -> None:
        metrics = self._overlay_font(painter)
        height = min(180.0, self.height() * 0.35)
        width = 12.0
        x = self.width() - 8.0 - width - metrics.horizontalAdvance("0.00") - 6
        y = (self.height() - height) / 2.0
        gradient = QLinearGradient(0, y + height, 0, y)
        for stop in np.linspace(0.0, 1.0, 11):
            r, g, b = (int(v) for v in TURBO_LUT[round(stop * 255)])
            gradient.setColorAt(float(stop), QColor(r, g, b))
        painter.fillRect(QRectF(x, y, width, height), QBrush(gradient))
        painter.setPen(self._pen(QColor(255, 255, 255), 1.0))
        painter.drawRect(QRectF(x, y, width, height))
        for value in (0.0, 0.5, 1.0):
            ty = y + height * (1.0 - value)
            painter.drawLine(QPointF(x + width, ty), QPointF(x + width + 3, ty))
            _shadow_text(painter, x + width + 5, ty + metrics.ascent() / 2.5, f"{value:.1f}")
        title = self.tr("Relevance (Grad-CAM)")
        _shadow_text(
            painter,
            min(x, self.width() - 8.0 - metrics.horizontalAdvance(title)),
            y - metrics.descent() - 8,
            title,
        )
        level_y = y + height * (1.0 - self._heat_level)
        painter.setPen(self._pen(QColor(255, 255, 255), 2.0))
        painter.drawLine(QPointF(x - 4, level_y), QPointF(x + width + 3, level_y))
        note = self.tr("outline: ≥ {0:.2f}").format(self._heat_level)
        _shadow_text(
            painter,
            min(x, self.width() - 8.0 - metrics.horizontalAdvance(note)),
            y + height + metrics.height() + 2,
            note,
        )

    # --- interaction ------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if not steps:
            event.accept()
            return
        zoom = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier) or self.n_frames <= 1
        if zoom:
            self.set_zoom(self._zoom * (ZOOM_STEP**steps), event.position())
        else:
            # wheel down (negative delta) goes to the next slice, as in Weasis
            self._wheel_rest -= steps
            whole = math.trunc(self._wheel_rest)
            if whole:
                self._wheel_rest -= whole
                self.step_frame(whole)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self._stack is None:
            return
        if button == Qt.MouseButton.LeftButton and self._tool != PAN:
            p = self._image_point(pos)
            if self._tool == ANGLE and self._pending is not None and self._angle_second_arm:
                a, b, _ = self._pending.points
                self._pending = None
                self._angle_second_arm = False
                self.add_measurement(ANGLE, (a, b, p))
                event.accept()
                return
            points = (p, p, p) if self._tool == ANGLE else (p, p)
            self._pending = Measurement(0, self._tool, self._frame, points)
        elif button == Qt.MouseButton.LeftButton:
            picked = self._pick(pos)
            if picked is not None or self._selected is not None:
                self.select_measurement(picked)
        self._drag_origin = pos
        self._drag_button = button
        self._drag_start_window = self._window
        self._drag_start_offset = QPointF(self._offset)
        self._drag_start_inverse = self.transform().inverted()[0]
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._pending is not None and self._angle_second_arm:
            a, b, _ = self._pending.points
            self._pending = Measurement(0, ANGLE, self._frame, (a, b, self._image_point(pos)))
            self.update()
            return
        if self._drag_origin is None or self._stack is None:
            return
        delta = pos - self._drag_origin
        if self._drag_button == Qt.MouseButton.RightButton and self._drag_start_window:
            self.set_window(
                *window_after_drag(self._drag_start_window, delta.x(), delta.y(), self._wl_step)
            )
        elif self._drag_button == Qt.MouseButton.LeftButton and self._pending is not None:
            p = self._image_point(pos)
            points = (
                (self._pending.points[0], p, p)
                if self._pending.kind == ANGLE
                else (
                    self._pending.points[0],
                    p,
                )
            )
            self._pending = Measurement(0, self._pending.kind, self._frame, points)
            self.update()
        elif self._drag_button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            inverse = self._drag_start_inverse
            moved = inverse.map(self._drag_origin) - inverse.map(pos)
            self._offset = self._drag_start_offset + moved
            self._fitted = False
            self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pending = self._pending
        if event.button() == Qt.MouseButton.LeftButton and pending is not None:
            if not self._angle_second_arm:
                dragged = _length(event.position() - (self._drag_origin or event.position()))
                end = self._image_point(event.position())
                if dragged < CLICK_SLOP:
                    self._pending = None  # a click without a drag draws nothing
                elif pending.kind == ANGLE:
                    self._pending = Measurement(
                        0, ANGLE, self._frame, (pending.points[0], end, end)
                    )
                    self._angle_second_arm = True
                else:
                    self._pending = None
                    self.add_measurement(pending.kind, (pending.points[0], end))
                self.update()
        self._drag_origin = None
        self._drag_button = Qt.MouseButton.NoButton
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._tool == PAN:
            self.fit_to_window()
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit_to_window()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._pending is not None:
            self.cancel_pending()
            event.accept()
            return
        super().keyPressEvent(event)

    def _image_point(self, pos: QPointF) -> tuple[float, float]:
        p = self.view_to_image(pos)
        return p.x(), p.y()


def _date(value: str) -> str:
    """DICOM DA ``YYYYMMDD`` → ``YYYY-MM-DD`` (other text unchanged)."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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


def _shadow_text(
    painter: QPainter, x: float, y: float, text: str, color: QColor | None = None
) -> None:
    painter.setPen(QColor(0, 0, 0))
    painter.drawText(QPointF(x + 1, y + 1), text)
    painter.setPen(color or _TEXT)
    painter.drawText(QPointF(x, y), text)


def window_sensitivity_of(values: np.ndarray) -> float:
    """Modality units per screen pixel of right-drag: 1/512 of the value range."""
    finite = values if values.dtype.kind != "f" else values[np.isfinite(values)]
    if finite.size == 0:
        return 1.0
    lo, hi = float(np.min(finite)), float(np.max(finite))
    return max((hi - lo) / 512.0, 0.01)


def window_sensitivity(image: DicomImage) -> float:
    """Modality units per screen pixel of right-drag for ``image``'s first frame."""
    return window_sensitivity_of(image.frames[0])


def window_after_drag(start: Window, dx: float, dy: float, step: float) -> tuple[float, float]:
    """Centre and width after a right-drag of ``(dx, dy)`` screen pixels.

    Dragging right widens the window (less contrast); dragging down raises
    the centre (darker image), as in most PACS viewers. ``step`` is modality
    units per screen pixel.
    """
    k = step
    return start.center + dy * k, max(start.width + dx * k, 1.0)

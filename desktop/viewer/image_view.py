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

:class:`ImageView` is the widget: the stack, frames, window/level, rendering,
painting, the heat-map layer and the mouse. Its other parts live beside it:
:mod:`~desktop.viewer.navigation` (zoom, pan, rotation, flips, wheel, cine),
:mod:`~desktop.viewer.measure_tools` (the measurements and their tools) and
:mod:`~desktop.viewer.overlay_text` (corner text, scale bar, notes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QKeyEvent,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop.viewer.measure_tools import (
    ANGLE,
    CLICK_SLOP,
    DISTANCE,
    ELLIPSE,
    PAN,
    PICK_DISTANCE,
    RECTANGLE,
    TOOLS,
    Measurement,
    MeasureToolsMixin,
)
from desktop.viewer.navigation import (
    DEFAULT_FPS,
    MAX_FPS,
    MAX_ZOOM,
    MIN_FPS,
    MIN_ZOOM,
    ZOOM_STEP,
    NavigationMixin,
)
from desktop.viewer.overlay import (
    TURBO_LUT,
    heatmap_rgba,
    outline_level,
    outline_segments,
    top_region,
)
from desktop.viewer.overlay_text import OverlayTextMixin
from desktop.viewer.overlay_text import shadow_text as _shadow_text
from desktop.viewer.presets import Preset
from desktop.viewer.stack import ImageStack
from engine.dicom import Window

if TYPE_CHECKING:  # needs pydicom, which loads with the first file opened
    from engine.dicom import DicomImage

__all__ = [
    "ANGLE",
    "CLICK_SLOP",
    "DEFAULT_FPS",
    "DISTANCE",
    "ELLIPSE",
    "MAX_FPS",
    "MAX_ZOOM",
    "MIN_FPS",
    "MIN_ZOOM",
    "PAN",
    "PICK_DISTANCE",
    "RECTANGLE",
    "TOOLS",
    "ZOOM_STEP",
    "ImageView",
    "Measurement",
    "window_after_drag",
    "window_sensitivity",
    "window_sensitivity_of",
]


class ImageView(MeasureToolsMixin, OverlayTextMixin, NavigationMixin, QWidget):
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
        self._wl_step = 1.0
        self._drag_origin: QPointF | None = None
        self._drag_button = Qt.MouseButton.NoButton
        self._drag_start_window: Window | None = None
        self._heat: np.ndarray | None = None
        self._heat_frame = 0
        self._heat_image: QImage | None = None
        self._heat_rgba: np.ndarray | None = None
        self._heat_outline: np.ndarray | None = None
        self._heat_level = 0.5
        self._heat_visible = True
        self._heat_opacity = 0.5
        self._heat_title = ""
        self._init_navigation()
        self._init_measure_tools()
        self._init_overlay_text()
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
        self._forget_measurements()
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
        self._forget_values()
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
        self._forget_measurements()
        self._clear_heat()
        self.update()
        self.image_changed.emit()
        self.measurements_changed.emit()
        self.heatmap_changed.emit()

    def rendered(self) -> np.ndarray | None:
        """The 8-bit pixels of the frame as shown (before zoom and overlays)."""
        return self._rendered

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
        self._drop_pending()
        self._render()
        self.update()
        self.frame_changed.emit(index)

    def step_frame(self, delta: int) -> None:
        """Move ``delta`` frames (clamped)."""
        self.set_frame(self._frame + delta)

    # --- window ---------------------------------------------------------------------
    @property
    def window(self) -> Window | None:  # type: ignore[override]  # the VOI window, by design
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
            heat_image = self._heat_image
            if heat_image is not None and self._heat_shown():
                painter.setOpacity(self._heat_opacity)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawImage(target, heat_image)
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
        self._wheel(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if self._stack is None:
            return
        if button == Qt.MouseButton.LeftButton and self._measure_press(pos):
            event.accept()  # an angle was finished: nothing to drag
            return
        self._drag_origin = pos
        self._drag_button = button
        self._drag_start_window = self._window
        self._begin_pan()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._measure_hover(pos):
            return
        if self._drag_origin is None or self._stack is None:
            return
        delta = pos - self._drag_origin
        if self._drag_button == Qt.MouseButton.RightButton and self._drag_start_window:
            self.set_window(
                *window_after_drag(self._drag_start_window, delta.x(), delta.y(), self._wl_step)
            )
        elif self._drag_button == Qt.MouseButton.LeftButton and self._drawing():
            self._measure_drag(pos)
        elif self._drag_button in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._pan(self._drag_origin, pos)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._measure_release(event.position(), self._drag_origin)
        self._drag_origin = None
        self._drag_button = Qt.MouseButton.NoButton
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.tool == PAN:
            self.fit_to_window()
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._refit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self._drawing():
            self.cancel_pending()
            event.accept()
            return
        super().keyPressEvent(event)


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

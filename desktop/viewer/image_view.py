"""A 2-D image viewer: window/level, zoom, pan, fit, and an info overlay.

The view keeps the image's modality values and renders them to 8 bits with
the engine's VOI pipeline whenever the window changes; the source pixels are
never modified.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.dicom import DicomImage, Window, render_8bit

ZOOM_STEP = 1.15
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0


class ImageView(QWidget):
    """Shows one frame of a :class:`DicomImage`.

    Mouse: wheel zooms around the cursor, left-drag pans, right-drag changes
    window/level (horizontal = width, vertical = centre), double-click fits.
    """

    window_changed = Signal(float, float)
    image_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(320, 320)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: DicomImage | None = None
        self._frame = 0
        self._window: Window | None = None
        self._rendered: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)  # image-pixel coordinate at the view centre
        self._drag_origin: QPointF | None = None
        self._drag_button = Qt.MouseButton.NoButton
        self._drag_start_window: Window | None = None
        self._drag_start_offset = QPointF()
        self._wl_step = 1.0
        self.placeholder = self.tr("Open a DICOM file (File ▸ Open) or drop it here.")

    # --- state -------------------------------------------------------------
    @property
    def image(self) -> DicomImage | None:
        return self._image

    @property
    def window(self) -> Window | None:
        return self._window

    @property
    def zoom(self) -> float:
        return self._zoom

    def rendered(self) -> np.ndarray | None:
        """The 8-bit pixels currently drawn (before zoom), for checks and export."""
        return self._rendered

    def set_image(self, image: DicomImage, frame: int = 0) -> None:
        """Show ``image`` with its own window, fitted to the view."""
        self._image = image
        self._frame = frame
        self._window = None if image.is_color else image.default_window(frame)
        self._wl_step = 1.0 if image.is_color else window_sensitivity(image)
        self._render()
        self.fit_to_window()
        self.image_changed.emit()
        if self._window is not None:
            self.window_changed.emit(self._window.center, self._window.width)

    def clear(self) -> None:
        self._image = None
        self._rendered = None
        self._qimage = None
        self.update()

    def set_window(self, center: float, width: float) -> None:
        """Set the VOI window in modality units and re-render."""
        if self._image is None or self._image.is_color:
            return
        function = self._window.function if self._window else "LINEAR"
        if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
            function = "LINEAR"  # a dragged VOI LUT becomes a linear window
        self._window = Window(center=center, width=max(width, 1.0), function=function)
        self._render()
        self.update()
        self.window_changed.emit(self._window.center, self._window.width)

    def fit_to_window(self) -> None:
        """Scale the image to fit the view and centre it."""
        if self._image is None:
            return
        rows, cols = self._image.shape
        self._zoom = min(self.width() / cols, self.height() / rows)
        self._offset = QPointF(cols / 2.0, rows / 2.0)
        self.update()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the image point under ``anchor`` (view coords) fixed."""
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        if anchor is not None and self._image is not None:
            before = self.view_to_image(anchor)
            self._zoom = zoom
            after = self.view_to_image(anchor)
            self._offset += before - after
        else:
            self._zoom = zoom
        self.update()

    # --- geometry ------------------------------------------------------------
    def view_to_image(self, p: QPointF) -> QPointF:
        centre = QPointF(self.width() / 2.0, self.height() / 2.0)
        return (p - centre) / self._zoom + self._offset

    def image_to_view(self, p: QPointF) -> QPointF:
        centre = QPointF(self.width() / 2.0, self.height() / 2.0)
        return (p - self._offset) * self._zoom + centre

    # --- rendering -----------------------------------------------------------
    def _render(self) -> None:
        image = self._image
        if image is None:
            return
        pixels = image.frames[self._frame]
        if image.is_color:
            data = np.ascontiguousarray(pixels, dtype=np.uint8)
            fmt = QImage.Format.Format_RGB888
            stride = data.shape[1] * 3
        else:
            # The engine's display pipeline: VOI window or LUT, then
            # MONOCHROME1 / Presentation LUT INVERSE.
            data = render_8bit(image, self._frame, self._window)
            fmt = QImage.Format.Format_Grayscale8
            stride = data.shape[1]
        self._rendered = data
        # QImage borrows the buffer: keep `data` alive via self._rendered.
        self._qimage = QImage(data.data, data.shape[1], data.shape[0], stride, fmt)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._qimage is None or self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        rows, cols = self._image.shape
        top_left = self.image_to_view(QPointF(0, 0))
        target = QRectF(top_left.x(), top_left.y(), cols * self._zoom, rows * self._zoom)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._zoom < 1.0)
        painter.drawImage(target, self._qimage)
        self._paint_overlay(painter)

    def overlay_lines(self) -> tuple[list[str], list[str]]:
        """Top-left and bottom-left overlay text."""
        image = self._image
        if image is None:
            return [], []
        top = [
            image.patient_name or self.tr("(no name)"),
            self.tr("ID: {0}").format(image.patient_id or "—"),
            " ".join(x for x in (image.modality, image.body_part, image.view_position) if x),
        ]
        bottom = []
        if self._window is not None:
            bottom.append(
                self.tr("W: {0:.0f}  L: {1:.0f}").format(self._window.width, self._window.center)
            )
        bottom.append(self.tr("Zoom: {0:.0%}").format(self._zoom))
        if image.n_frames > 1:
            bottom.append(self.tr("Frame {0}/{1}").format(self._frame + 1, image.n_frames))
        return top, bottom

    def _paint_overlay(self, painter: QPainter) -> None:
        top, bottom = self.overlay_lines()
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0))
        painter.setFont(font)
        metrics = painter.fontMetrics()
        line = metrics.height()
        for i, text in enumerate(top):
            self._shadow_text(painter, 8, 8 + line * (i + 1) - metrics.descent(), text)
        for i, text in enumerate(reversed(bottom)):
            self._shadow_text(painter, 8, self.height() - 8 - line * i - metrics.descent(), text)

    @staticmethod
    def _shadow_text(painter: QPainter, x: float, y: float, text: str) -> None:
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(QPointF(x + 1, y + 1), text)
        painter.setPen(QColor(255, 230, 120))
        painter.drawText(QPointF(x, y), text)

    # --- interaction ---------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.set_zoom(self._zoom * (ZOOM_STEP**steps), event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag_origin = event.position()
        self._drag_button = event.button()
        self._drag_start_window = self._window
        self._drag_start_offset = QPointF(self._offset)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_origin is None or self._image is None:
            return
        delta = event.position() - self._drag_origin
        if self._drag_button == Qt.MouseButton.RightButton and self._drag_start_window:
            self.set_window(
                *window_after_drag(self._drag_start_window, delta.x(), delta.y(), self._wl_step)
            )
        elif self._drag_button == Qt.MouseButton.LeftButton:
            self._offset = self._drag_start_offset - delta / self._zoom
            self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_origin = None
        self._drag_button = Qt.MouseButton.NoButton
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit_to_window()
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)


def window_sensitivity(image: DicomImage) -> float:
    """Modality units per screen pixel of right-drag: 1/512 of the value range."""
    lo, hi = float(np.min(image.frames[0])), float(np.max(image.frames[0]))
    return max((hi - lo) / 512.0, 0.01)


def window_after_drag(start: Window, dx: float, dy: float, step: float) -> tuple[float, float]:
    """Centre and width after a right-drag of ``(dx, dy)`` screen pixels.

    Dragging right widens the window (less contrast); dragging down raises
    the centre (darker image), as in most PACS viewers. ``step`` is modality
    units per screen pixel.
    """
    k = step
    return start.center + dy * k, max(start.width + dx * k, 1.0)

"""The image view's navigation: zoom, pan, rotate and flip, the wheel, and cine.

:class:`NavigationMixin` is part of :class:`~desktop.viewer.image_view.ImageView`.
It owns the view transform (zoom, the image point at the view centre, a
clockwise rotation in steps of 90°, screen flips) and the cine timer, and
maps positions between view and image coordinates.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QTransform, QWheelEvent

if TYPE_CHECKING:
    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import QWidget

    from desktop.viewer.stack import ImageStack

    _ViewBase = QWidget
else:
    _ViewBase = object

ZOOM_STEP = 1.15
MIN_ZOOM, MAX_ZOOM = 0.02, 64.0
#: Cine speed range in frames per second.
MIN_FPS, MAX_FPS = 1, 60
DEFAULT_FPS = 10


class NavigationMixin(_ViewBase):
    """Zoom, pan, rotation, flips, wheel and cine of :class:`ImageView`."""

    if TYPE_CHECKING:  # provided by ImageView
        view_changed: ClassVar[Signal]
        cine_changed: ClassVar[Signal]
        _stack: ImageStack | None
        _frame: int

        @property
        def n_frames(self) -> int: ...
        def set_frame(self, index: int) -> None: ...
        def step_frame(self, delta: int) -> None: ...

    def _init_navigation(self) -> None:
        self._zoom = 1.0
        self._offset = QPointF(0.0, 0.0)  # image coordinate at the view centre
        self._rotation = 0  # degrees clockwise: 0, 90, 180, 270
        self._flip_h = False
        self._flip_v = False
        self._fitted = True  # refit on resize until the user zooms or pans
        self._wheel_rest = 0.0
        self._pan_start_offset = QPointF()
        self._pan_start_inverse = QTransform()
        self._fps = DEFAULT_FPS
        self._cine = QTimer(self)
        self._cine.setInterval(round(1000 / self._fps))
        self._cine.timeout.connect(self._on_cine_timeout)

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

    def _image_point(self, pos: QPointF) -> tuple[float, float]:
        p = self.view_to_image(pos)
        return p.x(), p.y()

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

    def _refit(self) -> None:
        """The view was resized: fit again unless the user zoomed or panned."""
        if self._fitted:
            self.fit_to_window()

    # --- the mouse ----------------------------------------------------------------------
    def _begin_pan(self) -> None:
        """A button went down: remember the view a drag starts from."""
        self._pan_start_offset = QPointF(self._offset)
        self._pan_start_inverse = self.transform().inverted()[0]

    def _pan(self, origin: QPointF, pos: QPointF) -> None:
        """Dragged from ``origin`` to ``pos``: the image follows the mouse."""
        inverse = self._pan_start_inverse
        moved = inverse.map(origin) - inverse.map(pos)
        self._offset = self._pan_start_offset + moved
        self._fitted = False
        self.update()

    def _wheel(self, event: QWheelEvent) -> None:
        """Wheel: the next or previous slice; zoom with Ctrl or on a single image."""
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

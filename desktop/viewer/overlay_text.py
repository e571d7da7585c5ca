"""The image view's text layer: corner text, scale bar and centred notes.

:class:`OverlayTextMixin` is part of :class:`~desktop.viewer.image_view.ImageView`;
it owns the layer's switches (overlay shown, identity hidden, loading note)
and reads the view's stack, window and geometry. Its strings are translated
in the ``ImageView`` context, like the rest of the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from desktop.viewer.overlay import scale_bar

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from desktop.viewer.stack import ImageStack
    from engine.dicom import Window

    _ViewBase = QWidget
else:
    _ViewBase = object

TEXT_COLOR = QColor(255, 230, 120)
WARNING_COLOR = QColor(255, 150, 40)


class OverlayTextMixin(_ViewBase):
    """Corner text, scale bar and notes of :class:`ImageView`."""

    if TYPE_CHECKING:  # provided by ImageView and its other parts
        _stack: ImageStack | None
        _frame: int
        _window: Window | None
        _invert: bool
        _zoom: float
        _rotation: int
        _flip_h: bool
        _flip_v: bool

        def _calibration_note(self) -> str: ...
        def _pen(self, color: QColor, width: float) -> QPen: ...

    def _init_overlay_text(self) -> None:
        self._overlay_visible = True
        self._hide_identity = False
        self._loading_text = ""

    def set_loading_text(self, text: str) -> None:
        """A short note drawn over the image while a series loads (empty: none)."""
        self._loading_text = text
        self.update()

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
            top_left.append(
                info.patient_name or QCoreApplication.translate("ImageView", "(no name)")
            )
            top_left.append(
                QCoreApplication.translate("ImageView", "ID: {0}").format(info.patient_id or "—")
            )
            extra = " ".join(x for x in (_date(info.birth_date), info.sex) if x)
            if extra:
                top_left.append(extra)
        else:
            top_left.append(QCoreApplication.translate("ImageView", "(identity hidden)"))
        top_left.append(
            " ".join(x for x in (info.modality, info.body_part, info.view_position) if x)
        )
        top_right = []
        if info.study_description:
            top_right.append(info.study_description)
        if not hide and info.study_date:
            top_right.append(_date(info.study_date))
        if not hide and info.accession_number:
            top_right.append(
                QCoreApplication.translate("ImageView", "Acc: {0}").format(info.accession_number)
            )
        series = info.series_description
        if info.series_number is not None:
            series = QCoreApplication.translate("ImageView", "Se {0}").format(
                info.series_number
            ) + (f": {series}" if series else "")
        if series:
            top_right.append(series)
        return {
            "top_left": top_left,
            "top_right": top_right,
            "bottom_left": self._view_state_lines(stack),
            "bottom_right": self._display_lines(stack),
        }

    def _view_state_lines(self, stack: ImageStack) -> list[str]:
        """Bottom-left corner: window, zoom, position in the stack, slice thickness."""
        lines = []
        if self._window is not None:
            lines.append(
                QCoreApplication.translate("ImageView", "W: {0:.0f}  L: {1:.0f}").format(
                    self._window.width, self._window.center
                )
            )
        lines.append(QCoreApplication.translate("ImageView", "Zoom: {0:.0%}").format(self._zoom))
        if stack.n_frames > 1:
            label = (
                QCoreApplication.translate("ImageView", "Im: {0}/{1}")
                if stack.series is not None
                else QCoreApplication.translate("ImageView", "Frame {0}/{1}")
            )
            lines.append(label.format(self._frame + 1, stack.n_frames))
        location = stack.slice_location(self._frame)
        if location is not None and stack.n_frames > 1:
            lines.append(
                QCoreApplication.translate("ImageView", "Loc: {0:.2f} mm").format(location)
            )
        if stack.slice_thickness:
            lines.append(
                QCoreApplication.translate("ImageView", "Thk: {0:g} mm").format(
                    stack.slice_thickness
                )
            )
        return lines

    def _display_lines(self, stack: ImageStack) -> list[str]:
        """Bottom-right corner: rotation, flips, inversion, matrix size."""
        lines = []
        if self._rotation:
            lines.append(
                QCoreApplication.translate("ImageView", "Rotated {0}°").format(self._rotation)
            )
        if self._flip_h or self._flip_v:
            flips = (
                (QCoreApplication.translate("ImageView", "H"), self._flip_h),
                (QCoreApplication.translate("ImageView", "V"), self._flip_v),
            )
            lines.append(
                QCoreApplication.translate("ImageView", "Flipped {0}").format(
                    " + ".join(t for t, on in flips if on)
                )
            )
        if self._invert:
            lines.append(QCoreApplication.translate("ImageView", "Inverted"))
        w, h = stack.shape[1], stack.shape[0]
        lines.append(QCoreApplication.translate("ImageView", "{0} × {1}").format(w, h))
        return lines

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
            shadow_text(painter, margin, margin + line * (i + 1) - metrics.descent(), text)
        for i, text in enumerate(corners["top_right"]):
            x = w - margin - metrics.horizontalAdvance(text)
            shadow_text(painter, x, margin + line * (i + 1) - metrics.descent(), text)
        for i, text in enumerate(reversed(corners["bottom_left"])):
            shadow_text(painter, margin, h - margin - line * i - metrics.descent(), text)
        for i, text in enumerate(reversed(corners["bottom_right"])):
            x = w - margin - metrics.horizontalAdvance(text)
            shadow_text(painter, x, h - margin - line * i - metrics.descent(), text)

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
        for color, dx in ((QColor(0, 0, 0), 1.0), (TEXT_COLOR, 0.0)):
            painter.setPen(self._pen(color, 1.5))
            painter.drawPath(path.translated(dx, dx))
        label = f"{length_mm:g} mm" if length_mm >= 1 else f"{length_mm * 1000:g} µm"
        shadow_text(
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
        warning = self._calibration_note()
        if warning:
            notes.append((warning, True))
        if self._stack is not None and self._stack.info.problems:
            problems = self._stack.info.problems
            text = QCoreApplication.translate("ImageView", "Series: {0}").format(
                _shorten(problems[0], 110)
            )
            if len(problems) > 1:
                text += QCoreApplication.translate("ImageView", " (+{0} more, see Studies)").format(
                    len(problems) - 1
                )
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
            shadow_text(painter, max(x, 8.0), y, text, WARNING_COLOR if warning else TEXT_COLOR)
            y += metrics.height()


def shadow_text(
    painter: QPainter, x: float, y: float, text: str, color: QColor | None = None
) -> None:
    """Draw ``text`` at ``(x, y)`` (view pixels) with a dark drop shadow."""
    painter.setPen(QColor(0, 0, 0))
    painter.drawText(QPointF(x + 1, y + 1), text)
    painter.setPen(color or TEXT_COLOR)
    painter.drawText(QPointF(x, y), text)


def _date(value: str) -> str:
    """DICOM DA ``YYYYMMDD`` → ``YYYY-MM-DD`` (other text unchanged)."""
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

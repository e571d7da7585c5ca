"""The Qt binding must not leak or drop references (a whole-app crash in a long session).

PySide6-Essentials 6.12.0 on CPython 3.11 takes one reference to ``None``
away for each Qt call that returns nothing (``QPainter.setPen``,
``QWidget.update``, …). ``None`` starts with some tens of thousands, so a
few minutes of repainting end the application with "Fatal Python error:
none_dealloc". Python 3.12 made ``None`` immortal; on 3.11 the binding must
be a version without the bug (pyproject.toml pins it).
"""

from __future__ import annotations

import sys

from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget


def test_void_qt_calls_keep_the_reference_count_of_none(qtbot):
    image = QImage(8, 8, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    widget = QWidget()
    qtbot.addWidget(widget)
    try:
        before = sys.getrefcount(None)
        for _ in range(2000):
            painter.setPen(QColor(0, 0, 0))
            painter.save()
            painter.restore()
            widget.update()
        after = sys.getrefcount(None)
    finally:
        painter.end()
    # a few references come and go with the interpreter's own work; a leak of
    # one per call would be thousands
    assert after - before > -100, f"None lost {before - after} references in 8,000 Qt calls"

"""Render resources/icons/stethos.svg to the PNG sizes installers need.

    .venv/bin/python scripts/make_icon.py

Writes resources/icons/stethos-<size>.png (16…256). The PNGs are committed so
that neither a build nor the app needs an SVG renderer.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def main() -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    renderer = QSvgRenderer(str(ICONS / "stethos.svg"))
    if not renderer.isValid():
        raise SystemExit("cannot read stethos.svg")
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = ICONS / f"stethos-{size}.png"
        image.save(str(out))
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

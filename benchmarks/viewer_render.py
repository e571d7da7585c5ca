"""Viewer scrolling: time per slice in a 1024×1024 view vs a bare QImage draw, same run.

Writes a synthetic 300-slice 512×512 CT series (engine.dicom.synthetic),
loads it the way the application does (``scan_paths`` + ``load_series``)
and shows it in the real :class:`desktop.viewer.image_view.ImageView`
sized 1024×1024 on the offscreen platform. Then, for every slice in turn:

- Stethos: ``ImageView.set_frame(i)`` + ``repaint()`` — windowing through
  the stack's lookup table, the QImage/QPixmap, the scaled draw and every
  overlay layer (corner text, scale bar; one distance and one ellipse
  region measured on each slice, with their statistics);
- baseline: a bare QWidget whose ``paintEvent`` draws a ``QImage`` of the
  same, already windowed 8-bit pixels scaled to the same 1024×1024 rect.

Both are measured around ``repaint()`` (a synchronous paint). Also timed:
window/level changes on one slice (a right-drag) and the windowing step
alone (``ImageStack.render``) vs the engine's ``window_to_8bit``.
Target: ≤ 15 ms per slice (median and 95th percentile reported).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/viewer_render.py [--slices 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _summary(name: str, times_s: list[float]) -> dict[str, float]:
    ms = sorted(t * 1000.0 for t in times_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    out = {"median": statistics.median(ms), "p95": p95, "max": ms[-1], "mean": statistics.fmean(ms)}
    print(
        f"{name:<44} median {out['median']:6.2f} ms   p95 {out['p95']:6.2f} ms   "
        f"max {out['max']:6.2f} ms   ({len(ms)} frames)"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512, help="rows and columns of each slice")
    parser.add_argument("--view", type=int, default=1024, help="view width and height")
    args = parser.parse_args(argv)

    import numpy as np
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication, QWidget

    from desktop.viewer.image_view import ImageView
    from desktop.viewer.stack import ImageStack, info_for
    from engine.dicom import load_series, scan_paths, window_to_8bit
    from engine.dicom.synthetic import write_ct_series

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="stethos-viewer-bench-") as tmp:
        folder = Path(tmp) / "ct"
        start = time.perf_counter()
        write_ct_series(folder, args.slices, rows=args.size, cols=args.size, seed=7)
        print(
            f"wrote {args.slices} slices of {args.size}×{args.size} in {time.perf_counter() - start:.1f} s"
        )
        scan = scan_paths([folder])
        patient = scan.patients[0]
        study = patient.studies[0]
        series = study.series[0]
        volume = load_series(series)
    stack = ImageStack.from_volume(volume, info_for(patient, study, series))
    n = stack.n_frames
    print(
        f"platform {app.platformName()}, Qt view {args.view}×{args.view}, "
        f"{n} slices {stack.shape[1]}×{stack.shape[0]} {volume.voxels.dtype}"
    )

    view = ImageView()
    view.resize(args.view, args.view)
    view.show()
    app.processEvents()
    view.set_stack(stack)
    app.processEvents()
    half = args.size / 2
    for i in range(n):
        view.add_measurement("distance", [(half * 0.3, half), (half * 1.7, half)], frame=i)
        view.add_measurement(
            "ellipse", [(half * 0.8, half * 0.8), (half * 1.2, half * 1.2)], frame=i
        )
    window = view.window

    # warm-up: first paint, font caches
    for i in (0, 1, 0):
        view.set_frame(i)
        view.repaint()

    stethos = []
    for i in range(n):
        t0 = time.perf_counter()
        view.set_frame(i)
        view.repaint()
        stethos.append(time.perf_counter() - t0)

    # baseline: the same windowed pixels, a bare QImage drawn scaled into the same rect
    frames8 = [window_to_8bit(volume.voxels[i], window, invert=False) for i in range(n)]

    class Bare(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.image: QImage | None = None

        def paintEvent(self, event) -> None:
            painter = QPainter(self)
            if self.image is not None:
                painter.drawImage(QRectF(0, 0, self.width(), self.height()), self.image)
            painter.end()

    bare = Bare()
    bare.resize(args.view, args.view)
    bare.show()
    app.processEvents()
    baseline = []
    for i in range(n):
        data = frames8[i]
        t0 = time.perf_counter()
        bare.image = QImage(
            data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format.Format_Grayscale8
        )
        bare.repaint()
        baseline.append(time.perf_counter() - t0)

    print()
    s = _summary("Stethos ImageView (window + draw + overlays)", stethos)
    b = _summary("bare QImage draw of pre-windowed pixels", baseline)
    print(f"ratio Stethos / bare (median): {s['median'] / b['median']:.2f}×")

    # windowing alone: stack LUT vs the engine's float pipeline, same output
    lut_t, engine_t = [], []
    for i in range(0, n, max(1, n // 60)):
        t0 = time.perf_counter()
        a = stack.render(i, window)
        lut_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b8 = window_to_8bit(volume.voxels[i], window)
        engine_t.append(time.perf_counter() - t0)
        assert np.array_equal(a, b8), "LUT rendering differs from the engine's"
    print()
    lut = _summary("windowing: ImageStack.render (LUT)", lut_t)
    eng = _summary("windowing: engine window_to_8bit", engine_t)
    print(f"LUT speed-up: {eng['median'] / lut['median']:.1f}× (identical pixels)")

    # window/level drag on one slice
    view.set_frame(n // 2)
    drag = []
    for k in range(60):
        t0 = time.perf_counter()
        view.set_window(window.center + 3 * k, window.width + 5 * k)
        view.repaint()
        drag.append(time.perf_counter() - t0)
    print()
    _summary("window/level change + repaint", drag)
    target = 15.0
    verdict = "meets" if s["p95"] <= target else "misses"
    print(f"\nper-slice p95 {s['p95']:.2f} ms {verdict} the {target:.0f} ms target")
    # Qt objects go before the interpreter does: QImages borrow numpy buffers
    bare.image = None
    view.clear()
    for widget in (view, bare):
        widget.close()
        widget.deleteLater()
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

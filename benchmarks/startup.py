"""Time to first window: Stethos vs a minimal PySide6 window, in the same run.

Each measurement is a fresh interpreter (cold imports, warm disk cache) that
shows its window, processes pending events and exits; the wall time of the
whole process is taken. Run: ``.venv/bin/python benchmarks/startup.py [N]``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

MINIMAL = """
import sys
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1400, 900); w.show()
app.processEvents()
"""

STETHOS = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from desktop.main_window import MainWindow
w = MainWindow(); w.show()
app.processEvents()
assert "torch" not in sys.modules and "sklearn" not in sys.modules, "heavy import before window"
"""


def _time(code: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    _time(MINIMAL), _time(STETHOS)  # warm the disk cache
    base, ours = [], []
    for _ in range(n):  # interleave so machine noise hits both alike
        base.append(_time(MINIMAL))
        ours.append(_time(STETHOS))
    b, o = statistics.median(base), statistics.median(ours)
    print(f"runs: {n} each (median)")
    print(f"minimal PySide6 window : {b * 1000:7.0f} ms")
    print(f"Stethos main window    : {o * 1000:7.0f} ms")
    print(f"ratio Stethos/minimal  : {o / b:7.2f}x  (+{(o - b) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()

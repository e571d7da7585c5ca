"""Time to first window and to the sample on screen: Stethos vs a minimal PySide6 window.

Each measurement is a fresh interpreter (cold imports, warm disk cache) with
throw-away settings, data and log folders and no model warm-up (it starts after
the files given are open, and exiting waits for it: benchmarks/model_inference.py
times it); the wall time of the whole process
is taken, interleaved run by run so that machine noise hits all alike:

- minimal: a bare ``QMainWindow`` shown, events processed, exit;
- Stethos window: ``MainWindow()`` shown, events processed, exit (nothing heavy
  — torch, scikit-learn, pydicom — may be imported before it is shown);
- Stethos with the sample: ``python -m desktop --open-sample --quit-after-open``,
  the real start-up (settings, icons, layout, exception hooks) until the bundled
  sample radiograph is decoded and on screen, then exit.

Target (issue 29): the window with the sample ≤ 0.5 s over the minimal window.
Run: ``.venv/bin/python benchmarks/startup.py [N] [--before CHECKOUT]``; with
``--before`` another checkout (``git archive <commit> | tar -x -C /tmp/before``;
its ``--quit-after-open`` must also apply to ``--open-sample``) is measured in
the same interleaved runs, for before/after figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
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
HEAVY = ("torch", "sklearn", "pydicom")
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from desktop.main_window import MainWindow
w = MainWindow(); w.show()
app.processEvents()
heavy = [m for m in HEAVY if m in sys.modules]
assert not heavy, f"imported before the window: {heavy}"
"""

SAMPLE = ["-m", "desktop", "--open-sample", "--quit-after-open"]


def _time(args: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = Path(args[at + 1]).resolve()
        del args[at : at + 2]
    n = int(args[0]) if args else 7
    with tempfile.TemporaryDirectory(prefix="stethos-startup-") as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   STETHOS_CONFIG_DIR=f"{tmp}/config", STETHOS_DATA_DIR=f"{tmp}/data",
                   STETHOS_LOG_DIR=f"{tmp}/log",
                   STETHOS_WARM_UP="0")  # fmt: skip
        cases: dict[str, tuple[list[str], Path]] = {
            "minimal PySide6 window": (["-c", MINIMAL], REPO),
            "Stethos main window": (["-c", STETHOS], REPO),
            "Stethos window + sample": (SAMPLE, REPO),
        }
        if before is not None:
            old = STETHOS.replace(', "pydicom")', ")")  # imported before the window then
            cases["before: main window"] = (["-c", old], before)
            cases["before: window + sample"] = (SAMPLE, before)
        for argv, cwd in cases.values():
            _time(argv, env, cwd)  # warm the disk cache
        runs: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(n):
            for key, (argv, cwd) in cases.items():
                runs[key].append(_time(argv, env, cwd))
    base = statistics.median(runs["minimal PySide6 window"])
    print(f"runs: {n} each (median), interleaved; {os.cpu_count()} CPU cores")
    for key, times in runs.items():
        t = statistics.median(times)
        extra = "" if t == base else f"  ({t / base:.2f}x, +{(t - base) * 1000:.0f} ms)"
        print(f"{key:<26}: {t * 1000:7.0f} ms{extra}")
    print("target: window + sample ≤ +500 ms over the minimal window")


if __name__ == "__main__":
    main()

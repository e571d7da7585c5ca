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
Run: ``.venv/bin/python benchmarks/startup.py [N] [--before CHECKOUT] [--phases]``;
with ``--before`` another checkout (``git archive <commit> | tar -x -C /tmp/before``;
its ``--quit-after-open`` must also apply to ``--open-sample``) is measured in
the same interleaved runs, for before/after figures. ``--phases`` adds N more
runs of each "window + sample" case (not part of the figures above) that note
when the viewer first painted (the window on screen) and first painted a decoded
image (the sample on screen), counted from the launch like the wall times; a
run whose process ended without painting the image says so.
"""

from __future__ import annotations

import json
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

#: ``python -m desktop --open-sample --quit-after-open`` noting its viewer's paints. The clock
#: is CLOCK_MONOTONIC (time.perf_counter), shared with the parent that passes the launch time.
PHASES = """
import json, os, sys, time
T0 = float(os.environ["STARTUP_T0"])
marks = {}
from desktop.viewer.image_view import ImageView
_paint = ImageView.paintEvent
def paintEvent(self, event):
    _paint(self, event)
    now = (time.perf_counter() - T0) * 1000
    marks.setdefault("window", now)
    if self._pixmap is not None:
        marks.setdefault("sample", now)
ImageView.paintEvent = paintEvent
from desktop.app import main
sys.argv = ["stethos", "--open-sample", "--quit-after-open"]
code = main()
marks["main returned"] = (time.perf_counter() - T0) * 1000
print(json.dumps(marks))
sys.exit(code)
"""


def _time(args: list[str], env: dict[str, str], cwd: Path = REPO) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, cwd=cwd, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)  # fmt: skip
    return time.perf_counter() - start


def _phases(env: dict[str, str], cwd: Path) -> dict[str, float]:
    """One run of :data:`PHASES`: its marks (ms from the launch) and the process end."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PHASES], check=True, cwd=cwd,
                          env=dict(env, STARTUP_T0=repr(start)), capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    marks = json.loads(done.stdout.strip().splitlines()[-1])
    marks["process end"] = (time.perf_counter() - start) * 1000
    return marks


def _print_phases(runs: dict[str, list[dict[str, float]]]) -> None:
    print("phases (median ms from the launch; sample = first paint of the decoded image):")
    for key, marks in runs.items():
        parts = []
        for name in ("window", "sample", "main returned", "process end"):
            values = [m[name] for m in marks if name in m]
            missing = len(marks) - len(values)
            text = f"{statistics.median(values):.0f}" if values else "-"
            parts.append(f"{name} {text}" + (f" (not in {missing} runs)" if missing else ""))
        print(f"  {key:<24}: " + ", ".join(parts))


def main() -> None:
    args = sys.argv[1:]
    phases = "--phases" in args
    if phases:
        args.remove("--phases")
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
        phase_runs: dict[str, list[dict[str, float]]] = {}
        if phases:
            sample_cases = {k: cwd for k, (argv, cwd) in cases.items() if argv is SAMPLE}
            phase_runs = {k: [] for k in sample_cases}
            for _ in range(n):
                for key, cwd in sample_cases.items():
                    phase_runs[key].append(_phases(env, cwd))
    base = statistics.median(runs["minimal PySide6 window"])
    print(f"runs: {n} each (median), interleaved; {os.cpu_count()} CPU cores")
    for key, times in runs.items():
        t = statistics.median(times)
        extra = "" if t == base else f"  ({t / base:.2f}x, +{(t - base) * 1000:.0f} ms)"
        print(f"{key:<26}: {t * 1000:7.0f} ms{extra}")
    print("target: window + sample ≤ +500 ms over the minimal window")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: modules without a cached .pyc are compiled "
              "in every run (an installed app ships them compiled)")  # fmt: skip
    if phase_runs:
        _print_phases(phase_runs)


if __name__ == "__main__":
    main()

"""UI-thread stalls: the longest gap in a 5 ms heartbeat while the real window works.

A 5 ms ``QTimer`` (precise) ticks on the UI thread of the real
:class:`~desktop.main_window.MainWindow` (offscreen, with the app's
UI-thread garbage collector). The stall of a step is the largest gap
between consecutive ticks minus 5 ms, from just before the step is started
(the trigger itself runs on the UI thread) until every job runner of the
window has been idle for one second (so the result's paint and the garbage
collections that follow are included). Steps, each phase in a fresh process:

- ``series``: open a folder holding a synthetic 300-slice 512×512 16-bit CT
  series (uncompressed, with geometry; written here with
  :func:`engine.dicom.synthetic.write_ct_series`): scan, first slice, load;
- ``image``: open the bundled sample radiograph (File ▸ Open sample study),
  then Analyze image (the pneumonia model with its heat map);
- ``ecg``: open MIT-BIH record 119 (the sample Holter ECG), then Analyze ECG;
- ``record``: fill the record form, then Analyze record;
- ``retrieve``: File ▸ Query PACS… on a throw-away Orthanc (Debian package
  ``orthanc``, loopback) holding the same CT: search, then retrieve the study
  by C-GET; the first image is shown as soon as it arrives (its time after the
  click is printed: target ≤ 1 s), the whole series when the retrieve ends;
- ``receive``: the application's listener (File ▸ DICOM network… ▸ Receive)
  while dcmtk's ``storescu`` sends the same 300 files; the step ends when the
  browser lists all 300;
- ``dicom``: after opening the sample radiograph and analysing it (not timed
  here: the ``image`` phase times them), Analysis ▸ Save result as DICOM (SR,
  heat-map SEG and overlay capture into a temporary folder), then open the
  study with those objects (its findings listed, the stored heat map shown);
- ``holter`` (only when named in ``--phases``: it takes minutes): open a 24-hour two-lead
  Holter (MIT-BIH records concatenated, as ``benchmarks/holter_rhythm.py`` builds it), then
  Analysis ▸ Rhythm report (110,000 beats listed, 8,600 windows, the report panel);
- ``idle``: the same window doing nothing, for as long as the longest step
  took (the baseline: what the machine alone costs the heartbeat).

Each phase runs ``--runs`` times (3) in fresh processes; printed: median
[worst] per step, its excess over the idle baseline, the worst step and the
overall worst against the 50 ms target. ``--trace`` also prints, for each
gap over 20 ms, what the threads were running around it (a sampling thread;
it perturbs the timings, so use it to find causes, not to report numbers).

    .venv/bin/python benchmarks/ui_stall.py [--runs 3] [--phases series,image,ecg,record,retrieve,receive,holter]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICK_MS = 5
TARGET_MS = 50.0
TAIL_S = 1.0
START_TIMEOUT_S = 20.0
PHASES = ("series", "image", "ecg", "record", "retrieve", "receive", "dicom", "holter")
DEFAULT_PHASES = PHASES[:-1]
STEPS = {
    "series": ("open 300-slice CT",),
    "image": ("open radiograph", "image analysis"),
    "ecg": ("open ECG (MIT-BIH 119)", "ECG analysis"),
    "record": ("record analysis",),
    "retrieve": ("PACS search", "PACS retrieve 300"),
    "receive": ("receive 300 (storescu)",),
    "dicom": ("save result as DICOM", "open study with its AI result"),
    "holter": ("open 24-h Holter", "rhythm report (24 h)"),
}
RECORD = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip


# --- child: one phase in this process ------------------------------------------------
class _Sampler:
    """A thread that records every thread's innermost frames each millisecond (``--trace``).

    It reads the stacks with :func:`faulthandler.dump_traceback`, which walks
    the interpreter's frames without creating frame objects for the other
    threads (``sys._current_frames`` did, and crashed Python 3.11 now and then).
    """

    def __init__(self) -> None:
        import threading

        self.samples: list[tuple[float, str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import faulthandler
        import re
        import threading

        me = f"0x{threading.get_ident():016x}"
        header = re.compile(r"^(?:Current thread|Thread) (0x[0-9a-f]+)")
        line = re.compile(r'^  File "(.*)", line (\d+) in (.*)$')
        with tempfile.TemporaryFile() as out:
            fd = out.fileno()
            while not self._stop.wait(0.001):
                now = time.perf_counter()
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                faulthandler.dump_traceback(fd, all_threads=True)
                text = os.pread(fd, 1 << 20, 0).decode("utf-8", "replace")
                names = {f"0x{t.ident or 0:016x}": t.name for t in threading.enumerate()}
                ident, where = None, []
                for row in [*text.splitlines(), "Thread 0x0 end"]:
                    found = header.match(row)
                    if found:
                        if ident is not None and ident != me and where:
                            self.samples.append((now, names.get(ident, ident), " < ".join(where)))
                        ident, where = found.group(1), []
                        continue
                    frame = line.match(row)
                    if frame and len(where) < 4:
                        name = Path(frame.group(1)).name
                        where.append(f"{name}:{frame.group(2)} {frame.group(3)}")

    def around(self, t0: float, t1: float) -> list[str]:
        """What each thread ran in ``[t0, t1]`` and in the first sample after it."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        after = [s for s in self.samples if s[0] > t1][:8]
        lines = []
        seen: set[tuple[str, str]] = set()
        for t, name, where in inside + after:
            if (name, where) in seen:
                continue
            seen.add((name, where))
            lines.append(f"      {(t - t0) * 1000:+7.1f} ms {name}: {where}")
        return lines[:24]


def _child(
    phase: str, folder: str | None, idle_s: float, trace: bool, pacs_port: int = 0
) -> dict:  # fmt: skip
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QApplication, QWidget

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from desktop.gc_guard import MainThreadGarbageCollector

    guard = MainThreadGarbageCollector(app)  # as desktop.app.main does
    from desktop.jobs import JobRunner
    from desktop.main_window import MainWindow

    sys.path.insert(0, str(REPO))
    from tests.desktop.test_ui_thread import find_action as find_window_action

    if phase == "retrieve":  # a workstation starts with its configured PACS
        from engine.net import Node, add_node

        add_node(Node("bench", "ORTHANC", "127.0.0.1", pacs_port), replace_existing=True)
    window = MainWindow()
    window.resize(1400, 900)
    window.show()

    ticks: list[float] = []
    outcomes: list[tuple[str, object]] = []
    state = {"done": None}
    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(TICK_MS)

    def runners() -> list[JobRunner]:
        return window.findChildren(JobRunner)

    hooked: set[int] = set()

    def hook_runners() -> None:
        for r in runners():
            if id(r) in hooked:
                continue
            hooked.add(id(r))
            r.started.connect(lambda name: outcomes.append(("started", name)))
            r.succeeded.connect(lambda _p: outcomes.append(("succeeded", None)))
            r.failed.connect(lambda f: outcomes.append(("failed", f.user_message + f.details)))

    last_busy = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        ticks.append(now)
        check = state["done"]
        if check is not None and check(now):
            loop.quit()

    heartbeat.timeout.connect(tick)
    loop = QEventLoop()

    def run_for(seconds: float) -> None:
        end = time.perf_counter() + seconds
        state["done"] = lambda now: now >= end
        loop.exec()
        state["done"] = None

    def jobs_settled(now: float) -> bool:
        if any(r.busy for r in runners()):
            last_busy[0] = now
            return False
        started = any(kind == "started" for kind, _ in outcomes)
        if not started:
            return now - last_busy[0] > START_TIMEOUT_S  # nothing started: give up
        return now - last_busy[0] >= TAIL_S

    def find_action(object_name: str, text: str) -> QAction:
        return find_window_action(window, object_name, text)

    sampler = _Sampler() if trace else None
    heartbeat.start()
    run_for(1.0)  # start-up work (first paint, settings) is over
    if sampler is not None:
        sampler.start()
    results: dict[str, dict] = {}

    def step(name: str, trigger, timeout_s: float = 300.0, until=None) -> None:
        hook_runners()
        outcomes.clear()
        last_busy[0] = time.perf_counter()
        first = len(ticks)
        start = time.perf_counter()
        ticks.append(start)  # the trigger runs on the UI thread: it counts
        trigger()
        hook_runners()
        deadline = start + timeout_s

        def settled(now: float) -> bool:
            if until is not None and not until():
                last_busy[0] = now
                return False
            return jobs_settled(now)

        state["done"] = lambda now: settled(now) or now > deadline
        loop.exec()
        state["done"] = None
        seen = ticks[first:]
        gaps = [b - a for a, b in itertools.pairwise(seen)]
        worst = max(range(len(gaps)), key=gaps.__getitem__)
        failures = [str(p) for kind, p in outcomes if kind == "failed"]
        if failures or not any(kind == "succeeded" for kind, _ in outcomes):
            raise SystemExit(f"{name}: no success ({failures[:1] or 'timed out'})")
        results[name] = {
            "stall_ms": gaps[worst] * 1000 - TICK_MS,
            "at_s": seen[worst] - start,
            "duration_s": seen[-1] - start - TAIL_S,
            "over_50ms": sum(g * 1000 - TICK_MS > TARGET_MS for g in gaps),
            "top": [
                (round(gaps[i] * 1000 - TICK_MS), round(seen[i] - start, 2))
                for i in sorted(range(len(gaps)), key=gaps.__getitem__)[-5:][::-1]
            ],
        }
        if sampler is not None:
            print(f"[{name}] gaps over 20 ms:", file=sys.stderr)
            for i, g in enumerate(gaps):
                if g > 0.020 + TICK_MS / 1000:
                    t0, t1 = seen[i], seen[i + 1]
                    print(f"   {g * 1000:6.1f} ms at {t0 - start:6.2f} s", file=sys.stderr)
                    for line in sampler.around(t0, t1):
                        print(line, file=sys.stderr)

    if phase == "idle":
        first = len(ticks)
        run_for(idle_s)
        seen = ticks[first:]
        gaps = [b - a for a, b in itertools.pairwise(seen)]
        results["idle window"] = {
            "stall_ms": max(gaps) * 1000 - TICK_MS,
            "duration_s": seen[-1] - seen[0],
            "over_50ms": sum(g * 1000 - TICK_MS > TARGET_MS for g in gaps),
        }
    elif phase == "series":
        assert folder is not None
        step("open 300-slice CT", lambda: window.open_paths([Path(folder)]))
        stack = getattr(getattr(window, "viewer", None), "stack", "unknown")
        if stack is None or getattr(stack, "loading", False):
            raise SystemExit("the series did not load")
    elif phase == "image":
        step("open radiograph", find_action("", "Open sample study").trigger)
        step("image analysis", find_action("analyze_image_action", "Analyze image").trigger)
        viewer = getattr(window, "viewer", None)
        if viewer is not None and getattr(viewer, "heatmap", "unknown") is None:
            raise SystemExit("no heat map after the image analysis")
    elif phase == "ecg":
        step(
            "open ECG (MIT-BIH 119)",
            find_action("open_holter_ecg_action", "Open sample Holter ECG (MIT-BIH 119)").trigger,
        )
        step("ECG analysis", find_action("analyze_ecg_action", "Analyze ECG").trigger)
    elif phase == "holter":
        assert folder is not None
        step("open 24-h Holter", lambda: window.open_paths([Path(folder) / "holter.hea"]))
        step("rhythm report (24 h)",
             find_action("rhythm_report_action", "Rhythm report").trigger, timeout_s=900.0)  # fmt: skip
        prediction = getattr(getattr(window, "ecg", None), "prediction", None)
        if prediction is None or "rhythm" not in prediction.extra:
            raise SystemExit("no rhythm report after the 24-hour analysis")
    elif phase == "record":
        form = getattr(window, "form", None) or window.findChild(QWidget, "record_form")
        form.set_record(RECORD)
        step("record analysis", find_action("", "Analyze record").trigger)
    elif phase == "retrieve":
        window.show_query()
        dialog = window.dialogs["query"]
        dialog.node_box.setCurrentIndex(dialog.node_box.findData("bench"))
        step("PACS search", dialog.search_button.click)
        dialog.tree.setCurrentItem(dialog.tree.topLevelItem(0))
        shown: list[float] = []  # when the viewer first holds an image (a slice or the file)

        def on_image(_payload: object) -> None:
            if not shown and window.viewer.stack is not None:
                shown.append(time.perf_counter())

        window.image_jobs.partial.connect(on_image, Qt.ConnectionType.QueuedConnection)
        window.image_jobs.succeeded.connect(on_image, Qt.ConnectionType.QueuedConnection)
        clicked = time.perf_counter()
        step("PACS retrieve 300", dialog.retrieve_button.click)
        stack = window.viewer.stack
        if stack is None or stack.loading or stack.n_frames != 300:
            raise SystemExit("the retrieved series did not load whole")
        results["PACS retrieve 300"]["first_image_s"] = shown[0] - clicked
    elif phase == "dicom":
        find_action("", "Open sample study").trigger()
        run_for(5.0)
        step("(image analysis)", find_action("analyze_image_action", "Analyze image").trigger)
        results.pop("(image analysis)")
        out = Path(tempfile.mkdtemp(prefix="stethos-ai-"))
        ai = window.ai_dicom
        step("save result as DICOM", lambda: ai.save_to(out))
        if len(list(out.glob("*.dcm"))) != 3:
            raise SystemExit("the result's DICOM objects were not written")
        window.close_studies()
        window.viewer.clear_heatmap()
        from desktop.main_studies import SAMPLE_STUDY
        from engine.resources import resource_path

        paths = [resource_path(*SAMPLE_STUDY), out]
        step("open study with its AI result", lambda: window.open_paths(paths),
             until=lambda: window.viewer.heatmap is not None)  # fmt: skip
    elif phase == "receive":
        import shutil

        from engine.net import NetSettings, Node, save_settings

        port = _free_port()
        save_settings(NetSettings(aet="STETHOS", port=port, nodes=(
            Node("modality", "STORESCU", "127.0.0.1", 104),)))  # fmt: skip
        window.receive_service.host = "127.0.0.1"
        window.receive_service.start()
        assert folder is not None
        sender: list[subprocess.Popen] = []

        def send() -> None:
            sender.append(subprocess.Popen(
                [shutil.which("storescu") or "storescu", "-aet", "STORESCU", "-aec", "STETHOS",
                 "+sd", "127.0.0.1", str(port), folder],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip

        def all_listed() -> bool:
            items = list(window.browser._series_items.values())
            refs = [i.data(0, Qt.ItemDataRole.UserRole) for i in items]
            return (
                bool(sender)
                and sender[0].poll() is not None
                and any(r is not None and len(r.series.instances) == 300 for r in refs)
            )

        step("receive 300 (storescu)", send, until=all_listed)
        window.receive_service.stop()
    heartbeat.stop()
    if sampler is not None:
        sampler.stop()
    window.close()
    guard.stop()
    return results


# --- parent ---------------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_child(
    phase: str, folder: Path | None, idle_s: float, trace: bool, env: dict, pacs_port: int = 0
) -> dict:  # fmt: skip
    cmd = [sys.executable, "-W", "ignore", __file__, "--child", phase, "--idle-s", str(idle_s),
           "--pacs-port", str(pacs_port)]  # fmt: skip
    if folder is not None:
        cmd += ["--folder", str(folder)]
    if trace:
        cmd.append("--trace")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if trace and proc.stderr:
        print(proc.stderr, file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fmt_s(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} [{max(values):.2f}]"


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):6.0f} [{max(values):4.0f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--phases", default=",".join(DEFAULT_PHASES))
    parser.add_argument("--trace", action="store_true", help="attribute each gap over 20 ms")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--idle-s", type=float, default=3.0, help=argparse.SUPPRESS)
    parser.add_argument("--pacs-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.folder, args.idle_s, args.trace,
                                args.pacs_port)))  # fmt: skip
        return 0

    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}")
    with tempfile.TemporaryDirectory(prefix="stethos-ui-stall-") as tmp:
        root = Path(tmp)
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        for key, sub in (
            ("STETHOS_DATA_DIR", "data"),
            ("STETHOS_LOG_DIR", "log"),
            ("STETHOS_CONFIG_DIR", "config"),
        ):
            env[key] = str(root / sub)  # the user's own folders stay untouched
        folder = None
        if {"series", "retrieve", "receive"} & set(phases):
            from engine.dicom.synthetic import write_ct_series

            folder = root / "ct"
            write_ct_series(folder, 300, rows=512, cols=512, seed=1)
        holter = None
        if "holter" in phases:
            sys.path.insert(0, str(REPO))
            from benchmarks.holter_rhythm import build_holter

            holter = root / "holter"
            holter.mkdir()
            build_holter(holter, 24.0, REPO.parent / "shared" / "data" / "ecg" / "mitdb")
        pacs = None
        if "retrieve" in phases:
            sys.path.insert(0, str(REPO))
            from benchmarks import _orthanc

            pacs = _orthanc.start(root / "orthanc")
            if pacs is None:
                parser.error("the retrieve phase needs Orthanc (Debian package orthanc)")
            pacs.upload(sorted(folder.iterdir()))  # type: ignore[union-attr]
        print(
            f"UI-thread stall = longest gap between {TICK_MS} ms heartbeat ticks minus {TICK_MS} ms; "
            f"{args.runs} fresh processes per phase, median [worst]; "
            f"{os.cpu_count()} CPU cores, load {os.getloadavg()[0]:.2f}"
        )
        per_step: dict[str, list[dict]] = {}
        for _ in range(args.runs):  # interleave phases so machine noise hits all alike
            for phase in phases:
                fresh = tempfile.mkdtemp(prefix=f"{phase}-", dir=root)
                env["STETHOS_CONFIG_DIR"] = str(Path(fresh) / "config")
                env["STETHOS_DATA_DIR"] = str(Path(fresh) / "data")  # an empty DICOM cache
                out = _run_child(phase, holter if phase == "holter" else folder, 0.0, args.trace,
                                 env, pacs.dicom_port if pacs else 0)  # fmt: skip
                for name, r in out.items():
                    per_step.setdefault(name, []).append(r)
        if pacs is not None:
            pacs.stop()
        longest = max(statistics.median(r["duration_s"] for r in rs) for rs in per_step.values())
        idle = [
            _run_child("idle", None, max(longest, 1.0), False, env)["idle window"]
            for _ in range(args.runs)
        ]
    idle_ms = [r["stall_ms"] for r in idle]
    idle_median = statistics.median(idle_ms)
    print(
        f"\n{'step':<24} {'stall ms':>13}  {'excess':>7}  {'ratio':>6}  {'>50 ms':>6}  {'step s':>6}"
    )
    print(
        f"{'idle window (baseline)':<24} {_fmt(idle_ms)}  {'':>7}  {'':>6}  "
        f"{statistics.median(r['over_50ms'] for r in idle):6.0f}  {idle[0]['duration_s']:6.1f}"
    )
    worst_name, worst_value = "", -1.0
    for phase in phases:
        for name in STEPS[phase]:
            rs = per_step[name]
            stalls = [r["stall_ms"] for r in rs]
            median = statistics.median(stalls)
            if max(stalls) > worst_value:
                worst_name, worst_value = name, max(stalls)
            print(
                f"{name:<24} {_fmt(stalls)}  {median - idle_median:+7.0f}  "
                f"{median / max(idle_median, 1.0):5.1f}x  "
                f"{statistics.median(r['over_50ms'] for r in rs):6.0f}  "
                f"{statistics.median(r['duration_s'] for r in rs):6.1f}"
            )
    by_median = max(
        (n for p in phases for n in STEPS[p]),
        key=lambda n: statistics.median(r["stall_ms"] for r in per_step[n]),
    )
    verdict = "meets" if worst_value <= TARGET_MS else "exceeds"
    print(
        f"\noverall worst stall: {worst_value:.0f} ms in '{worst_name}' ({verdict} the target "
        f"≤ {TARGET_MS:.0f} ms); idle baseline {idle_median:.0f} [{max(idle_ms):.0f}] ms"
    )
    print(f"worst step by median: '{by_median}'")
    if "PACS retrieve 300" in per_step:
        firsts = [r["first_image_s"] for r in per_step["PACS retrieve 300"]]
        whole = [r["duration_s"] for r in per_step["PACS retrieve 300"]]
        print(
            f"retrieve: first image on screen {_fmt_s(firsts)} s after the click (target ≤ 1 s), "
            f"whole series {_fmt_s(whole)} s; ratio {statistics.median(firsts) / statistics.median(whole):.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Engine work runs off the UI thread, and the UI thread's event loop keeps running meanwhile.

Structural checks, no clock: jobs are held on events the test controls, and
every wait is bounded by a qtbot timeout only. How long the UI thread stalls
(the GIL, imports, paints) is measured by ``benchmarks/ui_stall.py``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from desktop.jobs import JobRunner
from engine.resources import resource_path
from tests.desktop.conftest import VALID_RECORD

WAIT_MS = 10_000  # a generous bound for things that happen at once


def test_the_job_function_runs_on_a_worker_thread_and_its_result_comes_back_on_the_ui_thread(
    qtbot,
):
    runner = JobRunner()
    ran_on: list[threading.Thread] = []
    delivered_on: list[threading.Thread] = []

    def job(*, progress, cancel):
        ran_on.append(threading.current_thread())
        progress(1.0, "done")
        return 42

    runner.succeeded.connect(lambda _r: delivered_on.append(threading.current_thread()))
    with qtbot.waitSignal(runner.succeeded, timeout=WAIT_MS) as result:
        runner.submit(job, name="probe")
    assert result.args == [42]
    assert len(ran_on) == 1 and ran_on[0] is not threading.main_thread()
    assert delivered_on == [threading.main_thread()]


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.got: list[int] = []

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.User:
            self.got.append(1)
            return True
        return super().event(event)


def test_the_ui_event_loop_runs_while_a_job_is_blocked(qtbot):
    runner = JobRunner()
    entered, release = threading.Event(), threading.Event()

    def job(*, progress, cancel):
        progress(0.5, "half way")  # sent before blocking: must arrive while still blocked
        entered.set()
        if not release.wait(60):  # bounded, so a broken test cannot hang the suite
            raise RuntimeError("never released")
        return "finished"

    progressed: list[float] = []
    runner.progressed.connect(lambda fraction, _text: progressed.append(fraction))
    runner.submit(job, name="blocked")
    qtbot.waitUntil(entered.is_set, timeout=WAIT_MS)
    assert runner.busy
    try:
        # A timer, a posted event and the job's own queued progress signal are all
        # handled by the UI thread while the worker is still inside the job.
        fired: list[bool] = []
        QTimer.singleShot(0, lambda: fired.append(True))
        qtbot.waitUntil(lambda: bool(fired), timeout=WAIT_MS)
        receiver = _Receiver()
        QCoreApplication.postEvent(receiver, QEvent(QEvent.Type.User))
        qtbot.waitUntil(lambda: bool(receiver.got), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: progressed == [0.5], timeout=WAIT_MS)
        ticks: list[int] = []
        heartbeat = QTimer()
        heartbeat.setInterval(1)
        heartbeat.timeout.connect(lambda: ticks.append(1))
        heartbeat.start()
        qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=WAIT_MS)
        heartbeat.stop()
        assert runner.busy and not release.is_set()
    finally:
        with qtbot.waitSignal(runner.succeeded, timeout=WAIT_MS) as result:
            release.set()
    assert result.args == ["finished"]


def test_cancel_does_not_wait_for_a_blocked_job(qtbot):
    runner = JobRunner()
    entered, release = threading.Event(), threading.Event()

    def job(*, progress, cancel):
        entered.set()
        release.wait(60)
        return "late"

    late: list[object] = []
    runner.succeeded.connect(late.append)
    runner.submit(job, name="blocked")
    qtbot.waitUntil(entered.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(runner.cancelled, timeout=WAIT_MS):
        runner.cancel()  # returns while the worker is still blocked
    assert not runner.busy and not release.is_set()
    release.set()
    assert runner.wait(WAIT_MS / 1000)
    qtbot.wait(0)  # deliver anything queued by the worker: the late result is dropped
    assert late == []


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_job_outliving_its_dialog_ends_quietly(qtbot):
    """The dialog (and its runner) is deleted while the job runs: the job's last progress and
    outcome go nowhere, without an exception in the worker thread."""
    owner = QObject()
    runner = JobRunner(owner)
    entered, release = threading.Event(), threading.Event()

    def job(*, progress, cancel):
        entered.set()
        release.wait(60)
        progress(1.0, "done")
        return "late"

    runner.submit(job, name="orphaned")
    qtbot.waitUntil(entered.is_set, timeout=WAIT_MS)
    thread = runner._thread
    assert thread is not None
    owner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    release.set()
    thread.join(WAIT_MS / 1000)
    assert not thread.is_alive()
    qtbot.wait(0)


def test_a_partial_result_is_handled_by_the_ui_thread_before_the_job_goes_on(qtbot):
    """The worker does not race on while the UI thread shows a partial result (a first
    slice): both need the interpreter, so the handover keeps the UI's part short."""
    runner = JobRunner()
    handled: list[str] = []
    seen_by_job: list[list[str]] = []

    def job(*, progress, cancel, partial):
        partial("first slice")
        seen_by_job.append(list(handled))
        partial("thumbnail")
        seen_by_job.append(list(handled))
        return "loaded"

    runner.partial.connect(handled.append)
    with qtbot.waitSignal(runner.succeeded, timeout=WAIT_MS):
        runner.submit(job, name="partial", with_partial=True)
    assert seen_by_job == [["first slice"], ["first slice", "thumbnail"]]


def test_a_job_waiting_on_its_partial_result_goes_on_when_cancelled(qtbot):
    runner = JobRunner()
    returned = threading.Event()
    shown: list[object] = []

    def job(*, progress, cancel, partial):
        partial("never shown")
        returned.set()

    runner.partial.connect(shown.append)
    runner.submit(job, name="partial", with_partial=True)
    # the UI thread handles no event here, so the partial result stays queued
    runner.cancel()
    assert returned.wait(WAIT_MS / 1000)
    assert runner.wait(WAIT_MS / 1000)
    qtbot.wait(0)  # the queued partial of the cancelled job is dropped
    assert shown == []


# --- the real window: which thread runs the engine --------------------------------------
class _EngineCalls:
    """Records the thread of every call into a function of ``engine`` that takes
    ``progress`` or ``cancel``: the functions that do the long work."""

    PREFIX = "engine."

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self._cache: dict[object, str | None] = {}

    def _name(self, frame) -> str | None:
        code = frame.f_code
        try:
            return self._cache[code]
        except KeyError:
            pass
        module = frame.f_globals.get("__name__", "")
        n_args = code.co_argcount + code.co_kwonlyargcount
        takes = {"progress", "cancel"} & set(code.co_varnames[:n_args])
        name = f"{module}.{code.co_qualname}" if module.startswith(self.PREFIX) and takes else None
        self._cache[code] = name
        return name

    def hook(self, frame, event, _arg) -> None:
        if event == "call":
            name = self._name(frame)
            if name is not None:
                self.calls.append((name, threading.get_ident()))

    def __enter__(self) -> _EngineCalls:
        threading.setprofile(self.hook)
        sys.setprofile(self.hook)
        return self

    def __exit__(self, *exc) -> None:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]

    def on_main(self) -> list[str]:
        main = threading.main_thread().ident
        return sorted({name for name, ident in self.calls if ident == main})

    def on_workers(self, since: int = 0) -> set[str]:
        main = threading.main_thread().ident
        return {name for name, ident in self.calls[since:] if ident != main}


def find_action(window: QWidget, object_name: str, text: str) -> QAction:
    """The window's action of this object name, else the one of this text (``&`` ignored).

    Also used by ``benchmarks/ui_stall.py``."""
    actions = window.findChildren(QAction)
    for a in actions:
        if object_name and a.objectName() == object_name:
            return a
    for a in actions:
        if a.text().replace("&", "") == text:
            return a
    raise AssertionError(f"no action {object_name!r} or {text!r} in the window")


def _run_until_idle(qtbot, window: QWidget, trigger: Callable[[], None], timeout: int) -> None:
    """Trigger, then wait until a job started and every job runner of the window is idle."""
    events: list[str] = []
    runners = window.findChildren(JobRunner)
    for r in runners:
        r.started.connect(lambda _name: events.append("started"))
        r.succeeded.connect(lambda _r: events.append("succeeded"))
        r.failed.connect(lambda f: events.append(f"failed: {f.user_message}\n{f.details}"))
    trigger()
    qtbot.waitUntil(
        lambda: "started" in events and not any(r.busy for r in window.findChildren(JobRunner)),
        timeout=timeout,
    )
    failures = [e for e in events if e.startswith("failed")]
    assert not failures, failures[0]
    assert "succeeded" in events


@pytest.mark.slow
def test_the_three_analyses_run_their_engine_code_on_worker_threads(qtbot, window, tmp_path):
    pytest.importorskip("torch")
    radiograph = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")
    steps = {
        "open radiograph": (lambda: window.open_paths([radiograph]), 30_000),
        "image analysis": (
            find_action(window, "analyze_image_action", "Analyze image").trigger,
            120_000,
        ),
        "save result as DICOM": (lambda: window.ai_dicom.save_to(tmp_path / "dicom"), 60_000),
        "open ECG": (
            find_action(window, "open_sample_ecg_action", "Open sample 12-lead ECG").trigger,
            30_000,
        ),
        "ECG analysis": (find_action(window, "analyze_ecg_action", "Analyze ECG").trigger, 120_000),
        "fill the record": (
            lambda: window.findChild(QWidget, "record_form").set_record(VALID_RECORD),
            None,
        ),
        "record analysis": (find_action(window, "", "Analyze record").trigger, 120_000),
    }
    on_workers: dict[str, set[str]] = {}
    with _EngineCalls() as probe:
        for name, (trigger, timeout) in steps.items():
            mark = len(probe.calls)
            if timeout is None:
                trigger()
            else:
                _run_until_idle(qtbot, window, trigger, timeout)
            on_workers[name] = probe.on_workers(since=mark)
    assert probe.on_main() == [], "engine work ran on the UI thread"
    # each analysis ran the engine's analysis (and what it calls) on a worker thread
    for name in ("image analysis", "ECG analysis", "record analysis"):
        calls = on_workers[name]
        assert any(c.rsplit(".", 1)[-1].startswith("analy") for c in calls), (name, sorted(calls))
    assert "engine.workflow.dicom_results.export_result_dicom" in on_workers["save result as DICOM"]
    assert len(list((tmp_path / "dicom").glob("*.dcm"))) == 3

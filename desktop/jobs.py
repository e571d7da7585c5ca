"""The one way to run engine work off the UI thread.

A :class:`JobRunner` belongs to one view and runs at most one job at a time:
submitting a new job cancels the previous one, whose late results are
dropped. The engine function is called as ``fn(*args, progress=..., cancel=...,
**kwargs)`` on a worker thread; its outcome comes back on the UI thread as
signals. Cancelling is not an error. A job submitted with ``with_partial=True``
also gets ``partial=callable``: each object it passes comes back on the UI
thread as the ``partial`` signal (a first slice, a thumbnail…), and the call
returns once the UI thread has handled it (or after
:data:`PARTIAL_HANDOVER_S`, or when the job is cancelled). So the worker does
not race on while the UI thread shows the partial result: both need the
interpreter, and a series load going on right after its first slice stretched
the UI thread's handling of that slice (20-40 ms alone) to 40-89 ms on a
two-core machine.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import EngineError, OperationCancelled
from engine.progress import CancelToken

log = logging.getLogger(__name__)

#: Minimum seconds between two progress signals of one job.
PROGRESS_INTERVAL_S = 0.05
#: Longest a worker waits for the UI thread to take one partial result, then it goes on.
PARTIAL_HANDOVER_S = 1.0


@dataclass(frozen=True)
class JobFailure:
    """Why a job failed: the exception, a message for people and the traceback."""

    error: BaseException
    user_message: str
    details: str


class _Bridge(QObject):
    """Lives on the UI thread; worker threads emit through it (queued).

    It has no Qt parent: Python owns it, and each worker thread holds it, so a
    window or dialog closed (and its runner deleted) while a job still runs
    leaves the thread a live object to emit through; the connections to the
    deleted runner are gone, so what it emits goes nowhere.
    """

    progressed = Signal(int, float, str)
    partial = Signal(int, object)
    done = Signal(int, str, object)

    def send(self, signal: str, *args: Any) -> None:
        """Emit ``signal`` from a worker thread; nothing when Qt has deleted the bridge."""
        try:
            getattr(self, signal).emit(*args)
        except RuntimeError:  # "Signal source has been deleted": nobody is left to tell
            pass


class JobRunner(QObject):
    """Runs one engine call at a time on a worker thread.

    Signals: ``started(name)``, ``progressed(fraction, text)``,
    ``partial(object)`` (intermediate results of the current job),
    ``succeeded(result)``, ``failed(JobFailure)``, ``cancelled()``,
    ``finished()`` (after any of the three outcomes).
    """

    started = Signal(str)
    progressed = Signal(float, str)
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    finished = Signal()

    _ids = itertools.count(1)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bridge = _Bridge()  # no parent: it outlives this runner while a job runs
        self._bridge.progressed.connect(self._on_bridge_progressed)
        self._bridge.partial.connect(self._on_bridge_partial)
        self._bridge.done.connect(self._on_bridge_done)
        self._current: int | None = None
        self._token: CancelToken | None = None
        self._thread: threading.Thread | None = None
        self._on_success: Callable[[Any], None] | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._current is not None

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        on_success: Callable[[Any], None] | None = None,
        with_partial: bool = False,
        **kwargs: Any,
    ) -> int:
        """Start ``fn`` on a worker thread, cancelling any running job first.

        With ``with_partial``, ``fn`` also receives ``partial=callable`` whose
        arguments arrive on the UI thread as the ``partial`` signal.
        """
        if self._current is not None:
            self.cancel()
        job_id = next(self._ids)
        token = CancelToken()
        self._current, self._token, self._on_success = job_id, token, on_success
        bridge = self._bridge
        last = [0.0]

        def progress(fraction: float, text: str = "") -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - last[0] >= PROGRESS_INTERVAL_S:
                last[0] = now
                bridge.send("progressed", job_id, float(fraction), text)

        if with_partial:

            def partial(payload: object) -> None:
                taken = threading.Event()
                bridge.send("partial", job_id, (payload, taken))
                deadline = time.monotonic() + PARTIAL_HANDOVER_S
                while not taken.wait(0.02):
                    if token.cancelled or time.monotonic() >= deadline:
                        break

            kwargs = {**kwargs, "partial": partial}

        def work() -> None:
            try:
                result = fn(*args, progress=progress, cancel=token, **kwargs)
            except OperationCancelled:
                bridge.send("done", job_id, "cancelled", None)
            except BaseException as exc:
                if token.cancelled:
                    bridge.send("done", job_id, "cancelled", None)
                    return
                details = "".join(traceback.format_exception(exc))
                message = (
                    exc.user_message
                    if isinstance(exc, EngineError)
                    else "An unexpected problem stopped this task. Details were written to the log."
                )
                if not isinstance(exc, EngineError):
                    log.error("job %s failed\n%s", name, details)
                bridge.send("done", job_id, "failed", JobFailure(exc, message, details))
            else:
                if token.cancelled:
                    bridge.send("done", job_id, "cancelled", None)
                else:
                    bridge.send("done", job_id, "succeeded", result)

        self._thread = threading.Thread(target=work, name=f"job-{name or job_id}", daemon=True)
        self.started.emit(name)
        self._thread.start()
        return job_id

    def cancel(self) -> None:
        """Ask the running job to stop; its outcome is reported as ``cancelled``."""
        if self._token is not None:
            self._token.cancel()
        if self._current is not None:
            self._current = None
            self._on_success = None
            self.cancelled.emit()
            self.finished.emit()

    def wait(self, timeout_s: float = 5.0) -> bool:
        """Block until the worker thread ends (used on close); True if it ended."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout_s)
        return not thread.is_alive()

    @Slot(int, float, str)
    def _on_bridge_progressed(self, job_id: int, fraction: float, text: str) -> None:
        if job_id == self._current:
            self.progressed.emit(fraction, text)

    @Slot(int, object)
    def _on_bridge_partial(self, job_id: int, handover: tuple[object, threading.Event]) -> None:
        payload, taken = handover
        try:
            if job_id == self._current:
                self.partial.emit(payload)
        finally:
            taken.set()  # the worker goes on

    @Slot(int, str, object)
    def _on_bridge_done(self, job_id: int, outcome: str, payload: object) -> None:
        if job_id != self._current:
            return  # a cancelled or superseded job: its outcome was already reported
        on_success = self._on_success
        self._current, self._token, self._on_success = None, None, None
        if outcome == "succeeded":
            if on_success is not None:
                on_success(payload)
            self.succeeded.emit(payload)
        elif outcome == "failed":
            self.failed.emit(payload)
        else:
            self.cancelled.emit()
        self.finished.emit()

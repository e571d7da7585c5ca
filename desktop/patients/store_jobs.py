"""Store work one job after another, off the UI thread, none dropped.

A bare :class:`~desktop.jobs.JobRunner` cancels its running job when a new
one comes: right for a search, wrong for a save. :class:`StoreJobs` queues
instead: a job submitted while another runs starts when it ends, in order,
so that a result saved right after its record finds the record there.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from desktop.jobs import JobFailure, JobRunner


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    on_success: Callable[[Any], None] | None = None
    on_failure: Callable[[JobFailure], None] | None = None


class StoreJobs(QObject):
    """A queue of engine calls run one at a time through a :class:`JobRunner`.

    Signals: ``started(name)`` as each job starts; ``failed(JobFailure)`` for
    a job submitted without ``on_failure``; ``finished()`` when the last job
    queued has ended (and the callbacks it queued more work from have run).
    """

    started = Signal(str)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self)
        self.runner.started.connect(self.started)
        self.runner.failed.connect(self._on_runner_failed)
        self.runner.finished.connect(self._on_runner_finished)
        self._pending: deque[_Job] = deque()
        self._current: _Job | None = None

    @property
    def busy(self) -> bool:
        """Whether a job runs or waits."""
        return self._current is not None or bool(self._pending)

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str = "",
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[JobFailure], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """Run ``fn(*args, progress=..., cancel=..., **kwargs)`` after the jobs before it."""
        self._pending.append(_Job(fn, args, kwargs, name, on_success, on_failure))
        if self._current is None:
            self._start_next()

    def cancel(self) -> None:
        """Drop the waiting jobs and stop waiting for the running one (it ends on its own)."""
        self._pending.clear()
        self._current = None
        self.runner.cancel()

    def wait(self, timeout_s: float = 5.0) -> bool:
        """Block until the running job's thread ends (used on close); True if it did."""
        return self.runner.wait(timeout_s)

    def finish(self, timeout_s: float) -> None:
        """On close: let the queued jobs end, callbacks included, then drop what is left."""
        deadline = time.monotonic() + timeout_s
        while self.busy and time.monotonic() < deadline:
            QCoreApplication.processEvents()  # the callbacks run on this thread
            self.runner.wait(0.05)
        self.cancel()
        self.runner.wait(5.0)

    def _start_next(self) -> None:
        job = self._current = self._pending.popleft()
        self.runner.submit(
            job.fn, *job.args, name=job.name, on_success=job.on_success, **job.kwargs
        )

    @Slot(object)
    def _on_runner_failed(self, failure: JobFailure) -> None:
        job = self._current
        if job is not None and job.on_failure is not None:
            job.on_failure(failure)
        else:
            self.failed.emit(failure)

    @Slot()
    def _on_runner_finished(self) -> None:
        if self.runner.busy:
            return  # a callback started the next job already
        self._current = None
        if self._pending:
            self._start_next()
        else:
            self.finished.emit()

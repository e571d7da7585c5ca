"""Progress reporting and cooperative cancellation for long engine work.

Every engine function that may take longer than ~50 ms takes
``progress: Progress = no_progress`` and ``cancel: CancelToken | None = None``,
reports a fraction in ``[0, 1]`` with a short status text, and calls
``check_cancelled(cancel)`` between units of work.
"""

from __future__ import annotations

import threading
from typing import Protocol

from engine.errors import OperationCancelled


class Progress(Protocol):
    """Callable receiving ``(fraction, text)``; must be cheap and thread-safe."""

    def __call__(self, fraction: float, text: str = "") -> None: ...


def no_progress(fraction: float, text: str = "") -> None:
    """A :class:`Progress` that ignores every report."""


class CancelToken:
    """A thread-safe flag that long work polls to stop early."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` has been called."""
        return self._event.is_set()


def check_cancelled(cancel: CancelToken | None) -> None:
    """Raise :class:`~engine.errors.OperationCancelled` if ``cancel`` is set."""
    if cancel is not None and cancel.cancelled:
        raise OperationCancelled()


def sub_progress(progress: Progress, start: float, stop: float) -> Progress:
    """Map a nested task's ``[0, 1]`` onto ``[start, stop]`` of ``progress``."""

    def report(fraction: float, text: str = "") -> None:
        progress(start + (stop - start) * min(max(fraction, 0.0), 1.0), text)

    return report

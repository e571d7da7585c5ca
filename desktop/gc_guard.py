"""Python's cyclic garbage collector, run on the UI thread only.

Automatic collection can start in whichever thread happens to allocate; if
that is a job's worker thread and the garbage holds Qt objects of the UI
thread, Qt deletes them from the wrong thread and the process crashes. So
automatic collection is switched off and a timer on the UI thread collects
when the allocation counts pass the usual thresholds (the approach of
pyqtgraph's ``GarbageCollector``).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class MainThreadGarbageCollector(QObject):
    """Disables automatic GC and collects from a UI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their threshold."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                gc.collect(generation)
                break

    def stop(self) -> None:
        """Restore automatic collection."""
        self._timer.stop()
        gc.enable()

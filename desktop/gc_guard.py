"""Python's cyclic garbage collector, run on the UI thread only, in short pauses.

Automatic collection can start in whichever thread happens to allocate; if
that is a job's worker thread and the garbage holds Qt objects of the UI
thread, Qt deletes them from the wrong thread and the process crashes. So
automatic collection is switched off and a timer on the UI thread collects
when the allocation counts pass the usual thresholds (the approach of
pyqtgraph's ``GarbageCollector``).

A collection pauses the UI thread for as long as it takes to scan the
objects of the generations collected, so two things keep the pauses short:

- **Import bursts are frozen, not scanned.** The first analysis imports
  torch, scikit-learn and the like on a worker thread: half a million
  objects that live as long as the process. Scanning them took 220 ms for
  the young generation and 400–850 ms for a full collection on a two-core
  machine. When many modules were imported since the last check, every
  tracked object is moved to the permanent generation instead
  (:func:`gc.freeze`, constant time); they are never scanned again. The price:
  reference cycles that already existed at that moment and die later are
  not reclaimed. This happens a handful of times per session (each module
  is imported once), so it is bounded.
- **Full collections follow CPython's own rule**: only when the objects that
  reached the oldest generation since the last full collection number at
  least a quarter of those it held then, so their cost stays proportional to
  the new objects instead of the whole heap.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer

#: Modules imported between two checks that make an import burst (frozen, not scanned).
IMPORT_BURST_MODULES = 20
#: A full collection waits until the oldest generation grew by this fraction (CPython's 25 %).
FULL_COLLECTION_GROWTH = 0.25


class MainThreadGarbageCollector(QObject):
    """Disables automatic GC and collects from a UI-thread timer instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._modules = len(sys.modules)
        self._long_lived = len(gc.get_objects(generation=2))
        self._not_grown_at: int | None = None  # see _full_collection_due
        self.frozen = 0  # how many times an import burst was frozen (for tests and logs)
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their threshold."""
        modules = len(sys.modules)
        burst = modules - self._modules >= IMPORT_BURST_MODULES
        self._modules = modules
        if burst:
            gc.freeze()
            self._long_lived = 0
            self._not_grown_at = None
            self.frozen += 1
            return
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] <= self._thresholds[generation]:
                continue
            if generation == 2 and not self._full_collection_due():
                continue  # not yet worth a full collection: collect a younger one
            gc.collect(generation)
            if generation == 2:
                self._long_lived = len(gc.get_objects(generation=2))
                self._not_grown_at = None
            break

    def _full_collection_due(self) -> bool:
        """Whether the oldest generation grew by :data:`FULL_COLLECTION_GROWTH`.

        Listing that generation takes time in proportion to its size (14 ms for
        60,000 objects on a two-core machine), so once it has not grown enough
        it is listed again only after a collection moved objects into it, not
        on every tick.
        """
        stats = gc.get_stats()
        moves = stats[1]["collections"] + stats[2]["collections"]
        if moves == self._not_grown_at:
            return False
        oldest = len(gc.get_objects(generation=2))
        if oldest - self._long_lived >= FULL_COLLECTION_GROWTH * self._long_lived:
            return True
        self._not_grown_at = moves
        return False

    def stop(self) -> None:
        """Restore automatic collection (objects frozen so far stay frozen)."""
        self._timer.stop()
        gc.enable()

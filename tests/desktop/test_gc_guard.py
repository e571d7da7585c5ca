"""The UI-thread garbage collector: import bursts are frozen; full collections are rationed."""

from __future__ import annotations

import gc
import sys
import types

import pytest

from desktop.gc_guard import IMPORT_BURST_MODULES, MainThreadGarbageCollector


@pytest.fixture()
def guard(qapp):
    g = MainThreadGarbageCollector()
    g._timer.stop()  # the test calls check() itself
    collected: list[int] = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            collected.append(info["generation"])

    gc.callbacks.append(record)
    g.collected = collected  # type: ignore[attr-defined]
    yield g
    gc.callbacks.remove(record)
    gc.disable()  # as the package-wide guard keeps it


def test_an_import_burst_is_frozen_instead_of_scanned(guard):
    names = [f"_stethos_fake_module_{i}" for i in range(IMPORT_BURST_MODULES)]
    frozen_before = gc.get_freeze_count()
    garbage_free = [object() for _ in range(10)]  # noqa: F841 - some tracked objects
    try:
        for name in names:
            sys.modules[name] = types.ModuleType(name)
        guard.check()
    finally:
        for name in names:
            sys.modules.pop(name, None)
    assert guard.frozen == 1 and guard.collected == []
    assert gc.get_freeze_count() > frozen_before
    assert gc.get_count()[0] == 0
    guard.check()  # no new modules: back to ordinary collections (nothing due)
    assert guard.frozen == 1


class _Tracked:
    """Instances are new GC-tracked allocations (lists and dicts may come from free lists)."""


def test_a_full_collection_waits_until_the_oldest_generation_grew_by_a_quarter(guard):
    guard._thresholds = (0, 0, 0)  # every generation's count is past its threshold
    gc.collect(1)  # counts (0, 0, 1): a full collection is asked for by the counts alone
    guard.collected.clear()
    young = [_Tracked() for _ in range(3)]  # noqa: F841 - counts (3 or more, 0, 1)
    guard._long_lived = 10**9  # the oldest generation has not grown by a quarter
    guard.check()
    assert guard.collected == [0]  # the youngest due generation instead
    gc.collect(1)
    guard.collected.clear()
    guard._long_lived = 0  # it has
    guard.check()
    assert guard.collected == [2]


def test_the_oldest_generation_is_listed_again_only_after_objects_moved_into_it(guard, monkeypatch):
    listed: list[int | None] = []
    real = gc.get_objects

    def get_objects(generation: int | None = None) -> list:
        listed.append(generation)
        return real(generation=generation)

    monkeypatch.setattr(gc, "get_objects", get_objects)
    guard._thresholds = (10**9, 10**9, 0)  # only the oldest generation is due
    gc.collect(1)
    guard.collected.clear()
    guard._long_lived = 10**9  # and it has not grown by a quarter
    for _ in range(3):
        guard.check()
    assert listed == [2] and guard.collected == []
    gc.collect(1)  # moves objects into the oldest generation
    guard.collected.clear()
    guard._long_lived = 0  # now it has
    guard.check()
    assert listed == [2, 2, 2] and guard.collected == [2]  # listed, collected, listed

"""Fixtures for driving the real main window.

Every desktop test runs with the store refusing calls from the Qt main
thread (:func:`_store_off_the_ui_thread`): store work belongs in a job. A
test's own checks of what was stored, or a store it sets up before the
window, go inside :func:`store_on_this_thread`.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from desktop.main_window import MainWindow
from engine.workflow import default_model

#: The record model the app offers by default (the registry's pre-registered rule).
DEFAULT_RECORD_MODEL = default_model("record")

VALID_RECORD = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip


@pytest.fixture(autouse=True, scope="package")
def _gc_on_the_ui_thread(qapp):
    """As in the app: never let a worker thread collect Qt objects."""
    from desktop.gc_guard import MainThreadGarbageCollector

    guard = MainThreadGarbageCollector(qapp)
    yield
    guard.stop()


@pytest.fixture()
def window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def open_and_wait(qtbot, window, paths, timeout=20000):
    with qtbot.waitSignal(window.image_jobs.finished, timeout=timeout):
        window.open_paths(paths)


def analyse_an_adult_without_age(qtbot, window, tmp_path) -> None:
    """Open an adult CR sample with its age removed (the age gate cannot refuse it, the
    out-of-domain check flags it) and analyse it with the default image model."""
    import pydicom

    from engine.resources import resource_path

    ds = pydicom.dcmread(resource_path("samples", "chest-cr-pa-monochrome1.dcm"))
    del ds.PatientAge
    adult = tmp_path / "adult.dcm"
    ds.save_as(adult)
    open_and_wait(qtbot, window, [adult])
    with qtbot.waitSignal(window.analysis_jobs.finished, timeout=120000):
        window.analyze_image_action.trigger()


class UIThreadStoreCall(AssertionError):
    """A store method was called on the Qt main thread (where the UI runs)."""


_ALLOWED = [0]  # depth of store_on_this_thread() on the main thread


@contextmanager
def store_on_this_thread() -> Iterator[None]:
    """Let the test itself call the store on the main thread (set-up, checks)."""
    _ALLOWED[0] += 1
    try:
        yield
    finally:
        _ALLOWED[0] -= 1


def _refusing_on_the_ui_thread(name: str, method, calls: list[str]):
    def guarded(*args, **kwargs):
        if threading.current_thread() is threading.main_thread() and not _ALLOWED[0]:
            where = "".join(traceback.format_stack(limit=8)[:-1])
            calls.append(f"Store.{name} called on the UI thread:\n{where}")
            raise UIThreadStoreCall(f"Store.{name} called on the UI thread; use a job")
        return method(*args, **kwargs)

    guarded.__name__ = guarded.__qualname__ = name
    guarded.__doc__ = method.__doc__
    return guarded


@pytest.fixture(autouse=True)
def _store_off_the_ui_thread(monkeypatch) -> Iterator[list[str]]:
    """Make every public method of :class:`engine.store.Store` refuse the Qt main thread.

    A refused call raises :class:`UIThreadStoreCall` and is recorded; the test
    fails at its end if any was, even when the exception was swallowed by a
    slot. Worker threads (jobs) call the store as usual.
    """
    from engine.store import Store

    calls: list[str] = []
    for name in dir(Store):
        attr = inspect.getattr_static(Store, name)
        if not name.startswith("_") and inspect.isfunction(attr):
            monkeypatch.setattr(Store, name, _refusing_on_the_ui_thread(name, attr, calls))
    yield calls
    assert not calls, "\n".join(calls)


@pytest.fixture()
def ecg_panel(qtbot):
    """The ECG panel alone, shown at 1400 × 850 (shut down after the test)."""
    from desktop.ecg import EcgPanel

    p = EcgPanel()
    qtbot.addWidget(p)
    p.resize(1400, 850)
    p.show()
    qtbot.waitExposed(p)
    yield p
    p.shutdown()

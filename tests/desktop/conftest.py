"""Fixtures for driving the real main window."""

from __future__ import annotations

import pytest

from desktop.main_window import MainWindow

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

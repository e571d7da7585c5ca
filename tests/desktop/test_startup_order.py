"""Start-up paints first (issue 29): what the first frame does not show is built after it.

``stethos`` builds its window with ``MainWindow(paint_first=True)``: its first
paint must not wait for the ECG tab, the Patient menu and dock, DICOM
networking, the AI-result actions or the result panel, nor for their imports;
they are built right after it (after the files being opened are on screen), or
at once when something asks for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMenu

from desktop.main_window import MainWindow
from desktop.settings import restore_window_layout, save_window_layout
from engine.dicom.synthetic import write_ct_series
from engine.workflow import FirstSliceLoaded, open_study

REPO = Path(__file__).resolve().parents[2]

#: Imported only after the first paint (or on first use). (engine.store and engine.models
#: still come with engine.workflow, which imports every part of the workflow.)
AFTER_FIRST_PAINT = (
    "desktop.patients",
    "desktop.ecg",
    "desktop.dialogs.nodes",
    "desktop.results.panel",
    "desktop.results.ai_dicom",
    "engine.net",
    "pydicom",
    "torch",
    "sklearn",
)

PROBE = """
import json, sys
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from desktop.main_window import MainWindow
WATCH = %r
seen = {}

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "at_first_paint" not in seen:
            seen["at_first_paint"] = [m for m in WATCH if m in sys.modules]
            seen["tabs_at_first_paint"] = window.tabs.count()
        return False

window = MainWindow(paint_first=True)
probe = FirstPaint()
window.viewer.installEventFilter(probe)
window.show()
for _ in range(200):  # the rest is built after the first paint, without being asked
    app.processEvents()
    if window.tabs.count() > 1:
        break
seen["tabs_after"] = [window.tabs.tabText(i) for i in range(window.tabs.count())]
seen["menus_after"] = [a.text() for a in window.menuBar().actions()]
seen["after"] = [m for m in WATCH if m in sys.modules]
window.close()
print(json.dumps(seen))
"""


def test_the_first_paint_comes_before_the_rest_is_imported(tmp_path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_CONFIG_DIR=str(tmp_path),
               STETHOS_DATA_DIR=str(tmp_path / "data"), STETHOS_WARM_UP="0")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", PROBE % (AFTER_FIRST_PAINT,)],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["at_first_paint"] == []
    assert seen["tabs_at_first_paint"] == 1  # Images only
    # ... and then it is all there, without anyone asking for it
    assert seen["tabs_after"] == ["Images", "ECG"]
    assert "&Patient" in seen["menus_after"]
    for module in ("desktop.patients", "desktop.ecg", "desktop.results.panel", "engine.net"):
        assert module in seen["after"]
    for module in ("pydicom", "torch", "sklearn"):
        assert module not in seen["after"]  # nothing opened, nothing analysed


def test_the_files_opened_at_start_come_before_the_rest(qtbot) -> None:
    window = MainWindow(paint_first=True)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.image_jobs.finished, timeout=30_000):
        window.open_sample()  # as `stethos --open-sample` does, right after show()
    assert window.tabs.count() == 1  # not built while the sample loaded
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=10_000)
    image = window.viewer.rendered()
    assert image is not None and image.shape == (728, 1240)  # the sample, decoded whole
    assert window.viewer.stack is not None and not window.viewer.stack.loading
    assert window.results.title.text()  # the result panel came with the rest
    # the earlier-AI-results reader was built after the sample opened: it read it anyway
    qtbot.waitUntil(lambda: not window.ai_dicom.read_jobs.busy, timeout=10_000)
    window.close()


def test_what_is_not_built_yet_is_built_when_asked_for(qtbot) -> None:
    window = MainWindow(paint_first=True)  # never shown: nothing built after a paint
    qtbot.addWidget(window)
    assert window.tabs.count() == 1
    texts = [a.text() for a in window.file_menu.actions()]
    window.file_menu.aboutToShow.emit()  # opening the File menu
    after = [a.text() for a in window.file_menu.actions()]
    assert len(after) > len(texts)  # Open ECG… and the rest are in it when it shows
    assert window.tabs.count() == 2
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Patient") == menus.index("&Help") - 1  # where it always was
    window.close()


def test_a_property_builds_the_part_it_names(qtbot) -> None:
    window = MainWindow(paint_first=True)
    qtbot.addWidget(window)
    patients = window.patients  # e.g. File ▸ DICOM network… asks who is signed in
    assert patients.dock.objectName() == "patients_dock"
    assert window.ecg is window.tabs.widget(1)
    assert isinstance(patients.menu, QMenu)
    window.close()


def test_closing_before_the_rest_is_built_builds_nothing(qtbot) -> None:
    window = MainWindow(paint_first=True)
    qtbot.addWidget(window)
    window.show()
    window.open_sample()
    window.close()  # quit while the sample still loads: the rest is never built
    qtbot.wait(50)
    assert window.tabs.count() == 1
    assert "&Patient" not in [a.text() for a in window.menuBar().actions()]
    assert not window.image_jobs.busy  # the close cancelled and waited for it


def test_the_patients_dock_comes_back_where_it_was_left(qtbot, tmp_path) -> None:
    path = tmp_path / "settings.ini"
    first = MainWindow(paint_first=True)
    qtbot.addWidget(first)
    first.show()
    first.finish_startup()
    first.patients.dock.show()
    first.patients.dock.setFloating(True)
    save_window_layout(first, path)
    first.close()

    second = MainWindow(paint_first=True)
    qtbot.addWidget(second)
    assert restore_window_layout(second, path)  # before the dock exists, as at start-up
    second.show()
    qtbot.waitUntil(lambda: second.tabs.count() == 2, timeout=10_000)
    dock = second.patients.dock
    assert dock.isFloating()
    assert dock.isVisible()

    third = MainWindow(paint_first=True)  # a first start: hidden, beside the studies
    qtbot.addWidget(third)
    third.show()
    qtbot.waitUntil(lambda: third.tabs.count() == 2, timeout=10_000)
    assert not third.patients.dock.isVisible()
    area = third.dockWidgetArea(third.patients.dock)
    assert area == third.dockWidgetArea(third.browser_dock) == Qt.DockWidgetArea.LeftDockWidgetArea


def test_a_series_opened_at_start_lets_the_rest_come_with_its_first_image(qtbot, tmp_path):
    write_ct_series(tmp_path / "ct", 4, rows=32, cols=32)
    partials: list[object] = []
    outcome = open_study([tmp_path / "ct"], partial=partials.append)
    first = next(p for p in partials if isinstance(p, FirstSliceLoaded))
    release = threading.Event()

    def still_streaming(*, progress, cancel, partial):
        partial(first)  # the first slice, shown while the rest of the series loads
        release.wait(20)
        return outcome

    window = MainWindow(paint_first=True)
    qtbot.addWidget(window)
    window.show()
    window.image_jobs.submit(still_streaming, name="open", with_partial=True)
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=10_000)
    assert window.image_jobs.busy  # built while the series was still loading
    assert window.viewer.stack is not None
    with qtbot.waitSignal(window.image_jobs.finished, timeout=10_000):
        release.set()
    assert window.viewer.stack.n_frames == 4
    window.close()

"""After the window shows, the image model loads in the background (issue 29)."""

from __future__ import annotations

import threading

import engine.workflow.models as models
from desktop.main_window import MainWindow


def test_the_window_warms_up_the_image_model_after_it_shows(qtbot, monkeypatch) -> None:
    monkeypatch.setenv("STETHOS_WARM_UP", "1")
    models.clear_model_cache()
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(
        lambda: any(k[0] == "cxr-pneumonia-resnet18-224" for k in models._loaded), timeout=20000
    )
    for thread in threading.enumerate():
        if thread.name == "warm-up-model":
            thread.join(timeout=30)
    w.close()
    models.clear_model_cache()

"""Settings ▸ "Run models on: CPU only" reaches every analysis (issue 22).

Before the workflow layer, the chest-radiograph CNN always ran on "auto":
the image task had no device parameter. Each of the three analyses started
from the main window must now ask the engine for the device the clinician
chose, and the models that run on torch must report that device.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt

import engine.workflow.analysis as analysis
from engine.resources import resource_path
from tests.desktop.conftest import VALID_RECORD, open_and_wait

SAMPLE = resource_path("samples", "peds-cxr-normal.dcm")
ECG = resource_path("samples", "mitdb", "119.hea")


@pytest.fixture()
def requested(monkeypatch) -> list[tuple[str, str | None]]:
    """Every (input kind, device) the engine was asked to load a model for."""
    calls: list[tuple[str, str | None]] = []
    real = analysis.load_model_for

    def spy(kind, model_id=None, *, device="auto", registry=None, task=None):
        calls.append((kind, device))
        return real(kind, model_id, device=device, registry=registry, task=task)

    monkeypatch.setattr(analysis, "load_model_for", spy)
    return calls


def test_cpu_only_reaches_image_ecg_and_record_analyses(qtbot, window, requested):
    window.apply_preferences(replace(window.preferences, device="cpu"))
    assert window.device == "cpu" and window.ecg.device == "cpu"
    outcomes: list = []
    window.analysis_completed.connect(outcomes.append)

    # image
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.analysis_completed, timeout=120000):
        window.analyze_image()
    # record
    window.form.set_record(VALID_RECORD)
    with qtbot.waitSignal(window.analysis_completed, timeout=60000):
        qtbot.mouseClick(window.analyze_button, Qt.MouseButton.LeftButton)
    # ECG
    with qtbot.waitSignal(window.ecg.signal_loaded, timeout=30000):
        window.ecg.open_signal(ECG)
    window.ecg.explain = False
    with qtbot.waitSignal(window.analysis_completed, timeout=180000):
        window.ecg.analyze()

    assert requested == [("image", "cpu"), ("record", "cpu"), ("signal", "cpu")]
    assert [o.kind for o in outcomes] == ["image", "record", "signal"]
    # the torch models say where they ran; record models always run on the CPU
    assert all(o.prediction.device == "cpu" for o in outcomes)
    image = outcomes[0]
    assert image.source.path == str(SAMPLE) and image.source.sop_instance_uid
    assert outcomes[2].source.path.endswith("119.hea") and outcomes[2].source.lead

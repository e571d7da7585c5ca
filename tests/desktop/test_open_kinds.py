"""Everything the engine reads opens from the command line (``stethos PATH``), as paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from engine.resources import resource_path
from tests.desktop.conftest import open_and_wait


def _picture(tmp_path: Path, suffix: str) -> Path:
    rng = np.random.default_rng(0)
    pixels = np.linspace(0, 255, 96 * 80).reshape(96, 80) + rng.normal(0, 5, (96, 80))
    path = tmp_path / f"radiograph{suffix}"
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("kind", ["dicom", "dicomdir", "png", "jpeg"])
def test_images_open_in_the_viewer(qtbot, window, tmp_path, kind):
    path = {
        "dicom": lambda: resource_path("samples", "chest-cr-pa.dcm"),
        "dicomdir": lambda: Path(get_testdata_file("DICOMDIR", download=False)),
        "png": lambda: _picture(tmp_path, ".png"),
        "jpeg": lambda: _picture(tmp_path, ".jpg"),
    }[kind]()
    open_and_wait(qtbot, window, [path])
    assert window.last_error is None
    assert window.viewer.image is not None or window.viewer.stack is not None
    assert window.tabs.currentWidget() is window.viewer_panel
    if kind in ("png", "jpeg"):
        image = window.viewer.image
        assert image.modality == "" and image.shape == (96, 80)
        assert "no DICOM header: modality and age unknown" in image.series_description


@pytest.mark.parametrize("kind", ["wfdb", "dicom-ecg", "handheld"])
def test_ecgs_open_in_the_ecg_view(qtbot, window, kind):
    path = {
        "wfdb": resource_path("samples", "mitdb", "119.hea"),
        "dicom-ecg": resource_path("samples", "ecg-12-lead.dcm"),
        "handheld": resource_path("samples", "cinc2017", "A00264.hea"),
    }[kind]
    window.open_paths([path])
    qtbot.waitUntil(lambda: window.ecg.signal is not None, timeout=30000)
    assert window.tabs.currentWidget() is window.ecg
    assert window.last_error is None
    assert window.ecg.signal.n_leads == {"wfdb": 2, "dicom-ecg": 12, "handheld": 1}[kind]

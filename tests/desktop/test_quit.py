"""Quitting never crashes: after browsing a mixed folder, and while it is still being read.

Issue 26 saw, once, "Fatal Python error: bool_dealloc" on Ctrl+Q after browsing
a folder. These runs repeat the quit path many times under ``python -X dev``
with faulthandler on, so a refcount error or a crash in teardown shows up as
a non-zero exit or a fatal-error report instead of hiding.
"""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop.main_window import MainWindow
from engine.resources import resource_path

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples (CR, DX in three encodings, a DICOM ECG, WFDB records) + a picture + junk."""
    folder = tmp_path_factory.mktemp("mixed")
    shutil.copytree(resource_path("samples"), folder / "samples")
    Image.fromarray((np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8)).save(
        folder / "samples" / "picture.png"
    )
    (folder / "samples" / "broken.dcm").write_bytes(b"DICM" + b"\0" * 200)
    return folder / "samples"


def test_browsing_then_closing_the_window_many_times(qtbot, mixed_folder: Path) -> None:
    for _ in range(20):
        window = MainWindow()  # not given to qtbot: deleted here, as the application does
        window.show()
        with qtbot.waitSignal(window.image_jobs.finished, timeout=30_000):
            window.open_paths([mixed_folder, mixed_folder / "picture.png"])
        for ref in window.browser.refs()[:4]:  # browse: every series in turn
            with qtbot.waitSignal(window.image_jobs.finished, timeout=30_000):
                window.browser.activate(ref.series.series_instance_uid)
        window.close()
        window.deleteLater()
        qtbot.wait(10)  # runs the deferred delete
        gc.collect()


@pytest.mark.parametrize("when", ["after-open", "while-opening"])
def test_quitting_the_application_fifty_times(tmp_path: Path, mixed_folder: Path, when) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_LOG_DIR=str(tmp_path / "log"),
               PYTHONFAULTHANDLER="1")  # fmt: skip
    flag = "--quit-after-open" if when == "after-open" else "--quit-after-show"
    runs = 25  # two ways × 25 = 50 quits
    for n in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "dev", "-m", "desktop", str(mixed_folder), flag],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, f"run {n}: exit {done.returncode}\n{done.stderr[-3000:]}"
        assert "Fatal Python error" not in done.stderr, done.stderr[-3000:]
        assert "Traceback" not in done.stderr, done.stderr[-3000:]

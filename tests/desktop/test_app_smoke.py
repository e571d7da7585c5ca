"""The `stethos` entry point starts headless on the sample and exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_app_starts_offscreen_on_the_sample_and_logs(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_LOG_DIR=str(tmp_path / "log"))
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--open-sample", "--quit-after-show"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "log" / "stethos.log").read_text()
    assert "Stethos started" in log


def test_self_test_passes_on_this_installation(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_LOG_DIR=str(tmp_path / "log"))
    done = subprocess.run(
        [sys.executable, "-m", "desktop", "--self-test"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for needed in (
        "peds-cxr-pneumonia-j2k.dcm",
        "stethos-openjpeg",
        "stethos-jpegls",
        "cxr-pneumonia-resnet18-224: runs",
        "store: write and read",
        "results as DICOM: write and read",
        "DICOM: decoding workers",
        "qt: window",
    ):
        assert needed in out, needed
    assert out.strip().endswith("passed, 0 failed")


def test_self_test_names_a_tampered_model(tmp_path):
    import shutil

    resources = tmp_path / "resources"
    shutil.copytree(REPO / "resources", resources)
    weights = resources / "models" / "heart-disease-tree-13" / "model.skops"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_RESOURCES=str(resources))
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "self-test"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 1
    failing = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert failing and all("heart-disease-tree-13" in line for line in failing)
    assert "model.skops" in failing[0]


def test_quit_after_open_waits_for_an_ecg_record_too(tmp_path):
    # It waited for an image job only, so a WFDB record alone never let it quit.
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STETHOS_LOG_DIR=str(tmp_path / "log"))
    record = REPO / "resources" / "samples" / "cinc2017" / "A00264.hea"
    image = REPO / "resources" / "samples" / "chest-cr-pa.dcm"
    for paths in ([record], [record, image]):
        done = subprocess.run(
            [sys.executable, "-m", "desktop", *map(str, paths), "--quit-after-open"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr

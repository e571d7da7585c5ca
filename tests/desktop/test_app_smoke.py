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

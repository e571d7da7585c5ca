"""``stethos-engine … | head``: a reader that goes away ends the command quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.resources import resource_path

REPO = Path(__file__).resolve().parents[2]


def test_a_closed_pipe_ends_the_command_without_a_traceback() -> None:
    holter = resource_path("samples", "mitdb", "119.hea")
    # One JSON line per record with ~2,000 beats: far more than a pipe buffer holds.
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli", "predict", "--model", "ecg-beats-bilstm-360",
         str(holter), str(holter), str(holter), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(64)  # "head -c 64"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr

"""ONNX Runtime's telemetry is off: no device id written, nothing to upload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_running_a_model_on_onnx_runtime_leaves_no_device_id(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"))
    env.pop("ORT_DISABLE_TELEMETRY", None)  # `import engine` must set it by itself
    code = (
        "import os, engine\n"
        "from engine.models.onnx_runtime import new_session\n"
        "from engine.resources import resource_path\n"
        "assert os.environ['ORT_DISABLE_TELEMETRY'] == '1'\n"
        "new_session(resource_path('models', 'cxr-pneumonia-resnet18-224', 'model.onnx'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], written  # e.g. .cache/Microsoft/DeveloperTools/.onnxruntime/deviceid

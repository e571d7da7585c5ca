"""Device choice, user override, CPU fallback on GPU out-of-memory (simulated), torch preload."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from engine.api import analyze_image, load_model
from engine.errors import ModelError
from engine.models.devices import (
    CPU_FALLBACK_NOTICE,
    DeviceState,
    available_devices,
    resolve_device,
    run_with_fallback,
)
from engine.models.registry import ModelRegistry


def test_auto_picks_the_best_available_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STETHOS_DEVICE", raising=False)
    assert str(resolve_device("auto")) == available_devices()[0]
    assert str(resolve_device("cpu")) == "cpu"
    monkeypatch.setenv("STETHOS_DEVICE", "cpu")
    assert str(resolve_device("auto")) == "cpu"


def test_unavailable_or_unknown_device_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ModelError, match="no"):
        resolve_device("cuda")
    with pytest.raises(ModelError, match="not a device"):
        resolve_device("tpu")


def test_run_with_fallback_moves_to_cpu_on_oom() -> None:
    state = DeviceState(torch.device("cuda"))
    calls: list[str] = []
    moved: list[bool] = []

    def run(device: torch.device) -> str:
        calls.append(device.type)
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "result"

    assert run_with_fallback(state, run, lambda: moved.append(True)) == "result"
    assert calls == ["cuda", "cpu"] and moved == [True]
    assert state.name == "cpu" and state.notice == CPU_FALLBACK_NOTICE


def test_other_errors_are_not_swallowed() -> None:
    state = DeviceState(torch.device("cuda"))

    def run(device: torch.device) -> str:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        run_with_fallback(state, run, lambda: None)
    assert state.name == "cuda"


def test_image_model_falls_back_and_records_it(
    registry: ModelRegistry, cxr_samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model 'on CUDA' whose first forward runs out of memory answers from the CPU."""
    model = load_model("test-cnn", registry, device="cpu")
    real_forward = model.net.forward
    state = {"calls": 0}

    def forward_oom_once(x):
        state["calls"] += 1
        if state["calls"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(x)

    real_to = torch.Tensor.to

    def to_without_cuda(self, *args, **kwargs):
        if args and str(args[0]).startswith("cuda"):
            return self  # pretend: there is no GPU on the test machine
        return real_to(self, *args, **kwargs)

    monkeypatch.setattr(model.net, "forward", forward_oom_once)
    monkeypatch.setattr(torch.Tensor, "to", to_without_cuda)
    model.state.device = torch.device("cuda")
    try:
        pred = analyze_image("test-cnn", cxr_samples[0], registry=registry, device="cpu")
    finally:
        monkeypatch.undo()
    assert pred.device == "cpu"
    assert pred.extra["notice"] == CPU_FALLBACK_NOTICE
    assert pred.to_json()["notice"] == CPU_FALLBACK_NOTICE
    assert pred.heatmap is not None
    assert state["calls"] == 2


_PRELOAD_PROBE = """
import sys, threading
import engine.models.devices as d
assert d._PreloadTorchFirst in sys.meta_path
ran_on = []
real = d.preload_torch
d.preload_torch = lambda: ran_on.append(threading.current_thread().name) or real()
t = threading.Thread(target=lambda: __import__("torch"), name="importer")
t.start(); t.join()
import torch
assert float(torch.ones(3).sum()) == 3.0
print(ran_on, d._preloaded, d._PreloadTorchFirst in sys.meta_path, real())
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload is Linux only")
@pytest.mark.parametrize("setting", ["1", "0"])
def test_the_first_import_of_torch_maps_its_libraries_first(setting: str) -> None:
    """In a fresh interpreter: the thread that imports torch first preloads its libraries
    (GIL released), once; torch works; ``STETHOS_TORCH_PRELOAD=0`` turns it off."""
    env = dict(os.environ, STETHOS_TORCH_PRELOAD=setting)
    out = subprocess.run(
        [sys.executable, "-c", _PRELOAD_PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")[-2]
    # the hook called preload_torch on the importing thread and removed itself;
    # with torch imported, preload_torch does nothing
    expected = "True" if setting == "1" else "None"
    assert out == f"['importer'] {expected} False False"


def test_preload_does_nothing_once_torch_is_imported() -> None:
    from engine.models.devices import _PreloadTorchFirst, preload_torch

    assert preload_torch() is False
    assert _PreloadTorchFirst not in sys.meta_path

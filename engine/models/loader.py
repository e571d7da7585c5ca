"""Turn a verified bundle into a runner: the one place that knows every model kind.

Kept apart from :mod:`engine.models.runtime` (the runner base classes and
batching), which the kind modules (:mod:`~engine.models.cnn`,
:mod:`~engine.models.lstm`) build on: the kinds import the runtime, this
module imports the kinds, and nothing imports back.
"""

from __future__ import annotations

from engine.errors import ModelError
from engine.models.architectures import load_torch_network
from engine.models.bundle import Bundle
from engine.models.devices import (
    configure_threads,
    device_name,
    resolve_device,
    torch_installed,
)
from engine.models.runtime import Runner


def load_runner(bundle: Bundle, device: str | None = "auto") -> Runner:
    """The runner for a verified bundle, on ``device`` (``auto``/``cpu``/``cuda``/``mps``).

    Raises
    ------
    ModelError
        For an unknown kind or architecture, or weights that do not fit.
    """
    if bundle.kind == "sklearn" and bundle.input_type == "signal":
        from engine.models.rhythm import load_rhythm

        return load_rhythm(bundle)
    if bundle.kind == "sklearn":
        from engine.models.tabular import load_tabular

        return load_tabular(bundle)
    if bundle.kind not in ("torch-cnn", "torch-lstm"):
        raise ModelError(
            f"Model “{bundle.id}” is of kind “{bundle.kind}”, which this Stethos cannot run."
        )
    from engine.models.onnx_runtime import FULL_FLAVOUR, onnx_usable, runtime_preference

    runtime = runtime_preference()
    if runtime != "torch" and device_name(device) == "cpu" and onnx_usable(bundle):
        from engine.models.onnx_runtime import OnnxBeatModel, OnnxImageModel

        if bundle.kind == "torch-cnn":
            return OnnxImageModel(bundle)
        return OnnxBeatModel(bundle)
    if not torch_installed():
        raise ModelError(f"Model “{bundle.id}” has no ONNX graph to run on. {FULL_FLAVOUR}")
    configure_threads()
    dev = resolve_device(device)
    net = load_torch_network(bundle)
    if bundle.kind == "torch-cnn":
        from engine.models.cnn import ImageModel

        return ImageModel(bundle, net, dev)
    from engine.models.lstm import BeatModel

    return BeatModel(bundle, net, dev)

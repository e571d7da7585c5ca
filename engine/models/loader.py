"""Turn a verified bundle into a runner: the one place that knows every model kind.

Kept apart from :mod:`engine.models.runtime` (the runner base classes and
batching), which the kind modules (:mod:`~engine.models.cnn`,
:mod:`~engine.models.lstm`) build on: the kinds import the runtime, this
module imports the kinds, and nothing imports back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import ModelError
from engine.models.architectures import build_model, get_architecture, load_weights
from engine.models.bundle import Bundle
from engine.models.devices import configure_threads, resolve_device
from engine.models.runtime import Runner

if TYPE_CHECKING:
    import torch


def load_torch_network(bundle: Bundle) -> torch.nn.Module:
    """Build the bundle's architecture and read its safetensors weights (frozen, eval)."""
    arch_spec = bundle.architecture
    arch = get_architecture(str(arch_spec.get("name")), bundle.id)
    if arch.input_type != bundle.input_type:
        raise ModelError(
            f"Model “{bundle.id}” pairs the network {arch.name} (for {arch.input_type}s) with "
            f"{bundle.input_type} inputs.",
        )
    net = build_model(arch.name, arch_spec.get("args", {}), bundle.id)
    load_weights(net, bundle.weights_path, bundle.id)
    net.eval()
    net.requires_grad_(False)
    return net


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
    configure_threads()
    dev = resolve_device(device)
    net = load_torch_network(bundle)
    if bundle.kind == "torch-cnn":
        from engine.models.cnn import ImageModel

        return ImageModel(bundle, net, dev)
    from engine.models.lstm import BeatModel

    return BeatModel(bundle, net, dev)

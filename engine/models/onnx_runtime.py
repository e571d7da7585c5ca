"""Torch bundles run on ONNX Runtime on the CPU: no ``import torch`` for a prediction.

A torch bundle with an ``onnx`` block in its manifest carries ``model.onnx``
(exported from its safetensors weights by :mod:`engine.train.onnx_export`,
hash-listed and checked against torch at export time). On the CPU, and
unless ``STETHOS_RUNTIME=torch`` asks otherwise, :func:`engine.models.loader.load_runner`
runs that graph here; a GPU, and any explanation the graph cannot give,
uses torch (loaded only then). Results are the same model, version and
weights hash; ``extra["runtime"]`` names ONNX Runtime and the graph's sha256.

Image bundles: the graph returns the logits, the out-of-domain check's
pooled features and, for the first ``m`` images of a batch (``cam_seed``
``(m, k)``), the explanation layer's activation and gradient, from which
Grad-CAM and Grad-CAM++ are computed exactly as on torch.

Beat bundles: the graph returns the beats' logits; integrated gradients
need torch (loaded lazily when an explanation is asked); an installation
without torch explains by occlusion, run on the graph, and says so.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError
from engine.explain.cam import cam_from_arrays
from engine.models.bundle import Bundle
from engine.models.cnn import ImageModel
from engine.models.devices import DeviceState, thread_count, torch_installed
from engine.models.lstm import BeatModel
from engine.models.results import Prediction
from engine.models.runtime import RunRequest

if TYPE_CHECKING:
    import onnxruntime

#: The graph's file name in a bundle.
ONNX_NAME = "model.onnx"
#: The explanation outputs of an image graph: target-layer activation and gradient.
CAM_OUTPUTS = ("cam_activation", "cam_gradient")
#: Largest difference allowed between ONNX Runtime and torch on the export check's inputs:
#: absolute for logits and probabilities, relative to the largest value for features and
#: the Grad-CAM map (as shown, scaled to [0, 1]).
TOLERANCE = {"logits": 1e-3, "probabilities": 1e-4, "features": 1e-4, "gradcam": 1e-3}
#: What the full installation needs that this one may lack.
FULL_FLAVOUR = (
    "This needs PyTorch, which this installation (the CPU flavour of Stethos) does not "
    "include. Use the full Stethos installation for it."
)


def onnx_requirements() -> dict[str, str]:
    """Package requirements of an ONNX graph written by this installation."""
    return {"onnxruntime": ">=1.17"}


def onnx_usable(bundle: Bundle) -> bool:
    """Whether ``bundle`` carries an ONNX graph and ONNX Runtime is installed."""
    block = bundle.manifest.get("onnx")
    return (
        isinstance(block, dict)
        and str(block.get("file")) in bundle.manifest.get("files", {})
        and importlib.util.find_spec("onnxruntime") is not None
    )


def runtime_preference() -> str:
    """``STETHOS_RUNTIME``: ``auto`` (ONNX Runtime on the CPU when a graph exists) or ``torch``."""
    value = os.environ.get("STETHOS_RUNTIME", "auto").strip().lower()
    return value if value in ("auto", "torch", "onnx") else "auto"


def new_session(path: Path, threads: int | None = None) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session for the graph at ``path``."""
    import onnxruntime as ort

    ort.disable_telemetry_events()  # and ORT_DISABLE_TELEMETRY, set by `import engine`
    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count(threads)
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle threads sleep instead of spinning: on a 2-core workstation a spinning pool takes the
    # CPU the image decoding (predict_many's prefetch) and the GUI thread need. Measured with
    # batches from files: 1.3x over the torch path with sleeping threads vs 1.29x spinning, and
    # the same single-image latency (42 ms with Grad-CAM).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(
            f"The ONNX graph {path.name} cannot be loaded by ONNX Runtime.", repr(exc)[:2000]
        ) from exc


def cam_maps(activation: np.ndarray, gradient: np.ndarray, method: str) -> np.ndarray:
    """Grad-CAM (or Grad-CAM++) maps ``(m, h, w)`` from the graph's explanation outputs."""
    return cam_from_arrays(activation, gradient, method)


#: What a result computed here says about it.
_ONNX_KEYS = ("runtime", "graph_sha256")


@cache
def _runtime_name() -> str:
    from importlib import metadata

    return f"onnxruntime {metadata.version('onnxruntime')} (CPU)"


class _OnnxMixin:
    """What both ONNX kinds share: the session, the CPU device, the lazy torch twin."""

    bundle: Bundle

    def _open(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.state = DeviceState("cpu")  # type: ignore[arg-type]
        self._lock = threading.RLock()
        self.onnx = dict(bundle.manifest["onnx"])
        self.graph_sha256 = str(bundle.manifest["files"][self.onnx["file"]]["sha256"])
        self.session = new_session(bundle.path / str(self.onnx["file"]))
        self._outputs = [o.name for o in self.session.get_outputs()]
        #: the exporter leaves out inputs the network does not use
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._torch: Any = None

    def _extra(self) -> dict[str, Any]:
        return {"runtime": _runtime_name(), "graph_sha256": self.graph_sha256}

    def _torch_twin(self) -> Any:
        """The torch runner of the same bundle, for explanations the graph cannot give."""
        if not torch_installed():
            raise ModelError(FULL_FLAVOUR)
        with self._lock:
            if self._torch is None:
                import torch

                from engine.models.architectures import load_torch_network
                from engine.models.devices import configure_threads

                configure_threads()
                net = load_torch_network(self.bundle)
                cpu = torch.device("cpu")
                self._torch = self._torch_class(self.bundle, net, cpu)  # type: ignore[attr-defined]
            return self._torch


class OnnxImageModel(_OnnxMixin, ImageModel):
    """:class:`~engine.models.cnn.ImageModel` on ONNX Runtime (same prepare, results, maps)."""

    _torch_class = ImageModel
    #: Threads preparing images for :func:`~engine.models.runtime.predict_many`: the graph
    #: runs faster than a compressed radiograph decodes (17 vs ~30 ms on 2 cores), so two
    #: keep it fed (from DICOM files, 30.6 vs 29.0 images/s with one, same run).
    prefetch_workers = 2

    def __init__(self, bundle: Bundle) -> None:  # no torch network: the graph
        self._open(bundle)
        layer = self._configure(bundle)
        self._graph_cam = CAM_OUTPUTS[1] in self._outputs and self.onnx.get("cam_layer") == layer
        #: a layer name stands for "has an explanation"; the graph's or torch's
        self.cam_layer = layer  # type: ignore[assignment]

    def _features(self) -> Any:  # pragma: no cover - the graph returns them
        raise NotImplementedError

    def _run(self, items: list[Any], req: RunRequest) -> list[Prediction]:
        preds = super()._run(items, req)
        if req.explain and self.cam_layer is not None and not self._graph_cam:
            # torch computed the whole pass (the graph has no maps of this layer): say so
            preds = [
                replace(p, extra={k: v for k, v in p.extra.items() if k not in _ONNX_KEYS})
                for p in preds
            ]
        return preds

    def _infer(
        self, batch: np.ndarray, explain: bool, method: str
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        explain = explain and self.cam_layer is not None
        if explain and not self._graph_cam:
            return self._torch_twin()._infer(batch, explain, method)
        k = self._n_outputs()
        seed = np.zeros((len(batch) if explain else 0, k), dtype=np.float32)
        seed[:, self._target] = 1.0
        feeds = {"image": np.ascontiguousarray(batch, dtype=np.float32), "cam_seed": seed}
        feeds = {name: value for name, value in feeds.items() if name in self._inputs}
        with self._lock:
            out = dict(zip(self._outputs, self.session.run(None, feeds), strict=True))
        cams = cam_maps(out[CAM_OUTPUTS[0]], out[CAM_OUTPUTS[1]], method) if explain else None
        return out["logits"], cams, out.get("features")


class OnnxBeatModel(_OnnxMixin, BeatModel):
    """:class:`~engine.models.lstm.BeatModel` on ONNX Runtime.

    Integrated gradients run on torch, loaded when first asked; without
    torch, attributions are by occlusion on the graph, and the result's
    ``explanation_method`` and notes say so.
    """

    _torch_class = BeatModel

    def __init__(self, bundle: Bundle) -> None:  # no torch network: the graph
        self._open(bundle)
        self._configure(bundle)

    @property
    def template_channel(self) -> bool:
        return "template" in self._inputs

    def _logits_np(
        self, windows: np.ndarray, rr: np.ndarray, template: np.ndarray | None
    ) -> np.ndarray:
        from engine.models.lstm import BEAT_BATCH

        if not len(windows):
            return np.zeros((0, len(self.bundle.labels)), dtype=np.float32)
        names = self._inputs
        out = []
        for s in range(0, len(windows), BEAT_BATCH):
            w = np.ascontiguousarray(windows[s : s + BEAT_BATCH], dtype=np.float32)
            feeds = {"window": w}
            if "rr" in names:
                feeds["rr"] = np.ascontiguousarray(rr[s : s + BEAT_BATCH], np.float32)
            if "template" in names:
                t = template if template is not None else np.zeros(w.shape[1], np.float32)
                feeds["template"] = np.ascontiguousarray(
                    np.broadcast_to(t.reshape(1, -1), w.shape), dtype=np.float32
                )
            with self._lock:
                out.append(self.session.run(None, feeds)[0])
        return np.concatenate(out)

    def _attributions_np(
        self,
        windows: np.ndarray,
        rr: np.ndarray,
        target: np.ndarray,
        method: str,
        cancel: Any,
        progress: Any,
        template: np.ndarray | None,
    ) -> tuple[np.ndarray, str]:
        if method != "occlusion" and torch_installed():
            twin = self._torch_twin()
            return twin._attributions_np(windows, rr, target, method, cancel, progress, template)
        from engine.explain.signal import occlusion_1d_np

        def forward(w: np.ndarray, s: int, e: int) -> np.ndarray:
            return self._logits_np(w, rr[s:e], template)

        width, stride = max(4, self.spec.window // 16), max(2, self.spec.window // 32)
        attr = occlusion_1d_np(
            forward, windows, target, width=width, stride=stride, cancel=cancel, progress=progress
        )
        return attr, "occlusion"

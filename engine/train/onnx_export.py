"""ONNX exports of torch bundles: the inference graph ONNX Runtime runs on the CPU.

A torch bundle (``torch-cnn``, ``torch-lstm``) also carries ``model.onnx``,
exported here from its safetensors weights (no retraining), listed with its
sha256 in the manifest like every other file, and described by the
manifest's ``onnx`` block: the graph's inputs and outputs, the weights file
it was exported from (with that file's sha256), the exporting versions, and
the equality check run at export time — torch and ONNX Runtime on a fixed,
seeded input set, with the largest differences found and the tolerance they
had to meet. An export that misses the tolerance is not written.

The image graph has a second input, ``cam_seed`` ``(m, k)``, and two more
outputs for the explanation: the target layer's activation of the first
``m`` images and the gradient of ``Σ seed·logits`` with respect to it —
what Grad-CAM (and Grad-CAM++) need. The gradient is the layers after the
target layer run backwards by hand (transposed convolutions, the ReLU
masks, the batch-norm scales), so it is an ordinary forward graph; with
``m = 0`` (no explanation asked) that part runs on empty tensors and costs
nothing. The pooled features of the out-of-domain check are an output too.

Torch stays the training runtime: this module imports torch, the runtime
(:mod:`engine.models.onnx_runtime`) does not.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import Bundle, open_bundle
from engine.models.onnx_runtime import (
    CAM_OUTPUTS,
    ONNX_NAME,
    TOLERANCE,
    onnx_requirements,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

#: ONNX opset of the exports (ONNX Runtime 1.17 and later run it).
OPSET = 17
#: Seeded inputs of the export check.
CHECK_SEED = 0
CHECK_IMAGES = 4
CHECK_BEATS = 64


# --- the hand-written backward of the layers after a CAM layer ------------------------------


def _through_bn(grad: torch.Tensor, bn: Any) -> torch.Tensor:
    """The gradient before an eval-mode batch norm (none once folded into the convolution)."""
    import torch

    if not isinstance(bn, torch.nn.BatchNorm2d):
        return grad
    var: Any = bn.running_var
    return grad * (bn.weight / torch.sqrt(var + bn.eps)).view(1, -1, 1, 1)


def fold_batch_norms(net: nn.Module) -> nn.Module:
    """A copy of ``net`` with every convolution–batch-norm pair folded into the convolution.

    The exporter folds them in the forward graph anyway; folding first lets
    the hand-written backward use the very same weights, so the graph holds
    each convolution's weights once instead of twice.
    """
    import copy

    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net = copy.deepcopy(net).eval()
    for module in list(net.modules()):
        for conv_name, bn_name in (("conv1", "bn1"), ("conv2", "bn2")):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                conv, bn = module[i], module[i + 1]
                if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(conv, bn)
                    module[i + 1] = nn.Identity()
    return net


def _conv_back(conv: Any, grad: torch.Tensor, in_size: tuple[int, int]) -> torch.Tensor:
    """The gradient of a 2-D convolution's input: its transposed convolution (no bias)."""
    import torch.nn.functional as F

    out_size = grad.shape[2:]
    pads = []
    for i in range(2):
        k, s, p, d = (
            conv.kernel_size[i],
            conv.stride[i],
            conv.padding[i],
            conv.dilation[i],
        )
        pads.append(int(in_size[i]) - ((int(out_size[i]) - 1) * s - 2 * p + d * (k - 1) + 1))
    return F.conv_transpose2d(
        grad,
        conv.weight,
        stride=conv.stride,
        padding=conv.padding,
        output_padding=tuple(pads),
        dilation=conv.dilation,
    )


def _basic_block_back(block: Any, x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """Backward of a torchvision ``BasicBlock`` (eval mode) at input ``x``."""
    import torch

    size = (int(x.shape[2]), int(x.shape[3]))
    b1 = block.bn1(block.conv1(x))
    mid = torch.relu(b1)
    identity = x if block.downsample is None else block.downsample(x)
    s = block.bn2(block.conv2(mid)) + identity
    gs = grad_out * (s > 0).to(grad_out.dtype)
    # conv_transpose ignores the (folded) bias: the gradient needs only the weights
    g_mid = _conv_back(block.conv2, _through_bn(gs, block.bn2), (b1.shape[2], b1.shape[3]))
    g_b1 = g_mid * (b1 > 0).to(g_mid.dtype)
    gx = _conv_back(block.conv1, _through_bn(g_b1, block.bn1), size)
    if block.downsample is None:
        return gx + gs
    conv, bn = block.downsample[0], block.downsample[1]
    return gx + _conv_back(conv, _through_bn(gs, bn), size)


def _block_forward(block: Any, x: torch.Tensor) -> torch.Tensor:
    return block(x)


def cam_tail(net: Any, layer: str) -> list[Any] | None:
    """The residual blocks between ``layer`` and the pooled head, or ``None`` when unsupported.

    Supported: a torchvision ResNet of ``BasicBlock`` s explained at ``layer1`` –
    ``layer4``, and Stethos' ``small-cnn`` explained at ``features``. Any other
    network's explanation runs on torch.
    """
    from torchvision.models.resnet import BasicBlock, ResNet

    if isinstance(net, ResNet):
        stages = ["layer1", "layer2", "layer3", "layer4"]
        if layer not in stages:
            return None
        blocks = [b for s in stages[stages.index(layer) + 1 :] for b in getattr(net, s)]
        return blocks if all(isinstance(b, BasicBlock) for b in blocks) else None
    if type(net).__name__ == "Classifier" and layer == "features":
        return []
    return None


def _head(net: Any) -> Any:
    return net.fc if hasattr(net, "fc") else net.classifier


def _make_image_graph(net: nn.Module, cam_layer: str | None, feature_layer: str | None):
    import torch
    from torch import nn

    modules = dict(net.named_modules())
    tail = cam_tail(net, cam_layer) if cam_layer else None

    class ImageGraph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, image: torch.Tensor, cam_seed: torch.Tensor):  # type: ignore[override]
            seen: dict[str, torch.Tensor] = {}
            handles = []
            for name in {n for n in (cam_layer, feature_layer) if n}:

                def keep(_m: Any, _i: Any, out: torch.Tensor, name: str = name) -> None:
                    seen[name] = out

                handles.append(modules[name].register_forward_hook(keep))
            try:
                logits = self.net(image)
            finally:
                for h in handles:
                    h.remove()
            outs = [logits]
            if feature_layer:
                outs.append(torch.flatten(seen[feature_layer], 1))
            if tail is not None and cam_layer:
                act = seen[cam_layer][: cam_seed.shape[0]]
                xs = [act]
                for block in tail:
                    xs.append(_block_forward(block, xs[-1]))
                last = xs[-1]
                g = (cam_seed @ _head(self.net).weight).view(last.shape[0], last.shape[1], 1, 1)
                g = g.expand_as(last) / float(last.shape[2] * last.shape[3])
                for block, x in zip(reversed(tail), reversed(xs[:-1]), strict=True):
                    g = _basic_block_back(block, x, g)
                outs += [act, g]
            return tuple(outs)

    return ImageGraph().eval(), tail is not None


def _make_beat_graph(net: nn.Module):
    from torch import nn

    class BeatGraph(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, window: torch.Tensor, rr: torch.Tensor, template: torch.Tensor):  # type: ignore[override]
            return self.net(window, rr, template)

    return BeatGraph().eval()


# --- export and check ---------------------------------------------------------------------------


def _check_inputs(bundle: Bundle) -> dict[str, np.ndarray]:
    """The fixed, seeded input set of the export check (and of the tests)."""
    rng = np.random.default_rng(CHECK_SEED)
    if bundle.kind == "torch-cnn":
        pre = bundle.preprocessing
        size, channels = int(pre.get("size", 224)), int(pre.get("channels", 3))
        image = rng.normal(0.0, 1.0, (CHECK_IMAGES, channels, size, size)).astype(np.float32)
        # a smooth image too: real radiographs are not white noise
        ramp = np.linspace(-2.0, 2.0, size, dtype=np.float32)
        image[0] = np.broadcast_to(ramp[None, :, None] * ramp[None, None, :], image[0].shape)
        k = int(bundle.architecture.get("args", {}).get("num_classes", len(bundle.labels)))
        seed = np.zeros((CHECK_IMAGES, k), dtype=np.float32)
        seed[np.arange(CHECK_IMAGES), np.arange(CHECK_IMAGES) % k] = 1.0
        return {"image": image, "cam_seed": seed}
    args = bundle.architecture.get("args", {})
    window, n_rr = int(args["window"]), int(args.get("n_rr", 4))
    t = np.linspace(-1.0, 1.0, window, dtype=np.float32)
    beat = np.exp(-((t / 0.05) ** 2)).astype(np.float32)
    windows = (beat[None] * rng.uniform(0.5, 2.0, (CHECK_BEATS, 1))).astype(np.float32)
    windows += rng.normal(0.0, 0.1, windows.shape).astype(np.float32)
    return {
        "window": windows,
        "rr": rng.normal(0.0, 1.0, (CHECK_BEATS, n_rr)).astype(np.float32),
        "template": np.broadcast_to(beat, windows.shape).copy(),
    }


def _torch_reference(bundle: Bundle, net: nn.Module, inputs: Mapping[str, np.ndarray]):
    """What the torch runtime computes today on the check inputs (logits, features, CAMs)."""
    import torch

    from engine.explain.cam import class_activation_maps, find_layer
    from engine.models.domain import pooled_features

    out: dict[str, np.ndarray] = {}
    if bundle.kind != "torch-cnn":
        with torch.inference_mode():
            args = [torch.from_numpy(inputs[k]) for k in ("window", "rr", "template")]
            out["logits"] = net(*args).numpy()
        return out
    x = torch.from_numpy(inputs["image"])
    gate = bundle.gates.get("appearance")
    if gate:
        with pooled_features(net, str(gate.get("layer", "avgpool"))) as seen:
            with torch.inference_mode():
                out["logits"] = net(x).numpy()
        out["features"] = np.concatenate(seen)
    else:
        with torch.inference_mode():
            out["logits"] = net(x).numpy()
    layer = _cam_layer_name(bundle)
    if layer:
        targets = [int(np.argmax(s)) for s in inputs["cam_seed"]]
        _, maps = class_activation_maps(net, x, find_layer(net, layer), targets, ("gradcam",))
        out["gradcam"] = maps["gradcam"].numpy()
    return out


def _cam_layer_name(bundle: Bundle) -> str | None:
    from engine.models.architectures import get_architecture

    arch = get_architecture(str(bundle.architecture.get("name")), bundle.id)
    name = bundle.explanation.get("target_layer") or arch.cam_layer
    return str(name) if name else None


def _normalised(maps: np.ndarray) -> np.ndarray:
    peak = maps.reshape(len(maps), -1).max(axis=1).reshape(-1, 1, 1)
    return maps / np.where(peak > 0, peak, 1.0)


def export_onnx(bundle: Bundle, net: nn.Module) -> tuple[bytes, dict[str, Any]]:
    """Export ``net`` (the bundle's network, weights loaded) and check it against torch.

    Returns
    -------
    graph, block
        The ONNX file's bytes and the manifest's ``onnx`` block.

    Raises
    ------
    ModelError
        When the export fails or ONNX Runtime's outputs differ from torch's
        by more than :data:`~engine.models.onnx_runtime.TOLERANCE`.
    """
    import torch

    from engine.models.onnx_runtime import cam_maps, new_session

    net = net.eval().cpu()
    inputs = _check_inputs(bundle)
    block: dict[str, Any] = {"file": ONNX_NAME, "opset": OPSET}
    if bundle.kind == "torch-cnn":
        gate = bundle.gates.get("appearance") or {}
        feature_layer = str(gate["layer"]) if gate else None
        cam_layer = _cam_layer_name(bundle)
        graph_module, has_cam = _make_image_graph(fold_batch_norms(net), cam_layer, feature_layer)
        input_names = ["image", "cam_seed"]
        output_names = ["logits"] + (["features"] if feature_layer else [])
        output_names += list(CAM_OUTPUTS) if has_cam else []
        dynamic = {"image": {0: "n"}, "cam_seed": {0: "m"}, "logits": {0: "n"}}
        dynamic.update({"features": {0: "n"}, CAM_OUTPUTS[0]: {0: "m"}, CAM_OUTPUTS[1]: {0: "m"}})
        block.update(
            {
                "feature_layer": feature_layer,
                "cam_layer": cam_layer if has_cam else None,
            }
        )
    else:
        graph_module = _make_beat_graph(net)
        input_names = ["window", "rr", "template"]
        output_names = ["logits"]
        dynamic = {name: {0: "n"} for name in (*input_names, "logits")}
    example = tuple(torch.from_numpy(inputs[name]) for name in input_names)
    buffer = io.BytesIO()
    try:
        with torch.no_grad():
            torch.onnx.export(
                graph_module,
                example,
                buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes to files too
                input_names=input_names,
                output_names=output_names,
                dynamic_axes={k: v for k, v in dynamic.items() if k in input_names + output_names},
                opset_version=OPSET,
                dynamo=False,
                do_constant_folding=True,
            )
    except Exception as exc:  # the exporter raises many kinds
        raise ModelError(
            f"Model “{bundle.id}” could not be exported to ONNX.", repr(exc)[:2000]
        ) from exc
    graph = buffer.getvalue()
    block["inputs"] = input_names
    block["outputs"] = output_names
    block["check"] = _check(bundle, net, graph, inputs, output_names, new_session, cam_maps)
    block["exported_from"] = {
        "file": str(bundle.manifest["weights"]),
        "sha256": bundle.weights_sha256,
    }
    block["exported_with"] = {p: metadata.version(p) for p in ("torch", "onnx", "onnxruntime")}
    block["requirements"] = onnx_requirements()
    return graph, block


def _check(bundle, net, graph, inputs, output_names, new_session, cam_maps) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ONNX_NAME
        path.write_bytes(graph)
        session = new_session(path, threads=1)
        names = {i.name for i in session.get_inputs()}  # the exporter drops unused inputs
        feeds = {k: v for k, v in inputs.items() if k in names}
        got = dict(zip(output_names, session.run(None, feeds), strict=True))
    want = _torch_reference(bundle, net, inputs)
    diffs = {"logits": float(np.max(np.abs(got["logits"] - want["logits"])))}
    from engine.models.outputs import logits_to_probabilities

    p_got = logits_to_probabilities(got["logits"], bundle)
    p_want = logits_to_probabilities(want["logits"], bundle)
    diffs["probabilities"] = float(np.max(np.abs(p_got - p_want)))
    if "features" in got:
        scale = float(np.max(np.abs(want["features"]))) or 1.0
        diffs["features"] = float(np.max(np.abs(got["features"] - want["features"]))) / scale
    if "gradcam" in want and CAM_OUTPUTS[0] in got:
        mine = cam_maps(got[CAM_OUTPUTS[0]], got[CAM_OUTPUTS[1]], "gradcam")
        diffs["gradcam"] = float(np.max(np.abs(_normalised(mine) - _normalised(want["gradcam"]))))
    failed = {k: v for k, v in diffs.items() if not v <= TOLERANCE[k]}
    if failed:
        raise ModelError(
            f"The ONNX export of model “{bundle.id}” does not reproduce its torch outputs.",
            f"largest differences {failed}, tolerance {dict(TOLERANCE)}",
        )
    n = len(next(iter(inputs.values())))
    return {
        "inputs": f"{n} seeded inputs (numpy default_rng({CHECK_SEED}); engine.train.onnx_export)",
        "runtime": "onnxruntime CPUExecutionProvider",
        "max_abs_diff": {k: float(f"{v:.3g}") for k, v in diffs.items()},
        "tolerance": {k: TOLERANCE[k] for k in diffs},
        "note": "features and gradcam: relative to the largest value (Grad-CAM maps as shown, "
        "scaled to [0, 1])",
    }


def add_onnx(folder: str | Path) -> Path:
    """(Re)export the ONNX graph of an existing torch bundle, without retraining.

    The bundle is verified first; ``model.onnx`` and the manifest's ``onnx``
    block are written and the manifest re-hashed (see
    :func:`engine.models.authoring.update_bundle`). Weights, version and
    everything else stay as they are; the card, which states the runtime and
    the check's figures, is re-rendered by the caller
    (:func:`engine.train.card.refresh_bundle`).
    """
    from engine.models.architectures import load_torch_network
    from engine.models.authoring import update_bundle

    bundle = open_bundle(Path(folder))
    if bundle.kind not in ("torch-cnn", "torch-lstm"):
        raise ModelError(f"Model “{bundle.id}” is not a torch model; it has no ONNX graph.")
    graph, block = export_onnx(bundle, load_torch_network(bundle))

    def edit(manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["onnx"] = block
        return manifest

    return update_bundle(folder, {ONNX_NAME: graph}, edit)

"""Class activation maps for CNNs: Grad-CAM and Grad-CAM++.

Grad-CAM (Selvaraju et al., ICCV 2017) weights a convolutional layer's
feature maps by the spatial mean of the class score's gradient; Grad-CAM++
(Chattopadhay et al., WACV 2018) weights positive gradients per position so
that several instances of a finding are all shown.

The target layer's output is captured by a forward hook and replaced by a
leaf tensor that requires a gradient, with the network's own parameters
frozen: the backward pass then runs only through the layers *after* the
target layer (pooling and the classifier), so a map costs little more than
the forward pass that produces the prediction anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch
    from torch import nn

CAM_METHODS = ("gradcam", "gradcam++")


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name`` (dotted path, as in ``named_modules``)."""
    modules = dict(model.named_modules())
    if name not in modules:
        raise KeyError(f"the network has no layer {name!r}")
    return modules[name]


class ActivationCapture:
    """Context manager: keeps a layer's output as a gradient-requiring leaf."""

    def __init__(self, layer: nn.Module) -> None:
        self.layer = layer
        self.activation: torch.Tensor | None = None
        self._handle: Any = None

    def _hook(self, module: nn.Module, inputs: object, output: torch.Tensor) -> torch.Tensor:
        leaf = output.detach().requires_grad_(True)
        self.activation = leaf
        # A copy goes on, so in-place operations after the layer (DenseNet's
        # ReLU) leave the captured activation intact.
        return leaf.clone()

    def __enter__(self) -> ActivationCapture:
        self._handle = self.layer.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None


def cam_from_gradients(
    activation: torch.Tensor, gradient: torch.Tensor, method: str = "gradcam"
) -> torch.Tensor:
    """Maps ``(n, h, w)`` (non-negative, unnormalised) from ``(n, c, h, w)`` tensors."""
    import torch

    a = activation.detach()
    g = gradient.detach()
    if method == "gradcam":
        weights = g.mean(dim=(2, 3), keepdim=True)
    elif method == "gradcam++":
        g2 = g * g
        g3 = g2 * g
        denom = 2.0 * g2 + a.sum(dim=(2, 3), keepdim=True) * g3
        alpha = torch.where(
            g != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g)
        )
        weights = (alpha * torch.relu(g)).sum(dim=(2, 3), keepdim=True)
    else:
        raise ValueError(f"unknown CAM method {method!r}; use one of {CAM_METHODS}")
    return torch.relu((weights * a).sum(dim=1))


def class_activation_maps(
    model: nn.Module,
    x: torch.Tensor,
    layer: nn.Module,
    target: int | Sequence[int],
    methods: Sequence[str] = ("gradcam",),
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``model`` on ``x`` once and return its logits and the requested maps.

    Parameters
    ----------
    model
        An ``eval()`` network (its parameters may be frozen).
    x
        Input batch ``(n, c, H, W)``.
    layer
        The convolutional layer whose output is explained.
    target
        Output index to explain, one for all or one per input.
    methods
        Any of :data:`CAM_METHODS`.

    Returns
    -------
    logits, maps
        ``logits`` ``(n, k)`` (detached); ``maps[method]`` ``(n, h, w)`` at the
        layer's resolution.
    """
    import torch

    with torch.enable_grad(), ActivationCapture(layer) as cap:
        logits = model(x)
    if cap.activation is None:
        raise RuntimeError("the target layer was not used by the network's forward pass")
    n = logits.shape[0]
    idx = torch.as_tensor(
        [target] * n if isinstance(target, int) else list(target), device=logits.device
    )
    score = logits.gather(1, idx.view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(score, cap.activation)
    maps = {m: cam_from_gradients(cap.activation, grad, m) for m in methods}
    return logits.detach(), maps


def cam_from_arrays(
    activation: np.ndarray, gradient: np.ndarray, method: str = "gradcam"
) -> np.ndarray:
    """:func:`cam_from_gradients` on numpy arrays (what an ONNX graph returns), float32."""
    a = np.asarray(activation, dtype=np.float32)
    g = np.asarray(gradient, dtype=np.float32)
    if method == "gradcam":
        weights = g.mean(axis=(2, 3), keepdims=True)
    elif method == "gradcam++":
        g2 = g * g
        g3 = g2 * g
        denom = 2.0 * g2 + a.sum(axis=(2, 3), keepdims=True) * g3
        safe = np.where(denom != 0, denom, np.float32(1.0))
        alpha = np.where(g != 0, g2 / safe, np.float32(0.0))
        weights = (alpha * np.maximum(g, 0.0)).sum(axis=(2, 3), keepdims=True)
    else:
        raise ValueError(f"unknown CAM method {method!r}; use one of {CAM_METHODS}")
    return np.maximum((weights * a).sum(axis=1), 0.0).astype(np.float32, copy=False)


def _resize_weights(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear source indices and weights along one axis, as torch's ``interpolate``
    computes them with ``align_corners=False`` (half-pixel centres, clamped at 0)."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_bilinear(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Resize a 2-D map to ``(rows, cols)`` like ``F.interpolate(mode="bilinear")``."""
    m = np.asarray(image, dtype=np.float32)
    r0, r1, wr = _resize_weights(m.shape[0], rows)
    c0, c1, wc = _resize_weights(m.shape[1], cols)
    top = m[r0] * (1.0 - wr)[:, None] + m[r1] * wr[:, None]
    return top[:, c0] * (1.0 - wc)[None, :] + top[:, c1] * wc[None, :]


def cam_to_source(
    cam: torch.Tensor | np.ndarray,
    shape: tuple[int, int],
    box: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Resize one map to the source image's ``(rows, cols)`` and scale it to ``[0, 1]``.

    The network saw the source squashed to a square — the whole of it, or
    with ``box = (r0, r1, c0, c1)`` only that part (a body crop) — so a
    plain (bilinear) resize to the box puts every cell back over the region
    it came from; outside the box the map is 0 (the network did not see it).
    """
    rows, cols = int(shape[0]), int(shape[1])
    r0, r1, c0, c1 = box if box is not None else (0, rows, 0, cols)
    if not isinstance(cam, np.ndarray):
        cam = cam.detach().float().cpu().numpy()
    part = np.maximum(resize_bilinear(cam, r1 - r0, c1 - c0), 0.0)
    peak = float(part.max()) if part.size else 0.0
    if peak > 0:
        part /= peak
    part = np.ascontiguousarray(part, dtype=np.float32)  # row-major, as every map is
    if (r0, r1, c0, c1) == (0, rows, 0, cols):
        return part
    out = np.zeros((rows, cols), dtype=np.float32)
    out[r0:r1, c0:c1] = part
    return out

"""Attributions over signals: integrated gradients and occlusion, per sample.

Integrated gradients (Sundararajan et al., ICML 2017) integrate the
gradient along the straight path from a baseline (a flat, isoelectric
trace) to the input; the attributions of one beat window sum to
``f(window) − f(baseline)`` (completeness), which the tests check.
The integral uses Gauss–Legendre nodes, as captum does by default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

SIGNAL_METHODS = ("integrated-gradients", "occlusion")


def _nodes(steps: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(steps)
    return (x + 1.0) / 2.0, w / 2.0


def integrated_gradients(
    forward: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    baselines: Sequence[torch.Tensor],
    target: torch.Tensor,
    *,
    steps: int = 32,
    chunk: int = 2048,
) -> tuple[torch.Tensor, ...]:
    """Integrated gradients of ``forward(*inputs)[i, target[i]]`` for each input tensor.

    Parameters
    ----------
    forward
        Maps the input tensors (batch first) to ``(n, k)`` scores.
    inputs, baselines
        Tensors of matching shapes, batch first; baselines may have batch 1.
    target
        ``(n,)`` output index per row.
    steps
        Gauss–Legendre nodes on ``[0, 1]``.
    chunk
        Most rows (``inputs × nodes``) evaluated at once.

    Returns
    -------
    tuple of torch.Tensor
        One attribution tensor per input, shaped like it.
    """
    import torch

    alphas, weights = _nodes(steps)
    n = inputs[0].shape[0]
    xs = [x.detach() for x in inputs]
    bs = [b.detach().expand_as(x) for b, x in zip(baselines, xs, strict=True)]
    total = [torch.zeros_like(x) for x in xs]
    per = max(1, chunk // steps)
    a = torch.as_tensor(alphas, dtype=xs[0].dtype, device=xs[0].device)
    w = torch.as_tensor(weights, dtype=xs[0].dtype, device=xs[0].device)
    for start in range(0, n, per):
        stop = min(start + per, n)
        m = stop - start
        scaled = []
        for x, b in zip(xs, bs, strict=True):
            xb, bb = x[start:stop], b[start:stop]
            shape = (steps, 1) + (1,) * (x.dim() - 1)
            path = bb.unsqueeze(0) + a.view(shape) * (xb - bb).unsqueeze(0)
            scaled.append(path.reshape((steps * m, *tuple(x.shape[1:]))).requires_grad_(True))
        with torch.enable_grad():
            out = forward(*scaled)
            idx = target[start:stop].repeat(steps).view(-1, 1)
            score = out.gather(1, idx).sum()
            grads = torch.autograd.grad(score, scaled)
        for i, (g, x, b) in enumerate(zip(grads, xs, bs, strict=True)):
            g = g.view((steps, m, *tuple(x.shape[1:])))
            avg = (w.view((steps,) + (1,) * (g.dim() - 1)) * g).sum(dim=0)
            total[i][start:stop] = (x[start:stop] - b[start:stop]) * avg
    return tuple(total)


def occlusion_1d(
    forward: Callable[..., torch.Tensor],
    window: torch.Tensor,
    extra: Sequence[torch.Tensor],
    target: torch.Tensor,
    *,
    width: int = 16,
    stride: int = 8,
    fill: float = 0.0,
) -> torch.Tensor:
    """Per-sample drop of the target score when a patch of the window is flattened.

    Each sample's attribution is the mean score drop over the patches
    covering it (positive: the sample supported the class).
    """
    import torch

    _n, length = window.shape
    with torch.inference_mode():
        base = forward(window, *extra).gather(1, target.view(-1, 1))[:, 0]
        total = torch.zeros_like(window)
        count = torch.zeros(length, dtype=window.dtype, device=window.device)
        for start in range(0, max(length - width, 0) + 1, stride):
            stop = min(start + width, length)
            occluded = window.clone()
            occluded[:, start:stop] = fill
            drop = base - forward(occluded, *extra).gather(1, target.view(-1, 1))[:, 0]
            total[:, start:stop] += drop[:, None]
            count[start:stop] += 1
    return total / torch.clamp(count, min=1)


def occlusion_1d_np(
    forward: Callable[[np.ndarray, int, int], np.ndarray],
    windows: np.ndarray,
    target: np.ndarray,
    *,
    width: int = 16,
    stride: int = 8,
    fill: float = 0.0,
    batch: int = 512,
    cancel: object = None,
    progress: Callable[[float, str], None] | None = None,
) -> np.ndarray:
    """:func:`occlusion_1d` for a numpy ``forward(windows, start, stop)`` (an ONNX graph).

    ``forward`` scores the windows of beats ``start:stop``; the patches and
    the averaging are those of :func:`occlusion_1d`.
    """
    from engine.progress import check_cancelled

    n, length = windows.shape
    total = np.zeros((n, length), dtype=np.float32)
    count = np.zeros(length, dtype=np.float32)
    starts = list(range(0, max(length - width, 0) + 1, stride))
    for start in starts:
        count[start : min(start + width, length)] += 1
    for s in range(0, n, batch):
        check_cancelled(cancel)  # type: ignore[arg-type]
        if progress is not None:
            progress(s / max(n, 1), f"Explaining beats {s + 1}–{n}")
        e = min(s + batch, n)
        w = windows[s:e]
        rows = np.arange(e - s)
        base = forward(w, s, e)[rows, target[s:e]]
        for start in starts:
            stop = min(start + width, length)
            occluded = w.copy()
            occluded[:, start:stop] = fill
            drop = base - forward(occluded, s, e)[rows, target[s:e]]
            total[s:e, start:stop] += drop[:, None]
    return total / np.maximum(count, 1.0)


def windows_to_samples(
    attributions: np.ndarray,
    model_samples: np.ndarray,
    before: int,
    n_model: int,
    fs_model: float,
    fs_source: float,
    n_source: int,
) -> np.ndarray:
    """Lay per-beat window attributions onto the whole record, in source samples.

    Where windows of neighbouring beats overlap their values are averaged;
    samples no window covers are 0. The result is mapped from the model's
    rate back to the source rate by linear interpolation.
    """
    attr = np.asarray(attributions, dtype=np.float64)
    total = np.zeros(n_model + 1)
    count = np.zeros(n_model + 1)
    if len(attr):
        length = attr.shape[1]
        idx = model_samples[:, None] - before + np.arange(length)[None, :]
        valid = (idx >= 0) & (idx < n_model)
        np.add.at(total, np.where(valid, idx, n_model), np.where(valid, attr, 0.0))
        np.add.at(count, np.where(valid, idx, n_model), valid.astype(np.float64))
    per_sample = np.divide(
        total[:n_model], count[:n_model], out=np.zeros(n_model), where=count[:n_model] > 0
    )
    if abs(fs_model - fs_source) < 1e-9 and n_model == n_source:
        return per_sample.astype(np.float32)
    t_src = np.arange(n_source) * (fs_model / fs_source)
    return np.interp(t_src, np.arange(n_model), per_sample).astype(np.float32)

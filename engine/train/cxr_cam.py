"""Where the pneumonia CNN's Grad-CAM looks, per target layer, and whether it is faithful.

Two measures of a Grad-CAM explanation on preprocessed network inputs
(``uint8`` ``(n, s, s)``, as :func:`engine.train.cxr.load_pixels` keeps them):

* :func:`gradcam_body_share` — the share of each image's map mass (pneumonia
  class, negative values clipped) inside the body outline;
* :func:`deletion_drop` — faithfulness: the drop of P(pneumonia) when the
  ``fraction`` of body pixels with the highest map values are set to black
  (the value the input has outside the body), against the same number of
  random body pixels.

docs/experiments/cxr-generalisation-plan.md (fifth change) chooses the layer
with them on the tuning patients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.models.body import body_mask

#: Images per Grad-CAM pass.
BATCH = 32
#: The layer the shipped explanation uses (fifth change of the plan; ``layer4`` before it).
CAM_LAYER = "layer3"


def _inputs(pixels_u8: np.ndarray, mean: float, std: float) -> np.ndarray:
    x = (pixels_u8.astype(np.float32) / 255.0 - mean) / std
    return np.repeat(x[:, None], 3, axis=1)


def gradcam_maps(
    net: Any, pixels_u8: np.ndarray, layer: str, mean: float, std: float
) -> np.ndarray:
    """Grad-CAM maps of the pneumonia class at the input's size, negatives clipped to 0."""
    import torch
    import torch.nn.functional as F

    from engine.explain.cam import class_activation_maps, find_layer

    target = find_layer(net, layer)
    out = []
    for s in range(0, len(pixels_u8), BATCH):
        chunk = pixels_u8[s : s + BATCH]
        x = torch.from_numpy(_inputs(chunk, mean, std))
        _, maps = class_activation_maps(net, x, target, 1, ("gradcam",))
        cams = F.interpolate(
            maps["gradcam"].float()[:, None], size=chunk.shape[1:], mode="bilinear",
            align_corners=False,
        )[:, 0].clamp(min=0).numpy()  # fmt: skip
        out.append(np.nan_to_num(cams, nan=0.0, posinf=0.0, neginf=0.0))
    return np.concatenate(out) if out else np.zeros((0, *pixels_u8.shape[1:]), np.float32)


def gradcam_body_share(
    net: Any, pixels_u8: np.ndarray, mean: float, std: float, layer: str = "layer4"
) -> np.ndarray:
    """Per image, the share of its Grad-CAM mass (pneumonia class) inside the body outline."""
    shares = []
    for cam, img in zip(gradcam_maps(net, pixels_u8, layer, mean, std), pixels_u8, strict=True):
        total = float(cam.sum())
        # A map with no mass (nothing pushed towards pneumonia) looks nowhere: counted inside.
        shares.append(float(cam[body_mask(img)].sum() / total) if total > 0 else 1.0)
    return np.asarray(shares)


def _p_pneumonia(net: Any, pixels_u8: np.ndarray, mean: float, std: float) -> np.ndarray:
    import torch

    out = []
    with torch.inference_mode():
        for s in range(0, len(pixels_u8), 64):
            x = torch.from_numpy(_inputs(pixels_u8[s : s + 64], mean, std))
            out.append(torch.softmax(net(x).float(), dim=1)[:, 1].numpy())
    return np.concatenate(out)


def deletion_drop(
    net: Any, pixels_u8: np.ndarray, mean: float, std: float, layer: str,
    fraction: float = 0.10, seed: int = 0,
) -> dict[str, float]:  # fmt: skip
    """Mean drop of P(pneumonia) when the top-``fraction`` body pixels by map value are blacked
    out, and when as many random body pixels are (the floor)."""
    rng = np.random.default_rng(seed)
    cams = gradcam_maps(net, pixels_u8, layer, mean, std)
    top, rand = pixels_u8.copy(), pixels_u8.copy()
    for i, (cam, img) in enumerate(zip(cams, pixels_u8, strict=True)):
        body = np.flatnonzero(body_mask(img))
        k = max(1, round(fraction * body.size))
        order = body[np.argsort(cam.reshape(-1)[body])[::-1]]
        top[i].reshape(-1)[order[:k]] = 0
        rand[i].reshape(-1)[rng.choice(body, size=k, replace=False)] = 0
    base = _p_pneumonia(net, pixels_u8, mean, std)
    return {
        "drop_top": round(float(np.mean(base - _p_pneumonia(net, top, mean, std))), 4),
        "drop_random": round(float(np.mean(base - _p_pneumonia(net, rand, mean, std))), 4),
        "n": len(pixels_u8),
    }

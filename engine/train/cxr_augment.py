"""Training augmentation for the pneumonia CNN that mimics acquisition differences.

Radiographs from another period, room or machine differ in collimation and
borders, exposure, sharpness, noise and the burned-in markers in the
corners; a network that keys on those has learned the acquisition, not the
lungs (docs/experiments/cxr-generalisation-plan.md). Every transform here is
applied to a batch ``(n, 1, h, w)`` in ``[0, 1]`` with the caller's
generator, so training stays seeded.
"""

from __future__ import annotations

import math
from typing import Any


def _uniform(n: int, lo: float, hi: float, gen: Any, torch: Any) -> Any:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def acquisition_augment(x: Any, gen: Any, torch: Any) -> Any:
    """Crop/scale/rotate/flip, exposure, blur and noise, edge bands and a corner marker."""
    import torch.nn.functional as F

    n, _, h, w = x.shape
    # Geometry: a random resized crop (area 0.65–1, aspect 0.8–1.25), rotation ±10°, flip.
    area = _uniform(n, 0.65, 1.0, gen, torch)
    aspect = torch.exp(_uniform(n, math.log(0.8), math.log(1.25), gen, torch))
    sx = torch.sqrt(area * aspect).clamp(max=1.0)
    sy = torch.sqrt(area / aspect).clamp(max=1.0)
    tx = (1 - sx) * _uniform(n, -1, 1, gen, torch)
    ty = (1 - sy) * _uniform(n, -1, 1, gen, torch)
    angle = _uniform(n, -1, 1, gen, torch) * math.radians(10)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos * sx * flip, -sin * sy, tx], 1),
            torch.stack([sin * sx * flip, cos * sy, ty], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    # Exposure: gamma and contrast ±30 %.
    gamma = torch.exp(_uniform(n, -0.3, 0.3, gen, torch)).view(n, 1, 1, 1)
    contrast = _uniform(n, 0.7, 1.3, gen, torch).view(n, 1, 1, 1)
    x = x.clamp(0, 1).pow(gamma)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean).clamp(0, 1)
    # Sharpness: Gaussian blur with sigma up to 1.2 px on half of the images.
    sigma = _uniform(n, 0.3, 1.2, gen, torch)
    blur = torch.rand(n, generator=gen) < 0.5
    if bool(blur.any()):
        r = 3
        offsets = torch.arange(-r, r + 1, dtype=x.dtype)
        k = torch.exp(-(offsets[None, :] ** 2) / (2 * sigma[:, None] ** 2))
        k = k / k.sum(dim=1, keepdim=True)  # (n, 7)
        xb = x.reshape(1, n, h, w)
        xb = F.conv2d(F.pad(xb, (r, r, 0, 0), mode="replicate"), k.view(n, 1, 1, -1), groups=n)
        xb = F.conv2d(F.pad(xb, (0, 0, r, r), mode="replicate"), k.view(n, 1, -1, 1), groups=n)
        x = torch.where(blur.view(n, 1, 1, 1), xb.reshape(n, 1, h, w), x)
    # Noise: Gaussian, sd up to 0.03, on half of the images.
    sd = _uniform(n, 0.0, 0.03, gen, torch) * (torch.rand(n, generator=gen) < 0.5)
    x = (x + torch.randn(x.shape, generator=gen) * sd.view(n, 1, 1, 1)).clamp(0, 1)
    # Borders: a black or white band of random width at one edge, on a third of the images.
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    band = (_uniform(n, 0.02, 0.12, gen, torch) * min(h, w)).view(n, 1, 1)
    edge = torch.randint(0, 4, (n,), generator=gen).view(n, 1, 1)
    inside = torch.where(
        edge == 0, rows < band,
        torch.where(edge == 1, rows >= h - band, torch.where(edge == 2, cols < band, cols >= w - band)),
    )  # fmt: skip
    use = (torch.rand(n, generator=gen) < 1 / 3).view(n, 1, 1)
    value = (torch.rand(n, generator=gen) < 0.5).float().view(n, 1, 1)
    mask = (inside & use).unsqueeze(1)
    x = torch.where(mask, value.unsqueeze(1).expand_as(x), x)
    # Markers: a letter-sized rectangle erased or whitened near a corner, on half of the images.
    mh = (_uniform(n, 0.05, 0.12, gen, torch) * h).view(n, 1, 1)
    mw = (_uniform(n, 0.05, 0.15, gen, torch) * w).view(n, 1, 1)
    top = torch.where(torch.rand(n, generator=gen) < 0.5, 0.02 * h, 0.98 * h - mh.view(n))
    left = torch.where(torch.rand(n, generator=gen) < 0.5, 0.02 * w, 0.98 * w - mw.view(n))
    top, left = top.view(n, 1, 1), left.view(n, 1, 1)
    box = (rows >= top) & (rows < top + mh) & (cols >= left) & (cols < left + mw)
    use = (torch.rand(n, generator=gen) < 0.5).view(n, 1, 1)
    value = (torch.rand(n, generator=gen) < 0.5).float().view(n, 1, 1)
    mask = (box & use).unsqueeze(1)
    return torch.where(mask, value.unsqueeze(1).expand_as(x), x)


def acquisition_jitter_u8(square_u8: Any, rng: Any) -> Any:
    """One acquisition-like variant of a squashed grey uint8 image (numpy, seeded ``rng``).

    For the out-of-domain fit (plan, sixth change): random resized crop (area
    0.75–1, aspect 0.8–1.25, resized back), gamma 0.7–1.4, contrast 0.8–1.25 and
    brightness ±0.08 about the mean, Gaussian blur σ 0–1.5 px and Gaussian noise
    (sd 0–0.03 of the range). Applied before the bundle's body-crop, as a new
    acquisition would be.
    """
    import numpy as np
    from PIL import Image
    from scipy.ndimage import gaussian_filter

    h, w = square_u8.shape
    area = rng.uniform(0.75, 1.0)
    aspect = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    ch = min(h, max(8, round(h * math.sqrt(area / aspect))))
    cw = min(w, max(8, round(w * math.sqrt(area * aspect))))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = np.ascontiguousarray(square_u8[top : top + ch, left : left + cw])
    x = (
        np.asarray(
            Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR), dtype=np.float64
        )
        / 255.0
    )
    x = x ** math.exp(rng.uniform(math.log(0.7), math.log(1.4)))
    contrast = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
    m = x.mean()
    x = (x - m) * contrast + m + rng.uniform(-0.08, 0.08)
    sigma = rng.uniform(0.0, 1.5)
    if sigma > 0.05:
        x = gaussian_filter(x, sigma, mode="nearest")
    x = x + rng.normal(0.0, rng.uniform(0.0, 0.03), x.shape)
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)

"""Grad-CAM and Grad-CAM++: where the network looked, mapped back onto the source image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.explain.cam import CAM_METHODS, cam_to_source, class_activation_maps


class LeftHalfNet(nn.Module):
    """Sees only the left half of its input: the right half is zeroed before any feature."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros_like(x)
        mask[..., : x.shape[-1] // 2] = 1.0
        f = self.features(x * mask)
        return self.head(f.mean(dim=(2, 3)))


@pytest.mark.parametrize("method", CAM_METHODS)
def test_a_net_looking_at_the_left_half_is_explained_on_the_left(method: str) -> None:
    torch.manual_seed(0)
    net = LeftHalfNet().eval()
    with torch.no_grad():  # positive evidence for class 1 from every channel
        net.features[0].weight.abs_()
        net.features[0].bias.zero_()
        net.head.weight.copy_(torch.tensor([[-1.0] * 4, [1.0] * 4]))
    net.requires_grad_(False)
    x = torch.rand(3, 1, 24, 32)
    logits, maps = class_activation_maps(net, x, net.features, 1, (method,))
    assert logits.shape == (3, 2)
    cam = maps[method]
    assert cam.shape == (3, 24, 32)
    left = cam[..., :16].sum(dim=(1, 2))
    total = cam.sum(dim=(1, 2))
    assert (left / total > 0.9).all()


def _blob_net() -> nn.Module:
    """A bright-blob detector built from the shipped small-cnn architecture."""
    from engine.models.architectures import build_model

    net = build_model("small-cnn", {"num_classes": 2, "width": 4, "depth": 1})
    with torch.no_grad():
        conv, bn = net.features[0], net.features[1]
        conv.weight.fill_(1.0 / 27.0)
        bn.weight.fill_(1.0)
        bn.bias.fill_(-0.5)
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        net.classifier.weight.copy_(torch.tensor([[0.0] * 4, [1.0] * 4]))
        net.classifier.bias.zero_()
    return net.eval()


@pytest.mark.parametrize("method", CAM_METHODS)
def test_heatmap_is_in_source_geometry_and_finds_the_blob(tmp_path: Path, method: str) -> None:
    """A 60 x 100 image squashed to 32 x 32: the map comes back 60 x 100, on the blob."""
    from engine.api import analyze_image
    from engine.models.registry import ModelRegistry
    from tests.engine.models.factory import make_cnn_bundle

    make_cnn_bundle(
        tmp_path,
        "blob-cnn",
        net=_blob_net(),
        architecture={"name": "small-cnn", "args": {"num_classes": 2, "width": 4, "depth": 1}},
        explanation={"method": method},
        gates={},
    )
    image = np.zeros((60, 100), dtype=np.uint8)
    image[10:22, 70:88] = 255  # the blob: rows 10-21, columns 70-87
    reg = ModelRegistry([(tmp_path, "bundled")])
    pred = analyze_image("blob-cnn", image, registry=reg, device="cpu")
    heat = pred.heatmap
    assert heat.shape == (60, 100) and heat.dtype == np.float32
    assert heat.max() == pytest.approx(1.0) and heat.min() >= 0.0
    r, c = np.unravel_index(np.argmax(heat), heat.shape)
    assert 7 <= r <= 25 and 66 <= c <= 92
    inside = heat[5:28, 62:96].sum()
    assert inside / heat.sum() > 0.8
    assert pred.explanation_method == method


def test_cam_to_source_scales_to_unit_range() -> None:
    cam = torch.tensor([[0.0, 2.0], [4.0, 0.0]])
    out = cam_to_source(cam, (10, 30))
    assert out.shape == (10, 30) and out.dtype == np.float32
    assert out.max() == pytest.approx(1.0) and out.min() >= 0
    assert out[9, 0] > out[0, 29] > out[0, 0] - 1e-6  # the 4.0 cell is bottom-left
    assert not cam_to_source(torch.zeros(3, 3), (5, 5)).any()


def test_cam_costs_little_more_than_the_forward() -> None:
    """Only the layers after the target layer are differentiated (shape check of the graph)."""
    torch.manual_seed(0)
    net = LeftHalfNet().eval().requires_grad_(False)
    x = torch.rand(1, 1, 8, 8)
    logits, _ = class_activation_maps(net, x, net.features, 0, ("gradcam",))
    assert not logits.requires_grad
    assert all(p.grad is None for p in net.parameters())

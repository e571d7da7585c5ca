"""Integrated gradients and occlusion on toy LSTMs: completeness, locality, sample alignment."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from engine.explain.signal import integrated_gradients, occlusion_1d, windows_to_samples
from engine.models.architectures import build_model


def test_integrated_gradients_are_complete_on_the_beat_lstm() -> None:
    """Sum of attributions = f(x) − f(baseline), for every beat (completeness axiom)."""
    torch.manual_seed(0)
    net = build_model("beat-lstm", {"num_classes": 3, "window": 40, "n_rr": 2, "hidden": 6,
                                    "conv_channels": 3}).eval().requires_grad_(False)  # fmt: skip
    w = torch.randn(5, 40)
    rr = torch.randn(5, 2)
    target = torch.tensor([0, 1, 2, 1, 0])
    bw, brr = torch.zeros(1, 40), torch.zeros(1, 2)
    aw, arr = integrated_gradients(net, (w, rr), (bw, brr), target, steps=48)
    with torch.no_grad():
        fx = net(w, rr).gather(1, target[:, None])[:, 0]
        fb = net(bw.expand(5, -1), brr.expand(5, -1)).gather(1, target[:, None])[:, 0]
    total = aw.sum(dim=1) + arr.sum(dim=1)
    assert torch.allclose(total, fx - fb, atol=2e-3, rtol=1e-2)
    assert aw.shape == w.shape and arr.shape == rr.shape


class LocalLSTM(nn.Module):
    """An LSTM that reads only samples 10..19 of its window."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, 4, batch_first=True)
        self.head = nn.Linear(4, 2)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(window[:, 10:20, None])
        return self.head(h[-1])


def test_attribution_stays_where_the_model_looks() -> None:
    torch.manual_seed(1)
    net = LocalLSTM().eval().requires_grad_(False)
    w = torch.randn(4, 40)
    target = torch.tensor([1, 1, 0, 0])
    (ig,) = integrated_gradients(net, (w,), (torch.zeros(1, 40),), target, steps=16)
    assert ig[:, :10].abs().max() == 0 and ig[:, 20:].abs().max() == 0
    assert ig[:, 10:20].abs().sum() > 0
    occ = occlusion_1d(net, w, (), target, width=4, stride=4)
    assert occ[:, :8].abs().max() == 0 and occ[:, 24:].abs().max() == 0


def test_windows_are_laid_back_on_source_samples() -> None:
    attr = np.ones((2, 6))
    out = windows_to_samples(attr, np.array([10, 30]), before=2, n_model=50, fs_model=100.0,
                             fs_source=100.0, n_source=50)  # fmt: skip
    assert out.shape == (50,)
    assert np.flatnonzero(out).tolist() == [8, 9, 10, 11, 12, 13, 28, 29, 30, 31, 32, 33]
    # at twice the source rate, the same samples map to twice the index
    out2 = windows_to_samples(attr, np.array([10, 30]), before=2, n_model=50, fs_model=100.0,
                              fs_source=200.0, n_source=100)  # fmt: skip
    assert out2.shape == (100,)
    assert out2[20] == pytest.approx(1.0) and out2[60] == pytest.approx(1.0)
    assert out2[40] == 0.0

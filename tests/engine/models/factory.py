"""Tiny real bundles for tests: random small nets, real safetensors/skops files, real hashes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from engine.models.architectures import build_model
from engine.models.authoring import torch_requirements, write_bundle

FS = 360.0
BEFORE_S = 0.1
AFTER_S = 0.15
WINDOW = round(BEFORE_S * FS) + round(AFTER_S * FS)
BEAT_LABELS = ["N", "S", "V", "F", "Q"]


def estimate(v: float) -> dict[str, Any]:
    return {"value": v, "ci95": [max(0.0, v - 0.05), min(1.0, v + 0.05)]}


def _common(model_id: str, kind: str) -> dict[str, Any]:
    return {
        "schema_version": 2,
        "id": model_id,
        "version": "0.1.0",
        "kind": kind,
        "task": "classification",
        "name": f"Test model {model_id}",
        "intended_use": "Exercising the Stethos model runtime in tests; not for clinical use.",
        "contraindications": ["any clinical use"],
        "operating_points": [
            {
                "name": "balanced",
                "threshold": 0.5,
                "sensitivity": estimate(0.9),
                "specificity": estimate(0.8),
                "rationale": "test",
            },
            {
                "name": "high-sensitivity",
                "threshold": 0.2,
                "sensitivity": estimate(0.97),
                "specificity": estimate(0.5),
                "rationale": "test",
            },
        ],
        "default_operating_point": "balanced",
        "metrics": {"auroc": estimate(0.9)},
        "training_data": {
            "name": "none",
            "source": "random initialisation",
            "licence": "n/a",
            "citation": "n/a",
        },
        "limitations": ["random weights"],
        "licence": "test only",
        "requirements": torch_requirements(),
    }


def cnn_manifest(model_id: str = "test-cnn", **overrides: Any) -> dict[str, Any]:
    m = _common(model_id, "torch-cnn")
    m.update(
        {
            "inputs": {
                "type": "image",
                "image": {"modality": ["CR", "DX"], "view": ["PA", "AP"], "body_part": ["CHEST"]},
            },
            "outputs": {
                "labels": ["normal", "pneumonia"],
                "positive_label": "pneumonia",
                "exclusive": True,
                "calibrated": False,
                "calibration": {"method": "none"},
            },
            "architecture": {"name": "small-cnn", "args": {"num_classes": 2, "width": 4}},
            "preprocessing": {
                "window": "default",
                "invert_monochrome1": True,
                "color": "gray",
                "resize": "squash",
                "size": 32,
                "channels": 3,
                "mean": [0.485, 0.456, 0.406],
                "std": [0.229, 0.224, 0.225],
            },
            "gates": {
                "modality": {"allowed": ["CR", "DX"], "action": "refuse", "if_missing": "warn"},
                "view_position": {
                    "refused": ["LL", "RL", "LATERAL"],
                    "action": "refuse",
                    "if_missing": "allow",
                },
            },
            "explanation": {"method": "gradcam"},
        }
    )
    m.update(copy.deepcopy(overrides))
    return m


def lstm_manifest(model_id: str = "test-beats", **overrides: Any) -> dict[str, Any]:
    m = _common(model_id, "torch-lstm")
    m.update(
        {
            "inputs": {"type": "signal", "signal": {"leads": ["MLII", "II"], "fs": FS}},
            "outputs": {
                "labels": BEAT_LABELS,
                "positive_label": "V",
                "exclusive": True,
                "calibrated": False,
                "calibration": {"method": "none"},
            },
            "architecture": {
                "name": "beat-lstm",
                "args": {
                    "num_classes": 5,
                    "window": WINDOW,
                    "n_rr": 4,
                    "hidden": 8,
                    "conv_channels": 4,
                },
            },
            "preprocessing": {
                "fs": FS,
                "baseline": {"method": "median"},
                "beat_window": {"before_s": BEFORE_S, "after_s": AFTER_S},
                "rr_features": ["pre_rr", "post_rr", "local_rr", "pre_rr_ratio"],
                "rr_mean": [0.8, 0.8, 0.8, 1.0],
                "rr_std": [0.2, 0.2, 0.2, 0.2],
            },
            "gates": {
                "sampling_rate": {"allowed": [FS], "action": "refuse"},
                "leads": {"allowed": ["MLII", "II"], "action": "refuse"},
            },
            "explanation": {"method": "integrated-gradients", "steps": 8},
        }
    )
    m.update(copy.deepcopy(overrides))
    return m


def make_cnn_bundle(root: Path, model_id: str = "test-cnn", net=None, **overrides: Any) -> Path:
    import torch

    torch.manual_seed(0)
    m = cnn_manifest(model_id, **overrides)
    net = net or build_model(m["architecture"]["name"], m["architecture"]["args"])
    return write_bundle(root, m, net=net)


def make_lstm_bundle(root: Path, model_id: str = "test-beats", **overrides: Any) -> Path:
    import torch

    torch.manual_seed(0)
    m = lstm_manifest(model_id, **overrides)
    net = build_model(m["architecture"]["name"], m["architecture"]["args"])
    return write_bundle(root, m, net=net)


def synthetic_ecg(seconds: float = 20.0, fs: float = FS, rr: float = 0.8, seed: int = 0):
    """A clean synthetic ECG (Gaussian QRS spikes on a slow baseline) and its R peaks."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    peaks = np.arange(0.5, seconds - 0.3, rr)
    x = 0.1 * np.sin(2 * np.pi * 0.2 * t)
    for p in peaks:
        x += 1.2 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - p - 0.25) / 0.04) ** 2)
    x += 0.01 * rng.standard_normal(n)
    samples = np.rint(peaks * fs).astype(np.int64)
    return x.astype(np.float32), samples

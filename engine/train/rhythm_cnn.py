"""Variant C of the rhythm model: a 1-D CNN on the lead, fused with design A's features model.

Design: docs/experiments/rhythm-af-plan.md ("Variant C"), written before any
result. The network (``rhythm-cnn`` in :mod:`engine.models.architectures`)
reads :func:`engine.ecg.rhythm_signal.network_lead` windows; its class
probabilities are averaged with the rhythm-features classifier's.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.ecg.rhythm_signal import FS, WINDOW, network_lead, windows
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.train.rhythm import (
    AF,
    CLASSES,
    af_threshold,
    class_f1,
    confusion,
    decide,
    fit_classifier,
)

ARGS = {"num_classes": len(CLASSES), "width": 32, "stem_kernel": 15, "kernel": 9}
EPOCHS, BATCH, LR, WEIGHT_DECAY = 14, 64, 1e-3, 1e-3
INNER_SHARE = 0.10


def read_leads(
    root: Path, names: np.ndarray, *, cache: Path | None = None,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> list[np.ndarray]:  # fmt: skip
    """Every recording's network lead (150 Hz, scaled), cached as one ``.npz``."""
    from engine.ecg import read_signal

    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if z["names"].tolist() == names.tolist():
                flat, ends = z["flat"], z["ends"]
                return np.split(flat, ends[:-1])
    leads = []
    for i, name in enumerate(names):
        if i % 200 == 0:
            check_cancelled(cancel)
            progress(i / len(names), f"Reading leads {i}/{len(names)}")
        sig = read_signal(root / f"{name}.hea")
        leads.append(network_lead(sig.data[0], float(sig.fs)))
    if cache is not None:
        ends = np.cumsum([len(x) for x in leads])
        np.savez(cache, names=names, flat=np.concatenate(leads), ends=ends)
    return leads


def _crop(lead: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(WINDOW, dtype=np.float32)
    if len(lead) <= WINDOW:
        start = int(rng.integers(0, WINDOW - len(lead) + 1))
        out[start : start + len(lead)] = lead
    else:
        s = int(rng.integers(0, len(lead) - WINDOW + 1))
        out[:] = lead[s : s + WINDOW]
    return out


def train_network(
    leads: list[np.ndarray], y: np.ndarray, *, seed: int = 0, epochs: int = EPOCHS,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> Any:  # fmt: skip
    """Fit ``rhythm-cnn`` on the leads (random 30-s crops, amplitude scaling, noise)."""
    import torch

    from engine.models.architectures import build_model

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_model("rhythm-cnn", ARGS)
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    weight = torch.tensor(len(y) / (len(CLASSES) * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    steps = epochs * math.ceil(len(y) / BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=steps, pct_start=0.1)
    net.train()
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for b in range(0, len(order), BATCH):
            check_cancelled(cancel)
            idx = order[b : b + BATCH]
            x = np.stack([_crop(leads[i], rng) for i in idx])
            x *= rng.uniform(0.7, 1.4, size=(len(idx), 1)).astype(np.float32)
            x += rng.normal(0, 0.05, size=x.shape).astype(np.float32)
            logits = net(torch.from_numpy(x)[:, None, :])
            loss = loss_fn(logits, torch.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        progress((epoch + 1) / epochs, f"Epoch {epoch + 1}/{epochs}")
    net.eval()
    return net


def network_proba(net: Any, leads: list[np.ndarray]) -> np.ndarray:
    """Class probabilities per recording: the mean over its 30-s windows every 15 s."""
    import torch

    out = np.zeros((len(leads), len(CLASSES)))
    with torch.inference_mode():
        for i, lead in enumerate(leads):
            w = torch.from_numpy(windows(lead))[:, None, :]
            out[i] = torch.softmax(net(w), dim=1).mean(dim=0).numpy()
    return out


def cross_validate_fused(
    X: np.ndarray, y: np.ndarray, leads: list[np.ndarray], *, folds: int = 10, seed: int = 0,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Out-of-fold probabilities of A, the network and their mean; nested AF thresholds."""
    from sklearn.model_selection import train_test_split

    from engine.train.rhythm import _folds

    n = len(y)
    p_a, p_n = np.zeros((n, len(CLASSES))), np.zeros((n, len(CLASSES)))
    decided = np.zeros(n, dtype=np.int64)
    decided_a = np.zeros(n, dtype=np.int64)
    thresholds = []
    for f, test in enumerate(_folds(y, folds, seed)):
        started = time.perf_counter()
        train = np.setdiff1d(np.arange(n), test)
        fit, inner = train_test_split(train, test_size=INNER_SHARE, stratify=y[train],
                                      random_state=1)  # fmt: skip
        hgb = fit_classifier(X[fit], y[fit], seed)
        net = train_network([leads[i] for i in fit], y[fit], seed=seed, cancel=cancel)
        fused_inner = (hgb.predict_proba(X[inner])
                       + network_proba(net, [leads[i] for i in inner])) / 2  # fmt: skip
        t = af_threshold(fused_inner[:, AF], y[inner] == AF)
        thresholds.append(t)
        p_a[test] = hgb.predict_proba(X[test])
        p_n[test] = network_proba(net, [leads[i] for i in test])
        decided[test] = decide((p_a[test] + p_n[test]) / 2, t)
        t_a = af_threshold(hgb.predict_proba(X[inner])[:, AF], y[inner] == AF)
        decided_a[test] = decide(p_a[test], t_a)
        progress((f + 1) / folds, f"Fold {f + 1}/{folds} ({time.perf_counter() - started:.0f} s)")
    fused = (p_a + p_n) / 2
    return {
        "p_features": p_a,
        "p_network": p_n,
        "p_fused": fused,
        "decided": decided,
        "thresholds": thresholds,
        "scores": class_f1(y, decided),
        "confusion": confusion(y, decided),
        "network_alone_argmax": class_f1(y, np.argmax(p_n, axis=1)),
        "features_alone_same_folds": class_f1(y, decided_a),
    }


def run_variant_c(
    root: Path, feature_cache: Path, lead_cache: Path, out: Path, *, folds: int = 5,
    progress: Progress = no_progress,
) -> dict[str, Any]:  # fmt: skip
    """Variant C's cross-validation on CinC 2017 (features from design A's cache)."""
    import json

    from engine.train.rhythm import read_cinc

    table = read_cinc(root, cache=feature_cache)
    leads = read_leads(root, table.names, cache=lead_cache, progress=progress)
    res = cross_validate_fused(table.X, table.y, leads, folds=folds, progress=progress)
    np.savez(out.with_suffix(".npz"), p_features=res["p_features"], p_network=res["p_network"],
             decided=res["decided"], y=table.y)  # fmt: skip
    keys = (
        "thresholds",
        "scores",
        "confusion",
        "network_alone_argmax",
        "features_alone_same_folds",
    )
    summary = {k: res[k] for k in keys}
    summary["fs"] = FS
    out.write_text(json.dumps(summary, indent=1))
    return summary

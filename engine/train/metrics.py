"""Evaluation metrics with bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half)."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def sens_spec(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity of ``p >= threshold``."""
    y = np.asarray(y).astype(bool)
    pred = np.asarray(p) >= threshold
    se = float((pred & y).sum() / max(y.sum(), 1))
    sp = float((~pred & ~y).sum() / max((~y).sum(), 1))
    return se, sp


def wilson_ci(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y: np.ndarray,
    p: np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile 95 % CI of ``metric`` by resampling cases (or whole ``groups``)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    p = np.asarray(p)
    if groups is None:
        index_sets = None
        n = len(y)
    else:
        uniq, inverse = np.unique(groups, return_inverse=True)
        index_sets = [np.flatnonzero(inverse == g) for g in range(len(uniq))]
        n = len(uniq)
    stats = []
    for _ in range(n_boot):
        pick = rng.integers(0, n, n)
        idx = pick if index_sets is None else np.concatenate([index_sets[i] for i in pick])
        value = metric(y[idx], p[idx])
        if np.isfinite(value):
            stats.append(value)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return float(lo), float(hi)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width bins on the positive-class probability."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(ece)


def reliability_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per-bin mean predicted probability, observed rate and count."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append(
                {
                    "bin_low": float(edges[b]),
                    "bin_high": float(edges[b + 1]),
                    "mean_predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                    "n": int(mask.sum()),
                }
            )
    return rows


def threshold_for_sensitivity(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """Highest threshold whose sensitivity is at least ``target``."""
    y = np.asarray(y).astype(bool)
    pos = np.sort(np.asarray(p)[y])[::-1]
    k = int(np.ceil(target * len(pos)))
    return float(pos[max(k - 1, 0)])


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity − 1."""
    best, best_t = -1.0, 0.5
    for t in np.unique(p):
        se, sp = sens_spec(y, p, float(t))
        if se + sp - 1 > best:
            best, best_t = se + sp - 1, float(t)
    return best_t

"""Validation metrics with confidence intervals, shared by training and local validation.

The bundle writers (:mod:`engine.train`) report these on held-out data and
``stethos-engine evaluate`` (:mod:`engine.validation.evaluate`) recomputes them
on a clinic's own data, so the card and a local check count the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

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
    # 0.9 × 10 is 9.000000000000002 in floating point: without the tolerance the
    # ceiling asks for one positive case more than the target.
    k = int(np.ceil(target * len(pos) - 1e-9))
    return float(pos[max(k - 1, 0)])


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """Threshold maximising sensitivity + specificity − 1."""
    best, best_t = -1.0, 0.5
    for t in np.unique(p):
        se, sp = sens_spec(y, p, float(t))
        if se + sp - 1 > best:
            best, best_t = se + sp - 1, float(t)
    return best_t


def estimate(value: float, ci: tuple[float, float] | None = None) -> dict[str, Any]:
    """A manifest-style estimate ``{"value", "ci95"}`` rounded to 4 decimals."""
    out: dict[str, Any] = {"value": round(float(value), 4)}
    if ci is not None and all(math.isfinite(c) for c in ci):
        out["ci95"] = [round(float(ci[0]), 4), round(float(ci[1]), 4)]
    return out


def proportion(successes: int, n: int) -> dict[str, Any]:
    """``successes / n`` with its Wilson 95 % interval (and the counts)."""
    if n == 0:
        return {"value": float("nan"), "k": 0, "n": 0}
    out = estimate(successes / n, wilson_ci(int(successes), int(n)))
    out.update(k=int(successes), n=int(n))
    return out


def binary_metrics(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    *,
    called: np.ndarray | None = None,
    seed: int = 0,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """Discrimination, decision and calibration metrics of one score.

    Parameters
    ----------
    y
        Outcomes (1 positive, 0 negative), one per case.
    p
        Predicted probability of the positive outcome, one per case.
    threshold
        Operating point: ``p >= threshold`` is called positive.
    called
        The model's own positive calls, when they are not ``p >= threshold``
        alone (the rhythm model also calls AF where it is the most probable
        class); the decision metrics count them.
    seed, n_boot
        Case bootstrap for the AUROC, ECE and Brier CIs.

    Returns
    -------
    dict
        ``metrics`` (estimates with 95 % CIs: ``auroc``, ``sensitivity``,
        ``specificity``, ``accuracy``, ``ppv``, ``npv``, ``ece``, ``brier``),
        ``confusion`` (``tp``, ``fp``, ``tn``, ``fn``) and ``reliability``.
        The AUROC is left out when only one outcome occurs.
    """
    y = np.asarray(y).astype(np.int64)
    p = np.asarray(p, dtype=np.float64)
    yb = y.astype(bool)
    pred = p >= threshold if called is None else np.asarray(called, dtype=bool)
    tp, fn = int((pred & yb).sum()), int((~pred & yb).sum())
    tn, fp = int((~pred & ~yb).sum()), int((pred & ~yb).sum())
    metrics: dict[str, Any] = {}
    if 0 < yb.sum() < len(yb):
        metrics["auroc"] = estimate(
            auroc(y, p), bootstrap_ci(auroc, y, p, seed=seed, n_boot=n_boot)
        )
    metrics["sensitivity"] = proportion(tp, tp + fn)
    metrics["specificity"] = proportion(tn, tn + fp)
    metrics["accuracy"] = proportion(tp + tn, len(y))
    metrics["ppv"] = proportion(tp, tp + fp)
    metrics["npv"] = proportion(tn, tn + fn)
    metrics["ece"] = ece_estimate(y, p, seed=seed, n_sim=n_boot)
    metrics["brier"] = estimate(_brier(y, p), bootstrap_ci(_brier, y, p, seed=seed, n_boot=n_boot))
    return {
        "metrics": {k: v for k, v in metrics.items() if v.get("n", 1) > 0},
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
        "reliability": reliability_table(y, p),
    }


def ece_chance_level(p: np.ndarray, *, repeats: int = 1, seed: int = 0, n_sim: int = 2000) -> float:
    """95th percentile of the ECE a perfectly calibrated model would show by chance.

    Outcomes are drawn as ``Bernoulli(p)`` (one per case; with ``repeats``
    > 1, ``p`` is ``(repeats, n)`` out-of-fold predictions of the same ``n``
    patients, each patient drawn once from its mean prediction) and the ECE
    of ``p`` against them is recomputed. An observed ECE below this level is
    consistent with perfect calibration on this many cases. (ECE is biased
    upward on resamples, so a bootstrap percentile interval would not cover
    it; this consistency level is the interpretable yardstick.)
    """
    rng = np.random.default_rng(seed)
    P = np.asarray(p, dtype=np.float64).reshape(repeats, -1)
    mean = P.mean(axis=0)
    flat = P.ravel()
    sims = []
    for _ in range(n_sim):
        y_sim = (rng.random(len(mean)) < mean).astype(np.float64)
        sims.append(expected_calibration_error(np.tile(y_sim, repeats), flat))
    return float(np.percentile(sims, 95))


def ece_estimate(
    y: np.ndarray, p: np.ndarray, *, repeats: int = 1, seed: int = 0, n_sim: int = 2000
) -> dict[str, Any]:
    """``{"value": ECE, "chance_95": …}`` (see :func:`ece_chance_level`).

    ``p`` is ``(n,)``, or ``(repeats, n)`` pooled out-of-fold predictions with
    ``y`` the ``n`` outcomes.
    """
    P = np.asarray(p, dtype=np.float64).reshape(repeats, -1)
    value = expected_calibration_error(np.tile(np.asarray(y), repeats), P.ravel())
    chance = ece_chance_level(P, repeats=repeats, seed=seed, n_sim=n_sim)
    return {"value": round(value, 4), "chance_95": round(chance, 4)}


def _brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y)) ** 2))


def rhythm_f1(
    y: np.ndarray,
    decided: np.ndarray,
    classes: Sequence[str],
    positive: str = "AF",
    challenge: Sequence[str] = ("normal", "AF", "other"),
) -> dict[str, Any]:
    """Per-class F1 as the PhysioNet/CinC Challenge 2017 scored it, its score and ``positive``
    against the rest.

    ``y`` and ``decided`` are class indices into ``classes``. Returns, per class,
    ``{"f1", "n", "predicted"}`` (``f1`` ``None`` when the class is neither present nor
    called), ``challenge_f1`` (the mean F1 of ``challenge``; ``None`` unless all have one)
    and ``af_vs_rest`` (``f1``, ``sensitivity``, ``positive_predictivity``, ``specificity``).
    """
    y, decided = np.asarray(y), np.asarray(decided)
    out: dict[str, Any] = {}
    for i, name in enumerate(classes):
        tp = int(((decided == i) & (y == i)).sum())
        denom = int((decided == i).sum() + (y == i).sum())
        out[name] = {"f1": round(2 * tp / denom, 4) if denom else None, "n": int((y == i).sum()),
                     "predicted": int((decided == i).sum())}  # fmt: skip
    main = [out[c]["f1"] for c in challenge if c in out]
    out["challenge_f1"] = (
        round(float(np.mean(main)), 4) if len(main) == len(challenge) and None not in main else None
    )
    is_af, call = y == list(classes).index(positive), decided == list(classes).index(positive)
    tp = int((is_af & call).sum())
    out["af_vs_rest"] = {
        "f1": round(2 * tp / (int(call.sum()) + int(is_af.sum())), 4) if is_af.any() else None,
        "sensitivity": round(tp / int(is_af.sum()), 4) if is_af.any() else None,
        "positive_predictivity": round(tp / int(call.sum()), 4) if call.any() else None,
        "specificity": round(int((~is_af & ~call).sum()) / int((~is_af).sum()), 4)
        if (~is_af).any() else None,
    }  # fmt: skip
    return out

"""Fitting a clinic's site calibration on its own labelled cases.

The calibration itself (its data, how results use it, where it is stored)
lives in the model runtime, :mod:`engine.models.site`; fitting it is a local
validation, so it lives here and uses the same metrics as ``evaluate``
(:mod:`engine.validation.metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import Bundle
from engine.models.site import (
    MIN_PER_CLASS,
    Estimate,
    SiteCalibration,
    check_binary,
    logit,
    sigmoid,
)
from engine.validation import metrics as M


def _auroc_ci(y: np.ndarray, p: np.ndarray, n_boot: int, seed: int) -> tuple[float, float] | None:
    try:
        return M.bootstrap_ci(M.auroc, y, p, n_boot=n_boot, seed=seed)
    except (IndexError, ValueError):  # no resample had both outcomes
        return None


def _wilson(k: int, n: int) -> Estimate:
    return Estimate(k / n, M.wilson_ci(k, n))


def default_rule(bundle: Bundle) -> str:
    """The rule of the model's default operating point: ``sensitivity>=T``, ``f1`` or ``youden``.

    A default point whose name or rationale states a sensitivity target
    ("≥ 90% sensitivity", ``sensitivity-95``) keeps that target; one chosen
    for the best F1 of its positive label (a name ending in ``-f1``, as the
    rhythm model's ``af-f1``) keeps that rule; any other is replaced by the
    Youden point.
    """
    op = bundle.default_operating_point
    if op.name.lower().endswith("-f1"):
        return "f1"
    m = re.search(r"(\d+(?:\.\d+)?)\s*%\s*sensitivity", op.rationale) or re.fullmatch(
        r"sensitivity-(\d+(?:\.\d+)?)", op.name
    )
    if m:
        target = float(m.group(1)) / 100.0
        if 0.0 < target <= 1.0:
            return f"sensitivity>={target:g}"
    return "youden"


def fit_logistic(x: np.ndarray, y: np.ndarray, *, max_iter: int = 100) -> tuple[float, float]:
    """Maximum-likelihood ``(intercept, slope)`` of ``P(y=1) = sigmoid(a + b·x)`` (Newton).

    Raises
    ------
    ModelError
        When the fit does not converge (outcomes perfectly separated by ``x``).
    """
    X = np.column_stack([np.ones_like(x), x])
    beta = np.zeros(2)

    def loglik(b: np.ndarray) -> float:
        eta = X @ b
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    current = loglik(beta)
    for _ in range(max_iter):
        mu = sigmoid(X @ beta)
        w = mu * (1 - mu)
        grad = X.T @ (y - mu)
        hess = X.T @ (X * w[:, None]) + 1e-10 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-6:
            trial = beta + scale * step
            value = loglik(trial)
            if value >= current - 1e-12:
                break
            scale /= 2
        beta, current = trial, value
        if np.max(np.abs(scale * step)) < 1e-10:
            return float(beta[0]), float(beta[1])
        if np.max(np.abs(beta)) > 50:
            break
    raise ModelError(
        "The recalibration did not converge: the model separates the local cases perfectly, "
        "so no intercept and slope can be estimated from them. Use more, or more varied, "
        "local cases.",
    )


def fit_site_calibration(
    scores: Sequence[float] | np.ndarray,
    outcomes: Sequence[int] | np.ndarray,
    bundle: Bundle,
    *,
    data: Sequence[Mapping[str, Any]] = (),
    created_by: str = "",
    created: datetime | None = None,
    rule: str | None = None,
    always_positive: Sequence[bool] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> SiteCalibration:
    """Fit a site calibration from the model's own scores on local cases with known outcomes.

    Parameters
    ----------
    scores
        The model's probability of the positive label, one per case, without
        any site calibration.
    outcomes
        1 where the case has the positive label, else 0.
    bundle
        The model (id, version and weights hash are recorded).
    data
        ``{"name", "sha256", "files"}`` of the data (see :func:`describe_data`).
    created_by, created
        Who fitted it and when (default: now, UTC).
    rule
        ``"youden"``, ``"f1"`` or ``"sensitivity>=T"`` (default: :func:`default_rule`).
    always_positive
        Cases the model calls positive at any threshold: the rhythm model
        calls AF where P(AF) reaches the threshold **or** AF is its most
        probable class. The threshold and the local sensitivity and
        specificity then follow the model's own decisions. ``None``: a case
        is positive exactly when its score reaches the threshold.
    n_boot, seed
        Bootstrap of the AUROC interval.

    Raises
    ------
    ModelError
        A model without one positive label; fewer than :data:`MIN_PER_CLASS`
        cases of either outcome; scores that are not probabilities; a fit
        that does not converge or whose slope is not positive.
    """
    check_binary(bundle)
    p = np.asarray(scores, dtype=np.float64).reshape(-1)
    y_raw = np.asarray(outcomes).reshape(-1)
    if len(p) != len(y_raw):
        raise ModelError(f"{len(p)} scores were given for {len(y_raw)} outcomes.")
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ModelError("Site calibration needs probabilities between 0 and 1 for every case.")
    if not np.all(np.isin(y_raw, (0, 1))):
        raise ModelError("Site calibration needs outcomes of 0 or 1 for every case.")
    y = y_raw.astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos < MIN_PER_CLASS or n_neg < MIN_PER_CLASS:
        raise ModelError(
            f"A site calibration needs at least {MIN_PER_CLASS} local cases with "
            f"“{bundle.positive_label}” and {MIN_PER_CLASS} without; the data has {n_pos} and "
            f"{n_neg}. Nothing was saved.",
        )
    intercept, slope = fit_logistic(logit(p), y.astype(np.float64))
    if not slope > 0:
        raise ModelError(
            f"On the local cases the model's scores point the wrong way (recalibration slope "
            f"{slope:.3f} ≤ 0): higher scores do not mean more “{bundle.positive_label}” here. "
            "No site calibration was saved; check the data's labels, and do not use this model "
            "at this site before it is investigated.",
        )
    rule = rule or default_rule(bundle)
    cal = SiteCalibration(
        model_id=bundle.id,
        model_version=bundle.version,
        weights_sha256=bundle.weights_sha256,
        intercept=intercept,
        slope=slope,
        threshold=0.5,
        rule=rule,
        n=len(y),
        n_positive=n_pos,
        auroc=Estimate(M.auroc(y, p), _auroc_ci(y, p, n_boot, seed)),
        sensitivity=Estimate(0.0),
        specificity=Estimate(0.0),
        created=(created or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds"),
        created_by=created_by,
        data=tuple(dict(d) for d in data),
        unit="images" if bundle.input_type == "image" else "records",
    )
    q = cal.apply(p)
    always = None if always_positive is None else np.asarray(always_positive, dtype=bool)
    if always is not None and always.shape != y.shape:
        raise ModelError(f"{len(always)} decisions were given for {len(y)} outcomes.")
    threshold = _threshold(rule, y, q, always)
    if not 0.0 < threshold < 1.0:
        raise ModelError(
            f"The site operating point fell at {threshold:g}, at the end of the probability "
            "scale; the local cases do not support a threshold. Nothing was saved.",
        )
    called = q >= threshold if always is None else (q >= threshold) | always
    return replace(
        cal,
        threshold=threshold,
        sensitivity=_wilson(int((called & y).sum()), n_pos),
        specificity=_wilson(int((~called & ~y).sum()), n_neg),
    )


def _threshold(rule: str, y: np.ndarray, q: np.ndarray, always: np.ndarray | None) -> float:
    """The threshold on ``q`` that ``rule`` picks (``always``: cases called at any threshold)."""
    if always is None and rule.startswith("sensitivity>="):
        return M.threshold_for_sensitivity(y, q, float(rule.split(">=", 1)[1]))
    if always is None and rule == "youden":
        return M.youden_threshold(y, q)
    always = np.zeros_like(y) if always is None else always
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    best, best_t = -np.inf, 0.5
    for t in np.unique(q)[::-1]:  # from the highest: ties keep the higher threshold
        called = (q >= t) | always
        tp, fp = int((called & y).sum()), int((called & ~y).sum())
        if rule.startswith("sensitivity>="):
            if tp / n_pos >= float(rule.split(">=", 1)[1]) - 1e-12:
                return float(t)
            continue
        # F1 = 2·TP / (called + positives); Youden's J = sensitivity + specificity − 1
        value = 2 * tp / (tp + fp + n_pos) if rule == "f1" else tp / n_pos - fp / n_neg
        if value > best:
            best, best_t = value, float(t)
    return best_t

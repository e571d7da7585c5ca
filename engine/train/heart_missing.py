"""Missing inputs for the record models: masking units, training copies, masked validation.

The design is fixed in ``docs/experiments/heart-missingness-plan.md``
(written before any result). In short:

* Missingness is described by eight *units* (:data:`UNITS`); a record maps to
  the set of units with any missing field, one of 2^8 = 256 *patterns*.
* Each training patient is used as recorded plus :data:`COPIES` copies with
  units masked at random (:func:`sample_masks`), every row weighted
  ``1 / (COPIES + 1)`` so that a patient weighs as much as before.
* Validation scores every held-out patient under all 256 patterns
  (:func:`masked_cross_validate`), so each pattern gets its own AUROC with a
  patient-bootstrap CI (:func:`pattern_table`), looked up at inference for
  the record's own pattern.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.models.site import logit, sigmoid
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.records.schema import HEART_RECORD

#: ``(key, label, fields)``: a unit is missing when any of its fields is.
UNITS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ca", "vessels on fluoroscopy", ("ca",)),
    ("thal", "thallium test", ("thal",)),
    ("slope", "ST slope", ("slope",)),
    ("exercise", "exercise test (heart rate, angina, ST depression)",
     ("thalach", "exang", "oldpeak")),
    ("chol", "cholesterol", ("chol",)),
    ("fbs", "fasting blood sugar", ("fbs",)),
    ("trestbps", "resting blood pressure", ("trestbps",)),
    ("restecg", "resting ECG", ("restecg",)),
)  # fmt: skip
UNIT_KEYS = tuple(u[0] for u in UNITS)
#: Number of patterns (every subset of the units).
N_PATTERNS = 1 << len(UNITS)
#: Masked copies of every training patient (besides the patient as recorded).
COPIES = 10

#: The declared patterns of the plan: (name, missing units).
DECLARED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("complete", ()),
    ("no ca/thal", ("ca", "thal")),
    ("no cholesterol", ("chol",)),
    ("no slope, ca, thal", ("slope", "ca", "thal")),
    ("no exercise test", ("exercise", "slope")),
    ("no exercise test, ca, thal", ("exercise", "slope", "ca", "thal")),
    ("no cholesterol, ca, thal", ("chol", "ca", "thal")),
    ("age, sex, chest pain only", UNIT_KEYS),
)

_NAMES = list(HEART_RECORD.names)
#: Column indices of each unit's fields.
_UNIT_COLUMNS = [np.array([_NAMES.index(f) for f in fields]) for _, _, fields in UNITS]


def pattern_bits(units: Sequence[str]) -> int:
    """The pattern index of a set of missing units."""
    bits = 0
    for u in units:
        bits |= 1 << UNIT_KEYS.index(u)
    return bits


def pattern_key(bits: int) -> str:
    """A pattern's name in the bundle: its missing units joined by ``+`` (``""``: complete)."""
    return "+".join(k for i, k in enumerate(UNIT_KEYS) if bits >> i & 1)


def row_pattern(row: np.ndarray) -> int:
    """The pattern index of one record row (``nan`` = missing)."""
    bits = 0
    for i, cols in enumerate(_UNIT_COLUMNS):
        if np.isnan(row[cols]).any():
            bits |= 1 << i
    return bits


def apply_pattern(X: np.ndarray, bits: int) -> np.ndarray:
    """A copy of ``X`` with the fields of the pattern's units set to ``nan``."""
    out = X.copy()
    for i, cols in enumerate(_UNIT_COLUMNS):
        if bits >> i & 1:
            out[:, cols] = np.nan
    return out


def sample_masks(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random patterns drawn as the plan specifies (int array of pattern indices)."""
    u = {k: 1 << i for i, k in enumerate(UNIT_KEYS)}
    out = np.zeros(n, dtype=np.int64)
    for j in range(n):
        if rng.random() < 0.1:
            out[j] = N_PATTERNS - 1
            continue
        bits = 0
        ca = rng.random() < 0.6
        if ca:
            bits |= u["ca"]
        if rng.random() < (0.8 if ca else 0.2):
            bits |= u["thal"]
        if rng.random() < 0.25:
            bits |= u["exercise"] | u["slope"]
        elif rng.random() < 0.35:
            bits |= u["slope"]
        for key, p in (("chol", 0.25), ("fbs", 0.2), ("trestbps", 0.1), ("restecg", 0.05)):
            if rng.random() < p:
                bits |= u[key]
        out[j] = bits
    return out


@dataclass(frozen=True)
class Augmented:
    """Training rows with their masked copies: values, outcomes, patient index, weights."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    weights: np.ndarray


def augment(X: np.ndarray, y: np.ndarray, seed: int, copies: int = COPIES) -> Augmented:
    """Each patient as recorded plus ``copies`` randomly masked copies, weight ``1/(copies+1)``."""
    rng = np.random.default_rng(seed)
    n = len(X)
    masks = sample_masks(n * copies, rng).reshape(n, copies)
    rows = [X]
    for c in range(copies):
        Xc = X.copy()
        for i, cols in enumerate(_UNIT_COLUMNS):
            hit = (masks[:, c] >> i & 1).astype(bool)
            Xc[np.ix_(hit, cols)] = np.nan
        rows.append(Xc)
    reps = copies + 1
    return Augmented(
        X=np.concatenate(rows),
        y=np.tile(np.asarray(y), reps),
        groups=np.tile(np.arange(n), reps),
        weights=np.full(n * reps, 1.0 / reps),
    )


@dataclass(frozen=True)
class MaskedCV:
    """Out-of-fold probabilities ``(patterns, repeats, patients)`` and the outcomes."""

    oof: np.ndarray
    y: np.ndarray
    folds: int
    seed: int

    @property
    def repeats(self) -> int:
        """Number of repeats."""
        return int(self.oof.shape[1])

    def declared(self) -> np.ndarray:
        """Out-of-fold probabilities of the declared patterns ``(8, repeats, patients)``."""
        return self.oof[[pattern_bits(units) for _, units in DECLARED]]


def masked_cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray, int], Any],
    *,
    repeats: int = 10,
    folds: int = 10,
    seed: int = 0,
    patterns: Sequence[int] = range(N_PATTERNS),
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> MaskedCV:
    """Repeated stratified k-fold by patient; held-out patients scored under every pattern.

    ``fit(X_train, y_train, fold_seed)`` returns a fitted model with
    ``predict_proba``; it does its own augmentation (so that it happens
    inside the fold). Repeat ``r`` splits with ``random_state = seed + r``.
    ``patterns`` limits the patterns scored (``oof`` row ``k`` is
    ``patterns[k]``; :meth:`MaskedCV.declared` needs all of them).
    """
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(y)
    patterns = list(patterns)
    oof = np.zeros((len(patterns), repeats, len(y)))
    for r in range(repeats):
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for k, (train, test) in enumerate(skf.split(X, y)):
            check_cancelled(cancel)
            model = fit(X[train], y[train], seed * 1000 + r * folds + k)
            stacked = np.concatenate([apply_pattern(X[test], b) for b in patterns])
            p = model.predict_proba(stacked)[:, 1].reshape(len(patterns), len(test))
            oof[:, r, test] = p
        progress((r + 1) / repeats, f"Masked cross-validation repeat {r + 1}/{repeats}")
    return MaskedCV(oof=oof, y=y, folds=folds, seed=seed)


def auroc_rows(y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """AUROC along the last axis of ``P`` against ``y`` (ties count half)."""
    from scipy.stats import rankdata

    yb = np.asarray(y).astype(bool)
    n_pos, n_neg = int(yb.sum()), int((~yb).sum())
    if n_pos == 0 or n_neg == 0:
        return np.full(P.shape[0], np.nan)
    ranks = rankdata(P, axis=-1)
    return (ranks[..., yb].sum(axis=-1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pattern_table(
    cv: MaskedCV, threshold: float, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Per pattern: AUROC (mean of repeats, patient-bootstrap 95 % CI), Se and Sp at ``threshold``.

    Keys are :func:`pattern_key` names; values ``{"auroc": [v, lo, hi],
    "sensitivity": s, "specificity": s}`` rounded for the manifest.
    """
    y = cv.y.astype(bool)
    n = len(y)
    auc = auroc_rows(y, cv.oof).mean(axis=1)  # (patterns,)
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, N_PATTERNS))
    k = 0
    while k < n_boot:
        idx = rng.integers(0, n, n)
        yb = y[idx]
        if yb.all() or not yb.any():
            continue
        boots[k] = auroc_rows(yb, cv.oof[:, :, idx]).mean(axis=1)
        k += 1
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    positive = cv.oof >= threshold
    se = positive[:, :, y].mean(axis=(1, 2))
    sp = 1.0 - positive[:, :, ~y].mean(axis=(1, 2))
    return {
        pattern_key(b): {
            "auroc": [round(float(auc[b]), 4), round(float(lo[b]), 4), round(float(hi[b]), 4)],
            "sensitivity": round(float(se[b]), 4),
            "specificity": round(float(sp[b]), 4),
        }
        for b in range(N_PATTERNS)
    }


def declared_summary(cv: MaskedCV, table: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The declared patterns' rows of ``table``, with their names and missing fields."""
    out = []
    for name, units in DECLARED:
        key = pattern_key(pattern_bits(units))
        fields = [f for k, _, fs in UNITS if k in units for f in fs]
        out.append({"name": name, "pattern": key, "missing": fields, **table[key]})
    return out


def selection_scores(cv: MaskedCV, *, n_sim: int = 2000) -> dict[str, Any]:
    """The plan's selection numbers: mean AUROC and pooled ECE over the declared patterns."""
    from engine.validation.metrics import ece_estimate

    P = cv.declared()  # (8, repeats, n)
    auc = auroc_rows(cv.y, P).mean(axis=1)
    pooled = P.reshape(-1, P.shape[-1])  # (8 * repeats, n): each row one pass over the patients
    return {
        "masked_auroc": {"value": round(float(auc.mean()), 4)},
        "masked_ece": ece_estimate(
            cv.y, pooled, repeats=pooled.shape[0], seed=cv.seed, n_sim=n_sim
        ),
    }


def missingness_block(cv: MaskedCV, table: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``missingness`` block the runtime reads for every result."""
    return {
        "required": ["age", "sex", "cp"],
        "units": [{"key": k, "label": label, "fields": list(f)} for k, label, f in UNITS],
        "design": (
            f"Masked {cv.repeats}×{cv.folds} cross-validation by patient: every held-out patient "
            "scored with each of the 256 combinations of missing units; training folds used "
            f"each patient as recorded plus {COPIES} randomly masked copies. AUROC: mean of "
            "the per-repeat AUROCs with a patient-bootstrap 95 % CI; sensitivity and "
            "specificity at the default operating point."
        ),
        "patterns": table,
    }


def fit_recalibration(p: np.ndarray, y: np.ndarray, *, slope: bool) -> tuple[float, float]:
    """Logistic recalibration ``sigmoid(a + b·logit p)`` by maximum likelihood.

    ``slope=True`` is the site calibration's own fit
    (:func:`engine.models.site.fit_logistic`); ``slope=False`` fits the
    intercept only (``b = 1``): the correction for a change of prevalence alone.
    """
    from engine.validation.site import fit_logistic

    z = logit(np.asarray(p, dtype=np.float64))
    yf = np.asarray(y, dtype=np.float64)
    if slope:
        return fit_logistic(z, yf)
    a = 0.0
    for _ in range(50):
        q = sigmoid(a + z)
        step = float(np.sum(yf - q) / max(float(np.sum(q * (1 - q))), 1e-9))
        a += step
        if abs(step) < 1e-8:
            break
    return float(a), 1.0


def prevalence_shift(
    y: np.ndarray,
    P: np.ndarray,
    *,
    prevalences: Sequence[float] = (0.75, 0.90),
    n_resamples: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Calibration when the prevalence moves, before and after a local recalibration.

    ``P`` ``(k, patients)`` are pooled out-of-fold predictions. For each
    target prevalence, patients are resampled (with replacement, positives
    and negatives separately) to that prevalence, twice independently: a
    recalibration is fitted on the first resample and measured on the
    second. Reported: the means over ``n_resamples`` of the observed and
    mean predicted risk and of the expected calibration error, as the
    model stands, after an intercept-only and after an intercept + slope
    recalibration.
    """
    from engine.validation.metrics import expected_calibration_error

    y = np.asarray(y).astype(bool)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    n = len(y)
    rng = np.random.default_rng(seed)
    out = [
        {
            "prevalence": round(float(y.mean()), 3),
            "mean_predicted": round(float(P.mean()), 3),
            "ece": round(expected_calibration_error(np.tile(y, P.shape[0]), P.ravel()), 4),
            "ece_intercept": None,
            "ece_intercept_slope": None,
            "as_trained": True,
        }
    ]

    def draw(target: float) -> tuple[np.ndarray, np.ndarray]:
        k = round(target * n)
        idx = np.concatenate([rng.choice(pos, k), rng.choice(neg, n - k)])
        r = rng.integers(0, P.shape[0], len(idx))  # one repeat's prediction per drawn patient
        return P[r, idx], y[idx].astype(np.float64)

    for target in prevalences:
        stats: dict[str, list[float]] = {k: [] for k in ("mean", "ece", "ece_a", "ece_ab")}
        for _ in range(n_resamples):
            p_fit, y_fit = draw(target)
            p_test, y_test = draw(target)
            stats["mean"].append(float(p_test.mean()))
            stats["ece"].append(expected_calibration_error(y_test, p_test))
            for key, slope in (("ece_a", False), ("ece_ab", True)):
                a, b = fit_recalibration(p_fit, y_fit, slope=slope)
                q = sigmoid(a + b * logit(p_test))
                stats[key].append(expected_calibration_error(y_test, q))
        out.append(
            {
                "prevalence": target,
                "mean_predicted": round(float(np.mean(stats["mean"])), 3),
                "ece": round(float(np.mean(stats["ece"])), 4),
                "ece_intercept": round(float(np.mean(stats["ece_a"])), 4),
                "ece_intercept_slope": round(float(np.mean(stats["ece_ab"])), 4),
                "as_trained": False,
            }
        )
    return out

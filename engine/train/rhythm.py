"""The rhythm model: normal / AF / other / noisy from rhythm features (CinC 2017).

Design: docs/experiments/rhythm-af-plan.md (written before any result).
Features: :mod:`engine.ecg.rhythm_features` on the engine's own QRS
detections; classifier: a histogram gradient-boosting model; validation:
10-fold stratified cross-validation by recording, with the AF threshold
fitted inside each fold's training recordings; an out-of-source check in
30-s windows on MIT-BIH records with atrial fibrillation episodes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.ecg.holter import WINDOW_S
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

#: Classes in the model's output order, and the CinC 2017 codes they come from.
CLASSES = ("normal", "AF", "other", "noisy")
CINC_CODES = {"N": "normal", "A": "AF", "O": "other", "~": "noisy"}
AF = CLASSES.index("AF")
HGB_PARAMS = {"learning_rate": 0.05, "max_iter": 300, "max_leaf_nodes": 31,
              "l2_regularization": 0.1, "class_weight": "balanced"}  # fmt: skip
AF_RHYTHMS = ("(AFIB", "(AFL")


@dataclass(frozen=True)
class FeatureTable:
    """Rhythm features of a set of recordings, with their labels."""

    names: np.ndarray  # (n,) record names
    X: np.ndarray  # (n, n_features)
    y: np.ndarray  # (n,) class index


def record_features(x: np.ndarray, fs: float) -> np.ndarray:
    """Features of one whole recording (its own QRS detections)."""
    from engine.ecg.qrs import detect_qrs
    from engine.ecg.rhythm_features import rhythm_features

    return rhythm_features(x, fs, detect_qrs(x, fs))


def read_cinc(
    root: Path, *, cache: Path | None = None, limit: int | None = None,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> FeatureTable:  # fmt: skip
    """Features of the CinC 2017 recordings in ``root`` (``REFERENCE.csv``), cached as ``.npz``.

    Each recording is read by the engine's own reader, as the app reads it.
    """
    from engine.ecg import read_signal
    from engine.ecg.rhythm_features import FEATURES

    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            if tuple(z["features"].tolist()) == FEATURES and (
                limit is None or len(z["y"]) == limit
            ):
                return FeatureTable(z["names"], z["X"], z["y"])
    rows = [line.strip().split(",") for line in (root / "REFERENCE.csv").read_text().splitlines()]
    rows = [r for r in rows if len(r) == 2][:limit]
    X = np.empty((len(rows), len(FEATURES)))
    for i, (name, _) in enumerate(rows):
        if i % 100 == 0:
            check_cancelled(cancel)
            progress(i / len(rows), f"Rhythm features {i}/{len(rows)}")
        sig = read_signal(root / f"{name}.hea")
        X[i] = record_features(np.asarray(sig.data[0], dtype=np.float64), float(sig.fs))
    table = FeatureTable(
        np.array([r[0] for r in rows]),
        X,
        np.array([CLASSES.index(CINC_CODES[r[1]]) for r in rows], dtype=np.int64),
    )
    if cache is not None:
        np.savez_compressed(cache, names=table.names, X=table.X, y=table.y,
                            features=np.array(FEATURES))  # fmt: skip
    return table


def fit_classifier(X: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed, **HGB_PARAMS).fit(X, y)


def af_threshold(p_af: np.ndarray, is_af: np.ndarray) -> float:
    """The P(AF) threshold with the best AF-against-the-rest F1 (ties: the higher)."""
    best = (-1.0, 0.5)
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        call = p_af >= t
        tp = float((call & is_af).sum())
        f1 = 2 * tp / (float(call.sum()) + float(is_af.sum())) if is_af.any() else 0.0
        best = max(best, (f1, float(t)))
    return best[1]


def decide(p: np.ndarray, threshold: float) -> np.ndarray:
    """Most probable class, except AF wherever P(AF) reaches ``threshold``."""
    out = np.argmax(p, axis=1)
    out[p[:, AF] >= threshold] = AF
    return out


def _folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedKFold

    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return [test for _, test in skf.split(np.zeros(len(y)), y)]


def cross_validate(
    X: np.ndarray, y: np.ndarray, *, folds: int = 10, inner: int = 3, seed: int = 0,
    progress: Progress = no_progress, cancel: CancelToken | None = None,
) -> tuple[np.ndarray, np.ndarray, list[float]]:  # fmt: skip
    """Out-of-fold probabilities, decisions and each fold's AF threshold.

    Each fold's threshold comes from ``inner``-fold out-of-fold probabilities
    on its own training recordings (nested), so no test recording chose it.
    """
    p = np.zeros((len(y), len(CLASSES)))
    decided = np.zeros(len(y), dtype=np.int64)
    thresholds = []
    for f, test in enumerate(_folds(y, folds, seed)):
        check_cancelled(cancel)
        progress(f / folds, f"Fold {f + 1}/{folds}")
        train = np.setdiff1d(np.arange(len(y)), test)
        p_inner = np.zeros((len(train), len(CLASSES)))
        for sub in _folds(y[train], inner, seed + 1 + f):
            rest = np.setdiff1d(np.arange(len(train)), sub)
            p_inner[sub] = fit_classifier(X[train][rest], y[train][rest], seed).predict_proba(
                X[train][sub]
            )
        t = af_threshold(p_inner[:, AF], y[train] == AF)
        thresholds.append(t)
        p[test] = fit_classifier(X[train], y[train], seed).predict_proba(X[test])
        decided[test] = decide(p[test], t)
    return p, decided, thresholds


def class_f1(y: np.ndarray, decided: np.ndarray) -> dict[str, Any]:
    """Per-class F1 (as the Challenge scored it), the Challenge score and AF against the rest."""
    from engine.validation.metrics import rhythm_f1

    return rhythm_f1(y, decided, CLASSES)


def confusion(y: np.ndarray, decided: np.ndarray) -> list[list[int]]:
    """Rows: reference class; columns: decided class (order of :data:`CLASSES`)."""
    m = np.zeros((len(CLASSES), len(CLASSES)), dtype=int)
    np.add.at(m, (y, decided), 1)
    return m.tolist()


# ----------------------------------------------------------------- long recordings


def window_features(x: np.ndarray, fs: float, beats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features of every window of a long lead, from one QRS detection of the whole lead."""
    from engine.ecg.holter import window_starts
    from engine.ecg.rhythm_features import window_features as features

    starts = window_starts(len(x), fs)
    return starts, features(x, fs, beats, starts, round(WINDOW_S * fs))


def af_episodes(
    starts: np.ndarray, is_af: np.ndarray, fs: float, n_samples: int
) -> list[tuple[float, float]]:
    """AF episodes (seconds) from window decisions (:func:`engine.ecg.holter.window_episodes`)."""
    from engine.ecg.holter import window_episodes

    return [(e.start, e.end) for e in window_episodes(starts, is_af, fs, n_samples)]


def reference_af(annotations: Any, fs: float, n_samples: int) -> list[tuple[float, float]]:
    """Reference AF/flutter episodes (seconds) from a record's rhythm annotations."""
    out, start = [], None
    for sample, aux in zip(annotations.samples, annotations.aux, strict=True):
        if not aux.startswith("("):
            continue
        rhythm = aux.strip()
        if start is not None and rhythm not in AF_RHYTHMS:
            out.append((start, sample / fs))
            start = None
        elif start is None and rhythm in AF_RHYTHMS:
            start = sample / fs
    if start is not None:
        out.append((start, n_samples / fs))
    return out


def overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    total = 0.0
    for lo, hi in a:
        for lo2, hi2 in b:
            total += max(0.0, min(hi, hi2) - max(lo, lo2))
    return total


def check_long_records(
    model: Any, threshold: float, paths: Sequence[Path], *, cancel: CancelToken | None = None
) -> dict[str, Any]:
    """Duration-weighted AF Se and +P (EC57) of the windowed model on long records."""
    from engine.ecg import detect_qrs, lead_index, read_signal

    per_record, ref_total, det_total, hit_total = {}, 0.0, 0.0, 0.0
    for path in paths:
        check_cancelled(cancel)
        sig = read_signal(path)
        lead = lead_index(sig, "MLII")
        x = np.asarray(sig.data[lead], dtype=np.float64)
        fs = float(sig.fs)
        started = time.perf_counter()
        starts, X = window_features(x, fs, detect_qrs(x, fs))
        p = model.predict_proba(X)
        found = af_episodes(starts, decide(p, threshold) == AF, fs, len(x))
        ref = reference_af(sig.annotations, fs, len(x))
        hit = overlap(ref, found)
        r_d, f_d = sum(b - a for a, b in ref), sum(b - a for a, b in found)
        per_record[path.name] = {
            "reference_af_s": round(r_d, 1), "detected_af_s": round(f_d, 1),
            "overlap_s": round(hit, 1), "episodes": len(found), "reference_episodes": len(ref),
            "seconds": round(time.perf_counter() - started, 2),
        }  # fmt: skip
        ref_total, det_total, hit_total = ref_total + r_d, det_total + f_d, hit_total + hit
    return {
        "records": per_record,
        "sensitivity": round(hit_total / ref_total, 4) if ref_total else None,
        "positive_predictivity": round(hit_total / det_total, 4) if det_total else None,
    }

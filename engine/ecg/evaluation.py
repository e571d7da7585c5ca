"""Scoring QRS detectors against reference annotations (ANSI/AAMI EC57 style).

Conventions, kept simple and stated here once:

* reference beats are the annotations with a beat symbol
  (:data:`~engine.ecg.signal.BEAT_SYMBOLS`); rhythm, noise and comment
  annotations do not count;
* a detection matches a reference beat within 150 ms (one-to-one, closest
  first: :func:`~engine.ecg.beats.match_beats`);
* ventricular flutter/fibrillation episodes (``[`` … ``]``), where no beats
  are annotated, are left out, as EC57 does;
* the first and last ``edge_s`` seconds (default 1 s) are left out, so that
  beats cut by the record's ends neither count nor penalise.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from engine.ecg.beats import excluded_intervals, match_beats, outside, reference_beats
from engine.ecg.signal import Annotations


@dataclass(frozen=True)
class QrsScore:
    """Beat-by-beat counts of one record (or a total over records)."""

    tp: int
    fn: int
    fp: int

    @property
    def reference(self) -> int:
        """Reference beats evaluated (TP + FN)."""
        return self.tp + self.fn

    @property
    def sensitivity(self) -> float:
        """TP / (TP + FN)."""
        return self.tp / self.reference if self.reference else float("nan")

    @property
    def positive_predictivity(self) -> float:
        """TP / (TP + FP)."""
        total = self.tp + self.fp
        return self.tp / total if total else float("nan")

    @staticmethod
    def total(scores: Iterable[QrsScore]) -> QrsScore:
        """Gross total: the counts summed over records (EC57 gross statistics)."""
        items = list(scores)
        return QrsScore(
            tp=sum(s.tp for s in items), fn=sum(s.fn for s in items), fp=sum(s.fp for s in items)
        )


def score_qrs(
    annotations: Annotations,
    detected: np.ndarray,
    fs: float,
    n_samples: int,
    *,
    window_s: float = 0.15,
    edge_s: float = 1.0,
) -> QrsScore:
    """Score detected QRS positions against a record's reference beat annotations.

    Parameters
    ----------
    annotations
        The record's reference annotations (e.g. MIT-BIH ``.atr``).
    detected
        Detected QRS sample indices.
    fs
        Sampling frequency in Hz.
    n_samples
        Length of the record in samples.
    window_s
        Matching window (EC57: 0.15 s).
    edge_s
        Seconds left out at each end of the record.

    Returns
    -------
    QrsScore
        TP, FN and FP counts with sensitivity and positive predictivity.
    """
    edge = round(edge_s * fs)
    skip = excluded_intervals(annotations, n_samples)
    span = np.array([[-(2**62), edge - 1], [n_samples - edge, 2**62]], dtype=np.int64)
    skip = np.concatenate([skip, span]) if edge > 0 else skip
    ref = reference_beats(annotations)
    det = np.asarray(detected, dtype=np.int64)
    # Beats just outside an excluded span may match detections just inside it
    # (and the reverse): match everything, then count only the kept ones.
    match = match_beats(ref, det, fs, window_s)
    ref_kept = outside(ref, skip)
    det_kept = outside(det, skip)
    tp = int(np.sum(ref_kept[match.pairs[:, 0]])) if match.tp else 0
    fn = int(np.sum(ref_kept[match.missed]))
    fp = int(np.sum(det_kept[match.extra]))
    return QrsScore(tp=tp, fn=fn, fp=fp)

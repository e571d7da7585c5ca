"""Beat-level tools: AAMI EC57 classes, beat matching, RR intervals, beat windows.

These are shared by QRS-detector validation and by beat classifiers (their
training windows and their evaluation), so they stay generic: plain sample
index arrays in, plain arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.ecg.signal import BEAT_SYMBOLS, Annotations

#: AAMI EC57 / ANSI-AAMI EC57:1998 beat classes.
AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: MIT-BIH beat symbol → AAMI class. ``B``, ``n`` (escape/bundle-branch beats)
#: follow their conduction as N, ``r`` (R-on-T PVC) is V, ``?`` is Q.
AAMI_MAP: dict[str, str] = {
    "N": "N",
    "L": "N",
    "R": "N",
    "e": "N",
    "j": "N",
    "B": "N",
    "n": "N",
    "A": "S",
    "a": "S",
    "J": "S",
    "S": "S",
    "V": "V",
    "E": "V",
    "r": "V",
    "F": "F",
    "/": "Q",
    "f": "Q",
    "Q": "Q",
    "?": "Q",
}


#: EC57 gross statistics (as the reference comparator ``bxb`` computes them):
#: beats of these reference classes given the key's label do not count
#: against the key's positive predictivity. A fusion beat holds a ventricular
#: component, and Q beats are unclassifiable, so labelling them V is not a
#: false V; a Q beat labelled S is not a false S.
PPV_NOT_COUNTED: dict[str, tuple[str, ...]] = {"V": ("F", "Q"), "S": ("Q",)}


def is_beat(symbol: str) -> bool:
    """Whether a WFDB annotation symbol marks a beat (not rhythm, noise or comments)."""
    return symbol in BEAT_SYMBOLS


def aami_class(symbol: str) -> str | None:
    """AAMI EC57 class (``N``, ``S``, ``V``, ``F`` or ``Q``) of a MIT-BIH beat symbol.

    Parameters
    ----------
    symbol
        WFDB annotation symbol (``"N"``, ``"L"``, ``"A"``, ``"V"``, ``"/"`` …).

    Returns
    -------
    str or None
        The class, or ``None`` for annotations that are not beats (``+``,
        ``~``, ``|``, ``x``, ``[`` …).
    """
    return AAMI_MAP.get(symbol)


def reference_beats(annotations: Annotations) -> np.ndarray:
    """Sample indices of the beat annotations (``int64``, ascending)."""
    return np.sort(annotations.beats().samples)


def excluded_intervals(annotations: Annotations, n_samples: int | None = None) -> np.ndarray:
    """Ventricular flutter/fibrillation episodes ``[`` … ``]``, as ``(k, 2)`` sample ranges.

    EC57 leaves these out of QRS-detection statistics: no beats are
    annotated inside them. An episode without its closing ``]`` runs to the
    end of the record (``n_samples``, else the last annotation).
    """
    intervals: list[tuple[int, int]] = []
    start: int | None = None
    for sample, symbol in zip(annotations.samples, annotations.symbols, strict=True):
        if symbol == "[" and start is None:
            start = int(sample)
        elif symbol == "]" and start is not None:
            intervals.append((start, int(sample)))
            start = None
    if start is not None:
        end = n_samples if n_samples is not None else int(annotations.samples[-1])
        intervals.append((start, end))
    return np.asarray(intervals, dtype=np.int64).reshape(-1, 2)


def outside(samples: np.ndarray, intervals: np.ndarray) -> np.ndarray:
    """Boolean mask of ``samples`` not inside any ``[start, end]`` of ``intervals``."""
    samples = np.asarray(samples, dtype=np.int64)
    keep = np.ones(len(samples), dtype=bool)
    for start, end in np.asarray(intervals, dtype=np.int64).reshape(-1, 2):
        keep &= (samples < start) | (samples > end)
    return keep


@dataclass(frozen=True, eq=False)
class BeatMatch:
    """Result of matching detected beats to reference beats.

    Attributes
    ----------
    pairs
        ``(tp, 2)`` indices ``(reference_index, detected_index)`` of matched beats.
    missed
        Indices into the reference of beats with no detection (false negatives).
    extra
        Indices into the detections with no reference beat (false positives).
    """

    pairs: np.ndarray
    missed: np.ndarray
    extra: np.ndarray

    @property
    def tp(self) -> int:
        """True positives."""
        return len(self.pairs)

    @property
    def fn(self) -> int:
        """False negatives (missed beats)."""
        return len(self.missed)

    @property
    def fp(self) -> int:
        """False positives (extra detections)."""
        return len(self.extra)

    @property
    def sensitivity(self) -> float:
        """TP / (TP + FN); ``nan`` without reference beats."""
        total = self.tp + self.fn
        return self.tp / total if total else float("nan")

    @property
    def positive_predictivity(self) -> float:
        """TP / (TP + FP); ``nan`` without detections."""
        total = self.tp + self.fp
        return self.tp / total if total else float("nan")


def match_beats(
    reference: np.ndarray, detected: np.ndarray, fs: float, window_s: float = 0.15
) -> BeatMatch:
    """Pair detected beats with reference beats one-to-one (EC57 beat-by-beat).

    A detection matches a reference beat when they are at most ``window_s``
    apart; among competing pairs the closest are paired first, so each beat
    is used at most once.

    Parameters
    ----------
    reference, detected
        Sample indices (any order).
    fs
        Sampling frequency in Hz of both.
    window_s
        Matching window in seconds (EC57: 150 ms).

    Returns
    -------
    BeatMatch
        Pairs, missed reference beats and extra detections, with TP/FN/FP,
        sensitivity and positive predictivity.
    """
    ref = np.asarray(reference, dtype=np.int64).reshape(-1)
    det = np.asarray(detected, dtype=np.int64).reshape(-1)
    ref_order = np.argsort(ref, kind="stable")
    det_order = np.argsort(det, kind="stable")
    ref_sorted, det_sorted = ref[ref_order], det[det_order]
    tol = window_s * fs
    # Every detection within the window of a reference beat is a candidate pair.
    lo = np.searchsorted(det_sorted, ref_sorted - tol, side="left")
    hi = np.searchsorted(det_sorted, ref_sorted + tol, side="right")
    counts = hi - lo
    ref_idx = np.repeat(np.arange(len(ref_sorted)), counts)
    det_idx = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) + np.repeat(
        lo, counts
    )
    distance = np.abs(det_sorted[det_idx] - ref_sorted[ref_idx])
    used_ref = np.zeros(len(ref_sorted), dtype=bool)
    used_det = np.zeros(len(det_sorted), dtype=bool)
    pairs: list[tuple[int, int]] = []
    for k in np.argsort(distance, kind="stable"):
        r, d = ref_idx[k], det_idx[k]
        if not used_ref[r] and not used_det[d]:
            used_ref[r] = used_det[d] = True
            pairs.append((int(ref_order[r]), int(det_order[d])))
    pair_array = np.asarray(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return BeatMatch(
        pairs=pair_array,
        missed=np.sort(ref_order[~used_ref]),
        extra=np.sort(det_order[~used_det]),
    )


@dataclass(frozen=True, eq=False)
class BeatRR:
    """RR intervals around each beat, in seconds (``nan`` where undefined).

    Attributes
    ----------
    pre
        Interval from the previous beat (``nan`` for the first beat).
    post
        Interval to the next beat (``nan`` for the last beat).
    local
        Mean of up to ``local_beats`` preceding ``pre`` intervals, this one included.
    average
        Mean RR of the whole sequence (a scalar).
    """

    pre: np.ndarray
    post: np.ndarray
    local: np.ndarray
    average: float


def rr_intervals(beats: np.ndarray, fs: float) -> np.ndarray:
    """Successive RR intervals in seconds (``len(beats) - 1`` values)."""
    return np.diff(np.asarray(beats, dtype=np.float64)) / fs


def beat_rr(beats: np.ndarray, fs: float, *, local_beats: int = 10) -> BeatRR:
    """Per-beat RR features: previous, next, local mean and record mean RR.

    Parameters
    ----------
    beats
        Beat sample indices, ascending.
    fs
        Sampling frequency in Hz.
    local_beats
        How many preceding intervals the local mean averages.

    Returns
    -------
    BeatRR
        Arrays of ``len(beats)`` values in seconds.
    """
    rr = rr_intervals(beats, fs)
    n = len(np.asarray(beats))
    pre = np.full(n, np.nan)
    post = np.full(n, np.nan)
    if n > 1:
        pre[1:] = rr
        post[:-1] = rr
    valid = np.where(np.isnan(pre), 0.0, pre)
    counts = np.cumsum(~np.isnan(pre))
    sums = np.cumsum(valid)
    k = max(int(local_beats), 1)
    sums_back = np.concatenate([np.zeros(k), sums])[:n]
    counts_back = np.concatenate([np.zeros(k, dtype=counts.dtype), counts])[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        local = (sums - sums_back) / (counts - counts_back)
    return BeatRR(
        pre=pre,
        post=post,
        local=local,
        average=float(np.mean(rr)) if len(rr) else float("nan"),
    )


class BeatWindows(NamedTuple):
    """Fixed-length windows centred on beats, and which beats they belong to."""

    windows: np.ndarray
    """``float32`` ``(n_kept, n_before + n_after)`` samples."""
    kept: np.ndarray
    """Indices into ``beats`` of the windows' beats (``int64``)."""


def beat_windows(
    signal_1d: np.ndarray,
    beats: np.ndarray,
    fs: float,
    before_s: float,
    after_s: float,
    *,
    edge: str = "drop",
) -> BeatWindows:
    """Cut a window around each beat.

    Parameters
    ----------
    signal_1d
        One lead, ``(n_samples,)``.
    beats
        Beat sample indices.
    fs
        Sampling frequency in Hz.
    before_s, after_s
        Window extent before and after each beat, in seconds; the window is
        ``round(before_s * fs) + round(after_s * fs)`` samples, the beat's
        sample at position ``round(before_s * fs)``.
    edge
        ``"drop"`` skips beats whose window leaves the record; ``"pad"``
        keeps them, repeating the first/last sample.

    Returns
    -------
    BeatWindows
        ``windows`` and, in ``kept``, the index of each window's beat in ``beats``.
    """
    x = np.asarray(signal_1d, dtype=np.float32).reshape(-1)
    b = np.asarray(beats, dtype=np.int64).reshape(-1)
    n_before = round(before_s * fs)
    n_after = round(after_s * fs)
    offsets = np.arange(-n_before, n_after, dtype=np.int64)
    if edge == "drop":
        index = np.flatnonzero((b - n_before >= 0) & (b + n_after <= len(x)))
    elif edge == "pad":
        index = np.flatnonzero((b >= 0) & (b < len(x)))
    else:
        raise ValueError(f"unknown edge mode {edge!r}")
    if len(x) == 0 or len(index) == 0:
        return BeatWindows(np.zeros((0, len(offsets)), dtype=np.float32), index.astype(np.int64))
    positions = np.clip(b[index, np.newaxis] + offsets, 0, len(x) - 1)
    return BeatWindows(x[positions], index.astype(np.int64))

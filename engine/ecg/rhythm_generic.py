"""Generic descriptors of an ECG stretch for the rhythm model: beat shape, spectrum, RR spread.

Design D of the rhythm model (docs/experiments/rhythm-af-plan.md): beside
the named features of :mod:`engine.ecg.rhythm_features`, broad descriptors
not chosen for any one error, as the feature-based Challenge 2017 entries
used; :func:`engine.ecg.rhythm_features.rhythm_features` returns both. Like
those features, each is in seconds or a ratio, so any sampling rate the QRS
detector accepts gives comparable values, and a descriptor that cannot be
computed (too few beats, too short a stretch) is missing (``nan`` there).
"""

from __future__ import annotations

import numpy as np

#: The median beat's span around the R peak (s) and its bin width (s).
BEAT_SPAN_S = (-0.30, 0.48)
BEAT_BIN_S = 0.02
_BINS = round((BEAT_SPAN_S[1] - BEAT_SPAN_S[0]) / BEAT_BIN_S)
P_WINDOW_S = (-0.25, -0.08)
T_WINDOW_S = (0.15, 0.40)
SPECTRUM_BANDS_HZ = ((0.5, 3.0), (3.0, 5.0), (5.0, 8.0), (8.0, 12.0), (12.0, 20.0), (20.0, 40.0))
RR_PERCENTILES = (5, 25, 75, 95)
DRR_PERCENTILES = (50, 75, 90)

#: The descriptors, in the order :func:`generic_features` returns them.
FEATURES: tuple[str, ...] = (
    *(f"beat_shape_{round((BEAT_SPAN_S[0] + (k + 0.5) * BEAT_BIN_S) * 1000):+d}ms" for k in range(_BINS)),
    "p_window_variability",
    "t_window_variability",
    *(f"spectrum_{lo:g}_{hi:g}hz" for lo, hi in SPECTRUM_BANDS_HZ),
    *(f"rr_p{q}_norm" for q in RR_PERCENTILES),
    *(f"abs_drr_p{q}_norm" for q in DRR_PERCENTILES),
    "rr_within_5pct",
    "r_amplitude_cv",
    "heart_rate_second_half_ratio",
)  # fmt: skip

#: How a clinician reads each descriptor: label and unit (for explanations).
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    **{
        name: (
            f"Median beat at {name.removeprefix('beat_shape_')} from the R peak / QRS height",
            "",
        )
        for name in FEATURES
        if name.startswith("beat_shape_")
    },
    "p_window_variability": ("Beat-to-beat variation before the QRS (P wave) / QRS height", ""),
    "t_window_variability": ("Beat-to-beat variation of the T wave / QRS height", ""),
    **{
        f"spectrum_{lo:g}_{hi:g}hz": (f"Share of the ECG's power at {lo:g}–{hi:g} Hz", "")
        for lo, hi in SPECTRUM_BANDS_HZ
    },
    **{f"rr_p{q}_norm": (f"RR interval, {q}th percentile / median RR", "") for q in RR_PERCENTILES},
    **{
        f"abs_drr_p{q}_norm": (f"Beat-to-beat RR change, {q}th percentile / median RR", "")
        for q in DRR_PERCENTILES
    },
    "rr_within_5pct": ("Share of RR intervals within 5 % of the median", ""),
    "r_amplitude_cv": ("R-peak amplitude variability (coefficient of variation)", ""),
    "heart_rate_second_half_ratio": ("Heart rate, second half / first half", ""),
}


def _beat_windows(
    x: np.ndarray, fs: float, beats: np.ndarray, lo_s: float, hi_s: float
) -> np.ndarray | None:
    lo, hi = round(lo_s * fs), round(hi_s * fs)
    ok = beats[(beats + lo >= 0) & (beats + hi < len(x))]
    if ok.size < 3:
        return None
    return x[ok[:, None] + np.arange(lo, hi)[None, :]]


def _shape(x: np.ndarray, fs: float, beats: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    w = _beat_windows(x, fs, beats, *BEAT_SPAN_S)
    if w is None:
        return out
    beat = np.median(w, axis=0)
    r = round(-BEAT_SPAN_S[0] * fs)
    qrs = beat[max(r - round(0.05 * fs), 0) : r + round(0.08 * fs)]
    height = float(np.ptp(qrs)) if qrs.size else 0.0
    if height <= 0:
        return out
    edges = np.linspace(0, len(beat), _BINS + 1).round().astype(int)
    base = float(np.median(beat))
    # Each bin's mean as its sum over its width (what ``mean`` computes, without its overhead).
    for k, (a, b) in enumerate(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True)):
        if b > a:
            out[FEATURES[k]] = (float(beat[a:b].sum()) / (b - a) - base) / height
    for name, (lo_s, hi_s) in (("p_window_variability", P_WINDOW_S),
                               ("t_window_variability", T_WINDOW_S)):  # fmt: skip
        lo, hi = r + round(lo_s * fs), r + round(hi_s * fs)
        seg = w[:, lo:hi] - w[:, lo:hi].mean(axis=1, keepdims=True)
        mad = np.median(np.abs(seg - np.median(seg, axis=0)), axis=0)
        out[name] = float(np.median(mad)) / height
    amplitudes = x[beats[(beats >= 0) & (beats < len(x))]]
    mean_amp = float(np.mean(np.abs(amplitudes)))
    if mean_amp > 0:
        out["r_amplitude_cv"] = float(np.std(amplitudes)) / mean_amp
    return out


def _spectrum(f: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    total = float(p[(f >= 0.5) & (f <= 40.0)].sum())
    if total <= 0:
        return out
    for lo, hi in SPECTRUM_BANDS_HZ:
        out[f"spectrum_{lo:g}_{hi:g}hz"] = float(p[(f >= lo) & (f < hi)].sum()) / total
    return out


def _rr(rr: np.ndarray, beats: np.ndarray, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    med = float(np.median(rr))
    if med <= 0:
        return out
    # (one call for all the percentiles: the same values as one call each, at a fraction
    # of the overhead a Holter's windows paid)
    for q, v in zip(RR_PERCENTILES, np.percentile(rr, RR_PERCENTILES), strict=True):
        out[f"rr_p{q}_norm"] = float(v) / med
    d = np.abs(np.diff(rr))
    if d.size:
        for q, v in zip(DRR_PERCENTILES, np.percentile(d, DRR_PERCENTILES), strict=True):
            out[f"abs_drr_p{q}_norm"] = float(v) / med
    out["rr_within_5pct"] = float(np.mean(np.abs(rr - med) <= 0.05 * med))
    first, second = beats < n // 2, beats >= n // 2
    if first.sum() >= 3 and second.sum() >= 3:
        rr1, rr2 = float(np.mean(np.diff(beats[first]))), float(np.mean(np.diff(beats[second])))
        if rr1 > 0 and rr2 > 0:  # (beats given twice cannot make a rate)
            out["heart_rate_second_half_ratio"] = (1.0 / rr2) / (1.0 / rr1)
    return out


def generic_values(
    x: np.ndarray, fs: float, beats: np.ndarray, spectrum: tuple[np.ndarray, np.ndarray] | None
) -> dict[str, float]:
    """The :data:`FEATURES` that can be computed, by name.

    ``x``: one lead minus its median (mV) at ``fs``, with its detected
    ``beats``; ``spectrum``: its Welch frequencies and power (2-s segments),
    or ``None`` when the stretch is shorter than one segment.
    """
    values = {} if spectrum is None else _spectrum(*spectrum)
    if len(beats) >= 4:
        values.update(_shape(x, fs, beats))
        values.update(_rr(np.diff(beats) / float(fs), beats, len(x)))
    return values

"""Named rhythm features of an ECG stretch: RR irregularity, atrial activity, quality.

The rhythm model (docs/experiments/rhythm-af-plan.md) reads these, for a
short recording as a whole or for each window of a long one. Every feature
is in physical units or a ratio (seconds, not samples), so any sampling rate
the QRS detector accepts gives comparable values. A feature that cannot be
computed (too few beats, a window with no T–Q gap) is ``nan``.

Atrial fibrillation is irregularly irregular RR intervals without P waves,
with fibrillatory (4–10 Hz) activity between the beats; "other" rhythms
often have regular patterns of premature beats (a short interval followed
by a pause); noise shows as energy above the ECG band, saturation and
inconsistent beats.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from engine.ecg import rhythm_generic

#: The named features (design A of docs/experiments/rhythm-af-plan.md).
NAMED_FEATURES: tuple[str, ...] = (
    "heart_rate_bpm",
    "rr_median_s",
    "rr_cv",
    "rmssd_norm",
    "succ_diff_median_norm",
    "succ_diff_over_10pct",
    "poincare_sd1_sd2",
    "rr_sample_entropy",
    "turning_point_ratio",
    "rr_range_norm",
    "rr_max_s",
    "rr_min_s",
    "premature_pause_share",
    "irregularity_without_ectopy",
    "p_wave_correlation",
    "p_wave_amplitude_ratio",
    "atrial_band_energy",
    "qrs_correlation_mean",
    "qrs_correlation_low_share",
    "high_frequency_ratio",
    "saturation_share",
    "beats_per_second",
)
#: The features, in the order :func:`rhythm_features` returns them: the named
#: ones, then the generic descriptors of :mod:`engine.ecg.rhythm_generic` (design D).
FEATURES: tuple[str, ...] = NAMED_FEATURES + rhythm_generic.FEATURES

#: How a clinician reads each feature: label and unit (for explanations).
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "heart_rate_bpm": ("Mean heart rate", "bpm"),
    "rr_median_s": ("Median RR interval", "s"),
    "rr_cv": ("RR variability (coefficient of variation)", ""),
    "rmssd_norm": ("Beat-to-beat RR change (RMSSD / mean RR)", ""),
    "succ_diff_median_norm": ("Median beat-to-beat RR change / median RR", ""),
    "succ_diff_over_10pct": ("Share of RR changes over 10 %", ""),
    "poincare_sd1_sd2": ("Poincaré SD1/SD2 (short- vs long-term RR variability)", ""),
    "rr_sample_entropy": ("RR sample entropy (unpredictability)", ""),
    "turning_point_ratio": ("RR turning-point ratio", ""),
    "rr_range_norm": ("RR range (10th–90th percentile) / median RR", ""),
    "rr_max_s": ("Longest RR interval", "s"),
    "rr_min_s": ("Shortest RR interval", "s"),
    "premature_pause_share": ("Share of premature beats followed by a pause", ""),
    "irregularity_without_ectopy": ("RR irregularity without premature beats", ""),
    "p_wave_correlation": ("P-wave consistency (correlation with the median P wave)", ""),
    "p_wave_amplitude_ratio": ("P-wave amplitude / QRS amplitude", ""),
    "atrial_band_energy": ("4–10 Hz (fibrillatory) energy between beats", ""),
    "qrs_correlation_mean": ("QRS consistency (mean correlation with the median QRS)", ""),
    "qrs_correlation_low_share": ("Share of QRS complexes unlike the median", ""),
    "high_frequency_ratio": ("Energy above 40 Hz (noise)", ""),
    "saturation_share": ("Share of samples at the amplitude limits", ""),
    "beats_per_second": ("Detected beats per second", "1/s"),
    **rhythm_generic.FEATURE_LABELS,
}

P_WINDOW_S = (-0.25, -0.08)
QRS_WINDOW_S = (-0.05, 0.08)


def sample_entropy(x: np.ndarray, m: int = 2, r_share: float = 0.2) -> float:
    """Sample entropy of a short series (``nan`` when no template matches)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < m + 3:
        return float("nan")
    r = r_share * float(x.std())
    if r <= 0:
        return 0.0

    def count(k: int) -> int:
        t = np.lib.stride_tricks.sliding_window_view(x, k)[: n - m]
        d = np.abs(t[:, None, :] - t[None, :, :]).max(axis=2)
        return int((d <= r).sum() - len(t))  # pairs i != j, both orders

    b, a = count(m), count(m + 1)
    if a == 0 or b == 0:
        return float(np.log(max(n - m, 2)) * 2)  # no match: the most irregular, bounded
    return float(-np.log(a / b))


#: A beat-to-beat RR change counts as irregular above this share of the median RR
#: (``succ_diff_over_10pct``, and the intervals :func:`irregular_rr` marks).
RR_CHANGE_SHARE = 0.1


def _irregular(d: np.ndarray, median_rr: float) -> np.ndarray:
    """Which successive RR differences ``d`` exceed :data:`RR_CHANGE_SHARE` of the median RR."""
    return np.abs(d) > RR_CHANGE_SHARE * median_rr


def _rr_features(rr: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    med = float(np.median(rr))
    mean = float(rr.mean())
    d = np.diff(rr)
    out["heart_rate_bpm"] = 60.0 / mean
    out["rr_median_s"] = med
    out["rr_cv"] = float(rr.std() / mean)
    out["rmssd_norm"] = float(np.sqrt(np.mean(d**2)) / mean) if d.size else np.nan
    out["succ_diff_median_norm"] = float(np.median(np.abs(d)) / med) if d.size else np.nan
    out["succ_diff_over_10pct"] = float(np.mean(_irregular(d, med))) if d.size else np.nan
    if d.size >= 2:
        sd1 = float(np.std(d) / np.sqrt(2))
        sd2_sq = 2 * float(np.var(rr)) - sd1**2
        out["poincare_sd1_sd2"] = sd1 / np.sqrt(sd2_sq) if sd2_sq > 1e-12 else np.nan
    out["rr_sample_entropy"] = sample_entropy(rr[:200])
    if d.size >= 2:
        turns = (d[:-1] * d[1:]) < 0
        out["turning_point_ratio"] = float(turns.mean())
    p10, p90 = np.percentile(rr, (10, 90))
    out["rr_range_norm"] = float((p90 - p10) / med)
    out["rr_max_s"] = float(rr.max())
    out["rr_min_s"] = float(rr.min())
    # A premature beat: an interval under 85 % of the median, followed by one over 110 %.
    if rr.size >= 2:
        prem = (rr[:-1] < 0.85 * med) & (rr[1:] > 1.1 * med)
        out["premature_pause_share"] = float(prem.mean())
        # Irregularity left when the intervals around such beats are dropped.
        keep = np.ones(rr.size, dtype=bool)
        keep[:-1] &= ~prem
        keep[1:] &= ~prem
        kept = rr[keep]
        if kept.size >= 3:
            dk = np.diff(kept)
            out["irregularity_without_ectopy"] = float(np.median(np.abs(dk)) / np.median(kept))
    return out


@functools.lru_cache(maxsize=32)
def _band_sos(lo_hz: float, hi_hz: float, fs: float) -> np.ndarray:
    """A 2nd-order Butterworth band-pass, designed once per rate: a Holter's windows all share
    it, and designing it for each window took a fifth of the rhythm report's time. Callers get
    the same array (scipy's filters need it writable; none writes to it)."""
    from scipy.signal import butter

    return np.asarray(butter(2, [lo_hz, hi_hz], btype="band", fs=fs, output="sos"))


def _morphology(
    x: np.ndarray, fs: float, beats: np.ndarray, filtered: tuple[np.ndarray, np.ndarray] | None
) -> dict[str, float]:
    """Beat and P-wave consistency of ``x``; the atrial band share from ``filtered`` (``x``
    band-passed 4–10 Hz and 0.5–40 Hz, or ``None`` for a stretch of 3 s or less)."""
    out: dict[str, float] = {}
    n = len(x)

    def windows(lo_s: float, hi_s: float) -> np.ndarray:
        lo, hi = round(lo_s * fs), round(hi_s * fs)
        ok = beats[(beats + lo >= 0) & (beats + hi < n)]
        if ok.size == 0:
            return np.zeros((0, hi - lo))
        idx = ok[:, None] + np.arange(lo, hi)[None, :]
        w = x[idx]
        return w - w.mean(axis=1, keepdims=True)

    def corr_to_median(w: np.ndarray, med: np.ndarray) -> np.ndarray:
        num = (w * med).sum(axis=1)
        den = np.sqrt((w**2).sum(axis=1) * (med**2).sum()) + 1e-12
        return num / den

    qrs = windows(*QRS_WINDOW_S)
    pw = windows(*P_WINDOW_S)
    qrs_med = np.median(qrs, axis=0) if qrs.shape[0] else None  # (once: two features use it)
    if qrs_med is not None and qrs.shape[0] >= 3:
        cq = corr_to_median(qrs, qrs_med)
        out["qrs_correlation_mean"] = float(cq.mean())
        out["qrs_correlation_low_share"] = float(np.mean(cq < 0.8))
    if pw.shape[0] >= 3:
        pw_med = np.median(pw, axis=0)
        out["p_wave_correlation"] = float(np.median(corr_to_median(pw, pw_med)))
        qrs_amp = float(np.ptp(qrs_med)) if qrs_med is not None else 0.0
        p_amp = float(np.ptp(pw_med))
        out["p_wave_amplitude_ratio"] = p_amp / qrs_amp if qrs_amp > 0 else np.nan
    # Atrial band (4–10 Hz) energy share in the gaps from 0.35 s after a beat to 0.1 s before
    # the next, against the whole band 0.5–40 Hz energy there.
    if filtered is not None:
        atrial, broad = filtered
        # (the squares once for the whole stretch: each gap adds the same values as before)
        sq_a, sq_b = atrial**2, broad**2
        e_a = e_b = 0.0
        for a, b in zip(beats[:-1].tolist(), beats[1:].tolist(), strict=True):
            lo, hi = a + round(0.35 * fs), b - round(0.1 * fs)
            if hi - lo >= round(0.08 * fs):
                e_a += float(sq_a[lo:hi].sum())
                e_b += float(sq_b[lo:hi].sum())
        if e_b > 0:
            out["atrial_band_energy"] = e_a / e_b
    return out


def _quality(
    x: np.ndarray, fs: float, spectrum: tuple[np.ndarray, np.ndarray] | None
) -> dict[str, float]:
    """Noise (from ``x``'s Welch ``spectrum``, ``None`` when shorter than 2 s) and saturation."""
    out: dict[str, float] = {}
    if spectrum is not None:
        f, p = spectrum
        band = (f >= 0.5) & (f <= fs / 2)
        total = float(p[band].sum())
        out["high_frequency_ratio"] = float(p[f > 40.0].sum()) / total if total > 0 else np.nan
    lo, hi = float(x.min()), float(x.max())
    if hi > lo:
        edge = 0.005 * (hi - lo)
        out["saturation_share"] = float(np.mean((x <= lo + edge) | (x >= hi - edge)))
    return out


def rhythm_features(x: np.ndarray, fs: float, beats: np.ndarray) -> np.ndarray:
    """The :data:`FEATURES` of one lead ``x`` (mV) at ``fs`` with its detected ``beats``."""
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    return rhythm_features_many(x, fs, [beats])[0]


def window_features(
    x: np.ndarray, fs: float, beats: np.ndarray, starts: np.ndarray, win: int
) -> np.ndarray:
    """:func:`rhythm_features` of the ``win``-sample windows of lead ``x`` starting at
    ``starts`` (each inside ``x``), from the beats ``beats`` detected on all of ``x``."""
    if len(starts) == 0:
        return np.zeros((0, len(FEATURES)))
    segs = np.stack([x[s : s + win] for s in starts])
    inside = [beats[(beats >= s) & (beats < s + win)] - s for s in starts]
    return rhythm_features_many(segs, fs, inside)


def rhythm_features_many(
    stretches: np.ndarray, fs: float, beats: Sequence[np.ndarray]
) -> np.ndarray:
    """:func:`rhythm_features` of each row of ``stretches`` (equal lengths, mV) with its
    ``beats``: one row of :data:`FEATURES` each, the same values to the last bit.

    The spectra and band-pass filters run on all the rows at once: a Holter's
    windows, one at a time, spent half the rhythm report in scipy's per-call
    overhead.
    """
    from scipy.signal import sosfiltfilt, welch

    xs = np.asarray(stretches, dtype=np.float64)
    if xs.ndim != 2 or len(beats) != xs.shape[0]:
        raise ValueError("rhythm_features_many takes a 2-D array and one beat list per row")
    k, n = xs.shape
    out = np.full((k, len(FEATURES)), np.nan, dtype=np.float64)
    if k == 0:
        return out
    duration = n / float(fs)
    # Odd input (a flat lead, beats given twice) divides by zero: such a feature is missing.
    with np.errstate(divide="ignore", invalid="ignore"):
        spectra = None
        if n >= int(2 * fs):
            f, p = welch(xs, fs=fs, nperseg=min(n, int(2 * fs)), axis=-1)
            spectra = (f, p)
        centred = np.stack([row - np.median(row) for row in xs])
        filtered = None
        if n > 3 * fs:
            filtered = (
                sosfiltfilt(_band_sos(4.0, 10.0, float(fs)), centred, axis=-1),
                sosfiltfilt(_band_sos(0.5, 40.0, float(fs)), centred, axis=-1),
            )
        for i in range(k):
            b = np.asarray(beats[i], dtype=np.int64).reshape(-1)
            spectrum = None if spectra is None else (spectra[0], spectra[1][i])
            values: dict[str, float] = {
                "beats_per_second": len(b) / duration if duration > 0 else np.nan
            }
            values.update(_quality(xs[i], fs, spectrum))
            if len(b) >= 4:
                rr = np.diff(b) / float(fs)
                values.update(_rr_features(rr))
                band = None if filtered is None else (filtered[0][i], filtered[1][i])
                values.update(_morphology(centred[i], fs, b, band))
            values.update(rhythm_generic.generic_values(centred[i], fs, b, spectrum))
            for j, name in enumerate(FEATURES):
                if name in values:
                    out[i, j] = values[name]
    out[~np.isfinite(out)] = np.nan
    return out


def irregular_rr(beats: np.ndarray, fs: float) -> tuple[np.ndarray, int]:
    """The RR intervals of ``beats`` that change from the previous one by over 10 % of the median.

    The intervals ``succ_diff_over_10pct`` counts, so a viewer can mark them:
    returns ``(rows, changes)`` where each row is ``(start sample, end
    sample, change / median RR)`` of an interval whose length differs from
    the previous interval's by more than :data:`RR_CHANGE_SHARE` of the
    median RR, and ``changes`` is how many beat-to-beat changes there were
    (the feature is ``len(rows) / changes``). Fewer than 4 beats: none.
    """
    beats = np.asarray(beats, dtype=np.int64).reshape(-1)
    if len(beats) < 4:
        return np.zeros((0, 3)), 0
    rr = np.diff(beats) / float(fs)
    d, med = np.diff(rr), float(np.median(rr))
    flagged = np.flatnonzero(_irregular(d, med))
    rows = np.column_stack([beats[flagged + 1], beats[flagged + 2], d[flagged] / med])
    return rows.astype(np.float64), len(d)

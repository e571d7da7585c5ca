"""Rhythm features on synthetic ECGs whose rhythm is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ecg.rhythm_features import FEATURES, rhythm_features, sample_entropy

FS = 300.0


def _ecg(rr: np.ndarray, p_waves: bool, seed: int = 0, fib: float = 0.0):
    """Gaussian QRS spikes at the given intervals, optional P waves, optional 6-Hz fibrillation."""
    rng = np.random.default_rng(seed)
    peaks = 0.6 + np.concatenate([[0.0], np.cumsum(rr)])
    n = int((peaks[-1] + 0.8) * FS)
    t = np.arange(n) / FS
    x = 0.01 * rng.standard_normal(n)
    for p in peaks:
        x += 1.0 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.2 * np.exp(-0.5 * ((t - p - 0.3) / 0.05) ** 2)  # T wave
        if p_waves:
            x += 0.15 * np.exp(-0.5 * ((t - p + 0.16) / 0.025) ** 2)
    x += fib * np.sin(
        2 * np.pi * 6.0 * t + rng.uniform(0, 1) * np.cumsum(rng.standard_normal(n)) * 0.05
    )
    return x, np.rint(peaks * FS).astype(int)


def _f(values: np.ndarray, name: str) -> float:
    return float(values[FEATURES.index(name)])


def test_sinus_rhythm_is_regular_with_p_waves() -> None:
    x, beats = _ecg(np.full(40, 0.8), p_waves=True)
    f = rhythm_features(x, FS, beats)
    assert f.shape == (len(FEATURES),)
    assert _f(f, "heart_rate_bpm") == pytest.approx(75.0, abs=0.5)
    assert _f(f, "rr_cv") < 0.01 and _f(f, "succ_diff_over_10pct") == 0.0
    assert _f(f, "p_wave_correlation") > 0.9
    assert _f(f, "qrs_correlation_mean") > 0.95


def test_fibrillation_is_irregular_without_p_waves() -> None:
    rng = np.random.default_rng(1)
    x, beats = _ecg(rng.uniform(0.45, 1.1, 50), p_waves=False, fib=0.1)
    f = rhythm_features(x, FS, beats)
    xs, bs = _ecg(np.full(50, 0.8), p_waves=True)
    sinus = rhythm_features(xs, FS, bs)
    assert _f(f, "rr_cv") > 0.15 and _f(f, "succ_diff_over_10pct") > 0.5
    assert _f(f, "rr_sample_entropy") > _f(sinus, "rr_sample_entropy")
    assert _f(f, "p_wave_correlation") < _f(sinus, "p_wave_correlation")
    assert _f(f, "atrial_band_energy") > _f(sinus, "atrial_band_energy")


def test_premature_beats_are_told_from_irregularity() -> None:
    rr = np.tile([0.8, 0.8, 0.5, 1.1], 12)  # a premature beat and its pause every fourth beat
    x, beats = _ecg(rr, p_waves=True)
    f = rhythm_features(x, FS, beats)
    assert _f(f, "premature_pause_share") > 0.2
    assert _f(f, "irregularity_without_ectopy") < 0.05


def test_too_few_beats_leave_rr_features_missing() -> None:
    x, beats = _ecg(np.full(2, 0.8), p_waves=True)
    f = rhythm_features(x, FS, beats)
    assert np.isnan(_f(f, "rr_cv")) and np.isnan(_f(f, "p_wave_correlation"))
    assert _f(f, "beats_per_second") > 0


def test_sample_entropy_of_a_constant_and_a_random_series() -> None:
    assert sample_entropy(np.ones(50)) == 0.0
    assert sample_entropy(np.random.default_rng(0).standard_normal(150)) > 1.0
    assert np.isnan(sample_entropy(np.ones(3)))


def test_generic_descriptors_follow_the_known_beat_and_rhythm() -> None:
    """Design D's generic descriptors (engine.ecg.rhythm_generic) on the same synthetic ECGs."""
    from engine.ecg.rhythm_generic import FEATURES as GENERIC

    assert FEATURES[-len(GENERIC) :] == GENERIC and len(set(FEATURES)) == len(FEATURES)
    x, beats = _ecg(np.full(40, 0.8), p_waves=True)
    sinus = rhythm_features(x, FS, beats)
    shape = {name: _f(sinus, name) for name in GENERIC if name.startswith("beat_shape_")}
    assert max(shape, key=lambda k: shape[k]) in ("beat_shape_-10ms", "beat_shape_+10ms")
    # The P wave (0.15 of a 1.0 QRS, 160 ms before it) and the T wave (300 ms after) show.
    assert _f(sinus, "beat_shape_-170ms") > 0.08 > abs(_f(sinus, "beat_shape_-90ms"))
    assert _f(sinus, "beat_shape_+290ms") > 0.1
    bands = [_f(sinus, n) for n in GENERIC if n.startswith("spectrum_")]
    assert sum(bands) == pytest.approx(1.0, abs=0.02)
    assert _f(sinus, "rr_within_5pct") == 1.0 and _f(sinus, "abs_drr_p90_norm") < 0.01
    assert _f(sinus, "rr_p5_norm") == pytest.approx(1.0, abs=0.01)
    assert _f(sinus, "heart_rate_second_half_ratio") == pytest.approx(1.0, abs=0.01)

    rng = np.random.default_rng(1)
    xf, bf = _ecg(rng.uniform(0.45, 1.1, 50), p_waves=False, fib=0.1)
    fib = rhythm_features(xf, FS, bf)
    assert abs(_f(fib, "beat_shape_-170ms")) < 0.05  # no P wave in the median beat
    assert _f(fib, "p_window_variability") > 3 * _f(sinus, "p_window_variability")
    assert _f(fib, "rr_within_5pct") < 0.3 and _f(fib, "abs_drr_p90_norm") > 0.3
    assert _f(fib, "spectrum_5_8hz") > _f(sinus, "spectrum_5_8hz")


def test_generic_descriptors_missing_without_beats_or_length() -> None:
    from engine.ecg.rhythm_generic import FEATURES as GENERIC

    x, beats = _ecg(np.full(2, 0.8), p_waves=True)
    f = rhythm_features(x, FS, beats)
    assert np.isnan(_f(f, "beat_shape_-170ms")) and np.isnan(_f(f, "rr_p5_norm"))
    assert np.isfinite(_f(f, "spectrum_0.5_3hz"))  # 2.4 s: one Welch segment
    short = rhythm_features(x[: int(FS)], FS, beats[:1])
    assert all(np.isnan(_f(short, n)) for n in GENERIC)


def test_generic_descriptors_stay_finite_or_missing_on_odd_input() -> None:
    """A flat lead, beats given twice and beats at the very edges: missing values, never inf."""
    flat = rhythm_features(np.zeros(int(30 * FS)), FS, np.arange(100, 8000, 240))
    assert not np.isinf(flat).any()
    x, beats = _ecg(np.full(20, 0.8), p_waves=True)
    doubled = rhythm_features(x, FS, np.sort(np.concatenate([beats, beats])))
    assert not np.isinf(doubled).any()
    edges = rhythm_features(x, FS, np.array([0, 1, len(x) - 2, len(x) - 1]))
    assert not np.isinf(edges).any()


def test_windows_at_once_equal_each_window_to_the_last_bit() -> None:
    """The Holter path computes a stretch's windows together (batched spectra and filters):
    every value must be exactly what one window at a time gives, missing values included."""
    from engine.ecg.rhythm_features import rhythm_features_many

    rng = np.random.default_rng(3)
    x, beats = _ecg(0.8 + 0.25 * rng.standard_normal(120).clip(-1, 1), p_waves=False, fib=0.05)
    win, step = int(30 * FS), int(10 * FS)
    starts = list(range(0, len(x) - win + 1, step))
    segs = np.stack([x[s : s + win] for s in starts])
    inside = [beats[(beats >= s) & (beats < s + win)] - s for s in starts]
    from engine.ecg.rhythm_features import window_features

    whole = window_features(x, FS, beats, np.array(starts), win)  # windows cut from the lead
    each = [rhythm_features(seg, FS, b) for seg, b in zip(segs, inside, strict=True)]
    assert np.array_equal(whole, np.stack(each), equal_nan=True)
    inside[1] = inside[1][:2]  # a window with too few beats: its RR features are missing
    segs[2] = 0.0  # a flat window
    many = rhythm_features_many(segs, FS, inside)
    assert many.shape == (len(starts), len(FEATURES))
    one = np.stack([rhythm_features(seg, FS, b) for seg, b in zip(segs, inside, strict=True)])
    assert np.array_equal(many, one, equal_nan=True)
    assert np.isnan(many[1, FEATURES.index("rr_cv")]) and np.isfinite(many[0]).sum() > 60
    assert rhythm_features_many(np.zeros((0, win)), FS, []).shape == (0, len(FEATURES))
    with pytest.raises(ValueError, match="one beat list per row"):
        rhythm_features_many(segs, FS, inside[:-1])

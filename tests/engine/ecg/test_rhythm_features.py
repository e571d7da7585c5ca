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

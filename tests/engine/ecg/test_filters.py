"""Preprocessing: power-line notch, baseline-wander removal, resampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ecg import (
    Annotations,
    Signal,
    detect_qrs,
    notch,
    preprocess_signal,
    remove_baseline,
    resample,
    resample_signal,
    score_qrs,
)
from engine.errors import OperationCancelled, SignalError
from engine.progress import CancelToken

FS = 500.0


def _amplitude(x: np.ndarray, freq: float, fs: float) -> float:
    """Amplitude of the ``freq`` sinusoid in ``x`` (least-squares projection)."""
    t = np.arange(len(x)) / fs
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(*coef))


def _spikes(n: int, fs: float, every_s: float = 1.0, height: float = 1.5) -> np.ndarray:
    """QRS-like Gaussian spikes (σ = 10 ms) once per ``every_s``."""
    t = np.arange(n) / fs
    x = np.zeros(n)
    for centre in np.arange(0.5, n / fs, every_s):
        x += height * np.exp(-0.5 * ((t - centre) / 0.010) ** 2)
    return x


@pytest.mark.parametrize("mains", [50.0, 60.0])
def test_notch_removes_mains_by_more_than_30_db(mains: float) -> None:
    n = int(20 * FS)
    t = np.arange(n) / FS
    ecg_like = _spikes(n, FS) + 0.3 * np.sin(2 * np.pi * 10 * t)
    hum = 0.5 * np.sin(2 * np.pi * mains * t + 0.3)
    out = notch(ecg_like + hum, FS, mains)
    core = slice(int(2 * FS), n - int(2 * FS))  # away from the ends
    before = _amplitude((ecg_like + hum)[core], mains, FS)
    after = _amplitude(out[core], mains, FS)
    assert 20 * np.log10(before / after) > 30
    # The ECG-band content is kept: 10 Hz within 1 %.
    kept = _amplitude(out[core], 10.0, FS) / _amplitude((ecg_like + hum)[core], 10.0, FS)
    assert kept == pytest.approx(1.0, abs=0.01)


def test_notch_above_nyquist_is_refused() -> None:
    with pytest.raises(SignalError, match="60 Hz"):
        notch(np.zeros(1000), 100.0, 60.0)


@pytest.mark.parametrize("method", ["median", "highpass"])
def test_baseline_removal_keeps_qrs_and_removes_drift(method: str) -> None:
    n = int(30 * FS)
    t = np.arange(n) / FS
    spikes = _spikes(n, FS)
    drift = 1.0 * np.sin(2 * np.pi * 0.2 * t)
    out = remove_baseline(spikes + drift, FS, method=method)
    core = slice(int(3 * FS), n - int(3 * FS))
    residual = (out - spikes)[core]
    quiet = spikes[core] < 0.01  # between the spikes
    # The ±1 mV drift is cut at least tenfold everywhere between the beats.
    assert np.max(np.abs(residual[quiet])) < 0.1
    peaks = out[core][spikes[core] > 1.49]
    assert np.all(peaks > 0.9 * 1.5)


def test_baseline_removal_is_cancellable() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        remove_baseline(np.zeros((2, 5000)), FS, cancel=token)


def test_resample_moves_annotations_onto_the_same_events() -> None:
    fs = 360.0
    n = int(10 * fs)
    x = _spikes(n, fs, every_s=0.8)
    centres = np.argwhere((x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])).ravel() + 1
    signal = Signal(
        data=x[np.newaxis].astype(np.float32),
        leads=("II",),
        fs=fs,
        source=Path("synthetic"),
        annotations=Annotations(samples=centres, symbols=("N",) * len(centres)),
    )
    out = resample_signal(signal, 250.0)
    assert out.fs == 250.0
    assert out.n_samples == pytest.approx(n * 250 / 360, abs=1)
    assert out.annotations.symbols == signal.annotations.symbols
    # Each mapped annotation sits on its spike's maximum in the new signal (±1 sample).
    y = out.data[0]
    for s in out.annotations.samples:
        window = y[max(s - 10, 0) : s + 11]
        assert abs(int(np.argmax(window)) - min(s, 10)) <= 1
    # Times are preserved.
    np.testing.assert_allclose(out.annotations.samples / 250.0, centres / fs, atol=1 / 250)


def test_resample_rational_ratio() -> None:
    y, fs = resample(np.zeros(1000), 1000.0, 360.0)
    assert fs == 360.0
    assert len(y) == 360


def test_resampled_mitbih_record_keeps_its_beats(record_101) -> None:
    out = resample_signal(record_101, 250.0)
    found = detect_qrs(out.data[0], out.fs)
    score = score_qrs(out.annotations, found, out.fs, out.n_samples)
    assert score.sensitivity > 0.995
    assert score.positive_predictivity > 0.995


def test_preprocess_signal_keeps_metadata(record_101) -> None:
    short = record_101.replace_data(record_101.data[:, :3600])
    out = preprocess_signal(short, baseline="median", mains_hz=60.0)
    assert out.leads == short.leads
    assert out.fs == short.fs
    assert out.annotations is short.annotations
    # The median-filtered record is centred on zero between beats.
    assert abs(float(np.median(out.data[0]))) < 0.05

"""ECG preprocessing: baseline-wander removal, power-line notch, resampling.

Every filter is zero-phase (forward-backward or symmetric), so wave timings
(QRS onset, ST segment) are not shifted. Array functions work on the last
axis of ``(n_samples,)`` or ``(n_leads, n_samples)`` arrays; the ``*_signal``
variants return a new :class:`~engine.ecg.signal.Signal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from engine.ecg.signal import Annotations, Signal
from engine.errors import SignalError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress


def remove_baseline(
    x: np.ndarray,
    fs: float,
    *,
    method: str = "median",
    cutoff_hz: float = 0.5,
    windows_s: Sequence[float] = (0.2, 0.6),
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Remove baseline wander (respiration, electrode motion) from ECG samples.

    Parameters
    ----------
    x
        ``(n_samples,)`` or ``(n_leads, n_samples)`` in mV.
    fs
        Sampling frequency in Hz.
    method
        ``"median"`` (default): subtract the baseline estimated by a 200 ms
        then a 600 ms median filter, which removes P/QRS then T waves from the
        estimate (de Chazal et al. 2004); keeps ST levels and slow QRS shapes.
        ``"highpass"``: zero-phase 2nd-order Butterworth high-pass at
        ``cutoff_hz`` (AHA recommends ≤ 0.5 Hz, or 0.05 Hz for ST analysis).
    cutoff_hz
        High-pass corner frequency for ``method="highpass"``.
    windows_s
        The median filters' lengths in seconds, applied one after the other
        (``method="median"``).
    progress, cancel
        Reported and checked per lead.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the same shape.
    """
    from scipy import ndimage
    from scipy import signal as sps

    data = np.atleast_2d(np.asarray(x, dtype=np.float32))
    out = np.empty_like(data)
    if method == "median":
        sizes = [_odd(float(w) * fs) for w in windows_s]
    elif method == "highpass":
        if not 0 < cutoff_hz < fs / 2:
            raise SignalError(f"A high-pass at {cutoff_hz} Hz is impossible at {fs:g} Hz.")
        sos = sps.butter(2, cutoff_hz, btype="highpass", fs=fs, output="sos")
    else:
        raise ValueError(f"unknown baseline method {method!r}")
    for i, row in enumerate(data):
        check_cancelled(cancel)
        progress(i / len(data), "Removing baseline wander")
        if method == "median":
            base = row
            for size in sizes:
                base = ndimage.median_filter(base, size=size, mode="nearest")
            out[i] = row - base
        else:
            out[i] = _sosfiltfilt(sos, row, fs)
    progress(1.0, "Baseline removed")
    return out.reshape(np.shape(x)) if np.ndim(x) == 1 else out


def notch(
    x: np.ndarray,
    fs: float,
    mains_hz: float = 50.0,
    *,
    quality: float = 30.0,
    harmonics: int = 1,
) -> np.ndarray:
    """Remove power-line interference with a zero-phase IIR notch.

    Parameters
    ----------
    x
        ``(n_samples,)`` or ``(n_leads, n_samples)``.
    fs
        Sampling frequency in Hz.
    mains_hz
        50 (Europe, Africa, most of Asia) or 60 (the Americas, parts of Asia).
    quality
        Quality factor: the notch is ``mains_hz / quality`` wide at -3 dB
        (≈ 1.7 Hz at 50 Hz, Q = 30).
    harmonics
        How many multiples of ``mains_hz`` to remove (those below Nyquist).

    Returns
    -------
    numpy.ndarray
        ``float32`` array of the same shape.
    """
    from scipy import signal as sps

    if not 0 < mains_hz < fs / 2:
        raise SignalError(
            f"A {mains_hz:g} Hz notch is impossible on a signal sampled at {fs:g} Hz."
        )
    out = np.asarray(x, dtype=np.float64)
    for k in range(1, max(harmonics, 1) + 1):
        freq = k * mains_hz
        if freq >= fs / 2:
            break
        b, a = sps.iirnotch(freq, quality, fs=fs)
        out = sps.filtfilt(b, a, out, axis=-1, padtype="odd", padlen=_padlen(out, fs))
    return out.astype(np.float32)


def bandpass(x: np.ndarray, fs: float, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass (``order`` per pass) along the last axis."""
    from scipy import signal as sps

    if not 0 < low_hz < high_hz < fs / 2:
        raise SignalError(f"A {low_hz:g}–{high_hz:g} Hz band is impossible at {fs:g} Hz.")
    sos = sps.butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")
    return _sosfiltfilt(sos, np.asarray(x, dtype=np.float64), fs).astype(np.float32)


def resample(
    x: np.ndarray,
    fs: float,
    target_fs: float,
    *,
    max_denominator: int = 1000,
    padtype: str = "line",
) -> tuple[np.ndarray, float]:
    """Resample along the last axis with a polyphase anti-aliasing filter.

    Parameters
    ----------
    x
        ``(n_samples,)`` or ``(n_leads, n_samples)``.
    fs, target_fs
        Current and wanted sampling frequency in Hz.
    max_denominator
        Bound on the rational ``up/down`` approximating ``target_fs / fs``.
    padtype
        How the signal is extended past its ends for the filter
        (:func:`scipy.signal.resample_poly`): ``"line"`` (default) continues
        the end trend, ``"constant"`` pads with zeros.

    Returns
    -------
    tuple of numpy.ndarray and float
        The ``float32`` samples and the exact new rate ``fs * up / down``.
    """
    from scipy import signal as sps

    up, down = _ratio(fs, target_fs, max_denominator)
    if up == down:
        return np.asarray(x, dtype=np.float32).copy(), float(fs)
    y = sps.resample_poly(np.asarray(x, dtype=np.float64), up, down, axis=-1, padtype=padtype)
    return y.astype(np.float32), fs * up / down


def map_samples(samples: np.ndarray, fs: float, target_fs: float, n_target: int) -> np.ndarray:
    """Sample indices at ``fs`` expressed at ``target_fs`` (rounded, clipped)."""
    mapped = np.rint(np.asarray(samples, dtype=np.float64) * (target_fs / fs)).astype(np.int64)
    return np.clip(mapped, 0, max(n_target - 1, 0))


def resample_signal(
    signal: Signal,
    target_fs: float,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Signal:
    """The record at another sampling rate, annotations moved to the new sample grid.

    Parameters
    ----------
    signal
        The record.
    target_fs
        Wanted rate in Hz (e.g. 360 for a model trained on MIT-BIH).
    progress, cancel
        Reported and checked per lead.

    Returns
    -------
    Signal
        Same leads and metadata; ``fs`` is ``target_fs`` (up to the rational
        approximation of the ratio).
    """
    rows = []
    new_fs = signal.fs
    for i, row in enumerate(signal.data):
        check_cancelled(cancel)
        progress(i / signal.n_leads, "Resampling")
        y, new_fs = resample(row, signal.fs, target_fs)
        rows.append(y)
    data = np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    ann = signal.annotations
    mapped = Annotations(
        samples=map_samples(ann.samples, signal.fs, new_fs, data.shape[-1]),
        symbols=ann.symbols,
        aux=ann.aux,
    )
    progress(1.0, "Resampled")
    return signal.replace_data(data, fs=new_fs, annotations=mapped)


def preprocess_signal(
    signal: Signal,
    *,
    baseline: str | None = "median",
    mains_hz: float | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Signal:
    """Baseline removal and (optionally) a power-line notch on every lead.

    Parameters
    ----------
    signal
        The record.
    baseline
        ``"median"``, ``"highpass"`` (see :func:`remove_baseline`) or ``None``.
    mains_hz
        50 or 60 to notch out mains interference; ``None`` for no notch.
    progress, cancel
        Reported and checked per lead.

    Returns
    -------
    Signal
        The filtered record (same rate, leads, annotations and metadata).
    """
    data = signal.data
    if baseline:
        data = remove_baseline(data, signal.fs, method=baseline, progress=progress, cancel=cancel)
    if mains_hz:
        check_cancelled(cancel)
        data = notch(data, signal.fs, mains_hz)
    return signal.replace_data(data)


def _odd(n: float) -> int:
    k = max(round(n), 1)
    return k if k % 2 else k + 1


def _padlen(x: np.ndarray, fs: float) -> int:
    return int(min(np.shape(x)[-1] - 1, max(3 * fs, 1)))


def _sosfiltfilt(sos: np.ndarray, x: np.ndarray, fs: float) -> np.ndarray:
    from scipy import signal as sps

    n = np.shape(x)[-1]
    if n < 2:
        return np.asarray(x, dtype=np.float64).copy()
    # A long odd extension (1 s) keeps the low-frequency filters quiet at the edges.
    return sps.sosfiltfilt(sos, x, axis=-1, padlen=int(min(n - 1, max(fs, 1))))


def _ratio(fs: float, target_fs: float, max_denominator: int) -> tuple[int, int]:
    if not (fs > 0 and target_fs > 0):
        raise SignalError(f"Cannot resample from {fs:g} Hz to {target_fs:g} Hz.")
    frac = Fraction(target_fs / fs).limit_denominator(max_denominator)
    return frac.numerator, frac.denominator

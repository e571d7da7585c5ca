"""The rhythm network's input: one lead at 150 Hz, band-passed and scaled, in 30-s windows.

Shared by training (:mod:`engine.train.rhythm_cnn`) and the application's
rhythm runtime, so both feed the network the same numbers.
"""

from __future__ import annotations

import numpy as np

from engine.ecg.filters import bandpass, resample

#: The network's sampling rate, window length and the step of windows over a longer lead.
FS = 150.0
WINDOW_S = 30.0
STEP_S = 15.0
WINDOW = int(FS * WINDOW_S)


def network_lead(x: np.ndarray, fs: float) -> np.ndarray:
    """One lead (mV) at any rate → 150 Hz, 0.5–40 Hz, divided by its median absolute deviation."""
    y, _ = resample(np.asarray(x, dtype=np.float64), float(fs), FS)
    y = bandpass(y, FS, 0.5, 40.0)
    mad = float(np.median(np.abs(y - np.median(y))))
    scale = mad if mad > 1e-6 else float(np.std(y)) or 1.0
    return (y / scale).astype(np.float32)


def windows(y: np.ndarray) -> np.ndarray:
    """``(k, WINDOW)`` 30-s windows every 15 s of a prepared lead (zero-padded when shorter)."""
    if len(y) <= WINDOW:
        out = np.zeros((1, WINDOW), dtype=np.float32)
        out[0, : len(y)] = y
        return out
    step = int(FS * STEP_S)
    starts = list(range(0, len(y) - WINDOW + 1, step))
    if starts[-1] + WINDOW < len(y):
        starts.append(len(y) - WINDOW)
    return np.stack([y[s : s + WINDOW] for s in starts]).astype(np.float32)

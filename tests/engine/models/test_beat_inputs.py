"""Beat-model inputs share the ECG package's signal processing, except what a model froze.

Lead names, the median baseline and the resampler's filter are
:mod:`engine.ecg`'s own; the model-input resampler's edge padding and the
declared ``highpass`` baseline are what the models were trained with and are
pinned here to fixed outputs. The shipped beat bundle's stored predictions
(``tests/engine/train/test_shipped_models.py``) pin the whole chain.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.ecg import filters
from engine.errors import InputRejectedError
from engine.models.beat_inputs import (
    RESAMPLE_PADTYPE,
    ArraySignal,
    highpass_baseline,
    remove_baseline,
    resample,
    select_lead,
)


def _signal(fs: float, seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(fs * seconds)) / fs
    rng = np.random.default_rng(0)
    x = 0.8 * np.sin(2 * np.pi * 1.2 * t) + 0.3 * np.sin(2 * np.pi * 17 * t) + 0.4
    return (x + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def test_model_resampler_is_the_ecg_one_with_the_frozen_edge_padding() -> None:
    x = _signal(360.0)
    y = resample(x, 360.0, 180.0)
    assert y.dtype == np.float32
    assert np.array_equal(y, filters.resample(x, 360.0, 180.0, padtype=RESAMPLE_PADTYPE)[0])
    line = filters.resample(x, 360.0, 180.0)[0]
    # The padding only changes the ends, and there by far more than rounding: the ECG
    # package's default ("line") cannot stand in for the model's.
    assert np.abs(y[:5] - line[:5]).max() > 1e-2
    assert np.abs(y[200:-200] - line[200:-200]).max() < 1e-6


def test_model_resampler_output_is_pinned() -> None:
    """What the shipped beat model was trained with: frozen with the model; do not change
    without retraining."""
    y = resample(_signal(360.0), 360.0, 180.0)
    assert len(y) == 1800
    assert y[:5] == pytest.approx([0.315597, 0.643962, 0.718781, 0.860566, 0.712844], abs=1e-5)
    assert y[-5:] == pytest.approx([0.187907, 0.105206, 0.007607, -0.008232, 0.23141], abs=1e-5)
    assert float(np.abs(y).sum()) == pytest.approx(1071.447, abs=1e-2)
    same_rate = _signal(180.0)
    assert np.array_equal(resample(same_rate, 180.0, 180.0), same_rate)


def test_median_baseline_is_the_ecg_one() -> None:
    y = resample(_signal(360.0), 360.0, 180.0)
    assert np.array_equal(
        remove_baseline(y, 180.0, {"method": "median"}),
        filters.remove_baseline(y, 180.0, method="median"),
    )
    windows = {"method": "median", "windows_s": [0.1, 0.3, 0.9]}
    assert np.array_equal(
        remove_baseline(y, 180.0, windows),
        filters.remove_baseline(y, 180.0, method="median", windows_s=(0.1, 0.3, 0.9)),
    )


def test_declared_highpass_baseline_is_pinned() -> None:
    """The bundle format's ``highpass`` (three cutoff periods of padding, any order): frozen
    with the models that declare it, and not the ECG package's 1 s-padded one."""
    x = _signal(180.0)
    h = remove_baseline(x, 180.0, {"method": "highpass", "cutoff_hz": 0.5})
    assert np.array_equal(h, highpass_baseline(x, 180.0, 0.5, 2))
    assert h[:5] == pytest.approx([0.0, 0.187425, 0.36895, 0.389851, 0.304993], abs=1e-5)
    assert h[-5:] == pytest.approx([-0.092717, -0.048799, -0.117211, -0.057726, 0.0], abs=1e-5)
    assert float(np.abs(h).sum()) == pytest.approx(916.519, abs=1e-2)
    ecg = filters.remove_baseline(x, 180.0, method="highpass", cutoff_hz=0.5)
    assert np.abs(h - ecg).max() > 1e-3


@pytest.mark.parametrize("label", ["MLII", "II", "ii", "Lead II", "Lead II (Einthoven)", "2"])
def test_lead_names_are_read_as_the_ecg_package_reads_them(label: str) -> None:
    signal = ArraySignal(np.zeros((2, 10), np.float32), 360.0, ("V1", label))
    assert select_lead(signal, ["MLII", "II"]) == 1


def test_a_signal_without_the_model_lead_is_refused() -> None:
    signal = ArraySignal(np.zeros((2, 10), np.float32), 360.0, ("V1", "V2"))
    with pytest.raises(InputRejectedError, match="none of the leads the model needs"):
        select_lead(signal, ["MLII", "II"])

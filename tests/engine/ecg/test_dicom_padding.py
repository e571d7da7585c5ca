"""A DICOM ECG's Waveform Padding Value marks absent input: a gap, not a -32768 spike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from engine.ecg import read_signal
from engine.resources import resource_path


def test_padded_samples_are_a_gap_not_signal(tmp_path: Path) -> None:
    ds = pydicom.dcmread(resource_path("samples", "ecg-12-lead.dcm"))
    group = ds.WaveformSequence[0]
    n_ch, n = int(group.NumberOfWaveformChannels), int(group.NumberOfWaveformSamples)
    fs = float(group.SamplingFrequency)
    raw = np.frombuffer(group.WaveformData, dtype="<i2").reshape(n, n_ch).copy()
    pad = np.int16(-32768)
    raw[: int(2.5 * fs), 3] = pad  # lead 4's first 2.5 s absent (a common 12-lead layout)
    group.WaveformData = raw.tobytes()
    group.add_new(0x5400100A, "OW", pad.tobytes())  # Waveform Padding Value
    out = tmp_path / "padded.dcm"
    ds.save_as(out)

    signal = read_signal(out)
    assert signal.lead_gaps(3) == ((0.0, 2.5),)
    assert all(signal.lead_gaps(i) == () for i in range(signal.n_leads) if i != 3)
    assert np.isfinite(signal.data).all()
    before = read_signal(resource_path("samples", "ecg-12-lead.dcm"))
    # the absent stretch is filled flat from the first valid sample, not a -32768 spike
    assert np.abs(signal.data[3, : int(2.5 * fs)]).max() <= np.abs(before.data[3]).max()
    np.testing.assert_array_equal(signal.data[3, int(2.5 * fs) :], before.data[3, int(2.5 * fs) :])

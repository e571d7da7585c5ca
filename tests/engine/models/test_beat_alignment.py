"""Beat windows aligned to the record's median beat, and amplitude drift undone."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from engine.api import load_model
from engine.errors import BundleSchemaError, EngineError, ModelError
from engine.models.architectures import build_model
from engine.models.authoring import write_bundle
from engine.models.beat_inputs import ArraySignal, SignalSpec, prepare_beats
from engine.models.bundle import open_bundle
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, lstm_manifest, synthetic_ecg

ALIGN = {"method": "template", "max_shift_s": 0.08, "min_corr": 0.8}
DRIFT = {"method": "running-median", "beats": 101}


def spec(**changes) -> SignalSpec:
    return SignalSpec(fs=FS, before_s=0.1, after_s=0.15, leads=("MLII",), **changes)


def signal(x: np.ndarray) -> ArraySignal:
    return ArraySignal(x, FS, ("MLII",))


def test_a_detection_that_jumped_off_the_peak_is_aligned_back() -> None:
    x, peaks = synthetic_ecg(60.0)
    given = peaks.copy()
    jumped = np.arange(3, len(peaks), 4)
    given[jumped] += round(0.05 * FS)  # the detector's peak moved 50 ms, as in record 109
    plain = prepare_beats(signal(x), spec(), given)
    aligned = prepare_beats(signal(x), spec(beat_align=ALIGN), given)
    # Without alignment the jumped beats' peak is 50 ms early in their window.
    assert (np.abs(plain.windows[jumped].argmax(axis=1) - (spec().before - 18)) <= 1).all()
    # Aligned, every window is centred on its peak again...
    assert (np.abs(aligned.windows.argmax(axis=1) - spec().before) <= 1).all()
    assert (np.abs(aligned.model_samples - peaks) <= 1).all()
    # ...while the beats keep the positions the detector gave.
    assert aligned.samples.tolist() == given.tolist()


def test_a_beat_unlike_the_median_beat_is_not_moved() -> None:
    x, peaks = synthetic_ecg(40.0)
    t = np.arange(len(x)) / FS
    odd = 20
    centre = peaks[odd] / FS
    # Replace one beat by a wide, inverted complex (ventricular-looking).
    x -= (1.2 * np.exp(-0.5 * ((t - centre) / 0.012) ** 2)).astype(np.float32)
    x -= (1.5 * np.exp(-0.5 * ((t - centre - 0.02) / 0.05) ** 2)).astype(np.float32)
    given = peaks.copy()
    given[odd] += 10
    aligned = prepare_beats(signal(x), spec(beat_align=ALIGN), given)
    assert aligned.model_samples[odd] == given[odd]
    others = np.delete(np.arange(len(peaks)), odd)
    assert (np.abs(aligned.model_samples[others] - peaks[others]) <= 1).all()


def test_a_step_in_amplitude_is_undone_but_a_single_tall_beat_stays_tall() -> None:
    x, peaks = synthetic_ecg(240.0)
    half = len(x) // 2
    x[half:] *= 1.7  # electrode contact changed half-way
    tall = 40
    lo, hi = peaks[tall] - 20, peaks[tall] + 20
    x[lo:hi] *= 2.0
    late = peaks >= half
    early = ~late
    early[tall] = False
    plain = prepare_beats(signal(x), spec(), peaks)
    fixed = prepare_beats(signal(x), spec(amplitude_drift=DRIFT), peaks)

    def ratio(pb):
        ptp = np.ptp(pb.windows, axis=1)
        return float(np.median(ptp[late]) / np.median(ptp[early]))

    assert ratio(plain) == pytest.approx(1.7, rel=0.05)
    assert ratio(fixed) == pytest.approx(1.0, abs=0.05)
    ptp = np.ptp(fixed.windows, axis=1)
    assert ptp[tall] / np.median(ptp[early]) == pytest.approx(2.0, rel=0.1)
    # The record's own amplitude is kept (between the two halves').
    overall = float(np.median(np.ptp(plain.windows, axis=1)))
    assert float(np.median(ptp)) == pytest.approx(overall, rel=0.05)


@pytest.mark.parametrize("n_beats", [0, 1, 2, 5])
def test_short_records_pass_through(n_beats: int) -> None:
    x, peaks = synthetic_ecg(6.0)
    pb = prepare_beats(signal(x), spec(beat_align=ALIGN, amplitude_drift=DRIFT), peaks[:n_beats])
    assert pb.windows.shape == (n_beats, spec().window)
    assert np.isfinite(pb.windows).all()


def test_a_flat_lead_is_left_alone() -> None:
    x = np.zeros(int(10 * FS), np.float32)
    peaks = np.arange(200, len(x) - 200, 300)
    pb = prepare_beats(signal(x), spec(beat_align=ALIGN, amplitude_drift=DRIFT), peaks)
    assert pb.model_samples.tolist() == peaks.tolist()
    assert not pb.windows.any()


@pytest.mark.parametrize(
    ("field", "block", "message"),
    [
        ("beat_align", {"method": "xcorr"}, "Unknown beat alignment"),
        ("beat_align", {"method": "template", "min_corr": 0.8}, "max_shift_s"),
        ("beat_align", {"method": "template", "max_shift_s": "a", "min_corr": 0.8}, "max_shift_s"),
        ("beat_align", {"method": "template", "max_shift_s": 0.08, "min_corr": 2}, "out of range"),
        ("beat_align", {"method": "template", "max_shift_s": -1, "min_corr": 0.8}, "out of range"),
        ("amplitude_drift", {"method": "agc"}, "Unknown amplitude-drift"),
        ("amplitude_drift", {"method": "running-median"}, "whole number"),
        ("amplitude_drift", {"method": "running-median", "beats": 0}, "at least 1"),
    ],
)
def test_malformed_blocks_are_refused_with_a_reason(field: str, block: dict, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        spec(**{field: block})


def test_a_bundle_with_a_malformed_block_is_refused_when_it_loads(tmp_path: Path) -> None:
    m = lstm_manifest("unaligned-beats")
    m["preprocessing"]["beat_align"] = {"method": "template", "max_shift_s": 0.08}
    write_bundle(tmp_path, m, net=build_model("beat-lstm", m["architecture"]["args"]))
    with pytest.raises(ModelError, match=r"“unaligned-beats”: .*needs numbers “max_shift_s” and"):
        load_model("unaligned-beats", ModelRegistry([(tmp_path, "bundled")]), device="cpu")


def _bundle(tmp_path: Path, m: dict) -> None:
    write_bundle(tmp_path, m, net=build_model("beat-lstm", m["architecture"]["args"]))
    open_bundle(tmp_path / m["id"])


def test_the_manifest_schema_knows_both_steps(tmp_path: Path) -> None:
    m = lstm_manifest("aligned-beats")
    m["preprocessing"]["beat_align"] = dict(ALIGN)
    m["preprocessing"]["amplitude_drift"] = dict(DRIFT)
    _bundle(tmp_path / "good", m)
    assert SignalSpec.from_manifest(m).beat_align == ALIGN
    assert SignalSpec.from_manifest(m).amplitude_drift == DRIFT
    bad = copy.deepcopy(m)
    bad["preprocessing"]["beat_align"]["method"] = "xcorr"
    with pytest.raises(BundleSchemaError, match="beat_align"):
        _bundle(tmp_path / "bad-align", bad)
    bad = copy.deepcopy(m)
    bad["preprocessing"]["amplitude_drift"]["beats"] = 0
    with pytest.raises(BundleSchemaError, match="amplitude_drift"):
        _bundle(tmp_path / "bad-drift", bad)

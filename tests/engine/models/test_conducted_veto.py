"""The conducted-beat veto: a beat on time after the patient's P wave is not a V beat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.api import analyze_signal
from engine.errors import ModelError
from engine.models import beat_veto
from engine.models.beat_veto import ConductedVeto
from engine.models.lstm import BeatModel
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import FS, lstm_manifest, make_lstm_bundle

LABELS = ["N", "S", "V", "F", "Q"]
RATE = 200.0  # the test windows' and samples' rate
BEFORE = 50  # the R peak's index: the P window (-0.25 to -0.08 s) is samples 0-34
CALLED_V = [0.2, 0.1, 0.6, 0.06, 0.04]
CALLED_N = [0.8, 0.1, 0.05, 0.03, 0.02]


def block(**changes):
    b = {"method": "conducted-beat-veto", "label": "V", "p_window_s": [-0.25, -0.08],
         "max_rr_deviation": 0.15, "min_p_correlation": 0.8, "min_template_beats": 8,
         "withdraw": ["V", "F", "Q"]}  # fmt: skip
    b.update(changes)
    return b


def window(*, wide: bool, p_wave: bool, rng: np.random.Generator) -> np.ndarray:
    """A beat window: a P wave 160 ms before the R peak (or none), a narrow or wide QRS."""
    t = np.arange(130) - BEFORE
    qrs = -np.exp(-0.5 * (t / 9.0) ** 2) if wide else np.exp(-0.5 * (t / 2.5) ** 2)
    p = 0.15 * np.exp(-0.5 * ((t + 32) / 5.0) ** 2) if p_wave else 0.0
    return qrs + p + 0.01 * rng.standard_normal(130)


def record(rng: np.random.Generator):
    """20 sinus beats a second apart with three wide beats among them: one on time after its
    P wave (pre-excited), one early with no P wave (a V beat), one on time with no P wave (an
    idioventricular beat); the network calls all three V."""
    kinds = {5: "pre-excited", 10: "premature", 15: "escape"}
    times = np.arange(20, dtype=np.float64)
    times[10] -= 0.4  # early, and followed by a pause
    windows = [
        window(wide=i in kinds, p_wave=kinds.get(i) in (None, "pre-excited"), rng=rng)
        for i in range(20)
    ]
    probs = np.array([CALLED_V if i in kinds else CALLED_N for i in range(20)])
    return np.stack(windows), probs, np.rint(times * RATE).astype(np.int64)


def test_only_the_beat_on_time_after_a_p_wave_loses_v() -> None:
    w, probs, samples = record(np.random.default_rng(0))
    veto = ConductedVeto.from_manifest(block(), LABELS)
    out, vetoed = veto.apply(probs, w, samples, RATE, BEFORE, RATE, LABELS)
    assert np.flatnonzero(vetoed).tolist() == [5]
    # V, F and Q are withdrawn: a beat conducted from the atria is N or S.
    assert out[5, 2:].tolist() == [0, 0, 0]
    assert out[5, 0] == pytest.approx(2 / 3) and out[5, 1] == pytest.approx(1 / 3)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-6)
    assert (out[[10, 15]].argmax(axis=1) == 2).all()
    assert np.allclose(np.delete(out, 5, axis=0), np.delete(probs, 5, axis=0), atol=1e-6)


def test_the_timing_test_needs_both_intervals_near_the_rhythm() -> None:
    veto = ConductedVeto.from_manifest(block(), LABELS)
    times = np.arange(30, dtype=np.float64)
    times[10] -= 0.2  # 20 % early: this beat and the pause after it are off
    times[20] -= 0.1  # 10 % early: within 15 %
    timed = veto.on_time(np.rint(times * RATE).astype(np.int64), RATE)
    assert not timed[10] and not timed[11]
    assert not timed[9]  # the early beat also cuts short the interval after the one before
    assert timed[20] and timed[21]
    assert timed[[0, 5, 12, 29]].all()


def test_without_enough_beats_to_make_a_template_nothing_changes() -> None:
    w, probs, samples = record(np.random.default_rng(1))
    probs[:] = CALLED_V
    probs[:7] = CALLED_N
    out, vetoed = ConductedVeto.from_manifest(block(), LABELS).apply(
        probs, w, samples, RATE, BEFORE, RATE, LABELS
    )
    assert not vetoed.any() and np.allclose(out, probs)
    empty, none = ConductedVeto.from_manifest(block(), LABELS).apply(
        np.zeros((0, 5)), np.zeros((0, 130)), np.zeros(0, np.int64), RATE, BEFORE, RATE, LABELS
    )
    assert empty.shape == (0, 5) and none.shape == (0,)


def test_without_a_withdraw_list_only_the_label_is_withdrawn() -> None:
    w, probs, samples = record(np.random.default_rng(0))
    bare = {k: v for k, v in block().items() if k != "withdraw"}
    veto = ConductedVeto.from_manifest(bare, LABELS)
    assert veto.to_manifest() == {**bare, "withdraw": ["V"]}
    out, vetoed = veto.apply(probs, w, samples, RATE, BEFORE, RATE, LABELS)
    assert np.flatnonzero(vetoed).tolist() == [5]
    assert out[5, 2] == 0 and out[5, 3] == pytest.approx(0.06 / 0.4)
    assert out[5, 0] == pytest.approx(0.5)


def test_the_block_round_trips_next_to_the_qrs_veto() -> None:
    veto = ConductedVeto.from_manifest(block(), LABELS)
    assert veto.to_manifest() == block()
    qrs = {"method": "qrs-template-veto", "label": "V", "window_s": [-0.07, 0.08],
           "min_correlation": 0.95}  # fmt: skip
    steps = {"postprocessing": [qrs, block()]}
    assert beat_veto.conducted_from_manifest(steps, LABELS) == veto
    assert beat_veto.from_manifest(steps, LABELS) is not None
    assert beat_veto.conducted_from_manifest({"postprocessing": [qrs]}, LABELS) is None
    with pytest.raises(ValueError, match="more than one conducted-beat-veto step"):
        beat_veto.conducted_from_manifest({"postprocessing": [block(), block()]}, LABELS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "X"}, "the veto's label 'X' is not one of the outputs"),
        ({"p_window_s": [-0.08, -0.25]}, "“p_window_s” must be two finite seconds"),
        ({"max_rr_deviation": 0}, "“max_rr_deviation” must lie strictly between 0 and 1"),
        ({"max_rr_deviation": "wide"}, "could not convert string to float"),
        ({"min_p_correlation": -1}, "“min_p_correlation” must lie strictly between -1 and 1"),
        ({"min_template_beats": 2.5}, "“min_template_beats” must be a positive whole number"),
        ({"withdraw": ["F"]}, "“withdraw” must list the veto's label 'V'"),
        ({"withdraw": ["V", "X"]}, "“withdraw” must list the veto's label 'V'"),
        ({"withdraw": "V"}, "“withdraw” must list the veto's label 'V'"),
        ({"withdraw": LABELS}, "and other outputs, not all of them"),
    ],
)
def test_a_bad_block_is_refused_with_its_reason(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        ConductedVeto.from_manifest(block(**changes), LABELS)


def long_window_bundle(root: Path, model_id: str, **step: Any) -> Path:
    """A test beat bundle whose windows start 250 ms before the R peak, as the shipped
    model's do (the factory's start 100 ms before, short of the P wave)."""
    m = lstm_manifest()
    pre = dict(m["preprocessing"], beat_window={"before_s": 0.25, "after_s": 0.15})
    arch = {"name": "beat-lstm", "args": dict(m["architecture"]["args"], window=144)}
    return make_lstm_bundle(root, model_id, preprocessing=pre, architecture=arch,
                            postprocessing=[block(**step)])  # fmt: skip


def test_a_bundle_with_a_broken_conducted_veto_is_refused(tmp_path: Path) -> None:
    # The factory's windows start 100 ms before the R peak: the P window leaves 7 samples
    # there; one of 1 ms none.
    long_window_bundle(tmp_path, "broken", p_window_s=[-0.1, -0.099])
    x, peaks = ecg_with_p_waves({})
    with pytest.raises(ModelError, match=r"cannot use: the veto.s window .* leaves under 3"):
        analyze_signal("broken", x, fs=FS, leads=["MLII"], beats=peaks,
                       registry=ModelRegistry([(tmp_path, "bundled")]), device="cpu")  # fmt: skip


def ecg_with_p_waves(kinds: dict[int, str], seconds: float = 40.0):
    """A synthetic ECG at FS, one beat each 0.8 s with its P wave 160 ms before the R
    peak; ``kinds`` makes beats wide and inverted: ``pre-excited`` (P wave kept, on time) or
    ``premature`` (no P wave, 0.3 s early)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FS)) / FS
    peaks = np.arange(0.6, seconds - 0.4, 0.8)
    x = 0.01 * rng.standard_normal(len(t))
    for i, p in enumerate(peaks):
        kind = kinds.get(i)
        if kind == "premature":
            p = peaks[i] = p - 0.3
        else:
            x += 0.15 * np.exp(-0.5 * ((t - p + 0.16) / 0.02) ** 2)
        if kind:
            x -= 1.0 * np.exp(-0.5 * ((t - p) / 0.04) ** 2)
        else:
            x += 1.2 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.25 * np.exp(-0.5 * ((t - p - 0.25) / 0.04) ** 2)
    return x.astype(np.float32), np.rint(peaks * FS).astype(np.int64)


def test_the_runner_relabels_conducted_wide_beats_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pre_excited = [6, 7, 8, 20, 21]
    premature = [12, 30, 40]
    x, peaks = ecg_with_p_waves(
        {**dict.fromkeys(pre_excited, "pre-excited"), **dict.fromkeys(premature, "premature")}
    )
    called = set(pre_excited) | set(premature)
    logits = np.array([[1.0, 0, 3.0, 0, 0] if i in called else [3.0, 0, 0, 0, 0]
                       for i in range(len(peaks))], dtype=np.float32)  # fmt: skip
    monkeypatch.setattr(BeatModel, "_logits", lambda self, *a, **k: logits)
    long_window_bundle(tmp_path, "conducted", min_p_correlation=0.7)
    reg = ModelRegistry([(tmp_path, "bundled")])
    out = analyze_signal("conducted", x, fs=FS, leads=["MLII"], beats=peaks, explain=False,
                         registry=reg, device="cpu")  # fmt: skip
    assert [i for i, b in enumerate(out.beats) if b.label == "V"] == premature
    assert all(out.beats[i].label == "N" and out.beats[i].probabilities["V"] == 0
               for i in pre_excited)  # fmt: skip
    notes = [n for n in out.extra["notes"] if "lost that label" in n]
    assert len(notes) == 1
    assert notes[0].startswith(f"5 of {len(peaks)} beats that the network called V")
    assert "on time after this patient's usual P wave" in notes[0]

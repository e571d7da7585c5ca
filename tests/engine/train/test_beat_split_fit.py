"""The pipeline's N/S split: its threshold and its fibrillation gate come from the training records."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.train.beat_fit import SPLIT_GATE_FEATURE, SPLIT_GATES, fit_split
from engine.train.beat_records import RecordBeats

N, S = 0, 1


def _record(name: str, rr: np.ndarray, labels: np.ndarray) -> RecordBeats:
    n = len(rr)
    return RecordBeats(
        name=name,
        windows=np.zeros((n, 8), np.float32),
        rr_raw=np.zeros((n, 2), np.float32),
        labels=labels.astype(np.int64),
        n_reference=np.bincount(labels, minlength=5).astype(np.int64),
        missed=np.zeros(5, np.int64),
        samples=np.rint(np.cumsum(rr) * 360.0).astype(np.int64),
        fs=360.0,
    )


def sinus_with_premature_beats(name: str, rr: float, every: int, seed: int) -> RecordBeats:
    rng = np.random.default_rng(seed)
    intervals = rr * (1 + 0.01 * rng.standard_normal(600))
    labels = np.zeros(600, np.int64)
    for i in range(every, 599, every):
        intervals[i] *= 0.7  # 30 % early, then a compensatory pause
        intervals[i + 1] *= 1.3
        labels[i] = S
    return _record(name, intervals, labels)


def fibrillation(name: str, seed: int) -> RecordBeats:
    rng = np.random.default_rng(seed)
    return _record(name, rng.uniform(0.3, 1.5, 600), np.zeros(600, np.int64))


def _s_labels(split, r: RecordBeats) -> np.ndarray:
    probs = np.tile([0.5, 0.5, 0.0, 0.0, 0.0], (len(r.labels), 1)).astype(np.float32)
    out = split.apply(probs, r.samples, r.fs, ["N", "S", "V", "F", "Q"])
    return out[:, 1] > out[:, 0]


def test_records_with_fibrillation_give_the_split_a_gate_that_keeps_premature_beats() -> None:
    sinus = [sinus_with_premature_beats(f"s{i}", rr, every, i)
             for i, (rr, every) in enumerate([(0.8, 10), (0.7, 7), (0.95, 13)])]  # fmt: skip
    records = [*sinus, fibrillation("af1", 10), fibrillation("af2", 11)]
    split = fit_split(records)
    assert split is not None
    assert split.gate_feature == SPLIT_GATE_FEATURE and split.gate_above in SPLIT_GATES
    for r in sinus:
        called = _s_labels(split, r)
        assert called[r.labels == S].mean() > 0.95 and called[r.labels == N].mean() < 0.02
    # Early beats in fibrillation are N: none is labelled S once the gate is set.
    af = fibrillation("af3", 12)
    assert not _s_labels(split, af)[110:-110].any()
    ungated = dataclasses.replace(split, gate_feature=None)
    assert _s_labels(ungated, af).sum() >= 10  # the timing model alone calls some S


def test_without_fibrillation_in_the_training_records_there_is_no_gate() -> None:
    sinus = [sinus_with_premature_beats(f"s{i}", rr, every, i)
             for i, (rr, every) in enumerate([(0.8, 10), (0.7, 7), (0.95, 13)])]  # fmt: skip
    split = fit_split(sinus)
    assert split is not None and split.gate_feature is None
    assert "gate" not in split.to_manifest()

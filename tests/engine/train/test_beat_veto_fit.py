"""The V vetoes' bounds, fitted on training records' reference V beats, and the QRS veto's gate."""

from __future__ import annotations

import dataclasses

import numpy as np

from engine.models.beat_split import RRLogisticSplit
from engine.models.beat_veto import Compensated
from engine.train.beat_fit import (
    CONDUCTED_FLOOR,
    CONDUCTED_V_SHARE,
    VETO_FLOOR,
    VETO_SPARE_PAUSE,
    VETO_SPARE_PRE,
    _conducted_correlations,
    fit_conducted,
    fit_veto,
)
from engine.train.beat_records import CLASSES, FS, R_INDEX, RecordBeats

N, V = CLASSES.index("N"), CLASSES.index("V")
WINDOW = 117  # 250 ms before the R peak and 400 ms after, at 180 Hz


def _record(name: str, seed: int, on_time_v: int) -> RecordBeats:
    """400 sinus beats a second apart with P waves; 60 V beats 40 % early with no P wave,
    and ``on_time_v`` late-coupled V beats (on time, after a sinus P wave of varying size)."""
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW) - R_INDEX
    p_wave = np.exp(-0.5 * ((t + 0.16 * FS) / 4.0) ** 2)
    labels = np.full(400, N)
    early = rng.choice(np.arange(10, 390, 6), 60, replace=False)
    late = rng.choice(np.setdiff1d(np.arange(12, 390, 6), early), on_time_v, replace=False)
    labels[early] = labels[late] = V
    times = np.arange(400, dtype=np.float64)
    times[early] -= 0.4
    windows = 0.02 * rng.standard_normal((400, WINDOW))
    windows += np.where(labels[:, None] == V, -np.exp(-0.5 * (t / 8.0) ** 2),
                        np.exp(-0.5 * (t / 2.0) ** 2))  # fmt: skip
    sinus = labels == N
    windows[sinus] += 0.2 * p_wave
    windows[late] += rng.uniform(0.0, 0.2, (on_time_v, 1)) * p_wave
    return RecordBeats(
        name=name,
        windows=windows.astype(np.float32),
        rr_raw=np.zeros((400, 2), np.float32),
        labels=labels,
        n_reference=np.bincount(labels, minlength=5),
        missed=np.zeros(5, np.int64),
        samples=np.rint(times * 360.0).astype(np.int64),
        fs=360.0,
    )


def test_the_bound_lets_at_most_the_declared_share_of_v_beats_lose_the_label() -> None:
    records = [_record(name, seed, 5) for seed, name in enumerate("abcd")]
    veto = fit_conducted(records)
    assert veto is not None
    n_v = sum(int((r.labels == V).sum()) for r in records)
    c = np.sort(np.concatenate([_conducted_correlations(r, veto) for r in records]))
    # Only the late-coupled V beats are on time (not the early ones, nor the beats just
    # before them, whose next interval is short).
    assert len(c) == 20 and n_v == 260
    allowed = int(CONDUCTED_V_SHARE * n_v)
    assert allowed == 1
    assert c[-1] >= veto.min_p_correlation > c[-2] > CONDUCTED_FLOOR
    assert veto.min_p_correlation < 1
    # Two records: one V beat in 200 may not lose the label.
    small = fit_conducted(records[:2])
    assert small is not None
    top = max(float(_conducted_correlations(r, small).max()) for r in records[:2])
    assert small.min_p_correlation > top


def test_early_v_beats_alone_leave_the_bound_at_its_floor() -> None:
    records = [_record("a", 0, 0)]
    veto = fit_conducted(records)
    assert veto is not None and veto.min_p_correlation == CONDUCTED_FLOOR
    assert len(_conducted_correlations(records[0], veto)) == 0


def test_records_without_v_beats_give_no_veto() -> None:
    r = _record("a", 0, 0)
    r.labels[r.labels == V] = N
    assert fit_conducted([r]) is None


def test_the_qrs_veto_spares_compensated_beats_up_to_the_split_gate() -> None:
    records = [_record(name, seed, 5) for seed, name in enumerate("ab")]
    split = RRLogisticSplit.from_manifest(
        {"method": "rr-logistic-split", "split": ["N", "S"], "features": ["pre_rr_cmed_ratio"],
         "mean": [0.0], "scale": [1.0], "coef": [-1.0], "intercept": 0.0, "threshold": 0.5,
         "gate": {"feature": "rr_pattern_irregularity", "above": 0.07}},
        CLASSES,
    )  # fmt: skip
    veto = fit_veto(records, split)
    assert veto is not None
    # The synthetic V beats look nothing like the sinus beats: the bound stays at its floor.
    assert veto.min_correlation == VETO_FLOOR
    assert veto.spare == Compensated(VETO_SPARE_PRE, VETO_SPARE_PAUSE, 0.07)
    assert veto.to_manifest()["spare_compensated"] == {
        "pre_below": VETO_SPARE_PRE, "pause_within": VETO_SPARE_PAUSE, "max_irregularity": 0.07
    }  # fmt: skip
    # Without a gate (or a split) the rule holds in any rhythm.
    for ungated in (dataclasses.replace(split, gate_feature=None), None):
        other = fit_veto(records, ungated)
        assert other == dataclasses.replace(veto, spare=Compensated(0.9, 0.1))
        assert (
            other is not None and "max_irregularity" not in other.to_manifest()["spare_compensated"]
        )
    for r in records:
        r.labels[r.labels == V] = N
    assert fit_veto(records, split) is None

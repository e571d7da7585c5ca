"""The rhythm model's training helpers: thresholds, decisions, episodes, scores."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ecg.holter import window_starts
from engine.ecg.signal import Annotations
from engine.train.rhythm import (
    AF,
    af_episodes,
    af_threshold,
    class_f1,
    confusion,
    decide,
    overlap,
    reference_af,
)


def test_af_threshold_maximises_af_f1() -> None:
    p = np.array([0.9, 0.8, 0.35, 0.3, 0.2, 0.1])
    is_af = np.array([True, True, True, False, False, False])
    assert af_threshold(p, is_af) == pytest.approx(0.35)  # all three AF, no false one (the highest)


def test_decide_calls_af_at_the_threshold_and_argmax_otherwise() -> None:
    p = np.array([[0.6, 0.3, 0.1, 0.0], [0.2, 0.1, 0.7, 0.0], [0.5, 0.05, 0.0, 0.45]])
    assert decide(p, 0.25).tolist() == [AF, 2, 0]


def test_scores_follow_the_challenge_definition() -> None:
    y = np.array([0, 0, 1, 1, 2, 3])
    d = np.array([0, 1, 1, 1, 2, 0])
    s = class_f1(y, d)
    assert s["AF"]["f1"] == pytest.approx(2 * 2 / (3 + 2))
    assert s["normal"]["f1"] == pytest.approx(2 * 1 / (2 + 2))
    assert s["challenge_f1"] == pytest.approx(np.mean([0.5, 0.8, 1.0]), abs=1e-4)
    assert s["af_vs_rest"]["sensitivity"] == 1.0
    assert s["af_vs_rest"]["positive_predictivity"] == pytest.approx(2 / 3, abs=1e-4)
    assert confusion(y, d)[0] == [1, 1, 0, 0]


def test_window_starts_cover_the_record() -> None:
    starts = window_starts(95 * 300, 300.0)
    assert starts[0] == 0 and starts[-1] == (65 * 300)
    assert window_starts(100, 300.0).tolist() == [0]


def test_af_episodes_join_short_gaps_and_drop_short_runs() -> None:
    fs, n = 100.0, (300 * 100)
    starts = window_starts(n, fs)
    is_af = np.zeros(len(starts), dtype=bool)
    is_af[3:10] = True  # windows 30–120 s: middles 45–105 s -> marks 40–110 s
    is_af[12:13] = True  # a lone window: 10 s, joined across a 10-s gap
    is_af[20:21] = True  # a lone window far away: dropped (< 30 s)
    eps = af_episodes(starts, is_af, fs, n)
    assert eps == [(40.0, 140.0)]


def test_reference_af_from_rhythm_annotations() -> None:
    ann = Annotations(
        samples=np.array([0, 1000, 2000, 3000, 4000]),
        symbols=("+", "+", "N", "+", "+"),
        aux=("(N", "(AFIB", "", "(AFL", "(N"),
    )
    assert reference_af(ann, 100.0, 6000) == [(10.0, 40.0)]
    assert overlap([(10.0, 40.0)], [(30.0, 50.0), (0.0, 12.0)]) == pytest.approx(12.0)


def test_read_cinc_reads_through_the_engine_and_caches(shared_data, tmp_path) -> None:
    from engine.ecg.rhythm_features import FEATURES
    from engine.train.rhythm import CLASSES, read_cinc

    root = shared_data / "ecg" / "cinc2017-train"
    cache = tmp_path / "features.npz"
    table = read_cinc(root, cache=cache, limit=3)
    assert table.X.shape == (3, len(FEATURES)) and cache.is_file()
    assert np.isfinite(table.X[:, FEATURES.index("heart_rate_bpm")]).all()
    assert set(table.y.tolist()) <= set(range(len(CLASSES)))
    again = read_cinc(root, cache=cache, limit=3)
    assert (again.names == table.names).all() and np.array_equal(again.X, table.X, equal_nan=True)

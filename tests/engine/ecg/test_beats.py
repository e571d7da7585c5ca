"""Beat tools shared with beat classifiers: AAMI classes, matching, RR, windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ecg import (
    Annotations,
    aami_class,
    beat_rr,
    beat_windows,
    match_beats,
    read_signal,
    rr_intervals,
    score_qrs,
)
from engine.ecg.beats import excluded_intervals


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        ("NLRej", "N"),
        ("AaJS", "S"),
        ("VE", "V"),
        ("F", "F"),
        ("/fQ", "Q"),
    ],
)
def test_aami_ec57_classes(symbols: str, expected: str) -> None:
    assert {aami_class(s) for s in symbols} == {expected}


@pytest.mark.parametrize("symbol", ["+", "~", "|", "x", "[", "]", "!", '"', "t", "p"])
def test_non_beats_have_no_class(symbol: str) -> None:
    assert aami_class(symbol) is None


def test_mitbih_beats_all_have_a_class(record_101) -> None:
    assert all(aami_class(s) for s in record_101.annotations.beats().symbols)


def test_match_beats_counts() -> None:
    fs = 100.0
    reference = np.array([100, 200, 300, 400])
    # 105 and 199 match; 300 is missed; 460 and 600 are extra; 110 competes for 100.
    detected = np.array([105, 110, 199, 460, 600])
    match = match_beats(reference, detected, fs)
    assert (match.tp, match.fn, match.fp) == (2, 2, 3)
    np.testing.assert_array_equal(match.pairs, [[0, 0], [1, 2]])
    np.testing.assert_array_equal(match.missed, [2, 3])
    np.testing.assert_array_equal(match.extra, [1, 3, 4])
    assert match.sensitivity == pytest.approx(0.5)
    assert match.positive_predictivity == pytest.approx(0.4)


def test_match_window_is_inclusive_at_150_ms() -> None:
    fs = 1000.0
    assert match_beats([1000], [1150], fs).tp == 1
    assert match_beats([1000], [1151], fs).tp == 0
    assert match_beats([1000], [1050], fs, window_s=0.04).tp == 0


def test_match_prefers_the_closest_pairs() -> None:
    # A left-to-right match would pair 100↔125 and miss 130; the closest pair wins.
    match = match_beats([100, 130], [125], 1000.0, window_s=0.05)
    np.testing.assert_array_equal(match.pairs, [[1, 0]])
    np.testing.assert_array_equal(match.missed, [0])


def test_match_on_empty_inputs() -> None:
    assert match_beats([], [], 360.0).tp == 0
    assert match_beats([10, 20], [], 360.0).fn == 2
    assert match_beats([], [10], 360.0).fp == 1


def test_rr_intervals_and_per_beat_features() -> None:
    beats = np.array([0, 100, 250, 350])
    np.testing.assert_allclose(rr_intervals(beats, 100.0), [1.0, 1.5, 1.0])
    rr = beat_rr(beats, 100.0, local_beats=2)
    np.testing.assert_allclose(rr.pre, [np.nan, 1.0, 1.5, 1.0])
    np.testing.assert_allclose(rr.post, [1.0, 1.5, 1.0, np.nan])
    np.testing.assert_allclose(rr.local, [np.nan, 1.0, 1.25, 1.25])
    assert rr.average == pytest.approx(3.5 / 3)


def test_beat_windows_are_centred_on_beats() -> None:
    x = np.arange(1000, dtype=np.float32)
    beats = np.array([5, 100, 500, 995])
    out = beat_windows(x, beats, fs=100.0, before_s=0.1, after_s=0.2)
    assert out.windows.shape == (2, 30)
    np.testing.assert_array_equal(out.kept, [1, 2])
    np.testing.assert_array_equal(out.windows[:, 10], [100, 500])  # the beat's sample
    np.testing.assert_array_equal(out.windows[0], np.arange(90, 120))
    padded = beat_windows(x, beats, fs=100.0, before_s=0.1, after_s=0.2, edge="pad")
    assert padded.windows.shape == (4, 30)
    assert padded.windows[0, 0] == 0.0  # repeated first sample
    assert padded.windows[3, -1] == 999.0  # repeated last sample


def test_beat_windows_from_a_record(record_101) -> None:
    beats = record_101.annotations.beats().samples
    out = beat_windows(record_101.data[0], beats, record_101.fs, 0.25, 0.45)
    assert out.windows.shape[1] == 90 + 162
    assert len(out.kept) >= len(beats) - 2
    assert out.windows.dtype == np.float32


def test_ventricular_flutter_is_left_out(mitdb: Path) -> None:
    signal = read_signal(mitdb / "207")
    spans = excluded_intervals(signal.annotations, signal.n_samples)
    assert len(spans) == 6  # the record's six [ … ] episodes
    assert np.all(spans[:, 1] > spans[:, 0])
    # A "detector" firing every 300 ms inside the episodes is not penalised.
    inside = np.concatenate([np.arange(a + 100, b - 100, 108) for a, b in spans])
    reference = signal.annotations.beats().samples
    base = score_qrs(signal.annotations, reference, signal.fs, signal.n_samples)
    noisy = score_qrs(
        signal.annotations, np.sort(np.r_[reference, inside]), signal.fs, signal.n_samples
    )
    assert (base.fp, noisy.fp) == (0, 0)
    assert noisy.tp == base.tp


def test_annotations_require_one_symbol_per_sample() -> None:
    with pytest.raises(ValueError):
        Annotations(samples=np.array([1, 2]), symbols=("N",))

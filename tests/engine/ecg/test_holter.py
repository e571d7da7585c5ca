"""The Holter-style rhythm summary on beat sequences whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ecg.holter import Episode, summarise

FS = 250.0


def _beats(rr_s: list[float], start: float = 0.5) -> np.ndarray:
    return np.rint((start + np.concatenate([[0.0], np.cumsum(rr_s)])) * FS).astype(int)


def test_steady_rhythm_has_its_rate_and_nothing_else() -> None:
    samples = _beats([0.75] * 399)  # 80 bpm for five minutes
    s = summarise(samples, ["N"] * 400, FS, int(301 * FS))
    hr = s.heart_rate
    assert hr["mean_bpm"] == pytest.approx(80.0, abs=0.1)
    assert hr["min_bpm"] == pytest.approx(80.0, abs=0.5) and hr["max_bpm"] == pytest.approx(
        80.0, abs=0.5
    )
    assert len(hr["trend"]) == 6 and hr["bin_s"] == 60.0
    assert not s.pauses and not s.bradycardia and not s.tachycardia
    assert s.ectopy["V"].count == 0 and s.ectopy["S"].burden == 0.0


def test_pause_and_rate_episodes_with_their_times() -> None:
    rr = [1.0] * 30 + [2.6] + [0.5] * 60 + [1.5] * 20
    samples = _beats(rr)
    s = summarise(samples, ["N"] * len(samples), FS, int(sum(rr) * FS + FS))
    assert [round(p.duration, 2) for p in s.pauses] == [2.6]
    assert s.pauses[0].start == pytest.approx(30.5, abs=0.01)
    # 0.5 s intervals are 120 bpm for 30 s: one tachycardia episode of about that length.
    (tachy,) = s.tachycardia
    assert 25.0 <= tachy.duration <= 35.0 and tachy.start == pytest.approx(33.1, abs=1.0)
    # 1.5 s intervals are 40 bpm for 30 s: bradycardia.
    (brady,) = s.bradycardia
    assert 20.0 <= brady.duration <= 31.0
    hr = s.heart_rate  # per-minute means: the fast and slow stretches share minutes
    assert hr["max_bpm"] > hr["mean_bpm"] > hr["min_bpm"]


def test_an_interval_across_missing_signal_is_no_pause_and_no_rate() -> None:
    """A file gap (no valid samples) is not asystole: the interval that spans it makes no pause,
    no bradycardia and no minimum rate; the gap is listed as missing signal."""
    rr = [0.75] * 40 + [6.0] + [0.75] * 40  # a 6-s hole in the middle
    samples = _beats(rr)
    n = int(sum(rr) * FS + FS)
    hole = (samples[40] / FS + 0.3, samples[41] / FS - 0.3)
    plain = summarise(samples, ["N"] * len(samples), FS, n)
    assert [round(p.duration, 1) for p in plain.pauses] == [6.0]  # as a pause without the gap
    s = summarise(samples, ["N"] * len(samples), FS, n, gaps=[hole])
    assert s.pauses == () and s.bradycardia == ()
    assert s.heart_rate["min_bpm"] == pytest.approx(80.0, abs=0.5)
    (gap,) = s.gaps
    assert gap.label == "signal missing" and gap.duration == pytest.approx(5.4, abs=0.01)
    assert s.to_json()["signal_gaps"][0]["start"] == pytest.approx(hole[0], abs=1e-3)


def test_couplets_runs_bigeminy_and_trigeminy() -> None:
    labels = (
        ["N"] * 10
        + ["V", "V"]
        + ["N"] * 5  # a couplet
        + ["V", "V", "V", "V"]
        + ["N"] * 5  # a run of four
        + ["N", "V"] * 6
        + ["N"] * 5  # bigeminy, six cycles
        + ["N", "N", "S"] * 4
        + ["N"] * 5  # S trigeminy, four cycles
        + ["S", "S", "S"]
        + ["N"] * 3
    )
    rr = [0.8] * (len(labels) - 1)
    samples = _beats(rr)
    s = summarise(samples, labels, FS, int((sum(rr) + 1) * FS))
    v = s.ectopy["V"]
    assert v.count == 12 and v.couplets == 1 and v.runs == 1 and v.longest_run == 4
    assert v.burden == pytest.approx(12 / len(labels))
    assert v.fastest_run_bpm == pytest.approx(75.0, abs=0.5)
    assert len(v.bigeminy) == 1 and not v.trigeminy
    assert v.bigeminy[0].duration == pytest.approx(0.8 * 11, abs=0.01)
    sv = s.ectopy["S"]
    assert sv.count == 7 and sv.runs == 1 and sv.couplets == 0
    assert len(sv.trigeminy) == 1 and not sv.bigeminy
    assert s.to_json()["ectopy"]["S"]["trigeminy"][0]["label"] == "S trigeminy"


def test_af_burden_from_episodes() -> None:
    samples = _beats([0.8] * 99)
    episodes = [Episode("AF", 10.0, 25.0), Episode("AF", 40.0, 45.0)]
    s = summarise(samples, ["N"] * 100, FS, int(100 * FS), episodes)
    assert s.burdens == {"AF": pytest.approx(0.2)}
    assert [e["start"] for e in s.to_json()["episodes"]] == [10.0, 40.0]


def test_too_few_beats_give_an_empty_but_valid_summary() -> None:
    s = summarise(np.array([100]), ["N"], FS, 1000)
    assert s.heart_rate["mean_bpm"] is None and s.to_json()["beats"] == 1
    with pytest.raises(ValueError):
        summarise(np.array([1, 2]), ["N"], FS, 1000)

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


def _two_leads(peaks_s: np.ndarray, seconds: float, quiet: tuple[float, float] | None = None):
    """Two leads of Gaussian QRS spikes at ``peaks_s``; the first lead's amplitude drops to 2 %
    during ``quiet`` (an electrode losing contact), the second keeps every beat."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FS)) / FS
    leads = 0.01 * rng.standard_normal((2, t.size))
    for p in peaks_s:
        spike = np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        leads[0] += (0.02 if quiet and quiet[0] < p < quiet[1] else 1.0) * spike
        leads[1] += 0.8 * spike
    return leads


def test_a_pause_the_other_lead_fills_with_beats_is_listed_apart() -> None:
    """The rhythm lead goes quiet for 6 s while the second lead keeps its beats (MIT-BIH 116
    at 1354 s, svdb 853 at 1250 s): a possible pause, not a pause."""
    from engine.ecg.holter import PAUSE_WARNING, confirm_pauses, pause_warning

    peaks = np.arange(0.5, 60.0, 0.8)
    leads = _two_leads(peaks, 60.5, quiet=(20.0, 26.0))
    rhythm_lead = np.rint(peaks[(peaks < 20.0) | (peaks > 26.0)] * FS).astype(int)
    s = summarise(rhythm_lead, ["N"] * len(rhythm_lead), FS, leads.shape[1])
    assert len(s.pauses) == 1  # what the rhythm lead alone says
    read = []

    def other(lo: int, hi: int) -> np.ndarray:
        read.append((lo, hi))
        return leads[1:, lo:hi]

    found = confirm_pauses(s, rhythm_lead, other, ["V1"], FS)
    (possible,) = found
    assert possible.seen_on == "V1" and possible.pause == s.pauses[0]
    # Only the seconds around the pause were read back.
    ((lo, hi),) = read
    assert (hi - lo) / FS == pytest.approx(s.pauses[0].duration + 10.0, abs=0.01)
    # Summarised with it, the interval is no pause, and leaves the heart rate and
    # brady/tachycardia too.
    assert s.bradycardia  # what the missed beats made of the rate
    checked = summarise(
        rhythm_lead, ["N"] * len(rhythm_lead), FS, leads.shape[1], possible_pauses=found
    )
    assert checked.pauses == ()
    out = checked.to_json()
    assert out["pauses"] == [] and out["unconfirmed_pauses"][0]["beats_on"] == "V1"
    assert out["unconfirmed_pauses"][0]["label"] == "possible pause"
    assert checked.bradycardia == ()
    assert checked.possible_pauses == found
    assert checked.heart_rate["min_bpm"] == pytest.approx(75.0, abs=0.5)
    text = pause_warning(found, "MLII", "116")
    assert text == PAUSE_WARNING.format(n=1, lead="MLII", name="116", other="V1")
    assert pause_warning((), "MLII", "116") is None


def test_a_pause_quiet_on_every_lead_stays_a_pause() -> None:
    """Sinus arrest: both leads quiet for 3 s. One lead alone, or a second lead too poor to see
    the beats around the pause, cannot make it doubtful either."""
    from engine.ecg.holter import confirm_pauses

    peaks = np.concatenate([np.arange(0.5, 20.0, 0.8), np.arange(22.9, 40.0, 0.8)])
    leads = _two_leads(peaks, 40.5)
    samples = np.rint(peaks * FS).astype(int)
    s = summarise(samples, ["N"] * len(samples), FS, leads.shape[1])
    assert [round(p.duration, 1) for p in s.pauses] == [3.2]
    assert confirm_pauses(s, samples, lambda lo, hi: leads[1:, lo:hi], ["V1"], FS) == ()
    assert confirm_pauses(s, samples, lambda lo, hi: leads[1:0, lo:hi], [], FS) == ()
    # A second lead of noise: the detector finds "beats" everywhere, near the pause's two
    # beats too, but they do not agree with the rhythm lead's: it does not see them.
    noise = np.random.default_rng(1).standard_normal((1, leads.shape[1]))
    assert confirm_pauses(s, samples, lambda lo, hi: noise[:, lo:hi], ["V1"], FS) == ()

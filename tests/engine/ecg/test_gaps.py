"""Stretches a WFDB file holds no valid samples for: found by both readers, never a pause."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ecg import read_signal
from engine.ecg.stream import open_stream
from engine.workflow import analyze


def _with_gap(tmp_path: Path, mitdb: Path, minutes: int) -> Path:
    import wfdb

    rec = wfdb.rdrecord(str(mitdb / "119"), sampto=360 * 60 * minutes)
    x = rec.p_signal.copy()
    x[360 * 20 : 360 * 25, 0] = np.nan
    wfdb.wrsamp("gap", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    return tmp_path / "gap.hea"


@pytest.fixture
def gap_record(tmp_path: Path, mitdb: Path) -> Path:
    """The first minute of MIT-BIH 119 with 5 s of MLII invalid (20–25 s)."""
    return _with_gap(tmp_path, mitdb, 1)


def test_both_readers_find_the_gap_of_the_lead_it_is_in(gap_record: Path) -> None:
    signal = read_signal(gap_record)
    assert signal.lead_gaps(0) == ((20.0, 25.0),) and signal.lead_gaps(1) == ()
    assert np.isfinite(signal.data).all()  # filled in, so that filters run
    stream = open_stream(gap_record)
    for start in range(0, stream.n_samples, 360 * 7):  # stretches that cut the gap
        stream.read(start, start + 360 * 7)
    assert stream.gaps(0) == ((20.0, 25.0),) and stream.gaps(1) == ()


def test_the_gap_is_no_pause_and_both_models_say_it_holds_no_signal(gap_record: Path) -> None:
    rhythm = analyze(gap_record, kind="signal", model_id="ecg-rhythm-features-300", device="cpu")
    r = rhythm.prediction.extra["rhythm"]
    assert r["pauses"] == []  # it was a 5.2-s "pause"
    assert r["signal_gaps"] == [
        {"label": "signal missing", "start": 20.0, "end": 25.0, "duration": 5.0}
    ]
    beats = analyze(gap_record, kind="signal", model_id="ecg-beats-bilstm-360", device="cpu")
    for p in (rhythm.prediction, beats.prediction):
        assert any("5.0 s of lead MLII of “gap” hold no signal" in w for w in p.warnings)


def test_seconds_with_no_signal_are_not_called_noise(tmp_path: Path, mitdb: Path) -> None:
    import wfdb

    rec = wfdb.rdrecord(str(mitdb / "119"), sampto=360 * 60)
    x = rec.p_signal.copy()
    x[: 360 * 50, 0] = np.nan  # MLII holds no valid sample for its first 50 s
    wfdb.wrsamp("late", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    p = analyze(tmp_path / "late.hea", kind="signal", model_id="ecg-beats-bilstm-360",
                device="cpu").prediction  # fmt: skip
    assert any("50.0 s of lead MLII of “late” hold no signal" in w for w in p.warnings)
    assert not any("looks like noise" in w for w in p.warnings)  # it was "50 %" of 6 stretches
    quality = p.extra["signal_quality"]
    assert quality["stretches"] == 1 and quality["noise_like"] == 0  # only 50–60 s is judged


def _minute_with_gap(tmp_path: Path, mitdb: Path, record: str, gap: tuple[int, int]) -> Path:
    import wfdb

    rec = wfdb.rdrecord(str(mitdb / record), sampfrom=360 * 300, sampto=360 * 360)
    x = rec.p_signal.copy()
    x[360 * gap[0] : 360 * gap[1], :] = np.nan
    wfdb.wrsamp(f"{record}gap", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    return tmp_path / f"{record}gap.hea"


def test_a_short_recording_is_read_on_its_longest_stretch_with_signal(
    tmp_path: Path, mitdb: Path
) -> None:
    """5 s missing from a minute of sinus rhythm (MIT-BIH 101) made it "other" (P 0.63): the
    filled-in gap was read as a 5-s pause and a flat line."""
    record = _minute_with_gap(tmp_path, mitdb, "101", (20, 25))
    p = analyze(record, kind="signal", model_id="ecg-rhythm-features-300", device="cpu").prediction
    assert p.extra["rhythm_label"] == "normal"
    r = p.extra["rhythm"]
    assert r["windows"]["window_s"] == 35.0  # 25–60 s
    assert r["explanation"]["start"] == 25.0 and r["explanation"]["end"] == 60.0
    assert any("longest stretch with signal, 25.0–60.0 s" in n for n in p.extra["notes"])


def test_a_short_recording_whose_stretches_are_all_too_short_is_refused(
    tmp_path: Path, mitdb: Path
) -> None:
    import wfdb

    from engine.errors import InputRejectedError

    rec = wfdb.rdrecord(str(mitdb / "101"), sampto=360 * 16)
    x = rec.p_signal.copy()
    x[360 * 7 : 360 * 9, :] = np.nan  # 7 s, a gap, 7 s: the model needs 9 s in one piece
    wfdb.wrsamp("split", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    with pytest.raises(InputRejectedError, match=r"at most 7\.0 s between its gaps.*9 s"):
        analyze(tmp_path / "split.hea", kind="signal", model_id="ecg-rhythm-features-300",
                device="cpu")  # fmt: skip


def test_in_a_long_recording_the_windows_with_the_gap_are_left_out(tmp_path, mitdb) -> None:
    record = _with_gap(tmp_path, mitdb, 4)
    p = analyze(record, kind="signal", model_id="ecg-rhythm-features-300", device="cpu").prediction
    w = p.extra["rhythm"]["windows"]
    starts, excluded = w["starts_s"], w["excluded"]
    assert any(excluded) and not all(excluded)
    for t, out in zip(starts, excluded, strict=True):  # exactly those that overlap 20–25 s
        assert out == (t < 25.0 and t + w["window_s"] > 20.0)
    assert any("left out of the rhythm decision" in n for n in p.extra["notes"])


def test_a_flat_line_holds_no_signal_and_is_no_pause(tmp_path: Path, mitdb: Path) -> None:
    """10 s of a lead off (both leads at exactly 0 mV) in five minutes of sinus rhythm were
    reported as a 10.5-s pause and 22 s of bradycardia, with no warning."""
    import wfdb

    rec = wfdb.rdrecord(str(mitdb / "101"), sampto=360 * 300)
    x = rec.p_signal.copy()
    x[360 * 100 : 360 * 110, :] = 0.0
    wfdb.wrsamp("off", fs=360, units=rec.units, sig_name=rec.sig_name, p_signal=x,
                fmt=["212", "212"], write_dir=str(tmp_path))  # fmt: skip
    p = analyze(tmp_path / "off.hea", kind="signal", model_id="ecg-rhythm-features-300",
                device="cpu").prediction  # fmt: skip
    r = p.extra["rhythm"]
    assert r["pauses"] == [] and r["bradycardia"] == []
    assert r["signal_gaps"] == [
        {"label": "signal missing", "start": 100.0, "end": 110.0, "duration": 10.0}
    ]
    assert any("10.0 s of lead MLII of “off” hold no signal" in w for w in p.warnings)
    assert read_signal(tmp_path / "off").lead_gaps(0) == ((100.0, 110.0),)


def test_both_readers_find_a_flat_run_that_crosses_their_reads(tmp_path: Path) -> None:
    import wfdb

    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, (360 * 30, 1))
    x[360 * 6 + 100 : 360 * 8, 0] = 0.25  # 1.72 s, across the 7-s boundary below
    x[360 * 20 : 360 * 20 + 300, 0] = 0.25  # 0.83 s: shorter than FLAT_MIN_S
    wfdb.wrsamp("runs", fs=360, units=["mV"], sig_name=["II"], p_signal=x, fmt=["16"],
                write_dir=str(tmp_path))  # fmt: skip
    whole = read_signal(tmp_path / "runs").lead_gaps(0)
    assert len(whole) == 1 and whole[0] == pytest.approx((6 + 100 / 360, 8.0), abs=1e-6)
    stream = open_stream(tmp_path / "runs.hea")
    for start in range(0, stream.n_samples, 360 * 7):
        stream.read(start, start + 360 * 7)
    assert len(stream.gaps(0)) == 1 and stream.gaps(0)[0] == pytest.approx(whole[0])


def test_no_clinical_lead_in_the_shared_data_is_flat_for_a_second(mitdb: Path) -> None:
    """MIT-BIH 116 clips at its converter's limit for 0.74 s, the longest such run in DS1."""
    from engine.ecg.signal import FLAT_MIN_S, flat_runs

    signal = read_signal(mitdb / "116")
    assert signal.lead_gaps(0) == () and signal.lead_gaps(1) == ()
    runs = flat_runs(signal.data[0], signal.fs, min_s=0.5)
    assert runs and max(b - a for a, b in runs) < FLAT_MIN_S


def test_flat_runs_read_in_blocks_as_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.ecg.signal as sig

    rng = np.random.default_rng(1)
    x = np.round(rng.normal(0, 1, 5000), 1)
    x[990:1300] = 7.0  # across the 1,000-sample block boundary
    x[4000:4150] = np.nan
    x[4200:4700] = -3.0
    at_once = sig.flat_runs(x, 100.0)
    monkeypatch.setattr(sig, "_FLAT_BLOCK", 1000)
    assert sig.flat_runs(x, 100.0) == at_once == ((9.9, 13.0), (42.0, 47.0))

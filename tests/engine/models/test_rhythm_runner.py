"""The rhythm model (``ecg-rhythm-features-300``): gates, JSON contract, Holter report, streaming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.api import clear_model_cache
from engine.cli import EXIT_ERROR, EXIT_OK, main
from engine.ecg import detect_qrs, read_signal
from engine.ecg.rhythm_features import FEATURES, rhythm_features
from engine.ecg.stream import open_stream, stream_signal
from engine.errors import InputRejectedError
from engine.models import ModelRegistry
from engine.resources import resource_path
from engine.workflow import load_model

RHYTHM = "ecg-rhythm-features-300"
BEATS = "ecg-beats-bilstm-360"
SAMPLES = resource_path("samples")
AF_SAMPLE = SAMPLES / "cinc2017" / "A00264.hea"
NORMAL_SAMPLE = SAMPLES / "cinc2017" / "A00250.hea"
CLASSES = {"normal", "AF", "other", "noisy"}


@pytest.fixture(autouse=True)
def _fresh_models() -> None:
    clear_model_cache()


def _json_rows(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_single_lead_ecg_at_300_hz_is_accepted_and_json_follows_the_contract(capsys) -> None:
    assert main(["predict", "--model", RHYTHM, str(AF_SAMPLE), str(NORMAL_SAMPLE), "--json"]) == 0
    af, normal = _json_rows(capsys.readouterr().out)
    for row in (af, normal):
        assert row["model"] == RHYTHM and row["version"]
        assert row["rhythm_label"] in CLASSES
        assert set(row["probabilities"]) == CLASSES
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        rhythm = row["rhythm"]
        assert rhythm["lead"] == "ECG"
        assert 0.0 <= rhythm["af_burden"] <= 1.0
        assert {"mean_bpm", "min_bpm", "max_bpm", "trend"} <= set(rhythm["heart_rate"])
        assert 40 < rhythm["heart_rate"]["mean_bpm"] < 200
        # The beat model takes MLII/II only: the report says ectopy was not counted, and why.
        assert rhythm["ectopy"] is None
        assert BEATS in rhythm["ectopy_note"] and "ECG" in rhythm["ectopy_note"]
        assert row["contributions"] and row["operating_point"]["name"] == "af-f1"
    # A training recording of each class: the contract, and the rhythm it is known to have.
    assert af["rhythm_label"] == "AF" and af["label"] == "AF"
    assert af["rhythm"]["af_burden"] == 1.0
    assert af["rhythm"]["episodes"] == [
        {"label": "AF", "start": 0.0, "end": pytest.approx(42.32), "duration": pytest.approx(42.32)}
    ]
    assert normal["rhythm_label"] == "normal" and normal["rhythm"]["episodes"] == []
    # The explained stretch: the RR intervals the irregularity feature counts, to mark.
    for row, path in ((af, AF_SAMPLE), (normal, NORMAL_SAMPLE)):
        explained = row["rhythm"]["explanation"]
        assert explained["start"] == 0.0 and explained["rr_change_share"] == 0.1
        assert explained["end"] == pytest.approx(row["rhythm"]["analysed_s"])
        marks = explained["irregular_rr"]
        assert all(a < b and abs(c) > 0.1 for a, b, c in marks)
        sig = read_signal(path)
        x = np.asarray(sig.data[0], dtype=np.float64)
        share = rhythm_features(x, sig.fs, detect_qrs(x, sig.fs))[
            FEATURES.index("succ_diff_over_10pct")
        ]
        assert len(marks) / explained["rr_changes"] == pytest.approx(share)
    assert len(af["rhythm"]["explanation"]["irregular_rr"]) > 20
    assert len(normal["rhythm"]["explanation"]["irregular_rr"]) <= 2
    # The beat model still refuses the same file: the rhythm model is what accepts it.
    assert main(["predict", "--model", BEATS, str(AF_SAMPLE), "--json"]) == EXIT_ERROR
    (refused,) = _json_rows(capsys.readouterr().out)
    assert "MLII" in refused["error"]


def test_rhythm_model_is_never_the_default_ecg_model() -> None:
    registry = ModelRegistry()
    assert registry.default_for("signal") == BEATS
    assert registry.default_for("signal", "rhythm-classification") == RHYTHM


@pytest.mark.parametrize(
    ("fs", "leads", "seconds", "expected"),
    [
        (100.0, ("ECG",), 30, "sampling rate is 100 Hz"),
        (300.0, ("V1",), 30, "none of the leads"),
        (300.0, ("ECG",), 5, "duration is 5 s"),
        (360.0, ("ECG",), 1000 / 360, "duration is 2.8 s, below the model's minimum of 9 s"),
    ],
)
def test_gates_refuse_what_the_model_was_not_made_for(fs, leads, seconds, expected) -> None:
    model = load_model(RHYTHM)
    data = np.zeros((1, int(fs * seconds)), dtype=np.float32)
    with pytest.raises(InputRejectedError, match=expected):
        model.prepare(data, fs=fs, leads=leads)


@pytest.mark.parametrize("model_id", [RHYTHM, BEATS])
def test_a_flat_trace_gets_a_message_not_a_label(model_id) -> None:
    """No heartbeat found: no rhythm ("other" before) and no beat label ("N" of no beats, with
    NaN probabilities, before) — a clear refusal instead."""
    fs, lead = (300.0, "ECG") if model_id == RHYTHM else (360.0, "MLII")
    model = load_model(model_id)
    flat = np.zeros((1, int(fs * 30)), dtype=np.float32)
    with pytest.raises(InputRejectedError, match="No heartbeats were found") as err:
        model.predict(flat, fs=fs, leads=[lead])
    assert "30 s" in err.value.user_message and "flat, disconnected or all noise" in str(err.value)


def test_a_report_read_from_noise_says_so() -> None:
    """Pure noise gave a report of V runs and bigeminy with no word of warning."""
    model = load_model(RHYTHM)
    noise = np.random.default_rng(0).normal(0.0, 1.0, (1, 360 * 60)).astype(np.float32)
    pred = model.predict(noise, fs=360.0, leads=["MLII"])
    assert pred.extra["rhythm_label"] == "noisy"
    assert pred.extra["rhythm"]["noise_like"] == [[0.0, 60.0]]
    assert any("reads “the ECG” as too noisy to name its rhythm" in w for w in pred.warnings)
    assert any(w.startswith("60 s (100%) of lead MLII of “the ECG” look like noise")
               for w in pred.warnings)  # fmt: skip
    clean = model.predict(read_signal(SAMPLES / "mitdb" / "119.hea"))  # clean to the check
    assert clean.extra["rhythm"]["noise_like"] == []
    assert not any("noise" in w for w in clean.warnings)


def test_a_handheld_record_that_does_not_name_its_lead_is_scored_with_a_warning(
    tmp_path: Path, capsys
) -> None:
    """A WFDB signal line without a description (as some devices write): wfdb names it
    ``None``. The lead is unnamed, not a wrong lead: the rhythm model scores the one lead and
    warns; the beat model, which needs MLII/II morphology, refuses and says the lead is unnamed.
    """
    header = AF_SAMPLE.read_text().splitlines()
    first = header[1].split()
    assert first[-1] == "ECG"
    unnamed = tmp_path / "unnamed.hea"
    signals = AF_SAMPLE.with_suffix(".dat")
    (tmp_path / signals.name).write_bytes(signals.read_bytes())
    record_line = "unnamed " + header[0].split(maxsplit=1)[1]
    unnamed.write_text(f"{record_line}\n{' '.join(first[:-1])}\n")
    assert read_signal(unnamed).leads == ("",)
    assert open_stream(unnamed).leads == ("",)
    assert main(["predict", "--model", RHYTHM, str(AF_SAMPLE), str(unnamed), "--json"]) == EXIT_OK
    named, row = _json_rows(capsys.readouterr().out)
    assert row["rhythm_label"] == named["rhythm_label"] == "AF"
    assert row["probabilities"] == pytest.approx(named["probabilities"])
    assert any("does not record its leads" in w for w in row["warnings"])
    assert not named.get("warnings")
    assert main(["predict", "--model", BEATS, str(unnamed), "--json"]) == EXIT_ERROR
    (refused,) = _json_rows(capsys.readouterr().out)
    assert "unnamed" in refused["error"]


def test_stream_reads_the_same_samples_as_the_whole_record_reader(shared_data: Path) -> None:
    header = shared_data / "ecg" / "mitdb" / "201.hea"
    whole = read_signal(header)
    stream = open_stream(header)
    assert stream.leads == whole.leads and stream.fs == whole.fs
    assert stream.n_samples == whole.data.shape[1]
    for start, stop in ((0, 1000), (123_456, 130_000), (649_000, 700_000)):
        np.testing.assert_allclose(stream.read(start, stop), whole.data[:, start:stop], atol=1e-6)
    memory = stream_signal(whole)
    np.testing.assert_array_equal(memory.read(10, 20), whole.data[:, 10:20])


def test_the_challenges_own_matlab_files_are_read_and_scored_as_their_flac_copies(
    shared_data: Path,
) -> None:
    """The Challenge 2017 distributed each recording as ``.hea`` + MATLAB ``.mat`` (WFDB format
    16 after a 24-byte MATLAB header); a site's set of short recordings may come that way."""
    root = shared_data / "ecg" / "cinc2017-train"
    headers = sorted((root / "originals").glob("*.hea"))
    assert len(headers) == 12
    model = load_model(RHYTHM, device="cpu")
    labels = set()
    for header in headers:
        (signal_line,) = header.read_text().splitlines()[1:2]
        fields = signal_line.split()
        assert fields[1] == "16+24" and fields[2] == "1000/mV"
        # Decoded here from the format: little-endian int16 after 24 bytes, 1000 adu per mV.
        raw = np.frombuffer(header.with_suffix(".mat").read_bytes()[24:], dtype="<i2")
        whole = read_signal(header)
        assert whole.leads == ("ECG",) and whole.fs == 300.0
        np.testing.assert_allclose(whole.data[0], raw / 1000.0, atol=1e-6)
        original, copy = model.predict(str(header)), model.predict(str(root / header.name))
        assert original.label == copy.label and original.probabilities == copy.probabilities
        assert original.input_hash == copy.input_hash
        labels.add(original.label)
    assert labels == CLASSES  # the sample covers every class the model gives


def _holter(tmp_path: Path, shared_data: Path) -> tuple[Path, float]:
    """Ten minutes of record 101 (sinus rhythm) followed by ten of 201 around its first AF
    episode, written as one two-lead WFDB record; returns it and the AF onset in 201's part."""
    import wfdb

    from engine.train.rhythm import reference_af

    normal = read_signal(shared_data / "ecg" / "mitdb" / "101.hea")
    af = read_signal(shared_data / "ecg" / "mitdb" / "201.hea")
    fs = af.fs
    ref = reference_af(af.annotations, fs, af.data.shape[1])
    onset = ref[0][0]
    start = max(0, int((onset - 300) * fs))
    ten = int(600 * fs)
    data = np.concatenate([normal.data[:, :ten], af.data[:, start : start + ten]], axis=1)
    wfdb.wrsamp("holter", fs=fs, units=["mV", "mV"], sig_name=["MLII", "V1"],
                p_signal=data.T.astype(np.float64), fmt=["16", "16"], adc_gain=[200.0, 200.0],
                baseline=[0, 0], write_dir=str(tmp_path))  # fmt: skip
    return tmp_path / "holter.hea", 600.0 + (onset - start / fs)


def test_holter_report_on_a_concatenated_record(tmp_path: Path, shared_data: Path) -> None:
    header, af_onset = _holter(tmp_path, shared_data)
    model = load_model(RHYTHM)
    pred = model.predict(header)
    rhythm = pred.extra["rhythm"]
    assert rhythm["analysed_s"] == pytest.approx(1200.0)
    assert rhythm["lead"] == "MLII"
    # The AF episode is found in the second half, starting near the reference onset.
    episodes = rhythm["episodes"]
    assert episodes and all(e["label"] == "AF" for e in episodes)
    assert min(e["start"] for e in episodes) > 600.0 - 30.0
    assert abs(episodes[0]["start"] - af_onset) < 60.0
    assert 0.05 < rhythm["af_burden"] < 0.55
    assert pred.extra["rhythm_label"] == "AF"
    # Heart rate, beats and ectopy from the beat model (counted: MLII is its lead).
    hr = rhythm["heart_rate"]
    assert 40 < hr["min_bpm"] <= hr["mean_bpm"] <= hr["max_bpm"] < 200
    assert len(hr["trend"]) == 20
    assert rhythm["ectopy_model"] == {"id": BEATS, "version": load_model(BEATS).bundle.version}
    assert set(rhythm["ectopy"]) == {"V", "S"}
    assert rhythm["ectopy"]["V"]["count"] > 0  # 201 has ventricular ectopy
    assert len(pred.beats) == rhythm["beats"] > 1000
    # Per-window P(AF): which stretches drove the call.
    windows = rhythm["windows"]
    assert len(windows["starts_s"]) == len(windows["p_af"]) == len(windows["labels"]) > 100
    first_half = [p for s, p in zip(windows["starts_s"], windows["p_af"], strict=True) if s < 550]
    assert max(first_half) < pred.threshold


def test_reading_by_stretches_gives_the_report_of_the_record_in_memory(
    tmp_path: Path, shared_data: Path
) -> None:
    header, _ = _holter(tmp_path, shared_data)
    model = load_model(RHYTHM)
    streamed = model.predict(header, explain=False)
    small = load_model(RHYTHM)
    small.chunk_s = 120.0  # ten stretches instead of two
    in_memory = small.predict(read_signal(header), explain=False)
    a, b = streamed.extra["rhythm"], in_memory.extra["rhythm"]
    assert a["windows"]["starts_s"] == b["windows"]["starts_s"]
    assert abs(a["beats"] - b["beats"]) <= 10
    assert np.abs(np.subtract(a["windows"]["p_af"], b["windows"]["p_af"])).max() < 0.2
    assert [e["label"] for e in a["episodes"]] == [e["label"] for e in b["episodes"]]
    assert abs(a["af_burden"] - b["af_burden"]) < 0.03


def test_cli_text_output_names_the_rhythm(capsys) -> None:
    assert main(["predict", "--model", RHYTHM, str(AF_SAMPLE)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "rhythm: AF" in out and "AF burden 100.0 %" in out
    assert "RR changes over 10 % in the explained stretch 0–42 s" in out


def test_holter_report_cancels_between_stretches_and_leaves_no_thread(
    tmp_path: Path, shared_data: Path
) -> None:
    """The beat model runs on a second thread beside the window features; cancelling after
    the first stretch stops the report there and that thread is gone."""
    import threading

    from engine.errors import OperationCancelled
    from engine.progress import CancelToken

    header, _ = _holter(tmp_path, shared_data)
    model = load_model(RHYTHM)
    model.chunk_s = 120.0
    token = CancelToken()
    seen: list[str] = []

    def progress(fraction: float, text: str = "") -> None:
        seen.append(text)
        if text.startswith("Analysing 2 min"):
            token.cancel()

    with pytest.raises(OperationCancelled):
        model.predict(header, cancel=token, progress=progress)
    assert "Analysing 0 min" in seen and not any(t.startswith("Analysing 4 min") for t in seen)
    assert not [t for t in threading.enumerate() if t.name.startswith("stethos-ectopy")]


def test_a_pause_the_second_lead_fills_with_beats_is_not_counted(shared_data: Path) -> None:
    """MIT-BIH 116's MLII loses its amplitude twice for 6–7 s while V1 keeps every beat (the
    annotators' beats go on): possible pauses, listed apart with a warning. Record 201's 13
    annotated pauses (nodal rhythm, blocked beats) are quiet on V1 too and stay pauses; its
    one false pause, where MLII is noisy at 1099 s, is listed apart."""
    from engine.workflow import PAUSE_WARNING

    model = load_model(RHYTHM, device="cpu")
    p = model.predict(str(shared_data / "ecg" / "mitdb" / "116.hea"), explain=False)
    r = p.extra["rhythm"]
    assert r["pauses"] == []
    assert [(round(e["start"]), e["beats_on"]) for e in r["unconfirmed_pauses"]] == [
        (1354, "V1"),
        (1391, "V1"),
    ]
    assert PAUSE_WARNING.format(n=2, lead="MLII", name="116", other="V1") in p.warnings
    kept = model.predict(str(shared_data / "ecg" / "mitdb" / "201.hea"), explain=False)
    assert len(kept.extra["rhythm"]["pauses"]) == 13
    (possible,) = kept.extra["rhythm"]["unconfirmed_pauses"]
    assert round(possible["start"]) == 1099

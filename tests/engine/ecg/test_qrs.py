"""QRS detection against the MIT-BIH reference beat annotations (EC57 style).

All 26 shared records (22 DS1 + 4 paced) are scored with the 150 ms window;
``benchmarks/ecg_qrs_table.py`` prints the same per-record table. The
detector measured Se 99.85 % / +P 99.89 % in total; the thresholds leave a
little room for numerical differences between platforms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.ecg import QrsScore, detect_beats, detect_qrs, read_signal, score_qrs
from engine.errors import OperationCancelled, SignalError
from engine.progress import CancelToken

DS1 = "101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230"
PACED = "102 104 107 217"


@pytest.fixture(scope="module")
def mitbih_scores(mitdb: Path) -> dict[str, QrsScore]:
    scores = {}
    for name in DS1.split() + PACED.split():
        signal = read_signal(mitdb / name)
        beats = detect_beats(signal)
        scores[name] = score_qrs(signal.annotations, beats.samples, signal.fs, signal.n_samples)
    return scores


def test_total_sensitivity_and_positive_predictivity(mitbih_scores: dict[str, QrsScore]) -> None:
    total = QrsScore.total(mitbih_scores.values())
    assert total.reference > 59000
    assert total.sensitivity >= 0.997
    assert total.positive_predictivity >= 0.997


def test_ds1_totals(mitbih_scores: dict[str, QrsScore]) -> None:
    total = QrsScore.total(mitbih_scores[r] for r in DS1.split())
    assert total.sensitivity >= 0.997
    assert total.positive_predictivity >= 0.997


def test_no_record_is_badly_detected(mitbih_scores: dict[str, QrsScore]) -> None:
    worst_se = min(mitbih_scores.items(), key=lambda kv: kv[1].sensitivity)
    worst_ppv = min(mitbih_scores.items(), key=lambda kv: kv[1].positive_predictivity)
    assert worst_se[1].sensitivity >= 0.985, worst_se
    assert worst_ppv[1].positive_predictivity >= 0.985, worst_ppv


def test_beats_sit_on_the_annotated_r_peaks(record_101) -> None:
    from engine.ecg import match_beats, reference_beats

    found = detect_qrs(record_101.data[0], record_101.fs)
    reference = reference_beats(record_101.annotations)
    match = match_beats(reference, found, record_101.fs)
    offsets_ms = (found[match.pairs[:, 1]] - reference[match.pairs[:, 0]]) / record_101.fs * 1000
    assert np.median(np.abs(offsets_ms)) < 15


def test_dicom_ecg_beats(ecg_samples: Path) -> None:
    signal = read_signal(ecg_samples / "waveform_ecg.dcm")
    beats = detect_beats(signal)
    assert beats.lead == "II"
    assert len(beats) == 10
    assert 55 < beats.mean_heart_rate_bpm < 65
    # Each beat is on the R wave: a local maximum of lead II above 0.8 mV.
    assert np.all(signal.data[1, beats.samples] > 0.8)


def test_ptb_record_beats(ecg_samples: Path) -> None:
    signal = read_signal(ecg_samples / "s0010_re")
    beats = detect_beats(signal, "II")
    assert 40 < beats.mean_heart_rate_bpm < 120
    rr = beats.rr_s
    assert np.all((rr > 0.4) & (rr < 1.5))


def test_flat_and_short_signals_have_no_beats() -> None:
    assert len(detect_qrs(np.zeros(36000), 360.0)) == 0
    assert len(detect_qrs(np.zeros(10), 360.0)) == 0


def test_too_low_a_sampling_rate_is_refused() -> None:
    with pytest.raises(SignalError, match="sampling rate"):
        detect_qrs(np.zeros(1000), 40.0)


def test_detection_reports_progress_and_can_be_cancelled(record_101) -> None:
    seen: list[float] = []
    detect_qrs(record_101.data[0], record_101.fs, progress=lambda f, t="": seen.append(f))
    assert seen[0] == 0.0
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        detect_qrs(record_101.data[0], record_101.fs, cancel=token)


def test_chunked_detection_matches_across_chunk_edges(record_101) -> None:
    from engine.ecg import QrsParams

    x = record_101.data[0]
    whole = detect_qrs(x, record_101.fs, params=QrsParams(chunk_s=3600.0))
    chunked = detect_qrs(x, record_101.fs, params=QrsParams(chunk_s=60.0))
    score = score_qrs(record_101.annotations, chunked, record_101.fs, record_101.n_samples)
    assert abs(len(whole) - len(chunked)) <= 3
    assert score.sensitivity > 0.998
    assert np.all(np.diff(chunked) > 0)

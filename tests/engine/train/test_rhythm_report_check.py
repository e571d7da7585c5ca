"""The rhythm report's heart rate and pauses measured against the annotators' beats."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.resources import resource_path
from engine.train.card import read_validation
from engine.train.rhythm_report_check import check_records, report_check

RHYTHM = resource_path("models", "ecg-rhythm-features-300")


def test_the_check_compares_the_runtimes_report_with_the_annotators_beats(
    shared_data: Path,
) -> None:
    """116 (MLII loses its amplitude twice while V1 keeps the beats) and svdb 853 (ECG1 goes
    quiet for 11 s): no reference pause, no pause reported, the possible ones counted apart,
    and the per-minute heart rate within a beat or two of the reference's."""
    ecg = shared_data / "ecg"
    groups = check_records(ecg / "mitdb", ecg / "svdb")
    assert len(groups["mitdb_ds1"]) == 22 and len(groups["svdb"]) == 78
    out = report_check(
        RHYTHM, {"mitdb_ds1": [ecg / "mitdb" / "116.hea"], "svdb": [ecg / "svdb" / "853.hea"]}
    )
    ds1, svdb = out["mitdb_ds1"], out["svdb"]
    assert ds1["pauses"]["reference"] == 0 and ds1["pauses"]["reported"] == 0
    assert ds1["pauses"]["possible"] == 2 and svdb["pauses"]["possible"] == 1
    assert ds1["pauses"]["possible_matching_a_reference_pause"] == 0
    assert ds1["pauses"]["positive_predictivity"] is None  # nothing reported, nothing to rate
    assert ds1["minutes"] == 31 and svdb["minutes"] == 30  # 116 runs to 30 min 5 s
    assert ds1["minute_abs_difference_median_bpm"] <= 1.0
    assert svdb["minutes_within_5_bpm"] >= 0.9
    assert ds1["records_with_unmatched_pauses"] == {}


def test_the_shipped_card_reports_the_check_it_was_given() -> None:
    card = (RHYTHM / "card.md").read_text(encoding="utf-8")
    check = read_validation(RHYTHM)["report_check"]
    assert check["mitdb_ds1"]["records"] == 22 and check["svdb"]["records"] == 78
    assert "### The report's heart rate and pauses against the annotators' beats" in card
    ds1, svdb = check["mitdb_ds1"]["pauses"], check["svdb"]["pauses"]
    row = "| pauses > 2 s: reference / reported | {} / {} | {} / {} |".format(
        ds1["reference"], ds1["reported"], svdb["reference"], svdb["reported"]
    )
    assert row in card
    # What the plan's run measured: 20 of the 24 pauses reported on DS1 are true.
    assert (ds1["reported"], ds1["positive_predictivity"]) == (24, pytest.approx(20 / 24, abs=1e-4))

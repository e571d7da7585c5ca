"""Training pipelines run end to end on small subsets, and write loadable bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.ecg import read_signal
from engine.models.bundle import open_bundle
from engine.models.loader import load_runner
from engine.resources import resource_path
from engine.train.card import read_validation, render_card


@pytest.mark.slow
def test_cxr_pipeline_end_to_end_on_a_subset(tmp_path, shared_data):
    from engine.train.cxr import read_manifest, split_by_series, train_cxr

    root = shared_data / "cxr" / "kermany-224"
    import csv

    items = read_manifest(root)
    # Byte-identical images (24 groups in train) are kept once; no patient
    # group spans two splits.
    with (root / "manifest.csv").open(newline="") as fh:
        hashes = [row["sha256"] for row in csv.DictReader(fh)]
    assert len(hashes) == 5232 and len(items) == len(set(hashes)) < 5232 - 23
    split = split_by_series(items)
    groups = {k: {items[i].group for i in v} for k, v in split.items()}
    assert not (groups["train"] & groups["test"]) and not (groups["train"] & groups["tune"])
    assert not (groups["tune"] & groups["test"])

    path = train_cxr(tmp_path, data_root=root, subset=40, epochs=1, size=32, model_id="cxr-ci")
    bundle = open_bundle(path)
    m = bundle.manifest
    assert m["outputs"]["calibration"]["method"] == "temperature"
    assert {op["name"] for op in m["operating_points"]} == {"sensitivity-90", "youden"}
    assert m["gates"]["age_years"]["max"] == 6 and "appearance" in m["gates"]
    assert (path / m["gates"]["appearance"]["file"]).is_file()
    assert "supports, and does not replace" in bundle.card_text()
    assert bundle.card_text() == render_card(m, read_validation(path))
    runner = load_runner(bundle, "cpu")
    sample = m["validation"]["reproduce_sample"]
    for entry in sample[:3]:
        p = runner.predict(root / entry["path"])
        assert p.score == pytest.approx(entry["probability"], abs=1e-4)


@pytest.mark.slow
def test_beats_pipeline_end_to_end_on_two_records(tmp_path, shared_data):
    from engine.train.beat_fit import (
        CONDUCTED_FLOOR,
        SPLIT_THRESHOLDS,
        VETO_FLOOR,
        VETO_SPARE_PAUSE,
        VETO_SPARE_PRE,
    )
    from engine.train.beats import train_beats

    root = shared_data / "ecg" / "mitdb"
    # svdb 803 is one of the held-back records: it joins no fold and is scored once.
    path = train_beats(tmp_path, data_root=root, svdb_root=shared_data / "ecg" / "svdb",
                       svdb=True, records=["101", "119"], svdb_records=["803"], epochs=1,
                       folds=2, model_id="beats-ci")  # fmt: skip
    bundle = open_bundle(path)
    validation = bundle.manifest["validation"]
    assert validation["held_back"]["records"] == ["803"]
    assert validation["held_back"]["per_class"]["N"]["reference_beats"] > 1000
    assert list(validation["per_database"]) == ["MIT-BIH DS1"]
    assert sorted(n for fold in validation["folds"] for n in fold) == ["101", "119"]
    assert bundle.manifest["training_data"]["n_patients"] == 3
    assert bundle.manifest["version"] == "4.1.0"
    amplitude = bundle.manifest["preprocessing"]["amplitude_range"]  # 101 and 119's, widened
    assert 0.5 < amplitude["min_mv"] < amplitude["max_mv"] < 4
    assert bundle.manifest["gates"]["sampling_rate"]["min"] == 125
    assert "--ds1-only" not in bundle.manifest["training_command"]
    assert "held-back svdb records" in bundle.card_text()
    per_class = bundle.manifest["validation"]["per_class"]
    assert per_class["N"]["reference_beats"] > 3000
    assert per_class["V"]["reference_beats"] > 400  # 119 has bigeminy
    stored = json.loads((path / "validation.json").read_text())
    assert stored["per_class"] == per_class
    # The card is the template filled from the manifest and the validation record, which
    # carries the design experiments over from the shipped bundle.
    assert bundle.card_text() == render_card(bundle.manifest, stored)
    shipped = read_validation(resource_path("models", "ecg-beats-bilstm-360"))
    assert stored["experiments"] == shipped["experiments"]
    assert bundle.manifest["preprocessing"]["fs"] == 180.0
    assert bundle.manifest["preprocessing"]["beat_template"] == "median"
    assert np.isfinite(bundle.manifest["preprocessing"]["rr_mean"]).all()
    veto, conducted, split = bundle.manifest["postprocessing"]
    assert veto["method"] == "qrs-template-veto" and veto["label"] == "V"
    # 119's V beats look nothing like its normal beats: the bound stays at its floor.
    assert veto["min_correlation"] == VETO_FLOOR
    # Premature beats with a full compensatory pause keep V where the rhythm is regular (up
    # to the split's gate, or in any rhythm when the split has none).
    spare = {"pre_below": VETO_SPARE_PRE, "pause_within": VETO_SPARE_PAUSE}
    if "gate" in split:
        spare["max_irregularity"] = split["gate"]["above"]
    assert veto["spare_compensated"] == spare
    assert conducted["method"] == "conducted-beat-veto" and conducted["label"] == "V"
    assert CONDUCTED_FLOOR <= conducted["min_p_correlation"] < 1
    assert conducted["withdraw"] == ["V", "F", "Q"]
    # The boosted split: its trees in the bundle, on the timing of the beat and its neighbours.
    assert split["method"] == "rr-boosted-split" and split["split"] == ["N", "S"]
    assert 0 < split["threshold"] < 1 and (path / split["model"]).is_file()
    assert len(split["inputs"]) == 24 and {i["beat"] for i in split["inputs"]} == {-2, -1, 0, 1, 2}
    assert bundle.manifest["gates"]["leads"]["allowed"] == ["MLII", "II"]
    # The runtime reads the trees back (skops, trusted types) and gives the stored outputs.
    runner = load_runner(bundle, "cpu")
    sample = bundle.manifest["validation"]["reproduce_sample"]
    pred = runner.predict(read_signal(root / sample["record"]))
    got = np.array(
        [[b.probabilities[c] for c in "NSVFQ"] for b in pred.beats[: len(sample["probabilities"])]]
    )
    assert got == pytest.approx(np.array(sample["probabilities"]), abs=1e-4)
    folds = bundle.manifest["validation"]["split_by_fold"]
    # 119 has no S beat: the fold trained on it alone has no split; 101 has no
    # V beat: the fold trained on it alone has no veto.
    assert {f["threshold"] is None for f in folds} == {True, False}
    assert {f["veto"] is None for f in folds} == {True, False}
    assert [f["conducted"] is None for f in folds] == [f["veto"] is None for f in folds]
    # The S operating points: one per threshold tried, fewer S found as the threshold rises.
    points = bundle.manifest["validation"]["s_operating_points"]
    assert [e["threshold"] for e in points] == SPLIT_THRESHOLDS
    se = [e["sensitivity"]["value"] for e in points]
    assert se == sorted(se, reverse=True)
    assert "| threshold | S sensitivity | S +P |" in bundle.card_text()

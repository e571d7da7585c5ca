"""``stethos-engine evaluate``: card metrics recomputed on local labelled data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.api import clear_model_cache
from engine.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from engine.errors import ModelError, OperationCancelled
from engine.models.registry import ModelRegistry
from engine.progress import CancelToken
from engine.records import HEART_RECORD
from engine.records.uci import read_uci_heart
from engine.validation import evaluate_model
from engine.validation.records import read_outcome_table
from tests.engine.models.factory import make_cnn_bundle, make_lstm_bundle

HEART = "heart-disease-logreg-13"


@pytest.fixture()
def uci(shared_data: Path) -> Path:
    return shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"


@pytest.fixture()
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path / "data"))
    clear_model_cache()
    return tmp_path / "data" / "models"


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    """Independent AUROC: the share of (positive, negative) pairs ranked right, ties half."""
    pos, neg = p[y == 1], p[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def test_uci_file_as_it_comes_gives_the_in_sample_metrics(uci: Path) -> None:
    from engine.api import load_model

    report = evaluate_model(HEART, uci, n_boot=200)
    X, y = read_uci_heart(uci)
    pipeline = load_model(HEART).pipeline
    p = pipeline.predict_proba(X)[:, 1]
    assert report.n == 303 and report.skipped == ()
    assert report.metrics["auroc"]["value"] == pytest.approx(_auroc(y, p), abs=1e-4)
    lo, hi = report.metrics["auroc"]["ci95"]
    assert lo < report.metrics["auroc"]["value"] < hi
    op = report.operating_point
    pred = p >= op["threshold"]
    se = report.metrics["sensitivity"]
    assert (se["k"], se["n"]) == (int((pred & (y == 1)).sum()), int(y.sum()))
    assert report.metrics["brier"]["value"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-4)
    assert 0 <= report.metrics["ece"]["value"] < 0.2
    assert report.confusion["labels"] == ["no disease", "disease"]
    assert sum(map(sum, report.confusion["matrix"])) == 303


def test_record_csv_with_outcome_column_reports_skipped_rows(tmp_path: Path, uci: Path) -> None:
    X, y = read_uci_heart(uci)
    names = list(HEART_RECORD.names)
    lines = [",".join(["patient", *reversed(names), "disease"])]
    for i in range(40):
        values = ["" if np.isnan(v) else f"{v:g}" for v in X[i]]
        lines.append(",".join([f"p{i}", *reversed(values), str(int(y[i]))]))
    bad_age = list(lines[1].split(","))
    bad_age[1 + len(names) - 1] = "7"  # age is the last record column here
    lines.append(",".join(bad_age))
    lines.append(",".join([*lines[2].split(",")[:-1], ""]))  # no outcome
    table = tmp_path / "local.csv"
    table.write_text("\n".join(lines) + "\n")

    parsed = read_outcome_table(table)
    assert len(parsed.records) == 41 and parsed.lines[0] == 2
    assert parsed.skipped == ((43, "has no outcome (disease)"),)

    report = evaluate_model(HEART, table, n_boot=100)
    assert report.n == 40
    reasons = dict(report.skipped)
    assert reasons[f"{table} line 42"] == "Age must be at least 18 years."
    assert reasons[f"{table} line 43"] == "has no outcome (disease)"


def test_table_without_outcome_is_refused_with_a_message(tmp_path: Path) -> None:
    table = tmp_path / "no-outcome.csv"
    table.write_text(",".join(HEART_RECORD.names) + "\n" + ",".join(["1"] * 13) + "\n")
    with pytest.raises(ModelError) as info:
        evaluate_model(HEART, table, n_boot=50)
    assert "no-outcome.csv" in info.value.detail and "outcome" in info.value.detail


def _image_folder(root: Path, shared_data: Path, per_class: int = 4) -> Path:
    src = shared_data / "cxr" / "kermany-224" / "train"
    if not src.is_dir():
        pytest.skip("no Kermany images in the shared data")
    for name in ("NORMAL", "PNEUMONIA"):
        (root / name).mkdir(parents=True)
        for f in sorted((src / name).glob("*.jpeg"))[:per_class]:
            shutil.copyfile(f, root / name / f.name)
    (root / "Other").mkdir()
    return root


def test_image_folder_per_label(tmp_path: Path, shared_data: Path) -> None:
    from engine.api import analyze_image

    make_cnn_bundle(tmp_path / "models")
    registry = ModelRegistry([(tmp_path / "models", "bundled")])
    data = _image_folder(tmp_path / "local", shared_data)
    report = evaluate_model("test-cnn", data, registry=registry, device="cpu", n_boot=100)
    assert report.n == 8
    assert report.skipped == (
        (str(data / "Other"), "the folder names no label (normal, pneumonia)"),
    )
    assert report.confusion["labels"] == ["normal", "pneumonia"]
    assert [sum(row) for row in report.confusion["matrix"]] == [4, 4]
    # the same numbers as scoring each image on its own
    y, p = [], []
    for label in ("NORMAL", "PNEUMONIA"):
        for f in sorted((data / label).iterdir()):
            y.append(int(label == "PNEUMONIA"))
            p.append(analyze_image("test-cnn", f, registry=registry, device="cpu").score)
    y_arr, p_arr = np.asarray(y), np.asarray(p)
    assert report.metrics["auroc"]["value"] == pytest.approx(_auroc(y_arr, p_arr), abs=1e-4)
    threshold = report.operating_point["threshold"]
    assert report.metrics["sensitivity"]["k"] == int(((p_arr >= threshold) & (y_arr == 1)).sum())
    assert "ece" in report.metrics and "accuracy" in report.metrics


def test_wfdb_record_beats_against_reference(tmp_path: Path, shared_data: Path) -> None:
    import wfdb

    record = shared_data / "ecg" / "mitdb" / "119"
    if not record.with_suffix(".hea").is_file():
        pytest.skip("MIT-BIH record 119 not in the shared data")
    make_lstm_bundle(tmp_path / "models")
    registry = ModelRegistry([(tmp_path / "models", "bundled")])
    report = evaluate_model("test-beats", [record], registry=registry, device="cpu")
    ann = wfdb.rdann(str(record), "atr")
    symbols = list(ann.symbol)
    n_ref = sum(symbols.count(s) for s in "NLRejBn")
    v_ref = sum(symbols.count(s) for s in "VEr")
    assert report.task == "beats"
    labels = report.confusion["labels"]
    rows = dict(zip(labels, report.confusion["matrix"], strict=True))
    assert sum(rows["N"]) == n_ref and sum(rows["V"]) == v_ref  # every reference beat counted
    assert report.n == len([s for s in symbols if s in "NLRejBnAaJSVErF/fQ?"])
    # the engine's own detector finds nearly every beat of 119 within 150 ms
    assert report.metrics["qrs_sensitivity"]["value"] > 0.98
    assert report.metrics["qrs_ppv"]["value"] > 0.98
    v = report.metrics["V_sensitivity"]
    assert v["n"] == v_ref and v["k"] == rows["V"][labels.index("V")]
    assert "Wilson" in report.details["ci_method"]
    assert report.details["per_record"][0]["record"] == "119"


def test_cli_evaluate_table_and_json(uci: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--model", HEART, str(uci)]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"Model {HEART}" in out and "auroc" in out and "specificity" in out
    assert main(["evaluate", "--model", HEART, str(uci), "--json"]) == EXIT_OK
    row = json.loads(capsys.readouterr().out)
    assert row["model"] == HEART and row["n"] == 303
    assert set(row["metrics"]) >= {"auroc", "sensitivity", "specificity", "ece", "brier"}


def test_cli_evaluate_exit_codes(tmp_path: Path, uci: Path, capsys) -> None:
    partial = tmp_path / "partial.data"
    partial.write_text(uci.read_text() + "70,1,4,130,322,0,2,109,0,2.4,2,3,3,?\n")
    assert main(["evaluate", "--model", HEART, str(partial)]) == EXIT_PARTIAL
    assert "has no outcome (num)" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", "--model", HEART, str(empty)]) == EXIT_ERROR
    assert "No record tables" in capsys.readouterr().err


def test_predict_beats_from_a_record_path_without_extension(
    user_dir: Path, shared_data: Path, capsys
) -> None:
    record = shared_data / "ecg" / "mitdb" / "119"
    if not record.with_suffix(".hea").is_file():
        pytest.skip("MIT-BIH record 119 not in the shared data")
    make_lstm_bundle(user_dir, "cli-beats")
    assert main(["predict", "--model", "cli-beats", str(record), "--json"]) == EXIT_OK
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["input"] == {"path": str(record)} and row["model"] == "cli-beats"
    assert len(row["beats"]) > 1900
    assert set(row["beats"][0]) == {"sample", "label", "probabilities"}


def test_pre_cancelled_evaluation_stops(uci: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        evaluate_model(HEART, uci, cancel=token)


def test_image_folder_reports_out_of_domain_by_label(tmp_path: Path, shared_data: Path) -> None:
    """A site's own images are in domain: the report says how many of each label got no
    result, so a check that withholds positives more often than negatives shows."""
    from engine.api import analyze_image

    model = "cxr-pneumonia-resnet18-224"
    data = _image_folder(tmp_path / "local", shared_data, per_class=2)
    adults = sorted((shared_data / "cxr" / "adult-ood" / "images").glob("hannover-*.png"))[:2]
    if not adults:
        pytest.skip("no adult radiographs in the shared data")
    for f in adults:  # adults filed as "normal": the check withholds them
        shutil.copyfile(f, data / "NORMAL" / f.name)
    report = evaluate_model(model, data, device="cpu", n_boot=50)
    domain = report.details["out_of_domain"]
    expected = {}
    for label in ("NORMAL", "PNEUMONIA"):
        files = sorted((data / label).iterdir())
        hits = sum(bool(analyze_image(model, f, device="cpu", explain=False).extra["out_of_domain"])
                   for f in files)  # fmt: skip
        expected[label.lower()] = {"checked": len(files), "flagged": hits,
                                   "share_flagged": round(hits / len(files), 4)}  # fmt: skip
    assert domain["by_label"] == expected
    assert expected["normal"]["flagged"] >= 1 and domain["checked"] == 6
    assert "Out of domain by label: normal " in report.to_text()

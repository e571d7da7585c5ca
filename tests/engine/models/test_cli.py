"""``stethos-engine models …`` and ``predict`` in-process, as a user would run them."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from engine.api import clear_model_cache
from engine.cli import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, main
from engine.records import HEART_RECORD
from tests.engine.models.dicom_files import write_dicom
from tests.engine.models.factory import make_cnn_bundle, make_lstm_bundle, synthetic_ecg
from tests.engine.models.test_cnn_runner import _phantom


@pytest.fixture()
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path / "data"))
    clear_model_cache()
    return tmp_path / "data" / "models"


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_models_import_list_show_verify_remove(user_dir: Path, tmp_path: Path, capsys) -> None:
    src = make_cnn_bundle(tmp_path / "src", "cli-cnn")
    archive = tmp_path / "cli-cnn.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.iterdir():
            zf.write(f, f"cli-cnn/{f.name}")
    assert main(["models", "import", str(archive)]) == EXIT_OK
    assert "imported cli-cnn 0.1.0" in capsys.readouterr().out

    assert main(["models", "list", "--json"]) == EXIT_OK
    rows = {r["id"]: r for r in _lines(capsys.readouterr().out)}
    assert rows["cli-cnn"]["source"] == "user" and rows["cli-cnn"]["kind"] == "torch-cnn"
    assert rows["heart-disease-logreg-13"]["source"] == "bundled"

    assert main(["models", "show", "cli-cnn"]) == EXIT_OK
    assert "not for clinical use" in capsys.readouterr().out
    assert main(["models", "show", "cli-cnn", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["architecture"]["name"] == "small-cnn"

    assert main(["models", "verify"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ok      cli-cnn 0.1.0" in out and "ok      heart-disease-logreg-13" in out

    weights = user_dir / "cli-cnn" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    assert main(["models", "verify", "cli-cnn"]) == EXIT_ERROR
    assert "FAILED  cli-cnn" in capsys.readouterr().out

    assert main(["models", "remove", "cli-cnn"]) == EXIT_OK
    assert not (user_dir / "cli-cnn").exists()
    assert main(["models", "remove", "heart-disease-logreg-13"]) == EXIT_ERROR
    assert "cannot be removed" in capsys.readouterr().err


def test_predict_records_from_csv_with_a_bad_row(user_dir: Path, tmp_path: Path, capsys) -> None:
    table = tmp_path / "patients.csv"
    good = dict(age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150,
                exang=0, oldpeak=2.3, slope=3, ca=0, thal=6)  # fmt: skip
    bad = dict(good, age=7)
    header = ["patient", *reversed(HEART_RECORD.names)]  # any order, extra columns ignored
    lines = [",".join(header)]
    for i, r in enumerate([good, bad, dict(good, ca="?")]):
        lines.append(",".join([f"p{i}", *(str(r[n]) for n in reversed(HEART_RECORD.names))]))
    table.write_text("\n".join(lines) + "\n")
    code = main(["predict", "--model", "heart-disease-logreg-13", str(table), "--json"])
    assert code == EXIT_PARTIAL
    rows = _lines(capsys.readouterr().out)
    assert [r["input"] for r in rows] == [
        {"path": str(table), "row": 2}, {"path": str(table), "row": 3},
        {"path": str(table), "row": 4},
    ]  # fmt: skip
    assert rows[0]["model"] == "heart-disease-logreg-13" and rows[0]["version"] == "2.0.0"
    assert set(rows[0]["probabilities"]) == {"no disease", "disease"}
    assert rows[0]["label"] in ("no disease", "disease")
    assert rows[1]["error_type"] == "RecordValidationError"
    assert rows[1]["problems"] == {"age": "Age must be at least 18 years."}
    assert "probabilities" in rows[2]  # ca is optional: imputed


def test_predict_uci_file(user_dir: Path, shared_data: Path, capsys) -> None:
    uci = shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"
    code = main(["predict", "--model", "heart-disease-logreg-13", str(uci), "--json"])
    assert code == EXIT_OK
    rows = _lines(capsys.readouterr().out)
    assert len(rows) == 303 and all("label" in r for r in rows)


def test_predict_images_folder_with_partial_failure(
    user_dir: Path, tmp_path: Path, cxr_samples, capsys
) -> None:
    make_cnn_bundle(user_dir, "cli-cnn")
    folder = tmp_path / "study"
    folder.mkdir()
    for f in cxr_samples:
        shutil.copy(f, folder / f.name)
    write_dicom(folder / "lateral.dcm", _phantom(), view="LATERAL")
    code = main(["predict", "--model", "cli-cnn", str(folder), "--json", "--device", "cpu"])
    assert code == EXIT_PARTIAL
    rows = {Path(r["input"]["path"]).name: r for r in _lines(capsys.readouterr().out)}
    assert "LATERAL" in rows["lateral.dcm"]["error"]
    for f in cxr_samples:
        assert rows[f.name]["device"] == "cpu"
        assert sum(rows[f.name]["probabilities"].values()) == pytest.approx(1.0)
    # human-readable output, only good inputs
    assert main(["predict", "--model", "cli-cnn", str(cxr_samples[0])]) == EXIT_OK
    assert "p(pneumonia)=" in capsys.readouterr().out


def test_predict_beats_from_a_wfdb_record(user_dir: Path, tmp_path: Path, capsys) -> None:
    import wfdb

    make_lstm_bundle(user_dir, "cli-beats")
    x, peaks = synthetic_ecg(12.0)
    wfdb.wrsamp("rec", fs=360, units=["mV"], sig_name=["MLII"], p_signal=x[:, None],
                fmt=["16"], write_dir=str(tmp_path))  # fmt: skip
    wfdb.wrann("rec", "atr", peaks, symbol=["N"] * len(peaks), write_dir=str(tmp_path))
    code = main(["predict", "--model", "cli-beats", str(tmp_path / "rec.hea"), "--json"])
    assert code == EXIT_OK
    (row,) = _lines(capsys.readouterr().out)
    assert [b["sample"] for b in row["beats"]] == peaks.tolist()
    assert set(row["beats"][0]) == {"sample", "label", "probabilities"}


def test_the_shipped_beat_model_has_no_specificity_to_show(
    user_dir: Path, tmp_path: Path, capsys
) -> None:
    # Its per-beat argmax defines none: JSON null, and no "Sp -1.00" in the text line.
    import wfdb

    x, _ = synthetic_ecg(12.0)
    wfdb.wrsamp("rec", fs=360, units=["mV"], sig_name=["MLII"], p_signal=x[:, None],
                fmt=["16"], write_dir=str(tmp_path))  # fmt: skip
    record = str(tmp_path / "rec.hea")
    assert main(["predict", "--model", "ecg-beats-bilstm-360", record, "--json"]) == EXIT_OK
    (row,) = _lines(capsys.readouterr().out)
    assert row["operating_point"]["specificity"] is None
    assert 0 < row["operating_point"]["sensitivity"] < 1
    assert main(["predict", "--model", "ecg-beats-bilstm-360", record]) == EXIT_OK
    line = capsys.readouterr().out.splitlines()[0]
    assert "mean per beat p(V)=" in line and "; Se 0.90; " in line and "Sp" not in line


def test_predict_with_nothing_to_do_fails(user_dir: Path, tmp_path: Path, capsys) -> None:
    make_cnn_bundle(user_dir, "cli-cnn")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["predict", "--model", "cli-cnn", str(empty)]) == EXIT_ERROR
    assert "No image inputs" in capsys.readouterr().err
    assert main(["predict", "--model", "no-such-model", str(empty)]) == EXIT_ERROR


def test_predict_uci_rows_are_numbered_by_file_line(
    user_dir: Path, shared_data: Path, tmp_path: Path, capsys
) -> None:
    uci = shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"
    first_lines = uci.read_text().splitlines()[:4]
    small = tmp_path / "three.data"
    small.write_text("\n".join(first_lines) + "\n")  # the header line + 3 patients
    assert main(["predict", "--model", "heart-disease-logreg-13", str(small), "--json"]) == 0
    rows = _lines(capsys.readouterr().out)
    assert [r["input"]["row"] for r in rows] == [2, 3, 4]
    # 13 columns without the target work too
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(",".join(ln.split(",")[:13]) for ln in first_lines[1:]) + "\n")
    assert main(["predict", "--model", "heart-disease-logreg-13", str(bare), "--json"]) == 0
    rows2 = _lines(capsys.readouterr().out)
    assert [r["probabilities"] for r in rows2] == [r["probabilities"] for r in rows]

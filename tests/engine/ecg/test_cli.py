"""``stethos-engine ecg info|beats`` run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import EXIT_ERROR, EXIT_OK, main


def test_beats_json_for_a_mitbih_record(mitdb: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "beats", str(mitdb / "101"), "--json"]) == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert out["lead"] == "MLII"
    assert out["fs_hz"] == 360.0
    assert out["n_beats"] == len(out["beats"])
    assert abs(out["n_beats"] - 1865) <= 10  # the record's 1865 annotated beats
    first, second = out["beats"][:2]
    assert first["time_s"] == pytest.approx(first["sample"] / 360.0, abs=1e-4)
    assert second["rr_s"] == pytest.approx((second["sample"] - first["sample"]) / 360, abs=1e-3)
    assert out["reference"]["sensitivity"] > 0.99
    assert out["reference"]["positive_predictivity"] > 0.99


def test_beats_table_for_a_dicom_ecg(ecg_samples: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "beats", str(ecg_samples / "waveform_ecg.dcm"), "--lead", "V5"]) == 0
    out = capsys.readouterr().out
    assert "10 beats on lead V5" in out
    lines = [ln.split() for ln in out.splitlines()[2:]]
    assert len(lines) == 10
    assert [int(parts[0]) for parts in lines] == list(range(1, 11))
    samples = [int(parts[1]) for parts in lines]
    assert samples == sorted(samples)
    assert float(lines[1][2]) == pytest.approx(samples[1] / 1000.0, abs=1e-3)


def test_info_json(ecg_samples: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "info", str(ecg_samples / "s0010_re.hea"), "--json"]) == EXIT_OK
    info = json.loads(capsys.readouterr().out)
    assert info["fs_hz"] == 1000.0
    assert len(info["leads"]) == 15
    assert info["duration_s"] == pytest.approx(38.4)
    assert info["units"] == "mV"


def test_info_table(mitdb: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "info", str(mitdb / "101")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "MLII, V1" in out
    assert "360 Hz" in out
    assert "1865 beats" in out


def test_missing_record_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "beats", str(tmp_path / "nowhere")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "nowhere" in err
    assert "not found" in err


def test_unknown_lead_is_an_error(mitdb: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["ecg", "beats", str(mitdb / "101"), "--lead", "V4"]) == EXIT_ERROR
    assert "no lead “V4”" in capsys.readouterr().err


def test_a_flat_record_has_no_beats_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    import numpy as np
    import wfdb

    wfdb.wrsamp("flat", fs=360, units=["mV"], sig_name=["MLII"], p_signal=np.zeros((3600, 1)),
                fmt=["16"], write_dir=str(tmp_path))  # fmt: skip
    assert main(["ecg", "beats", str(tmp_path / "flat.hea")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "flat.hea: 0 beats on lead MLII in 10.0 s" in out
    assert "no beat found on lead MLII" in out
    assert main(["ecg", "beats", str(tmp_path / "flat.hea"), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["n_beats"] == 0 and data["beats"] == [] and data["heart_rate_bpm"] is None

"""``stethos-engine evaluate --save-site-calibration`` and ``models site list|remove``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import EXIT_ERROR, EXIT_OK, main

HEART = "heart-disease-logreg-13"


def test_save_list_use_remove(data_dir: Path, uci: Path, capsys) -> None:
    code = main(["evaluate", "--model", HEART, str(uci), "--save-site-calibration", "--json"])
    assert code == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    saved = out["saved_site_calibration"]
    assert out["site_calibration"] is None  # evaluated as the bundle defines it
    assert saved["audited"] is False and saved["n"] == out["n"]
    assert saved["note"].startswith(
        f"Site operating point and calibration, validated on {out['n']}"
    )
    assert Path(saved["file"]).parent == data_dir / "site-calibration"
    stored = json.loads(Path(saved["file"]).read_text(encoding="utf-8"))
    assert stored["data"][0]["name"] == str(uci) and len(stored["data"][0]["sha256"]) == 64
    assert stored["created_by"]

    assert main(["models", "site", "list", "--json"]) == EXIT_OK
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["status"] == "in use" and row["model_id"] == HEART

    assert main(["evaluate", "--model", HEART, str(uci)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Operating point: site" in text and "Site calibration used: " + saved["note"] in text

    assert main(["evaluate", "--model", HEART, str(uci), "--no-site-calibration", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["site_calibration"] is None

    assert main(["predict", "--model", HEART, str(uci), "--json"]) == EXIT_OK
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["operating_point"]["name"] == "site"
    assert first["site_calibration"]["note"] == saved["note"]

    assert main(["models", "site", "remove", HEART]) == EXIT_OK
    assert "Not in the audit trail" in capsys.readouterr().out
    assert main(["models", "site", "remove", HEART]) == EXIT_ERROR
    assert main(["models", "site", "list"]) == EXIT_OK
    assert "No site calibrations saved." in capsys.readouterr().out


def test_text_output_and_audit_with_a_user(
    data_dir: Path, uci: Path, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.store import KdfParams, create_store, open_store

    db = tmp_path / "s.db"
    store, _ = create_store(db, "admin", "admin-password-1", kdf=KdfParams.fast())
    store.close()
    monkeypatch.setenv("STETHOS_PASSWORD", "admin-password-1")
    args = ["evaluate", "--model", HEART, str(uci), "--save-site-calibration"]
    assert main([*args, "--user", "admin", "--db", str(db)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "Site calibration saved for heart-disease-logreg-13" in text
    assert "recalibration: p' = sigmoid(" in text and "local sensitivity" in text
    assert "audited in the local store as admin" in text
    with open_store(db, "admin", "admin-password-1", kdf=KdfParams.fast()) as s:
        (entry,) = s.audit_entries(action="site_calibration_saved")
        assert entry.details["model_id"] == HEART and entry.details["created_by"] == "admin"
    assert main(["models", "site", "remove", HEART, "--user", "admin", "--db", str(db)]) == 0
    with open_store(db, "admin", "admin-password-1", kdf=KdfParams.fast()) as s:
        assert len(s.audit_entries(action="site_calibration_removed")) == 1


def test_too_few_cases_are_refused_after_the_metrics(
    data_dir: Path, uci: Path, tmp_path: Path, capsys
) -> None:
    small = tmp_path / "small.data"
    small.write_text("\n".join(uci.read_text().splitlines()[:30]) + "\n")
    code = main(["evaluate", "--model", HEART, str(small), "--save-site-calibration"])
    captured = capsys.readouterr()
    assert code == EXIT_ERROR
    assert "auroc" in captured.out  # the evaluation is still shown
    assert "needs at least 20 local cases" in captured.err
    assert not (data_dir / "site-calibration").exists() or not any(
        (data_dir / "site-calibration").iterdir()
    )

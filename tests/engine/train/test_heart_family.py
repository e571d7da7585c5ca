"""The four record-model families: one pipeline, shipped bundles, the best-calibrated default."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.models.bundle import open_bundle
from engine.models.registry import ModelRegistry
from engine.models.tabular import load_tabular
from engine.records import HEART_RECORD
from engine.records.uci import read_uci_heart
from engine.resources import resource_path
from engine.train.card import read_validation, render_card
from engine.train.heart import FAMILY_KEYS, model_id, train_heart
from engine.train.heart_missing import apply_pattern, pattern_bits

EXPLANATION = {"logreg": "linear-exact", "rf": "shapley-exact", "svm": "shapley-exact",
               "tree": "shapley-exact", "hgb": "shapley-exact"}  # fmt: skip
CALIBRATION = {"logreg": "none", "rf": "none", "svm": "intrinsic", "tree": "none",
               "hgb": "none"}  # fmt: skip


@pytest.fixture(scope="module")
def uci(shared_data: Path) -> Path:
    return shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    pos, neg = p[y == 1], p[y == 0]
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


@pytest.mark.parametrize("family", FAMILY_KEYS)
def test_pipeline_end_to_end_writes_a_self_checking_bundle(
    family: str, tmp_path: Path, uci: Path
) -> None:
    seen: list[float] = []
    path = train_heart(tmp_path, family=family, data_path=uci, repeats=1, n_boot=50,
                       progress=lambda f, t="": seen.append(f))  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == 1.0
    bundle = open_bundle(path, strict=True)
    m = bundle.manifest
    assert m["schema_version"] == 2 and m["id"] == model_id(family) == path.name
    assert m["outputs"]["calibration"]["method"] == CALIBRATION[family]
    assert m["explanation"]["method"] == EXPLANATION[family]
    assert m["default_operating_point"] == "high-sensitivity" and m["gates"] == {}
    assert bundle.default_operating_point.sensitivity >= 0.9
    assert m["validation"]["hyperparameter_selection"] == "fixed a priori"
    assert 0 <= m["metrics"]["ece"]["value"] < 0.25
    assert m["training_command"] == f"stethos-engine train heart-{family} --seed 0 --repeats 1"
    card = bundle.card_text()
    assert card == render_card(m, read_validation(path))
    for needle in ("supports, and does not replace", "CC BY 4.0", "age ≥ 60", "female",
                   "Limitations", m["training_command"], "1988"):  # fmt: skip
        assert needle in card
    # the stored OOF predictions are the ones the metrics came from
    stored = json.loads((path / "validation.json").read_text())
    y = np.asarray(stored["y"])
    (oof,) = np.asarray(stored["oof_probability_by_repeat"])
    assert _auroc(y, oof) == pytest.approx(m["metrics"]["auroc"]["value"], abs=1e-3)
    # the loaded bundle reproduces the final model's stored predictions
    model = load_tabular(bundle)
    for entry in m["validation"]["reproduce_sample"]:
        pred = model.predict(entry["record"], explain=False)
        assert pred.score == pytest.approx(entry["probability"], abs=1e-9)


@pytest.mark.parametrize("family", ["rf", "svm", "tree", "hgb"])
def test_shipped_nonlinear_bundles_explain_with_exact_shapley(family: str) -> None:
    bundle = open_bundle(resource_path("models", model_id(family)))
    model = load_tabular(bundle)
    record = bundle.manifest["validation"]["reproduce_sample"][1]["record"]
    pred = model.predict(record)
    assert pred.extra["shapley_exact"] and pred.extra["contribution_units"] == "probability"
    assert {c.name for c in pred.contributions} == set(HEART_RECORD.names)
    total = sum(c.contribution for c in pred.contributions)
    assert total == pytest.approx(pred.score - pred.extra["base_value"], abs=1e-9)


@pytest.mark.parametrize("family", FAMILY_KEYS)
def test_shipped_bundles_reproduce_their_validation(family: str, uci: Path) -> None:
    bundle = ModelRegistry().verify(model_id(family))
    m = bundle.manifest
    X, _ = read_uci_heart(uci)
    model = load_tabular(bundle)
    masked = 0
    for entry in m["validation"]["reproduce_sample"]:
        row = np.asarray(HEART_RECORD.to_row(entry["record"]))
        expected = X[entry["index"]]
        if "masked" in entry:  # the data's own row with units masked as named
            bits = pattern_bits(entry["masked"].split("+") if entry["masked"] else [])
            expected = apply_pattern(expected[None, :], bits)[0]
            masked += 1
        assert np.array_equal(row, expected, equal_nan=True)
        assert model.predict(entry["record"], explain=False).score == pytest.approx(
            entry["probability"], abs=1e-9
        )
    assert masked >= 3
    stored = json.loads((bundle.path / "validation.json").read_text())
    y, P = np.asarray(stored["y"]), np.asarray(stored["oof_probability_by_repeat"])
    assert P.shape == (10, 303)
    assert np.mean([_auroc(y, p) for p in P]) == pytest.approx(m["metrics"]["auroc"]["value"],
                                                               abs=1e-3)  # fmt: skip
    assert m["metrics"]["auroc"]["value"] >= 0.8
    op = bundle.default_operating_point
    assert op.sensitivity >= 0.9
    # The threshold is set on the declared missingness patterns pooled; complete records
    # (more information) keep most of that sensitivity.
    complete_se = np.mean(P >= op.threshold, where=np.broadcast_to(y == 1, P.shape))
    assert complete_se == pytest.approx(m["metrics"]["sensitivity"]["value"], abs=1e-3)
    assert complete_se >= 0.85
    rows = {r["name"]: r for r in stored["masked_patterns"]}
    assert rows["complete"]["auroc"][0] == pytest.approx(m["metrics"]["auroc"]["value"], abs=1e-3)


def test_default_record_model_is_the_best_calibrated(tmp_path: Path) -> None:
    shipped = {k: open_bundle(resource_path("models", model_id(k))).manifest for k in FAMILY_KEYS}

    def rank(k: str) -> tuple[float, float]:
        # ECE on the masked validation compared at 0.01 resolution, ties to the higher AUROC.
        m = shipped[k]["metrics"]
        return round(m["masked_ece"]["value"], 2), -m["masked_auroc"]["value"]

    best = min(FAMILY_KEYS, key=rank)
    assert ModelRegistry().default_for("record") == model_id(best)

    root = tmp_path / "models"
    for name, ece in (("heart-a", 0.08), ("heart-b", 0.03), ("heart-c", None), ("heart-d", 0.034)):
        dst = root / name
        shutil.copytree(resource_path("models", model_id("tree")), dst)
        manifest = json.loads((dst / "manifest.json").read_text())
        manifest["id"] = name
        del manifest["metrics"]["masked_ece"], manifest["metrics"]["masked_auroc"]
        if ece is None:
            del manifest["metrics"]["ece"]
        else:
            manifest["metrics"]["ece"] = {"value": ece}
        manifest["metrics"]["auroc"] = {"value": 0.95 if name == "heart-d" else 0.9}
        (dst / "manifest.json").write_text(json.dumps(manifest))
    registry = ModelRegistry([(root, "bundled")])
    # heart-b and heart-d are equally calibrated at 0.01 resolution; d discriminates better.
    assert registry.default_for("record") == "heart-d"
    assert registry.default_for("image") is None


def test_cli_trains_one_family(tmp_path: Path, uci: Path, capsys) -> None:
    from engine.cli import main

    code = main(["train", "heart-tree", "--out", str(tmp_path), "--data", str(uci),
                 "--repeats", "1"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert f"{model_id('tree')} 2.0.0 → {tmp_path / model_id('tree')}" in out
    assert "auroc:" in out
    assert [p.name for p in tmp_path.iterdir()] == [model_id("tree")]

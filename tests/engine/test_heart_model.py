"""The shipped heart-disease bundle: integrity, scoring, reproducible training."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from engine.api import analyze_record
from engine.errors import BundleIntegrityError, BundleSchemaError, RecordValidationError
from engine.models.bundle import open_bundle
from engine.models.registry import ModelRegistry
from engine.models.tabular import load_tabular
from engine.records import HEART_RECORD
from engine.records.uci import read_uci_heart
from engine.resources import resource_path

MODEL_ID = "heart-disease-logreg-13"
# First row of processed.cleveland.data (num = 0): a 63-year-old man with typical angina.
CLEVELAND_ROW_1 = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip
# Row 2 (num = 2): asymptomatic chest pain, 3 vessels, exercise angina.
CLEVELAND_ROW_2 = dict(
    age=67, sex=1, cp=4, trestbps=160, chol=286, fbs=0, restecg=2, thalach=108, exang=1,
    oldpeak=1.5, slope=2, ca=3, thal=3,
)  # fmt: skip


@pytest.fixture()
def bundle_copy(tmp_path):
    src = resource_path("models", MODEL_ID)
    dst = tmp_path / MODEL_ID
    shutil.copytree(src, dst)
    return dst


def test_bundle_verifies_and_has_validated_metrics():
    bundle = ModelRegistry().open(MODEL_ID)
    m = bundle.manifest
    auc = m["metrics"]["auroc"]
    assert 0.85 <= auc["value"] <= 0.95
    assert auc["ci95"][0] < auc["value"] < auc["ci95"][1]
    op = bundle.default_operating_point
    assert op.sensitivity >= 0.9
    assert "supports, and does not replace" in bundle.card_text()


def test_scores_known_records_in_the_right_order():
    low = analyze_record(MODEL_ID, CLEVELAND_ROW_1)
    high = analyze_record(MODEL_ID, CLEVELAND_ROW_2)
    assert abs(sum(low.probabilities.values()) - 1) < 1e-9
    assert high.score > 0.9 > low.score
    assert high.label == "disease"
    assert low.model_id == MODEL_ID and low.model_version == "2.0.0"
    assert low.device == "cpu"


def test_linear_contributions_are_exact():
    model = load_tabular(open_bundle(resource_path("models", MODEL_ID)))
    p = model.predict(CLEVELAND_ROW_2)
    # logit = intercept + w·μ + Σ contributions (exact for a linear model).
    info = model.bundle.manifest["explanation"]
    clf = model.pipeline[-1]
    base = float(clf.intercept_[0] + np.dot(clf.coef_[0], info["baseline"]))
    logit = base + sum(c.contribution for c in p.contributions)
    assert logit == pytest.approx(np.log(p.score / (1 - p.score)), abs=1e-6)
    names = {c.name for c in p.contributions}
    assert names == set(HEART_RECORD.names)
    vessels = next(c for c in p.contributions if c.name == "ca")
    assert vessels.value == "3 vessels" and vessels.contribution > 0


def test_changed_byte_in_weights_is_refused(bundle_copy):
    weights = bundle_copy / "model.skops"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError) as info:
        open_bundle(bundle_copy)
    assert "model.skops" in info.value.user_message
    assert MODEL_ID in info.value.user_message


def test_unknown_schema_version_is_refused(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["schema_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleSchemaError) as info:
        open_bundle(bundle_copy)
    assert "schema version 99" in info.value.user_message


def test_invalid_record_is_refused_with_field_messages():
    bad = dict(CLEVELAND_ROW_1, trestbps=20, cp=9)
    with pytest.raises(RecordValidationError) as info:
        analyze_record(MODEL_ID, bad)
    assert set(info.value.problems) == {"trestbps", "cp"}
    assert "at least 60 mmHg" in info.value.problems["trestbps"]


def test_training_is_reproducible(tmp_path, shared_data):
    import skops.io as sio

    from engine.train.heart import train_heart

    data = shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"
    coefs = []
    for run in ("a", "b"):
        out = train_heart(tmp_path / run, data_path=data, seed=3, repeats=1, n_boot=200)
        pipe = sio.load(
            out / "model.skops", trusted=sio.get_untrusted_types(file=out / "model.skops")
        )
        coefs.append(np.concatenate([pipe[-1].coef_[0], pipe[-1].intercept_]))
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["validation"]["seed"] == 3
    assert np.array_equal(coefs[0], coefs[1])


def test_shipped_bundle_matches_a_retrain_on_the_data(shared_data):
    """The bundle in resources/ is what `stethos-engine train heart` produces."""
    from engine.train.heart import fit_model

    X, y = read_uci_heart(shared_data / "tabular" / "uci-heart" / "processed.cleveland.data")
    fresh = fit_model(X, y, seed=0, family_key="logreg")
    shipped = load_tabular(open_bundle(resource_path("models", MODEL_ID))).pipeline
    assert np.allclose(fresh.predict_proba(X), shipped.predict_proba(X), atol=1e-9)

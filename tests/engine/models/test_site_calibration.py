"""Site calibration: a clinic's recalibration and operating point for one model version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelError
from engine.models import site as site_mod
from engine.models.bundle import MANIFEST_NAME, manifest_digest_line, open_bundle
from engine.models.registry import ModelRegistry
from engine.models.site import SiteCalibration, describe_data, load_for
from engine.resources import resource_path
from engine.validation.site import default_rule, fit_logistic, fit_site_calibration
from engine.workflow import (
    list_site_calibrations,
    load_model,
    remove_site_calibration,
    save_site_calibration,
    site_calibration_for,
)

HEART = "heart-disease-logreg-13"
BEATS = "ecg-beats-bilstm-360"


@pytest.fixture(scope="module")
def heart_bundle():
    return ModelRegistry().open(HEART)


def _synthetic(a: float, b: float, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Model scores p and outcomes drawn from sigmoid(a + b·logit(p))."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.6, n)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(n) < 1 / (1 + np.exp(-(a + b * z)))).astype(int)
    return p, y


def _records(uci: Path) -> tuple[list[dict], np.ndarray]:
    from engine.records import HEART_RECORD
    from engine.records.uci import read_uci_heart

    X, y = read_uci_heart(uci)
    names = list(HEART_RECORD.names)
    records = [
        {n: None if np.isnan(v) else float(v) for n, v in zip(names, row, strict=True)} for row in X
    ]
    return records, np.asarray(y)


# --------------------------------------------------------------------------- fitting


def test_fit_recovers_a_known_intercept_and_slope(heart_bundle) -> None:
    p, y = _synthetic(-0.7, 1.8, 40_000)
    cal = fit_site_calibration(p, y, heart_bundle, n_boot=20)
    assert cal.intercept == pytest.approx(-0.7, abs=0.06)
    assert cal.slope == pytest.approx(1.8, abs=0.08)
    assert (cal.model_id, cal.model_version) == (HEART, heart_bundle.version)
    assert cal.weights_sha256 == heart_bundle.weights_sha256
    assert cal.n == 40_000 and cal.n_positive == int(y.sum())
    # apply is sigmoid(a + b·logit(p)), monotone, for arrays and floats
    assert cal.apply(0.5) == pytest.approx(1 / (1 + np.exp(0.7 - 0.0 * cal.slope)), abs=0.02)
    q = cal.apply(np.linspace(0.01, 0.99, 50))
    assert isinstance(q, np.ndarray) and np.all(np.diff(q) > 0)
    assert cal.inverse(cal.apply(0.3)) == pytest.approx(0.3)


def test_fit_is_the_maximum_likelihood_logistic_fit() -> None:
    from sklearn.linear_model import LogisticRegression

    p, y = _synthetic(0.4, 0.6, 500, seed=3)
    x = np.log(p / (1 - p))
    a, b = fit_logistic(x, y.astype(float))
    ref = LogisticRegression(C=1e12, tol=1e-12, max_iter=10_000).fit(x[:, None], y)
    assert a == pytest.approx(ref.intercept_[0], abs=1e-4)
    assert b == pytest.approx(ref.coef_[0, 0], abs=1e-4)


def test_the_site_point_follows_the_default_points_rule(heart_bundle) -> None:
    assert default_rule(heart_bundle) == "sensitivity>=0.9"
    cxr = open_bundle(resource_path("models", "cxr-pneumonia-resnet18-224"), verify=False)
    assert default_rule(cxr) == "sensitivity>=0.9"
    p, y = _synthetic(0.2, 1.1, 600, seed=1)
    cal = fit_site_calibration(p, y, heart_bundle, n_boot=20)
    q = cal.apply(p)
    called = q >= cal.threshold
    se = (called & (y == 1)).sum() / (y == 1).sum()
    assert se >= 0.9 and cal.sensitivity.value == pytest.approx(se)
    # the highest such threshold: one step up loses sensitivity
    assert ((q > cal.threshold) & (y == 1)).sum() / (y == 1).sum() < 0.9
    lo, hi = cal.sensitivity.ci95
    assert lo < cal.sensitivity.value < hi
    youden = fit_site_calibration(p, y, heart_bundle, rule="youden", n_boot=20)
    assert youden.rule == "youden" and "Youden" in youden.rule_text


def test_too_few_cases_or_a_reversed_model_are_refused(heart_bundle) -> None:
    p, y = _synthetic(0.0, 1.0, 400, seed=2)
    few = np.flatnonzero(y == 1)[:19]
    keep = np.concatenate([few, np.flatnonzero(y == 0)])
    with pytest.raises(ModelError, match="at least 20 local cases with “disease”"):
        fit_site_calibration(p[keep], y[keep], heart_bundle)
    with pytest.raises(ModelError, match=r"slope .* ≤ 0"):
        fit_site_calibration(p, 1 - y, heart_bundle)
    with pytest.raises(ModelError, match="outcomes of 0 or 1"):
        fit_site_calibration(p, y * 2, heart_bundle)


def test_the_multi_class_beat_model_is_refused_with_the_reason() -> None:
    beats = open_bundle(resource_path("models", BEATS), verify=False)
    p, y = _synthetic(0.0, 1.0, 200)
    with pytest.raises(ModelError) as err:
        fit_site_calibration(p, y, beats)
    message = err.value.user_message
    assert "per-beat classes" in message and "not one positive score per record" in message
    assert "N, S, V, F, Q" in message


# --------------------------------------------------------------------------- the stored form


def _calibration(bundle, **changes) -> SiteCalibration:
    p, y = _synthetic(0.1, 1.2, 300, seed=4)
    cal = fit_site_calibration(
        p, y, bundle, data=[{"name": "local.csv", "sha256": "0" * 64, "files": 1}], n_boot=20
    )
    return SiteCalibration(**{**cal.__dict__, **changes})


def test_json_round_trip_and_strict_reading(heart_bundle) -> None:
    cal = _calibration(heart_bundle, created_by="dr.lee")
    data = cal.to_json()
    assert SiteCalibration.from_json(json.loads(json.dumps(data))) == cal
    f1 = SiteCalibration.from_json({**data, "rule": "f1"})  # the rhythm model's af-f1 rule
    assert f1.rule_text == "maximises the F1 of the positive label on the local records"
    for bad, problem in (
        ({**data, "extra": 1}, "unknown field"),
        ({k: v for k, v in data.items() if k != "slope"}, "missing field"),
        ({**data, "slope": "1.2"}, "“slope” must be a finite number"),
        ({**data, "slope": -1.0}, "slope -1 is not positive"),
        ({**data, "n": 1.5}, "“n” must be a whole number"),
        ({**data, "method": "isotonic"}, "method “isotonic”"),
        ({**data, "rule": "whatever"}, "rule “whatever”"),
        ({**data, "threshold": 1.5}, "threshold 1.5"),
        ({**data, "sensitivity": {"value": 0.9, "extra": 1}}, "“sensitivity”"),
        ([1, 2], "not a JSON object"),
    ):
        with pytest.raises(ModelError, match=problem) as err:
            SiteCalibration.from_json(bad)
        assert "stethos-engine models site remove" in err.value.user_message


def test_a_damaged_file_is_refused_cleanly_never_ignored(data_dir: Path, heart_bundle) -> None:
    cal = _calibration(heart_bundle)
    path = site_mod.save(cal)
    assert path.parent == data_dir / "site-calibration"
    assert load_for(heart_bundle) == cal
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot be read"):
        load_for(heart_bundle)
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(HEART)
    (item,) = list_site_calibrations()
    assert item.calibration is None and "cannot be read" in item.problem
    assert [g.path for g in remove_site_calibration(HEART)] == [path]
    assert load_model(HEART).site is None  # type: ignore[attr-defined]


def test_other_weights_of_the_same_version_never_use_it(data_dir: Path, heart_bundle) -> None:
    site_mod.save(_calibration(heart_bundle, weights_sha256="f" * 64))
    assert load_for(heart_bundle) is None
    assert site_calibration_for(HEART) is None
    assert getattr(load_model(HEART), "site", None) is None
    with pytest.raises(ModelError, match="other weights"):
        save_site_calibration(_calibration(heart_bundle, weights_sha256="f" * 64))


def test_describe_data_hashes_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.csv").write_text("1\n")
    (tmp_path / "d" / "sub" / "b.png").write_bytes(b"x")
    (tmp_path / "one.csv").write_text("2\n")
    rows = describe_data([tmp_path / "d", tmp_path / "one.csv"])
    assert [r["files"] for r in rows] == [2, 1]
    assert all(len(r["sha256"]) == 64 for r in rows)
    shutil.copytree(tmp_path / "d", tmp_path / "e")
    assert describe_data([tmp_path / "e"])[0]["sha256"] == rows[0]["sha256"]


# --------------------------------------------------------------------------- in use


def test_evaluate_save_predict_round_trip(data_dir: Path, uci: Path) -> None:
    from engine.validation import evaluate_model

    report = evaluate_model(HEART, uci, n_boot=50, site_calibration=False)
    assert report.site_calibration is None and len(report.scores) == report.n
    bundle = ModelRegistry().open(HEART)
    cal = fit_site_calibration(report.scores, report.outcomes, bundle, created_by="t", n_boot=50)
    path = save_site_calibration(cal)
    assert path.is_file() and site_calibration_for(HEART) == cal

    records, _ = _records(uci)
    model = load_model(HEART)
    raw_model = load_model(HEART, site_calibration=False)
    assert model.site == cal and getattr(raw_model, "site", None) is None  # type: ignore[attr-defined]
    assert raw_model.pipeline is model.pipeline  # type: ignore[attr-defined]
    assert load_model(HEART) is model  # cached
    pred = model.predict(records[0])
    raw = raw_model.predict(records[0])
    note = pred.extra["site_calibration"]["note"]
    assert note == (
        f"Site operating point and calibration, validated on {cal.n} local records "
        f"({cal.created[:10]})"
    )
    assert pred.operating_point == "site" and pred.threshold == cal.threshold
    assert (pred.sensitivity, pred.specificity) == (cal.sensitivity.value, cal.specificity.value)
    assert pred.score == pytest.approx(cal.apply(raw.score))
    assert sum(pred.probabilities.values()) == pytest.approx(1.0)
    assert pred.extra["site_calibration"]["model_score"] == pytest.approx(raw.score)
    assert pred.is_positive == (pred.score >= cal.threshold)
    out = pred.to_json()
    assert out["site_calibration"]["note"] == note and out["operating_point"]["name"] == "site"
    assert model.predict(records[0], operating_point="site").label == pred.label

    # a bundle operating point asked by name: the same decisions, its threshold recalibrated
    names = [op.name for op in bundle.operating_points]
    rows = model.run([model.prepare(r) for r in records[:80]], explain=False)  # type: ignore[attr-defined]
    assert {r.operating_point for r in rows} == {"site"}
    for name in names:
        calibrated = model.run(  # type: ignore[attr-defined]
            [model.prepare(r) for r in records[:80]], explain=False, operating_point=name
        )
        plain = raw_model.run(  # type: ignore[attr-defined]
            [raw_model.prepare(r) for r in records[:80]], explain=False, operating_point=name
        )
        assert [c.label for c in calibrated] == [p.label for p in plain]
        assert calibrated[0].threshold == pytest.approx(
            cal.apply(bundle.operating_point(name).threshold)
        )
        assert calibrated[0].sensitivity == bundle.operating_point(name).sensitivity
    with pytest.raises(ModelError, match="no operating point “nope”"):
        model.predict(records[0], operating_point="nope")
    with pytest.raises(ModelError, match="no site operating point"):
        raw_model.predict(records[0], operating_point="site")

    # evaluate now uses it, and says so; the site point's local Se/Sp are reproduced
    again = evaluate_model(HEART, uci, n_boot=50)
    assert again.site_calibration is not None and again.site_calibration["note"] == note
    assert again.operating_point["name"] == "site"
    assert again.metrics["sensitivity"]["value"] == pytest.approx(cal.sensitivity.value, abs=1e-4)
    assert again.metrics["specificity"]["value"] == pytest.approx(cal.specificity.value, abs=1e-4)
    assert "Site calibration used: " + note in again.to_text()
    assert again.to_json()["site_calibration"]["note"] == note

    # a newly saved calibration takes effect at once (the cache follows the file)
    newer = SiteCalibration(**{**cal.__dict__, "threshold": 0.6})
    save_site_calibration(newer)
    assert load_model(HEART).predict(records[0]).threshold == 0.6
    assert remove_site_calibration(HEART)
    assert load_model(HEART).predict(records[0]).operating_point != "site"


def test_another_version_never_inherits_it(data_dir: Path, tmp_path: Path, heart_bundle) -> None:
    site_mod.save(_calibration(heart_bundle))
    root = tmp_path / "models"
    dst = root / HEART
    shutil.copytree(resource_path("models", HEART), dst)
    manifest = json.loads((dst / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["version"] = "99.0.0"
    data = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    (dst / MANIFEST_NAME).write_bytes(data)
    (dst / "manifest.sha256").write_text(manifest_digest_line(data), encoding="ascii")
    registry = ModelRegistry([(root, "bundled")])
    other = registry.open(HEART)
    assert other.version == "99.0.0" and other.weights_sha256 == heart_bundle.weights_sha256
    assert load_for(other) is None and site_calibration_for(HEART, registry) is None
    model = load_model(HEART, registry)
    assert getattr(model, "site", None) is None
    record = {"age": 63, "sex": 1, "cp": 1, "trestbps": 145, "chol": 233, "fbs": 1,
              "restecg": 2, "thalach": 150, "exang": 0, "oldpeak": 2.3, "slope": 3, "ca": 0,
              "thal": 6}  # fmt: skip
    pred = model.predict(record)
    assert pred.operating_point == other.default_operating_point.name
    assert "site_calibration" not in pred.extra and "site_calibration" not in pred.to_json()
    with pytest.raises(ModelError, match="no site operating point"):
        model.predict(record, operating_point="site")
    # and the shipped version still does
    assert getattr(load_model(HEART), "site", None) is not None


def test_the_runtime_serves_image_models_too(data_dir: Path, registry: ModelRegistry) -> None:
    from tests.engine.models.test_cnn_runner import _phantom

    bundle = registry.open("test-cnn")
    p, y = _synthetic(-0.3, 0.8, 400, seed=5)
    cal = fit_site_calibration(p, y, bundle, n_boot=20)
    assert cal.unit == "images" and "local images" in cal.note
    save_site_calibration(cal, registry=registry)
    pred = load_model("test-cnn", registry, device="cpu").predict(_phantom(), explain=False)
    raw = load_model("test-cnn", registry, device="cpu", site_calibration=False).predict(
        _phantom(), explain=False
    )
    assert pred.operating_point == "site" and pred.extra["site_calibration"]["note"] == cal.note
    assert pred.score == pytest.approx(cal.apply(raw.score))


def test_saving_and_removing_are_audited(data_dir: Path, tmp_path: Path, heart_bundle) -> None:
    from engine.store import KdfParams, create_store

    store, _ = create_store(tmp_path / "s.db", "admin", "admin-password-1", kdf=KdfParams.fast())
    with store:
        cal = _calibration(heart_bundle, created_by="admin")
        save_site_calibration(cal, store=store)
        (entry,) = store.audit_entries(action="site_calibration_saved")
        assert entry.user == "admin" and entry.object_type == "model"
        d = entry.details
        assert (d["model_id"], d["model_version"], d["weights_sha256"]) == (
            HEART,
            heart_bundle.version,
            heart_bundle.weights_sha256,
        )
        assert d["n"] == cal.n and d["threshold"] == cal.threshold and d["data"][0]["files"] == 1
        remove_site_calibration(HEART, store=store)
        (gone,) = store.audit_entries(action="site_calibration_removed")
        assert gone.details["model_version"] == heart_bundle.version
        assert store.verify_audit().ok


def test_a_save_that_cannot_be_audited_is_undone(
    data_dir: Path, tmp_path: Path, heart_bundle
) -> None:
    from engine.errors import StoreError
    from engine.store import KdfParams, create_store

    store, _ = create_store(tmp_path / "s.db", "admin", "admin-password-1", kdf=KdfParams.fast())
    first = _calibration(heart_bundle)
    save_site_calibration(first, store=store)
    store.close()
    with pytest.raises(StoreError):
        save_site_calibration(SiteCalibration(**{**first.__dict__, "threshold": 0.7}), store=store)
    assert site_calibration_for(HEART) == first
    with pytest.raises(StoreError):
        remove_site_calibration(HEART, store=store)
    assert site_calibration_for(HEART) == first


def test_the_cli_refuses_the_beat_model_before_evaluating(data_dir: Path, tmp_path: Path, capsys):
    from engine.cli import EXIT_ERROR, main

    code = main(["evaluate", "--model", BEATS, str(tmp_path), "--save-site-calibration"])
    assert code == EXIT_ERROR
    assert "per-beat classes" in capsys.readouterr().err

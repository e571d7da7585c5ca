"""Shapley contributions for trees and SVMs on the real UCI heart data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.explain.tabular import shapley_values
from engine.records import HEART_RECORD
from engine.records.uci import read_uci_heart


@pytest.fixture(scope="module")
def heart(shared_data: Path):
    return read_uci_heart(shared_data / "tabular" / "uci-heart" / "processed.cleveland.data")


def _pipeline(clf):
    from engine.train.heart import build_pipeline

    p = build_pipeline()
    p.steps[-1] = ("clf", clf)
    return p


def _forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=25, max_depth=4, random_state=0)


def _svm():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    return CalibratedClassifierCV(SVC(random_state=0), ensemble=False, cv=3)


@pytest.mark.parametrize("make", [_forest, _svm], ids=["random-forest", "svm"])
def test_contributions_add_up_to_the_prediction(heart, make) -> None:
    X, y = heart
    model = _pipeline(make()).fit(X, y)

    def f(rows):
        return model.predict_proba(rows)[:, 1]

    background = X[::40]  # 8 training records
    for i in (0, 1, 87):  # row 87 has a missing value (imputed inside the pipeline)
        r = shapley_values(f, X[i], background)
        assert r.exact
        assert r.values.shape == (13,)
        assert r.output == pytest.approx(f(X[i : i + 1])[0])
        assert r.base_value == pytest.approx(f(background).mean())
        assert r.values.sum() == pytest.approx(r.output - r.base_value, abs=1e-9)


def test_shapley_equals_exact_linear_contributions(heart) -> None:
    """For a linear model on the log-odds scale: φ_j = w_j (x_j − mean_background_j)."""
    from sklearn.linear_model import LogisticRegression

    X, y = heart
    cols = [HEART_RECORD.names.index(n) for n in ("age", "trestbps", "chol", "thalach")]
    Xn = X[:, cols]
    lr = LogisticRegression(max_iter=1000).fit(Xn, y)
    background = Xn[::10]
    r = shapley_values(lambda rows: lr.decision_function(rows), Xn[5], background)
    expected = lr.coef_[0] * (Xn[5] - background.mean(axis=0))
    assert np.allclose(r.values, expected, atol=1e-9)


def test_grouped_fields_and_permutation_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.explain.tabular as tab

    rng = np.random.default_rng(0)
    w = rng.normal(size=6)

    def f(rows):
        return rows @ w + 0.5 * rows[:, 0] * rows[:, 3]

    x, bg = rng.normal(size=6), rng.normal(size=(10, 6))
    groups = [[0, 1], [2], [3, 4, 5]]
    exact = shapley_values(f, x, bg, groups)
    assert exact.values.shape == (3,)
    monkeypatch.setattr(tab, "EXACT_MAX_PLAYERS", 2)
    sampled = shapley_values(f, x, bg, groups, n_permutations=400)
    assert not sampled.exact
    assert sampled.values.sum() == pytest.approx(exact.values.sum(), abs=1e-9)
    assert np.allclose(sampled.values, exact.values, atol=0.05)


def test_forest_bundle_explains_records_with_units(heart, tmp_path: Path) -> None:
    """A tree-ensemble bundle (skops, trusted types) with Shapley contributions per field."""
    from engine.api import analyze_record
    from engine.models.authoring import write_bundle
    from engine.models.registry import ModelRegistry
    from tests.engine.models.factory import estimate

    X, y = heart
    model = _pipeline(_forest()).fit(X, y)
    background = [[None if np.isnan(v) else float(v) for v in row] for row in X[::40]]
    manifest = {
        "id": "heart-forest-test", "version": "0.1.0", "kind": "sklearn",
        "task": "binary-classification", "name": "Test forest",
        "intended_use": "Exercising tree explanations in tests; not for clinical use.",
        "contraindications": ["any clinical use"],
        "inputs": {"type": "record", "schema": HEART_RECORD.name,
                   "fields": [{"name": f.name, "label": f.label} for f in HEART_RECORD.fields]},
        "outputs": {"labels": ["no disease", "disease"], "positive_label": "disease",
                    "exclusive": True, "calibrated": False, "calibration": {"method": "none"}},
        "operating_points": [{"name": "balanced", "threshold": 0.5, "sensitivity": estimate(0.8),
                              "specificity": estimate(0.8), "rationale": "test"}],
        "default_operating_point": "balanced", "metrics": {"auroc": estimate(0.9)},
        "training_data": {"name": "UCI Cleveland", "source": "UCI", "licence": "CC BY 4.0",
                          "citation": "Janosi et al. 1988"},
        "limitations": ["test"], "licence": "test", "requirements": {"scikit-learn": ">=1.6"},
        "gates": {},
        "explanation": {"method": "shapley-exact", "background": background},
    }  # fmt: skip
    write_bundle(tmp_path, manifest, pipeline=model)
    record = dict(zip(HEART_RECORD.names, X[0].tolist(), strict=True))
    pred = analyze_record("heart-forest-test", record, registry=ModelRegistry([(tmp_path, "u")]))
    assert pred.extra["contribution_units"] == "probability"
    total = sum(c.contribution for c in pred.contributions)
    assert total == pytest.approx(pred.score - pred.extra["base_value"], abs=1e-9)
    by_name = {c.name: c for c in pred.contributions}
    assert by_name["age"].unit == "years" and by_name["age"].value == "63 years"
    assert by_name["chol"].raw_value == 233.0
    assert pred.explanation_method == "shapley-exact"

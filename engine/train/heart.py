"""Heart-disease risk from the record: train, cross-validate and bundle.

Reproduce with ``stethos-engine train heart`` (seeded; same data and seed give
the same coefficients). The pipeline imputes inside itself, so imputation is
fitted within every cross-validation fold.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from engine.models.bundle import write_manifest
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.records.schema import HEART_RECORD
from engine.records.uci import read_uci_heart
from engine.train import metrics as M
from engine.train.data import shared_data_dir

MODEL_ID = "heart-disease-logreg-13"
MODEL_VERSION = "1.0.0"
NUMERIC = ["age", "trestbps", "chol", "thalach", "oldpeak", "ca"]
CATEGORICAL = ["sex", "cp", "fbs", "restecg", "exang", "slope", "thal"]
TARGET_SENSITIVITY = 0.90


def build_pipeline(seed: int = 0):
    """The scikit-learn pipeline: impute → scale / one-hot → logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    names = list(HEART_RECORD.names)
    num_idx = [names.index(n) for n in NUMERIC]
    cat_idx = [names.index(n) for n in CATEGORICAL]
    pre = ColumnTransformer(
        [
            (
                "num",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                num_idx,
            ),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
                    ]
                ),
                cat_idx,
            ),
        ]
    )
    clf = LogisticRegression(C=0.3, max_iter=2000, random_state=seed)
    return Pipeline([("pre", pre), ("clf", clf)])


def column_owners(pipeline) -> list[str]:
    """Record field behind each transformed column, in column order."""
    pre = pipeline.named_steps["pre"]
    owners = list(NUMERIC)
    onehot = pre.named_transformers_["cat"].named_steps["onehot"]
    for name, cats in zip(CATEGORICAL, onehot.categories_, strict=True):
        owners.extend([name] * len(cats))
    return owners


@dataclass(frozen=True)
class CVResult:
    """Out-of-fold predictions averaged over repeats, and per-repeat AUROCs."""

    oof: np.ndarray
    repeat_auroc: np.ndarray


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    *,
    repeats: int = 10,
    folds: int = 10,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> CVResult:
    """Repeated stratified k-fold; each patient is one row, so folds split by patient."""
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros((repeats, len(y)))
    for r in range(repeats):
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed + r)
        for train, test in skf.split(X, y):
            check_cancelled(cancel)
            model = build_pipeline(seed).fit(X[train], y[train])
            oof[r, test] = model.predict_proba(X[test])[:, 1]
        progress((r + 1) / (repeats + 1), f"Cross-validation repeat {r + 1}/{repeats}")
    aucs = np.array([M.auroc(y, oof[r]) for r in range(repeats)])
    return CVResult(oof=oof.mean(axis=0), repeat_auroc=aucs)


def _estimate(value: float, ci: tuple[float, float]) -> dict[str, Any]:
    return {"value": round(float(value), 4), "ci95": [round(ci[0], 4), round(ci[1], 4)]}


def _point(name: str, y, p, threshold: float, rationale: str) -> dict[str, Any]:
    se, sp = M.sens_spec(y, p, threshold)
    yb = np.asarray(y).astype(bool)
    pred = np.asarray(p) >= threshold
    se_ci = M.wilson_ci(int((pred & yb).sum()), int(yb.sum()))
    sp_ci = M.wilson_ci(int((~pred & ~yb).sum()), int((~yb).sum()))
    return {
        "name": name,
        "threshold": round(float(threshold), 6),
        "sensitivity": _estimate(se, se_ci),
        "specificity": _estimate(sp, sp_ci),
        "rationale": rationale,
    }


def evaluate(X: np.ndarray, y: np.ndarray, cv: CVResult, seed: int = 0) -> dict[str, Any]:
    """Metrics, operating points, calibration and subgroups from out-of-fold predictions."""
    p = cv.oof
    auc = M.auroc(y, p)
    auc_ci = M.bootstrap_ci(M.auroc, y, p, seed=seed)
    t_sens = M.threshold_for_sensitivity(y, p, TARGET_SENSITIVITY)
    t_youden = M.youden_threshold(y, p)
    ops = [
        _point(
            "high-sensitivity",
            y,
            p,
            t_sens,
            f"Highest threshold with ≥ {TARGET_SENSITIVITY:.0%} sensitivity on out-of-fold "
            "predictions: a risk flag should rarely miss disease; a positive calls for work-up, "
            "not a diagnosis.",
        ),
        _point("balanced", y, p, t_youden, "Maximises Youden's J (sensitivity + specificity − 1)."),
    ]
    acc = float(((p >= t_sens) == y.astype(bool)).mean())
    names = list(HEART_RECORD.names)
    sex = X[:, names.index("sex")]
    age = X[:, names.index("age")]
    subgroups = {}
    for label, mask in (
        ("female", sex == 0),
        ("male", sex == 1),
        ("age < 55", age < 55),
        ("age ≥ 55", age >= 55),
    ):
        subgroups[label] = {
            "n": int(mask.sum()),
            "prevalence": round(float(y[mask].mean()), 3),
            "auroc": _estimate(
                M.auroc(y[mask], p[mask]), M.bootstrap_ci(M.auroc, y[mask], p[mask], seed=seed)
            ),
        }
    return {
        "metrics": {
            "auroc": _estimate(auc, auc_ci),
            "auroc_mean_of_repeats": {
                "value": round(float(cv.repeat_auroc.mean()), 4),
                "ci95": [
                    round(float(np.min(cv.repeat_auroc)), 4),
                    round(float(np.max(cv.repeat_auroc)), 4),
                ],
            },
            "accuracy_at_high_sensitivity": _estimate(
                acc, M.wilson_ci(round(acc * len(y)), len(y))
            ),
            "brier": {"value": round(float(np.mean((p - y) ** 2)), 4)},
            "ece": {"value": round(M.expected_calibration_error(y, p), 4)},
        },
        "operating_points": ops,
        "reliability": M.reliability_table(y, p),
        "subgroups": subgroups,
        "n": len(y),
        "prevalence": round(float(y.mean()), 4),
    }


def _card(manifest: dict[str, Any], ev: dict[str, Any]) -> str:
    m = ev["metrics"]
    lines = [
        f"# Model card — {manifest['name']}",
        "",
        f"**Id** `{manifest['id']}` · **Version** {manifest['version']} · **Kind** scikit-learn pipeline",
        "",
        "## Intended use",
        manifest["intended_use"],
        "",
        f"Intended users: {manifest['intended_users']}",
        "",
        "**This model supports, and does not replace, clinical judgement.**",
        "",
        "Do not use it for: " + "; ".join(manifest["contraindications"]) + ".",
        "",
        "## Data",
        f"{manifest['training_data']['name']} — {manifest['training_data']['source']}.",
        f"Licence: {manifest['training_data']['licence']}. Citation: {manifest['training_data']['citation']}.",
        f"{ev['n']} patients, prevalence of disease (num > 0) {ev['prevalence']:.1%}.",
        "",
        "## Validation",
        manifest["validation"]["design"],
        "",
        "| metric | value | 95 % CI |",
        "|---|---|---|",
    ]
    for key, est in m.items():
        ci = est.get("ci95")
        lines.append(
            f"| {key} | {est['value']:.3f} | {f'{ci[0]:.3f}–{ci[1]:.3f}' if ci else '—'} |"
        )
    lines += [
        "",
        "### Operating points",
        "",
        "| name | threshold | sensitivity | specificity | why |",
        "|---|---|---|---|---|",
    ]
    for op in ev["operating_points"]:
        se, sp = op["sensitivity"], op["specificity"]
        lines.append(
            f"| {op['name']} | {op['threshold']:.3f} | {se['value']:.2f} ({se['ci95'][0]:.2f}–{se['ci95'][1]:.2f}) "
            f"| {sp['value']:.2f} ({sp['ci95'][0]:.2f}–{sp['ci95'][1]:.2f}) | {op['rationale']} |"
        )
    lines += [
        "",
        f"The default is **{ev['operating_points'][0]['name']}**.",
        "",
        "### Subgroups (out-of-fold AUROC)",
        "",
        "| group | n | prevalence | AUROC (95 % CI) |",
        "|---|---|---|---|",
    ]
    for name, g in ev["subgroups"].items():
        a = g["auroc"]
        lines.append(
            f"| {name} | {g['n']} | {g['prevalence']:.2f} | {a['value']:.3f} ({a['ci95'][0]:.3f}–{a['ci95'][1]:.3f}) |"
        )
    lines += [
        "",
        "### Calibration (reliability, out-of-fold)",
        "",
        "| bin | mean predicted | observed | n |",
        "|---|---|---|---|",
    ]
    for r in ev["reliability"]:
        lines.append(
            f"| {r['bin_low']:.1f}–{r['bin_high']:.1f} | {r['mean_predicted']:.2f} | {r['observed']:.2f} | {r['n']} |"
        )
    lines += [
        "",
        "## Limitations",
        *[f"- {x}" for x in manifest["limitations"]],
        "",
        "## Explanation",
        "Per-feature contributions are exact for this linear model: the change in "
        "log-odds relative to the average training patient.",
        "",
        "## Reproduce",
        f"`{manifest['training_command']}`",
        "",
    ]
    return "\n".join(lines)


def train_heart(
    out_dir: str | Path,
    *,
    data_path: str | Path | None = None,
    seed: int = 0,
    repeats: int = 10,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Train, validate and write the heart-disease bundle into ``out_dir/MODEL_ID``."""
    import skops.io as sio

    path = (
        Path(data_path)
        if data_path
        else (shared_data_dir() / "tabular" / "uci-heart" / "processed.cleveland.data")
    )
    X, y = read_uci_heart(path)
    progress(0.0, "Cross-validating")
    cv = cross_validate(X, y, repeats=repeats, seed=seed, progress=progress, cancel=cancel)
    ev = evaluate(X, y, cv, seed=seed)
    check_cancelled(cancel)
    final = build_pipeline(seed).fit(X, y)
    z = final[:-1].transform(X)
    manifest: dict[str, Any] = {
        "schema_version": 1,
        "id": MODEL_ID,
        "version": MODEL_VERSION,
        "kind": "sklearn",
        "task": "binary-classification",
        "name": "Heart-disease risk from the clinical record (logistic regression)",
        "intended_use": (
            "Estimate, for an adult with chest pain being evaluated for coronary artery disease, "
            "the probability of angiographic disease (> 50 % narrowing of a major vessel) from 13 "
            "routine clinical and exercise-test findings, to help prioritise further work-up."
        ),
        "intended_users": "Physicians and clinical staff trained to interpret cardiac risk estimates.",
        "contraindications": [
            "children or adolescents",
            "acute coronary syndrome or emergency triage",
            "patients without an exercise test (the model needs its findings)",
            "as the sole basis for a diagnosis or to withhold treatment",
        ],
        "inputs": {
            "type": "record",
            "schema": HEART_RECORD.name,
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "unit": f.unit,
                    "minimum": f.minimum,
                    "maximum": f.maximum,
                    "optional": f.optional,
                }
                for f in HEART_RECORD.fields
            ],
        },
        "outputs": {
            "labels": ["no disease", "disease"],
            "positive_label": "disease",
            "exclusive": True,
            "calibrated": False,
        },
        "operating_points": ev["operating_points"],
        "metrics": ev["metrics"],
        "validation": {
            "design": (
                f"{repeats}×10 repeated stratified cross-validation by patient (one row per patient); "
                "imputation and scaling fitted inside each fold. AUROC CI: 2000-sample patient "
                "bootstrap of out-of-fold probabilities averaged over repeats. Se/Sp CIs: Wilson."
            ),
            "subgroups": ev["subgroups"],
            "reliability": ev["reliability"],
            "n": ev["n"],
            "prevalence": ev["prevalence"],
            "seed": seed,
        },
        "training_data": {
            "name": "UCI Heart Disease — Cleveland Clinic Foundation (processed.cleveland.data)",
            "source": "UCI Machine Learning Repository; collected 1981–1984, published 1988",
            "licence": "CC BY 4.0",
            "citation": (
                "Janosi A, Steinbrunn W, Pfisterer M, Detrano R. Heart Disease. UCI Machine "
                "Learning Repository (1988). doi:10.24432/C52P4X"
            ),
            "n_patients": len(y),
        },
        "limitations": [
            "Trained on 303 patients from one US centre referred for angiography in the 1980s; "
            "disease prevalence (46 %) is far higher than in primary care, so absolute risks are "
            "overestimated elsewhere.",
            "Only 97 women; subgroup estimates are imprecise.",
            "Exercise-test findings (max heart rate, ST depression, slope, angina) are required; "
            "fluoroscopy vessels and thallium results may be missing and are then imputed.",
            "Probabilities are not recalibrated; read them as a ranking of risk, and use the "
            "operating point rather than 0.5.",
            "Not validated on other hospitals' data in this release.",
        ],
        "licence": "Model weights: proprietary to the Stethos project; training data CC BY 4.0.",
        "requirements": {
            "scikit-learn": f"=={metadata.version('scikit-learn')}",
            "skops": f">={metadata.version('skops').rsplit('.', 1)[0]}",
        },
        "files": {},
        "weights": "model.skops",
        "card": "card.md",
        "explanation": {
            "method": "linear-exact",
            "baseline": [round(float(v), 10) for v in z.mean(axis=0)],
            "column_owner": column_owners(final),
        },
        "training_command": f"stethos-engine train heart --seed {seed}",
        "created": _dt.date.today().isoformat(),
    }
    out = Path(out_dir) / MODEL_ID
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".heart-", dir=Path(out_dir)))
    tmp.chmod(0o755)
    try:
        sio.dump(final, tmp / "model.skops")
        (tmp / "card.md").write_text(_card(manifest, ev), encoding="utf-8")
        (tmp / "validation.json").write_text(
            json.dumps(
                {"oof_probability": [round(float(v), 6) for v in cv.oof], "y": [int(v) for v in y]}
            )
            + "\n",
            encoding="utf-8",
        )
        write_manifest(tmp, manifest)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress(1.0, "Bundle written")
    return out

"""``stethos-engine train rhythm``: the rhythm model's bundle, card and validation record.

Design D of docs/experiments/rhythm-af-plan.md (design A, as written before
any result, with generic descriptors added by the variant D plan): rhythm
features, a histogram gradient-boosting classifier, 10-fold
cross-validation by recording on CinC 2017 with the AF threshold fitted
inside each fold (nested), and an out-of-source check of the shipped bundle,
through the app's own runtime, in windows on MIT-BIH records 201 and 203.
"""

from __future__ import annotations

import datetime as _dt
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from engine.ecg.qrs import SAMPLING_RATE_GATE
from engine.ecg.rhythm_features import FEATURES
from engine.progress import CancelToken, Progress, no_progress, sub_progress
from engine.train.data import shared_data_dir
from engine.train.model_texts import with_translations
from engine.train.rhythm import (
    AF,
    CLASSES,
    af_threshold,
    class_f1,
    confusion,
    cross_validate,
    fit_classifier,
    overlap,
    read_cinc,
    reference_af,
)
from engine.train.rhythm_report_check import check_records, report_check

MODEL_ID = "ecg-rhythm-features-300"
#: 1.1.1: 1.1.0 re-saved without unread node fields; 1.1.0: design D; 1.0.1: deflated
VERSION = "1.1.1"
LONG_RECORDS = ("201", "203")
LEADS = ("II", "MLII", "I", "ECG", "ECG1", "ECG2")
PREPROCESSING = {
    "features": list(FEATURES),
    "lead_preference": list(LEADS),
    "short_max_s": 65.0,
    "window_s": 30.0,
    "step_s": 10.0,
    "min_episode_s": 30.0,
    "chunk_s": 600.0,
}
N_BOOT = 1000


def _boot_ci(y: np.ndarray, decided: np.ndarray, metric: str, seed: int = 0) -> list[float]:
    """95 % bootstrap interval (by recording) of an AF-against-the-rest figure."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(N_BOOT):
        i = rng.integers(0, len(y), len(y))
        v = class_f1(y[i], decided[i])["af_vs_rest"][metric]
        if v is not None:
            vals.append(v)
    return [round(float(np.percentile(vals, 2.5)), 4), round(float(np.percentile(vals, 97.5)), 4)]


def _est(value: float | None, ci: list[float] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"value": round(float(value if value is not None else -1.0), 4)}
    if ci is not None:
        out["ci95"] = ci
    return out


def long_record_check(bundle_path: Path, mitdb: Path) -> dict[str, Any]:
    """AF episodes found by the bundle, through the app's runtime, on MIT-BIH 201 and 203."""
    from engine.ecg import read_signal
    from engine.models.bundle import open_bundle
    from engine.models.loader import load_runner

    runner = load_runner(open_bundle(bundle_path))
    per, ref_t, det_t, hit_t = {}, 0.0, 0.0, 0.0
    for name in LONG_RECORDS:
        header = mitdb / f"{name}.hea"
        sig = read_signal(header)
        started = time.perf_counter()
        pred = runner.predict(header, explain=False)
        seconds = time.perf_counter() - started
        found = [(e["start"], e["end"]) for e in pred.extra["rhythm"]["episodes"]]
        ref = reference_af(sig.annotations, float(sig.fs), sig.data.shape[1])
        hit = overlap(ref, found)
        r_d, f_d = sum(b - a for a, b in ref), sum(b - a for a, b in found)
        per[name] = {
            "reference_af_s": round(r_d, 1),
            "detected_af_s": round(f_d, 1),
            "overlap_s": round(hit, 1),
            "episodes": len(found),
            "reference_episodes": len(ref),
            "seconds": round(seconds, 2),
            "lead": pred.extra["lead"],
        }
        ref_t, det_t, hit_t = ref_t + r_d, det_t + f_d, hit_t + hit
    return {
        "records": per,
        "sensitivity": round(hit_t / ref_t, 4) if ref_t else None,
        "positive_predictivity": round(hit_t / det_t, 4) if det_t else None,
    }


def _manifest(
    threshold: float,
    cv: dict[str, Any],
    y: np.ndarray,
    decided: np.ndarray,
    background: dict[str, float],
) -> dict[str, Any]:
    af = cv["af_vs_rest"]
    se = _est(af["sensitivity"], _boot_ci(y, decided, "sensitivity"))
    sp = _est(af["specificity"], _boot_ci(y, decided, "specificity"))
    return {
        "id": MODEL_ID,
        "version": VERSION,
        "kind": "sklearn",
        "task": "rhythm-classification",
        "name": "Heart rhythm on ECG: normal, atrial fibrillation, other, noisy (rhythm features, "
        "gradient boosting)",
        "intended_use": "Classify the rhythm of a single-lead ECG — a 9–60 s handheld recording "
        "(lead I-like) or lead II/MLII/I of a resting or ambulatory recording — as normal sinus "
        "rhythm, atrial fibrillation or flutter (AF), another rhythm, or too noisy to classify; "
        "on recordings longer than a minute, find AF episodes and the AF burden and summarise "
        "heart rate, pauses and ectopic beats, to help a clinician read the rhythm.",
        "intended_users": "Cardiologists, physicians and ECG technicians.",
        "contraindications": [
            "paced rhythms (the training recordings are not marked as paced; pacing spikes are "
            "not recognised)",
            "ventricular flutter or fibrillation, and any emergency: this is not an alarm",
            "children (the training recordings are from adults' handheld devices)",
            "as the sole basis for a diagnosis of AF or for anticoagulation",
        ],
        "inputs": {"type": "signal", "signal": {"leads": list(LEADS), "fs": 300.0, "units": "mV"}},
        "outputs": {
            "labels": list(CLASSES),
            "positive_label": "AF",
            "exclusive": True,
            "calibrated": False,
            "calibration": {"method": "none"},
        },
        "operating_points": [
            {
                "name": "af-f1",
                "threshold": threshold,
                "sensitivity": se,
                "specificity": sp,
                "rationale": "AF is called when P(AF) reaches the threshold that maximises the F1 "
                "of AF against everything else on the cross-validated outputs; otherwise the most "
                "probable class. Sensitivity and specificity are for AF against the rest, with the "
                "threshold fitted inside each fold's training recordings (nested).",
            }
        ],
        "default_operating_point": "af-f1",
        "metrics": {
            "af_f1": _est(af["f1"], _boot_ci(y, decided, "f1")),
            "af_sensitivity": se,
            "af_ppv": _est(
                af["positive_predictivity"], _boot_ci(y, decided, "positive_predictivity")
            ),
            "af_specificity": sp,
            "challenge_f1": _est(cv["challenge_f1"]),
            **{f"{c}_f1": _est(cv[c]["f1"]) for c in CLASSES if c != "AF"},
        },
        "training_data": {
            "name": "PhysioNet/CinC Challenge 2017 training recordings (8,228 single-lead AliveCor "
            "ECGs, 300 Hz; the 300 official validation recordings excluded)",
            "source": "PhysioNet",
            "licence": "ODC-By 1.0",
            "citation": "Clifford GD et al. AF classification from a short single lead ECG "
            "recording: the PhysioNet/Computing in Cardiology Challenge 2017. CinC 2017, "
            "doi:10.22489/CinC.2017.065-469.",
        },
        "limitations": [
            "The recordings carry no patient identifiers: a patient with several recordings can "
            "fall on both sides of a fold, so the cross-validated figures may be optimistic.",
            f"AF against the rest reaches F1 {af['f1']:.2f} in cross-validation, below the 0.85 "
            "this model was asked to reach; most errors are between AF and 'other' rhythms "
            "(premature beats, flutter with variable block, noisy sinus rhythm).",
            "The 'noisy' class is rare (244 recordings) and its F1 is low: a noisy recording is "
            "often called 'normal' or 'other'.",
            "On long recordings, episodes shorter than 30 s are not reported and gaps under 30 s "
            "are joined; onset and offset come from 30-s windows every 10 s: on MIT-BIH 201's "
            "three AF episodes they lay 3 to 19 s from the annotated ones.",
            "Ectopic counts come from the beat model named in the report, with its own "
            "limitations (supraventricular beats in particular).",
        ],
        "licence": "Model weights: Stethos project; training data ODC-By 1.0 (attribution above).",
        "requirements": {
            "scikit-learn": f"=={metadata.version('scikit-learn')}",
            "skops": ">=0.16",
        },
        "preprocessing": PREPROCESSING,
        "gates": {
            "sampling_rate": dict(SAMPLING_RATE_GATE),
            "leads": {
                "allowed": list(LEADS),
                "action": "refuse",
                "message": "The model reads one limb lead (I, II, MLII) or a handheld "
                "single lead named ECG.",
            },
            "duration_s": {
                "min": 9,
                "action": "refuse",
                "message": "The model needs at least 9 s of ECG.",
            },
        },
        "explanation": {"method": "feature-ablation", "background": background},
        "companions": {"ectopy": "ecg-beats-bilstm-360"},
        "training_command": "stethos-engine train rhythm",
        "created": _dt.date.today().isoformat(),
    }


def _shipped_notebook(model_id: str) -> dict[str, Any]:
    """The design experiments in the shipped bundle's validation record (none: {})."""
    from engine.resources import resource_path
    from engine.train.card import carried_notebook

    folder = resource_path("models", model_id)
    return carried_notebook(folder) if (folder / "validation.json").is_file() else {}


def train_rhythm(
    out_dir: str | Path,
    *,
    data_root: str | Path | None = None,
    cache: str | Path | None = None,
    seed: int = 0,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Cross-validate, fit and write the rhythm bundle; return its folder."""
    from engine.models.authoring import update_bundle, write_bundle

    started = time.perf_counter()
    # The designs compared were run once, outside this command: carried over from the shipped
    # bundle's record (read before the new bundle may replace it).
    notebook = _shipped_notebook(MODEL_ID)
    root = Path(data_root) if data_root else shared_data_dir() / "ecg" / "cinc2017-train"
    mitdb = root.parent / "mitdb"
    table = read_cinc(
        root,
        cache=Path(cache) if cache else None,
        progress=sub_progress(progress, 0.0, 0.5),
        cancel=cancel,
    )
    X, y = table.X, table.y
    p, decided, thresholds = cross_validate(
        X, y, seed=seed, cancel=cancel, progress=sub_progress(progress, 0.5, 0.85)
    )
    cv = class_f1(y, decided)
    threshold = af_threshold(p[:, AF], y == AF)
    progress(0.85, "Fitting the rhythm model on every recording")
    model = fit_classifier(X, y, seed)
    background = {f: round(float(np.nanmedian(X[:, i])), 6) for i, f in enumerate(FEATURES)}
    manifest = _manifest(threshold, cv, y, decided, background)
    path = write_bundle(out_dir, with_translations(manifest), pipeline=model)
    progress(0.9, "Checking AF episodes on MIT-BIH 201 and 203")
    long = long_record_check(path, mitdb)
    progress(0.93, "Checking the report's heart rate and pauses against the annotators' beats")
    checked = report_check(path, check_records(mitdb, root.parent / "svdb"), cancel=cancel)
    validation = {
        "design": "10-fold stratified cross-validation by recording on the 8,228 CinC 2017 "
        "training recordings (folds drawn once, seed 0); in each fold the AF threshold is "
        "fitted by 3-fold cross-validation inside the training recordings (nested), so no test "
        "recording chose it. Features: design A's 22 named rhythm features and 57 generic "
        "descriptors (design D, chosen over A by the rule fixed before its run: AF F1 at least "
        "0.01 higher in this cross-validation; docs/experiments/rhythm-af-plan.md).",
        "cross_validation": cv,
        "confusion": confusion(y, decided),
        "fold_thresholds": thresholds,
        "shipped_threshold": threshold,
        "long_records": long,
        "report_check": checked,
        "n_recordings": len(y),
        "seconds": round(time.perf_counter() - started, 1),
        **notebook,
    }

    def edit(m: dict[str, Any]) -> dict[str, Any]:
        m["metrics"]["long_af_sensitivity"] = _est(long["sensitivity"])
        m["metrics"]["long_af_ppv"] = _est(long["positive_predictivity"])
        m["validation"] = {
            "design": validation["design"],
            "design_short": "10-fold CV by recording, CinC 2017",
        }
        return m

    from engine.train.card import refresh_bundle, validation_bytes

    update_bundle(path, {"validation.json": validation_bytes(validation)}, edit=edit)
    refresh_bundle(path)  # the card, from the final manifest and the validation record
    progress(1.0, "Done")
    return path

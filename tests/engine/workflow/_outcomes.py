"""Analysis outcomes for the workflow tests.

The record outcome comes from the shipped logistic-regression record model (fast); image and
ECG outcomes are that prediction given another model's identity and
explanation, so that no image or beat model has to run.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from engine.models.results import BeatResult, Contribution, Prediction
from engine.workflow import AnalysisOutcome, InputRef, analyze

HEART = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip
#: The contributions the record outcome shows (fixed, for the summary's wording).
CONTRIBUTIONS = (
    Contribution("thal", "Thallium stress test", "Fixed defect", 0.9),
    Contribution("ca", "", "0", -0.4),
    Contribution("age", "Age", "63", 0.1),
    Contribution("chol", "Serum cholesterol", "233", 0.05),
)


@cache
def _record_prediction() -> Prediction:
    return analyze(HEART, model_id="heart-disease-logreg-13", device="cpu").prediction


def _by(model_id: str, version: str, probabilities: dict[str, float], **extra) -> Prediction:
    """The record prediction as if ``model_id`` had made it (its top label positive)."""
    label = max(probabilities, key=probabilities.__getitem__)
    return replace(
        _record_prediction(), model_id=model_id, model_version=version, contributions=(),
        probabilities=probabilities, positive_label=label, label=label,
        **{"explanation_method": "", **extra},
    )  # fmt: skip


def record_outcome(values: dict | None = None) -> AnalysisOutcome:
    p = replace(_record_prediction(), contributions=CONTRIBUTIONS)
    return AnalysisOutcome(p, InputRef("record"), dict(values or HEART))


def image_outcome(path: str | Path, study_uid: str = "1.2.3") -> AnalysisOutcome:
    heat = np.zeros((128, 200), dtype=np.float32)
    heat[:64, :100] = 1.0  # the top-left quarter
    p = _by("cxr-pneumonia-resnet18-128", "1.2.0", {"normal": 0.2, "pneumonia": 0.8},
            heatmap=heat, explanation_method="grad-cam")  # fmt: skip
    return AnalysisOutcome(p, InputRef("image", path=str(path), study_instance_uid=study_uid))


def ecg_outcome(path: str | Path, lead: str = "II") -> AnalysisOutcome:
    beats = (BeatResult(100, "N", {"N": 0.9, "V": 0.1}), BeatResult(400, "V", {"N": 0.2, "V": 0.8}))
    p = _by("ecg-beats-lstm", "3.6.1", {"N": 0.4, "V": 0.6}, beats=beats)
    return AnalysisOutcome(p, InputRef("signal", path=str(path), lead=lead))


def withheld_image_outcome(path: str | Path, study_uid: str = "1.2.3") -> AnalysisOutcome:
    """An image result the model withheld: out of domain, no label, probabilities for audit."""
    outcome = image_outcome(path, study_uid)
    p = outcome.prediction
    extra = {**p.extra, "domain_score": 33.7, "domain_threshold": 29.5, "out_of_domain": True,
             "withheld_label": p.label}  # fmt: skip
    return replace(outcome, prediction=replace(p, label="", extra=extra))

"""Results for the store tests: a model Prediction as a ResultInput, and a fake result.

The product converts predictions in its workflow layer (the store does not
know model objects); this reproduces that conversion for the tests, with the
explanation summary the store used to derive itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.models.results import Prediction
from engine.store import ResultInput
from tests.engine.store._helpers import fake_prediction


def explanation_summary(prediction: Prediction) -> str:
    """The three largest contributions, ``"{label or name} = {value} ({contribution:+.2f})"``.

    Joined by ``"; "`` and prefixed by ``"{explanation_method}: "`` when the
    prediction names its method.
    """
    top = sorted(prediction.contributions, key=lambda c: -abs(float(c.contribution)))[:3]
    summary = "; ".join(
        f"{c.label or c.name} = {c.value} ({float(c.contribution):+.2f})" for c in top
    )
    method = prediction.explanation_method
    if method:
        summary = f"{method}: {summary}" if summary else method
    return summary


def result_input(
    prediction: Prediction,
    *,
    positive_label: str | None = None,
    model_name: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> ResultInput:
    """``prediction`` as the store saves it (``payload`` defaults to its ``to_json()``)."""
    return ResultInput(
        model_id=prediction.model_id,
        model_version=prediction.model_version,
        model_name=model_name or prediction.model_name,
        weights_sha256=prediction.weights_sha256,
        input_hash=prediction.input_hash,
        label=prediction.label,
        probabilities=dict(prediction.probabilities),
        positive_label=positive_label or prediction.positive_label,
        operating_point=prediction.operating_point,
        threshold=prediction.threshold,
        sensitivity=prediction.sensitivity,
        specificity=prediction.specificity,
        device=prediction.device,
        elapsed_ms=prediction.elapsed_ms,
        explanation_summary=explanation_summary(prediction),
        payload=prediction.to_json() if payload is None else payload,
    )


def fake_result(
    label: str = "disease",
    score: float = 0.8,
    version: str = "1.0.0",
    *,
    positive_label: str | None = "disease",
) -> ResultInput:
    """A result of the fake heart model, its payload as :func:`fake_prediction` writes it."""
    doc = fake_prediction(label, score, version)
    op = doc["operating_point"]
    return ResultInput(
        model_id=doc["model"],
        model_version=doc["version"],
        model_name="",
        weights_sha256=doc["weights_sha256"],
        input_hash=doc["input_hash"],
        label=doc["label"],
        probabilities=doc["probabilities"],
        positive_label=positive_label,
        operating_point=op["name"],
        threshold=op["threshold"],
        sensitivity=op["sensitivity"],
        specificity=op["specificity"],
        device=doc["device"],
        elapsed_ms=doc["elapsed_ms"],
        payload=doc,
    )

"""Results for the store tests: a model Prediction as a ResultInput, and a fake result.

The product converts predictions in its workflow layer (the store does not
know model objects); the tests use that same conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from engine.models.results import Prediction
from engine.store import ResultInput
from engine.workflow import AnalysisOutcome, InputRef
from engine.workflow import result_input as workflow_result_input
from tests.engine.store._helpers import fake_prediction


def result_input(
    prediction: Prediction,
    *,
    positive_label: str | None = None,
    model_name: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> ResultInput:
    """``prediction`` as the product saves it (:func:`engine.workflow.result_input`).

    ``payload`` defaults to the prediction's ``to_json()`` (no input block).
    """
    made = workflow_result_input(AnalysisOutcome(prediction, InputRef("record")))
    return replace(
        made,
        positive_label=positive_label or made.positive_label,
        model_name=model_name or made.model_name,
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

"""Compatibility façade for scripts written against the first engine API.

New code calls :mod:`engine.workflow` (:func:`engine.workflow.analyze` returns
an :class:`~engine.workflow.AnalysisOutcome` with the input reference and
the model identity). These functions return the bare
:class:`~engine.models.results.Prediction` of the same analysis.
"""

from __future__ import annotations

from typing import Any

from engine.models.results import Prediction
from engine.workflow.analysis import analyze, analyze_many
from engine.workflow.models import (
    clear_model_cache,
    import_model,
    list_models,
    load_model,
    model_card,
    remove_model,
    verify_model,
)
from engine.workflow.studies import open_image

__all__ = [
    "analyze_image",
    "analyze_many",
    "analyze_record",
    "analyze_signal",
    "clear_model_cache",
    "import_model",
    "list_models",
    "load_model",
    "model_card",
    "open_image",
    "remove_model",
    "verify_model",
]


def analyze_image(model_id: str, image: Any, **options: Any) -> Prediction:
    """:func:`engine.workflow.analyze` of an image with ``model_id``; its prediction."""
    return analyze(image, model_id=model_id, kind="image", **options).prediction


def analyze_signal(model_id: str, signal: Any, **options: Any) -> Prediction:
    """:func:`engine.workflow.analyze` of an ECG with ``model_id``; its prediction."""
    return analyze(signal, model_id=model_id, kind="signal", **options).prediction


def analyze_record(model_id: str, record: Any, **options: Any) -> Prediction:
    """:func:`engine.workflow.analyze` of a patient record with ``model_id``; its prediction."""
    return analyze(record, model_id=model_id, kind="record", **options).prediction

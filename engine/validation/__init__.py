"""Validation: a model's card metrics, measured and recomputed.

:mod:`engine.validation.metrics` holds the metrics and intervals the training
pipelines report on held-out data; :func:`evaluate_model` (``stethos-engine
evaluate``) recomputes a model's card metrics on a clinic's own labelled data
with the same code, so the card and a local check count alike. This layer
sits above the models and below training: :mod:`engine.train` may import it,
never the reverse.
"""

from __future__ import annotations

from engine.validation.evaluate import evaluate_model
from engine.validation.report import EvaluationReport

__all__ = ["EvaluationReport", "evaluate_model"]

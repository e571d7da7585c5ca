"""Stethos engine: GUI-free readers, models and pipelines.

The public API is small and typed: the errors, the progress and
cancellation helpers, and the clinic workflow of :mod:`engine.workflow`
(``from engine import analyze, open_study, default_model``), which every
button of the desktop and every command of the CLI calls. Importing
``engine`` is cheap: the workflow's names load on first use (PEP 562), and
torch, scikit-learn and pydicom only when something needs them.
"""

from __future__ import annotations

import os

# ONNX Runtime (>= 1.2x on Linux) starts a telemetry client that keeps a device id under
# ~/.cache/Microsoft and may upload over HTTPS. Nothing leaves this machine: switched off
# for the whole process before anything can import onnxruntime (which reads it at load).
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

from engine.errors import (
    BundleCompatibilityError,
    BundleIntegrityError,
    BundleSchemaError,
    CorruptDicomError,
    DicomError,
    EngineError,
    InputRejectedError,
    ModelError,
    ModelNotFoundError,
    NotDicomError,
    OperationCancelled,
    RecordValidationError,
    UnsupportedDicomError,
)
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

__version__ = "0.1.0"

#: Names of :mod:`engine.workflow` re-exported here, loaded on first access.
_WORKFLOW_NAMES = frozenset(
    {
        "AnalysisOutcome",
        "InputRef",
        "ModelIdentity",
        "analyze",
        "analyze_many",
        "dataset_tree",
        "default_model",
        "list_models",
        "load_view",
        "model_card",
        "open_image",
        "open_signal",
        "open_study",
        "series_thumbnails",
    }
)


def __getattr__(name: str) -> object:
    if name in _WORKFLOW_NAMES:
        import engine.workflow

        return getattr(engine.workflow, name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _WORKFLOW_NAMES)


__all__ = [
    "BundleCompatibilityError",
    "BundleIntegrityError",
    "BundleSchemaError",
    "CancelToken",
    "CorruptDicomError",
    "DicomError",
    "EngineError",
    "InputRejectedError",
    "ModelError",
    "ModelNotFoundError",
    "NotDicomError",
    "OperationCancelled",
    "Progress",
    "RecordValidationError",
    "UnsupportedDicomError",
    "__version__",
    "check_cancelled",
    "no_progress",
    *sorted(_WORKFLOW_NAMES),
]

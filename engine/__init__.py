"""Stethos engine: GUI-free readers, models and pipelines.

The public API is small and typed. Importing ``engine`` is cheap: torch,
scikit-learn and pydicom are imported only when first used.
"""

from __future__ import annotations

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
]

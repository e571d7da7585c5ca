"""Model bundles, the registry and the runners for each model kind.

One runtime for every model: a bundle (manifest + weights + card) is
opened and verified (:func:`open_bundle`), found by id in a
:class:`ModelRegistry`, turned into a runner by :func:`load_runner`
(``sklearn``, ``torch-cnn`` or ``torch-lstm``), and run one input at a time
(``runner.predict``) or in batches (:func:`predict_many`). Importing this
package does not import torch.
"""

from __future__ import annotations

from engine.models.bundle import SCHEMA_VERSION, Bundle, OperatingPoint, open_bundle
from engine.models.loader import load_runner
from engine.models.registry import ModelRegistry, RegistryEntry
from engine.models.results import SUPPORT_STATEMENT, BeatResult, Contribution, Prediction
from engine.models.runtime import BatchItem, Runner, predict_many

__all__ = [
    "SCHEMA_VERSION",
    "SUPPORT_STATEMENT",
    "BatchItem",
    "BeatResult",
    "Bundle",
    "Contribution",
    "ModelRegistry",
    "OperatingPoint",
    "Prediction",
    "RegistryEntry",
    "Runner",
    "load_runner",
    "open_bundle",
    "predict_many",
]

"""Model bundles, the registry and the runners for each model kind."""

from __future__ import annotations

from engine.models.bundle import Bundle, OperatingPoint, open_bundle
from engine.models.registry import ModelRegistry, RegistryEntry
from engine.models.results import SUPPORT_STATEMENT, Contribution, Prediction

__all__ = [
    "SUPPORT_STATEMENT",
    "Bundle",
    "Contribution",
    "ModelRegistry",
    "OperatingPoint",
    "Prediction",
    "RegistryEntry",
    "open_bundle",
]

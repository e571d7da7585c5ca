"""High-level operations used by the desktop and the command line.

Each function is what one button or one command does, so that everything
the GUI can do can be done without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.dicom import DicomImage, read_image
from engine.errors import ModelError
from engine.models.bundle import Bundle
from engine.models.registry import ModelRegistry
from engine.models.results import Prediction
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress

_loaded: dict[tuple[str, str], object] = {}


def open_image(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> DicomImage:
    """Read one DICOM image file for display."""
    check_cancelled(cancel)
    progress(0.0, f"Reading {Path(path).name}")
    image = read_image(path)
    progress(1.0, "Image loaded")
    return image


def load_model(model_id: str, registry: ModelRegistry | None = None):
    """Open, verify and load a model (cached per id and weights hash)."""
    bundle: Bundle = (registry or ModelRegistry()).open(model_id)
    key = (bundle.id, bundle.weights_sha256)
    if key not in _loaded:
        if bundle.kind == "sklearn":
            from engine.models.tabular import load_tabular

            _loaded[key] = load_tabular(bundle)
        else:
            raise ModelError(
                f"Model “{bundle.id}” is of kind “{bundle.kind}”, which this Stethos cannot run yet."
            )
    return _loaded[key]


def analyze_record(
    model_id: str,
    record: Mapping[str, object],
    *,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Score a patient record with a record model (verifies the bundle first)."""
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry)
    check_cancelled(cancel)
    return model.predict(record, progress=sub_progress(progress, 0.3, 1.0), cancel=cancel)  # type: ignore[attr-defined]

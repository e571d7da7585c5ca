"""High-level operations used by the desktop and the command line.

Each function is what one button or one command does, so that everything
the GUI can do can be done without it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from engine.dicom import DicomImage, read_image
from engine.errors import ModelError
from engine.models.bundle import MANIFEST_NAME, Bundle, sha256_file
from engine.models.devices import resolve_device
from engine.models.loader import load_runner
from engine.models.preprocess import SignalLike
from engine.models.registry import ModelRegistry, RegistryEntry
from engine.models.results import Prediction
from engine.models.runtime import BatchItem, Runner, predict_many
from engine.progress import CancelToken, Progress, check_cancelled, no_progress, sub_progress


def open_image(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> DicomImage:
    """Read one DICOM image file for display."""
    check_cancelled(cancel)
    progress(0.0, f"Reading {Path(path).name}")
    image = read_image(path)
    progress(1.0, "Image loaded")
    return image


# --- models -----------------------------------------------------------------
_loaded: dict[tuple[str, str, str], Runner] = {}
_lock = threading.Lock()


def load_model(
    model_id: str, registry: ModelRegistry | None = None, *, device: str | None = "auto"
) -> Runner:
    """Open, verify and load a model, cached per id, weights hash and device.

    Parameters
    ----------
    model_id
        An installed model's id (``stethos-engine models list``).
    registry
        Where to look (default: bundled plus imported models).
    device
        ``"auto"`` (CUDA, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"mps"``; ignored by scikit-learn models (always CPU).

    Returns
    -------
    Runner
        An object with ``prepare``, ``run`` and ``predict`` (see
        :mod:`engine.models.runtime`).

    Raises
    ------
    ModelNotFoundError, BundleSchemaError, BundleIntegrityError,
    BundleCompatibilityError, ModelError
    """
    bundle: Bundle = (registry or ModelRegistry()).open(model_id)
    dev = "cpu" if bundle.kind == "sklearn" else str(resolve_device(device))
    # The manifest's own hash is in the key too: same weights with other
    # thresholds, gates or preprocessing are another model.
    manifest_hash = sha256_file(bundle.path / MANIFEST_NAME)
    key = (bundle.id, f"{bundle.path}|{bundle.weights_sha256}|{manifest_hash}", dev)
    with _lock:
        runner = _loaded.get(key)
        if runner is None:
            runner = load_runner(bundle, dev)
            _loaded[key] = runner
    return runner


def clear_model_cache(model_id: str | None = None) -> None:
    """Forget loaded models (all, or those of ``model_id``)."""
    with _lock:
        for key in [k for k in _loaded if model_id is None or k[0] == model_id]:
            del _loaded[key]


def analyze_record(
    model_id: str,
    record: Mapping[str, object],
    *,
    registry: ModelRegistry | None = None,
    operating_point: str | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Score a patient record with a record model (verifies the bundle first).

    Raises
    ------
    RecordValidationError
        When the record has missing or out-of-range values.
    """
    model = _load_for(model_id, "record", registry, "auto", progress, cancel)
    return model.predict(
        record,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.3, 1.0),
        cancel=cancel,
    )


def analyze_image(
    model_id: str,
    image: str | Path | DicomImage | np.ndarray,
    *,
    frame: int = 0,
    device: str | None = "auto",
    explain: bool = True,
    method: str | None = None,
    operating_point: str | None = None,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Score one image (DICOM path or object, PNG/JPEG path, or array) with an image model.

    The result's ``heatmap`` is a float32 map in ``[0, 1]`` with the source
    image's rows × columns (Grad-CAM, or Grad-CAM++ with
    ``method="gradcam++"``) when ``explain``; ``warnings`` holds gate
    warnings; ``extra["notice"]`` says when the GPU fell back to the CPU.

    Raises
    ------
    InputRejectedError
        When a gate refuses the input (lateral view, CT, …).
    DicomError
        When the file cannot be read.
    """
    model = _load_for(model_id, "image", registry, device, progress, cancel)
    return model.predict(
        image,
        frame=frame,
        explain=explain,
        method=method,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.2, 1.0),
        cancel=cancel,
    )


def analyze_signal(
    model_id: str,
    signal: SignalLike | np.ndarray,
    *,
    fs: float | None = None,
    leads: Sequence[str] | None = None,
    beats: Sequence[int] | np.ndarray | None = None,
    device: str | None = "auto",
    explain: bool = True,
    method: str | None = None,
    operating_point: str | None = None,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Classify every beat of an ECG with a beat model.

    ``signal`` is an :class:`engine.ecg.Signal` (or anything with ``data``
    ``(n_leads, n_samples)`` in mV, ``leads`` and ``fs``), or an array with
    ``fs`` and ``leads``. ``beats`` are R-peak sample positions; by default
    the engine's own QRS detector finds them (a record's reference
    annotations are never used as input).
    The result's ``beats`` has one entry per beat; ``attribution`` one value
    per sample of the analysed lead (integrated gradients by default).

    Raises
    ------
    InputRejectedError
        Wrong sampling rate, missing leads, unknown beat positions.
    """
    model = _load_for(model_id, "signal", registry, device, progress, cancel)
    return model.predict(
        signal,
        fs=fs,
        leads=leads,
        beats=beats,
        explain=explain,
        method=method,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.2, 1.0),
        cancel=cancel,
    )


def analyze_many(
    model_id: str,
    inputs: Sequence[object],
    *,
    batch_size: int = 8,
    device: str | None = "auto",
    explain: bool = False,
    operating_point: str | None = None,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[BatchItem]:
    """Run one model over many inputs; one :class:`BatchItem` (prediction or error) each."""
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry, device=device)
    return predict_many(
        model,
        inputs,
        batch_size=batch_size,
        explain=explain,
        operating_point=operating_point,
        progress=sub_progress(progress, 0.05, 1.0),
        cancel=cancel,
    )


def _load_for(
    model_id: str,
    input_type: str,
    registry: ModelRegistry | None,
    device: str | None,
    progress: Progress,
    cancel: CancelToken | None,
) -> Runner:
    """Load a model for one analysis, refusing one made for another kind of input."""
    progress(0.0, "Loading the model")
    model = load_model(model_id, registry, device=device)
    if model.bundle.input_type != input_type:
        raise ModelError(
            f"Model “{model.bundle.id}” takes {model.bundle.input_type}s, not {input_type}s. "
            "Choose a model made for this input.",
        )
    check_cancelled(cancel)
    return model


def list_models(registry: ModelRegistry | None = None) -> list[RegistryEntry]:
    """Every installed bundle (bundled and imported); unusable ones carry ``problem``."""
    return (registry or ModelRegistry()).entries()


def model_card(model_id: str, registry: ModelRegistry | None = None) -> str:
    """The model card (Markdown) of an installed model (hashes checked)."""
    return (registry or ModelRegistry()).open(model_id).card_text()


def verify_model(model_id: str, registry: ModelRegistry | None = None) -> Bundle:
    """Check a model's schema, package requirements and every file hash (raises on a problem)."""
    return (registry or ModelRegistry()).verify(model_id)


def import_model(
    path: str | Path,
    *,
    replace: bool = False,
    registry: ModelRegistry | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> RegistryEntry:
    """Import a bundle folder or ``.zip`` into the user's models folder (checked, atomic)."""
    entry = (registry or ModelRegistry()).import_bundle(
        path, replace=replace, progress=progress, cancel=cancel
    )
    clear_model_cache(entry.id)
    return entry


def remove_model(model_id: str, registry: ModelRegistry | None = None) -> Path:
    """Delete an imported model (bundled models cannot be removed)."""
    path = (registry or ModelRegistry()).remove(model_id)
    clear_model_cache(model_id)
    return path

"""The installed models: finding, choosing, loading (cached), cards and management.

The default model for an input kind is chosen here and nowhere else
(:func:`default_model`); loaded runners are cached per id, file hashes and
device (:func:`load_model`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

from engine.errors import EngineError, ModelError, ModelNotFoundError
from engine.models.bundle import MANIFEST_NAME, Bundle, read_manifest, sha256_file
from engine.models.devices import resolve_device
from engine.models.loader import load_runner
from engine.models.registry import ModelRegistry, RegistryEntry
from engine.models.runtime import Runner
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

#: The kinds of input a model takes (a bundle's ``inputs.type``).
InputKind = Literal["image", "signal", "record"]

_NO_MODEL = {
    "image": "No image model is installed. Import one (Analysis ▸ Models) or reinstall Stethos.",
    "signal": "No ECG model is installed. Reinstall Stethos.",
    "record": "No record model is installed. Reinstall Stethos.",
}

_loaded: dict[tuple[str, str, str], Runner] = {}
_lock = threading.Lock()


def default_model(kind: InputKind, registry: ModelRegistry | None = None) -> str:
    """Id of the model used for ``kind`` when none is named: the one place that decides.

    The registry ranks usable models by their stated calibration and
    discrimination (:meth:`engine.models.ModelRegistry.default_for`).

    Raises
    ------
    ModelNotFoundError
        When no usable model takes ``kind``.
    """
    model_id = (registry or ModelRegistry()).default_for(kind)
    if model_id is None:
        raise ModelNotFoundError(_NO_MODEL[kind])
    return model_id


def load_model(
    model_id: str, registry: ModelRegistry | None = None, *, device: str | None = "auto"
) -> Runner:
    """Open, verify and load a model, cached per id, file hashes and device.

    Parameters
    ----------
    model_id
        An installed model's id (``stethos-engine models list``).
    registry
        Where to look (default: bundled plus imported models).
    device
        ``"auto"`` (CUDA, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"mps"``; scikit-learn models always run on the CPU.

    Raises
    ------
    ModelNotFoundError, BundleSchemaError, BundleIntegrityError,
    BundleCompatibilityError, ModelError
    """
    bundle: Bundle = (registry or ModelRegistry()).open(model_id)
    dev = "cpu" if bundle.kind == "sklearn" else str(resolve_device(device))
    # The manifest's own hash is in the key too: the same weights with other
    # thresholds, gates or preprocessing are another model.
    manifest_hash = sha256_file(bundle.path / MANIFEST_NAME)
    key = (bundle.id, f"{bundle.path}|{bundle.weights_sha256}|{manifest_hash}", dev)
    with _lock:
        runner = _loaded.get(key)
        if runner is None:
            runner = load_runner(bundle, dev)
            _loaded[key] = runner
    return runner


def load_model_for(
    kind: InputKind,
    model_id: str | None = None,
    *,
    device: str | None = "auto",
    registry: ModelRegistry | None = None,
) -> Runner:
    """Load ``model_id`` (or the default for ``kind``), refusing one made for other inputs."""
    registry = registry or ModelRegistry()
    model = load_model(model_id or default_model(kind, registry), registry, device=device)
    if model.bundle.input_type != kind:
        raise ModelError(
            f"Model “{model.bundle.id}” takes {model.bundle.input_type}s, not {kind}s. "
            "Choose a model made for this input.",
        )
    return model


def clear_model_cache(model_id: str | None = None) -> None:
    """Forget loaded models (all, or those of ``model_id``)."""
    with _lock:
        for key in [k for k in _loaded if model_id is None or k[0] == model_id]:
            del _loaded[key]


def list_models(registry: ModelRegistry | None = None) -> list[RegistryEntry]:
    """Every installed bundle (bundled and imported); unusable ones carry ``problem``."""
    return (registry or ModelRegistry()).entries()


def model_card(
    model_id: str,
    registry: ModelRegistry | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> str:
    """The model card (Markdown) of an installed model, its files' hashes checked first."""
    check_cancelled(cancel)
    progress(0.0, f"Reading the model card of {model_id}")
    text = (registry or ModelRegistry()).open(model_id).card_text()
    progress(1.0, "")
    return text


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


def intended_use(model_id: str, registry: ModelRegistry | None = None) -> str:
    """The intended use written in an installed model's manifest (``""`` if unknown)."""
    try:
        entry = (registry or ModelRegistry()).find(model_id)
        return str(read_manifest(entry.path).get("intended_use", ""))
    except EngineError:  # a report without it is still useful
        return ""


def model_attributions(registry: ModelRegistry | None = None) -> list[dict[str, str]]:
    """Id, version, name, licence and training-data credit of every installed model.

    Reads the manifests only (fast, no hashes): for the About box.
    """
    out = []
    for entry in list_models(registry):
        if entry.problem:
            continue
        try:
            m = read_manifest(entry.path)
        except EngineError:
            continue
        data = m.get("training_data") or {}
        out.append(
            {
                "id": str(m.get("id", entry.id)),
                "version": str(m.get("version", "")),
                "name": str(m.get("name", "")),
                "licence": str(m.get("licence", "")),
                "data_name": str(data.get("name", "")),
                "data_source": str(data.get("source", "")),
                "data_licence": str(data.get("licence", "")),
                "data_citation": str(data.get("citation", "")),
            }
        )
    return out

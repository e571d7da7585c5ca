"""The installed models: finding, choosing, loading (cached), cards and management.

The default model for an input kind is chosen here and nowhere else
(:func:`default_model`); loaded runners are cached per id, file hashes and
device (:func:`load_model`), and carry the clinic's site calibration of
that model version when one is saved (:func:`save_site_calibration`).
"""

from __future__ import annotations

import copy
import getpass
import hashlib
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

from engine.errors import EngineError, ModelError, ModelNotFoundError
from engine.models.bundle import MANIFEST_NAME, Bundle, read_manifest, sha256_file
from engine.models.devices import device_name
from engine.models.loader import load_runner
from engine.models.registry import ModelRegistry, RegistryEntry
from engine.models.runtime import Runner, RunnerBase
from engine.models.site import SiteCalibration, StoredSiteCalibration, check_binary
from engine.models.site import load_for as _site_for_bundle
from engine.models.site import path_for as _site_path
from engine.models.site import remove as _remove_site
from engine.models.site import save as _save_site
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

if TYPE_CHECKING:
    from engine.store import Store

#: The kinds of input a model takes (a bundle's ``inputs.type``).
InputKind = Literal["image", "signal", "record"]

_NO_MODEL = {
    "image": "No image model is installed. Import one (Analysis ▸ Models) or reinstall Stethos.",
    "signal": "No ECG model is installed. Reinstall Stethos.",
    "record": "No record model is installed. Reinstall Stethos.",
}

_loaded: dict[tuple[str, str, str], Runner] = {}
#: Runners with a site calibration: a copy of the cached runner per calibration content.
_calibrated: dict[tuple[tuple[str, str, str], str], Runner] = {}
_lock = threading.Lock()


def default_model(
    kind: InputKind, registry: ModelRegistry | None = None, task: str | None = None
) -> str:
    """Id of the model used for ``kind`` when none is named: the one place that decides.

    The registry ranks usable models by their stated calibration and
    discrimination (:meth:`engine.models.ModelRegistry.default_for`).

    Raises
    ------
    ModelNotFoundError
        When no usable model takes ``kind``.
    """
    model_id = (registry or ModelRegistry()).default_for(kind, task)
    if model_id is None:
        raise ModelNotFoundError(
            _NO_MODEL[kind] if task is None else f"No {task} model is installed. Reinstall Stethos."
        )
    return model_id


def load_model(
    model_id: str,
    registry: ModelRegistry | None = None,
    *,
    device: str | None = "auto",
    site_calibration: bool = True,
) -> Runner:
    """Open, verify and load a model, cached per id, file hashes and device.

    The clinic's site calibration of this model version (same id, version
    and weights hash) is attached when one is saved: its results then show
    the site operating point and ``extra["site_calibration"]``.

    Parameters
    ----------
    model_id
        An installed model's id (``stethos-engine models list``).
    registry
        Where to look (default: bundled plus imported models).
    device
        ``"auto"`` (CUDA, else Apple MPS, else CPU), ``"cpu"``, ``"cuda"`` or
        ``"mps"``; scikit-learn models always run on the CPU.
    site_calibration
        ``False``: the model as the bundle defines it, without the site
        calibration (to fit a new one, or to compare).

    Raises
    ------
    ModelNotFoundError, BundleSchemaError, BundleIntegrityError,
    BundleCompatibilityError, ModelError
        Also when the saved site calibration file of this version is invalid.
    """
    bundle: Bundle = (registry or ModelRegistry()).open(model_id)
    dev = "cpu" if bundle.kind == "sklearn" else device_name(device)
    # The manifest's own hash is in the key too: the same weights with other
    # thresholds, gates or preprocessing are another model.
    manifest_hash = sha256_file(bundle.path / MANIFEST_NAME)
    key = (bundle.id, f"{bundle.path}|{bundle.weights_sha256}|{manifest_hash}", dev)
    with _lock:
        runner = _loaded.get(key)
        if runner is None:
            runner = load_runner(bundle, dev)
            _loaded[key] = runner
    runner = _with_companion(runner, bundle, registry, device)
    site = _site_for_bundle(bundle) if site_calibration else None
    if site is None:
        return runner
    check_binary(bundle)
    # Keyed by the calibration's content: a newly saved one takes effect at once.
    digest = hashlib.sha256(json.dumps(site.to_json(), sort_keys=True).encode()).hexdigest()
    with _lock:
        calibrated = _calibrated.get((key, digest))
        if calibrated is None:
            calibrated = copy.copy(runner)  # shares the network, lock and device state
            cast(RunnerBase, calibrated).site = site
            _calibrated[(key, digest)] = calibrated
    return calibrated


def _with_companion(
    runner: Runner, bundle: Bundle, registry: ModelRegistry | None, device: str | None
) -> Runner:
    """A rhythm model with the beat model its bundle names for ectopy (``companions.ectopy``).

    A copy of the cached runner gets the companion loaded now (itself cached),
    so an updated beat model is used at once. A companion that is not
    installed or cannot be loaded leaves the rhythm model without one: its
    report then says the ectopic beats were not counted.
    """
    companion_id = bundle.manifest.get("companions", {}).get("ectopy")
    if not companion_id or not hasattr(runner, "companion"):
        return runner
    try:
        companion: Runner | None = load_model(str(companion_id), registry, device=device)
    except EngineError:
        companion = None
    with_companion = copy.copy(runner)
    with_companion.companion = companion  # type: ignore[attr-defined]
    return with_companion


def load_model_for(
    kind: InputKind,
    model_id: str | None = None,
    *,
    device: str | None = "auto",
    registry: ModelRegistry | None = None,
    task: str | None = None,
) -> Runner:
    """Load ``model_id`` (or the default for ``kind`` and ``task``), refusing one made for
    other inputs."""
    registry = registry or ModelRegistry()
    model = load_model(model_id or default_model(kind, registry, task), registry, device=device)
    if model.bundle.input_type != kind:
        raise ModelError(
            f"Model “{model.bundle.id}” takes {model.bundle.input_type}s, not {kind}s. "
            "Choose a model made for this input.",
        )
    return model


def warm_up(kind: InputKind = "image", device: str | None = "auto") -> bool:
    """Load the default model for ``kind`` and run it once on a synthetic input.

    For a background thread after the window shows: the first real analysis
    then finds the model loaded, its runtime's buffers allocated and the
    preprocessing's libraries imported. Returns whether it warmed anything;
    an error is left for the real analysis to report.
    """
    try:
        model = load_model_for(kind, device=device)
        warm = getattr(model, "warm_up", None)
        if warm is not None:
            warm()
    except EngineError:
        return False
    return True


def clear_model_cache(model_id: str | None = None) -> None:
    """Forget loaded models (all, or those of ``model_id``)."""
    with _lock:
        for key in [k for k in _loaded if model_id is None or k[0] == model_id]:
            del _loaded[key]
        for ckey in [k for k in _calibrated if model_id is None or k[0][0] == model_id]:
            del _calibrated[ckey]


# --------------------------------------------------------------------------- site calibration


def save_site_calibration(
    calibration: SiteCalibration,
    *,
    store: Store | None = None,
    registry: ModelRegistry | None = None,
) -> Path:
    """Save a clinic's site calibration for its model version, audited in ``store`` when given.

    The model must be installed with the same version and weights hash.
    Results of that version use it from now on; another version never does.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ModelNotFoundError, ModelError, StoreError
    """
    bundle = (registry or ModelRegistry()).open(calibration.model_id)
    if not calibration.matches(bundle):
        raise ModelError(
            f"This site calibration was fitted for {calibration.model_id} "
            f"{calibration.model_version}, but the installed model is version {bundle.version}"
            f"{' with other weights' if bundle.version == calibration.model_version else ''}. "
            "Evaluate the installed model again to calibrate it.",
        )
    check_binary(bundle)
    previous = _site_path(calibration.model_id, calibration.model_version)
    before = previous.read_bytes() if previous.is_file() else None
    path = _save_site(calibration)
    clear_model_cache(calibration.model_id)
    if store is None:
        return path
    try:
        store.audit(
            "site_calibration_saved",
            object_type="model",
            object_id=f"{calibration.model_id} {calibration.model_version}",
            details={
                "model_id": calibration.model_id,
                "model_version": calibration.model_version,
                "weights_sha256": calibration.weights_sha256,
                "n": calibration.n,
                "n_positive": calibration.n_positive,
                "intercept": calibration.intercept,
                "slope": calibration.slope,
                "threshold": calibration.threshold,
                "rule": calibration.rule,
                "created_by": calibration.created_by,
                "data": [dict(d) for d in calibration.data],
                "file": path.name,
            },
        )
    except BaseException:  # not audited: put back what was there
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)
        clear_model_cache(calibration.model_id)
        raise
    return path


def site_calibration_for(
    model_id: str, registry: ModelRegistry | None = None
) -> SiteCalibration | None:
    """The site calibration the installed ``model_id`` uses now (``None``: the bundle's own)."""
    return _site_for_bundle((registry or ModelRegistry()).open(model_id))


def remove_site_calibration(
    model_id: str, *, version: str | None = None, store: Store | None = None
) -> list[StoredSiteCalibration]:
    """Delete the site calibration(s) of ``model_id`` (one version, or all), audited in ``store``.

    Returns the removed files (empty when there was none).
    """
    from engine.models.site import list_stored

    kept = {
        item.path: item.path.read_bytes()
        for item in list_stored()
        if store is not None and item.path.is_file()
    }
    gone = _remove_site(model_id, version)
    clear_model_cache(model_id)
    if store is None:
        return gone
    try:
        for item in gone:
            cal = item.calibration
            store.audit(
                "site_calibration_removed",
                object_type="model",
                object_id=f"{model_id} {cal.model_version if cal else ''}".strip(),
                details={
                    "model_id": model_id,
                    "model_version": cal.model_version if cal else "",
                    "weights_sha256": cal.weights_sha256 if cal else "",
                    "file": item.path.name,
                },
            )
    except BaseException:  # not audited: put the files back
        for item in gone:
            item.path.write_bytes(kept[item.path])
        clear_model_cache(model_id)
        raise
    return gone


def list_site_calibrations() -> list[StoredSiteCalibration]:
    """Every saved site calibration file (``calibration`` is ``None`` with a ``problem``)."""
    from engine.models.site import list_stored

    return list_stored()


def local_user() -> str:
    """The operating-system user name (who saved a site calibration without a store)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


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


def model_texts(
    model_id: str, language: str = "en", registry: ModelRegistry | None = None
) -> dict[str, object]:
    """A model's name, intended use, users, contraindications and labels in ``language``.

    From the bundle's ``translations`` block when it has that language (each
    text falling back to the manifest's own English one), else the English
    texts; ``"translated"`` says whether a translation was found.
    """
    manifest = read_manifest((registry or ModelRegistry()).find(model_id).path)
    own = manifest.get("translations", {}).get(language, {})
    labels = {label: label for label in manifest["outputs"]["labels"]}
    labels.update(own.get("labels", {}))
    return {
        "name": own.get("name", manifest["name"]),
        "intended_use": own.get("intended_use", manifest["intended_use"]),
        "intended_users": own.get("intended_users", manifest.get("intended_users", "")),
        "contraindications": own.get("contraindications", manifest.get("contraindications", [])),
        "labels": labels,
        "translated": bool(own),
    }


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

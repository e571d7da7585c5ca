"""Model bundles: a folder with ``manifest.json``, weights and a model card.

A bundle is validated against ``schema/manifest-v<N>.schema.json`` of the
version it states, migrated step by step to :data:`SCHEMA_VERSION` (and
validated again), every file listed in ``files`` is checked against its
sha256, and the packages it ``requires`` are checked against those
installed, before any weight is read. Nothing in a bundle is ever executed
or unpickled.

Schema history
--------------
1. First version (records only in practice).
2. Adds ``outputs.calibration`` (``none`` / ``intrinsic`` / ``temperature`` /
   ``platt`` with parameters), ``default_operating_point``, typed image and
   signal ``inputs``, ``architecture`` and ``preprocessing`` for torch kinds,
   and input-validity ``gates``. :func:`migrate_manifest` upgrades v1.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from engine.errors import (
    BundleCompatibilityError,
    BundleIntegrityError,
    BundleSchemaError,
    ModelError,
)

#: The manifest schema this engine writes; older ones are migrated on load.
SCHEMA_VERSION = 2
#: The task of rhythm models: exclusive rhythm classes, one positive label (AF).
RHYTHM_TASK = "rhythm-classification"
#: Every schema version this engine can read.
KNOWN_SCHEMA_VERSIONS = (1, 2)
MANIFEST_NAME = "manifest.json"
#: ``sha256sum``-style digest of the manifest's own bytes, written beside it:
#: the manifest lists every other file's hash, this file covers the manifest.
MANIFEST_DIGEST_NAME = "manifest.sha256"


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold on the positive-class probability, with its validation Se/Sp."""

    name: str
    threshold: float
    sensitivity: float
    specificity: float
    sensitivity_ci: tuple[float, float] | None
    specificity_ci: tuple[float, float] | None
    rationale: str


@dataclass(frozen=True, eq=False)
class Bundle:
    """A validated, integrity-checked model bundle on disk."""

    path: Path
    manifest: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.manifest["id"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def intended_use(self) -> str:
        return str(self.manifest["intended_use"])

    @property
    def weights_path(self) -> Path:
        return self.path / str(self.manifest["weights"])

    def member_path(self, name: str) -> Path:
        """A file the manifest lists (so its hash was checked on opening), inside the folder.

        Raises
        ------
        ValueError
            A name the manifest does not list, or one outside the bundle's folder.
        """
        if name not in (self.manifest.get("files") or {}):
            raise ValueError(f"the bundle does not list a file {name!r}")
        try:
            return _safe_member(self.path, name)
        except BundleSchemaError as exc:
            raise ValueError(f"the file {name!r} lies outside the bundle") from exc

    @property
    def weights_sha256(self) -> str:
        return str(self.manifest["files"][self.manifest["weights"]]["sha256"])

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.manifest["outputs"]["labels"])

    @property
    def positive_label(self) -> str:
        return str(self.manifest["outputs"]["positive_label"])

    @property
    def operating_points(self) -> tuple[OperatingPoint, ...]:
        points = []
        for op in self.manifest["operating_points"]:
            points.append(
                OperatingPoint(
                    name=op["name"],
                    threshold=float(op["threshold"]),
                    sensitivity=float(op["sensitivity"]["value"]),
                    specificity=float(op["specificity"]["value"]),
                    sensitivity_ci=_ci(op["sensitivity"]),
                    specificity_ci=_ci(op["specificity"]),
                    rationale=str(op["rationale"]),
                )
            )
        return tuple(points)

    @property
    def default_operating_point(self) -> OperatingPoint:
        wanted = self.manifest.get("default_operating_point")
        for op in self.operating_points:
            if op.name == wanted:
                return op
        return self.operating_points[0]

    def operating_point(self, name: str | None = None) -> OperatingPoint:
        """The operating point called ``name`` (the default one when ``None``)."""
        if name is None:
            return self.default_operating_point
        for op in self.operating_points:
            if op.name == name:
                return op
        known = ", ".join(op.name for op in self.operating_points)
        raise ModelError(
            f"Model “{self.id}” has no operating point “{name}”. Choose one of: {known}."
        )

    @property
    def input_type(self) -> str:
        """``"record"``, ``"image"`` or ``"signal"``."""
        return str(self.manifest["inputs"]["type"])

    @property
    def exclusive(self) -> bool:
        """Whether the labels exclude each other (softmax) rather than multi-label."""
        return bool(self.manifest["outputs"]["exclusive"])

    @property
    def calibration(self) -> Mapping[str, Any]:
        """The calibration step applied to the model's logits."""
        return self.manifest["outputs"].get("calibration", {"method": "none"})

    @property
    def architecture(self) -> Mapping[str, Any]:
        """Builder name and arguments (torch kinds)."""
        return self.manifest.get("architecture", {})

    @property
    def preprocessing(self) -> Mapping[str, Any]:
        """The declared preprocessing (see :mod:`engine.models.preprocess`)."""
        return self.manifest.get("preprocessing", {})

    @property
    def gates(self) -> Mapping[str, Any]:
        """The input-validity gates (see :mod:`engine.models.gates`)."""
        return self.manifest.get("gates", {})

    @property
    def task(self) -> str:
        """What the model does (``binary-classification``, ``beat-classification``, …)."""
        return str(self.manifest.get("task", ""))

    @property
    def explanation(self) -> Mapping[str, Any]:
        """How results are explained (method and its parameters)."""
        return self.manifest.get("explanation", {})

    def card_text(self) -> str:
        """The human-readable model card (Markdown)."""
        return (self.path / str(self.manifest["card"])).read_text(encoding="utf-8")


def _ci(estimate: Mapping[str, Any]) -> tuple[float, float] | None:
    ci = estimate.get("ci95")
    return (float(ci[0]), float(ci[1])) if ci else None


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def _schema(version: int) -> dict[str, Any]:
    from importlib import resources

    text = resources.files("engine.models").joinpath(f"schema/manifest-v{version}.schema.json")
    return json.loads(text.read_text(encoding="utf-8"))


def _migrate_1_to_2(manifest: dict[str, Any]) -> dict[str, Any]:
    """v1 → v2: explicit calibration and default operating point, empty gates."""
    out = dict(manifest)
    outputs = dict(out["outputs"])
    outputs["calibration"] = {"method": "intrinsic" if outputs.get("calibrated") else "none"}
    out["outputs"] = outputs
    out["default_operating_point"] = out["operating_points"][0]["name"]
    out.setdefault("contraindications", [])
    out.setdefault("gates", {})
    out["schema_version"] = 2
    return out


_MIGRATIONS = {1: _migrate_1_to_2}


def migrate_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Bring a manifest up to :data:`SCHEMA_VERSION`, one validated step at a time.

    Each step's input is validated against its own schema first, so a step
    never sees a malformed manifest. The returned manifest is a new dict;
    ``manifest`` is not modified.

    Raises
    ------
    BundleSchemaError
        For an unknown schema version or a manifest invalid for its version.
    """
    version = manifest.get("schema_version")
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise BundleSchemaError(
            f"This model bundle uses manifest schema version {version!r}, which this version of "
            "Stethos does not know. Update Stethos or ask the bundle's provider for a compatible "
            "one.",
            f"supported: {', '.join(str(v) for v in KNOWN_SCHEMA_VERSIONS)}",
        )
    while manifest["schema_version"] != SCHEMA_VERSION:
        _validate_schema(manifest, manifest["schema_version"], "manifest.json")
        manifest = _MIGRATIONS[manifest["schema_version"]](manifest)
    return manifest


@cache
def _validator(version: int) -> Any:
    """A compiled validator per schema version (building one checks the schema: slow)."""
    import jsonschema

    schema = _schema(version)
    return jsonschema.validators.validator_for(schema)(schema)


def _validate_schema(manifest: Mapping[str, Any], version: int, where: str) -> None:
    import jsonschema

    try:
        error = jsonschema.exceptions.best_match(_validator(version).iter_errors(manifest))
        if error is not None:
            raise error
    except jsonschema.ValidationError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise BundleSchemaError(
            f"The model bundle's manifest is not valid: {path}: {exc.message}",
            where,
        ) from exc


def validate_manifest(manifest: dict[str, Any], where: str = "manifest.json") -> None:
    """Validate ``manifest`` against the schema of the version it states.

    Raises
    ------
    BundleSchemaError
        Naming the first invalid entry.
    """
    version = manifest.get("schema_version")
    if version not in KNOWN_SCHEMA_VERSIONS:
        migrate_manifest(manifest)  # raises the unknown-version message
    _validate_schema(manifest, int(version), where)  # type: ignore[arg-type]
    if manifest["weights"] not in manifest["files"] or manifest["card"] not in manifest["files"]:
        raise BundleSchemaError(
            "The model bundle's manifest does not list the hash of its weights and card.", where
        )
    if manifest["outputs"]["positive_label"] not in manifest["outputs"]["labels"]:
        raise BundleSchemaError("The manifest's positive label is not one of its labels.", where)
    names = [op["name"] for op in manifest["operating_points"]]
    default = manifest.get("default_operating_point")
    if default is not None and default not in names:
        raise BundleSchemaError(
            f"The manifest's default operating point “{default}” is not one of its "
            "operating points.",
            where,
        )
    onnx = manifest.get("onnx")
    if onnx is not None:
        if manifest["kind"] not in ("torch-cnn", "torch-lstm"):
            raise BundleSchemaError("Only a torch model bundle may carry an ONNX graph.", where)
        if onnx["file"] not in manifest["files"]:
            raise BundleSchemaError(
                "The model bundle's manifest does not list the hash of its ONNX graph.", where
            )
        if onnx["exported_from"]["file"] != manifest["weights"]:
            raise BundleSchemaError(
                "The model bundle's ONNX graph was not exported from its weights.", where
            )
    if manifest["kind"] != "sklearn" and not str(manifest["weights"]).endswith(".safetensors"):
        raise BundleSchemaError(
            "A torch model bundle must store its weights as a .safetensors file.", where
        )


def check_requirements(requirements: Mapping[str, str], bundle_id: str) -> None:
    """Refuse a bundle whose required package versions are not installed."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    for package, spec in requirements.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError as exc:
            raise BundleCompatibilityError(
                f"Model “{bundle_id}” needs the package {package} ({spec}), which is not installed.",
            ) from exc
        try:
            ok = SpecifierSet(spec).contains(installed, prereleases=True)
        except InvalidSpecifier as exc:
            raise BundleSchemaError(
                f"Model “{bundle_id}” states an unreadable version requirement for {package}.",
                spec,
            ) from exc
        if not ok:
            raise BundleCompatibilityError(
                f"Model “{bundle_id}” needs {package} {spec}, but {installed} is installed. "
                "Use a bundle built for this version of Stethos.",
            )


#: Packages only the torch runtime of a torch bundle needs.
TORCH_PACKAGES = ("torch", "torchvision")


def runtime_requirements(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The package requirements to check for the runtime that will run this bundle.

    A torch bundle with an ONNX graph (``onnx`` block) runs without torch
    where torch is not installed (the CPU flavour): its torch requirements
    are then replaced by the graph's own (ONNX Runtime). Where torch is
    installed, every requirement is checked as written.
    """
    from engine.models.devices import torch_installed

    reqs = dict(manifest.get("requirements", {}))
    onnx = manifest.get("onnx")
    if not isinstance(onnx, Mapping) or torch_installed():
        return reqs
    out = {k: v for k, v in reqs.items() if k not in TORCH_PACKAGES}
    out.update(onnx.get("requirements", {}))
    return out


def runtime_optional_files(manifest: Mapping[str, Any]) -> set[str]:
    """Listed files this installation may lack: none, except where torch is not installed.

    There (the CPU flavour) a torch bundle with an ONNX graph runs from the
    graph, which was exported from its weights (``onnx.exported_from`` names
    their sha256), so the installer leaves the torch weights file out. Every
    file that is present is still checked; the manifest, which lists the
    weights' hash, is checked by its own digest.
    """
    from engine.models.devices import torch_installed

    if not isinstance(manifest.get("onnx"), Mapping) or torch_installed():
        return set()
    return {str(manifest["weights"])}


def _safe_member(root: Path, name: str) -> Path:
    candidate = (root / name).resolve()
    if root.resolve() not in candidate.parents:
        raise BundleSchemaError(
            "The model bundle names a file outside its own folder and was refused.", name
        )
    return candidate


def verify_files(path: Path, manifest: Mapping[str, Any], *, strict: bool = False) -> None:
    """Check every listed file's sha256; raise :class:`BundleIntegrityError` naming it.

    With ``strict`` (used on import), a file in the folder that the manifest
    does not list, or a symbolic link, is refused too.
    """
    if strict:
        listed = {*manifest["files"], MANIFEST_NAME, MANIFEST_DIGEST_NAME}
        for member in sorted(path.rglob("*")):
            rel = member.relative_to(path).as_posix()
            if member.is_symlink():
                raise BundleIntegrityError(
                    f"Model “{manifest['id']}” contains a symbolic link ({rel}) and was refused."
                )
            if member.is_file() and rel not in listed:
                raise BundleIntegrityError(
                    f"Model “{manifest['id']}” contains a file its manifest does not list "
                    f"({rel}) and was refused.",
                )
    verify_manifest_digest(path, manifest)
    optional = runtime_optional_files(manifest)
    for name, entry in manifest["files"].items():
        member = _safe_member(path, name)
        if not member.is_file() and name in optional:
            continue
        if not member.is_file():
            raise BundleIntegrityError(
                f"Model “{manifest['id']}” is incomplete: the file {name} is missing. "
                "Reinstall or re-import the model.",
            )
        actual = sha256_file(member)
        if actual != entry["sha256"]:
            raise BundleIntegrityError(
                f"Model “{manifest['id']}” was altered or damaged: {name} does not match its "
                "recorded checksum. It will not be used; reinstall or re-import it.",
                f"expected {entry['sha256']}, found {actual}",
            )


def manifest_digest_line(manifest_bytes: bytes) -> str:
    """The line of ``manifest.sha256``: ``<hex>  manifest.json``."""
    return f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST_NAME}\n"


def verify_manifest_digest(path: Path, manifest: Mapping[str, Any]) -> None:
    """Check ``manifest.json`` against ``manifest.sha256``.

    Bundles written with schema 2 carry the digest file; a missing one is
    refused, so deleting it cannot hide an edit. Schema 1 bundles (before the
    digest existed) are checked by their file hashes only.
    """
    digest_path = path / MANIFEST_DIGEST_NAME
    name = manifest["id"]
    data = (path / MANIFEST_NAME).read_bytes()
    if not digest_path.is_file():
        if json.loads(data).get("schema_version") == 1:
            return
        raise BundleIntegrityError(
            f"Model “{name}” has no {MANIFEST_DIGEST_NAME}, so its manifest cannot be checked. "
            "It will not be used; reinstall or re-import it.",
        )
    expected = digest_path.read_text(encoding="ascii", errors="replace").split()[:1]
    actual = hashlib.sha256(data).hexdigest()
    if expected != [actual]:
        raise BundleIntegrityError(
            f"Model “{name}” was altered or damaged: manifest.json does not match its "
            "recorded checksum. It will not be used; reinstall or re-import it.",
            f"expected {expected[0] if expected else 'nothing'}, found {actual}",
        )


def read_manifest(path: Path) -> dict[str, Any]:
    """Read, migrate and validate a bundle folder's manifest (no hash check)."""
    manifest_path = path / MANIFEST_NAME
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BundleSchemaError(
            f"“{path.name}” is not a model bundle: it has no manifest.json.", str(path)
        ) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleSchemaError(
            f"The manifest of “{path.name}” is not valid JSON.", str(exc)
        ) from exc
    if not isinstance(raw, dict):
        raise BundleSchemaError(f"The manifest of “{path.name}” is not a JSON object.")
    validate_manifest(raw, str(manifest_path))
    manifest = migrate_manifest(raw)
    validate_manifest(manifest, str(manifest_path))
    return manifest


def open_bundle(path: str | Path, *, verify: bool = True, strict: bool = False) -> Bundle:
    """Open a bundle folder: schema, requirements and (by default) every hash.

    Parameters
    ----------
    path
        The bundle folder (holding ``manifest.json``).
    verify
        Check the sha256 of every listed file.
    strict
        Also refuse unlisted files and symbolic links (used on import).

    Raises
    ------
    BundleSchemaError, BundleIntegrityError, BundleCompatibilityError
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    check_requirements(runtime_requirements(manifest), manifest["id"])
    if verify:
        verify_files(folder, manifest, strict=strict)
    return Bundle(path=folder, manifest=manifest)


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Fill ``files`` with the sha256 of every file in ``folder`` and write the manifest."""
    files = {}
    for member in sorted(folder.rglob("*")):
        if member.is_file() and member.name not in (MANIFEST_NAME, MANIFEST_DIGEST_NAME):
            rel = member.relative_to(folder).as_posix()
            files[rel] = {"sha256": sha256_file(member), "bytes": member.stat().st_size}
    manifest = dict(manifest, files=files)
    validate_manifest(manifest)
    data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode("utf-8")
    (folder / MANIFEST_NAME).write_bytes(data)
    (folder / MANIFEST_DIGEST_NAME).write_text(manifest_digest_line(data), encoding="ascii")

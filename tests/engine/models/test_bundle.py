"""Bundles: loading, refusal of altered / unknown / incompatible ones, v1 → v2 migration."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from engine.errors import (
    BundleCompatibilityError,
    BundleIntegrityError,
    BundleSchemaError,
    ModelError,
)
from engine.models.architectures import build_model
from engine.models.authoring import write_bundle
from engine.models.bundle import (
    SCHEMA_VERSION,
    migrate_manifest,
    open_bundle,
    read_manifest,
    validate_manifest,
)
from engine.models.loader import load_runner
from engine.resources import resource_path
from tests.engine.models.factory import cnn_manifest, make_cnn_bundle


def _edit_manifest(folder: Path, **changes) -> None:
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    m.update(changes)
    path.write_text(json.dumps(m))


def test_tiny_bundle_opens_with_declared_fields(bundles: Path) -> None:
    b = open_bundle(bundles / "test-cnn")
    assert b.kind == "torch-cnn"
    assert b.manifest["schema_version"] == SCHEMA_VERSION
    assert b.weights_path.name == "model.safetensors"
    assert len(b.weights_sha256) == 64
    assert b.default_operating_point.name == "balanced"
    assert b.operating_point("high-sensitivity").threshold == 0.2
    assert b.architecture["name"] == "small-cnn"
    assert b.gates["modality"]["allowed"] == ["CR", "DX"]
    assert "not for clinical use" in b.card_text()


def test_tampered_weights_are_refused_naming_the_file(bundles: Path) -> None:
    weights = bundles / "test-cnn" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError) as err:
        open_bundle(bundles / "test-cnn")
    assert "model.safetensors" in err.value.user_message
    assert "altered or damaged" in err.value.user_message


def test_missing_file_is_refused(bundles: Path) -> None:
    (bundles / "test-cnn" / "card.md").unlink()
    with pytest.raises(BundleIntegrityError, match=r"card\.md is missing"):
        open_bundle(bundles / "test-cnn")


def test_unknown_schema_version_is_refused(bundles: Path) -> None:
    _edit_manifest(bundles / "test-cnn", schema_version=99)
    with pytest.raises(BundleSchemaError) as err:
        open_bundle(bundles / "test-cnn")
    assert "schema version 99" in err.value.user_message


def test_incompatible_package_version_is_refused(bundles: Path) -> None:
    _edit_manifest(bundles / "test-cnn", requirements={"torch": "<1.0"})
    with pytest.raises(BundleCompatibilityError) as err:
        open_bundle(bundles / "test-cnn")
    assert "torch <1.0" in err.value.user_message
    assert "is installed" in err.value.user_message


def test_missing_package_is_refused(bundles: Path) -> None:
    _edit_manifest(bundles / "test-cnn", requirements={"no-such-package-xyz": ">=1"})
    with pytest.raises(BundleCompatibilityError, match="not installed"):
        open_bundle(bundles / "test-cnn")


def test_invalid_manifest_names_the_field(bundles: Path) -> None:
    m = json.loads((bundles / "test-cnn" / "manifest.json").read_text())
    del m["architecture"]
    (bundles / "test-cnn" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleSchemaError, match="architecture"):
        open_bundle(bundles / "test-cnn")


def test_torch_bundle_must_use_safetensors(tmp_path: Path) -> None:
    m = cnn_manifest()
    m["weights"] = "model.pt"
    m["card"] = "card.md"
    m["files"] = {"model.pt": {"sha256": "0" * 64}, "card.md": {"sha256": "0" * 64}}
    with pytest.raises(BundleSchemaError, match="safetensors"):
        validate_manifest(m)


def test_weights_that_do_not_fit_the_network_are_refused(tmp_path: Path) -> None:
    wider = build_model("small-cnn", {"num_classes": 2, "width": 8})
    path = write_bundle(tmp_path, cnn_manifest(), net=wider)  # manifest says width 4
    with pytest.raises(ModelError, match="do not fit"):
        load_runner(open_bundle(path), "cpu")


def test_unknown_architecture_and_bad_arguments_are_refused(tmp_path: Path) -> None:
    path = make_cnn_bundle(tmp_path)
    _edit_manifest(path, architecture={"name": "evil-net", "args": {"num_classes": 2}})
    with pytest.raises(ModelError, match="evil-net"):
        load_runner(open_bundle(path, verify=False), "cpu")
    _edit_manifest(path, architecture={"name": "small-cnn", "args": {"num_classes": "2"}})
    with pytest.raises(ModelError, match="num_classes must be int"):
        load_runner(open_bundle(path, verify=False), "cpu")
    _edit_manifest(path, architecture={"name": "small-cnn", "args": {"num_classes": 2, "x": 1}})
    with pytest.raises(ModelError, match="does not take: x"):
        load_runner(open_bundle(path, verify=False), "cpu")


@pytest.fixture()
def v1_bundle(tmp_path: Path) -> Path:
    """The shipped logistic-regression bundle with its manifest written as schema v1.

    This is what Stethos 0.1 wrote: no calibration block, no default operating
    point, no gates, and no manifest.sha256 (schema-1 bundles are checked by
    their file hashes only), so the bundle still verifies.
    """
    folder = tmp_path / "heart-disease-logreg-13"
    shutil.copytree(resource_path("models", "heart-disease-logreg-13"), folder)
    raw = json.loads((folder / "manifest.json").read_text())
    raw["schema_version"] = 1
    raw["outputs"] = {k: v for k, v in raw["outputs"].items() if k != "calibration"}
    raw["outputs"]["calibrated"] = False
    for key in ("default_operating_point", "gates"):
        raw.pop(key, None)
    (folder / "manifest.json").write_text(json.dumps(raw))
    (folder / "manifest.sha256").unlink()
    return folder


def test_v1_manifest_is_migrated_to_v2(v1_bundle: Path) -> None:
    raw = json.loads((v1_bundle / "manifest.json").read_text())
    before = copy.deepcopy(raw)
    migrated = migrate_manifest(raw)
    assert raw == before  # not modified in place
    assert migrated["schema_version"] == 2
    assert migrated["outputs"]["calibration"] == {"method": "none"}
    assert migrated["default_operating_point"] == raw["operating_points"][0]["name"]
    assert migrated["gates"] == {}
    validate_manifest(migrated)  # valid v2
    # read_manifest does the same on disk, and the bundle still verifies
    assert read_manifest(v1_bundle) == migrated
    assert open_bundle(v1_bundle).calibration["method"] == "none"


def test_v1_calibrated_flag_becomes_intrinsic_calibration(v1_bundle: Path) -> None:
    raw = json.loads((v1_bundle / "manifest.json").read_text())
    raw["outputs"]["calibrated"] = True
    assert migrate_manifest(raw)["outputs"]["calibration"] == {"method": "intrinsic"}


def test_invalid_v1_manifest_is_refused_before_migration(v1_bundle: Path) -> None:
    raw = json.loads((v1_bundle / "manifest.json").read_text())
    del raw["operating_points"]
    with pytest.raises(BundleSchemaError, match="operating_points"):
        migrate_manifest(raw)


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("gates", {"sampling_rate": {"minimum": 125, "action": "refuse"}}, "minimum"),
        ("preprocessing", {"amplitude_drfit": {"method": "running-median", "beats": 101}},
         "amplitude_drfit"),
    ],
)  # fmt: skip
def test_a_key_the_engine_does_not_read_is_refused(bundles: Path, field, value, key) -> None:
    """A misspelt key would silently do nothing: beat model 4.0.0 declared its sampling-rate
    limit as ``minimum`` (the gates read ``min``) and scored a 100 Hz record. The schema names
    the key instead, for the gates and the preprocessing alike."""
    m = json.loads((bundles / "test-beats" / "manifest.json").read_text())
    m[field] = {**m.get(field, {}), **value}
    (bundles / "test-beats" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleSchemaError, match=key):
        open_bundle(bundles / "test-beats")

"""A modified byte in a bundled or imported model, or in a bundle's manifest, is refused.

Every bundled model is copied to a temporary folder and altered there (the
real ``resources/models`` is never touched). The audit log's tamper tests
(an edited row, a deleted row, a removed tail, a recomputed hash) live in
``tests/engine/store/test_audit.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import api
from engine.errors import BundleIntegrityError, BundleSchemaError, ModelError
from engine.models.bundle import manifest_digest_line
from engine.models.registry import ModelRegistry

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "resources" / "models"
MODEL_IDS = sorted(p.name for p in BUNDLED.iterdir() if (p / "manifest.json").is_file())


def _flip_byte(path: Path, where: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * where)] ^= 0x01
    path.write_bytes(bytes(data))


def _weights(folder: Path) -> Path:
    return folder / json.loads((folder / "manifest.json").read_text())["weights"]


@pytest.fixture()
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry([(tmp_path / "bundled", "bundled"), (tmp_path / "user", "user")])


def _copy(model_id: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(BUNDLED / model_id, tmp_path / "bundled" / model_id))


def test_every_bundled_model_is_covered() -> None:
    assert len(MODEL_IDS) >= 6


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_bundled_weights_with_one_byte_changed_are_refused(
    model_id: str, tmp_path: Path, registry: ModelRegistry
) -> None:
    folder = _copy(model_id, tmp_path)
    assert registry.open(model_id).id == model_id  # the untouched copy opens
    weights = _weights(folder)
    _flip_byte(weights)
    with pytest.raises(BundleIntegrityError) as caught:
        registry.open(model_id)
    assert model_id in caught.value.user_message
    assert weights.name in caught.value.user_message
    with pytest.raises(BundleIntegrityError):
        api.load_model(model_id, registry)
    assert any(e.id == model_id for e in api.list_models(registry))  # listed, not usable


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_imported_model_altered_after_import_is_refused(
    model_id: str, tmp_path: Path, registry: ModelRegistry
) -> None:
    source = Path(shutil.copytree(BUNDLED / model_id, tmp_path / "source" / model_id))
    entry = registry.import_bundle(source)
    assert entry.source == "user" and registry.open(model_id).path == entry.path
    _flip_byte(_weights(entry.path), 0.9)
    with pytest.raises(BundleIntegrityError, match=model_id) as caught:
        registry.verify(model_id)
    assert _weights(entry.path).name in caught.value.user_message
    with pytest.raises(ModelError):
        api.load_model(model_id, registry)


def _edit_manifest(folder: Path, old: str, new: str) -> None:
    manifest = folder / "manifest.json"
    text = manifest.read_text(encoding="utf-8")
    assert old in text
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_manifest_with_a_hash_digit_changed_is_refused(
    model_id: str, tmp_path: Path, registry: ModelRegistry
) -> None:
    folder = _copy(model_id, tmp_path)
    digest = json.loads((folder / "manifest.json").read_text())["files"]["card.md"]["sha256"]
    _edit_manifest(folder, digest, digest[:10] + ("0" if digest[10] != "0" else "1") + digest[11:])
    with pytest.raises(BundleIntegrityError, match=model_id) as caught:
        registry.open(model_id)
    assert "manifest.json does not match" in caught.value.user_message
    # Someone who also rewrites manifest.sha256 is still caught by the file's own hash.
    (folder / "manifest.sha256").write_text(
        manifest_digest_line((folder / "manifest.json").read_bytes())
    )
    with pytest.raises(BundleIntegrityError, match=model_id) as caught:
        registry.open(model_id)
    assert "card.md" in caught.value.user_message


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_manifest_with_a_broken_byte_is_refused(
    model_id: str, tmp_path: Path, registry: ModelRegistry
) -> None:
    folder = _copy(model_id, tmp_path)
    _edit_manifest(folder, '"schema_version": 2', '"schema_version": 9')
    with pytest.raises(ModelError, match="schema version"):
        registry.verify(model_id)
    _edit_manifest(folder, '"schema_version": 9', '"schema_version" 2')  # a lost colon
    with pytest.raises(BundleSchemaError, match=model_id) as caught:
        registry.verify(model_id)
    assert "not valid JSON" in caught.value.user_message


def test_manifest_with_a_metric_digit_changed_is_refused(
    tmp_path: Path, registry: ModelRegistry
) -> None:
    model_id = "heart-disease-logreg-13"
    folder = _copy(model_id, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    auroc = manifest["metrics"]["auroc"]["value"]
    _edit_manifest(folder, f'"value": {auroc}', f'"value": {min(auroc + 0.05, 0.999):.4f}')
    with pytest.raises(ModelError, match=model_id):
        registry.verify(model_id)
    with pytest.raises(ModelError, match=r"manifest\.json does not match"):
        registry.verify(model_id)


def test_manifest_digest_file_removed_is_refused(tmp_path: Path, registry: ModelRegistry) -> None:
    model_id = "heart-disease-tree-13"
    folder = _copy(model_id, tmp_path)
    (folder / "manifest.sha256").unlink()
    with pytest.raises(ModelError, match=r"manifest\.sha256"):
        registry.verify(model_id)

"""Importing bundles from folders and zips: checked, atomic, and safe against hostile archives."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path

import pytest

import engine.models.registry as registry_module
from engine.errors import (
    BundleIntegrityError,
    BundleSchemaError,
    ModelError,
    ModelNotFoundError,
)
from engine.models.registry import ModelRegistry
from tests.engine.models.factory import make_cnn_bundle


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return make_cnn_bundle(tmp_path / "src", "imported-cnn")


@pytest.fixture()
def reg(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry([(tmp_path / "bundled", "bundled"), (tmp_path / "user", "user")])


def _zip(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, prefix + f.relative_to(folder).as_posix())
    return target


def _user_folder_is_clean(reg: ModelRegistry) -> bool:
    root = reg.user_root
    return root is None or not root.exists() or not any(root.iterdir())


def test_import_folder_list_verify_remove(reg: ModelRegistry, source: Path) -> None:
    entry = reg.import_bundle(source)
    assert entry.id == "imported-cnn" and entry.source == "user"
    assert [e.id for e in reg.entries()] == ["imported-cnn"]
    assert reg.verify("imported-cnn").id == "imported-cnn"
    with pytest.raises(ModelError, match="already imported"):
        reg.import_bundle(source)
    reg.import_bundle(source, replace=True)
    reg.remove("imported-cnn")
    assert reg.entries() == []
    with pytest.raises(ModelNotFoundError):
        reg.remove("imported-cnn")


def test_bundled_models_cannot_be_removed(tmp_path: Path) -> None:
    make_cnn_bundle(tmp_path / "bundled", "shipped-cnn")
    reg = ModelRegistry([(tmp_path / "bundled", "bundled"), (tmp_path / "user", "user")])
    with pytest.raises(ModelError, match="comes with Stethos"):
        reg.remove("shipped-cnn")
    assert (tmp_path / "bundled" / "shipped-cnn" / "manifest.json").is_file()


@pytest.mark.parametrize("prefix", ["", "imported-cnn/"])
def test_import_zip(reg: ModelRegistry, source: Path, tmp_path: Path, prefix: str) -> None:
    archive = _zip(source, tmp_path / "bundle.zip", prefix)
    entry = reg.import_bundle(archive)
    assert (entry.path / "model.safetensors").is_file()
    assert reg.verify("imported-cnn").path == entry.path
    assert not list(reg.user_root.glob(".import-*"))  # staging cleaned


def test_tampered_zip_installs_nothing(reg: ModelRegistry, source: Path, tmp_path: Path) -> None:
    (source / "card.md").write_text("edited after hashing")
    with pytest.raises(BundleIntegrityError, match=r"card\.md"):
        reg.import_bundle(_zip(source, tmp_path / "bad.zip"))
    assert _user_folder_is_clean(reg)


def test_unlisted_file_is_refused(reg: ModelRegistry, source: Path) -> None:
    (source / "run_me.py").write_text("print('hello')")
    with pytest.raises(BundleIntegrityError, match=r"run_me\.py"):
        reg.import_bundle(source)
    assert _user_folder_is_clean(reg)


@pytest.mark.parametrize("name", ["../evil.txt", "imported-cnn/../../evil.txt", "/etc/evil"])
def test_zip_path_traversal_is_refused(
    reg: ModelRegistry, source: Path, tmp_path: Path, name: str
) -> None:
    archive = _zip(source, tmp_path / "trav.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(name, "payload")
    with pytest.raises(BundleSchemaError, match="unsafe file name"):
        reg.import_bundle(archive)
    assert not (tmp_path / "evil.txt").exists()
    assert _user_folder_is_clean(reg)


def test_zip_symlink_is_refused(reg: ModelRegistry, source: Path, tmp_path: Path) -> None:
    archive = _zip(source, tmp_path / "link.zip")
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(BundleIntegrityError, match="symbolic link"):
        reg.import_bundle(archive)


def test_folder_symlink_is_refused(reg: ModelRegistry, source: Path) -> None:
    (source / "link").symlink_to("/etc/hostname")
    with pytest.raises(BundleIntegrityError, match="symbolic link"):
        reg.import_bundle(source)


def test_zip_bomb_is_refused(
    reg: ModelRegistry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "MAX_ZIP_BYTES", 4 * 1024**2)
    archive = _zip(source, tmp_path / "bomb.zip")
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (16 * 1024**2))  # 16 MB that packs to ~16 KB
    assert archive.stat().st_size < 1024**2
    with pytest.raises(BundleSchemaError, match="zip bomb"):
        reg.import_bundle(archive)
    assert _user_folder_is_clean(reg)


def test_zip_bomb_with_lying_header_is_stopped_while_extracting(
    reg: ModelRegistry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _zip(source, tmp_path / "liar.zip")
    with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (8 * 1024**2))
    # The size check on headers passes; reading must still stop at the budget or the CRC.
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self):
        infos = real_infolist(self)
        for i in infos:
            i.file_size = min(i.file_size, 1024)
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    monkeypatch.setattr(registry_module, "MAX_ZIP_BYTES", 2 * 1024**2)
    with pytest.raises((BundleSchemaError, BundleIntegrityError)):
        reg.import_bundle(archive)
    assert _user_folder_is_clean(reg)


def test_too_many_members_is_refused(
    reg: ModelRegistry, source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry_module, "MAX_ZIP_MEMBERS", 5)
    archive = _zip(source, tmp_path / "many.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        for i in range(10):
            zf.writestr(f"f{i}.txt", "x")
    with pytest.raises(BundleSchemaError, match="members"):
        reg.import_bundle(archive)


def test_not_a_bundle_is_refused(reg: ModelRegistry, tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    with zipfile.ZipFile(junk, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(BundleSchemaError, match=r"no manifest\.json"):
        reg.import_bundle(junk)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(BundleSchemaError, match="neither"):
        reg.import_bundle(text)


def test_broken_user_bundle_is_listed_with_its_problem(reg: ModelRegistry, source: Path) -> None:
    entry = reg.import_bundle(source)
    (entry.path / "manifest.json").write_text("{ not json")
    (listed,) = reg.entries()
    assert listed.problem and "not valid JSON" in listed.problem
    with pytest.raises(ModelNotFoundError):
        reg.find("imported-cnn")
    shutil.rmtree(entry.path)

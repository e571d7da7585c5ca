"""Fixtures for the model runtime tests: tiny bundles in a throw-away registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.models.registry import ModelRegistry
from engine.workflow import clear_model_cache
from tests.engine.models.factory import make_cnn_bundle, make_lstm_bundle


@pytest.fixture()
def bundles(tmp_path: Path) -> Path:
    """A folder with a tiny CNN bundle and a tiny beat-LSTM bundle."""
    root = tmp_path / "bundled"
    make_cnn_bundle(root)
    make_lstm_bundle(root)
    return root


@pytest.fixture()
def registry(bundles: Path, tmp_path: Path) -> ModelRegistry:
    return ModelRegistry([(bundles, "bundled"), (tmp_path / "user", "user")])


@pytest.fixture()
def cxr_samples(shared_data: Path) -> list[Path]:
    files = sorted((shared_data / "cxr" / "samples").glob("*.dcm"))
    if not files:
        pytest.skip("no chest radiograph samples in the shared data")
    return files


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Site calibrations (and imported models) in a throw-away user folder."""
    monkeypatch.setenv("STETHOS_DATA_DIR", str(tmp_path / "data"))
    clear_model_cache()
    yield tmp_path / "data"
    clear_model_cache()


@pytest.fixture()
def uci(shared_data: Path) -> Path:
    return shared_data / "tabular" / "uci-heart" / "processed.cleveland.data"

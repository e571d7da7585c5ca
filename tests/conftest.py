"""Test-wide fixtures: the shared data folder and an isolated user folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import _no_network

# Qt runs headless in tests; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No background model warm-up in the windows the tests open (desktop/main_window.py).
os.environ.setdefault("STETHOS_WARM_UP", "0")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STETHOS_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_configure(config: pytest.Config) -> None:
    """No test may touch the network: see :mod:`tests._no_network`."""
    _no_network.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    _no_network.uninstall()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (skips the test with a reason when it is absent)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory):
    """Keep tests away from the real user's data, log and config folders."""
    root = tmp_path_factory.mktemp("user")
    saved = {
        k: os.environ.get(k)
        for k in ("STETHOS_DATA_DIR", "STETHOS_LOG_DIR", "STETHOS_CONFIG_DIR", "STETHOS_KEYRING")
    }
    os.environ["STETHOS_DATA_DIR"] = str(root / "data")
    os.environ["STETHOS_LOG_DIR"] = str(root / "log")
    os.environ["STETHOS_CONFIG_DIR"] = str(root / "config")
    # never the developer's own keyring (tests that need one start their own Secret Service)
    os.environ["STETHOS_KEYRING"] = "off"
    yield root
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v

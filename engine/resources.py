"""One place that finds bundled resources and the user's folders.

Works from a source checkout, an installed wheel and a PyInstaller bundle
(``sys._MEIPASS``). Nothing else builds resource paths from ``__file__``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_NAME = "Stethos"
APP_AUTHOR = "Stethos"


def resources_root() -> Path:
    """Folder holding ``models/``, ``samples/``, ``icons/`` and ``translations/``.

    ``STETHOS_RESOURCES`` overrides it (used by tests and packaging checks).
    """
    override = os.environ.get("STETHOS_RESOURCES")
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("samples", "cxr.dcm")``."""
    return resources_root().joinpath(*parts)


def _dirs():  # platformdirs is small; imported here to keep `import engine` minimal
    from platformdirs import PlatformDirs

    return PlatformDirs(APP_NAME, APP_AUTHOR)


def _folder(env: str, default: str) -> Path:
    override = os.environ.get(env)
    path = Path(override) if override else Path(default)
    return path


def user_data_dir() -> Path:
    """Where the local store and imported models live (``STETHOS_DATA_DIR`` overrides)."""
    return _folder("STETHOS_DATA_DIR", _dirs().user_data_dir)


def user_log_dir() -> Path:
    """Where rotating log files are written (``STETHOS_LOG_DIR`` overrides)."""
    return _folder("STETHOS_LOG_DIR", _dirs().user_log_dir)


def user_config_dir() -> Path:
    """Where settings are kept (``STETHOS_CONFIG_DIR`` overrides)."""
    return _folder("STETHOS_CONFIG_DIR", _dirs().user_config_dir)


def user_models_dir() -> Path:
    """Folder of bundles the user imported."""
    return user_data_dir() / "models"

"""Where training data is found: ``../shared/data`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import EngineError


def shared_data_dir() -> Path:
    """The shared data folder (``STETHOS_SHARED_DATA`` overrides)."""
    override = os.environ.get("STETHOS_SHARED_DATA")
    candidates = [Path(override)] if override else []
    repo = Path(__file__).resolve().parents[2]
    candidates += [repo.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c
    raise EngineError(
        "The training data folder was not found. Set STETHOS_SHARED_DATA to the shared/data folder.",
        ", ".join(str(c) for c in candidates),
    )

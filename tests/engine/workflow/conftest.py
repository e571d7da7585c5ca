"""Fixtures of the workflow tests: a real store in a temporary folder (cheap Argon2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import KdfParams, Store, create_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened, _key = create_store(
        tmp_path / "db" / "stethos.db", "admin", "admin-password-1", kdf=KdfParams.fast()
    )
    yield opened
    opened.close()

"""Fixtures of the store tests: real SQLCipher databases in temporary folders.

Argon2id runs with :meth:`KdfParams.fast` here (passed explicitly on every
call); the product's default parameters are exercised once in
``test_accounts.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import Store, create_store
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "clinic" / "stethos.db"


@pytest.fixture
def created(db_path: Path, clock: FakeClock) -> Iterator[tuple[Store, str]]:
    store, recovery = create_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=clock)
    yield store, recovery
    store.close()


@pytest.fixture
def store(created: tuple[Store, str]) -> Store:
    return created[0]

"""Fixtures of the store tests: real databases, on both backends.

Every test that uses ``db_path`` (or ``store``/``created``) runs twice: on
the workstation's SQLCipher file in a temporary folder, and on a fresh
database of a throw-away PostgreSQL server (``_pg.py``; skipped, with the
reason, where the PostgreSQL binaries are missing). ``db_path`` is then the
workstation role's ``postgresql://`` URL. A test marked ``sqlite_only`` is
about the file itself (its key file, its anchor file, SQLite pragmas) and
runs on SQLite only.

Argon2id runs with :meth:`KdfParams.fast` here (passed explicitly on every
call); the product's default parameters are exercised once in
``test_accounts.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import Store, create_store, open_store
from tests._no_network import loopback_allowed
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, FakeClock
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer, throwaway_server

BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: about the local SQLCipher file itself; not run on PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ["sqlite"] if only else list(BACKENDS), indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One throw-away PostgreSQL cluster for the whole run (TLS on 127.0.0.2 too)."""
    with throwaway_server(tls=True) as server:
        yield server


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pg_database(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """A fresh database's name on the test server (``None`` on SQLite)."""
    if backend != "postgresql":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    with loopback_allowed():
        yield server.new_database()


@pytest.fixture
def db_path(tmp_path: Path, backend: str, pg_database: str | None, request) -> str | Path:
    """The store's location: a file path, or the workstation role's URL."""
    if pg_database is None:
        return tmp_path / "clinic" / "stethos.db"
    return request.getfixturevalue("pg_server").url(WORKSTATION, pg_database)


@pytest.fixture
def owner_url(pg_database: str | None, request) -> str | None:
    """The schema owner's URL of the test's database (``None`` on SQLite)."""
    if pg_database is None:
        return None
    return request.getfixturevalue("pg_server").url(OWNER, pg_database)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def created(
    db_path: str | Path, owner_url: str | None, clock: FakeClock
) -> Iterator[tuple[Store, str]]:
    """A new store signed in as its administrator (on a server: IT creates it as the owner,
    the administrator then signs in on a workstation)."""
    if owner_url is None:
        store, recovery = create_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=clock)
    else:
        first, recovery = create_store(owner_url, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=clock)
        first.close()
        store = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=clock)
    yield store, recovery
    store.close()


@pytest.fixture
def store(created: tuple[Store, str]) -> Store:
    return created[0]

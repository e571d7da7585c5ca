"""SQLCipher connections and transactions, and what the store asks of any connection.

The store's SQL is written once, in SQLite's dialect with ``?`` parameters;
a PostgreSQL connection (:class:`engine.store.server.ServerConnection`)
translates it. :class:`Connection` is what both provide; the few places
where the two differ ask :func:`dialect`.

One connection per thread (see :class:`~engine.store.store.Store`); every
connection is keyed with the raw 256-bit data key, runs in WAL mode with
foreign keys on, ``synchronous=FULL`` (a committed row survives a power
cut, not only a crash) and a busy timeout so that the GUI thread and a
worker thread wait for each other instead of failing.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import sqlcipher3

from engine.errors import StoreError

BUSY_TIMEOUT_MS = 15_000

DatabaseError = sqlcipher3.DatabaseError
IntegrityError = sqlcipher3.IntegrityError


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection as the store uses it: SQLCipher's, or the PostgreSQL adapter."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


def dialect(conn: Connection) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(getattr(conn, "dialect", "sqlite"))


def insert_returning_id(
    conn: Connection, sql: str, parameters: Sequence[Any], then: Callable[[], Any] | None = None
) -> tuple[int, Any]:
    """Run an ``INSERT``; returns the new row's ``id`` and what ``then()`` returned.

    ``then`` runs after the ``INSERT`` is sent and before its id is read: a
    server gets both requests in one round trip.
    """
    if dialect(conn) == "sqlite":
        row_id = int(conn.execute(sql, parameters).lastrowid)
        return row_id, None if then is None else then()
    cur = conn.execute(sql + " RETURNING id", parameters)
    more = None if then is None else then()
    return int(cur.fetchone()[0]), more


def has_table(conn: Connection, name: str) -> bool:
    """Whether the table ``name`` exists."""
    if dialect(conn) == "sqlite":
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    else:
        sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
    return conn.execute(sql, (name,)).fetchone() is not None


def disk_problem(folder: Path, exc: BaseException) -> str:
    """A plain-language reason for a failed write to the data folder (full, read-only, …)."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or "full" in text:
        return (
            f"The disk holding the data folder {folder} is full: Stethos cannot save there, and "
            "the last change was not saved. Free some space and try again."
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text:
        return (
            f"The data folder {folder} is read-only: Stethos cannot save there. Ask your "
            "administrator for write access, or choose another data folder."
        )
    if code in (errno.ENOTDIR, errno.EEXIST):
        return (
            f"The data folder {folder} cannot be used: a file is in the way of a folder. "
            "Choose another data folder."
        )
    if "disk i/o" in text or isinstance(exc, OSError):
        return (
            f"The data folder {folder} could not be written: the disk reported an error (it may "
            "be full, read-only or failing). The change was not saved."
        )
    return ""


def connect(path: Path, data_key: bytes) -> sqlcipher3.Connection:
    """Open (or create) the encrypted database at ``path`` with ``data_key``.

    Raises
    ------
    StoreError
        The file is not this store's database (wrong key file) or is damaged.
    """
    try:
        conn = sqlcipher3.connect(
            str(path),
            isolation_level=None,  # explicit BEGIN/COMMIT only
            check_same_thread=False,  # closed from the owning Store; used by one thread
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlcipher3.Error as exc:
        raise StoreError(f"Could not open the database {path.name}.", str(exc)) from exc
    try:
        conn.execute(f"PRAGMA key = \"x'{data_key.hex()}'\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        text = str(exc).lower()
        if "readonly" in text or "unable to open" in text or "disk i/o" in text:
            raise StoreError(disk_problem(path.parent, exc), str(exc)) from exc
        raise StoreError(
            f"The database {path.name} cannot be opened with its key file: the key file belongs "
            "to another database, or the database is damaged. Restore both from the same backup.",
            str(exc),
        ) from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(
            f"The database {path.name} could not be switched to write-ahead logging.",
            f"journal_mode={mode}",
        )
    return conn


@contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolls back on any exception.

    ``IMMEDIATE`` takes the write lock up front, so two threads never both
    read the audit tail and then race to append after it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite already rolled back after SQLITE_FULL or an I/O error
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def integrity_check(conn: Connection) -> str:
    """``PRAGMA integrity_check`` result (``"ok"`` when the file is sound).

    A PostgreSQL connection answers with its own check (tables, triggers, grants).
    """
    own = getattr(conn, "integrity_check", None)
    if own is not None:
        return str(own())
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(r[0]) for r in rows)

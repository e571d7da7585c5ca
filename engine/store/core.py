"""The store's core: connections, write transactions with their audit entries, the anchor.

:class:`StoreCore` is the part of :class:`~engine.store.store.Store` every
concern needs (one connection per thread, the signed-in session, the write
transaction and the audit anchor); the concerns themselves are mixins of it
(``accounts``, ``patients``, ``records``, ``studies``, ``results``,
``timeline``, ``audit_ops``).

Every change goes through :class:`Tx`: :meth:`Tx.insert` and
:meth:`Tx.update` write a row and its audit entry in the same transaction,
so no change can be committed without its entry.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

import sqlcipher3

from engine.errors import PermissionDeniedError, StoreError
from engine.store import audit as audit_log
from engine.store import crypto, db
from engine.store.crypto import KdfParams
from engine.store.entities import AuditEntry, Session, User
from engine.store.keyring import Keyring, anchor_path

Clock = Callable[[], datetime]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Serialises key-file rewrites between the stores of one process (see
#: :meth:`StoreCore._update_keyring`).
_keyring_lock = threading.Lock()
#: Table and column names are code constants; this only catches a slip that
#: would otherwise reach SQL as text.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def ts(moment: datetime) -> str:
    """``moment`` as the store writes times: UTC ISO 8601 with microseconds.

    Raises
    ------
    StoreError
        ``moment`` has no time zone (a naive time would be misread later).
    """
    if moment.tzinfo is None:
        raise StoreError("Times given to the store must carry a time zone.", repr(moment))
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def dt(text: str) -> datetime:
    """A time as the store wrote it (see :func:`ts`), read back."""
    return datetime.fromisoformat(text)


def one(conn: db.Connection, sql: str, row_id: int, missing: str) -> tuple:
    """The row ``sql`` selects for ``row_id``.

    Raises
    ------
    StoreError
        With the message ``missing`` when there is no such row.
    """
    row = conn.execute(sql, (row_id,)).fetchone()
    if row is None:
        raise StoreError(missing)
    return tuple(row)


def from_row(
    cls: type[T],
    row: Sequence[Any],
    read: Mapping[str, Callable[[Any], Any]],
    **more: Any,
) -> T:
    """A ``cls`` dataclass from a row whose columns are its fields, in order.

    Every SELECT that feeds this lists its columns in the order of the
    entity's fields (a shorter row leaves the last fields to ``more`` or
    their defaults).

    Parameters
    ----------
    read
        How a field's column is read back (``int``, :func:`dt`, ...); not
        called on NULL. Columns not named are taken as they are.
    more
        Fields the row does not hold.
    """
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if len(row) > len(names):
        raise ValueError(f"{len(row)} columns for the {len(names)} fields of {cls.__name__}")
    values = {
        name: value if value is None or name not in read else read[name](value)
        for name, value in zip(names, row, strict=False)
    }
    return cls(**values, **more)


def guarded(method: F) -> F:
    """Turn SQLite errors into :class:`StoreError` and count the call as activity."""

    @functools.wraps(method)
    def wrapper(self: StoreCore, *args: Any, **kwargs: Any) -> Any:
        self._check_open()
        self.session.touch()
        try:
            return method(self, *args, **kwargs)
        except sqlcipher3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    "The database is busy with another task. Try again in a moment.", str(exc)
                ) from exc
            raise StoreError(
                db.disk_problem(self.path.parent, exc)
                or f"The database {self.path.name} could not be read or written.",
                str(exc),
            ) from exc
        except OSError as exc:  # key file or anchor writes
            raise StoreError(db.disk_problem(self.path.parent, exc), str(exc)) from exc
        except sqlcipher3.Error as exc:
            raise StoreError(
                f"The database {self.path.name} could not be read or written.", str(exc)
            ) from exc

    return wrapper  # type: ignore[return-value]


class Audit(NamedTuple):
    """The audit entry of a row written by :meth:`Tx.insert` or :meth:`Tx.update`.

    Its object id is the row's id, so it is not given here.
    """

    action: str
    object_type: str
    details: Mapping[str, Any] | None = None


def _columns(table: str, values: Mapping[str, Any]) -> list[str]:
    names = [table, *values]
    bad = [n for n in names if not _IDENTIFIER.match(n)]
    if bad or not values:
        raise ValueError(f"Not a table or column name: {bad or 'no columns'}")
    return list(values)


@dataclass
class Tx:
    """A write transaction: its connection, who writes, and the last audit entry appended.

    Attributes
    ----------
    conn
        The connection whose transaction is open.
    user
        The user name written into every audit entry.
    now
        The current time as the store writes it (called per entry).
    last
        The latest entry appended, to anchor after the commit.
    """

    conn: db.Connection
    user: str
    now: Callable[[], str]
    last: AuditEntry | None = None

    def audit(
        self,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one audit entry in this transaction."""
        self.last = audit_log.append(
            self.conn,
            at=self.now(),
            user=self.user,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
        return self.last

    def insert(self, table: str, values: Mapping[str, Any], audit: Audit | None = None) -> int:
        """INSERT one row and, with ``audit``, its audit entry; returns the new row's id.

        Parameters
        ----------
        table, values
            The table and the row as ``{column: value}``; names are code
            constants (checked), values are bound parameters.
        audit
            The entry to log, whose object id becomes the new row's id.
        """
        columns = _columns(table, values)
        cur = self.conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            tuple(values.values()),
        )
        row_id = int(cur.lastrowid)
        if audit is not None:
            self.audit(audit.action, audit.object_type, row_id, audit.details)
        return row_id

    def update(
        self, table: str, row_id: int, values: Mapping[str, Any], audit: Audit | None = None
    ) -> None:
        """UPDATE the row ``row_id`` of ``table`` and, with ``audit``, log it (object ``row_id``)."""
        columns = _columns(table, values)
        self.conn.execute(
            f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?",
            (*values.values(), row_id),
        )
        if audit is not None:
            self.audit(audit.action, audit.object_type, row_id, audit.details)


class StoreCore:
    """Connections, session, write transactions and the audit anchor of an open store.

    The base of every concern's mixin; :class:`~engine.store.store.Store`
    composes them. Not constructed directly.
    """

    def __init__(
        self,
        path: Path,
        keyring: Keyring,
        data_key: bytes,
        user: User,
        *,
        kdf: KdfParams,
        clock: Clock,
    ) -> None:
        self.path = path
        self.kdf = kdf
        self._keyring = keyring
        self._data_key = data_key
        self._anchor_key = crypto.anchor_key(data_key)
        self._clock = clock
        self._local = threading.local()
        self._connections: list[db.Connection] = []
        self._lock = threading.RLock()
        self._anchor_seq = 0
        #: Why the anchor is not being advanced ("" when it is): see ``reanchor``.
        self.anchor_problem = ""
        self._closed = False
        now = clock()
        self.session = Session(user=user, started_at=now, last_activity=now, clock=clock)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def user(self) -> User:
        """The signed-in user."""
        return self.session.user

    @property
    def anchor_path(self) -> Path:
        """The signed audit-anchor file next to the database."""
        return anchor_path(self.path)

    def _now(self) -> str:
        return ts(self._clock())

    def _stamp(self, prefix: str, now: str | None = None) -> dict[str, Any]:
        """``{prefix}_at`` and ``{prefix}_by``: when and by whom a row is written."""
        return {f"{prefix}_at": now or self._now(), f"{prefix}_by": self.session.user.id}

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("The store is closed. Sign in again.")

    def _conn(self) -> db.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.path, self._data_key)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        tx = Tx(self._conn(), self.session.user.username, self._now)
        with db.write_transaction(tx.conn):
            yield tx
        if tx.last is not None:
            self._advance_anchor(tx.last.seq, tx.last.hash)

    def _advance_anchor(self, seq: int, digest: str) -> None:
        # After COMMIT: the anchor may lag the log after a crash, never lead it; and it
        # is never moved past a log that lost anchored entries (that would hide it).
        with self._lock:
            if seq <= self._anchor_seq:
                return
            self.anchor_problem = audit_log.advance_anchor(
                self._conn(),
                self.anchor_path,
                self._anchor_key,
                self._keyring.store_id,
                seq,
                digest,
            )
            if not self.anchor_problem:
                self._anchor_seq = seq

    def _update_keyring(self, change: Callable[[Keyring], None]) -> None:
        """Apply ``change`` to the key file as it is on disk now, and save it.

        Re-reading first keeps slots another window or process added since
        this store opened. Called inside the write transaction of the
        matching users-table change: if saving fails, that change rolls back.
        """
        with _keyring_lock:
            fresh = Keyring.load(self._keyring.path)
            if fresh.store_id != self._keyring.store_id:
                raise StoreError(
                    f"The key file {fresh.path.name} was replaced by another database's key file."
                )
            change(fresh)
            fresh.save()
            self._keyring = fresh

    def _require_admin(self, what: str) -> None:
        if not self.session.user.is_admin:
            raise PermissionDeniedError(f"Only an administrator can {what}.")

    def close(self) -> None:
        """Log out and close every connection (safe to call twice)."""
        if self._closed:
            return
        try:
            with self._write() as tx:
                tx.audit("logout", "user", self.session.user.id)
        except (sqlcipher3.Error, StoreError):
            pass  # closing must not fail; the login entry already exists
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlcipher3.Error:
                    pass
            self._connections.clear()
            self._closed = True
        self._data_key = b""

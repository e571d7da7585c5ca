"""The store's core: connections, write transactions with their audit entries, the anchor.

:class:`StoreCore` is the part of :class:`~engine.store.store.Store` every
concern needs (one connection per thread, the signed-in session, the write
transaction and the audit anchor); the concerns themselves are mixins of it
(``accounts``, ``patients``, ``records``, ``studies``, ``results``,
``timeline``, ``audit_ops``).

Where the data lives is a :class:`Backend`: the workstation's encrypted
SQLCipher file with its key file and anchor file
(:class:`~engine.store.local.LocalBackend`), or the clinic's shared
PostgreSQL database (:class:`~engine.store.server.ServerBackend`). The
concerns do not know which.

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
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Self, TypeVar

from engine.errors import EngineError, PermissionDeniedError, StoreError, StoreUnreachableError
from engine.store import audit as audit_log
from engine.store import db
from engine.store.audit import Anchor
from engine.store.crypto import KdfParams
from engine.store.entities import AuditEntry, Session, User

Clock = Callable[[], datetime]
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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
    names = _field_names(cls)  # type: ignore[arg-type]
    if len(row) > len(names):
        raise ValueError(f"{len(row)} columns for the {len(names)} fields of {cls.__name__}")
    values = {
        name: value if value is None or name not in read else read[name](value)
        for name, value in zip(names, row, strict=False)
    }
    return cls(**values, **more)


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass, in order (found once per class: they never change)."""
    return tuple(f.name for f in fields(cls))


class Backend(Protocol):
    """Where an open store's data lives, and what differs between the two kinds.

    The local backend keeps the data key's wrapped copies in the key file and
    the audit anchor in a signed file; the server backend keeps the accounts'
    password hashes only in the database and lets the server keep the anchor.
    """

    #: The database as people see it in messages: a file path or a URL (no password).
    location: str

    @property
    def store_id(self) -> str:
        """The store's identity (written into the ``store_created`` entry)."""
        ...

    def connect(self) -> db.Connection:
        """A new connection for the calling thread."""
        ...

    def release(self, conn: db.Connection) -> None:
        """Give back a connection from :meth:`connect` (closing it or pooling it)."""
        ...

    def translate(self, exc: Exception) -> EngineError | None:
        """The :class:`StoreError` a driver's exception means, or ``None`` when it is not one."""
        ...

    def has_user(self, username: str) -> bool:
        """Whether ``username`` holds a key slot outside the users table."""
        ...

    def set_password(
        self, conn: db.Connection, username: str, password: str, kdf: KdfParams
    ) -> None:
        """Let ``password`` open the store for ``username`` (inside the users-table change)."""
        ...

    def remove_user(self, conn: db.Connection, username: str) -> None:
        """Stop ``username``'s password opening the store."""
        ...

    def set_recovery(self, conn: db.Connection, raw: bytes) -> None:
        """Make the recovery key ``raw`` the one that restores access (replacing the old one)."""
        ...

    def check_recovery(self, conn: db.Connection, text: str) -> None:
        """Raise :class:`AuthenticationError` unless ``text`` is the store's recovery key."""
        ...

    def after_migrate(self, conn: db.Connection) -> None:
        """What the backend does after schema steps were applied (grants on a server)."""
        ...

    def anchor(self, conn: db.Connection) -> tuple[Anchor | None, str]:
        """The checked audit anchor, or ``None`` and why there is none."""
        ...

    def advance_anchor(self, conn: db.Connection, seq: int, digest: str) -> str:
        """Move the anchor to a committed entry; returns why it was not moved (``""``: moved)."""
        ...

    def reanchor(self, conn: db.Connection, seq: int, digest: str) -> None:
        """Replace the anchor with ``(seq, digest)`` (an administrator accepted the log)."""
        ...

    def close(self) -> None:
        """Forget the keys and give back pooled connections."""
        ...


def guarded(method: F) -> F:
    """Turn database errors into :class:`StoreError` and count the call as activity.

    A lost server connection (:class:`StoreUnreachableError`) is dropped, so
    that the next call connects again.
    """

    @functools.wraps(method)
    def wrapper(self: StoreCore, *args: Any, **kwargs: Any) -> Any:
        self._check_open()
        self.session.touch()
        try:
            return method(self, *args, **kwargs)
        except EngineError:
            raise
        except Exception as exc:
            error = self._backend.translate(exc)
            if error is None:
                raise
            if isinstance(error, StoreUnreachableError):
                self._drop_connection()
            raise error from exc

    return wrapper  # type: ignore[return-value]


class Audit(NamedTuple):
    """The audit entry of a row written by :meth:`Tx.insert` or :meth:`Tx.update`.

    Its object id is the row's id, so it is not given here.
    """

    action: str
    object_type: str
    details: Mapping[str, Any] | None = None


def _columns(table: str, columns: tuple[str, ...]) -> None:
    names = [table, *columns]
    bad = [n for n in names if not _IDENTIFIER.match(n)]
    if bad or not columns:
        raise ValueError(f"Not a table or column name: {bad or 'no columns'}")


# The statements of Tx, built and checked once per table and column names (every write
# repeats a handful of them; a name that fails the check raises each time, uncached).
@functools.lru_cache(maxsize=256)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    _columns(table, columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


@functools.lru_cache(maxsize=256)
def _update_sql(table: str, columns: tuple[str, ...]) -> str:
    _columns(table, columns)
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"


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
        The latest entry appended, to anchor after the commit (on a server
        its sequence number and hash come back with the ``COMMIT``: read it
        after the transaction).
    """

    conn: db.Connection
    user: str
    now: Callable[[], str]
    _last: AuditEntry | None = None
    #: Entries the server appends itself, read back when :attr:`last` is asked for.
    _sent: list[tuple[Any, tuple[str, str, str, str, str, str]]] = field(default_factory=list)

    @property
    def last(self) -> AuditEntry | None:
        """The latest entry appended in this transaction."""
        while self._sent:
            cursor, (at, user, action, otype, oid, text) = self._sent.pop(0)
            seq, prev, digest = cursor.fetchone()
            self._last = audit_log.entry_from(seq, at, user, action, otype, oid, text, prev, digest)
        return self._last

    def audit(
        self,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: Mapping[str, Any] | None = None,
        *,
        tail: Any = None,
    ) -> None:
        """Append one audit entry in this transaction (``tail``: see :func:`audit.append`).

        A server appends it itself (:meth:`ServerConnection.append_audit`):
        the lock the chain needs is then held only while the server works.
        """
        at, oid = self.now(), str(object_id)
        send = getattr(self.conn, "append_audit", None)
        if send is None:
            self._last = audit_log.append(
                self.conn,
                at=at,
                user=self.user,
                action=action,
                object_type=object_type,
                object_id=oid,
                details=details,
                tail=tail,
            )
            return
        text = audit_log.checked_details(action, details)
        row = (at, self.user, action, object_type, oid, text)
        self._sent.append((send(*row), row))

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
        row_id, tail = db.insert_returning_id(
            self.conn,
            _insert_sql(table, tuple(values)),
            tuple(values.values()),
            # SQLite: the tail now, as before. A server reads it itself, later.
            None
            if audit is None or hasattr(self.conn, "append_audit")
            else lambda: audit_log.request_tail(self.conn),
        )
        if audit is not None:
            self.audit(audit.action, audit.object_type, row_id, audit.details, tail=tail)
        return row_id

    def append(self, table: str, values: Mapping[str, Any]) -> None:
        """INSERT one history row whose id nobody needs (not audited itself).

        On a server it travels with the next statement read (the ``COMMIT``).
        """
        self.conn.execute(_insert_sql(table, tuple(values)), tuple(values.values()))

    def update(
        self, table: str, row_id: int, values: Mapping[str, Any], audit: Audit | None = None
    ) -> None:
        """UPDATE the row ``row_id`` of ``table`` and, with ``audit``, log it (object ``row_id``)."""
        self.conn.execute(_update_sql(table, tuple(values)), (*values.values(), row_id))
        if audit is not None:
            self.audit(audit.action, audit.object_type, row_id, audit.details)


class StoreCore:
    """Connections, session, write transactions and the audit anchor of an open store.

    The base of every concern's mixin; :class:`~engine.store.store.Store`
    composes them. Not constructed directly.
    """

    def __init__(self, backend: Backend, user: User, *, kdf: KdfParams, clock: Clock) -> None:
        self._backend = backend
        self.kdf = kdf
        self._clock = clock
        self._local = threading.local()
        #: Every connection handed out, with the thread it belongs to.
        self._connections: list[tuple[threading.Thread, db.Connection]] = []
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
    def location(self) -> str:
        """The database: its file path, or the shared database's URL (without a password)."""
        return self._backend.location

    @property
    def path(self) -> Path | None:
        """The local database file (``None`` for a shared database on a server)."""
        path = getattr(self._backend, "path", None)
        return path if isinstance(path, Path) else None

    @property
    def shared(self) -> bool:
        """Whether the store is the clinic's shared database on a server."""
        return self.path is None

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
            self._release_finished()
            conn = self._backend.connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append((threading.current_thread(), conn))
        return conn

    def _release_finished(self) -> None:
        """Give back the connections of threads that have ended (each job has its thread).

        A server gets them back for the next thread instead of one more
        connection per job until sign-out.
        """
        with self._lock:
            ended = [c for t, c in self._connections if not t.is_alive()]
            self._connections = [(t, c) for t, c in self._connections if t.is_alive()]
        for conn in ended:
            try:
                self._backend.release(conn)
            except Exception:  # an ended thread's connection may be lost already
                pass

    def _drop_connection(self) -> None:
        """Forget this thread's connection (it was lost); the next call opens another."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with self._lock:
            self._connections = [(t, c) for t, c in self._connections if c is not conn]
        try:
            self._backend.release(conn)
        except Exception:  # a lost connection may fail to close; it is gone
            pass

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
            self.anchor_problem = self._backend.advance_anchor(self._conn(), seq, digest)
            if not self.anchor_problem:
                self._anchor_seq = seq

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
        except Exception:  # closing must not fail; the login entry already exists
            pass
        with self._lock:
            for _, conn in self._connections:
                try:
                    self._backend.release(conn)
                except Exception:  # a lost connection may fail to close
                    pass
            self._connections.clear()
            self._closed = True
        self._backend.close()

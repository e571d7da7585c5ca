"""The patient store: the workstation's encrypted SQLite (SQLCipher) file, or the clinic's
shared PostgreSQL database.

Where it lives is one string: a file path, or a ``postgresql://`` URL (never
taken for a path); see :mod:`engine.store.local` and :mod:`engine.store.server`.

Open it with :func:`open_store` (or :func:`create_store` the first time);
every method of :class:`Store` is what one button of the GUI does, so the
desktop only calls them through its job layer.

Rules kept here, not in the GUI:

- every change and its audit entry are written in one transaction
  (:class:`~engine.store.core.Tx`);
- patients, records and results are never overwritten: an edit is a new
  version row, a decision is its own row;
- records are validated against their schema before they are saved;
- each thread gets its own connection (the GUI thread and a worker can write
  at the same time; SQLite serialises them, waiting up to the busy timeout).

:class:`Store` is composed of one mixin per concern: accounts
(:mod:`~engine.store.accounts`), patients and encounters
(:mod:`~engine.store.patients`), records (:mod:`~engine.store.records`),
study links (:mod:`~engine.store.studies`), results and decisions
(:mod:`~engine.store.results`), the timeline (:mod:`~engine.store.timeline`)
and the audit trail (:mod:`~engine.store.audit_ops`), all on
:class:`~engine.store.core.StoreCore`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import AuthenticationError, EngineError, StoreError
from engine.store import audit as audit_log
from engine.store import crypto, db, migrations
from engine.store.accounts import (
    USER_SELECT,
    AccountsMixin,
    check_password,
    check_username,
    find_user_id,
    user_from_row,
)
from engine.store.audit_ops import AuditMixin
from engine.store.core import Audit, Backend, Clock, Tx, ts
from engine.store.crypto import KdfParams
from engine.store.entities import AuditEntry, utcnow
from engine.store.keyring import Keyring, anchor_path, keyring_path
from engine.store.local import LocalBackend
from engine.store.location import Location, is_database_url, local_path
from engine.store.timeline import TimelineMixin

if TYPE_CHECKING:
    from engine.store.server import ServerBackend


def _server_backend(url: str, password: str | None) -> ServerBackend:
    # psycopg is imported only when a server is used (it costs ~80 ms at start).
    from engine.store.server import ServerBackend

    return ServerBackend(url, password=password)


def store_exists(path: Location) -> bool:
    """Whether a store exists at ``path`` (a database and key file; a URL is taken to exist)."""
    if is_database_url(path):
        return True
    p = local_path(path)
    return p.exists() and keyring_path(p).exists()


class Store(AccountsMixin, TimelineMixin, AuditMixin):
    """An open, unlocked store with a signed-in user.

    Not constructed directly: use :func:`open_store`, :func:`create_store`
    or :func:`recover_access`. Thread-safe: each thread uses its own
    connection. Close it (or use ``with``) when done.
    """


# --- opening ---------------------------------------------------------------------------------------
def create_store(
    path: Location,
    admin_user: str,
    admin_password: str,
    *,
    full_name: str = "",
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
    server_password: str | None = None,
) -> tuple[Store, str]:
    """Create a new store whose first account is the administrator.

    Returns the open store and the recovery key, to show once and keep on
    paper: it restores access if every password is lost.

    Parameters
    ----------
    path
        A file path (the workstation's encrypted database), or the
        ``postgresql://`` URL of an empty database on the clinic's server
        (connected as the role that will own the schema).
    kdf
        Argon2id cost; the default is the product's. Tests pass
        :meth:`KdfParams.fast`.
    server_password
        The database role's password for a server URL (ignored for a file).
    """
    kdf = kdf or KdfParams()
    if is_database_url(path):
        shared = _server_backend(str(path), server_password)
        recovery_text = _create_on_server(shared, admin_user, admin_password, full_name, kdf, clock)
        return _login(shared, admin_user, kdf, clock, password=admin_password), recovery_text
    db_path = local_path(path)
    keyring, data_key, recovery_text = _create_database(
        db_path, admin_user, admin_password, full_name, kdf, clock, migrations.CURRENT_VERSION
    )
    store = _login(LocalBackend(db_path, keyring, data_key), admin_user, kdf, clock)
    return store, recovery_text


def _first_entries(
    conn: db.Connection, store_id: str, username: str, full_name: str, password_hash: str, now: str
) -> Tx:
    """The new store's first audit entry and its administrator, in one transaction."""
    tx = Tx(conn, username, lambda: now)
    with db.write_transaction(conn):
        tx.audit(
            "store_created", "store", store_id, {"schema_version": migrations.schema_version(conn)}
        )
        tx.insert(
            "users",
            {
                "username": username,
                "full_name": full_name.strip(),
                "role": "admin",
                "password_hash": password_hash,
                "created_at": now,
            },
            Audit("user_created", "user", {"username": username, "role": "admin"}),
        )
    return tx


def _create_on_server(
    backend: ServerBackend,
    admin_user: str,
    admin_password: str,
    full_name: str,
    kdf: KdfParams,
    clock: Clock,
    schema_version: int = migrations.CURRENT_VERSION,
) -> str:
    """Set up the schema in an empty server database with its administrator; the recovery key."""
    from engine.store.server import grant, prepare_new

    username = check_username(admin_user)
    check_password(admin_password)
    recovery_text, recovery_raw = crypto.new_recovery_key()
    conn = backend.connect()
    try:
        with _translated(backend):
            store_id = prepare_new(conn, recovery_raw)
            now = ts(clock())
            migrations.migrate(conn, now, target=schema_version)
            grant(conn)
            password_hash = crypto.hash_password(admin_password, kdf)
            _first_entries(conn, store_id, username, full_name, password_hash, now)
    finally:
        backend.release(conn)
    return recovery_text


def _create_database(
    db_path: Path,
    admin_user: str,
    admin_password: str,
    full_name: str,
    kdf: KdfParams,
    clock: Clock,
    schema_version: int,
) -> tuple[Keyring, bytes, str]:
    """Write a new database (at ``schema_version``), key file and anchor; nobody signed in.

    Migration tests call it with an earlier ``schema_version``.
    """
    if db_path.exists() or keyring_path(db_path).exists():
        raise StoreError(
            f"A database already exists at {db_path}. Open it, or choose another folder."
        )
    username = check_username(admin_user)
    check_password(admin_password)
    data_key = crypto.new_data_key()
    keyring = Keyring.new(keyring_path(db_path))
    keyring.set_password(username, admin_password, data_key, kdf)
    recovery_text, recovery_raw = crypto.new_recovery_key()
    keyring.set_recovery(recovery_raw, data_key)
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(db.disk_problem(db_path.parent, exc), str(exc)) from exc
    keyring.save()
    conn = None
    try:
        conn = db.connect(db_path, data_key)
        now = ts(clock())
        migrations.migrate(conn, now, target=schema_version)
        password_hash = crypto.hash_password(admin_password, kdf)
        tx = _first_entries(conn, keyring.store_id, username, full_name, password_hash, now)
        last = tx.last
        assert last is not None
        audit_log.write_anchor(
            anchor_path(db_path), crypto.anchor_key(data_key), keyring.store_id, last.seq, last.hash
        )
    except BaseException:
        if conn is not None:
            conn.close()
        for leftover in (
            db_path,
            keyring_path(db_path),
            anchor_path(db_path),
            db_path.with_name(db_path.name + "-wal"),
            db_path.with_name(db_path.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        raise
    conn.close()
    return keyring, data_key, recovery_text


def open_store(
    path: Location,
    user: str,
    password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
    server_password: str | None = None,
) -> Store:
    """Sign in and open the store at ``path`` (migrating an older schema first).

    ``path`` is a file path or a ``postgresql://`` URL; ``server_password``
    is the database role's password for a URL (default: the one saved on this
    workstation for ``user``, see :mod:`engine.store.credentials`, else
    libpq's own means).

    Raises
    ------
    AuthenticationError
        Unknown user, wrong password or disabled account (one message for the
        first two, so that user names cannot be probed).
    StoreError
        No database there, missing key file, or a database of a newer Stethos.
    StoreUnreachableError
        The clinic's database server does not answer.
    """
    if is_database_url(path):
        backend = _server_backend(str(path), server_password)
        if server_password is None:  # the password saved on this workstation, if any
            from engine.store import credentials

            backend.use_password(credentials.recall(backend.location, user, password))
        return _login(backend, user, kdf or KdfParams(), clock, password=password)
    db_path = local_path(path)
    if not db_path.exists():
        raise StoreError(f"There is no Stethos database at {db_path}.")
    keyring = Keyring.load(keyring_path(db_path))
    data_key = keyring.unlock_password(user, password)
    return _login(LocalBackend(db_path, keyring, data_key), user, kdf or KdfParams(), clock)


def recover_access(
    path: Location,
    recovery_key: str,
    user: str,
    new_password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
    server_password: str | None = None,
) -> Store:
    """Restore a user's access with the recovery key when passwords are lost.

    Sets ``new_password`` for ``user`` (enabling the account if it was
    disabled) and signs them in. Nothing stored is lost.
    """
    check_password(new_password)
    kdf = kdf or KdfParams()
    backend: Backend
    if is_database_url(path):
        backend = _server_backend(str(path), server_password)
    else:
        db_path = local_path(path)
        if not db_path.exists():
            raise StoreError(f"There is no Stethos database at {db_path}.")
        keyring = Keyring.load(keyring_path(db_path))
        backend = LocalBackend(db_path, keyring, keyring.unlock_recovery(recovery_key))
    conn = backend.connect()
    try:
        with _translated(backend):
            backend.check_recovery(conn, recovery_key)
            now = ts(clock())
            _migrate_logged(conn, backend, now, user)
            user_id = find_user_id(conn, user)
            row = conn.execute("SELECT id, username FROM users WHERE id = ?", (user_id,)).fetchone()
            if row is None:
                raise AuthenticationError(
                    f"There is no user called “{user}” in this database. Give an existing user name."
                )
            tx = Tx(conn, row[1], lambda: now)
            with db.write_transaction(conn):
                tx.update(
                    "users",
                    int(row[0]),
                    {
                        "password_hash": crypto.hash_password(new_password, kdf),
                        "must_change_password": 0,
                        "active": 1,
                    },
                    Audit("access_recovered", "user", {"username": row[1], "with": "recovery key"}),
                )
                # The key file last: if saving it fails, the password change rolls back.
                backend.set_password(conn, row[1], new_password, kdf)
            _anchor_after(conn, backend, tx.last)
    finally:
        backend.release(conn)
    return _login(backend, user, kdf, clock, password=new_password)


@contextmanager
def _translated(backend: Backend) -> Iterator[None]:
    """Driver errors raised before a :class:`Store` exists, as :class:`StoreError`."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        error = backend.translate(exc)
        if error is None:
            raise
        raise error from exc


def _anchor_after(conn: db.Connection, backend: Backend, entry: AuditEntry | None) -> None:
    """Advance the anchor to ``entry`` after its commit (for writes made before sign-in)."""
    if entry is not None:
        backend.advance_anchor(conn, entry.seq, entry.hash)


def _migrate_logged(conn: db.Connection, backend: Backend, now: str, username: str) -> None:
    """Bring the schema up to date, logging the migration when there was one."""
    before = migrations.schema_version(conn)
    applied = migrations.migrate(conn, now)
    if applied:
        backend.after_migrate(conn)
        tx = Tx(conn, username, lambda: now)
        with db.write_transaction(conn):
            tx.audit("migrated", "store", backend.store_id, {"from": before, "to": applied[-1]})
        _anchor_after(conn, backend, tx.last)


def _login(
    backend: Backend,
    username: str,
    kdf: KdfParams,
    clock: Clock,
    *,
    password: str | None = None,
) -> Store:
    """Migrate if needed, check the account is active and return the signed-in store.

    ``password`` is checked against the users table (a server store: no key
    file has checked it already).
    """
    try:
        conn = backend.connect()
        try:
            with _translated(backend):
                clock = _shared_clock(backend, conn, clock)
                now = ts(clock())
                _migrate_logged(conn, backend, now, username)
                user_id = find_user_id(conn, username)
                row = conn.execute(
                    USER_SELECT.replace(" FROM users", ", password_hash FROM users")
                    + " WHERE id = ?",
                    (user_id,),
                ).fetchone()
        finally:
            backend.release(conn)
        if password is not None:
            _check_password(row, password, kdf)
        elif row is None:  # the key file opened, but no account (or several) has the name
            raise AuthenticationError(_WRONG_NAME_OR_PASSWORD)
        if row is None or not row[4]:
            raise AuthenticationError(
                "This account is disabled. Ask the administrator to reset your access."
            )
        store = Store(backend, user_from_row(row[:-1]), kdf=kdf, clock=clock)
    except BaseException:
        backend.close()
        raise
    try:
        with store._write() as tx:
            tx.audit("login", "user", int(row[0]))
    except BaseException:
        store.close()
        raise
    return store


def _shared_clock(backend: Backend, conn: db.Connection, clock: Clock) -> Clock:
    """The product's clock set by the server's, on a shared store.

    Every workstation then stamps its rows and audit entries on one clock, so
    that a timeline interleaves what several workstations did in the order it
    happened even when their own clocks differ. A clock a caller chose (tests)
    is kept as it is.
    """
    measure = getattr(backend, "clock_offset", None)
    if clock is not utcnow or measure is None:
        return clock
    offset = measure(conn, clock)
    return lambda: clock() + offset


def _check_password(row: tuple | None, password: str, kdf: KdfParams) -> None:
    """The users table's check of a sign-in, with the key file's message and timing."""
    if row is None:  # spend the same Argon2 time: no user-name oracle
        crypto.hash_password(password, kdf)
        ok = False
    else:
        ok = crypto.verify_password(str(row[-1]), password)
    if not ok:
        raise AuthenticationError(_WRONG_NAME_OR_PASSWORD)


_WRONG_NAME_OR_PASSWORD = (
    "The user name or password is wrong. Check them and try again; if the password is "
    "lost, ask the administrator to reset your access."
)

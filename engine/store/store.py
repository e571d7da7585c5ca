"""The workstation's patient store: an encrypted SQLite (SQLCipher) database.

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

from pathlib import Path

from engine.errors import AuthenticationError, StoreError
from engine.resources import user_data_dir
from engine.store import audit as audit_log
from engine.store import crypto, db, migrations
from engine.store.accounts import (
    USER_SELECT,
    AccountsMixin,
    check_password,
    check_username,
    user_from_row,
)
from engine.store.audit_ops import AuditMixin
from engine.store.core import Audit, Clock, Tx, ts
from engine.store.crypto import KdfParams
from engine.store.entities import AuditEntry, utcnow
from engine.store.keyring import Keyring, anchor_path, keyring_path
from engine.store.timeline import TimelineMixin

DEFAULT_DB_NAME = "stethos.db"


def default_store_path() -> Path:
    """Where the workstation's database lives (``user_data_dir()/stethos.db``)."""
    return user_data_dir() / DEFAULT_DB_NAME


def store_exists(path: str | Path) -> bool:
    """Whether a store (database and key file) exists at ``path``."""
    p = Path(path)
    return p.exists() and keyring_path(p).exists()


class Store(AccountsMixin, TimelineMixin, AuditMixin):
    """An open, unlocked store with a signed-in user.

    Not constructed directly: use :func:`open_store`, :func:`create_store`
    or :func:`recover_access`. Thread-safe: each thread uses its own
    connection. Close it (or use ``with``) when done.
    """


# --- opening ---------------------------------------------------------------------------------------
def create_store(
    path: str | Path,
    admin_user: str,
    admin_password: str,
    *,
    full_name: str = "",
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> tuple[Store, str]:
    """Create a new store whose first account is the administrator.

    Returns the open store and the recovery key, to show once and keep on
    paper: it restores access if every password is lost.

    Parameters
    ----------
    kdf
        Argon2id cost; the default is the product's. Tests pass
        :meth:`KdfParams.fast`.
    """
    kdf = kdf or KdfParams()
    keyring, data_key, recovery_text = _create_database(
        Path(path), admin_user, admin_password, full_name, kdf, clock, migrations.CURRENT_VERSION
    )
    store = _login(Path(path), keyring, data_key, admin_user, kdf, clock)
    return store, recovery_text


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
        tx = Tx(conn, username, lambda: now)
        with db.write_transaction(conn):
            tx.audit(
                "store_created",
                "store",
                keyring.store_id,
                {"schema_version": migrations.schema_version(conn)},
            )
            tx.insert(
                "users",
                {
                    "username": username,
                    "full_name": full_name.strip(),
                    "role": "admin",
                    "password_hash": crypto.hash_password(admin_password, kdf),
                    "created_at": now,
                },
                Audit("user_created", "user", {"username": username, "role": "admin"}),
            )
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
    path: str | Path,
    user: str,
    password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> Store:
    """Sign in and open the store at ``path`` (migrating an older schema first).

    Raises
    ------
    AuthenticationError
        Unknown user, wrong password or disabled account (one message for the
        first two, so that user names cannot be probed).
    StoreError
        No database there, missing key file, or a database of a newer Stethos.
    """
    db_path = Path(path)
    if not db_path.exists():
        raise StoreError(f"There is no Stethos database at {db_path}.")
    keyring = Keyring.load(keyring_path(db_path))
    data_key = keyring.unlock_password(user, password)
    return _login(db_path, keyring, data_key, user, kdf or KdfParams(), clock)


def recover_access(
    path: str | Path,
    recovery_key: str,
    user: str,
    new_password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> Store:
    """Restore a user's access with the recovery key when passwords are lost.

    Sets ``new_password`` for ``user`` (enabling the account if it was
    disabled) and signs them in. Nothing stored is lost.
    """
    db_path = Path(path)
    if not db_path.exists():
        raise StoreError(f"There is no Stethos database at {db_path}.")
    check_password(new_password)
    kdf = kdf or KdfParams()
    keyring = Keyring.load(keyring_path(db_path))
    data_key = keyring.unlock_recovery(recovery_key)
    conn = db.connect(db_path, data_key)
    try:
        now = ts(clock())
        _migrate_logged(conn, db_path, keyring, data_key, now, user)
        row = conn.execute(
            "SELECT id, username FROM users WHERE username = ?", (user.strip(),)
        ).fetchone()
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
            keyring.set_password(row[1], new_password, data_key, kdf)
            keyring.save()
        _anchor_after(conn, db_path, keyring, data_key, tx.last)
    finally:
        conn.close()
    return _login(db_path, keyring, data_key, user, kdf, clock)


def _anchor_after(
    conn: db.Connection,
    db_path: Path,
    keyring: Keyring,
    data_key: bytes,
    entry: AuditEntry | None,
) -> None:
    """Advance the anchor to ``entry`` after its commit (for writes made before sign-in)."""
    if entry is None:
        return
    audit_log.advance_anchor(
        conn,
        anchor_path(db_path),
        crypto.anchor_key(data_key),
        keyring.store_id,
        entry.seq,
        entry.hash,
    )


def _migrate_logged(
    conn: db.Connection,
    db_path: Path,
    keyring: Keyring,
    data_key: bytes,
    now: str,
    username: str,
) -> None:
    """Bring the schema up to date, logging the migration when there was one."""
    before = migrations.schema_version(conn)
    applied = migrations.migrate(conn, now)
    if applied:
        tx = Tx(conn, username, lambda: now)
        with db.write_transaction(conn):
            tx.audit("migrated", "store", keyring.store_id, {"from": before, "to": applied[-1]})
        _anchor_after(conn, db_path, keyring, data_key, tx.last)


def _login(
    db_path: Path,
    keyring: Keyring,
    data_key: bytes,
    username: str,
    kdf: KdfParams,
    clock: Clock,
) -> Store:
    """Migrate if needed, check the account is active and return the signed-in store."""
    conn = db.connect(db_path, data_key)
    try:
        now = ts(clock())
        _migrate_logged(conn, db_path, keyring, data_key, now, username)
        row = conn.execute(USER_SELECT + " WHERE username = ?", (username.strip(),)).fetchone()
    finally:
        conn.close()
    if row is None or not row[4]:
        raise AuthenticationError(
            "This account is disabled. Ask the administrator to reset your access."
        )
    store = Store(db_path, keyring, data_key, user_from_row(row), kdf=kdf, clock=clock)
    with store._write() as tx:
        tx.audit("login", "user", int(row[0]))
    return store

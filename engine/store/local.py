"""The workstation's own store: an SQLCipher file, its key file and its signed anchor file.

:class:`LocalBackend` is the :class:`~engine.store.core.Backend` of the
single-workstation store: connections are keyed with the data key, account
passwords wrap that key in the key file (:mod:`engine.store.keyring`), and
the audit anchor is a file next to the database signed with a key derived
from the data key (:mod:`engine.store.audit`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import sqlcipher3

from engine.errors import EngineError, StoreError
from engine.progress import CancelToken, Progress, no_progress
from engine.store import audit as audit_log
from engine.store import crypto, db
from engine.store.audit import Anchor
from engine.store.backup import BackupReport, copy_file, write_backup
from engine.store.crypto import KdfParams
from engine.store.keyring import Keyring, anchor_path

#: Serialises key-file rewrites between the stores of one process (see
#: :meth:`LocalBackend._update_keyring`).
_keyring_lock = threading.Lock()


class LocalBackend:
    """The encrypted database file at ``path``, opened with ``data_key``."""

    def __init__(self, path: Path, keyring: Keyring, data_key: bytes) -> None:
        self.path = path
        self.location = str(path)
        self._keyring = keyring
        self._data_key = data_key
        self._anchor_key = crypto.anchor_key(data_key)

    @property
    def store_id(self) -> str:
        """The key file's store id."""
        return self._keyring.store_id

    @property
    def anchor_path(self) -> Path:
        """The signed audit-anchor file next to the database."""
        return anchor_path(self.path)

    def connect(self) -> db.Connection:
        """A new SQLCipher connection keyed with the data key."""
        return db.connect(self.path, self._data_key)

    def release(self, conn: db.Connection) -> None:
        """Close the connection."""
        try:
            conn.close()
        except sqlcipher3.Error:
            pass

    def translate(self, exc: Exception) -> EngineError | None:
        """SQLite and file errors as the messages people see."""
        path = self.path
        if isinstance(exc, sqlcipher3.OperationalError):
            if "locked" in str(exc) or "busy" in str(exc):
                return StoreError(
                    "The database is busy with another task. Try again in a moment.", str(exc)
                )
            return StoreError(
                db.disk_problem(path.parent, exc)
                or f"The database {path.name} could not be read or written.",
                str(exc),
            )
        if isinstance(exc, OSError):  # key file or anchor writes
            return StoreError(db.disk_problem(path.parent, exc), str(exc))
        if isinstance(exc, sqlcipher3.Error):
            return StoreError(f"The database {path.name} could not be read or written.", str(exc))
        return None

    # --- key slots --------------------------------------------------------------------------
    def has_user(self, username: str) -> bool:
        """Whether the key file has a slot for ``username``."""
        return self._keyring.has_user(username)

    def set_password(
        self, conn: db.Connection, username: str, password: str, kdf: KdfParams
    ) -> None:
        """Wrap the data key under ``password`` in ``username``'s slot."""
        self._update_keyring(lambda k: k.set_password(username, password, self._data_key, kdf))

    def remove_user(self, conn: db.Connection, username: str) -> None:
        """Drop ``username``'s slot."""
        self._update_keyring(lambda k: k.remove_user(username))

    def set_recovery(self, conn: db.Connection, raw: bytes) -> None:
        """Wrap the data key under the new recovery key."""
        self._update_keyring(lambda k: k.set_recovery(raw, self._data_key))

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

    def check_recovery(self, conn: db.Connection, text: str) -> None:
        """Nothing more: the recovery key already unwrapped the data key."""

    def after_migrate(self, conn: db.Connection) -> None:
        """Nothing more to do after a schema step."""

    # --- anchor -------------------------------------------------------------------------------
    def anchor(self, conn: db.Connection) -> tuple[Anchor | None, str]:
        """The anchor file's anchor if it is signed by this store."""
        return audit_log.file_anchor(self.anchor_path, self._anchor_key, self.store_id)

    def advance_anchor(self, conn: db.Connection, seq: int, digest: str) -> str:
        """Rewrite the anchor file after a commit, if the current one still checks out."""
        return audit_log.advance_anchor(
            conn, self.anchor_path, self._anchor_key, self.store_id, seq, digest
        )

    def reanchor(self, conn: db.Connection, seq: int, digest: str) -> None:
        """Write a fresh anchor file (the administrator accepted the log as it is)."""
        audit_log.write_anchor(self.anchor_path, self._anchor_key, self.store_id, seq, digest)

    def backup(
        self, folder: Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
    ) -> BackupReport:
        """A consistent, checked copy of the three files in ``folder`` (see :mod:`engine.store.backup`)."""

        def copy_keyring(target: Path) -> None:
            with _keyring_lock:  # not halfway through another window's rewrite
                copy_file(self._keyring.path, target)

        return write_backup(
            self.path,
            self._data_key,
            self.store_id,
            folder,
            copy_keyring=copy_keyring,
            progress=progress,
            cancel=cancel,
        )

    def close(self) -> None:
        """Forget the data key."""
        self._data_key = b""

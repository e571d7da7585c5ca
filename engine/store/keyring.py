"""The keyring file next to the database: wrapped copies of the data key.

``stethos.db.keyring.json`` is plain JSON and holds nothing secret on its
own: per user a salt, the Argon2id parameters and the data key wrapped with
AES-256-GCM under the password-derived key; and one more copy wrapped under
the recovery key. Back up the keyring together with the database: without
it, the database cannot be opened, not even with the recovery key.

Writes are atomic (temporary file, fsync, rename) so a crash never leaves a
half-written keyring.
"""

from __future__ import annotations

import json
import os
import threading
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import AuthenticationError, StoreError
from engine.store import crypto
from engine.store.crypto import KdfParams

FORMAT = "stethos-keyring"
FORMAT_VERSION = 1
_lock = threading.RLock()


def keyring_path(db_path: Path) -> Path:
    """The keyring file of the database at ``db_path``."""
    return db_path.with_name(db_path.name + ".keyring.json")


def anchor_path(db_path: Path) -> Path:
    """The signed audit-anchor file of the database at ``db_path``."""
    return db_path.with_name(db_path.name + ".audit-anchor.json")


def user_key(username: str) -> str:
    """The one rule by which two user names are the same account.

    Case-insensitive (Unicode case folding: ``"ÉVA"`` and ``"éva"`` are one
    name), accent-sensitive (``"José"`` and ``"Jose"`` are two), composed and
    decomposed accents alike (NFC), surrounding spaces ignored. Sign-in, the
    uniqueness of a new account and ``store migrate --merge`` compare names
    by it on both backends (:func:`engine.store.accounts.find_user_id`), as
    the key file and the saved database passwords key their slots.
    """
    name = username.strip()
    if name.isascii():
        return name.lower()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _aad(store_id: str, who: str) -> bytes:
    # Binds each wrapped key to this store and this slot: a wrapped key copied
    # from one user's slot (or another keyring) into another does not open.
    return f"{FORMAT}:{FORMAT_VERSION}:{store_id}:{who}".encode()


@dataclass
class Keyring:
    """In-memory view of the keyring file."""

    path: Path
    store_id: str
    users: dict[str, dict[str, Any]]
    recovery: dict[str, Any] | None
    created_at: str

    # -- file ----------------------------------------------------------------
    @classmethod
    def new(cls, path: Path) -> Keyring:
        """An empty keyring for a new store (not yet written)."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        return cls(path, uuid.uuid4().hex, {}, None, now)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read the keyring file, with a plain message when it is missing or damaged."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise StoreError(
                f"The key file {path.name} is missing next to the database. Restore it from the "
                "backup made together with the database.",
                str(path),
            ) from exc
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"The key file {path.name} could not be read. Restore it from the backup made "
                "together with the database.",
                str(exc),
            ) from exc
        if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
            raise StoreError(
                f"The key file {path.name} is not a Stethos key file of a known version.",
                f"format={data.get('format')!r} version={data.get('version')!r}",
            )
        return cls(
            path=path,
            store_id=str(data["store_id"]),
            users=dict(data.get("users", {})),
            recovery=data.get("recovery"),
            created_at=str(data.get("created_at", "")),
        )

    def save(self) -> None:
        """Write the keyring atomically."""
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "store_id": self.store_id,
            "created_at": self.created_at,
            "note": "Wrapped database keys. Keep with the database backup; useless alone.",
            "users": self.users,
            "recovery": self.recovery,
        }
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True))

    # -- slots ---------------------------------------------------------------
    def set_password(
        self, username: str, password: str, data_key: bytes, params: KdfParams
    ) -> None:
        """Wrap ``data_key`` for ``username`` under ``password`` (adds or replaces the slot)."""
        salt = crypto.new_salt()
        kek = crypto.password_key(password, salt, params)
        key = user_key(username)
        self.users[key] = {
            "kdf": {**params.to_json(), "salt": crypto.b64(salt)},
            "wrapped": crypto.wrap_key(kek, data_key, _aad(self.store_id, "user:" + key)),
        }

    def remove_user(self, username: str) -> None:
        """Drop the slot of ``username`` (their password no longer opens the store)."""
        self.users.pop(user_key(username), None)

    def has_user(self, username: str) -> bool:
        """Whether ``username`` has a slot."""
        return user_key(username) in self.users

    def unlock_password(self, username: str, password: str) -> bytes:
        """The data key, or :class:`AuthenticationError` for a wrong user or password."""
        key = user_key(username)
        slot = self.users.get(key)
        if slot is None:
            # Spend the same Argon2 time as a real attempt: no user-name oracle.
            some = next(iter(self.users.values()), None)
            params = KdfParams.from_json(some["kdf"]) if some else KdfParams()
            crypto.password_key(password, b"\0" * 16, params)
            raise _wrong_login()
        params = KdfParams.from_json(slot["kdf"])
        kek = crypto.password_key(password, crypto.unb64(slot["kdf"]["salt"]), params)
        data_key = crypto.unwrap_key(kek, slot["wrapped"], _aad(self.store_id, "user:" + key))
        if data_key is None:
            raise _wrong_login()
        return data_key

    def set_recovery(self, raw: bytes, data_key: bytes) -> None:
        """Wrap ``data_key`` under a recovery key (replaces the previous one)."""
        salt = crypto.new_salt()
        kek = crypto.recovery_kek(raw, salt)
        self.recovery = {
            "kdf": {"name": "hkdf-sha256", "salt": crypto.b64(salt)},
            "wrapped": crypto.wrap_key(kek, data_key, _aad(self.store_id, "recovery")),
        }

    def unlock_recovery(self, text: str) -> bytes:
        """The data key from a typed recovery key, or :class:`AuthenticationError`."""
        raw = crypto.parse_recovery_key(text)
        if raw is None or self.recovery is None:
            raise AuthenticationError(
                "The recovery key was not accepted. It has 8 groups of 4 letters and digits, "
                "like ABCD-EFGH-...; check it against the printed copy."
            )
        kek = crypto.recovery_kek(raw, crypto.unb64(self.recovery["kdf"]["salt"]))
        data_key = crypto.unwrap_key(kek, self.recovery["wrapped"], _aad(self.store_id, "recovery"))
        if data_key is None:
            raise AuthenticationError(
                "The recovery key was not accepted. Check it against the printed copy; a key "
                "replaced by a newer one no longer works."
            )
        return data_key


def _wrong_login() -> AuthenticationError:
    return AuthenticationError(
        "The user name or password is wrong. Check them and try again; if the password is "
        "lost, ask the administrator to reset your access."
    )


def atomic_write_text(path: Path, text: str, *, durable_rename: bool = True) -> None:
    """Replace ``path`` with ``text`` so that a crash leaves the old or the new file.

    ``durable_rename=False`` skips the folder fsync: after a power cut the
    old file may come back (fine for the audit anchor, which may lag).
    """
    with _lock:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            from engine.store.db import disk_problem

            raise StoreError(disk_problem(path.parent, exc), str(exc)) from exc
        if durable_rename:
            _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; rename there is already durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

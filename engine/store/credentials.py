"""The clinic database's password on a workstation, never in plain text.

A workstation signs in to the shared PostgreSQL database as its own role
(:mod:`engine.store.server`); when the server asks that role for a password,
the workstation keeps it in ``server-credentials.json`` in its data folder
the way the local store keeps its data key (:mod:`engine.store.keyring`):
one slot per Stethos user, the password wrapped with AES-256-GCM under a key
derived from that user's own password with Argon2id, bound to the database
address and the user name. The file alone opens nothing; signing in with the
user's password unwraps it for that session only.

A slot is written by ``stethos-engine store remember --db URL --user NAME``
(IT, once per user and workstation) and re-wrapped when the user changes
their password on this workstation.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from engine.errors import StoreError
from engine.resources import user_data_dir
from engine.store import crypto
from engine.store.crypto import KdfParams
from engine.store.keyring import atomic_write_text, user_key

FILE_NAME = "server-credentials.json"
FORMAT = "stethos-server-credentials"
FORMAT_VERSION = 1
_lock = threading.Lock()


def credentials_path() -> Path:
    """The workstation's credentials file (in the data folder)."""
    return user_data_dir() / FILE_NAME


def _aad(location: str, username: str) -> bytes:
    return f"{FORMAT}:{FORMAT_VERSION}:{location}:{user_key(username)}".encode()


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": FORMAT, "version": FORMAT_VERSION, "servers": {}}
    except (OSError, ValueError) as exc:
        raise StoreError(
            f"The saved database passwords {path} could not be read. Remove the file and save "
            "the password again (stethos-engine store remember).",
            str(exc),
        ) from exc
    if data.get("format") != FORMAT or data.get("version") != FORMAT_VERSION:
        raise StoreError(f"{path} is not a Stethos credentials file of a known version.")
    return data


def remember(
    location: str,
    username: str,
    user_password: str,
    server_password: str,
    kdf: KdfParams | None = None,
    *,
    path: Path | None = None,
) -> Path:
    """Save ``server_password`` for ``location``, wrapped under ``username``'s password."""
    path = path or credentials_path()
    kdf = kdf or KdfParams()
    salt = crypto.new_salt()
    kek = crypto.password_key(user_password, salt, kdf)
    slot = {
        "kdf": {**kdf.to_json(), "salt": crypto.b64(salt)},
        "wrapped": crypto.wrap_key(kek, server_password.encode("utf-8"), _aad(location, username)),
    }
    with _lock:
        data = _load(path)
        data.setdefault("servers", {}).setdefault(location, {})[user_key(username)] = slot
        data["note"] = "Database passwords wrapped per user (Argon2id + AES-GCM); useless alone."
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True))
    return path


def has_slot(location: str, username: str, *, path: Path | None = None) -> bool:
    """Whether a password is saved for ``username`` and ``location``."""
    data = _load(path or credentials_path())
    return user_key(username) in data.get("servers", {}).get(location, {})


def recall(
    location: str, username: str, user_password: str, *, path: Path | None = None
) -> str | None:
    """The saved database password, or ``None`` (no slot, or not this user's password)."""
    data = _load(path or credentials_path())
    slot = data.get("servers", {}).get(location, {}).get(user_key(username))
    if slot is None:
        return None
    params = KdfParams.from_json(slot["kdf"])
    kek = crypto.password_key(user_password, crypto.unb64(slot["kdf"]["salt"]), params)
    raw = crypto.unwrap_key(kek, slot["wrapped"], _aad(location, username))
    return None if raw is None else raw.decode("utf-8")

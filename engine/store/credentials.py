"""The clinic database's password on a workstation, never in plain text.

A workstation signs in to the shared PostgreSQL database as its own role
(:mod:`engine.store.server`); when the server asks that role for a password,
the workstation keeps it, per Stethos user and database, in one of two places:

- **The system keyring**, where the workstation has a secure one: the
  Credential Locker on Windows, the Keychain on macOS, the Secret Service
  (GNOME Keyring, KWallet) over D-Bus on Linux when the user's session runs
  one. The operating system keeps it encrypted under the person's login.
  Only those backends of the ``keyring`` package are used
  (:data:`SECURE_BACKENDS`): never its fail, null or chainer backends, nor a
  plaintext or home-made file backend (``keyrings.alt``), and the
  package's own choice (``PYTHON_KEYRING_BACKEND``, ``keyringrc.cfg``) is
  not consulted, so it cannot fall back to something weaker. Looking for it
  and every call to it are bounded in time (:data:`PROBE_TIMEOUT_S`,
  :data:`CALL_TIMEOUT_S`): a D-Bus that does not answer delays a sign-in
  by seconds, never hangs it, and the file below is used instead.
- **Otherwise ``server-credentials.json``** in the data folder, the way the
  local store keeps its data key (:mod:`engine.store.keyring`): one slot per
  user, the password wrapped with AES-256-GCM under a key derived from that
  user's own password with Argon2id, bound to the database address and the
  user name. The file alone opens nothing; signing in with the user's
  password unwraps it for that session only.

``STETHOS_KEYRING=off`` keeps to the file (an IT policy; the tests' default
where they do not test the keyring).

A password is saved by ``stethos-engine store remember --db URL --user NAME``
or by the sign-in dialog's “Remember on this workstation”, replaced when it
is saved again, re-wrapped when the user changes their password on this
workstation (:meth:`ServerBackend.set_password
<engine.store.server.ServerBackend.set_password>`), and removed by
:func:`forget`. Saving it in one place removes the same user's entry from the
other, so there is only ever one.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.errors import StoreError
from engine.resources import user_data_dir
from engine.store import crypto
from engine.store.crypto import KdfParams
from engine.store.keyring import atomic_write_text, user_key

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

FILE_NAME = "server-credentials.json"
FORMAT = "stethos-server-credentials"
FORMAT_VERSION = 1
#: The service name of the system keyring's entries (one per user and database).
SERVICE = "Stethos clinic database"
#: ``off`` (or ``file``, ``0``, ``no``): never use the system keyring.
KEYRING_ENV = "STETHOS_KEYRING"
#: The ``keyring`` backends trusted to keep a secret (class path: the name shown). Each is
#: the operating system's own encrypted store; anything else is refused.
SECURE_BACKENDS: Mapping[str, str] = {
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Locker",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.SecretService.Keyring": "Secret Service",
    "keyring.backends.libsecret.Keyring": "Secret Service (libsecret)",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet 4",
}
#: Seconds that looking for the system keyring may take (once per process).
PROBE_TIMEOUT_S = 3.0
#: Seconds one read or write of the system keyring may take (it may ask to be unlocked).
CALL_TIMEOUT_S = 20.0
KEYRING = "keyring"
FILE = "file"

_lock = threading.Lock()
_choice_lock = threading.Lock()
_NOT_CHOSEN: Any = object()
_chosen: Any = _NOT_CHOSEN
T = TypeVar("T")


@dataclass(frozen=True)
class SavedIn:
    """Where a database password is kept: ``kind`` is :data:`KEYRING` or :data:`FILE`;
    ``name`` the system keyring's name or the file's path."""

    kind: str
    name: str

    def describe(self) -> str:
        """In words, for the command line."""
        if self.kind == KEYRING:
            return f"the system keyring ({self.name})"
        return f"{self.name}, wrapped under the user's password (Argon2id)"


class _NoKeyring(Exception):
    """The system keyring did not answer in time, or refused."""


# --- choosing the system keyring -------------------------------------------------------------------
def _class_path(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _bounded(fn: Callable[[], T], timeout_s: float) -> T:
    """``fn()`` on a thread of its own, waiting at most ``timeout_s`` (D-Bus may not answer)."""
    box: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as exc:  # handed to the caller below
            box.append((False, exc))

    thread = threading.Thread(target=run, name="stethos-system-keyring", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not box:  # left running: it ends on its own, or with the process (a daemon thread)
        raise _NoKeyring(f"the system keyring did not answer within {timeout_s:g} s")
    ok, value = box[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value


def choose_backend(
    candidates: Iterable[KeyringBackend], allowed: Mapping[str, str] = SECURE_BACKENDS
) -> KeyringBackend | None:
    """The candidate of highest priority among the ``allowed`` ones that work here, or ``None``.

    A backend not in ``allowed`` is refused whatever its priority (the fail,
    null and chainer backends, plaintext files); one whose priority is not
    positive or cannot be told (no D-Bus, another operating system) does not
    work here.
    """
    best: KeyringBackend | None = None
    best_priority = 0.0
    for backend in candidates:
        if _class_path(backend) not in allowed:
            continue
        try:
            priority = float(backend.priority)
        except Exception:  # keyring's way of saying "not here": RuntimeError, ImportError…
            continue
        if priority > best_priority:
            best, best_priority = backend, priority
    return best


def _candidates(allowed: Iterable[str]) -> list[KeyringBackend]:
    """An instance of each allowed backend this installation has (by class path)."""
    found = []
    for path in allowed:
        module_name, _, class_name = path.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
            found.append(cls())
        except Exception:  # another platform's backend, or its library is missing
            continue
    return found


def select_backend(
    allowed: Mapping[str, str] = SECURE_BACKENDS, *, timeout_s: float = PROBE_TIMEOUT_S
) -> KeyringBackend | None:
    """The system keyring to keep database passwords in, or ``None`` (use the wrapped file).

    Takes at most ``timeout_s``: a backend that does not answer by then
    counts as absent.
    """
    try:
        return _bounded(lambda: choose_backend(_candidates(allowed), allowed), timeout_s)
    except Exception:
        return None


def _keyring_off() -> bool:
    return os.environ.get(KEYRING_ENV, "").strip().lower() in ("off", "file", "0", "no", "false")


def system_keyring() -> KeyringBackend | None:
    """The system keyring in use (chosen once per process), or ``None``."""
    global _chosen
    if _keyring_off():
        return None
    with _choice_lock:
        if _chosen is _NOT_CHOSEN:
            _chosen = select_backend()
        return _chosen  # type: ignore[no-any-return]


def use_keyring(backend: KeyringBackend | None) -> None:
    """Use ``backend`` (one :func:`select_backend` returned; ``None``: the file only) from now on."""
    global _chosen
    with _choice_lock:
        _chosen = backend


def choose_keyring_again() -> None:
    """Forget the choice made: the next use looks for the system keyring again."""
    use_keyring(_NOT_CHOSEN)


def keyring_name(backend: KeyringBackend) -> str:
    """The name people know a backend by (“Secret Service”, “macOS Keychain”)."""
    return SECURE_BACKENDS.get(_class_path(backend)) or str(getattr(backend, "name", "keyring"))


def _entry(location: str, username: str) -> str:
    return f"{user_key(username)} on {location}"


def _ring_call(fn: Callable[[], T]) -> T:
    """A bounded call to the system keyring; any failure is :class:`_NoKeyring`."""
    try:
        return _bounded(fn, CALL_TIMEOUT_S)
    except _NoKeyring:
        raise
    except Exception as exc:  # locked, prompt dismissed, D-Bus gone: the file is used
        raise _NoKeyring(str(exc)) from exc


def _ring_get(ring: KeyringBackend, location: str, username: str) -> str | None:
    try:
        return _ring_call(lambda: ring.get_password(SERVICE, _entry(location, username)))
    except _NoKeyring:
        return None


def _ring_delete(ring: KeyringBackend, location: str, username: str) -> bool:
    """Remove the entry; whether there was one (keyring raises when there is none)."""
    try:
        _ring_call(lambda: ring.delete_password(SERVICE, _entry(location, username)))
    except _NoKeyring:
        return False
    return True


# --- the wrapped file --------------------------------------------------------------------------------
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


def _save(path: Path, data: dict[str, Any]) -> None:
    data["note"] = "Database passwords wrapped per user (Argon2id + AES-GCM); useless alone."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True))
    except OSError as exc:
        raise StoreError(
            f"The database password could not be saved in {path}. Check the data folder.",
            str(exc),
        ) from exc


def _write_slot(
    path: Path,
    location: str,
    username: str,
    user_password: str,
    server_password: str,
    kdf: KdfParams,
) -> None:
    salt = crypto.new_salt()
    kek = crypto.password_key(user_password, salt, kdf)
    slot = {
        "kdf": {**kdf.to_json(), "salt": crypto.b64(salt)},
        "wrapped": crypto.wrap_key(kek, server_password.encode("utf-8"), _aad(location, username)),
    }
    with _lock:
        data = _load(path)
        data.setdefault("servers", {}).setdefault(location, {})[user_key(username)] = slot
        _save(path, data)


def _drop_slot(path: Path, location: str, username: str) -> bool:
    """Remove the user's slot from the file; whether there was one."""
    with _lock:
        data = _load(path)
        slots = data.get("servers", {}).get(location, {})
        if slots.pop(user_key(username), None) is None:
            return False
        if not slots:
            del data["servers"][location]
        _save(path, data)
    return True


def _has_file_slot(path: Path, location: str, username: str) -> bool:
    return user_key(username) in _load(path).get("servers", {}).get(location, {})


# --- what the store and the command line use ------------------------------------------------------
def remember(
    location: str,
    username: str,
    user_password: str,
    server_password: str,
    kdf: KdfParams | None = None,
    *,
    path: Path | None = None,
) -> SavedIn:
    """Save ``server_password`` for ``username`` and ``location`` (replacing what was saved).

    In the system keyring where there is one and it takes it; otherwise in
    the file, wrapped under ``user_password``. The same user's entry in the
    other place is removed.
    """
    path = path or credentials_path()
    ring = system_keyring()
    if ring is not None:
        try:
            _ring_call(
                lambda: ring.set_password(SERVICE, _entry(location, username), server_password)
            )
        except _NoKeyring:
            pass  # locked, or it refused: the wrapped file, never anything weaker
        else:
            _drop_slot(path, location, username)
            return SavedIn(KEYRING, keyring_name(ring))
    _write_slot(path, location, username, user_password, server_password, kdf or KdfParams())
    if ring is not None:
        _ring_delete(ring, location, username)
    return SavedIn(FILE, str(path))


def recall(
    location: str, username: str, user_password: str, *, path: Path | None = None
) -> str | None:
    """The saved database password, or ``None`` (none saved, or not this user's password).

    The system keyring's entry needs no ``user_password`` (the person's
    login unlocked it); the file's slot opens only with it.
    """
    ring = system_keyring()
    if ring is not None:
        value = _ring_get(ring, location, username)
        if value is not None:
            return value
    data = _load(path or credentials_path())
    slot = data.get("servers", {}).get(location, {}).get(user_key(username))
    if slot is None:
        return None
    params = KdfParams.from_json(slot["kdf"])
    kek = crypto.password_key(user_password, crypto.unb64(slot["kdf"]["salt"]), params)
    raw = crypto.unwrap_key(kek, slot["wrapped"], _aad(location, username))
    return None if raw is None else raw.decode("utf-8")


def saved_in(location: str, username: str, *, path: Path | None = None) -> SavedIn | None:
    """Where a password is saved for ``username`` and ``location``, or ``None``."""
    path = path or credentials_path()
    ring = system_keyring()
    if ring is not None and _ring_get(ring, location, username) is not None:
        return SavedIn(KEYRING, keyring_name(ring))
    if _has_file_slot(path, location, username):
        return SavedIn(FILE, str(path))
    return None


def has_slot(location: str, username: str, *, path: Path | None = None) -> bool:
    """Whether a password is saved for ``username`` and ``location``."""
    return saved_in(location, username, path=path) is not None


def has_file_slot(location: str, username: str, *, path: Path | None = None) -> bool:
    """Whether the wrapped file has a slot for ``username`` and ``location``."""
    return _has_file_slot(path or credentials_path(), location, username)


def forget(location: str, username: str, *, path: Path | None = None) -> list[SavedIn]:
    """Remove the password saved for ``username`` and ``location``; where it was removed from."""
    path = path or credentials_path()
    removed = []
    ring = system_keyring()
    if ring is not None and _ring_delete(ring, location, username):
        removed.append(SavedIn(KEYRING, keyring_name(ring)))
    if _drop_slot(path, location, username):
        removed.append(SavedIn(FILE, str(path)))
    return removed

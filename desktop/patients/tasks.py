"""Store calls that take long enough (Argon2: ~0.5 s) to run through :mod:`desktop.jobs`."""

from __future__ import annotations

import json
from pathlib import Path

from engine.errors import EngineError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import KdfParams, Store, User, create_store, open_store


def setup_store(
    path: Path,
    username: str,
    password: str,
    full_name: str = "",
    kdf: KdfParams | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Store, str]:
    """First run: create the store with its administrator; returns it and the recovery key."""
    check_cancelled(cancel)
    progress(0.0, "Creating the patient database")
    return create_store(path, username, password, full_name=full_name, kdf=kdf)


def sign_in(
    path: Path,
    username: str,
    password: str,
    kdf: KdfParams | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Store:
    """Open the store as ``username``."""
    check_cancelled(cancel)
    progress(0.0, "Signing in")
    return open_store(path, username, password, kdf=kdf)


def unlock(
    store: Store,
    password: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> None:
    """Check the signed-in user's password after an inactivity lock."""
    check_cancelled(cancel)
    store.unlock(password)


def change_password(
    store: Store,
    old: str,
    new: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> None:
    """Change the signed-in user's password."""
    check_cancelled(cancel)
    store.change_password(old, new)


def add_user(
    store: Store,
    username: str,
    password: str,
    role: str,
    full_name: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[User]:
    """Add an account; returns every account."""
    check_cancelled(cancel)
    store.create_user(username, password, role=role, full_name=full_name)
    return store.list_users()


def reset_user(
    store: Store,
    username: str,
    password: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[User]:
    """Give ``username`` a temporary password; returns every account."""
    check_cancelled(cancel)
    store.reset_user(username, password)
    return store.list_users()


def intended_use(model_id: str) -> str:
    """The intended use written in an installed model's manifest (``""`` if unknown)."""
    from engine.models.registry import ModelRegistry

    try:
        entry = ModelRegistry().find(model_id)
        manifest = json.loads((Path(entry.path) / "manifest.json").read_text(encoding="utf-8"))
    except (EngineError, OSError, ValueError):  # a report without it is still useful
        return ""
    return str(manifest.get("intended_use", ""))

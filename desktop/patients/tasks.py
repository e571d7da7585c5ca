"""Store calls that take long enough (Argon2: ~0.5 s) to run through :mod:`desktop.jobs`,
and the engine reads a report of an earlier encounter needs (its study image, its ECG)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import KdfParams, Store, User, create_store, open_store, recover_access


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


def disable_user(
    store: Store,
    username: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[User]:
    """Remove ``username``'s access (their entries stay attributed); returns every account."""
    check_cancelled(cancel)
    store.disable_user(username)
    return store.list_users()


def new_recovery_key(
    store: Store, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> str:
    """Replace the recovery key; returns the new one (to show once)."""
    check_cancelled(cancel)
    return store.new_recovery_key()


def recover(
    path: Path,
    recovery_key: str,
    username: str,
    new_password: str,
    kdf: KdfParams | None = None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Store:
    """Restore ``username``'s access with the recovery key and sign them in."""
    check_cancelled(cancel)
    progress(0.0, "Restoring access")
    return recover_access(path, recovery_key, username, new_password, kdf=kdf)


def render_study_image(
    path: str | Path,
    frame: int = 0,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """A linked study's image as shown by default: 8-bit grayscale ``(H, W)`` or RGB.

    Raises :class:`~engine.errors.DicomError` when the file cannot be read.
    """
    from engine.dicom import read_image, render_8bit

    check_cancelled(cancel)
    image = read_image(Path(path))
    return render_8bit(image, min(max(0, int(frame)), image.n_frames - 1))


def read_ecg(
    path: str | Path, *, progress: Progress = no_progress, cancel: CancelToken | None = None
):
    """An ECG record (WFDB or DICOM waveform), as :func:`engine.ecg.read_signal` reads it."""
    from engine.ecg import read_signal

    return read_signal(Path(path), progress=progress, cancel=cancel)


def intended_use(model_id: str) -> str:
    """The intended use written in an installed model's manifest (``""`` if unknown)."""
    from engine.models.registry import ModelRegistry

    try:
        entry = ModelRegistry().find(model_id)
        manifest = json.loads((Path(entry.path) / "manifest.json").read_text(encoding="utf-8"))
    except (EngineError, OSError, ValueError):  # a report without it is still useful
        return ""
    return str(manifest.get("intended_use", ""))

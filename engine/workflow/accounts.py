"""Signing in and out, and the accounts of the local store.

What the Patient menu's account commands do, without the menu. Argon2 makes
each password check take about half a second, so these functions have the
``progress``/``cancel`` signature and run on a worker thread in the desktop.
"""

from __future__ import annotations

from pathlib import Path

from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import (
    BackupReport,
    KdfParams,
    Store,
    User,
    as_location,
    create_store,
    is_database_url,
    open_store,
    recover_access,
)


def setup_store(
    path: str | Path,
    username: str,
    password: str,
    full_name: str,
    *,
    kdf: KdfParams | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[Store, str]:
    """First run: create the store with its administrator (``full_name`` may be empty).

    Returns
    -------
    tuple of Store and str
        The open store, signed in as the administrator, and the recovery key
        (to show once).

    Raises
    ------
    StoreError
        The data folder cannot hold the database (the message says why).
    """
    check_cancelled(cancel)
    progress(0.0, "Creating the patient database")
    return create_store(as_location(path), username, password, full_name=full_name, kdf=kdf)


def sign_in(
    path: str | Path,
    username: str,
    password: str,
    kdf: KdfParams | None = None,
    *,
    recovery_key: str | None = None,
    server_password: str | None = None,
    remember_server_password: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Store:
    """Open the store as ``username``.

    With ``recovery_key`` (the password was lost), ``username``'s access is
    restored first and ``password`` becomes their new password.

    For the clinic database (a ``postgresql://`` URL), ``server_password`` is
    the database's own password when its server asks for one and none is
    saved on this workstation (see :mod:`engine.store.clinic_login`);
    ``remember_server_password`` saves it for ``username`` once accepted
    (the system keyring, else wrapped under the user's password). When access
    is restored with the recovery key, a database password typed is always
    saved under the new password (the one saved before was wrapped under the
    password that was lost).

    Raises
    ------
    AuthenticationError
        Wrong user name or password, a disabled account, or a recovery key
        that was not accepted.
    DatabasePasswordError
        The clinic database asks for its password (none given or saved), or
        refused the one tried.
    """
    check_cancelled(cancel)
    location = as_location(path)
    if recovery_key is not None:
        progress(0.0, "Restoring access")
        if is_database_url(location):
            from engine.store.clinic_login import recover_clinic_access

            return recover_clinic_access(
                str(location),
                recovery_key,
                username,
                password,
                kdf=kdf,
                server_password=server_password,
            )
        return recover_access(location, recovery_key, username, password, kdf=kdf)
    progress(0.0, "Signing in")
    if is_database_url(location):
        from engine.store.clinic_login import open_clinic_store

        return open_clinic_store(
            str(location),
            username,
            password,
            kdf=kdf,
            server_password=server_password,
            remember=remember_server_password,
        )
    return open_store(location, username, password, kdf=kdf)


def sign_out(
    store: Store, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> None:
    """Close the store (its connections and key are dropped)."""
    store.close()


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
    """Change the signed-in user's password.

    Raises
    ------
    AuthenticationError
        ``old`` is not their password.
    StoreError
        ``new`` is too short.
    """
    check_cancelled(cancel)
    store.change_password(old, new)


def list_users(
    store: Store, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> list[User]:
    """Every account (administrators only)."""
    return store.list_users()


def add_user(
    store: Store,
    username: str,
    password: str,
    *,
    role: str = "clinician",
    full_name: str = "",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[User]:
    """Add an account with a temporary password; returns every account.

    Raises
    ------
    StoreError
        The user name is taken or invalid, or the password too short.
    """
    check_cancelled(cancel)
    store.create_user(username, password, role=role, full_name=full_name)
    return store.list_users()


def set_access(
    store: Store,
    username: str,
    temporary_password: str | None,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[User]:
    """Give ``username`` access again, or take it away; returns every account.

    With a ``temporary_password`` the account is enabled and the user
    chooses their own password at the next sign-in; with ``None`` it is
    disabled (what the user recorded stays attributed to them).

    Raises
    ------
    StoreError
        An unknown user, one's own account disabled, or a password too short.
    """
    check_cancelled(cancel)
    if temporary_password is None:
        store.disable_user(username)
    else:
        store.reset_user(username, temporary_password)
    return store.list_users()


def new_recovery_key(
    store: Store, *, progress: Progress = no_progress, cancel: CancelToken | None = None
) -> str:
    """Replace the recovery key; returns the new one (to show once)."""
    check_cancelled(cancel)
    return store.new_recovery_key()


def back_up_store(
    store: Store,
    folder: str | Path,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> BackupReport:
    """A consistent, checked copy of the workstation's database in ``folder`` (administrators)."""
    check_cancelled(cancel)
    return store.backup(folder, progress=progress, cancel=cancel)

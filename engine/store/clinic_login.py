"""Signing in to the clinic database when its server asks the workstation for a password.

The workstation's role may need a password of its own (IT's choice, usually
with TLS). :func:`open_clinic_store` signs in with the one given (typed in
the sign-in dialog), else the one saved for the user on this workstation
(:mod:`engine.store.credentials`: the system keyring or the wrapped file),
else libpq's own means, and tells what went wrong apart:

- :class:`~engine.errors.DatabasePasswordError`: the server wants a password
  none of these gave, or refused the one tried (given, or saved and since
  changed by IT): ask for it;
- :class:`~engine.errors.AuthenticationError`: the user's own name or
  password is wrong (with a slot in the wrapped file, a password that does
  not unwrap it is the user's, not the database's);
- :class:`~engine.errors.StoreUnreachableError`: the server does not answer.

With ``remember``, a password given that the server accepted is saved for
the user (never in plain text).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.errors import AuthenticationError, DatabasePasswordError
from engine.store import credentials
from engine.store.crypto import KdfParams
from engine.store.store import Store, open_store, recover_access

#: The users table's own message (:func:`engine.store.store._check_password`).
WRONG_USER_PASSWORD = (
    "The user name or password is wrong. Check them and try again; if the password is "
    "lost, ask the administrator to reset your access."
)


@contextmanager
def _told_apart(
    url: str, username: str, server_password: str | None, *, password_lost: bool = False
) -> Iterator[None]:
    """Say which password a refused login needs: the server's (:func:`_password_error`)."""
    try:
        yield
    except DatabasePasswordError as exc:
        from engine.store.server import connection_params

        _, location = connection_params(url)
        raise _password_error(
            exc.refused, location, username, server_password, password_lost=password_lost
        ) from exc


def open_clinic_store(
    url: str,
    username: str,
    password: str,
    *,
    kdf: KdfParams | None = None,
    server_password: str | None = None,
    remember: bool = False,
) -> Store:
    """Sign in to the clinic database at ``url`` as ``username``.

    Parameters
    ----------
    server_password
        The database's password, typed by the person (``None``: the one
        saved here for ``username``, else libpq's own means).
    remember
        Save ``server_password`` for ``username`` on this workstation once
        the server accepted it.

    Raises
    ------
    DatabasePasswordError
        The server asks for a password that was not given or saved, or
        refused the one tried.
    AuthenticationError
        The user name or password is wrong, or the account is disabled.
    StoreUnreachableError
        The server does not answer.
    """
    with _told_apart(url, username, server_password):
        store = open_store(url, username, password, kdf=kdf, server_password=server_password)
    if remember and server_password is not None:
        try:
            credentials.remember(store.location, username, password, server_password, store.kdf)
        except BaseException:
            store.close()
            raise
    return store


def recover_clinic_access(
    url: str,
    recovery_key: str,
    username: str,
    new_password: str,
    *,
    kdf: KdfParams | None = None,
    server_password: str | None = None,
) -> Store:
    """Restore ``username``'s access to the clinic database with its recovery key.

    As :func:`open_clinic_store` for the database's own password, except that
    a slot in the wrapped file never means a wrong user password here: it is
    wrapped under the password that was lost, so the database password must
    be typed again. A database password typed is saved for the user under the
    new password, as a password change re-wraps it.

    Raises
    ------
    DatabasePasswordError, AuthenticationError, StoreUnreachableError
        As :func:`open_clinic_store`; a recovery key that is not accepted is an
        :class:`~engine.errors.AuthenticationError`.
    """
    with _told_apart(url, username, server_password, password_lost=True):
        return recover_access(
            url, recovery_key, username, new_password, kdf=kdf, server_password=server_password
        )


def _password_error(
    refused: bool,
    location: str,
    username: str,
    server_password: str | None,
    *,
    password_lost: bool = False,
) -> AuthenticationError:
    if server_password is not None:
        return DatabasePasswordError(
            f"The clinic database {location} did not accept that database password. Check it "
            "with IT and enter it again.",
            location,
            refused=True,
        )
    saved = credentials.saved_in(location, username)
    if not refused and saved is not None and saved.kind == credentials.FILE and not password_lost:
        # The slot is there but this password does not unwrap it: the user's password is wrong.
        return AuthenticationError(WRONG_USER_PASSWORD)
    if refused and saved is not None:
        return DatabasePasswordError(
            f"The clinic database {location} did not accept the password saved on this "
            "workstation (IT may have changed it). Enter the current clinic database password.",
            location,
            refused=True,
            saved=True,
        )
    return DatabasePasswordError(
        f"The clinic database {location} asks this workstation for its password, and none is "
        f"saved here for {username}. Enter the clinic database password (from IT; it is not "
        "your own password).",
        location,
        refused=False,
    )

"""Accounts: users, passwords, the recovery key and unlocking after an inactivity lock.

Each account has a row in ``users`` (password hash, role) and a slot in the
key file (the data key wrapped under the password); every change writes both
in one transaction, the key file last, so that a failed key-file write rolls
the row back.

User names are ASCII (:func:`check_username`, since the first store) and
unique whatever their case (the column's collation on both backends). A
typed name is turned into its key, :func:`~engine.store.keyring.user_key`
(the rule the key file keys its slots by), before it is looked up
(:func:`find_user_id`): sign-in, administrators' lookups, a new account's
uniqueness and ``store migrate --merge`` thus agree on both backends, also
for a typed letter that folds to an ASCII one (``ſ`` → ``s``, the Kelvin
sign → ``k``), which SQLite's ``NOCASE`` alone would not match.
"""

from __future__ import annotations

import re

from engine.errors import AuthenticationError, StoreError
from engine.store import crypto, db
from engine.store.core import Audit, StoreCore, Tx, dt, from_row, guarded
from engine.store.entities import ROLES, User
from engine.store.keyring import user_key

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

#: The columns :func:`user_from_row` reads: :class:`User`'s fields, in order.
USER_SELECT = (
    "SELECT id, username, full_name, role, active, must_change_password, created_at FROM users"
)


def user_from_row(row: tuple) -> User:
    """A :class:`User` from a row of :data:`USER_SELECT`."""
    return from_row(User, row, {"active": bool, "must_change_password": bool, "created_at": dt})


def check_username(username: str) -> str:
    """``username`` without surrounding spaces.

    Raises
    ------
    StoreError
        The name has characters other than letters, digits, ``._@-`` or is
        longer than 64 characters.
    """
    name = username.strip()
    if not _USERNAME.match(name):
        raise StoreError(
            "A user name has 1 to 64 letters, digits, dots, dashes, @ or underscores, "
            "starting with a letter or digit."
        )
    return name


def find_user_id(conn: db.Connection, username: str) -> int | None:
    """The id of the account called ``username`` (by :func:`user_key`), else ``None``.

    Names are ASCII and compared case-insensitively by the column's
    collation (SQLite ``NOCASE``, the server's ``stethos_nocase``), so an
    ASCII key finds at most one account on either backend; a key that is
    not ASCII finds none.
    """
    key = user_key(username)
    if not key.isascii():
        return None
    row = conn.execute("SELECT id FROM users WHERE username = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def check_password(password: str) -> None:
    """Raise :class:`StoreError` saying why ``password`` is too weak, if it is."""
    problem = crypto.password_problem(password)
    if problem:
        raise StoreError(problem)


class AccountsMixin(StoreCore):
    """Users, passwords, the recovery key and unlocking (part of :class:`Store`)."""

    def _user_row(self, conn: db.Connection, username: str) -> User | None:
        user_id = find_user_id(conn, username)
        if user_id is None:
            return None
        row = conn.execute(USER_SELECT + " WHERE id = ?", (user_id,)).fetchone()
        return None if row is None else user_from_row(row)

    def _target_user(self, conn: db.Connection, username: str) -> User:
        target = self._user_row(conn, username)
        if target is None:
            raise StoreError(f"There is no user called “{username}”.")
        return target

    def _set_password(
        self, tx: Tx, target: User, password: str, action: str, *, temporary: bool
    ) -> None:
        """Save ``password`` for ``target`` in the users table and the key file.

        ``temporary`` (an administrator's reset) makes the user change it at
        the next sign-in and enables a disabled account.
        """
        values = {
            "password_hash": crypto.hash_password(password, self.kdf),
            "must_change_password": int(temporary),
        }
        if temporary:
            values["active"] = 1
        tx.update("users", target.id, values, Audit(action, "user", {"username": target.username}))
        self._backend.set_password(tx.conn, target.username, password, self.kdf)

    @guarded
    def list_users(self) -> list[User]:
        """Every account, active or not, by user name."""
        rows = self._conn().execute(USER_SELECT + " ORDER BY username")
        return [user_from_row(r) for r in rows]

    @guarded
    def create_user(
        self, username: str, password: str, *, role: str = "clinician", full_name: str = ""
    ) -> User:
        """Add an account (administrators only).

        Parameters
        ----------
        role
            ``"clinician"`` or ``"admin"``.

        Raises
        ------
        StoreError
            Bad or taken user name, unknown role or too weak a password.
        """
        self._require_admin("add users")
        username = check_username(username)
        if role not in ROLES:
            raise StoreError(f"Unknown role “{role}”; use “clinician” or “admin”.")
        check_password(password)
        conn = self._conn()
        with self._write() as tx:
            taken = self._user_row(conn, username)
            if taken is not None or self._backend.has_user(username):
                name = taken.username if taken is not None else username
                raise StoreError(
                    f"A user called “{name}” already exists (user names are the same whatever "
                    "their case). Choose another name."
                )
            tx.insert(
                "users",
                {
                    "username": username,
                    "full_name": full_name.strip(),
                    "role": role,
                    "password_hash": crypto.hash_password(password, self.kdf),
                    **self._stamp("created"),
                },
                Audit("user_created", "user", {"username": username, "role": role}),
            )
            # Key file written inside the transaction: if it fails, the row rolls back.
            self._backend.set_password(tx.conn, username, password, self.kdf)
        user = self._user_row(conn, username)
        assert user is not None
        return user

    @guarded
    def change_password(self, old_password: str, new_password: str) -> None:
        """Change the signed-in user's password (re-wraps the data key under the new one).

        Raises
        ------
        AuthenticationError
            ``old_password`` is wrong.
        StoreError
            The new password is too weak or the same as the old one.
        """
        conn = self._conn()
        me = self.session.user
        stored = conn.execute("SELECT password_hash FROM users WHERE id = ?", (me.id,)).fetchone()
        if stored is None or not crypto.verify_password(stored[0], old_password):
            raise AuthenticationError("The current password is wrong. Nothing was changed.")
        check_password(new_password)
        if new_password == old_password:
            raise StoreError("The new password must differ from the current one.")
        with self._write() as tx:
            self._set_password(tx, me, new_password, "password_changed", temporary=False)
        refreshed = self._user_row(conn, me.username)
        assert refreshed is not None
        self.session.user = refreshed

    @guarded
    def reset_user(self, username: str, temporary_password: str) -> None:
        """Give a user a temporary password (administrators only; no data is lost).

        The user must change it at the next sign-in (``must_change_password``).
        A disabled account is enabled again.
        """
        self._require_admin("reset a user's access")
        check_password(temporary_password)
        conn = self._conn()
        with self._write() as tx:
            target = self._target_user(conn, username)
            self._set_password(tx, target, temporary_password, "access_reset", temporary=True)

    @guarded
    def disable_user(self, username: str) -> None:
        """Remove a user's access (administrators only); their entries stay attributed."""
        self._require_admin("disable a user")
        conn = self._conn()
        with self._write() as tx:
            target = self._target_user(conn, username)
            if target.id == self.session.user.id:
                raise StoreError("You cannot disable your own account.")
            if target.is_admin:
                admins = conn.execute(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"
                ).fetchone()[0]
                if admins <= 1:
                    raise StoreError("The last administrator cannot be disabled.")
            tx.update(
                "users",
                target.id,
                {"active": 0},
                Audit("user_disabled", "user", {"username": target.username}),
            )
            self._backend.remove_user(tx.conn, target.username)

    @guarded
    def new_recovery_key(self) -> str:
        """Replace the recovery key (administrators only); returns the new one to show once."""
        self._require_admin("replace the recovery key")
        text, raw = crypto.new_recovery_key()
        with self._write() as tx:
            tx.audit("recovery_key_replaced", "store", self._backend.store_id)
            self._backend.set_recovery(tx.conn, raw)
        return text

    @guarded
    def unlock(self, password: str) -> None:
        """Check the signed-in user's password after an inactivity lock.

        Raises
        ------
        AuthenticationError
            The password is wrong.
        """
        row = (
            self._conn()
            .execute("SELECT password_hash FROM users WHERE id = ?", (self.session.user.id,))
            .fetchone()
        )
        if row is None or not crypto.verify_password(row[0], password):
            raise AuthenticationError("The password is wrong. Try again.")
        with self._write() as tx:
            tx.audit("unlocked", "user", self.session.user.id)

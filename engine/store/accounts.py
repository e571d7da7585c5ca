"""Accounts: users, passwords, the recovery key and unlocking after an inactivity lock.

Each account has a row in ``users`` (password hash, role) and a slot in the
key file (the data key wrapped under the password); every change writes both
in one transaction, the key file last, so that a failed key-file write rolls
the row back.

User names are ASCII (:func:`check_username`) and name one account each
under one rule, :func:`~engine.store.keyring.user_key` (case-insensitive,
accents kept, as the key file keys its slots): sign-in, a new account's
uniqueness and ``store migrate --merge`` find accounts by it
(:func:`find_user_id`) on both backends, not by the database's collation
(SQLite's ``NOCASE`` and PostgreSQL's ICU collation fold differently; their
UNIQUE constraints stay as a backstop). Stethos never creates two accounts
the rule calls the same; where rows written around it hold such a pair, each
signs in by its name as written (else the only active one: a name matching
several active ones signs in nobody), and neither's password can be set
until an administrator disables the extra one (they share a key-file slot).
"""

from __future__ import annotations

import re
import unicodedata

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


class UserNameClashError(StoreError):
    """Several accounts have ``username`` under :func:`user_key`, none as it was typed."""

    def __init__(self, username: str, names: list[str]) -> None:
        self.names = tuple(names)
        super().__init__(
            f"Several accounts are called “{username}” when upper and lower case are not told "
            f"apart ({', '.join(f'“{n}”' for n in names)}). Give the user name exactly as it "
            "is written; an administrator should disable the extra account."
        )


def user_matches(conn: db.Connection, username: str) -> list[tuple[int, str]]:
    """Every account (id, name) whose name is ``username`` under :func:`user_key`.

    Compared here, not by the database's collation: SQLite's ``NOCASE``
    folds ASCII letters only, PostgreSQL's collation more than case (and
    the users table is small).
    """
    return [(i, n) for i, n, _ in _matches(conn, username)]


def _matches(conn: db.Connection, username: str) -> list[tuple[int, str, bool]]:
    key = user_key(username)
    rows = conn.execute("SELECT id, username, active FROM users ORDER BY id")
    return [(int(i), str(n), bool(a)) for i, n, a in rows if user_key(str(n)) == key]


def find_user_id(conn: db.Connection, username: str) -> int | None:
    """The id of the account called ``username`` (:func:`user_key`), else ``None``.

    Two accounts the rule calls the same cannot be created, but a database
    may hold them when rows were written around Stethos: then the one whose
    name is ``username`` exactly (NFC) is it, else the only active one.

    Raises
    ------
    UserNameClashError
        Several accounts match, none is written as ``username`` and more
        than one is active.
    """
    found = _matches(conn, username)
    if len(found) > 1:
        typed = unicodedata.normalize("NFC", username.strip())
        exact = [f for f in found if unicodedata.normalize("NFC", f[1]) == typed]
        active = exact or [f for f in found if f[2]]
        if len(active) != 1:
            raise UserNameClashError(username.strip(), [n for _, n, _ in found])
        found = active
    return found[0][0] if found else None


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
        twins = self._twins(tx.conn, target)
        if twins:
            raise StoreError(
                f"The account “{target.username}” has the same user name as “{twins[0]}” when "
                "upper and lower case are not told apart, and they share one password: its "
                "password cannot be set until an administrator disables the extra account."
            )
        values = {
            "password_hash": crypto.hash_password(password, self.kdf),
            "must_change_password": int(temporary),
        }
        if temporary:
            values["active"] = 1
        tx.update("users", target.id, values, Audit(action, "user", {"username": target.username}))
        self._backend.set_password(tx.conn, target.username, password, self.kdf)

    def _twins(self, conn: db.Connection, target: User) -> list[str]:
        """Other active accounts with ``target``'s name under :func:`user_key`.

        Never created by Stethos, but a database may hold them; they share the
        key file's slot (and a workstation's saved database password).
        """
        others = [i for i, _ in user_matches(conn, target.username) if i != target.id]
        if not others:
            return []
        marks = ", ".join("?" * len(others))
        rows = conn.execute(
            f"SELECT username FROM users WHERE active = 1 AND id IN ({marks})", others
        )
        return [str(r[0]) for r in rows]

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
            taken = user_matches(conn, username)
            if taken or self._backend.has_user(username):
                name = taken[0][1] if taken else username
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
            if not self._twins(conn, target):  # a slot it shares stays the other's
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

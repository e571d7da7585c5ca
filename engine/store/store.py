"""The workstation's patient store: an encrypted SQLite (SQLCipher) database.

Open it with :func:`open_store` (or :func:`create_store` the first time);
every method of :class:`Store` is what one button of the GUI does, so the
desktop only calls them through its job layer.

Rules kept here, not in the GUI:

- every change and its audit entry are written in one transaction;
- patients, records and results are never overwritten: an edit is a new
  version row, a decision is its own row;
- records are validated against their schema before they are saved;
- each thread gets its own connection (the GUI thread and a worker can write
  at the same time; SQLite serialises them, waiting up to the busy timeout).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlcipher3

from engine.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RecordValidationError,
    StoreConflictError,
    StoreError,
)
from engine.progress import CancelToken, Progress, no_progress
from engine.records.schema import HEART_RECORD, RecordSchema
from engine.resources import user_data_dir
from engine.store import audit as audit_log
from engine.store import crypto, db, migrations
from engine.store.crypto import KdfParams
from engine.store.entities import (
    DECISIONS,
    ROLES,
    SEX_LABELS,
    AuditEntry,
    AuditReport,
    Decision,
    DriftRow,
    Encounter,
    Patient,
    Session,
    StoredRecord,
    StoredResult,
    StudyLink,
    TimelineEntry,
    User,
    utcnow,
)
from engine.store.keyring import Keyring, anchor_path, keyring_path

DEFAULT_DB_NAME = "stethos.db"
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_PATIENT_FIELDS = ("mrn", "family_name", "given_name", "birth_date", "sex")
_KNOWN_SCHEMAS: dict[str, RecordSchema] = {HEART_RECORD.name: HEART_RECORD}

Clock = Callable[[], datetime]
_keyring_lock = threading.Lock()
F = TypeVar("F", bound=Callable[..., Any])


def default_store_path() -> Path:
    """Where the workstation's database lives (``user_data_dir()/stethos.db``)."""
    return user_data_dir() / DEFAULT_DB_NAME


def store_exists(path: str | Path) -> bool:
    """Whether a store (database and key file) exists at ``path``."""
    p = Path(path)
    return p.exists() and keyring_path(p).exists()


def register_schema(schema: RecordSchema) -> None:
    """Make records of ``schema`` readable by name (the heart schema is built in)."""
    _KNOWN_SCHEMAS[schema.name] = schema


def schema_version(schema: RecordSchema) -> str:
    """A short fingerprint of a schema's fields, units and ranges, saved with each record.

    Two records with the same fingerprint were validated against the same
    definitions; a changed range or unit gives another fingerprint.
    """
    spec = [
        [
            f.name,
            f.kind,
            f.unit,
            f.minimum,
            f.maximum,
            [c.code for c in f.choices],
            f.optional,
        ]
        for f in schema.fields
    ]
    return hashlib.sha256(audit_log.canonical_json(spec).encode()).hexdigest()[:12]


def _ts(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise StoreError("Times given to the store must carry a time zone.", repr(moment))
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _guarded(method: F) -> F:
    """Turn SQLite errors into :class:`StoreError` and count the call as activity."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        self._check_open()
        self.session.touch()
        try:
            return method(self, *args, **kwargs)
        except sqlcipher3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    "The database is busy with another task. Try again in a moment.", str(exc)
                ) from exc
            raise StoreError(
                db.disk_problem(self.path.parent, exc)
                or f"The database {self.path.name} could not be read or written.",
                str(exc),
            ) from exc
        except OSError as exc:  # key file or anchor writes
            raise StoreError(db.disk_problem(self.path.parent, exc), str(exc)) from exc
        except sqlcipher3.Error as exc:
            raise StoreError(
                f"The database {self.path.name} could not be read or written.", str(exc)
            ) from exc

    return wrapper  # type: ignore[return-value]


@dataclass
class _Tx:
    """A write transaction: its connection and the audit entries it appended."""

    conn: db.Connection
    store: Store
    last: AuditEntry | None = None

    def audit(
        self,
        action: str,
        object_type: str = "",
        object_id: str | int = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        self.last = audit_log.append(
            self.conn,
            at=self.store._now(),
            user=self.store.session.user.username,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
        return self.last


class Store:
    """An open, unlocked store with a signed-in user.

    Not constructed directly: use :func:`open_store`, :func:`create_store`
    or :func:`recover_access`. Thread-safe: each thread uses its own
    connection. Close it (or use ``with``) when done.
    """

    def __init__(
        self,
        path: Path,
        keyring: Keyring,
        data_key: bytes,
        user: User,
        *,
        kdf: KdfParams,
        clock: Clock,
    ) -> None:
        self.path = path
        self.kdf = kdf
        self._keyring = keyring
        self._data_key = data_key
        self._anchor_key = crypto.anchor_key(data_key)
        self._clock = clock
        self._local = threading.local()
        self._connections: list[db.Connection] = []
        self._lock = threading.RLock()
        self._anchor_seq = 0
        #: Why the anchor is not being advanced ("" when it is): see :meth:`reanchor`.
        self.anchor_problem = ""
        self._closed = False
        now = clock()
        self.session = Session(user=user, started_at=now, last_activity=now, clock=clock)

    # --- plumbing -------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def user(self) -> User:
        """The signed-in user."""
        return self.session.user

    @property
    def anchor_path(self) -> Path:
        """The signed audit-anchor file next to the database."""
        return anchor_path(self.path)

    def _now(self) -> str:
        return _ts(self._clock())

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("The store is closed. Sign in again.")

    def _conn(self) -> db.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.path, self._data_key)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        tx = _Tx(self._conn(), self)
        with db.write_transaction(tx.conn):
            yield tx
        if tx.last is not None:
            self._advance_anchor(tx.last.seq, tx.last.hash)

    def _advance_anchor(self, seq: int, digest: str) -> None:
        # After COMMIT: the anchor may lag the log after a crash, never lead it; and it
        # is never moved past a log that lost anchored entries (that would hide it).
        with self._lock:
            if seq <= self._anchor_seq:
                return
            self.anchor_problem = audit_log.advance_anchor(
                self._conn(),
                self.anchor_path,
                self._anchor_key,
                self._keyring.store_id,
                seq,
                digest,
            )
            if not self.anchor_problem:
                self._anchor_seq = seq

    @_guarded
    def reanchor(self, reason: str) -> AuditEntry:
        """Accept the audit log as it is now and anchor it again (administrators only).

        For after an investigation of a failed :meth:`verify_audit` (or a
        lost anchor file); the problem found and ``reason`` are logged.
        """
        self._require_admin("re-anchor the audit trail")
        if not reason.strip():
            raise StoreError("Say why the audit trail is re-anchored.")
        report = self.verify_audit()
        conn = self._conn()
        with self._lock:
            with db.write_transaction(conn):
                entry = audit_log.append(
                    conn,
                    at=self._now(),
                    user=self.session.user.username,
                    action="audit_reanchored",
                    object_type="audit",
                    object_id=report.first_bad_seq or "",
                    details={"problem": report.problem, "reason": reason.strip()},
                )
            audit_log.write_anchor(
                self.anchor_path, self._anchor_key, self._keyring.store_id, entry.seq, entry.hash
            )
            self._anchor_seq, self.anchor_problem = entry.seq, ""
        return entry

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

    def _require_admin(self, what: str) -> None:
        if not self.session.user.is_admin:
            raise PermissionDeniedError(f"Only an administrator can {what}.")

    def close(self) -> None:
        """Log out and close every connection (safe to call twice)."""
        if self._closed:
            return
        try:
            with self._write() as tx:
                tx.audit("logout", "user", self.session.user.id)
        except (sqlcipher3.Error, StoreError):
            pass  # closing must not fail; the login entry already exists
        with self._lock:
            for conn in self._connections:
                try:
                    conn.close()
                except sqlcipher3.Error:
                    pass
            self._connections.clear()
            self._closed = True
        self._data_key = b""

    # --- users ------------------------------------------------------------------------
    def _user_row(self, conn: db.Connection, username: str) -> User | None:
        row = conn.execute(
            "SELECT id, username, full_name, role, active, must_change_password, created_at "
            "FROM users WHERE username = ?",
            (username.strip(),),
        ).fetchone()
        return None if row is None else _user(row)

    @_guarded
    def list_users(self) -> list[User]:
        """Every account, active or not, by user name."""
        rows = self._conn().execute(
            "SELECT id, username, full_name, role, active, must_change_password, created_at "
            "FROM users ORDER BY username"
        )
        return [_user(r) for r in rows]

    @_guarded
    def create_user(
        self, username: str, password: str, *, role: str = "clinician", full_name: str = ""
    ) -> User:
        """Add an account (administrators only). ``role``: ``"clinician"`` or ``"admin"``."""
        self._require_admin("add users")
        username = _check_username(username)
        if role not in ROLES:
            raise StoreError(f"Unknown role “{role}”; use “clinician” or “admin”.")
        _check_password(password)
        conn = self._conn()
        with self._write() as tx:
            if self._user_row(conn, username) is not None or self._keyring.has_user(username):
                raise StoreError(f"A user called “{username}” already exists. Choose another name.")
            cur = conn.execute(
                "INSERT INTO users (username, full_name, role, password_hash, created_at, "
                "created_by) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    username,
                    full_name.strip(),
                    role,
                    crypto.hash_password(password, self.kdf),
                    self._now(),
                    self.session.user.id,
                ),
            )
            tx.audit("user_created", "user", cur.lastrowid, {"username": username, "role": role})
            # Keyring written inside the transaction: if it fails, the row rolls back.
            self._update_keyring(
                lambda k: k.set_password(username, password, self._data_key, self.kdf)
            )
        user = self._user_row(conn, username)
        assert user is not None
        return user

    @_guarded
    def change_password(self, old_password: str, new_password: str) -> None:
        """Change the signed-in user's password (re-wraps the data key under the new one)."""
        conn = self._conn()
        me = self.session.user
        stored = conn.execute("SELECT password_hash FROM users WHERE id = ?", (me.id,)).fetchone()
        if stored is None or not crypto.verify_password(stored[0], old_password):
            raise AuthenticationError("The current password is wrong. Nothing was changed.")
        _check_password(new_password)
        if new_password == old_password:
            raise StoreError("The new password must differ from the current one.")
        with self._write() as tx:
            conn.execute(
                "UPDATE users SET password_hash = ?, must_change_password = 0 WHERE id = ?",
                (crypto.hash_password(new_password, self.kdf), me.id),
            )
            tx.audit("password_changed", "user", me.id, {"username": me.username})
            self._update_keyring(
                lambda k: k.set_password(me.username, new_password, self._data_key, self.kdf)
            )
        refreshed = self._user_row(conn, me.username)
        assert refreshed is not None
        self.session.user = refreshed

    @_guarded
    def reset_user(self, username: str, temporary_password: str) -> None:
        """Give a user a temporary password (administrators only; no data is lost).

        The user must change it at the next sign-in (``must_change_password``).
        A disabled account is enabled again.
        """
        self._require_admin("reset a user's access")
        _check_password(temporary_password)
        conn = self._conn()
        with self._write() as tx:
            target = self._user_row(conn, username)
            if target is None:
                raise StoreError(f"There is no user called “{username}”.")
            conn.execute(
                "UPDATE users SET password_hash = ?, must_change_password = 1, active = 1 "
                "WHERE id = ?",
                (crypto.hash_password(temporary_password, self.kdf), target.id),
            )
            tx.audit("access_reset", "user", target.id, {"username": target.username})
            self._update_keyring(
                lambda k: k.set_password(
                    target.username, temporary_password, self._data_key, self.kdf
                )
            )

    @_guarded
    def disable_user(self, username: str) -> None:
        """Remove a user's access (administrators only); their entries stay attributed."""
        self._require_admin("disable a user")
        conn = self._conn()
        with self._write() as tx:
            target = self._user_row(conn, username)
            if target is None:
                raise StoreError(f"There is no user called “{username}”.")
            if target.id == self.session.user.id:
                raise StoreError("You cannot disable your own account.")
            if target.is_admin:
                admins = conn.execute(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND active = 1"
                ).fetchone()[0]
                if admins <= 1:
                    raise StoreError("The last administrator cannot be disabled.")
            conn.execute("UPDATE users SET active = 0 WHERE id = ?", (target.id,))
            tx.audit("user_disabled", "user", target.id, {"username": target.username})
            self._update_keyring(lambda k: k.remove_user(target.username))

    @_guarded
    def new_recovery_key(self) -> str:
        """Replace the recovery key (administrators only); returns the new one to show once."""
        self._require_admin("replace the recovery key")
        text, raw = crypto.new_recovery_key()
        with self._write() as tx:
            tx.audit("recovery_key_replaced", "store", self._keyring.store_id)
            self._update_keyring(lambda k: k.set_recovery(raw, self._data_key))
        return text

    @_guarded
    def unlock(self, password: str) -> None:
        """Check the signed-in user's password after an inactivity lock."""
        row = (
            self._conn()
            .execute("SELECT password_hash FROM users WHERE id = ?", (self.session.user.id,))
            .fetchone()
        )
        if row is None or not crypto.verify_password(row[0], password):
            raise AuthenticationError("The password is wrong. Try again.")
        with self._write() as tx:
            tx.audit("unlocked", "user", self.session.user.id)

    # --- patients -------------------------------------------------------------------------
    _PATIENT_SELECT = (
        "SELECT p.id, p.mrn, p.family_name, p.given_name, p.birth_date, p.sex, p.version, "
        "p.updated_at, u.username FROM patients p JOIN users u ON u.id = p.updated_by"
    )

    @_guarded
    def add_patient(
        self,
        mrn: str,
        family_name: str,
        given_name: str = "",
        birth_date: date | str | None = None,
        sex: str = "U",
    ) -> Patient:
        """Register a patient; raises :class:`RecordValidationError` for bad values."""
        values = _clean_patient(
            {
                "mrn": mrn,
                "family_name": family_name,
                "given_name": given_name,
                "birth_date": birth_date,
                "sex": sex,
            },
            self._clock().date(),
        )
        conn = self._conn()
        with self._write() as tx:
            self._check_mrn_free(conn, values["mrn"], None)
            now, uid = self._now(), self.session.user.id
            cur = conn.execute(
                "INSERT INTO patients (mrn, family_name, given_name, birth_date, sex, version, "
                "created_at, created_by, updated_at, updated_by, search_key) "
                "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
                (
                    *(values[k] for k in _PATIENT_FIELDS),
                    now,
                    uid,
                    now,
                    uid,
                    migrations.search_key(
                        values["mrn"], values["family_name"], values["given_name"]
                    ),
                ),
            )
            pid = int(cur.lastrowid)
            self._insert_patient_version(conn, pid, 1, values, now, "registered")
            tx.audit("created", "patient", pid)
        return self.get_patient(pid)

    def _check_mrn_free(self, conn: db.Connection, mrn: str, patient_id: int | None) -> None:
        row = conn.execute("SELECT id FROM patients WHERE mrn = ?", (mrn,)).fetchone()
        if row is not None and row[0] != patient_id:
            raise RecordValidationError({"mrn": f"Another patient already has the MRN {mrn}."})

    def _insert_patient_version(
        self,
        conn: db.Connection,
        pid: int,
        version: int,
        values: Mapping[str, Any],
        now: str,
        reason: str,
    ) -> None:
        conn.execute(
            "INSERT INTO patient_versions (patient_id, version, mrn, family_name, given_name, "
            "birth_date, sex, changed_at, changed_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pid,
                version,
                *(values[k] for k in _PATIENT_FIELDS),
                now,
                self.session.user.id,
                reason,
            ),
        )

    def _patient(self, conn: db.Connection, patient_id: int) -> Patient:
        row = _one(
            conn,
            self._PATIENT_SELECT + " WHERE p.id = ? AND p.deleted_at IS NULL",
            patient_id,
            f"Patient {patient_id} does not exist or was deleted.",
        )
        return _patient(row)

    @_guarded
    def get_patient(self, patient_id: int) -> Patient:
        """The current version of a patient (not audited; see :meth:`open_patient`)."""
        return self._patient(self._conn(), patient_id)

    @_guarded
    def open_patient(self, patient_id: int) -> Patient:
        """The current version of a patient, logging that the user opened the chart."""
        patient = self._patient(self._conn(), patient_id)
        with self._write() as tx:
            tx.audit("opened", "patient", patient_id)
        return patient

    @_guarded
    def search_patients(self, text: str = "", *, limit: int = 200) -> list[Patient]:
        """Patients whose MRN or name contains every word of ``text`` (case/accent-blind).

        An empty ``text`` lists everyone (most recently changed first).
        """
        words = migrations.search_key(text).split()
        sql = self._PATIENT_SELECT + " WHERE p.deleted_at IS NULL"
        args: list[Any] = []
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " AND p.search_key LIKE ? ESCAPE '\\'"
            args.append(f"%{escaped}%")
        sql += " ORDER BY p.updated_at DESC, p.id DESC LIMIT ?"
        args.append(int(limit))
        return [_patient(r) for r in self._conn().execute(sql, args)]

    @_guarded
    def update_patient(
        self,
        patient_id: int,
        changes: Mapping[str, Any],
        *,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Patient:
        """Change a patient's identifying data, keeping the old version.

        ``changes`` maps any of ``mrn``, ``family_name``, ``given_name``,
        ``birth_date``, ``sex`` to new values. ``expected_version`` (the
        version the form showed) turns a concurrent edit into
        :class:`StoreConflictError` instead of a silent overwrite.
        """
        unknown = set(changes) - set(_PATIENT_FIELDS)
        if unknown:
            raise StoreError(f"Unknown patient fields: {', '.join(sorted(unknown))}.")
        conn = self._conn()
        with self._write() as tx:
            current = self._patient(conn, patient_id)
            if expected_version is not None and current.version != expected_version:
                raise StoreConflictError(
                    f"{current.display_name} was changed by {current.updated_by} meanwhile. "
                    "Reload the patient and apply your change again."
                )
            old = _patient_values(current)
            values = _clean_patient({**old, **changes}, self._clock().date())
            if values == old:
                return current
            self._check_mrn_free(conn, values["mrn"], patient_id)
            now, version = self._now(), current.version + 1
            conn.execute(
                "UPDATE patients SET mrn = ?, family_name = ?, given_name = ?, birth_date = ?, "
                "sex = ?, version = ?, updated_at = ?, updated_by = ?, search_key = ? "
                "WHERE id = ?",
                (
                    *(values[k] for k in _PATIENT_FIELDS),
                    version,
                    now,
                    self.session.user.id,
                    migrations.search_key(
                        values["mrn"], values["family_name"], values["given_name"]
                    ),
                    patient_id,
                ),
            )
            self._insert_patient_version(conn, patient_id, version, values, now, reason.strip())
            changed = {k: {"from": old[k], "to": values[k]} for k in values if values[k] != old[k]}
            tx.audit(
                "changed",
                "patient",
                patient_id,
                {"version": version, "fields": sorted(changed), "reason": reason.strip()},
            )
        return self.get_patient(patient_id)

    @_guarded
    def patient_history(self, patient_id: int) -> list[Patient]:
        """Every version of a patient's identifying data, oldest first."""
        rows = self._conn().execute(
            "SELECT v.patient_id, v.mrn, v.family_name, v.given_name, v.birth_date, v.sex, "
            "v.version, v.changed_at, u.username, v.reason FROM patient_versions v "
            "JOIN users u ON u.id = v.changed_by WHERE v.patient_id = ? ORDER BY v.version",
            (patient_id,),
        )
        return [_patient(r) for r in rows]

    @_guarded
    def delete_patient(self, patient_id: int, reason: str) -> None:
        """Hide a patient from lists (their history is kept and stays in the audit trail)."""
        if not reason.strip():
            raise StoreError("Say why the patient is deleted.")
        conn = self._conn()
        with self._write() as tx:
            self._patient(conn, patient_id)
            conn.execute(
                "UPDATE patients SET deleted_at = ? WHERE id = ?", (self._now(), patient_id)
            )
            tx.audit("deleted", "patient", patient_id, {"reason": reason.strip()})

    # --- encounters and records ------------------------------------------------------------
    @_guarded
    def add_encounter(
        self, patient_id: int, *, reason: str = "", started_at: datetime | None = None
    ) -> Encounter:
        """Open a visit for a patient (``started_at`` defaults to now)."""
        conn = self._conn()
        with self._write() as tx:
            self._patient(conn, patient_id)
            now = self._now()
            cur = conn.execute(
                "INSERT INTO encounters (patient_id, started_at, reason, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    patient_id,
                    _ts(started_at) if started_at else now,
                    reason.strip(),
                    now,
                    self.session.user.id,
                ),
            )
            eid = int(cur.lastrowid)
            tx.audit("created", "encounter", eid, {"patient_id": patient_id})
        return self._encounter(conn, eid)

    def _encounter(self, conn: db.Connection, encounter_id: int) -> Encounter:
        row = _one(
            conn,
            "SELECT e.id, e.patient_id, e.started_at, e.reason, u.username FROM encounters e "
            "JOIN users u ON u.id = e.created_by WHERE e.id = ?",
            encounter_id,
            f"Encounter {encounter_id} does not exist.",
        )
        return Encounter(int(row[0]), int(row[1]), _dt(row[2]), row[3], row[4])

    @_guarded
    def encounters(self, patient_id: int) -> list[Encounter]:
        """A patient's encounters, oldest first."""
        rows = self._conn().execute(
            "SELECT e.id, e.patient_id, e.started_at, e.reason, u.username FROM encounters e "
            "JOIN users u ON u.id = e.created_by WHERE e.patient_id = ? ORDER BY e.started_at, "
            "e.id",
            (patient_id,),
        )
        return [Encounter(int(r[0]), int(r[1]), _dt(r[2]), r[3], r[4]) for r in rows]

    @_guarded
    def save_record(
        self,
        encounter_id: int,
        record: Mapping[str, Any],
        *,
        schema: RecordSchema = HEART_RECORD,
    ) -> StoredRecord:
        """Validate ``record`` against ``schema`` and save it in an encounter.

        Raises
        ------
        RecordValidationError
            A value is missing, out of range or not a field of the schema.
        """
        data = _record_data(record, schema)
        conn = self._conn()
        with self._write() as tx:
            encounter = self._encounter(conn, encounter_id)
            self._patient(conn, encounter.patient_id)
            cur = conn.execute(
                "INSERT INTO records (encounter_id, schema_name, schema_version, data, version, "
                "recorded_at, recorded_by) VALUES (?, ?, ?, ?, 1, ?, ?)",
                (
                    encounter_id,
                    schema.name,
                    data["schema_version"],
                    audit_log.canonical_json(data),
                    self._now(),
                    self.session.user.id,
                ),
            )
            rid = int(cur.lastrowid)
            tx.audit(
                "created",
                "record",
                rid,
                {"encounter_id": encounter_id, "schema": schema.name, "version": 1},
            )
        return self._record(conn, rid)

    @_guarded
    def update_record(
        self,
        record_id: int,
        record: Mapping[str, Any],
        *,
        reason: str = "",
        schema: RecordSchema | None = None,
    ) -> StoredRecord:
        """Save corrected values as a new version of a record (the old one stays).

        ``record_id`` must be the latest version; editing an older one raises
        :class:`StoreConflictError` (someone else corrected it meanwhile).
        """
        conn = self._conn()
        with self._write() as tx:
            old = self._record(conn, record_id)
            schema = schema or _KNOWN_SCHEMAS.get(old.schema_name)
            if schema is None or schema.name != old.schema_name:
                raise StoreError(
                    f"Record {record_id} uses the schema “{old.schema_name}”; pass that schema."
                )
            newer = conn.execute(
                "SELECT id FROM records WHERE supersedes = ?", (record_id,)
            ).fetchone()
            if newer is not None:
                raise StoreConflictError(
                    "This record was corrected meanwhile. Reload it and apply your change again."
                )
            data = _record_data(record, schema)
            cur = conn.execute(
                "INSERT INTO records (encounter_id, schema_name, schema_version, data, version, "
                "supersedes, recorded_at, recorded_by, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    old.encounter_id,
                    schema.name,
                    data["schema_version"],
                    audit_log.canonical_json(data),
                    old.version + 1,
                    record_id,
                    self._now(),
                    self.session.user.id,
                    reason.strip(),
                ),
            )
            rid = int(cur.lastrowid)
            changed = sorted(k for k in data["values"] if data["values"][k] != old.values.get(k))
            tx.audit(
                "changed",
                "record",
                rid,
                {
                    "supersedes": record_id,
                    "version": old.version + 1,
                    "fields": changed,
                    "reason": reason.strip(),
                },
            )
        return self._record(conn, rid)

    _RECORD_SELECT = (
        "SELECT r.id, r.encounter_id, e.patient_id, r.schema_name, r.schema_version, r.data, "
        "r.version, r.supersedes, r.recorded_at, u.username, r.reason FROM records r "
        "JOIN encounters e ON e.id = r.encounter_id JOIN users u ON u.id = r.recorded_by"
    )

    def _record(self, conn: db.Connection, record_id: int) -> StoredRecord:
        row = _one(conn, self._RECORD_SELECT + " WHERE r.id = ?", record_id,
                   f"Record {record_id} does not exist.")  # fmt: skip
        return _stored_record(row)

    @_guarded
    def get_record(self, record_id: int) -> StoredRecord:
        """One record version."""
        return self._record(self._conn(), record_id)

    @_guarded
    def record_history(self, record_id: int) -> list[StoredRecord]:
        """Every version of the record that ``record_id`` belongs to, oldest first."""
        conn = self._conn()
        first = self._record(conn, record_id)
        while first.supersedes is not None:
            first = self._record(conn, first.supersedes)
        chain = [first]
        while True:
            row = conn.execute(
                self._RECORD_SELECT + " WHERE r.supersedes = ?", (chain[-1].id,)
            ).fetchone()
            if row is None:
                return chain
            chain.append(_stored_record(row))

    @_guarded
    def records(self, encounter_id: int) -> list[StoredRecord]:
        """The latest version of each record of an encounter."""
        rows = self._conn().execute(
            self._RECORD_SELECT + " WHERE r.encounter_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM records n WHERE n.supersedes = r.id) ORDER BY r.recorded_at, r.id",
            (encounter_id,),
        )
        return [_stored_record(r) for r in rows]

    # --- results and decisions --------------------------------------------------------------
    @_guarded
    def save_result(
        self,
        encounter_id: int,
        prediction: Any,
        *,
        record_id: int | None = None,
        study_link_id: int | None = None,
        explanation_summary: str | None = None,
        positive_label: str | None = None,
        model_name: str | None = None,
    ) -> StoredResult:
        """Save what a model said about an input of this encounter.

        ``prediction`` is an :class:`engine.models.results.Prediction` or its
        ``to_json()`` dict (then pass ``positive_label`` and ``model_name``,
        which that dict does not carry). ``explanation_summary`` defaults to
        the three largest feature contributions.
        """
        fields = _result_fields(prediction, positive_label, model_name)
        if explanation_summary is not None:
            fields["explanation_summary"] = explanation_summary.strip()
        conn = self._conn()
        with self._write() as tx:
            encounter = self._encounter(conn, encounter_id)
            self._patient(conn, encounter.patient_id)
            if record_id is not None and self._record(conn, record_id).encounter_id != encounter_id:
                raise StoreError(f"Record {record_id} belongs to another encounter.")
            if study_link_id is not None:
                link = self._study(conn, study_link_id)
                if link.patient_id != encounter.patient_id:
                    raise StoreError(f"Study link {study_link_id} belongs to another patient.")
            cur = conn.execute(
                "INSERT INTO results (encounter_id, record_id, study_link_id, model_id, "
                "model_version, model_name, weights_sha256, input_hash, label, positive_label, "
                "score, is_positive, probabilities, operating_point, threshold, sensitivity, "
                "specificity, explanation_summary, device, elapsed_ms, result_json, created_at, "
                "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?)",
                (
                    encounter_id,
                    record_id,
                    study_link_id,
                    fields["model_id"],
                    fields["model_version"],
                    fields["model_name"],
                    fields["weights_sha256"],
                    fields["input_hash"],
                    fields["label"],
                    fields["positive_label"],
                    fields["score"],
                    fields["is_positive"],
                    audit_log.canonical_json(fields["probabilities"]),
                    fields["operating_point"],
                    fields["threshold"],
                    fields["sensitivity"],
                    fields["specificity"],
                    fields["explanation_summary"],
                    fields["device"],
                    fields["elapsed_ms"],
                    audit_log.canonical_json(fields["result"]),
                    self._now(),
                    self.session.user.id,
                ),
            )
            rid = int(cur.lastrowid)
            tx.audit(
                "analysed",
                "result",
                rid,
                {
                    "encounter_id": encounter_id,
                    "patient_id": encounter.patient_id,
                    "model_id": fields["model_id"],
                    "model_version": fields["model_version"],
                    "weights_sha256": fields["weights_sha256"],
                    "input_hash": fields["input_hash"],
                    "label": fields["label"],
                    "positive": None
                    if fields["is_positive"] is None
                    else bool(fields["is_positive"]),
                    "score": fields["score"],
                },
            )
        return self._result(conn, rid)

    _RESULT_SELECT = (
        "SELECT r.id, r.encounter_id, e.patient_id, r.record_id, r.study_link_id, r.model_id, "
        "r.model_version, r.model_name, r.weights_sha256, r.input_hash, r.label, "
        "r.positive_label, r.score, r.is_positive, r.probabilities, r.operating_point, "
        "r.threshold, r.sensitivity, r.specificity, r.explanation_summary, r.device, "
        "r.elapsed_ms, r.created_at, u.username, r.result_json FROM results r "
        "JOIN encounters e ON e.id = r.encounter_id JOIN users u ON u.id = r.created_by"
    )

    def _result(self, conn: db.Connection, result_id: int) -> StoredResult:
        row = _one(conn, self._RESULT_SELECT + " WHERE r.id = ?", result_id,
                   f"Result {result_id} does not exist.")  # fmt: skip
        return _stored_result(row, self._latest_decision(conn, result_id))

    def _latest_decision(self, conn: db.Connection, result_id: int) -> Decision | None:
        row = conn.execute(
            self._DECISION_SELECT + " WHERE d.result_id = ? ORDER BY d.id DESC LIMIT 1",
            (result_id,),
        ).fetchone()
        return None if row is None else _decision(row)

    @_guarded
    def get_result(self, result_id: int) -> StoredResult:
        """One saved result with its latest decision."""
        return self._result(self._conn(), result_id)

    @_guarded
    def results(self, encounter_id: int) -> list[StoredResult]:
        """The results of an encounter, oldest first."""
        conn = self._conn()
        rows = conn.execute(
            self._RESULT_SELECT + " WHERE r.encounter_id = ? ORDER BY r.created_at, r.id",
            (encounter_id,),
        ).fetchall()
        return [_stored_result(r, self._latest_decision(conn, int(r[0]))) for r in rows]

    _DECISION_SELECT = (
        "SELECT d.id, d.result_id, d.decision, d.comment, d.decided_at, u.username "
        "FROM decisions d JOIN users u ON u.id = d.decided_by"
    )

    @_guarded
    def record_decision(self, result_id: int, decision: str, comment: str = "") -> Decision:
        """Record the clinician's decision on a result; the result itself is never changed.

        ``decision`` is ``"accepted"`` or ``"overridden"``; overriding needs a
        comment. A later decision on the same result supersedes the earlier
        one in lists, and both stay in the history.
        """
        if decision not in DECISIONS:
            raise StoreError(f"Unknown decision “{decision}”; use “accepted” or “overridden”.")
        comment = comment.strip()
        if decision == "overridden" and not comment:
            raise StoreError("Say why the result is overridden: the comment is required.")
        conn = self._conn()
        with self._write() as tx:
            result = self._result(conn, result_id)
            cur = conn.execute(
                "INSERT INTO decisions (result_id, decision, comment, decided_at, decided_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (result_id, decision, comment, self._now(), self.session.user.id),
            )
            did = int(cur.lastrowid)
            tx.audit(
                "decided",
                "decision",
                did,
                {
                    "result_id": result_id,
                    "decision": decision,
                    "comment": comment,
                    "model_id": result.model_id,
                    "model_version": result.model_version,
                },
            )
        row = conn.execute(self._DECISION_SELECT + " WHERE d.id = ?", (did,)).fetchone()
        return _decision(row)

    @_guarded
    def decisions(self, result_id: int) -> list[Decision]:
        """Every decision on a result, oldest first."""
        rows = self._conn().execute(
            self._DECISION_SELECT + " WHERE d.result_id = ? ORDER BY d.id", (result_id,)
        )
        return [_decision(r) for r in rows]

    # --- studies --------------------------------------------------------------------------------
    @_guarded
    def link_study(
        self,
        patient_id: int,
        *,
        study_uid: str,
        path: str | Path,
        series_uid: str = "",
        modality: str = "",
        study_date: str = "",
        dicom_patient_id: str = "",
        dicom_patient_name: str = "",
        encounter_id: int | None = None,
    ) -> StudyLink:
        """Attach a DICOM study (or one series) to a patient.

        The DICOM Patient ID and name are saved as read from the header; when
        they do not match the patient the link is still made and
        :attr:`StudyLink.warning` says why (the GUI shows it and asks).
        """
        if not study_uid.strip():
            raise StoreError("The study has no Study Instance UID; it cannot be linked.")
        conn = self._conn()
        with self._write() as tx:
            patient = self._patient(conn, patient_id)
            if encounter_id is not None and self._encounter(conn, encounter_id).patient_id != (
                patient_id
            ):
                raise StoreError(f"Encounter {encounter_id} belongs to another patient.")
            warning = mismatch_warning(patient, dicom_patient_id, dicom_patient_name) or ""
            cur = conn.execute(
                "INSERT INTO study_links (patient_id, encounter_id, study_uid, series_uid, path, "
                "modality, study_date, dicom_patient_id, dicom_patient_name, mismatch, linked_at, "
                "linked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    patient_id,
                    encounter_id,
                    study_uid.strip(),
                    series_uid.strip(),
                    str(path),
                    modality,
                    study_date,
                    dicom_patient_id,
                    dicom_patient_name,
                    warning,
                    self._now(),
                    self.session.user.id,
                ),
            )
            lid = int(cur.lastrowid)
            tx.audit(
                "linked",
                "study",
                lid,
                {
                    "patient_id": patient_id,
                    "study_uid": study_uid.strip(),
                    "series_uid": series_uid.strip(),
                    "mismatch": bool(warning),
                },
            )
        return self._study(conn, lid)

    _STUDY_SELECT = (
        "SELECT s.id, s.patient_id, s.encounter_id, s.study_uid, s.series_uid, s.path, "
        "s.modality, s.study_date, s.dicom_patient_id, s.dicom_patient_name, s.mismatch, "
        "s.linked_at, u.username FROM study_links s JOIN users u ON u.id = s.linked_by"
    )

    def _study(self, conn: db.Connection, link_id: int) -> StudyLink:
        row = _one(conn, self._STUDY_SELECT + " WHERE s.id = ?", link_id,
                   f"Study link {link_id} does not exist.")  # fmt: skip
        return _study(row)

    @_guarded
    def studies(self, patient_id: int) -> list[StudyLink]:
        """Studies linked to a patient, oldest link first."""
        rows = self._conn().execute(
            self._STUDY_SELECT + " WHERE s.patient_id = ? ORDER BY s.linked_at, s.id",
            (patient_id,),
        )
        return [_study(r) for r in rows]

    @_guarded
    def find_study(self, study_uid: str) -> list[StudyLink]:
        """Links of a Study Instance UID (to show which patient a study belongs to)."""
        rows = self._conn().execute(
            self._STUDY_SELECT + " WHERE s.study_uid = ? ORDER BY s.id", (study_uid,)
        )
        return [_study(r) for r in rows]

    # --- timeline -------------------------------------------------------------------------------
    @_guarded
    def timeline(self, patient_id: int) -> list[TimelineEntry]:
        """Everything of a patient in time order: encounters, records, results, decisions, studies.

        Records appear in their latest version (``version > 1`` means edited).
        """
        conn = self._conn()
        self._patient(conn, patient_id)
        out: list[TimelineEntry] = []
        for enc in self.encounters(patient_id):
            out.append(
                TimelineEntry(
                    enc.started_at, "encounter", enc.id, enc.id, "Encounter", enc.reason, enc
                )
            )
        rows = conn.execute(
            self._RECORD_SELECT + " WHERE e.patient_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM records n WHERE n.supersedes = r.id)",
            (patient_id,),
        ).fetchall()
        for row in rows:
            rec = _stored_record(row)
            title = f"Record ({rec.schema_name})" + (
                f", edited (version {rec.version})" if rec.version > 1 else ""
            )
            previous = None if rec.supersedes is None else self._record(conn, rec.supersedes)
            summary = _record_summary(rec, previous)
            out.append(
                TimelineEntry(
                    rec.recorded_at, "record", rec.id, rec.encounter_id, title, summary, rec
                )
            )
        rows = conn.execute(
            self._RESULT_SELECT + " WHERE e.patient_id = ?", (patient_id,)
        ).fetchall()
        for row in rows:
            res = _stored_result(row, self._latest_decision(conn, int(row[0])))
            score = f" ({res.score:.0%})" if res.score is not None else ""
            out.append(
                TimelineEntry(
                    res.created_at,
                    "result",
                    res.id,
                    res.encounter_id,
                    f"{res.model_name or res.model_id} {res.model_version}",
                    f"{res.label}{score}",
                    res,
                )
            )
            for dec in self.decisions(res.id):
                text = dec.decision.capitalize() + (f": {dec.comment}" if dec.comment else "")
                out.append(
                    TimelineEntry(
                        dec.decided_at,
                        "decision",
                        dec.id,
                        res.encounter_id,
                        f"Decision on {res.model_id}",
                        text,
                        dec,
                    )
                )
        for link in self.studies(patient_id):
            title = f"Study {link.modality}".strip()
            out.append(
                TimelineEntry(
                    link.linked_at,
                    "study",
                    link.id,
                    link.encounter_id,
                    title,
                    link.warning or link.study_date,
                    link,
                )
            )
        order = {"encounter": 0, "record": 1, "study": 2, "result": 3, "decision": 4}
        out.sort(key=lambda e: (e.time, order[e.kind], e.id))
        return out

    # --- audit ------------------------------------------------------------------------------------
    @_guarded
    def audit(
        self,
        action: str,
        *,
        object_type: str = "",
        object_id: str | int = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Log an event the store does not see itself (image opened, report printed, export)."""
        with self._write() as tx:
            return tx.audit(action, object_type, object_id, details)

    @_guarded
    def audit_entries(
        self,
        *,
        since_seq: int = 0,
        action: str | None = None,
        object_type: str | None = None,
        object_id: str | int | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Audit entries after ``since_seq``, optionally filtered."""
        return audit_log.entries(
            self._conn(),
            since_seq=since_seq,
            action=action,
            object_type=object_type,
            object_id=object_id,
            limit=limit,
        )

    @_guarded
    def verify_audit(
        self, *, progress: Progress = no_progress, cancel: CancelToken | None = None
    ) -> AuditReport:
        """Recompute the hash chain and compare it with the signed anchor."""
        return audit_log.verify(
            self._conn(),
            self.anchor_path,
            self._anchor_key,
            self._keyring.store_id,
            progress=progress,
            cancel=cancel,
        )

    @_guarded
    def export_audit_csv(
        self,
        out: str | Path,
        *,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> int:
        """Write the audit trail to a CSV file; returns the number of entries written."""
        count = audit_log.export_csv(self._conn(), Path(out), progress=progress, cancel=cancel)
        with self._write() as tx:
            tx.audit("audit_exported", "audit", "", {"file": Path(out).name, "entries": count})
        return count

    @_guarded
    def drift_report(self, period: str = "month", *, model_id: str | None = None) -> list[DriftRow]:
        """Per model version and month (or ISO week): positive share and override share."""
        return audit_log.drift(self._conn(), period, model_id)

    @_guarded
    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` when sound)."""
        return db.integrity_check(self._conn())

    @_guarded
    def schema_version(self) -> int:
        """The database's schema version."""
        return migrations.schema_version(self._conn())


# --- opening ---------------------------------------------------------------------------------------
def create_store(
    path: str | Path,
    admin_user: str,
    admin_password: str,
    *,
    full_name: str = "",
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> tuple[Store, str]:
    """Create a new store whose first account is the administrator.

    Returns the open store and the recovery key, to show once and keep on
    paper: it restores access if every password is lost.

    Parameters
    ----------
    kdf
        Argon2id cost; the default is the product's. Tests pass
        :meth:`KdfParams.fast`.
    """
    kdf = kdf or KdfParams()
    keyring, data_key, recovery_text = _create_database(
        Path(path), admin_user, admin_password, full_name, kdf, clock, migrations.CURRENT_VERSION
    )
    store = _login(Path(path), keyring, data_key, admin_user, kdf, clock)
    return store, recovery_text


def _create_database(
    db_path: Path,
    admin_user: str,
    admin_password: str,
    full_name: str,
    kdf: KdfParams,
    clock: Clock,
    schema_version: int,
) -> tuple[Keyring, bytes, str]:
    """Write a new database (at ``schema_version``), key file and anchor; nobody signed in.

    Migration tests call it with an earlier ``schema_version``.
    """
    if db_path.exists() or keyring_path(db_path).exists():
        raise StoreError(
            f"A database already exists at {db_path}. Open it, or choose another folder."
        )
    username = _check_username(admin_user)
    _check_password(admin_password)
    data_key = crypto.new_data_key()
    keyring = Keyring.new(keyring_path(db_path))
    keyring.set_password(username, admin_password, data_key, kdf)
    recovery_text, recovery_raw = crypto.new_recovery_key()
    keyring.set_recovery(recovery_raw, data_key)
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(db.disk_problem(db_path.parent, exc), str(exc)) from exc
    keyring.save()
    conn = None
    try:
        conn = db.connect(db_path, data_key)
        now = _ts(clock())
        migrations.migrate(conn, now, target=schema_version)
        with db.write_transaction(conn):
            cur = conn.execute(
                "INSERT INTO users (username, full_name, role, password_hash, created_at) "
                "VALUES (?, ?, 'admin', ?, ?)",
                (username, full_name.strip(), crypto.hash_password(admin_password, kdf), now),
            )
            audit_log.append(
                conn,
                at=now,
                user=username,
                action="store_created",
                object_type="store",
                object_id=keyring.store_id,
                details={"schema_version": migrations.schema_version(conn)},
            )
            last = audit_log.append(
                conn,
                at=now,
                user=username,
                action="user_created",
                object_type="user",
                object_id=int(cur.lastrowid),
                details={"username": username, "role": "admin"},
            )
        audit_log.write_anchor(
            anchor_path(db_path), crypto.anchor_key(data_key), keyring.store_id, last.seq, last.hash
        )
    except BaseException:
        if conn is not None:
            conn.close()
        for leftover in (
            db_path,
            keyring_path(db_path),
            anchor_path(db_path),
            db_path.with_name(db_path.name + "-wal"),
            db_path.with_name(db_path.name + "-shm"),
        ):
            leftover.unlink(missing_ok=True)
        raise
    conn.close()
    return keyring, data_key, recovery_text


def open_store(
    path: str | Path,
    user: str,
    password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> Store:
    """Sign in and open the store at ``path`` (migrating an older schema first).

    Raises
    ------
    AuthenticationError
        Unknown user, wrong password or disabled account (one message for the
        first two, so that user names cannot be probed).
    StoreError
        No database there, missing key file, or a database of a newer Stethos.
    """
    db_path = Path(path)
    if not db_path.exists():
        raise StoreError(f"There is no Stethos database at {db_path}.")
    keyring = Keyring.load(keyring_path(db_path))
    data_key = keyring.unlock_password(user, password)
    return _login(db_path, keyring, data_key, user, kdf or KdfParams(), clock)


def recover_access(
    path: str | Path,
    recovery_key: str,
    user: str,
    new_password: str,
    *,
    kdf: KdfParams | None = None,
    clock: Clock = utcnow,
) -> Store:
    """Restore a user's access with the recovery key when passwords are lost.

    Sets ``new_password`` for ``user`` (enabling the account if it was
    disabled) and signs them in. Nothing stored is lost.
    """
    db_path = Path(path)
    if not db_path.exists():
        raise StoreError(f"There is no Stethos database at {db_path}.")
    _check_password(new_password)
    kdf = kdf or KdfParams()
    keyring = Keyring.load(keyring_path(db_path))
    data_key = keyring.unlock_recovery(recovery_key)
    conn = db.connect(db_path, data_key)
    try:
        now = _ts(clock())
        _migrate_logged(conn, db_path, keyring, data_key, now, user)
        row = conn.execute(
            "SELECT id, username FROM users WHERE username = ?", (user.strip(),)
        ).fetchone()
        if row is None:
            raise AuthenticationError(
                f"There is no user called “{user}” in this database. Give an existing user name."
            )
        with db.write_transaction(conn):
            conn.execute(
                "UPDATE users SET password_hash = ?, must_change_password = 0, active = 1 "
                "WHERE id = ?",
                (crypto.hash_password(new_password, kdf), row[0]),
            )
            entry = audit_log.append(
                conn,
                at=now,
                user=row[1],
                action="access_recovered",
                object_type="user",
                object_id=int(row[0]),
                details={"username": row[1], "with": "recovery key"},
            )
            keyring.set_password(row[1], new_password, data_key, kdf)
            keyring.save()
        _anchor_after(conn, db_path, keyring, data_key, entry)
    finally:
        conn.close()
    return _login(db_path, keyring, data_key, user, kdf, clock)


def _anchor_after(
    conn: db.Connection, db_path: Path, keyring: Keyring, data_key: bytes, entry: AuditEntry
) -> None:
    audit_log.advance_anchor(
        conn,
        anchor_path(db_path),
        crypto.anchor_key(data_key),
        keyring.store_id,
        entry.seq,
        entry.hash,
    )


def _migrate_logged(
    conn: db.Connection,
    db_path: Path,
    keyring: Keyring,
    data_key: bytes,
    now: str,
    username: str,
) -> None:
    before = migrations.schema_version(conn)
    applied = migrations.migrate(conn, now)
    if applied:
        with db.write_transaction(conn):
            entry = audit_log.append(
                conn,
                at=now,
                user=username,
                action="migrated",
                object_type="store",
                object_id=keyring.store_id,
                details={"from": before, "to": applied[-1]},
            )
        _anchor_after(conn, db_path, keyring, data_key, entry)


def _login(
    db_path: Path,
    keyring: Keyring,
    data_key: bytes,
    username: str,
    kdf: KdfParams,
    clock: Clock,
) -> Store:
    conn = db.connect(db_path, data_key)
    try:
        now = _ts(clock())
        _migrate_logged(conn, db_path, keyring, data_key, now, username)
        row = conn.execute(
            "SELECT id, username, full_name, role, active, must_change_password, created_at "
            "FROM users WHERE username = ?",
            (username.strip(),),
        ).fetchone()
    finally:
        conn.close()
    if row is None or not row[4]:
        raise AuthenticationError(
            "This account is disabled. Ask the administrator to reset your access."
        )
    store = Store(db_path, keyring, data_key, _user(row), kdf=kdf, clock=clock)
    with store._write() as tx:
        tx.audit("login", "user", int(row[0]))
    return store


# --- row helpers -------------------------------------------------------------------------------------
def _one(conn: db.Connection, sql: str, row_id: int, missing: str) -> tuple:
    """The row ``sql`` selects for ``row_id``; :class:`StoreError` ``missing`` when none."""
    row = conn.execute(sql, (row_id,)).fetchone()
    if row is None:
        raise StoreError(missing)
    return row


def _user(row: tuple) -> User:
    return User(
        id=int(row[0]),
        username=row[1],
        full_name=row[2],
        role=row[3],
        active=bool(row[4]),
        must_change_password=bool(row[5]),
        created_at=_dt(row[6]),
    )


def _patient(row: tuple) -> Patient:
    return Patient(
        id=int(row[0]),
        mrn=row[1],
        family_name=row[2],
        given_name=row[3],
        birth_date=date.fromisoformat(row[4]) if row[4] else None,
        sex=row[5],
        version=int(row[6]),
        updated_at=_dt(row[7]),
        updated_by=row[8],
        reason=row[9] if len(row) > 9 else "",
    )


def _patient_values(p: Patient) -> dict[str, Any]:
    return {
        "mrn": p.mrn,
        "family_name": p.family_name,
        "given_name": p.given_name,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "sex": p.sex,
    }


def _clean_patient(values: Mapping[str, Any], today: date) -> dict[str, Any]:
    problems: dict[str, str] = {}
    mrn = str(values.get("mrn") or "").strip()
    family = str(values.get("family_name") or "").strip()
    given = str(values.get("given_name") or "").strip()
    sex = str(values.get("sex") or "U").strip().upper()[:1] or "U"
    if not mrn:
        problems["mrn"] = "The MRN (patient identifier) is required."
    elif len(mrn) > 64:
        problems["mrn"] = "The MRN must have at most 64 characters."
    if not family:
        problems["family_name"] = "The family name is required."
    if sex not in SEX_LABELS:
        problems["sex"] = "Sex must be Female, Male, Other or Unknown."
    birth = values.get("birth_date")
    birth_text: str | None = None
    if birth not in (None, ""):
        try:
            born = birth if isinstance(birth, date) else date.fromisoformat(str(birth))
        except ValueError:
            problems["birth_date"] = "The birth date must be a date (YYYY-MM-DD)."
        else:
            if isinstance(born, datetime):
                born = born.date()
            if born > today:
                problems["birth_date"] = "The birth date cannot be in the future."
            elif born.year < 1880:
                problems["birth_date"] = "The birth date is before 1880."
            else:
                birth_text = born.isoformat()
    if problems:
        raise RecordValidationError(problems)
    return {
        "mrn": mrn,
        "family_name": family,
        "given_name": given,
        "birth_date": birth_text,
        "sex": sex,
    }


def _record_data(record: Mapping[str, Any], schema: RecordSchema) -> dict[str, Any]:
    problems = {
        name: f"“{name}” is not a field of {schema.name}."
        for name in set(record) - set(schema.names)
    }
    problems.update(schema.problems(record))
    if problems:
        raise RecordValidationError(problems)
    values: dict[str, Any] = {}
    for f in schema.fields:
        v = record.get(f.name)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            values[f.name] = None
        elif hasattr(v, "item"):
            values[f.name] = v.item()
        elif isinstance(v, bool):
            values[f.name] = int(v)
        else:
            values[f.name] = v
    return {
        "schema": schema.name,
        "schema_version": schema_version(schema),
        "values": values,
        "units": {f.name: f.unit for f in schema.fields if f.unit},
    }


def _stored_record(row: tuple) -> StoredRecord:
    data = json.loads(row[5])
    values = dict(data.get("values", {}))
    schema = _KNOWN_SCHEMAS.get(row[3])
    if schema is not None:  # JSON is saved with sorted keys; show the schema's order
        order = {name: i for i, name in enumerate(schema.names)}
        values = dict(sorted(values.items(), key=lambda kv: order.get(kv[0], len(order))))
    return StoredRecord(
        id=int(row[0]),
        encounter_id=int(row[1]),
        patient_id=int(row[2]),
        schema_name=row[3],
        schema_version=row[4],
        values=values,
        units=dict(data.get("units", {})),
        version=int(row[6]),
        supersedes=None if row[7] is None else int(row[7]),
        recorded_at=_dt(row[8]),
        recorded_by=row[9],
        reason=row[10],
    )


def _record_summary(rec: StoredRecord, previous: StoredRecord | None = None) -> str:
    """The first values of a record, or for an edit what changed."""
    schema = _KNOWN_SCHEMAS.get(rec.schema_name)

    def describe(name: str, value: Any) -> tuple[str, str]:
        if schema is not None and name in schema.names:
            spec = schema.field(name)
            return spec.label, spec.describe(None if value is None else float(value))
        return name, "not recorded" if value is None else str(value)

    if previous is not None:
        changes = []
        for name, value in rec.values.items():
            old = previous.values.get(name)
            if value != old:
                label, new_text = describe(name, value)
                changes.append(f"{label}: {describe(name, old)[1]} → {new_text}")
        return "Changed " + "; ".join(changes) if changes else "No values changed"
    parts = [": ".join(describe(n, v)) for n, v in rec.values.items() if v is not None]
    return "; ".join(parts[:4]) + ("; …" if len(parts) > 4 else "")


def _result_fields(
    prediction: Any, positive_label: str | None, model_name: str | None
) -> dict[str, Any]:
    if hasattr(prediction, "to_json") and hasattr(prediction, "model_id"):
        p = prediction
        result = p.to_json()
        fields: dict[str, Any] = {
            "model_id": p.model_id,
            "model_version": p.model_version,
            "model_name": model_name or p.model_name,
            "weights_sha256": p.weights_sha256,
            "input_hash": p.input_hash,
            "label": p.label,
            "positive_label": positive_label or p.positive_label,
            "probabilities": dict(p.probabilities),
            "operating_point": p.operating_point,
            "threshold": p.threshold,
            "sensitivity": p.sensitivity,
            "specificity": p.specificity,
            "device": p.device,
            "elapsed_ms": p.elapsed_ms,
        }
        contributions = [
            (c.label or c.name, c.value, c.contribution) for c in getattr(p, "contributions", ())
        ]
        method = getattr(p, "explanation_method", "")
    elif isinstance(prediction, Mapping):
        result = dict(prediction)
        op = result.get("operating_point") or {}
        if not isinstance(op, Mapping):
            op = {"name": str(op)}
        fields = {
            "model_id": result.get("model_id", result.get("model")),
            "model_version": result.get("model_version", result.get("version")),
            "model_name": model_name or result.get("model_name", ""),
            "weights_sha256": result.get("weights_sha256"),
            "input_hash": result.get("input_hash"),
            "label": result.get("label"),
            "positive_label": positive_label or result.get("positive_label"),
            "probabilities": dict(result.get("probabilities") or {}),
            "operating_point": op.get("name", ""),
            "threshold": op.get("threshold"),
            "sensitivity": op.get("sensitivity"),
            "specificity": op.get("specificity"),
            "device": result.get("device", ""),
            "elapsed_ms": result.get("elapsed_ms"),
        }
        contributions = [
            (c.get("feature", ""), c.get("value", ""), c.get("contribution", 0.0))
            for c in result.get("contributions") or ()
        ]
        method = result.get("explanation_method", "")
    else:
        raise StoreError(
            "A result must be a model Prediction or its to_json() dictionary.",
            type(prediction).__name__,
        )
    missing = [
        k
        for k in ("model_id", "model_version", "weights_sha256", "input_hash", "label")
        if not fields.get(k)
    ]
    if missing or not fields["probabilities"]:
        raise StoreError(
            "The result cannot be saved: it lacks " + ", ".join(missing or ["probabilities"]) + ".",
        )
    fields["probabilities"] = {str(k): float(v) for k, v in fields["probabilities"].items()}
    for key in ("threshold", "sensitivity", "specificity", "elapsed_ms"):
        if fields[key] is not None:
            fields[key] = float(fields[key])
    pos = fields["positive_label"]
    if pos is not None and pos not in fields["probabilities"]:
        raise StoreError(f"The positive label “{pos}” is not among the result's labels.")
    fields["score"] = fields["probabilities"][pos] if pos is not None else None
    fields["is_positive"] = None if pos is None else int(fields["label"] == pos)
    fields["model_name"] = fields["model_name"] or ""
    fields["device"] = fields["device"] or ""
    fields["operating_point"] = fields["operating_point"] or ""
    fields["result"] = result
    top = sorted(contributions, key=lambda c: -abs(float(c[2])))[:3]
    summary = "; ".join(f"{name} = {value} ({float(w):+.2f})" for name, value, w in top)
    if method:
        summary = f"{method}: {summary}" if summary else str(method)
    fields["explanation_summary"] = summary
    return fields


def _stored_result(row: tuple, decision: Decision | None) -> StoredResult:
    return StoredResult(
        id=int(row[0]),
        encounter_id=int(row[1]),
        patient_id=int(row[2]),
        record_id=None if row[3] is None else int(row[3]),
        study_link_id=None if row[4] is None else int(row[4]),
        model_id=row[5],
        model_version=row[6],
        model_name=row[7],
        weights_sha256=row[8],
        input_hash=row[9],
        label=row[10],
        positive_label=row[11],
        score=row[12],
        is_positive=None if row[13] is None else bool(row[13]),
        probabilities=json.loads(row[14]),
        operating_point=row[15],
        threshold=row[16],
        sensitivity=row[17],
        specificity=row[18],
        explanation_summary=row[19],
        device=row[20],
        elapsed_ms=row[21],
        created_at=_dt(row[22]),
        created_by=row[23],
        result=json.loads(row[24]),
        decision=decision,
    )


def _decision(row: tuple) -> Decision:
    return Decision(int(row[0]), int(row[1]), row[2], row[3], _dt(row[4]), row[5])


def _study(row: tuple) -> StudyLink:
    return StudyLink(
        id=int(row[0]),
        patient_id=int(row[1]),
        encounter_id=None if row[2] is None else int(row[2]),
        study_uid=row[3],
        series_uid=row[4],
        path=row[5],
        modality=row[6],
        study_date=row[7],
        dicom_patient_id=row[8],
        dicom_patient_name=row[9],
        warning=row[10],
        linked_at=_dt(row[11]),
        linked_by=row[12],
    )


def _check_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.match(name):
        raise StoreError(
            "A user name has 1 to 64 letters, digits, dots, dashes, @ or underscores, "
            "starting with a letter or digit."
        )
    return name


def _check_password(password: str) -> None:
    problem = crypto.password_problem(password)
    if problem:
        raise StoreError(problem)


# --- identity check ------------------------------------------------------------------------------------
def _fold(text: str) -> str:
    return migrations.search_key(text).strip()


def _dicom_name_parts(name: str) -> tuple[str, str]:
    # PN: alphabetic group before "=", components family^given^middle^prefix^suffix
    alphabetic = name.split("=")[0]
    parts = alphabetic.split("^")
    family = parts[0] if parts else ""
    given = parts[1] if len(parts) > 1 else ""
    if len(parts) == 1 and "," in family:  # "Doe, John" written by some modalities
        family, given = (s.strip() for s in family.split(",", 1))
    return _fold(family), _fold(given)


def mismatch_warning(
    patient: Patient, dicom_patient_id: str | None, dicom_name: str | None
) -> str | None:
    """A warning when a study's Patient ID or name does not match ``patient``, else ``None``.

    IDs are compared without case and surrounding spaces; names by family
    name and first given name, ignoring case and accents (``DOE^JOHN^A``
    matches *John Doe*). Missing values in the study also warn: the link
    cannot be checked.
    """
    problems = []
    pid = (dicom_patient_id or "").strip()
    if not pid:
        problems.append("the study has no Patient ID")
    elif pid.casefold() != patient.mrn.strip().casefold():
        problems.append(f"its Patient ID is “{pid}”, not the MRN “{patient.mrn}”")
    name = (dicom_name or "").strip()
    family, given = _dicom_name_parts(name)
    if not family and not given:
        problems.append("the study has no patient name")
    else:
        want_family = _fold(patient.family_name)
        want_given = _fold(patient.given_name).split()
        have_given = given.split()
        if family != want_family or (want_given and have_given and want_given[0] != have_given[0]):
            problems.append(f"its patient name is “{name}”, not “{patient.display_name}”")
    if not problems:
        return None
    return (
        f"This study may belong to another patient: {'; '.join(problems)}. Check the images "
        "before using them for this patient."
    )

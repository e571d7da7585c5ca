"""The clinic's shared store on a PostgreSQL server (psycopg 3).

Several workstations use one database: the same tables, the same
migrations (:mod:`engine.store.migrations`, translated from SQLite's
dialect by :class:`ServerConnection`) and the same store API as the local
SQLCipher file. What differs is kept here:

- **Where and how to connect.** ``postgresql://role@host/db``; a server on
  another machine must be reached over TLS with the server's certificate
  checked against the clinic's CA (``sslmode=verify-full`` and
  ``sslrootcert=CA.pem``), only ``localhost`` may go without. A password in
  the address is refused: it comes from the caller (asked for, or the
  workstation's saved credential) or from libpq's own means.
- **Who may do what** is enforced by the server, not only by Stethos: the
  schema belongs to the role that ran ``store init``/``store migrate``; the
  workstations connect as members of the ``stethos_workstation`` role, which
  may read and insert, update only ``users`` and ``patients``, write audit
  entries only through the server's functions, and never update, delete or
  truncate the audit log (grants, and triggers that refuse it for everyone,
  owner included).
- **The audit chain**: a write commits its entry unsealed and the server
  seals committed entries into the chain in batches, one sealer at a time
  (:mod:`engine.store.server_audit`), so writers share the commit's flush and
  entries from any number of workstations form one line; the anchor (latest
  seq and hash) is a row the server advances itself from a trigger, which a
  workstation cannot write.
- **Accounts**: the users table's Argon2id password hashes are the only
  check (there is no data key to wrap); the recovery key is kept as a salted
  hash in ``stethos_meta``; the workstation role's own password, when the
  server asks for one, is kept per user by :mod:`engine.store.credentials`.
- **Round trips**: a write transaction runs in psycopg's pipeline mode and
  the server adds (and seals) the audit entry itself (``stethos_audit_add``:
  the same sha256 of the same canonical JSON), so a row and its entry travel
  with the ``COMMIT`` in few round trips; a lost connection becomes
  :class:`~engine.errors.StoreUnreachableError` (nothing half written: one
  transaction) and the next call connects again. Connections of ended job
  threads are kept (a few) for the next one.
- **The data at rest** is the server's to protect (disk encryption, backups):
  the rows are not encrypted by Stethos as the local file is.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from engine.errors import (
    AuthenticationError,
    DatabasePasswordError,
    EngineError,
    PermissionDeniedError,
    StoreConflictError,
    StoreError,
    StoreUnreachableError,
)
from engine.store import crypto, db, server_audit
from engine.store.audit import GENESIS, Anchor
from engine.store.crypto import KdfParams
from engine.store.location import is_database_url
from engine.store.server_audit import WORKSTATION_ROLE

#: Hosts that may be reached without TLS (this machine).
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
CONNECT_TIMEOUT_S = 5
#: Connections a store keeps open between jobs (each job runs on a thread of its own).
IDLE_CONNECTIONS = 4
#: The tables whose rows are never updated or deleted (as in the local store).
APPEND_ONLY = ("audit_log", "patient_versions", "records", "results", "decisions")

_BOOTSTRAP = (
    # The users table's UNIQUE name is case-insensitive, as SQLite's COLLATE NOCASE: a backstop;
    # accounts are found by one rule on both backends (engine.store.accounts.find_user_id).
    "CREATE COLLATION IF NOT EXISTS stethos_nocase "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    """CREATE OR REPLACE FUNCTION stethos_append_only() RETURNS trigger
       LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""",
    "CREATE TABLE stethos_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE audit_anchor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq BIGINT NOT NULL,
        hash TEXT NOT NULL)""",
    f"INSERT INTO audit_anchor (id, seq, hash) VALUES (1, 0, '{GENESIS}')",
    # Runs as the schema's owner: a workstation advances the anchor only by appending the
    # entry that follows the anchored one. After entries were removed the anchor stays
    # where it was (as the local anchor file does), so the gap is never covered.
    """CREATE OR REPLACE FUNCTION stethos_advance_anchor() RETURNS trigger
       LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
       BEGIN
         UPDATE audit_anchor SET seq = NEW.seq, hash = NEW.hash
          WHERE id = 1 AND seq = NEW.seq - 1 AND hash = NEW.prev_hash;
         RETURN NULL;
       END $$""",
    "CREATE TRIGGER audit_anchor_no_delete BEFORE DELETE OR TRUNCATE ON audit_anchor "
    "FOR EACH STATEMENT EXECUTE FUNCTION stethos_append_only()",
)


# --- addresses ------------------------------------------------------------------------------
def _is_local(host: str) -> bool:
    hosts = [h.strip() for h in host.split(",") if h.strip()]
    return not hosts or all(h.startswith("/") or h.lower() in LOCAL_HOSTS for h in hosts)


def connection_params(url: str) -> tuple[dict[str, Any], str]:
    """The libpq parameters of ``url`` after the TLS rule, and the address to show people.

    Raises
    ------
    StoreError
        Not a PostgreSQL address, a password in it, or a server on another
        machine without ``sslmode=verify-full`` and the clinic's CA file.
    """
    try:
        params: dict[str, Any] = dict(conninfo_to_dict(url.strip()))
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"“{url}” is not a PostgreSQL database address.", str(exc)) from exc
    if not is_database_url(url):
        raise StoreError(f"“{url}” is not a postgresql:// database address.")
    if "password" in params:
        raise StoreError(
            "The database address must not contain a password: it would be kept in plain "
            "text. Remove it; Stethos asks for the password or uses the one saved for this "
            "workstation."
        )
    host = str(params.get("host", ""))
    shown = (
        f"postgresql://{params['user'] + '@' if params.get('user') else ''}{host or 'localhost'}"
        f"{':' + str(params['port']) if params.get('port') else ''}/{params.get('dbname', '')}"
    )
    if not _is_local(host):
        mode = params.setdefault("sslmode", "verify-full")
        ca = str(params.get("sslrootcert", ""))
        if mode != "verify-full" or not ca:
            raise StoreError(
                f"The clinic database on {host} must be reached over TLS with its certificate "
                "checked: add sslmode=verify-full&sslrootcert=/path/to/clinic-ca.pem to the "
                "address (only a server on this machine, localhost, may go without).",
                f"sslmode={mode!r} sslrootcert={ca!r}",
            )
        if ca != "system" and not Path(ca).is_file():
            raise StoreError(
                f"The clinic's CA file {ca} for the database on {host} does not exist. "
                "Copy it from IT and give its path as sslrootcert."
            )
    params.setdefault("connect_timeout", str(CONNECT_TIMEOUT_S))
    params.setdefault("application_name", "stethos")
    return params, shown


# --- SQL translation ------------------------------------------------------------------------
_APPEND_ONLY_TRIGGER = re.compile(r"^CREATE TRIGGER (\w+) BEFORE (UPDATE|DELETE) ON (\w+) BEGIN")


@functools.lru_cache(maxsize=512)
def translate_sql(sql: str, with_parameters: bool) -> str:
    """The store's SQLite-dialect ``sql`` as PostgreSQL runs it.

    ``?`` parameters become ``%s`` (and a literal ``%`` ``%%``); the DDL of
    the migrations gets PostgreSQL's types, identity keys, the
    case-insensitive collation and the append-only trigger function.
    """
    text = sql.strip()
    if text == "BEGIN IMMEDIATE":
        return "BEGIN"
    trigger = _APPEND_ONLY_TRIGGER.match(text)
    if trigger:
        name, op, table = trigger.groups()
        out = (
            f"CREATE TRIGGER {name} BEFORE {op} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION stethos_append_only()"
        )
        if op == "DELETE":
            out += (
                f";\nCREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION stethos_append_only()"
            )
        return out
    if text.startswith(("CREATE TABLE", "ALTER TABLE")):
        text = re.sub(
            r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", text
        )
        text = re.sub(r"\bINTEGER\b", "BIGINT", text)
        text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
        text = text.replace("COLLATE NOCASE", "COLLATE stethos_nocase")
        text = re.sub(r"^(\s*)user TEXT\b", r'\1"user" TEXT', text, flags=re.MULTILINE)
    if with_parameters:
        text = text.replace("%", "%%").replace("?", "%s")
    return text


@functools.lru_cache(maxsize=512)
def _statements(sql: str, with_parameters: bool) -> tuple[str, ...]:
    """:func:`translate_sql`'s text split into its statements (a DDL step may be two)."""
    return tuple(translate_sql(sql, with_parameters).split(";\n"))


class ServerConnection:
    """A psycopg connection that runs the store's SQL (see :func:`translate_sql`).

    In autocommit mode: the store's ``BEGIN``/``COMMIT`` are its own, as
    with SQLite. A write transaction runs in psycopg's pipeline mode:
    statements whose results nobody reads (``BEGIN``, the audit lock, the
    audit entry's ``INSERT``) travel with the next one that is read, so a
    transaction costs fewer round trips to the server; errors still surface
    before ``COMMIT`` returns.
    """

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], *, pipelined: bool = True) -> None:
        self.raw = raw
        self.pipelined = pipelined
        #: Seal each added audit entry in its transaction, waiting for the chain's lock
        #: (see :func:`engine.store.server_audit.sealed_now`).
        self.seal_wait = False
        #: The database predates batch sealing (its owner has not signed in since).
        self.legacy_audit = False
        #: psycopg's pipeline context, entered at ``BEGIN`` and left at ``COMMIT``/``ROLLBACK``.
        self._pipeline: AbstractContextManager[Any] | None = None

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (a lost connection has none to roll back)."""
        if self._pipeline is not None:
            return True  # ours, until COMMIT or ROLLBACK ends it
        status = self.raw.info.transaction_status
        return status in (
            TransactionStatus.INTRANS,
            TransactionStatus.INERROR,
            TransactionStatus.ACTIVE,
        )

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        """Run one statement; returns its cursor (``None`` for a rollback with nothing to undo)."""
        statements = _statements(sql, parameters is not None)
        text = statements[-1]
        if text == "BEGIN":
            if self.pipelined and self._pipeline is None:
                pipeline = self.raw.pipeline()
                pipeline.__enter__()
                self._pipeline = pipeline
        elif text == "COMMIT":
            try:
                cur = self.raw.execute("COMMIT")
                self._end_pipeline(None)  # waits for every queued statement; raises their error
            except BaseException as exc:
                # A queued statement failed: the COMMIT was skipped, so undo the rest here
                # (the caller's transaction block has ended already).
                self._end_pipeline(exc)
                self._forget_prepared()
                if self.raw.info.transaction_status == TransactionStatus.INERROR:
                    self.raw.execute("ROLLBACK")
                raise
            return cur
        elif text == "ROLLBACK":
            self._end_pipeline(StoreError("rolled back"))
            if not self.in_transaction:
                return None
        for part in statements[:-1]:  # a DDL step may be two statements
            self.raw.execute(part)  # type: ignore[arg-type]
        return self.raw.execute(text, parameters)  # type: ignore[arg-type]

    def _end_pipeline(self, error: BaseException | None) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is None:
            return
        if error is None:
            pipeline.__exit__(None, None, None)
            return
        try:
            pipeline.__exit__(None, None, None)
        except psycopg.Error:
            pass  # the aborted rest of a transaction that failed already (``error``)
        self._forget_prepared()

    def _forget_prepared(self) -> None:
        """After a failed pipeline: start psycopg's prepared-statement cache afresh.

        Statements queued after the failed one were never prepared by the
        server, but psycopg may count them as prepared ("prepared statement
        _pg3_N does not exist" later); its next query deallocates them all.
        """
        prepared = getattr(self.raw, "_prepared", None)
        if prepared is not None:
            prepared.clear()

    def executemany(self, sql: str, parameters: Any) -> psycopg.Cursor[Any]:
        """Run one statement for each parameter set."""
        cur = self.raw.cursor()
        cur.executemany(translate_sql(sql, True), parameters)  # type: ignore[arg-type]
        return cur

    def append_audit(
        self, at: str, user: str, action: str, object_type: str, object_id: str, details: str
    ) -> server_audit.SealedEntry:
        """Send one audit entry to ``stethos_audit_add``; reads as (seq, prev, hash) after COMMIT.

        The entry is committed with the change it records and sealed into the
        chain by this transaction when the chain's lock is free now (else by a
        later one: it then reads as ``(0, "", "")``). Nothing waits for the
        answer: it travels with the ``COMMIT``.
        """
        row = (at, user, action, object_type, object_id, details)
        if self.legacy_audit:
            return server_audit.SealedEntry(self.raw.execute(server_audit.LEGACY_APPEND, row))
        return server_audit.SealedEntry(self.raw.execute(server_audit.ADD, (*row, self.seal_wait)))

    def seal_pending(self) -> int:
        """Seal every committed audit entry (waiting for the lock); how many await it still.

        Outside a transaction (the seal is one of its own).
        """
        if self.legacy_audit:
            return 0  # every entry was chained when it was written
        server_audit.seal(self.raw, wait=True)
        return server_audit.awaiting_seal(self.raw)

    def integrity_check(self) -> str:
        """``"ok"``, or what is missing: tables, append-only triggers, the refused grants."""
        problems = []
        tables = (
            *APPEND_ONLY,
            "users",
            "patients",
            "audit_anchor",
            "stethos_meta",
            "audit_pending",
        )
        for table in tables:
            if not db.has_table(self, table):
                problems.append(f"table {table} is missing")
        names = {
            str(r[0])
            for r in self.raw.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
            )
        }
        for table in APPEND_ONLY:
            for kind in ("no_update", "no_delete", "no_truncate"):
                if f"{table}_{kind}" not in names:
                    problems.append(f"trigger {table}_{kind} is missing or disabled")
        for name in ("audit_log_anchor", "audit_pending_no_update"):
            if name not in names:
                problems.append(f"trigger {name} is missing or disabled")
        role = self.raw.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (WORKSTATION_ROLE,)
        ).fetchone()
        if role is not None:
            for table in ("audit_log", "audit_pending"):
                for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                    granted = self.raw.execute(
                        "SELECT has_table_privilege(%s, %s, %s)",
                        (WORKSTATION_ROLE, table, privilege),
                    ).fetchone()
                    if granted is not None and granted[0]:
                        problems.append(f"{WORKSTATION_ROLE} may {privilege} {table}")
        return "; ".join(problems) or "ok"

    def close(self) -> None:
        """Close the connection."""
        self._pipeline = None
        self.raw.close()


# --- schema set-up --------------------------------------------------------------------------
def bootstrap(conn: ServerConnection) -> None:
    """Create what the server keeps besides the migrated tables (in an empty database)."""
    with db.write_transaction(conn):
        for statement in _BOOTSTRAP:
            conn.raw.execute(statement)  # type: ignore[arg-type]


def grant(conn: ServerConnection) -> None:
    """Give :data:`WORKSTATION_ROLE` what a workstation needs, and no more (after migrating).

    Creates the role when it is missing and the schema's owner may create
    roles; the audit log's anchor trigger and the sealing of audit entries
    (:func:`engine.store.server_audit.install`) are (re)installed too: this
    also brings over a database made before entries were sealed in batches.
    """
    raw = conn.raw
    with db.write_transaction(conn):
        raw.execute(
            "CREATE OR REPLACE TRIGGER audit_log_anchor AFTER INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION stethos_advance_anchor()"
        )
        exists = raw.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (WORKSTATION_ROLE,)
        ).fetchone()
        if exists is None:
            raw.execute(f"CREATE ROLE {WORKSTATION_ROLE} NOLOGIN")
        server_audit.install(raw)  # the pending table and the functions that seal it
        raw.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {WORKSTATION_ROLE}")
        raw.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {WORKSTATION_ROLE}")
        # The chain is written only by the server's functions (as the schema's owner).
        raw.execute(
            "REVOKE INSERT ON schema_version, audit_anchor, stethos_meta, audit_log, "
            f"audit_pending FROM {WORKSTATION_ROLE}"
        )
        # Which workstation store's rows became which: written only by ``store migrate
        # --merge`` as the owner (read-only to workstations; absent before schema 5).
        merged = raw.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename IN ('merged_stores', 'merged_ids') ORDER BY tablename"
        ).fetchall()
        if merged:
            names = ", ".join(str(r[0]) for r in merged)
            raw.execute(f"REVOKE INSERT ON {names} FROM {WORKSTATION_ROLE}")  # type: ignore[arg-type]
        raw.execute(f"GRANT UPDATE ON users, patients TO {WORKSTATION_ROLE}")
        raw.execute(f"GRANT UPDATE (value) ON stethos_meta TO {WORKSTATION_ROLE}")
        raw.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {WORKSTATION_ROLE}")
        sync_identities(conn)


#: The tables with an identity ``id`` (rows copied with their ids move the counters on).
ID_TABLES = (
    "users",
    "patients",
    "patient_versions",
    "encounters",
    "records",
    "study_links",
    "results",
    "decisions",
)


def sync_identities(conn: ServerConnection) -> None:
    """Move each identity counter past the table's largest id (after rows came with ids)."""
    for table in ID_TABLES:
        if db.has_table(conn, table):
            conn.raw.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # type: ignore[arg-type]
                f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
            )


def recovery_digest(raw: bytes, salt: bytes | None = None) -> str:
    """``sha256$salt$digest`` of a recovery key (160 random bits: no slow hash is needed)."""
    salt = salt or os.urandom(16)
    digest = hmac.new(salt, raw, hashlib.sha256).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def recovery_matches(stored: str, raw: bytes) -> bool:
    """Whether ``raw`` is the recovery key whose :func:`recovery_digest` is ``stored``."""
    try:
        _, salt, _ = stored.split("$")
        return hmac.compare_digest(recovery_digest(raw, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


# --- the backend ----------------------------------------------------------------------------
class ServerBackend:
    """The shared database at ``url``, reached as the role the URL names.

    Parameters
    ----------
    url
        ``postgresql://role@host[:port]/dbname[?sslmode=verify-full&sslrootcert=CA]``.
    password
        The role's password, when the server asks for one (else libpq's own
        means: ``PGPASSWORD``, a client certificate, a local socket).
    """

    def __init__(self, url: str, *, password: str | None = None) -> None:
        self.params, self.location = connection_params(url)
        self.host = str(self.params.get("host") or "localhost")
        self._password = password
        self._store_id = ""
        #: Connections given back in good order, handed out again before a new one.
        self._idle: list[ServerConnection] = []
        self._idle_lock = threading.Lock()
        #: Whether the database seals audit entries in batches (``None``: not asked yet).
        self._sealing: bool | None = None

    @property
    def store_id(self) -> str:
        """The store id kept in ``stethos_meta``."""
        if not self._store_id:
            conn = self.connect()
            try:
                self._store_id = meta(conn, "store_id")
            finally:
                self.release(conn)
        return self._store_id

    def connect(self) -> ServerConnection:
        """A new connection (autocommit; the store opens its own transactions).

        Raises
        ------
        StoreUnreachableError
            The server does not answer.
        AuthenticationError
            It answers but refuses this workstation's login.
        """
        while True:
            with self._idle_lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            try:  # one round trip: the server may have restarted since it was given back
                conn.raw.execute("SELECT 1")
            except psycopg.Error:
                conn.close()
                continue
            return conn
        extra = {} if self._password is None else {"password": self._password}
        try:
            raw = psycopg.connect(make_conninfo(**self.params, **extra), autocommit=True)
        except psycopg.OperationalError as exc:
            raise self._connect_error(exc) from exc
        conn = ServerConnection(raw)
        try:
            conn.legacy_audit = not self._batch_sealing(conn)
        except psycopg.Error as exc:
            conn.close()
            raise unreachable(self.host, str(exc)) from exc
        return conn

    def _batch_sealing(self, conn: ServerConnection) -> bool:
        """Whether the database seals audit entries in batches (asked once per store).

        A database set up before it did is brought over when its owner
        connects (:func:`grant`, idempotent); until then workstations append
        as before, through ``stethos_audit_append``.
        """
        if self._sealing is not None:
            return self._sealing
        row = conn.raw.execute(
            "SELECT to_regprocedure(%s) IS NOT NULL, (SELECT pg_has_role(tableowner, 'MEMBER') "
            "FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'audit_log')",
            (server_audit.ADD_SIGNATURE,),
        ).fetchone()
        present, owner = row if row is not None else (False, None)
        if owner is None:  # an empty database: set up with batch sealing when created
            return True
        if not present and owner:
            grant(conn)
            present = True
        self._sealing = bool(present)
        return self._sealing

    def _connect_error(self, exc: psycopg.OperationalError) -> EngineError:
        text = str(exc)
        low = text.lower()
        login = (
            f"The clinic database on {self.host} did not accept this workstation's login. "
            "Ask IT to check the workstation's database role and its password saved here "
            "(stethos-engine store remember)."
        )
        # libpq's words for a password the server wanted and did not get, or did not accept
        # (engine.store.clinic_login says which to the person signing in)
        if "no password supplied" in low or "password authentication failed" in low:
            refused = "password authentication failed" in low
            return DatabasePasswordError(login, self.location, refused=refused, detail=text)
        if (
            "authentication failed" in low
            or "no pg_hba.conf entry" in low
            or ("role" in low and "does not exist" in low)
        ):
            return AuthenticationError(login, text)
        if "certificate" in low or "ssl" in low:
            return StoreError(
                f"The secure connection to the clinic database on {self.host} failed: its "
                "certificate was not accepted with the clinic's CA file. Ask IT.",
                text,
            )
        if "database" in low and "does not exist" in low:
            return StoreError(f"There is no database {self.location} on the server.", text)
        return unreachable(self.host, text)

    def release(self, conn: db.Connection) -> None:
        """Keep an idle, healthy connection for the next thread (up to a few); close others."""
        assert isinstance(conn, ServerConnection)
        healthy = (
            not conn.raw.closed
            and conn._pipeline is None
            and conn.raw.info.transaction_status == TransactionStatus.IDLE
        )
        with self._idle_lock:
            if healthy and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    def translate(self, exc: Exception) -> EngineError | None:
        """psycopg's errors as the messages people see."""
        if isinstance(exc, pg_errors.UniqueViolation):
            return StoreConflictError(
                "Someone else saved a change to the same item first, on this or another "
                "workstation. Reload it and apply your change again.",
                str(exc),
            )
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            return PermissionDeniedError(
                "The clinic database refused this: the workstation's database role may not do "
                "it. Ask IT.",
                str(exc),
            )
        if isinstance(
            exc,
            (
                pg_errors.SerializationFailure,
                pg_errors.DeadlockDetected,
                pg_errors.LockNotAvailable,
            ),
        ):
            return StoreError(
                "The clinic database is busy with another workstation's change. Try again.",
                str(exc),
            )
        if isinstance(exc, pg_errors.RaiseException):
            return StoreError("The clinic database refused the change.", str(exc))
        if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
            return unreachable(self.host, str(exc))
        if isinstance(exc, psycopg.Error):
            return StoreError("The clinic database could not be read or written.", str(exc))
        return None

    def clock_offset(self, conn: db.Connection, clock: Callable[[], datetime]) -> timedelta:
        """How far the server's clock is ahead of this workstation's ``clock`` (measured once)."""
        before = clock()
        server_now = conn.execute("SELECT clock_timestamp()").fetchone()[0]
        after = clock()
        return server_now - (before + (after - before) / 2)

    # --- accounts: the users table is the only check ------------------------------------------
    def has_user(self, username: str) -> bool:
        """No key slots outside the users table."""
        return False

    def use_password(self, password: str | None) -> None:
        """Connect with ``password`` from now on (``None``: libpq's own means)."""
        self._password = password

    def set_password(
        self, conn: db.Connection, username: str, password: str, kdf: KdfParams
    ) -> None:
        """Re-wrap this workstation's saved database password under ``username``'s new one.

        Only when the database asked for a password this session: then the
        user (or the one an administrator just added) can sign in here later.
        """
        if self._password is not None:
            from engine.store import credentials

            credentials.remember(self.location, username, password, self._password, kdf)

    def remove_user(self, conn: db.Connection, username: str) -> None:
        """Drop the database password saved for ``username`` on this workstation.

        The account itself is only the users table's ``active`` flag; other
        workstations drop their copy when their administrator disables it there.
        """
        from engine.store import credentials

        credentials.forget(self.location, username)

    def set_recovery(self, conn: db.Connection, raw: bytes) -> None:
        """Replace the recovery key's hash."""
        conn.execute(
            "UPDATE stethos_meta SET value = ? WHERE key = 'recovery'", (recovery_digest(raw),)
        )

    def check_recovery(self, conn: db.Connection, text: str) -> None:
        """Raise :class:`AuthenticationError` unless ``text`` is the store's recovery key."""
        check_recovery(conn, text)

    def after_migrate(self, conn: db.Connection) -> None:
        """Grant the workstations what the new schema needs."""
        assert isinstance(conn, ServerConnection)
        grant(conn)

    # --- anchor: kept by the server -----------------------------------------------------------
    def anchor(self, conn: db.Connection) -> tuple[Anchor | None, str]:
        """The server-kept anchor row."""
        row = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
        if row is None:
            return None, "the clinic database's audit anchor row is missing"
        if int(row[0]) == 0:
            return None, "the clinic database's audit anchor was never set"
        return Anchor(int(row[0]), str(row[1]), ""), ""

    def advance_anchor(self, conn: db.Connection, seq: int, digest: str) -> str:
        """Nothing to do: the server's trigger advanced it in the same transaction."""
        return ""

    def reanchor(self, conn: db.Connection, seq: int, digest: str) -> None:
        """Set the anchor row (only the schema's owner may: a workstation gets a refusal).

        Under the chain's lock, to the tail when entries were sealed after
        ``seq`` meanwhile: the server's trigger moves the anchor on only from
        the entry before each new one.
        """
        with db.write_transaction(conn):
            conn.execute(f"SELECT pg_advisory_xact_lock({server_audit.AUDIT_LOCK_KEY})")
            tail = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            row = tail.fetchone()
            if row is not None and int(row[0]) > seq:
                seq, digest = int(row[0]), str(row[1])
            conn.execute("UPDATE audit_anchor SET seq = ?, hash = ? WHERE id = 1", (seq, digest))

    def close(self) -> None:
        """Seal what awaits its seal, close the idle connections and forget the password."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        if idle and not idle[0].legacy_audit:
            try:  # the entries of this store's last writes, sealed before it goes
                server_audit.seal(idle[0].raw, wait=True)
            except psycopg.Error:
                pass  # unreachable: the next write anywhere seals them
        for conn in idle:
            conn.close()
        self._password = None


def unreachable(host: str, detail: str) -> StoreUnreachableError:
    """The error for a server that does not answer (or stopped answering)."""
    return StoreUnreachableError(
        f"The clinic database on {host} cannot be reached: the server is down or the network "
        "is cut. Nothing was saved. Stethos connects again by itself; try again in a moment, "
        "and tell IT if it goes on.",
        detail,
    )


def meta(conn: db.Connection, key: str) -> str:
    """A value of ``stethos_meta`` (``""`` when missing)."""
    row = conn.execute("SELECT value FROM stethos_meta WHERE key = ?", (key,)).fetchone()
    return "" if row is None else str(row[0])


def prepare_new(conn: ServerConnection, recovery_raw: bytes, store_id: str = "") -> str:
    """Bootstrap an empty database for a new store; returns its store id (new unless given).

    Raises
    ------
    StoreError
        The database already holds a Stethos store (or other tables of ours).
    """
    if db.has_table(conn, "schema_version") or db.has_table(conn, "stethos_meta"):
        raise StoreError(
            "A Stethos database already exists there. Open it, or give another database."
        )
    bootstrap(conn)
    store_id = store_id or uuid.uuid4().hex
    with db.write_transaction(conn):
        conn.execute(
            "INSERT INTO stethos_meta (key, value) VALUES ('store_id', ?), ('recovery', ?)",
            (store_id, recovery_digest(recovery_raw)),
        )
    return store_id


def check_recovery(conn: db.Connection, text: str) -> None:
    """Raise :class:`AuthenticationError` unless ``text`` is the store's recovery key."""
    raw = crypto.parse_recovery_key(text)
    if raw is None or not recovery_matches(meta(conn, "recovery"), raw):
        raise AuthenticationError(
            "The recovery key was not accepted. Check it against the printed copy; a key "
            "replaced by a newer one no longer works."
        )

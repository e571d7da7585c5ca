"""Copy a workstation's local store into the clinic's shared PostgreSQL database.

``stethos-engine store migrate --from FILE --to postgresql://…`` runs
:func:`copy_to_server`: every user, patient (with its versions), encounter,
record, study link, result and decision keeps its id, and the audit log is
copied entry by entry with its sequence numbers and hashes, so the chain
goes on unbroken on the server and is verified there afterwards.

Running it again is safe: the shared database must be empty or hold an
earlier copy of the *same* store (same store id, its audit log a prefix of
the local one); only what was added since is copied, and rows that may
change (users, patients) are brought up to date.

A database that holds another workstation's store is refused, unless
``merge`` is asked for (``--merge``): then this workstation's rows are
added with new ids, users matched by name and patients by MRN, and its
audit entries appended to the server's chain with their provenance
(:mod:`engine.store.merge`); again, later runs add only what is new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import StoreError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import audit as audit_log
from engine.store import crypto, db, migrations
from engine.store.core import ts
from engine.store.entities import AuditReport
from engine.store.server import ID_TABLES, ServerConnection
from engine.store.store import Store

#: Tables copied before the audit log, parents first; rows keep their ids (the same
#: tables whose identity counters the server moves on after such a copy).
TABLES = ID_TABLES
#: Tables whose rows change after they are written (the others are append-only).
MUTABLE = frozenset({"users", "patients"})
_BATCH = 1000


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_to_server` did.

    Attributes
    ----------
    location
        The shared database (URL without a password).
    rows
        Rows sent per table (already present ones included for mutable tables);
        for a merge, rows added.
    matched
        For a merge: rows found in the database already, per table (users by
        name, patients by MRN and those patients' versions); else empty.
    audit_entries
        Audit entries appended on the server by this run.
    recovery_key
        The shared database's new recovery key when this run created it (to
        print once), else ``""``.
    verified
        The chain check on the server after the copy.
    merged
        Whether this store was merged into another one's database.
    deleted
        For a merge: one line per patient deleted on this workstation that it
        brought, saying what it did with its rows
        (:meth:`engine.store.merge.DeletedPatient.describe`); else empty.
    """

    location: str
    rows: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    recovery_key: str = ""
    verified: AuditReport | None = None
    matched: dict[str, int] = field(default_factory=dict)
    merged: bool = False
    deleted: tuple[str, ...] = ()


def copy_to_server(
    source: Store,
    url: str,
    *,
    server_password: str | None = None,
    merge: bool = False,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> CopyReport:
    """Copy the open local store ``source`` into the shared database at ``url``.

    ``url`` names the role that owns (or will own) the shared schema.
    ``source`` must be signed in as an administrator; the copy itself is
    logged in its audit trail (and so copied too). With ``merge``, a database
    holding another store gets this one merged into it
    (:func:`engine.store.merge.merge_into`); an empty one, or this store's
    own earlier copy, is copied into as without.

    Raises
    ------
    StoreError
        ``source`` is not a local store, the shared database holds another
        store (without ``merge``) or a newer schema, or the copy failed
        (nothing of it is kept: one transaction).
    MergeConflictError
        ``merge``: an MRN of this store names a patient with other
        demographics there; nothing was merged.
    """
    from engine.store import server_audit
    from engine.store.server import ServerBackend, grant, meta, prepare_new

    if source.shared:
        raise StoreError("Copy from a workstation's own database file, not from a server.")
    source._require_admin("copy the database to the clinic's server")
    backend = ServerBackend(url, password=server_password)
    progress(0.0, "Connecting to the clinic database")
    source.audit(
        "exported", object_type="store", object_id=backend.location, details={"to": "server"}
    )
    src = source._conn()
    store_id = source._backend.store_id
    conn = backend.connect()
    try:
        recovery_text = ""
        try:
            merging = False
            if not db.has_table(conn, "stethos_meta"):
                recovery_text, recovery_raw = crypto.new_recovery_key()
                prepare_new(conn, recovery_raw, store_id)
            elif meta(conn, "store_id") != store_id:
                if not merge:
                    raise StoreError(
                        f"The clinic database {backend.location} already holds another "
                        "workstation's store: nothing was copied. To add this workstation's "
                        "patients, records and audit trail to it, run the command again with "
                        "--merge (stethos-engine store migrate --merge; users are matched by "
                        "name, patients by MRN)."
                    )
                merging = True
            migrations.migrate(conn, ts(source._clock()))
            if migrations.schema_version(conn) != migrations.schema_version(src):
                raise StoreError(
                    "The clinic database and this workstation's database have different schema "
                    "versions. Update Stethos on this workstation and try again."
                )
            grant(conn)
            # Entries the clinic wrote there count too: sealed into the chain first.
            server_audit.seal(conn.raw, wait=True)
            matched: dict[str, int] = {}
            deleted: tuple[str, ...] = ()
            if merging:
                from engine.store.merge import merge_into

                counts = merge_into(conn, source, backend.location, progress=progress,
                                    cancel=cancel)  # fmt: skip
                rows, count, matched = counts.new, counts.audit_entries, counts.matched
                deleted = tuple(p.describe() for p in counts.deleted)
            else:
                _check_prefix(conn, src, backend.location)
                rows, count = _copy_rows(conn, src, progress, cancel)
            progress(0.9, "Verifying the audit trail on the server")
            anchor, problem = backend.anchor(conn)
            verified = audit_log.verify(conn, anchor, problem)
        except Exception as exc:
            error = backend.translate(exc) if not isinstance(exc, StoreError) else None
            if error is None:
                raise
            raise error from exc
    finally:
        backend.release(conn)
    progress(1.0, "Merged" if merging else "Copied")
    return CopyReport(
        backend.location, rows, count, recovery_text, verified, matched, merging, deleted
    )


def _copy_rows(
    conn: ServerConnection, src: db.Connection, progress: Progress, cancel: CancelToken | None
) -> tuple[dict[str, int], int]:
    """Copy every table keeping ids, then the audit log: rows per table, audit entries."""
    from engine.store import server_audit
    from engine.store.server import sync_identities

    rows: dict[str, int] = {}
    with db.write_transaction(conn):
        # No workstation seals an entry into the chain while it is being copied.
        conn.execute(f"SELECT pg_advisory_xact_lock({server_audit.AUDIT_LOCK_KEY})")
        for i, table in enumerate(TABLES):
            check_cancelled(cancel)
            progress(0.05 + 0.5 * i / len(TABLES), f"Copying {table}")
            rows[table] = _copy_table(conn, src, table)
        progress(0.6, "Copying the audit trail")
        count = _copy_audit(conn, src, cancel)
        sync_identities(conn)
    return rows, count


def _check_prefix(conn: db.Connection, src: db.Connection, location: str) -> None:
    """Refuse unless the server's audit log is a prefix of the local one (an earlier copy)."""
    tail = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if tail is None:
        return
    mine = src.execute("SELECT hash FROM audit_log WHERE seq = ?", (int(tail[0]),)).fetchone()
    if mine is None or mine[0] != tail[1]:
        raise StoreError(
            f"The audit trail in {location} is not an earlier copy of this workstation's: "
            "other entries were written there. Nothing was copied.",
            f"server entry {tail[0]} = {tail[1]}",
        )


def _copy_table(conn: db.Connection, src: db.Connection, table: str) -> int:
    cursor = src.execute(f"SELECT * FROM {table} ORDER BY id")
    names = [d[0] for d in cursor.description]
    others = [n for n in names if n != "id"]
    if table in MUTABLE:
        on_conflict = "DO UPDATE SET " + ", ".join(f"{n} = EXCLUDED.{n}" for n in others)
    else:
        on_conflict = "DO NOTHING"
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
        f"ON CONFLICT (id) {on_conflict}"
    )
    count = 0
    while batch := cursor.fetchmany(_BATCH):
        conn.executemany(sql, [tuple(row) for row in batch])
        count += len(batch)
    return count


def _copy_audit(conn: db.Connection, src: db.Connection, cancel: CancelToken | None) -> int:
    top = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0]
    cursor = src.execute(audit_log.SELECT + " WHERE seq > ? ORDER BY seq", (int(top),))
    count = 0
    while batch := cursor.fetchmany(_BATCH):
        check_cancelled(cancel)
        conn.executemany(audit_log.INSERT, [tuple(row) for row in batch])
        count += len(batch)
    return count

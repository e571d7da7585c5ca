"""Merge another workstation's local store into the clinic's shared PostgreSQL database.

``stethos-engine store migrate --merge`` runs this when the shared database
already holds another store (a clinic with several reading rooms brings
each one's history in). Unlike the plain copy
(:func:`engine.store.transfer.copy_to_server`) rows get **new ids** and
every reference is remapped:

- **users** are matched by user name, by the rule sign-in uses
  (:func:`engine.store.keyring.user_key`: case-insensitive, accents kept).
  A user the server has is reused as it is there (its password, role and
  active flag are the server's); another is added with its password hash,
  role and flags.
- **patients** are matched by MRN. The same MRN with the same demographics
  (family and given name compared case- and accent-insensitively, birth
  date, sex) is the same patient: the workstation's encounters, records,
  studies and results attach to the server's patient (its own patient
  versions are not copied; that history stays in the audit entries). The
  same MRN with *other* demographics refuses the whole merge, listing each
  such MRN and what differs (:class:`MergeConflictError`): records are never
  attached to what may be another person. Staff reconcile first.
- **deleted patients** (``deleted_at`` set, with a reason in the audit
  trail) are never matched, and a merge never makes one live nor hides live
  records under one. As on one store, deletion hides a patient and keeps
  everything it had (its rows and audit entries); the MRN stays unique.

  - A patient deleted on the workstation is added as a *deleted patient of
    its own* with its encounters, records, studies and results, whatever the
    clinic database holds under its MRN (a live patient keeps only its own
    rows; other demographics are no conflict: a deleted patient cannot be
    corrected). It does not hold the MRN there: the column reads
    ``MRN (deleted on workstation STORE as patient N)``
    (:func:`deleted_mrn`), so a live patient may have or get that MRN; its
    versions keep the MRN as it was.
  - A patient live on the workstation whose MRN (or, merged earlier, whose
    patient) is deleted in the clinic database refuses the merge like other
    demographics do: staff delete it on the workstation too (it is then kept
    apart as above) or correct its MRN there.
  - A patient merged earlier and deleted on the workstation since (its
    audit trail says so): when the clinic database's patient is that
    workstation's own copy (added by its merge, with no encounter or study
    from elsewhere) it is deleted there too (MRN marked as above);
    otherwise that workstation's encounters and study links (with whatever
    records and results are on them) move from it to a deleted patient of
    their own, and the clinic's patient stays live with the rest. One already deleted
    there is left as it is.

  The workstation's ``deleted`` entries are merged like any other, their
  object ids naming the deleted patient that now holds the rows. The report
  (:attr:`MergeCounts.deleted`, printed by the command and kept in the
  ``merged`` entry's details as ``deleted_patients``) lists each deleted
  patient the merge brought and what it did.
- every other row (encounters, records, study links, results, decisions,
  and the versions of a new patient) is added with its references remapped
  (:data:`REFERENCES` names every column that refers to another table).
- the workstation's **audit entries** are appended to the server's chain as
  new entries (new seq, prev_hash and hash, as :func:`audit.entry_hash`
  computes them), keeping their time, user, action and object type, with
  the object id and the ids in their details remapped, and ``merged_from``
  added to their details: the source store, its seq, hash, prev_hash and
  object id (and its details as written, when they changed), so that the
  workstation's original chain stays provable entry by entry. One entry
  ``merged`` then records the merge itself.

It is one server transaction (nothing is kept of a failed or cancelled
merge) under the audit chain's lock, after the waiting entries were sealed.
The source's chain is verified first (a broken one is refused) and the
server's afterwards. What was merged is kept in ``merged_stores`` (how far
the source's audit trail was merged) and ``merged_ids`` (which row each of
its rows became), so running it again merges only what the workstation
added since; a patient the workstation changed since is compared again
with the clinic database's (other demographics refuse the merge the same
way; a correction made only in the clinic database is kept).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.errors import StoreError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import audit as audit_log
from engine.store import db, server_audit
from engine.store.accounts import find_user_id
from engine.store.core import ts
from engine.store.migrations import search_key
from engine.store.server import ID_TABLES, ServerConnection, sync_identities, translate_sql
from engine.store.store import Store

#: Per table (parents first), every column that refers to another table's ``id``.
REFERENCES: dict[str, dict[str, str]] = {
    "users": {"created_by": "users"},
    "patients": {"created_by": "users", "updated_by": "users"},
    "patient_versions": {"patient_id": "patients", "changed_by": "users"},
    "encounters": {"patient_id": "patients", "created_by": "users"},
    "records": {"encounter_id": "encounters", "supersedes": "records", "recorded_by": "users"},
    "study_links": {"patient_id": "patients", "encounter_id": "encounters", "linked_by": "users"},
    "results": {
        "encounter_id": "encounters",
        "record_id": "records",
        "created_by": "users",
        "study_link_id": "study_links",
    },
    "decisions": {"result_id": "results", "decided_by": "users"},
}
assert tuple(REFERENCES) == ID_TABLES
#: Audit object types whose object id is a row of a table whose ids change.
OBJECT_TABLES = {
    "user": "users",
    "patient": "patients",
    "encounter": "encounters",
    "record": "records",
    "study": "study_links",
    "result": "results",
    "decision": "decisions",
}
#: Keys of audit details that hold such an id.
DETAIL_TABLES = {
    "patient_id": "patients",
    "encounter_id": "encounters",
    "record_id": "records",
    "supersedes": "records",
    "study_link_id": "study_links",
    "result_id": "results",
}
#: The demographics that must agree for one MRN to be one patient.
DEMOGRAPHICS = ("family_name", "given_name", "birth_date", "sex")
_LABELS = {
    "mrn": "MRN",
    "family_name": "family name",
    "given_name": "given name",
    "birth_date": "birth date",
    "sex": "sex",
}
_BATCH = 1000
_DELETED_THERE = (
    "deleted in the clinic database, live on this workstation (a merge never brings a deleted "
    "patient back, nor adds records to one): if it should be deleted, delete it on this "
    "workstation too"
)
#: What a merge did with a patient deleted on the workstation (:class:`DeletedPatient`).
DELETED_OUTCOMES = {
    "kept_apart": "deleted on this workstation: added as a deleted patient of its own",
    "deleted_too": "deleted on this workstation since the last merge: its copy in the clinic "
    "database is deleted too",
    "moved_apart": "deleted on this workstation since the last merge: its rows moved to a "
    "deleted patient of their own; the clinic database's patient stays as it is",
    "already_deleted": "deleted on this workstation since the last merge: already deleted in "
    "the clinic database",
}


@dataclass(frozen=True)
class PatientConflict:
    """One MRN that names different people on the workstation and in the clinic database.

    Attributes
    ----------
    mrn
        The workstation's MRN.
    differences
        One phrase per differing field (``"birth date: 1950-03-01 on the
        workstation, 1951-03-01 in the clinic database"``).
    """

    mrn: str
    differences: tuple[str, ...]

    def describe(self) -> str:
        """``MRN X: what differs; …``."""
        return f"MRN {self.mrn}: " + "; ".join(self.differences)


@dataclass(frozen=True)
class DeletedPatient:
    """A patient deleted on the workstation, and what the merge did with its rows.

    Attributes
    ----------
    mrn
        The workstation's MRN.
    outcome
        A key of :data:`DELETED_OUTCOMES`.
    patient_id
        The deleted patient of the clinic database that holds its rows now.
    """

    mrn: str
    outcome: str
    patient_id: int

    def describe(self) -> str:
        """``MRN X: what the merge did (patient N)``."""
        return f"MRN {self.mrn}: {DELETED_OUTCOMES[self.outcome]} (patient {self.patient_id})"


def deleted_mrn(mrn: str, store_id: str, source_id: int) -> str:
    """The MRN column of a patient deleted on workstation ``store_id``, merged.

    A patient deleted on a workstation never holds its MRN in the clinic
    database (the MRN is unique there, and may be another, live patient's):
    the column keeps the MRN, marked. Its versions keep the MRN as it was.
    """
    return f"{mrn} (deleted on workstation {store_id} as patient {source_id})"


class MergeConflictError(StoreError):
    """Patients with the same MRN but other demographics: nothing was merged.

    ``conflicts`` lists them (:class:`PatientConflict`).
    """

    def __init__(self, location: str, conflicts: Sequence[PatientConflict]) -> None:
        self.conflicts = tuple(conflicts)
        lines = "\n".join(f"  {c.describe()}" for c in self.conflicts)
        super().__init__(
            f"Nothing was merged: {len(self.conflicts)} MRN(s) of this workstation belong to a "
            f"patient with other demographics, or a deleted one, in {location}, so its records "
            "could be attached to the wrong person or hidden. Check each one and correct the "
            "wrong side (on this workstation or in the clinic database), then run the merge "
            "again.\n" + lines
        )


@dataclass(frozen=True)
class MergeCounts:
    """What one merge did.

    Attributes
    ----------
    new, matched
        Rows added, and rows found in the clinic database already (users by
        name, patients by MRN, and the versions of such patients), per table.
    audit_entries
        Entries appended to the server's chain (the merge's own included).
    source_seq, source_hash
        The workstation's audit trail merged up to this entry.
    deleted
        The patients deleted on the workstation that this merge brought
        (new, or deleted since the last merge), and what it did with each.
    """

    new: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    source_seq: int = 0
    source_hash: str = ""
    deleted: tuple[DeletedPatient, ...] = ()


def merge_into(
    conn: ServerConnection,
    source: Store,
    location: str,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> MergeCounts:
    """Merge the open local store ``source`` into the shared database on ``conn``.

    ``conn`` is the schema owner's connection to a database at the current
    schema whose pending audit entries were just sealed (as
    :func:`engine.store.transfer.copy_to_server` leaves it); ``source`` is
    signed in as an administrator.

    Raises
    ------
    MergeConflictError
        A workstation MRN names a patient with other demographics there.
    StoreError
        The workstation's audit trail does not verify, or no longer
        continues the one merged earlier; nothing was merged.
    OperationCancelled
        ``cancel`` was set; nothing was merged.
    """
    progress(0.05, "Checking this workstation's audit trail")
    report = source.verify_audit()
    if not report.ok:
        raise StoreError(
            "This workstation's audit trail does not verify, so it cannot be merged into the "
            "clinic database: nothing was merged. Check it (stethos-engine audit verify) and "
            "investigate first.",
            report.problem,
        )
    src = source._conn()
    pipelined, conn.pipelined = conn.pipelined, False  # reads answer as they come
    src.execute("BEGIN")  # one snapshot of the workstation's database
    try:
        with db.write_transaction(conn):
            # No workstation seals an entry into the chain while the merge appends to it.
            conn.execute(f"SELECT pg_advisory_xact_lock({server_audit.AUDIT_LOCK_KEY})")
            merge = _Merge(conn, src, source._backend.store_id, location, cancel)
            merge.check_patients()
            for i, table in enumerate(ID_TABLES):
                check_cancelled(cancel)
                progress(0.1 + 0.5 * i / len(ID_TABLES), f"Merging {table}")
                merge.table(table)
            progress(0.6, "Merging the audit trail")
            merge.audit_entries()
            counts = merge.finish(source.session.user.username)
            sync_identities(conn)
    finally:
        conn.pipelined = pipelined
        if src.in_transaction:
            src.execute("ROLLBACK")
    return counts


class _Merge:
    """The state of one merge: id maps, counts and provenance rows to write."""

    def __init__(
        self,
        conn: ServerConnection,
        src: db.Connection,
        store_id: str,
        location: str,
        cancel: CancelToken | None,
    ) -> None:
        self.conn, self.src, self.store_id = conn, src, store_id
        self.location, self.cancel = location, cancel
        #: Per table: source id -> server id (earlier merges' and this one's).
        self.ids: dict[str, dict[int, int]] = {t: {} for t in ID_TABLES}
        for table, source_id, target_id in conn.execute(
            "SELECT table_name, source_id, target_id FROM merged_ids WHERE store_id = ?",
            (store_id,),
        ):
            self.ids[str(table)][int(source_id)] = int(target_id)
        row = conn.execute(
            "SELECT last_seq, last_hash FROM merged_stores WHERE store_id = ?", (store_id,)
        ).fetchone()
        self.last_seq: int = 0 if row is None else int(row[0])
        self.last_hash: str = audit_log.GENESIS if row is None else str(row[1])
        self.new = dict.fromkeys(ID_TABLES, 0)
        self.matched = dict.fromkeys(ID_TABLES, 0)
        self.provenance: list[tuple[str, str, int, int]] = []
        #: Workstation patients matched by MRN in this merge -> the server's patient id.
        self.same_patient: dict[int, int] = {}
        #: Workstation patients added by this merge (their versions are copied too).
        self.added_patients: set[int] = set()
        #: Workstation patients deleted there, new or deleted since the last merge -> MRN.
        self.deleted: dict[int, str] = {}
        self.deleted_report: dict[int, DeletedPatient] = {}
        self.appended = 0
        self.source_tail: tuple[int, str] = (int(self.last_seq), str(self.last_hash))

    # --- patients first: refuse before anything is written -----------------------------------
    def check_patients(self) -> None:
        """Match the workstation's patients by MRN; raise on other demographics or deletions.

        A patient merged earlier is checked again only when the workstation
        changed it since (its audit trail says so): a correction made in the
        clinic database meanwhile is not a conflict. A patient deleted on the
        workstation is never matched (see the module's docstring); one live
        there whose patient in the clinic database is deleted is a conflict.
        """
        known = self.ids["patients"]
        changed, deleted_since = (
            {
                int(r[0])
                for r in self.src.execute(
                    "SELECT DISTINCT object_id FROM audit_log WHERE seq > ? "
                    "AND object_type = 'patient' AND action = ?",
                    (self.last_seq, action),
                )
                if str(r[0]).isdigit()
            }
            for action in ("changed", "deleted")
        )
        cursor = self.src.execute(
            "SELECT id, mrn, family_name, given_name, birth_date, sex, deleted_at FROM patients "
            "ORDER BY id"
        )
        conflicts: list[PatientConflict] = []
        while batch := cursor.fetchmany(_BATCH):
            check_cancelled(self.cancel)
            live = [r for r in batch if r[-1] is None]
            for r in batch:
                if r[-1] is not None and (int(r[0]) not in known or int(r[0]) in deleted_since):
                    self.deleted[int(r[0])] = str(r[1])
            # Every live patient merged earlier is looked at: still live in the clinic database?
            theirs_by_id = self._server_patients(
                "id", [known[int(r[0])] for r in live if int(r[0]) in known]
            )
            gone = {i for i, p in theirs_by_id.items() if p["deleted_at"] is not None}
            mine = {
                int(r[0]): dict(zip(("mrn", *DEMOGRAPHICS), r[1:-1], strict=True))
                for r in live
                if int(r[0]) not in known or int(r[0]) in changed or known[int(r[0])] in gone
            }
            by_mrn = self._server_patients(
                "mrn", [p["mrn"] for i, p in mine.items() if i not in known]
            )
            for pid, here in mine.items():
                # One merged earlier must still be the same person, its MRN included.
                there = theirs_by_id.get(known[pid]) if pid in known else by_mrn.get(here["mrn"])
                fields = ("mrn", *DEMOGRAPHICS) if pid in known else DEMOGRAPHICS
                if there is None:
                    continue
                if there["deleted_at"] is not None:  # never brought back, nor hidden under it
                    conflicts.append(PatientConflict(str(here["mrn"]), (_DELETED_THERE,)))
                    continue
                differences = tuple(
                    f"{_LABELS[f]}: {_shown(here[f])} on this workstation, "
                    f"{_shown(there[f])} in the clinic database"
                    for f in fields
                    if not _same(f, here[f], there[f])
                )
                if differences:
                    conflicts.append(PatientConflict(str(here["mrn"]), differences))
                elif pid not in known:
                    self.same_patient[pid] = int(there["id"])
        if conflicts:
            raise MergeConflictError(self.location, conflicts)

    def _server_patients(self, key: str, values: list[Any]) -> dict[Any, dict[str, Any]]:
        if not values:
            return {}
        rows = self.conn.raw.execute(
            "SELECT id, mrn, family_name, given_name, birth_date, sex, deleted_at FROM patients "
            f"WHERE {key} = ANY(%s)",
            (values,),
        ).fetchall()
        found = [
            dict(zip(("id", "mrn", *DEMOGRAPHICS, "deleted_at"), r, strict=True)) for r in rows
        ]
        return {p[key]: p for p in found}

    # --- rows ---------------------------------------------------------------------------------
    def table(self, table: str) -> None:
        """Add the workstation's rows of ``table`` not merged yet, remapped (or match them)."""
        refs = REFERENCES[table]
        known = self.ids[table]
        if table == "patients":
            self._deleted_since()
        cursor = self.src.execute(f"SELECT * FROM {table} ORDER BY id")
        names = [d[0] for d in cursor.description]
        columns = [n for n in names if n != "id"]
        sql = translate_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            "RETURNING id",
            True,
        )
        pending: list[tuple[int, tuple[Any, ...]]] = []
        while batch := cursor.fetchmany(_BATCH):
            check_cancelled(self.cancel)
            for values in batch:
                row = dict(zip(names, values, strict=True))
                source_id = int(row["id"])
                if source_id in known:
                    continue
                target = self._existing(table, row)
                if target is not None:
                    if target > 0:
                        known[source_id] = target
                        self.provenance.append((self.store_id, table, source_id, target))
                    self.matched[table] += 1
                    continue
                if (
                    table == "patient_versions"
                    and int(row["patient_id"]) not in self.added_patients
                ):
                    continue  # a patient merged earlier: its later history is in the audit trail
                if any(
                    refs.get(c) == table and row[c] is not None and int(row[c]) not in known
                    for c in refs
                ):
                    self._insert(table, sql, pending)  # a parent in this batch: ids first
                row = self._remapped(table, row, refs)
                pending.append((source_id, tuple(row[c] for c in columns)))
            if len(pending) >= _BATCH:
                self._insert(table, sql, pending)
        self._insert(table, sql, pending)

    def _existing(self, table: str, row: dict[str, Any]) -> int | None:
        """The server's row that is this one (0: covered, nothing to map), else ``None``."""
        if table == "users":  # by the one rule sign-in uses
            return find_user_id(self.conn, row["username"])
        if table == "patients":
            return self.same_patient.get(int(row["id"]))
        if table == "patient_versions" and int(row["patient_id"]) in self.same_patient:
            return 0
        return None

    def _remapped(self, table: str, row: dict[str, Any], refs: dict[str, str]) -> dict[str, Any]:
        out = dict(row)
        for column, parent in refs.items():
            value = row[column]
            if value is None:
                continue
            target = self.ids[parent].get(int(value))
            if target is None:
                if table == "users":  # who created an account is not essential to it
                    out[column] = None
                    continue
                raise StoreError(
                    "This workstation's database refers to a row that is not there; nothing "
                    "was merged. Run stethos-engine store check on it.",
                    f"{table}.{column} = {value} (no {parent} row)",
                )
            out[column] = target
        if table == "patients":
            self.added_patients.add(int(row["id"]))
            if row["deleted_at"] is not None:
                out["mrn"] = deleted_mrn(row["mrn"], self.store_id, int(row["id"]))
            out["search_key"] = search_key(out["mrn"], row["family_name"], row["given_name"])
        return out

    def _insert(self, table: str, sql: str, pending: list[tuple[int, tuple[Any, ...]]]) -> None:
        if not pending:
            return
        cur = self.conn.raw.cursor()
        cur.executemany(sql, [values for _, values in pending], returning=True)  # type: ignore[arg-type]
        targets = [int(row[0]) for _ in cur.results() for row in cur.fetchall()]
        known = self.ids[table]
        for (source_id, _), target in zip(pending, targets, strict=True):
            known[source_id] = target
            self.provenance.append((self.store_id, table, source_id, target))
        self.new[table] += len(pending)
        pending.clear()

    # --- patients deleted on the workstation since the last merge -----------------------------
    def _deleted_since(self) -> None:
        """Keep what a patient merged earlier, deleted on the workstation since, brought apart.

        Its patient in the clinic database is deleted too when it is this
        workstation's own copy (added by its merge, holding nothing from
        elsewhere); otherwise this workstation's encounters and study links
        move from it to a deleted patient of their own. Runs after the users
        were merged, before the rows that refer to patients.
        """
        known = self.ids["patients"]
        for pid in [p for p in self.deleted if p in known]:
            target = known[pid]
            cursor = self.src.execute("SELECT * FROM patients WHERE id = ?", (pid,))
            row = dict(zip([d[0] for d in cursor.description], cursor.fetchone(), strict=True))
            there = self.conn.execute(
                "SELECT deleted_at FROM patients WHERE id = ?", (target,)
            ).fetchone()
            if there is None or there[0] is not None:
                self._deleted(pid, "already_deleted", target)
            elif self._own_copy(target):
                mrn = deleted_mrn(self.deleted[pid], self.store_id, pid)
                self.conn.execute(
                    "UPDATE patients SET deleted_at = ?, mrn = ?, search_key = ? WHERE id = ?",
                    (row["deleted_at"], mrn, search_key(mrn), target),
                )
                self._deleted(pid, "deleted_too", target)
            else:
                self._move_apart(pid, target, row)

    def _own_copy(self, target: int) -> bool:
        """Whether the clinic's patient ``target`` is this workstation's alone."""
        found = self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM patient_versions v JOIN merged_ids m "
            "ON m.target_id = v.id AND m.table_name = 'patient_versions' AND m.store_id = ? "
            "WHERE v.patient_id = ?) "
            + "".join(
                f"AND NOT EXISTS (SELECT 1 FROM {t} r WHERE r.patient_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM merged_ids m WHERE m.store_id = ? "
                f"AND m.table_name = '{t}' AND m.target_id = r.id)) "
                for t in ("encounters", "study_links")
            ),
            (self.store_id, target, *(target, self.store_id) * 2),
        ).fetchone()
        return bool(found[0])

    def _move_apart(self, pid: int, target: int, row: dict[str, Any]) -> None:
        """A deleted patient of its own for ``pid``'s rows, moved there from ``target``."""
        values = self._remapped("patients", row, REFERENCES["patients"])
        columns = [c for c in values if c != "id"]
        apart = int(
            self.conn.execute(
                f"INSERT INTO patients ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))}) RETURNING id",
                tuple(values[c] for c in columns),
            ).fetchone()[0]
        )
        self.new["patients"] += 1
        # This run's rows and audit entries refer to it (merged_ids keeps the first mapping).
        self.ids["patients"][pid] = apart
        for table in ("encounters", "study_links"):
            mine = self.ids[table]
            moved = [
                mine[int(r[0])]
                for r in self.src.execute(f"SELECT id FROM {table} WHERE patient_id = ?", (pid,))
                if int(r[0]) in mine
            ]
            for start in range(0, len(moved), _BATCH):
                self.conn.raw.execute(
                    f"UPDATE {table} SET patient_id = %s WHERE patient_id = %s AND id = ANY(%s)",
                    (apart, target, moved[start : start + _BATCH]),
                )
        self._deleted(pid, "moved_apart", apart)

    def _deleted(self, pid: int, outcome: str, patient_id: int) -> None:
        self.deleted_report[pid] = DeletedPatient(self.deleted[pid], outcome, patient_id)

    # --- the audit trail ----------------------------------------------------------------------
    def audit_entries(self) -> None:
        """Append the workstation's entries not merged yet, remapped, with their provenance."""
        if self.last_seq:
            row = self.src.execute(
                "SELECT hash FROM audit_log WHERE seq = ?", (self.last_seq,)
            ).fetchone()
            if row is None or row[0] != self.last_hash:
                raise StoreError(
                    "This workstation's audit trail no longer continues the one merged into the "
                    f"clinic database earlier (entry {self.last_seq} differs): was its database "
                    "restored from a backup? Nothing was merged.",
                    f"merged {self.last_seq} = {self.last_hash}, here {row}",
                )
        tail = audit_log.request_tail(self.conn).fetchone()
        seq, prev = (0, audit_log.GENESIS) if tail is None else (int(tail[0]), str(tail[1]))
        cursor = self.src.execute(
            audit_log.SELECT + " WHERE seq > ? ORDER BY seq", (self.last_seq,)
        )
        expected, source_prev = int(self.last_seq) + 1, str(self.last_hash)
        while batch := cursor.fetchmany(_BATCH):
            check_cancelled(self.cancel)
            rows = []
            for entry in batch:
                s_seq, at, user, action, otype, oid, text, s_prev, s_hash = entry
                if (
                    s_seq != expected
                    or s_prev != source_prev
                    or audit_log.entry_hash(s_seq, at, user, action, otype, oid, text, s_prev)
                    != s_hash
                ):
                    raise StoreError(
                        "This workstation's audit trail changed while it was being merged, or "
                        "does not verify: nothing was merged. Check it (stethos-engine audit "
                        "verify) and try again.",
                        f"source entry {s_seq}",
                    )
                details = self._details(text)
                origin = {"store": self.store_id, "seq": s_seq, "hash": s_hash,
                          "prev_hash": s_prev, "object_id": oid}  # fmt: skip
                if audit_log.canonical_json(details) != text:
                    origin["details"] = text  # ids in them were remapped: the text as hashed
                details["merged_from"] = origin
                new_oid = self._object_id(otype, oid)
                new_text = audit_log.canonical_json(details)
                seq += 1
                digest = audit_log.entry_hash(seq, at, user, action, otype, new_oid, new_text, prev)
                rows.append((seq, at, user, action, otype, new_oid, new_text, prev, digest))
                prev, expected, source_prev = digest, s_seq + 1, s_hash
            self.conn.executemany(audit_log.INSERT, rows)
            self.appended += len(rows)
        self.source_tail = (expected - 1, source_prev)

    def _object_id(self, object_type: str, object_id: str) -> str:
        table = OBJECT_TABLES.get(object_type)
        if table is None or not object_id.isdigit():
            return object_id  # a store id, a study UID, a model name: the same everywhere
        return str(self.ids[table].get(int(object_id), object_id))

    def _details(self, text: str) -> dict[str, Any]:
        details = json.loads(text)
        for key, table in DETAIL_TABLES.items():
            value = details.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                details[key] = self.ids[table].get(value, value)
        return dict(details)

    # --- provenance and the merge's own entry -------------------------------------------------
    def finish(self, username: str) -> MergeCounts:
        """Record how far this store was merged and which row became which; log the merge."""
        now = ts(self.conn.execute("SELECT clock_timestamp()").fetchone()[0])
        source_seq, source_hash = self.source_tail
        self.conn.execute(
            "INSERT INTO merged_stores (store_id, last_seq, last_hash, merged_at, merged_by) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id) DO UPDATE SET "
            "last_seq = EXCLUDED.last_seq, last_hash = EXCLUDED.last_hash, "
            "merged_at = EXCLUDED.merged_at, merged_by = EXCLUDED.merged_by",
            (self.store_id, source_seq, source_hash, now, username),
        )
        for start in range(0, len(self.provenance), _BATCH):
            self.conn.executemany(
                "INSERT INTO merged_ids (store_id, table_name, source_id, target_id) "
                "VALUES (?, ?, ?, ?)",
                self.provenance[start : start + _BATCH],
            )
        for pid in self.deleted:  # the new ones, added apart by table()
            if pid not in self.deleted_report:
                self._deleted(pid, "kept_apart", self.ids["patients"][pid])
        deleted = sorted(self.deleted_report.values(), key=lambda p: p.mrn)
        details = {
            "store": self.store_id,
            "new": self.new,
            "matched": self.matched,
            "deleted_patients": [
                {"mrn": p.mrn, "outcome": p.outcome, "patient_id": p.patient_id} for p in deleted
            ],
            "audit_entries": self.appended,
            "source_seq": source_seq,
            "source_hash": source_hash,
        }
        audit_log.append(
            self.conn,
            at=now,
            user=username,
            action="merged",
            object_type="store",
            object_id=self.store_id,
            details=details,
        )
        return MergeCounts(
            dict(self.new),
            dict(self.matched),
            self.appended + 1,
            source_seq,
            source_hash,
            tuple(deleted),
        )


def _same(field_name: str, here: Any, there: Any) -> bool:
    if field_name in ("family_name", "given_name"):
        return search_key(here) == search_key(there)
    return (here or None) == (there or None)


def _shown(value: Any) -> str:
    return "(none)" if value in (None, "") else f"“{value}”"

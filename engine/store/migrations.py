"""Database schema as a list of forward migrations.

Each :class:`Migration` moves the schema from ``version - 1`` to
``version`` inside one transaction (SQLite DDL is transactional), so a
failed step leaves the database at the previous version. Steps are never
edited once released: a change is a new step at the end. The table
``schema_version`` records every applied step.

Append-only tables (audit log, patient versions, records, results,
decisions) refuse ``UPDATE`` and ``DELETE`` with triggers, so a bug in the
application cannot overwrite history; the hash-chained audit log detects
tampering done around the application.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from engine.errors import StoreError
from engine.store.db import Connection, has_table, write_transaction


@dataclass(frozen=True)
class Migration:
    """One schema step: SQL statements, then an optional Python data step."""

    version: int
    description: str
    statements: tuple[str, ...]
    python: Callable[[Connection], None] | None = None


def _append_only(table: str) -> tuple[str, str]:
    return (
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    )


_V1 = (
    """CREATE TABLE schema_version (
        version INTEGER PRIMARY KEY,
        description TEXT NOT NULL,
        applied_at TEXT NOT NULL)""",
    """CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        full_name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('admin', 'clinician')),
        password_hash TEXT NOT NULL,
        must_change_password INTEGER NOT NULL DEFAULT 0,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        created_by INTEGER REFERENCES users(id))""",
    """CREATE TABLE patients (
        id INTEGER PRIMARY KEY,
        mrn TEXT NOT NULL UNIQUE,
        family_name TEXT NOT NULL,
        given_name TEXT NOT NULL DEFAULT '',
        birth_date TEXT,
        sex TEXT NOT NULL DEFAULT 'U' CHECK (sex IN ('F', 'M', 'O', 'U')),
        version INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id),
        updated_at TEXT NOT NULL,
        updated_by INTEGER NOT NULL REFERENCES users(id),
        deleted_at TEXT)""",
    """CREATE TABLE patient_versions (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        version INTEGER NOT NULL,
        mrn TEXT NOT NULL,
        family_name TEXT NOT NULL,
        given_name TEXT NOT NULL,
        birth_date TEXT,
        sex TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by INTEGER NOT NULL REFERENCES users(id),
        reason TEXT NOT NULL DEFAULT '',
        UNIQUE (patient_id, version))""",
    """CREATE TABLE encounters (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        started_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id))""",
    "CREATE INDEX encounters_patient ON encounters(patient_id, started_at)",
    """CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        encounter_id INTEGER NOT NULL REFERENCES encounters(id),
        schema_name TEXT NOT NULL,
        schema_version TEXT NOT NULL,
        data TEXT NOT NULL,
        version INTEGER NOT NULL DEFAULT 1,
        supersedes INTEGER UNIQUE REFERENCES records(id),
        recorded_at TEXT NOT NULL,
        recorded_by INTEGER NOT NULL REFERENCES users(id),
        reason TEXT NOT NULL DEFAULT '')""",
    "CREATE INDEX records_encounter ON records(encounter_id)",
    """CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        user TEXT NOT NULL,
        action TEXT NOT NULL,
        object_type TEXT NOT NULL,
        object_id TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    *_append_only("audit_log"),
    *_append_only("patient_versions"),
    *_append_only("records"),
)

_V2 = (
    """CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        encounter_id INTEGER NOT NULL REFERENCES encounters(id),
        record_id INTEGER REFERENCES records(id),
        model_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        model_name TEXT NOT NULL DEFAULT '',
        weights_sha256 TEXT NOT NULL,
        input_hash TEXT NOT NULL,
        label TEXT NOT NULL,
        positive_label TEXT,
        score REAL,
        is_positive INTEGER,
        probabilities TEXT NOT NULL,
        operating_point TEXT NOT NULL DEFAULT '',
        threshold REAL,
        sensitivity REAL,
        specificity REAL,
        explanation_summary TEXT NOT NULL DEFAULT '',
        device TEXT NOT NULL DEFAULT '',
        elapsed_ms REAL,
        result_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by INTEGER NOT NULL REFERENCES users(id))""",
    "CREATE INDEX results_encounter ON results(encounter_id)",
    "CREATE INDEX results_model ON results(model_id, model_version, created_at)",
    """CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        result_id INTEGER NOT NULL REFERENCES results(id),
        decision TEXT NOT NULL CHECK (decision IN ('accepted', 'overridden')),
        comment TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL,
        decided_by INTEGER NOT NULL REFERENCES users(id))""",
    "CREATE INDEX decisions_result ON decisions(result_id)",
    *_append_only("results"),
    *_append_only("decisions"),
)

_V3 = (
    """CREATE TABLE study_links (
        id INTEGER PRIMARY KEY,
        patient_id INTEGER NOT NULL REFERENCES patients(id),
        encounter_id INTEGER REFERENCES encounters(id),
        study_uid TEXT NOT NULL,
        series_uid TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL,
        modality TEXT NOT NULL DEFAULT '',
        study_date TEXT NOT NULL DEFAULT '',
        dicom_patient_id TEXT NOT NULL DEFAULT '',
        dicom_patient_name TEXT NOT NULL DEFAULT '',
        mismatch TEXT NOT NULL DEFAULT '',
        linked_at TEXT NOT NULL,
        linked_by INTEGER NOT NULL REFERENCES users(id))""",
    "CREATE INDEX study_links_patient ON study_links(patient_id)",
    "CREATE INDEX study_links_uid ON study_links(study_uid, series_uid)",
    "ALTER TABLE results ADD COLUMN study_link_id INTEGER REFERENCES study_links(id)",
)


def search_key(*parts: str | None) -> str:
    """Case- and accent-insensitive text that patient search matches against."""
    text = " ".join(p for p in parts if p)
    if text.isascii():  # NFKD leaves ASCII as it is and no ASCII character is combining
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _backfill_search_keys(conn: Connection) -> None:
    rows = conn.execute("SELECT id, mrn, family_name, given_name FROM patients").fetchall()
    conn.executemany(
        "UPDATE patients SET search_key = ? WHERE id = ?",
        [(search_key(mrn, family, given), pid) for pid, mrn, family, given in rows],
    )


_V4 = (
    "ALTER TABLE patients ADD COLUMN search_key TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX patients_search ON patients(search_key)",
)

#: Provenance of ``store migrate --merge`` (:mod:`engine.store.merge`): per workstation
#: store merged into a shared database, how far its audit trail was merged, and which row
#: each of its rows became (the mapping never changes: append-only).
_V5 = (
    """CREATE TABLE merged_stores (
        store_id TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        merged_at TEXT NOT NULL,
        merged_by TEXT NOT NULL)""",
    """CREATE TABLE merged_ids (
        store_id TEXT NOT NULL REFERENCES merged_stores(store_id),
        table_name TEXT NOT NULL,
        source_id INTEGER NOT NULL,
        target_id INTEGER NOT NULL,
        PRIMARY KEY (store_id, table_name, source_id))""",
    *_append_only("merged_ids"),
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "accounts, patients with versions, encounters, records, audit log", _V1),
    Migration(2, "model results and clinician decisions", _V2),
    Migration(3, "links to DICOM studies", _V3),
    Migration(4, "case- and accent-insensitive patient search", _V4, _backfill_search_keys),
    Migration(5, "provenance of workstation stores merged into a shared database", _V5),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def schema_version(conn: Connection) -> int:
    """The schema version of the open database (0 for an empty file)."""
    if not has_table(conn, "schema_version"):
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: Connection, now: str, target: int = CURRENT_VERSION) -> list[int]:
    """Apply every step after the current version up to ``target``.

    Returns the versions applied (empty when already current).

    Raises
    ------
    StoreError
        The database was made by a newer Stethos, or a step failed (the
        database stays at the last completed version).
    """
    current = schema_version(conn)
    if current > CURRENT_VERSION:
        raise StoreError(
            "This database was created by a newer version of Stethos. Update Stethos to open it.",
            f"schema version {current} > supported {CURRENT_VERSION}",
        )
    applied: list[int] = []
    for step in MIGRATIONS:
        if step.version <= current or step.version > target:
            continue
        try:
            with write_transaction(conn):
                for statement in step.statements:
                    conn.execute(statement)
                if step.python is not None:
                    step.python(conn)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (step.version, step.description, now),
                )
        except Exception as exc:
            raise StoreError(
                f"Updating the database to version {step.version} failed; it was left at "
                f"version {current}. Keep the file and contact support.",
                repr(exc),
            ) from exc
        applied.append(step.version)
        current = step.version
    return applied

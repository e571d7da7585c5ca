"""The patient store and audit log: the workstation's encrypted file or the clinic's server.

Patients, encounters, records, model results and clinician decisions in one
SQLCipher database per workstation, or in one PostgreSQL database shared by
the clinic's workstations (``path`` is then a ``postgresql://`` URL; see
:mod:`engine.store.server`), opened by signing in::

    from engine.store import create_store, open_store

    store, recovery_key = create_store(path, "admin", password)  # first run
    store = open_store(path, "dr.lee", password)                  # later runs
    patient = store.add_patient("MRN-001", "Lee", "Ana", "1960-02-01", "F")
    visit = store.add_encounter(patient.id, reason="chest pain")
    record = store.save_record(visit.id, values)                  # validated
    result = store.save_result(visit.id, result_input, record_id=record.id)
    store.record_decision(result.id, "overridden", "ECG shows old infarct")
    store.timeline(patient.id)

``result_input`` is a :class:`ResultInput`: the store does not read model
objects, the workflow layer converts a prediction into one.

Every change is written with its audit entry in one transaction; the audit
log is hash-chained and anchored (:meth:`Store.verify_audit`).
"""

from __future__ import annotations

from engine.store.backup import BackupReport
from engine.store.crypto import KdfParams
from engine.store.entities import (
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
)
from engine.store.location import (
    Location,
    as_location,
    configured_location,
    default_store_path,
    is_database_url,
    set_configured_location,
)
from engine.store.migrations import CURRENT_VERSION
from engine.store.records import register_schema
from engine.store.results import ResultInput
from engine.store.store import (
    Store,
    create_store,
    open_store,
    recover_access,
    store_exists,
)
from engine.store.studies import mismatch_warning

__all__ = [
    "CURRENT_VERSION",
    "AuditEntry",
    "AuditReport",
    "BackupReport",
    "Decision",
    "DriftRow",
    "Encounter",
    "KdfParams",
    "Location",
    "Patient",
    "ResultInput",
    "Session",
    "Store",
    "StoredRecord",
    "StoredResult",
    "StudyLink",
    "TimelineEntry",
    "User",
    "as_location",
    "configured_location",
    "create_store",
    "default_store_path",
    "is_database_url",
    "mismatch_warning",
    "open_store",
    "recover_access",
    "register_schema",
    "set_configured_location",
    "store_exists",
]

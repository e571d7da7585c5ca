"""Records: an encounter's measured values, validated against their schema and versioned.

A correction is a new row that ``supersedes`` the old one; rows are never
overwritten.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from engine.errors import RecordValidationError, StoreConflictError, StoreError
from engine.records.schema import HEART_RECORD, RecordSchema
from engine.store import audit as audit_log
from engine.store import db
from engine.store.core import Audit, dt, guarded, one
from engine.store.entities import StoredRecord
from engine.store.patients import PatientsMixin

_KNOWN_SCHEMAS: dict[str, RecordSchema] = {HEART_RECORD.name: HEART_RECORD}

RECORD_SELECT = (
    "SELECT r.id, r.encounter_id, e.patient_id, r.schema_name, r.schema_version, r.data, "
    "r.version, r.supersedes, r.recorded_at, u.username, r.reason FROM records r "
    "JOIN encounters e ON e.id = r.encounter_id JOIN users u ON u.id = r.recorded_by"
)
#: Restricts :data:`RECORD_SELECT` to the latest version of each record.
LATEST_ONLY = "NOT EXISTS (SELECT 1 FROM records n WHERE n.supersedes = r.id)"


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


class RecordsMixin(PatientsMixin):
    """Records of encounters (part of :class:`Store`)."""

    def _record_row(
        self, encounter_id: int, schema: RecordSchema, data: Mapping[str, Any], version: int
    ) -> dict[str, Any]:
        return {
            "encounter_id": encounter_id,
            "schema_name": schema.name,
            "schema_version": data["schema_version"],
            "data": audit_log.canonical_json(data),
            "version": version,
            **self._stamp("recorded"),
        }

    @guarded
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
            rid = tx.insert(
                "records",
                self._record_row(encounter_id, schema, data, 1),
                Audit(
                    "created",
                    "record",
                    {"encounter_id": encounter_id, "schema": schema.name, "version": 1},
                ),
            )
        return self._record(conn, rid)

    @guarded
    def update_record(
        self,
        record_id: int,
        record: Mapping[str, Any],
        *,
        reason: str = "",
        schema: RecordSchema | None = None,
    ) -> StoredRecord:
        """Save corrected values as a new version of a record (the old one stays).

        Raises
        ------
        StoreConflictError
            ``record_id`` is not the latest version (someone else corrected
            it meanwhile).
        RecordValidationError
            A value is missing, out of range or not a field of the schema.
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
            version = old.version + 1
            changed = sorted(k for k in data["values"] if data["values"][k] != old.values.get(k))
            rid = tx.insert(
                "records",
                {
                    **self._record_row(old.encounter_id, schema, data, version),
                    "supersedes": record_id,
                    "reason": reason.strip(),
                },
                Audit(
                    "changed",
                    "record",
                    {
                        "supersedes": record_id,
                        "version": version,
                        "fields": changed,
                        "reason": reason.strip(),
                    },
                ),
            )
        return self._record(conn, rid)

    def _record(self, conn: db.Connection, record_id: int) -> StoredRecord:
        row = one(conn, RECORD_SELECT + " WHERE r.id = ?", record_id,
                  f"Record {record_id} does not exist.")  # fmt: skip
        return stored_record(row)

    @guarded
    def get_record(self, record_id: int) -> StoredRecord:
        """One record version."""
        return self._record(self._conn(), record_id)

    @guarded
    def record_history(self, record_id: int) -> list[StoredRecord]:
        """Every version of the record that ``record_id`` belongs to, oldest first."""
        conn = self._conn()
        first = self._record(conn, record_id)
        while first.supersedes is not None:
            first = self._record(conn, first.supersedes)
        chain = [first]
        while True:
            row = conn.execute(
                RECORD_SELECT + " WHERE r.supersedes = ?", (chain[-1].id,)
            ).fetchone()
            if row is None:
                return chain
            chain.append(stored_record(row))

    @guarded
    def records(self, encounter_id: int) -> list[StoredRecord]:
        """The latest version of each record of an encounter."""
        rows = self._conn().execute(
            RECORD_SELECT + f" WHERE r.encounter_id = ? AND {LATEST_ONLY} "
            "ORDER BY r.recorded_at, r.id",
            (encounter_id,),
        )
        return [stored_record(r) for r in rows]


def _record_data(record: Mapping[str, Any], schema: RecordSchema) -> dict[str, Any]:
    """The JSON document saved for ``record``: values in plain types, units, schema version."""
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
        elif hasattr(v, "item"):  # a NumPy scalar from a data frame row
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


def stored_record(row: tuple) -> StoredRecord:
    """A :class:`StoredRecord` from a row of :data:`RECORD_SELECT`."""
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
        recorded_at=dt(row[8]),
        recorded_by=row[9],
        reason=row[10],
    )


def record_summary(rec: StoredRecord, previous: StoredRecord | None = None) -> str:
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

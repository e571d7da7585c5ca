"""The patient record: fields, units, valid ranges and validation."""

from __future__ import annotations

from engine.records.schema import (
    HEART_RECORD,
    Choice,
    FieldSpec,
    RecordSchema,
    Unit,
    validate_record,
)

__all__ = ["HEART_RECORD", "Choice", "FieldSpec", "RecordSchema", "Unit", "validate_record"]

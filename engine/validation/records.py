"""Local validation of record models: a table of records with known outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.errors import EngineError, ModelError, RecordValidationError
from engine.progress import check_cancelled
from engine.records.table import (
    CellError,
    Column,
    header_name,
    read_fields,
    read_text_table,
    record_columns,
)
from engine.validation.report import BinaryCases, Evaluation, EvaluationReport, binary_report

#: Names accepted for the outcome column of a record table (``num`` is UCI's 0–4 grade).
OUTCOME_COLUMNS = ("disease", "outcome", "target", "num")


@dataclass(frozen=True)
class OutcomeTable:
    """Records with known outcomes read from a table.

    ``lines`` are 1-based file line numbers; ``skipped`` holds
    ``(line, reason)`` for rows that could not be read.
    """

    records: tuple[dict[str, float | None], ...]
    outcomes: np.ndarray
    lines: tuple[int, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    #: ``(line, note)`` for values reading changed (a UCI 0 read as "not measured").
    notes: tuple[tuple[int, str], ...] = ()


def read_outcome_table(path: str | Path) -> OutcomeTable:
    """Read records and outcomes from a CSV or a UCI heart-disease file.

    A header naming the record fields (any order, ignoring case and the
    parentheses some redistributors add) and an outcome column (one of
    :data:`OUTCOME_COLUMNS`) is read by name; a file without one is read in
    the UCI order (13 fields then ``num``), where a cholesterol or resting
    blood pressure of 0 means "not measured" (:attr:`OutcomeTable.notes`).
    ``num`` is positive when > 0; other outcome columns must hold 0 or 1.
    Separators, decimal commas, units in the header and missing values are
    read as :mod:`engine.records.table` says.

    Raises
    ------
    EngineError
        When the file cannot be read or has no outcome column.
    """
    from engine.records import HEART_RECORD
    from engine.records.uci import zero_as_missing

    p = Path(path)
    names = list(HEART_RECORD.names)
    table = read_text_table(p)
    rows, _value = list(table.rows), table.number
    if not rows:
        raise EngineError(f"“{p.name}” holds no records.")
    header = [header_name(c) for c in rows[0][1]]
    columns = record_columns(table, p, HEART_RECORD)
    if columns is not None:
        outcome = next((c for c in OUTCOME_COLUMNS if c in header), None)
        if outcome is None:
            raise EngineError(
                f"“{p.name}” has no outcome column. Add one named “disease” (0 or 1) or "
                "“num” (0–4, UCI) to evaluate a model on it.",
            )
        out_idx = header.index(outcome)
        uci = False
        body = rows[1:]
    else:
        width = len(rows[0][1])
        if width == len(names):
            raise EngineError(
                f"“{p.name}” has the 13 record columns but no outcome. Add the UCI “num” column "
                "or a header with a “disease” column.",
            )
        if width != len(names) + 1:
            raise EngineError(
                f"“{p.name}” is neither a table with the record's columns and an outcome nor a "
                f"UCI heart-disease file (14 columns); its first line has {width} columns.",
            )
        columns = {f.name: Column(i, spec=f) for i, f in enumerate(HEART_RECORD.fields)}
        out_idx, outcome = len(names), "num"
        uci = True
        body = rows
        try:
            [_value(c) for c in rows[0][1]]
        except ValueError:
            body = rows[1:]  # a header line some redistributors add
    records: list[dict[str, float | None]] = []
    outcomes: list[int] = []
    kept: list[int] = []
    skipped: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    for line, r in body:
        try:
            record = read_fields(table, r, columns)
        except CellError as exc:
            skipped.append((line, str(exc)))
            continue
        try:
            target = _value(r[out_idx]) if out_idx < len(r) else None
        except ValueError:
            skipped.append((line, f"outcome “{r[out_idx].strip()}” is not a number"))
            continue
        if target is None:
            skipped.append((line, f"has no outcome ({outcome})"))
            continue
        if outcome == "num":
            y = int(target > 0)
        elif target in (0.0, 1.0):
            y = int(target)
        else:
            skipped.append((line, f"outcome “{outcome}” must be 0 or 1, not {target:g}"))
            continue
        if uci:
            notes += [(line, note) for note in zero_as_missing(record)]
        records.append(record)
        outcomes.append(y)
        kept.append(line)
    return OutcomeTable(
        tuple(records),
        np.asarray(outcomes, dtype=np.int64),
        tuple(kept),
        tuple(skipped),
        tuple(notes),
    )


def _table_files(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and f.suffix.lower() in (".csv", ".tsv", ".data")
            )
        else:
            files.append(p)
    return files


def evaluate_records(job: Evaluation) -> EvaluationReport:
    """A record model's metrics on tables of records with known outcomes."""
    model, cancel = job.model, job.cancel
    bundle = job.bundle
    files = _table_files(job.paths)
    if not files:
        raise ModelError(f"No record tables (.csv, .tsv, .data) were found in {job.paths[0]}.")
    cases = BinaryCases(bundle.positive_label)
    skipped = cases.skipped
    neg = next(lbl for lbl in bundle.labels if lbl != bundle.positive_label)
    zeros = 0
    missing_counts: dict[str, int] = {}
    for k, f in enumerate(files):
        check_cancelled(cancel)
        job.progress(k / len(files), f"Scoring {f.name}")
        if not f.is_file():
            skipped.append((str(f), "does not exist"))
            continue
        try:
            table = read_outcome_table(f)
        except EngineError as exc:
            skipped.append((str(f), exc.user_message))
            continue
        skipped += [(f"{f} line {line}", reason) for line, reason in table.skipped]
        zeros += len(table.notes)
        prepared, outcomes = [], []
        for record, outcome, line in zip(table.records, table.outcomes, table.lines, strict=True):
            try:
                prepared.append(model.prepare(record, name=f"{f.name} line {line}"))
                outcomes.append(int(outcome))
            except RecordValidationError as exc:
                skipped.append((f"{f} line {line}", "; ".join(exc.problems.values())))
        for start in range(0, len(prepared), 256):
            check_cancelled(cancel)
            chunk = prepared[start : start + 256]
            preds = model.run(
                chunk, explain=False, operating_point=job.operating_point, cancel=cancel
            )
            for pred, outcome in zip(preds, outcomes[start : start + 256], strict=True):
                cases.add(bundle.positive_label if outcome else neg, pred.score, pred.label)
                for name in pred.extra.get("inputs", {}).get("missing", ()):
                    missing_counts[name] = missing_counts.get(name, 0) + 1
    report = binary_report(job, cases, "records")
    missing = {
        "not_recorded": dict(sorted(missing_counts.items(), key=lambda kv: -kv[1])),
        "uci_zero_read_as_not_measured": zeros,
    }
    return replace(report, details={**report.details, "missing_inputs": missing})

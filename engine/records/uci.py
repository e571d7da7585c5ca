"""Read the UCI heart-disease files as they come (``processed.*.data``).

The UCI files mark a missing value with ``?``. Two fields also use 0 for
"not measured": a serum cholesterol of 0 and a resting blood pressure of 0
(the ``.names`` file lists 0 among their missing codes, and one of the
contributing hospitals wrote 0 for every cholesterol). Neither is a possible
measurement, so both are read as missing and each such value is reported
(:attr:`UciTable.notes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.records.schema import HEART_RECORD

UCI_COLUMNS = (*HEART_RECORD.names, "num")

#: Fields whose value 0 means "not measured" in the UCI files.
ZERO_MEANS_MISSING = ("trestbps", "chol")


@dataclass(frozen=True)
class UciTable:
    """A UCI heart-disease table as read.

    ``X`` is float64 ``(n, 13)`` in :data:`HEART_RECORD` order with ``nan``
    for missing values; ``y`` is 1 where ``num > 0``; ``lines`` are the
    1-based file line of each row; ``notes`` holds, per row, the sentences
    saying which 0 values were read as "not measured".
    """

    X: np.ndarray
    y: np.ndarray
    lines: tuple[int, ...]
    notes: tuple[tuple[str, ...], ...]


def zero_as_missing(record: dict[str, float | None]) -> tuple[str, ...]:
    """Turn the UCI "0 = not measured" values of ``record`` into ``None``, in place.

    Returns one sentence per value changed.
    """
    notes = []
    for name in ZERO_MEANS_MISSING:
        if record.get(name) == 0:
            record[name] = None
            label = HEART_RECORD.field(name).label
            notes.append(f"{label} of 0 in the UCI file was read as not measured.")
    return tuple(notes)


def read_uci_table(path: str | Path) -> UciTable:
    """Read a UCI heart-disease table (a header line added by some redistributors is skipped)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EngineError(f"“{p.name}” cannot be read.", str(exc)) from exc
    rows: list[list[float]] = []
    lines: list[int] = []
    notes: list[tuple[str, ...]] = []
    names = HEART_RECORD.names
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [s.strip() for s in line.split(",")]
        if len(parts) != len(UCI_COLUMNS):
            raise EngineError(
                f"“{p.name}” line {lineno} has {len(parts)} columns; the UCI heart-disease "
                f"format has {len(UCI_COLUMNS)}.",
            )
        try:
            values = [math.nan if s in ("?", "") else float(s) for s in parts]
        except ValueError:
            if not rows and lineno == 1:
                continue  # header line
            raise EngineError(
                f"“{p.name}” line {lineno} holds a value that is not a number.", line
            ) from None
        record: dict[str, float | None] = dict(zip(names, values[:-1], strict=True))
        notes.append(zero_as_missing(record))
        rows.append([math.nan if v is None else v for v in record.values()] + [values[-1]])
        lines.append(lineno)
    if not rows:
        raise EngineError(f"“{p.name}” holds no records.")
    data = np.asarray(rows, dtype=np.float64)
    return UciTable(data[:, :-1], (data[:, -1] > 0).astype(np.int64), tuple(lines), tuple(notes))


def read_uci_heart(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCI heart-disease table as ``(X, y)`` (see :func:`read_uci_table`)."""
    table = read_uci_table(path)
    return table.X, table.y

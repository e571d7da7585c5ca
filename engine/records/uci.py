"""Read the UCI heart-disease files as they come (``processed.*.data``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from engine.errors import EngineError
from engine.records.schema import HEART_RECORD

UCI_COLUMNS = (*HEART_RECORD.names, "num")


def read_uci_heart(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCI heart-disease table.

    Returns ``(X, y)``: ``X`` is float64 ``(n, 13)`` in :data:`HEART_RECORD`
    order with ``nan`` for ``?``; ``y`` is 1 where ``num > 0``. A header line
    (added by some redistributors) is skipped.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise EngineError(f"“{p.name}” cannot be read.", str(exc)) from exc
    rows: list[list[float]] = []
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
            rows.append([math.nan if s in ("?", "") else float(s) for s in parts])
        except ValueError:
            if not rows and lineno == 1:
                continue  # header line
            raise EngineError(
                f"“{p.name}” line {lineno} holds a value that is not a number.", line
            ) from None
    if not rows:
        raise EngineError(f"“{p.name}” holds no records.")
    data = np.asarray(rows, dtype=np.float64)
    return data[:, :-1], (data[:, -1] > 0).astype(np.int64)

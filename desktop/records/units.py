"""A record value in the unit this workstation's record form takes it in.

A clinic whose laboratory reports cholesterol in mmol/L chooses that unit
in the record form (:mod:`desktop.records.form`); the record keeps the
model's mg/dL. Where a value is shown back (the result's contributions, the
encounter report) it is given in the chosen unit first, with the stored
value after it: ``6.03 mmol/L (233 mg/dL)``.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication

from desktop.settings import record_unit
from engine.records import FieldSpec


def _unit_text(unit: str) -> str:
    return QCoreApplication.translate("RecordForm", unit) if unit else ""


def value_in_chosen_unit(
    spec: FieldSpec | None, value: float, unit: str, *, with_stored: bool = True
) -> str:
    """``value`` (in ``unit``) as text, in the form's chosen unit where that differs.

    ``with_stored=False`` leaves out the stored value (a narrow chart column).
    """
    stored = f"{float(value):g} {_unit_text(unit)}".strip()
    if spec is None or not spec.units or unit != spec.unit:
        return stored
    chosen = record_unit(spec.name, spec.unit_symbols)
    factor = spec.unit_factor(chosen)
    if chosen == spec.unit or not factor:
        return stored
    shown = f"{float(value) / factor:.3g} {_unit_text(chosen)}"
    return f"{shown} ({stored})" if with_stored else shown

"""The patient record form, built from the engine's record schema.

Every field shows its unit and valid range; a wrong value gets an inline
message and the form reports itself invalid, so Analyze stays disabled. A
field a laboratory may report in another unit (cholesterol in mmol/L, blood
pressure in kPa, ST depression in mV) has a unit box: the number is read in
the unit chosen, the range and messages follow it, the record holds the
model's unit, and the choice is remembered for the next record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

import desktop.records.strings  # noqa: F401  (the schema's words, for lupdate)
from desktop.settings import record_unit, save_record_unit
from engine.records import FieldSpec, RecordSchema

_ERROR_STYLE = "color: #c62828;"


class RecordForm(QWidget):
    """Edits one record of ``schema``; emits ``validity_changed(bool)``."""

    validity_changed = Signal(bool)
    record_changed = Signal()

    def __init__(self, schema: RecordSchema, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.schema = schema
        self._inputs: dict[str, QLineEdit | QComboBox] = {}
        self._messages: dict[str, QLabel] = {}
        self._units: dict[str, QComboBox] = {}
        self._valid = False
        self._edited = False  # typed into since filled or saved
        self._filling = False
        self._saved: dict[str, Any] | None = None  # the record saved last from this form
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        # In a narrow panel a field goes under its label instead of being cut off at the edge.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for spec in schema.fields:
            editor = self._make_editor(spec)
            message = QLabel("")
            message.setObjectName(f"message_{spec.name}")
            message.setStyleSheet(_ERROR_STYLE)
            message.setWordWrap(True)
            message.hide()
            self._inputs[spec.name] = editor
            self._messages[spec.name] = message
            column = QVBoxLayout()
            column.setSpacing(1)
            row = QHBoxLayout()
            row.addWidget(editor, 1)
            if spec.units:
                row.addWidget(self._make_unit_box(spec))
            elif spec.unit and spec.kind != "choice":
                unit = QLabel(self.tr(spec.unit))
                unit.setMinimumWidth(48)
                row.addWidget(unit)
            column.addLayout(row)
            column.addWidget(message)
            # Required fields are marked with an asterisk (explained under the form); short
            # labels keep every field on the panel's width.
            label = QLabel(self.tr(spec.label) + ("" if spec.optional else " *"))
            label.setToolTip(self.tr(spec.help or spec.label))
            label.setBuddy(editor)
            form.addRow(label, column)
        required = [self.tr(f.label) for f in schema.fields if not f.optional]
        if len(required) < len(schema.fields):
            hint = QLabel(
                self.tr(
                    "* Required: {0}. Leave anything not recorded blank: the result says which "
                    "inputs it was based on."
                ).format(", ".join(required))
            )
            hint.setObjectName("record_form_hint")
            hint.setWordWrap(True)
            hint.setStyleSheet("font-style: italic;")
            form.addRow(hint)
        self.setLayout(form)
        for spec in schema.fields:
            self._show_range(spec)
        self._revalidate()

    def _make_editor(self, spec: FieldSpec) -> QLineEdit | QComboBox:
        if spec.kind == "choice":
            box = QComboBox()
            box.setObjectName(f"field_{spec.name}")
            box.addItem(self.tr("Not recorded") if spec.optional else self.tr("— choose —"), None)
            for choice in spec.choices:
                box.addItem(self.tr(choice.label), float(choice.code))
            box.currentIndexChanged.connect(self._on_editor_changed)
            return box
        edit = QLineEdit()
        edit.setObjectName(f"field_{spec.name}")
        edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        edit.textChanged.connect(self._on_editor_changed)
        return edit

    def _make_unit_box(self, spec: FieldSpec) -> QComboBox:
        box = QComboBox()
        box.setObjectName(f"unit_{spec.name}")
        for symbol in spec.unit_symbols:
            box.addItem(self.tr(symbol), symbol)
        box.setCurrentIndex(box.findData(record_unit(spec.name, spec.unit_symbols)))
        box.setToolTip(self.tr("The unit the value is given in"))
        box.currentIndexChanged.connect(lambda _=0, name=spec.name: self._on_unit_changed(name))
        self._units[spec.name] = box
        return box

    def _show_range(self, spec: FieldSpec) -> None:
        """The placeholder and tooltip of a number field: its range in the unit chosen."""
        edit = self._inputs[spec.name]
        if isinstance(edit, QComboBox):
            return
        unit = self.unit(spec.name)
        lo_value, hi_value = spec.bounds_in(unit) if unit else (spec.minimum, spec.maximum)
        lo = "" if lo_value is None else f"{lo_value:g}"
        hi = "" if hi_value is None else f"{hi_value:g}"
        edit.setPlaceholderText(
            f"{lo}–{hi}" + (self.tr(" (blank if unknown)") if spec.optional else "")
        )
        edit.setToolTip(
            self.tr("{0}: {1} to {2} {3}").format(self.tr(spec.label), lo, hi, self.tr(unit))
        )

    def unit(self, name: str) -> str:
        """The unit field ``name`` is typed in (the schema's unit where it has no unit box)."""
        box = self._units.get(name)
        return box.currentData() if box is not None else self.schema.field(name).unit

    def set_unit(self, name: str, symbol: str) -> None:
        """Choose the unit field ``name`` is typed in (as the user would in its unit box)."""
        box = self._units[name]
        index = box.findData(symbol)
        if index < 0:
            raise KeyError(symbol)
        box.setCurrentIndex(index)

    def _factor(self, spec: FieldSpec) -> float:
        unit = self.unit(spec.name)
        return (spec.unit_factor(unit) or 1.0) if unit else 1.0

    def _on_unit_changed(self, name: str) -> None:
        """The number typed stays and is read in the new unit: the unit box says what it is."""
        save_record_unit(name, self.unit(name))
        self._show_range(self.schema.field(name))
        editor = self._inputs[name]
        if isinstance(editor, QLineEdit) and editor.text().strip():
            self._on_editor_changed()

    # --- values --------------------------------------------------------------
    def raw_values(self) -> dict[str, object]:
        """Values as entered: floats, ``None`` for blank, or the text if not a number."""
        out: dict[str, object] = {}
        for spec in self.schema.fields:
            editor = self._inputs[spec.name]
            if isinstance(editor, QComboBox):
                out[spec.name] = editor.currentData()
            else:
                text = editor.text().strip().replace(",", ".")
                if not text:
                    out[spec.name] = None
                else:
                    try:
                        number = float(text)
                    except ValueError:
                        out[spec.name] = text
                    else:
                        factor = self._factor(spec)
                        # Six significant digits: 6.02534 mmol/L is 233 mg/dL again, not 232.9999.
                        out[spec.name] = number if factor == 1 else float(f"{number * factor:.6g}")
        return out

    def record(self) -> dict[str, float | None]:
        """The valid record (call only when :attr:`is_valid`)."""
        return {k: (None if v is None else float(v)) for k, v in self.raw_values().items()}  # type: ignore[arg-type]

    def set_record(self, record: dict[str, float | None]) -> None:
        """Fill the form (a record kept elsewhere: nothing to save); unknown keys are ignored."""
        self._filling = True
        try:
            for spec in self.schema.fields:
                if spec.name not in record:
                    continue
                value = record[spec.name]
                editor = self._inputs[spec.name]
                if isinstance(editor, QComboBox):
                    index = editor.findData(None if value is None else float(value))
                    editor.setCurrentIndex(max(index, 0))
                else:
                    shown = None if value is None else float(value) / self._factor(spec)
                    editor.setText("" if shown is None else f"{shown:.6g}")
        finally:
            self._filling = False
        self._edited, self._saved = False, None
        self._revalidate()

    @property
    def edited(self) -> bool:
        """Whether values were typed in since the form was filled, and differ from those saved."""
        if not self._edited:
            return False
        return not (self._saved is not None and self._valid and self.record() == self._saved)

    def mark_saved(self, record: Mapping[str, Any]) -> None:
        """``record`` was saved: the form has nothing unsaved while it holds it."""
        if self._valid and self.record() == dict(record):
            self._edited, self._saved = False, dict(record)

    def editor(self, name: str) -> QLineEdit | QComboBox:
        return self._inputs[name]

    def message(self, name: str) -> str:
        """The inline message shown for a field (empty when none)."""
        label = self._messages[name]
        return label.text() if not label.isHidden() else ""

    @property
    def is_valid(self) -> bool:
        return self._valid

    # --- validation ----------------------------------------------------------
    def _translated_problem(self, spec: FieldSpec, problem: str) -> str:
        """The engine's English message about ``spec`` in the interface language."""
        label = self.tr(spec.label)
        symbol = self.unit(spec.name)
        unit = f" {self.tr(symbol)}" if symbol else ""
        lowest, highest = spec.bounds_in(symbol) if symbol else (spec.minimum, spec.maximum)
        if not problem.startswith(spec.label + " "):
            return self.tr(problem)
        rest = problem[len(spec.label) + 1 :]
        fixed = {
            "is required.": self.tr("{0} is required."),
            "must be a number.": self.tr("{0} must be a number."),
            "must be a finite number.": self.tr("{0} must be a finite number."),
            "must be a whole number.": self.tr("{0} must be a whole number."),
        }
        if rest in fixed:
            return fixed[rest].format(label)
        if rest.startswith("must be one of:"):
            allowed = ", ".join(self.tr(c.label) for c in spec.choices)
            return self.tr("{0} must be one of: {1}.").format(label, allowed)
        for prefix, bound, template in (
            ("must be at least", lowest, self.tr("{0} must be at least {1}.")),
            ("must be at most", highest, self.tr("{0} must be at most {1}.")),
        ):
            if rest.startswith(prefix) and bound is not None:
                return template.format(label, f"{bound:g}{unit}")
        return self.tr(problem)

    def _on_editor_changed(self, *_: object) -> None:
        if not self._filling:
            self._edited = True
        self._revalidate()
        self.record_changed.emit()

    def _revalidate(self) -> None:
        values = self.raw_values()
        problems = self.schema.problems(values)
        for spec in self.schema.fields:
            label = self._messages[spec.name]
            problem = problems.get(spec.name)
            untouched = values[spec.name] is None
            # Required-but-empty fields are not shouted about until filled in
            # elsewhere; they still keep the form invalid.
            if problem and not untouched:
                label.setText(self._translated_problem(spec, problem))
                label.show()
            else:
                label.hide()
                label.setText("")
        valid = not problems
        if valid != self._valid:
            self._valid = valid
            self.validity_changed.emit(valid)

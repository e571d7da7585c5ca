"""Record fields with clinical names, units and valid ranges.

The heart-disease record follows the 13 Cleveland attributes documented in
``heart-disease.names`` (UCI). Age, sex and chest-pain type are required;
every other field may be "not recorded" (many patients never have the
exercise test, fluoroscopy or a thallium scan), and the models handle the
missing ones themselves. Codes are kept as the data set defines them so
that a record and a training row are the same thing; the form shows names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from engine.errors import RecordValidationError


@dataclass(frozen=True)
class Choice:
    """One allowed coded value with its clinical label."""

    code: float
    label: str


@dataclass(frozen=True)
class Unit:
    """Another unit a field's value may be given in: ``value × factor`` is in the field's unit."""

    symbol: str
    factor: float


def _unit_key(symbol: str) -> str:
    return "".join(symbol.split()).lower()


@dataclass(frozen=True)
class FieldSpec:
    """A record field.

    ``kind`` is ``"number"``, ``"integer"`` or ``"choice"``. ``minimum`` and
    ``maximum`` bound plausible values (inclusive) in ``unit``, the unit the
    model reads; ``units`` are the other units a clinic may measure it in
    (a form or a table converts them to ``unit``); ``optional`` fields may be
    missing and are imputed by the model pipeline.
    """

    name: str
    label: str
    kind: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    optional: bool = False
    help: str = ""
    units: tuple[Unit, ...] = ()

    @property
    def unit_symbols(self) -> tuple[str, ...]:
        """The field's unit first, then the others it may be given in."""
        return (self.unit, *(u.symbol for u in self.units)) if self.unit else ()

    def unit_factor(self, symbol: str) -> float | None:
        """What a value in ``symbol`` is multiplied by to be in :attr:`unit`.

        Spacing and case are ignored (``mmol/l``); ``None`` for a unit this
        field is not measured in.
        """
        key = _unit_key(symbol)
        if self.unit and key == _unit_key(self.unit):
            return 1.0
        return next((u.factor for u in self.units if _unit_key(u.symbol) == key), None)

    def bounds_in(self, symbol: str) -> tuple[float | None, float | None]:
        """:attr:`minimum` and :attr:`maximum` expressed in ``symbol`` (one of :attr:`unit_symbols`)."""
        factor = self.unit_factor(symbol)
        if factor is None:
            raise KeyError(symbol)
        lo = None if self.minimum is None else _round_bound(self.minimum / factor, up=True)
        hi = None if self.maximum is None else _round_bound(self.maximum / factor, up=False)
        return lo, hi

    def validate(self, value: object) -> str | None:
        """Return a message if ``value`` is not acceptable, else ``None``."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None if self.optional else f"{self.label} is required."
        if isinstance(value, bool):
            value = float(value)
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return f"{self.label} must be a number."
        if not math.isfinite(number):
            return f"{self.label} must be a finite number."
        if self.kind == "choice":
            if all(number != c.code for c in self.choices):
                allowed = ", ".join(c.label for c in self.choices)
                return f"{self.label} must be one of: {allowed}."
            return None
        if self.kind == "integer" and number != int(number):
            return f"{self.label} must be a whole number."
        unit = f" {self.unit}" if self.unit else ""
        if self.minimum is not None and number < self.minimum:
            return f"{self.label} must be at least {_fmt(self.minimum)}{unit}."
        if self.maximum is not None and number > self.maximum:
            return f"{self.label} must be at most {_fmt(self.maximum)}{unit}."
        return None

    def describe(self, value: float | None) -> str:
        """The value as a clinician reads it (label for choices, with unit)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "not recorded"
        if self.kind == "choice":
            for c in self.choices:
                if c.code == value:
                    return c.label
        unit = f" {self.unit}" if self.unit else ""
        return f"{_fmt(float(value))}{unit}"


def _round_bound(x: float, *, up: bool) -> float:
    """A converted range bound to 3 significant digits, rounded inwards.

    70 mg/dL is 1.8102 mmol/L, shown as 1.82: a value typed at the bound shown
    is then inside the range once converted back.
    """
    if x == 0:
        return 0.0
    step = 10.0 ** (math.floor(math.log10(abs(x))) - 2)
    n = x / step
    n = math.ceil(n - 1e-9) if up else math.floor(n + 1e-9)
    return float(f"{n * step:.3g}")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class RecordSchema:
    """An ordered set of fields; the order is the model's input order."""

    name: str
    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in input order."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldSpec:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def problems(self, record: Mapping[str, object]) -> dict[str, str]:
        """Messages for every invalid or missing field (empty when valid)."""
        out: dict[str, str] = {}
        for f in self.fields:
            message = f.validate(record.get(f.name))
            if message:
                out[f.name] = message
        return out

    def to_row(self, record: Mapping[str, object]) -> list[float]:
        """Values in input order, ``nan`` for missing optional fields."""
        row = []
        for f in self.fields:
            v = record.get(f.name)
            row.append(math.nan if v is None else float(v))  # type: ignore[arg-type]
        return row


def validate_record(schema: RecordSchema, record: Mapping[str, object]) -> None:
    """Raise :class:`~engine.errors.RecordValidationError` if ``record`` is invalid."""
    problems = schema.problems(record)
    if problems:
        raise RecordValidationError(problems)


_YES_NO = (Choice(0, "No"), Choice(1, "Yes"))

HEART_RECORD = RecordSchema(
    name="heart-cleveland-13",
    fields=(
        FieldSpec("age", "Age", "integer", "years", 18, 110),
        FieldSpec("sex", "Sex", "choice", choices=(Choice(0, "Female"), Choice(1, "Male"))),
        FieldSpec(
            "cp",
            "Chest pain type",
            "choice",
            choices=(
                Choice(1, "Typical angina"),
                Choice(2, "Atypical angina"),
                Choice(3, "Non-anginal pain"),
                Choice(4, "Asymptomatic"),
            ),
        ),
        FieldSpec(
            "trestbps",
            "Resting blood pressure (systolic)",
            "number",
            "mmHg",
            60,
            260,
            optional=True,
            units=(Unit("kPa", 7.50062),),
        ),
        FieldSpec(
            "chol",
            "Serum cholesterol",
            "number",
            "mg/dL",
            70,
            700,
            optional=True,
            # Total cholesterol, molar mass 386.65 g/mol: 1 mmol/L = 38.67 mg/dL.
            units=(Unit("mmol/L", 38.67),),
        ),
        FieldSpec(
            "fbs", "Fasting blood sugar > 120 mg/dL", "choice", choices=_YES_NO, optional=True
        ),
        FieldSpec(
            "restecg",
            "Resting ECG",
            "choice",
            choices=(
                Choice(0, "Normal"),
                Choice(1, "ST-T wave abnormality"),
                Choice(2, "Probable/definite LV hypertrophy (Estes)"),
            ),
            optional=True,
        ),
        FieldSpec(
            "thalach", "Maximum heart rate on exercise", "integer", "bpm", 50, 240, optional=True
        ),
        FieldSpec("exang", "Exercise-induced angina", "choice", choices=_YES_NO, optional=True),
        FieldSpec(
            "oldpeak",
            "ST depression on exercise vs rest",
            "number",
            "mm",
            0,
            10,
            optional=True,
            units=(Unit("mV", 10.0),),  # at the standard 10 mm/mV
        ),
        FieldSpec(
            "slope",
            "Slope of peak exercise ST segment",
            "choice",
            choices=(Choice(1, "Upsloping"), Choice(2, "Flat"), Choice(3, "Downsloping")),
            optional=True,
        ),
        FieldSpec(
            "ca",
            "Major vessels coloured by fluoroscopy",
            "integer",
            "vessels",
            0,
            3,
            optional=True,
        ),
        FieldSpec(
            "thal",
            "Thallium stress test",
            "choice",
            choices=(
                Choice(3, "Normal"),
                Choice(6, "Fixed defect"),
                Choice(7, "Reversible defect"),
            ),
            optional=True,
        ),
    ),
)

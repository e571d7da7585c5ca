"""Tables of records as spreadsheets write them (CSV, TSV).

One reader for every command that reads records from a table (``predict``
and ``evaluate``), so that both accept the same files:

- **Separator:** a tab (or a ``.tsv`` file), a semicolon or a comma, chosen
  from the first line that is not empty. Spreadsheets set to a language that
  writes decimal commas (German, French, Spanish, Italian …) export CSV with
  ``;``. An Excel ``sep=;`` first line is honoured and skipped.
- **Numbers:** a decimal point; where the separator is not a comma, a
  decimal comma too (``1,5`` is 1.5). A value with both, or with more than
  one comma, is not a number (a thousands separator would be read wrongly
  either way, so it is refused).
- **Choices:** a coded field takes its code (``1``) or its name, in any case
  (``Male``, ``typical angina``; ``M``/``F`` and ``Y``/``N`` for the fields
  of two choices).
- **Missing values:** an empty cell, ``?`` (UCI), ``NA``, ``N/A``, ``NaN``,
  ``None``, ``null`` (any case).
- **Header names:** case-insensitive; parentheses around a name are
  ignored (``(age)``, as UCI's redistributors write it). A unit in
  parentheses after the name is honoured: ``chol (mmol/L)`` is converted to
  the mg/dL the model reads, and a unit the field is not measured in
  (``oldpeak (cm)``) refuses the file rather than be read as another.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError
from engine.records.schema import FieldSpec, RecordSchema

#: The rules above in one sentence, for command help.
TABLE_FORMATS = (
    "Tables may be separated by commas, semicolons or tabs; where the separator is not a "
    "comma, decimal commas are read too (1,5 = 1.5). Coded fields take their code or name "
    "(1, Male or M)."
)

#: Cell texts read as "not recorded".
MISSING_TEXTS = frozenset({"", "?", "na", "n/a", "nan", "none", "null"})

#: How .xlsx/.ods (zip) and .xls (OLE compound file) workbooks begin.
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
_SEP_LINE = re.compile(r"^\s*sep\s*=\s*(.)\s*$", re.IGNORECASE)
_HEADER = re.compile(r"\s*\(?\s*([A-Za-z_][A-Za-z0-9_ ]*?)\s*\)?\s*(\(.*)?$")


@dataclass(frozen=True)
class TextTable:
    """The non-empty rows of a table file as text cells.

    ``rows`` holds ``(line, cells)`` with the file's 1-based line number;
    ``decimal_comma`` says whether a comma may be a decimal separator in it.
    """

    rows: tuple[tuple[int, list[str]], ...]
    delimiter: str

    @property
    def decimal_comma(self) -> bool:
        return self.delimiter != ","

    def number(self, text: str) -> float | None:
        """A cell's number, ``None`` when it says "not recorded".

        Raises
        ------
        ValueError
            When the cell holds something else.
        """
        return cell_number(text, decimal_comma=self.decimal_comma)


def cell_number(text: str, *, decimal_comma: bool = False) -> float | None:
    """Read one cell (see the module's rules); ``ValueError`` when it is not a number."""
    t = text.strip()
    if t.lower() in MISSING_TEXTS:
        return None
    if decimal_comma and "," in t:
        if "." in t or t.count(",") != 1:
            raise ValueError(t)
        t = t.replace(",", ".")
    return float(t)


def header_name(cell: str) -> str:
    """A header cell as a field name: lower case, without parentheses or a unit."""
    m = _HEADER.match(cell)
    return m.group(1).strip().lower() if m else cell.strip().lower()


def header_unit(cell: str) -> str | None:
    """The unit a header cell names in parentheses after the field's name, if any."""
    m = _HEADER.match(cell)
    unit = m.group(2) if m else None
    return unit.strip()[1:].rstrip(")").strip() or None if unit else None


@dataclass(frozen=True)
class Column:
    """Where a record field is in a table, and what its values are multiplied by.

    ``spec`` is the field (its choices' names are read too, and messages name it).
    """

    index: int
    factor: float = 1.0
    spec: FieldSpec | None = None


class CellError(ValueError):
    """A cell that is not a value of its field; the message names the field and the cell."""


def choice_code(spec: FieldSpec, text: str) -> float | None:
    """The code of the choice ``text`` names (``Male``, ``female``), ``None`` if none.

    A single letter is taken for the choice it begins (``M``, ``F``, ``Y``, ``N``)
    in a field of two choices that begin with different letters (sex, yes/no).
    """
    key = text.strip().casefold()
    if not key:
        return None
    for choice in spec.choices:
        if choice.label.casefold() == key:
            return float(choice.code)
    initials = [c.label[:1].casefold() for c in spec.choices]
    if len(key) == 1 and len(initials) == 2 and len(set(initials)) == 2 and key in initials:
        return float(spec.choices[initials.index(key)].code)
    return None


def _cell_problem(spec: FieldSpec | None, text: str) -> str:
    if spec is None:
        return f"“{text.strip()}” is not a number"
    if spec.choices:
        codes = ", ".join(f"{c.code:g}" for c in spec.choices)
        names = ", ".join(c.label for c in spec.choices)
        return f"{spec.label} is “{text.strip()}”: give one of {codes} or its name ({names})"
    return f"{spec.label} is “{text.strip()}”, not a number"


def record_columns(
    table: TextTable, path: str | Path, schema: RecordSchema
) -> dict[str, Column] | None:
    """The column of each of ``schema``'s fields in ``table``'s header line.

    ``None`` when the header does not name every field (a table without one).

    Raises
    ------
    EngineError
        When a column names a unit its field is not measured in.
    """
    if not table.rows:
        return None
    cells = table.rows[0][1]
    header = [header_name(c) for c in cells]
    if not set(schema.names) <= set(header):
        return None
    out: dict[str, Column] = {}
    for spec in schema.fields:
        index = header.index(spec.name)
        unit = header_unit(cells[index])
        factor = 1.0 if unit is None or not spec.unit else spec.unit_factor(unit)
        if factor is None:
            raise EngineError(
                f"“{Path(path).name}”: the column “{cells[index].strip()}” gives "
                f"{spec.label.lower()} in “{unit}”; Stethos reads it in "
                f"{' or '.join(spec.unit_symbols)} (a column without a unit is in {spec.unit})."
            )
        out[spec.name] = Column(index, factor, spec)
    return out


def read_fields(
    table: TextTable, cells: list[str], columns: dict[str, Column]
) -> dict[str, float | None]:
    """One row's record in the model's units.

    Raises
    ------
    CellError
        When a cell is neither a number nor, for a choice, one of its names.
    """
    out: dict[str, float | None] = {}
    for name, column in columns.items():
        text = cells[column.index] if column.index < len(cells) else ""
        try:
            value = table.number(text)
        except ValueError:
            spec = column.spec
            code = choice_code(spec, text) if spec is not None and spec.choices else None
            if code is None:
                raise CellError(_cell_problem(spec, text)) from None
            out[name] = code
            continue
        out[name] = None if value is None else value * column.factor
    return out


def read_text_table(path: str | Path) -> TextTable:
    """Read ``path``'s non-empty rows, choosing the separator as the module says.

    Raises
    ------
    EngineError
        When the file cannot be read.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise EngineError(f"“{p.name}” cannot be read.", str(exc)) from exc
    if data.startswith(_WORKBOOK_MAGIC):
        raise EngineError(
            f"“{p.name}” is a spreadsheet workbook (Excel, LibreOffice), not a table of text. "
            "Save the sheet as CSV (File ▸ Save as… ▸ CSV) and give that file."
        )
    text = data.decode("utf-8-sig", errors="replace")
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip()]
    delimiter = None
    if numbered and (m := _SEP_LINE.match(numbered[0][1])):
        delimiter = m.group(1)
        numbered = numbered[1:]
    if delimiter is None:
        first = numbered[0][1] if numbered else ""
        if p.suffix.lower() == ".tsv" or "\t" in first:
            delimiter = "\t"
        elif ";" in first and first.count(";") >= first.count(","):
            delimiter = ";"
        else:
            delimiter = ","
    rows = []
    for line_no, line in numbered:  # one line at a time: a stray quote cannot swallow the rest
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if any(c.strip() for c in cells):
            rows.append((line_no, cells))
    return TextTable(tuple(rows), delimiter)

"""Tables of records as spreadsheets export them: one reader for ``predict`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import EXIT_OK, main
from engine.cli.models import read_record_table
from engine.errors import EngineError
from engine.records import HEART_RECORD
from engine.records.table import cell_number, header_name, read_text_table
from engine.records.uci import read_uci_heart
from engine.validation.records import read_outcome_table

HEART = "heart-disease-logreg-13"
NAMES = list(HEART_RECORD.names)


@pytest.fixture()
def uci_rows(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    X, y = read_uci_heart(shared_data / "tabular" / "uci-heart" / "processed.cleveland.data")
    return X[:25], y[:25]


def _write(path: Path, rows: np.ndarray, y: np.ndarray, sep: str, decimal: str) -> Path:
    """A table with a header, as a spreadsheet set to ``decimal`` would export it."""
    lines = [sep.join([*NAMES, "disease"])]
    for values, outcome in zip(rows, y, strict=True):
        cells = ["" if np.isnan(v) else f"{v:g}".replace(".", decimal) for v in values]
        lines.append(sep.join([*cells, str(int(outcome))]))
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")  # Excel: BOM, CRLF
    return path


def test_cells_read_as_spreadsheets_write_them() -> None:
    assert cell_number(" 1.5 ") == 1.5
    assert cell_number("1,5", decimal_comma=True) == 1.5
    for missing in ("", " ", "?", "NA", "n/a", "NaN", "None", "null"):
        assert cell_number(missing) is None
    with pytest.raises(ValueError):
        cell_number("1,5")  # a comma-separated file cannot hold a decimal comma
    for ambiguous in ("1.234,5", "1,234,5"):  # thousands separators: refused, never guessed
        with pytest.raises(ValueError):
            cell_number(ambiguous, decimal_comma=True)
    assert [header_name(c) for c in ("(age)", " Chol (mg/dl)", "OLDPEAK")] == [
        "age",
        "chol",
        "oldpeak",
    ]


def test_separator_is_chosen_from_the_first_line(tmp_path: Path) -> None:
    cases = {
        "comma.csv": ("a,b\n1,2\n", ","),
        "semi.csv": ("a;b\n1,5;2\n", ";"),
        "tab.csv": ("a\tb\n1,5\t2\n", "\t"),
        "excel.csv": ("sep=;\na;b\n1,5;2\n", ";"),
    }
    for name, (text, delimiter) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        table = read_text_table(path)
        assert table.delimiter == delimiter, name
        assert table.rows[0][1] == ["a", "b"], name
    excel = read_text_table(tmp_path / "excel.csv")
    assert [line for line, _ in excel.rows] == [2, 3]  # file lines, the sep= line skipped
    assert excel.number(excel.rows[1][1][0]) == 1.5


@pytest.mark.parametrize(("sep", "decimal"), [(",", "."), (";", ","), (";", "."), ("\t", ",")])
def test_predict_and_evaluate_read_every_export_alike(
    tmp_path: Path, uci_rows: tuple[np.ndarray, np.ndarray], sep: str, decimal: str
) -> None:
    X, y = uci_rows
    path = _write(tmp_path / "export.csv", X, y, sep, decimal)

    outcomes = read_outcome_table(path)
    assert outcomes.skipped == () and len(outcomes.records) == len(X)
    assert outcomes.lines == tuple(range(2, len(X) + 2))
    np.testing.assert_array_equal(outcomes.outcomes, y)
    inputs = list(read_record_table(path))
    assert [i.error for i in inputs] == [None] * len(X)
    assert [i.row for i in inputs] == list(outcomes.lines)
    for got, want, values in zip((i.record for i in inputs), outcomes.records, X, strict=True):
        assert got == want
        assert [np.nan if got[n] is None else got[n] for n in NAMES] == pytest.approx(
            list(values), nan_ok=True
        )


def test_a_bad_row_is_named_by_its_file_line_in_both(
    tmp_path: Path, uci_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = uci_rows
    path = _write(tmp_path / "export.csv", X[:3], y[:3], ";", ",")
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    lines.insert(2, "")  # a blank line: later rows keep their file line numbers
    cells = lines[3].split(";")
    cells[NAMES.index("chol")] = "1.234,5"  # a thousands separator
    lines[3] = ";".join(cells)
    path.write_text("\n".join(lines) + "\n")

    problem = "Serum cholesterol is “1.234,5”, not a number"
    assert read_outcome_table(path).skipped == ((4, problem),)
    inputs = list(read_record_table(path))
    assert [(i.row, i.error is None) for i in inputs] == [(2, True), (4, False), (5, True)]
    assert inputs[1].error.user_message == f"“export.csv” line 4: {problem}."


def test_choices_may_be_named_as_a_spreadsheet_writes_them(tmp_path: Path) -> None:
    header = ",".join([*NAMES, "disease"])
    named = {
        "sex": "Male",
        "cp": "typical angina",
        "fbs": "Y",
        "restecg": "Probable/definite LV hypertrophy (Estes)",
        "exang": "no",
        "slope": "DOWNSLOPING",
        "thal": "Fixed defect",
    }
    coded = {"sex": 1, "cp": 1, "fbs": 1, "restecg": 2, "exang": 0, "slope": 3, "thal": 6}
    numbers = {"age": 63, "trestbps": 145, "chol": 233, "thalach": 150, "oldpeak": 2.3, "ca": 0}
    row = [str(named.get(n, numbers.get(n))) for n in NAMES]
    path = tmp_path / "named.csv"
    path.write_text(header + "\n" + ",".join(f'"{c}"' for c in row) + ",1\n")
    (item,) = read_record_table(path)
    assert item.error is None and item.record == {**numbers, **coded}
    assert read_outcome_table(path).records == (item.record,)

    row[NAMES.index("cp")] = "T"  # four choices: a single letter is not guessed
    row[NAMES.index("sex")] = "x"
    path.write_text(header + "\n" + ",".join(row) + ",1\n")
    (item,) = read_record_table(path)
    assert item.error.user_message == (
        "“named.csv” line 2: Sex is “x”: give one of 0, 1 or its name (Female, Male)."
    )
    row[NAMES.index("sex")] = "F"
    path.write_text(header + "\n" + ",".join(row) + ",1\n")
    (item,) = read_record_table(path)
    assert "Chest pain type is “T”" in item.error.user_message


def test_cli_predict_on_a_semicolon_export_matches_the_comma_file(
    tmp_path: Path, uci_rows: tuple[np.ndarray, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    X, y = uci_rows
    comma = _write(tmp_path / "comma.csv", X, y, ",", ".")
    semi = _write(tmp_path / "semi.csv", X, y, ";", ",")
    results = []
    for path in (comma, semi):
        assert main(["predict", "--model", HEART, "--json", str(path)]) == EXIT_OK
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        results.append([(r["input"]["row"], r["label"], r["probabilities"]) for r in rows])
    assert len(results[0]) == len(X) and results[0] == results[1]


def test_headerless_semicolon_rows_are_read_in_the_uci_order(
    tmp_path: Path, uci_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = uci_rows
    path = _write(tmp_path / "export.csv", X[:4], y[:4], ";", ",")
    body = path.read_text(encoding="utf-8-sig").splitlines()[1:]  # no header
    path.write_text("\n".join(body) + "\n")
    inputs = list(read_record_table(path))
    assert [i.row for i in inputs] == [1, 2, 3, 4] and all(i.error is None for i in inputs)
    assert inputs[0].record["age"] == X[0][0] and inputs[0].record["oldpeak"] == X[0][9]
    assert read_outcome_table(path).outcomes.tolist() == (y[:4] > 0).astype(int).tolist()


def test_a_unit_in_the_header_is_converted_to_the_models_unit(
    tmp_path: Path, uci_rows: tuple[np.ndarray, np.ndarray]
) -> None:
    """Cholesterol in mmol/L, blood pressure in kPa, ST depression in mV: the same records."""
    X, y = uci_rows
    plain = _write(tmp_path / "plain.csv", X, y, ",", ".")
    factors = {"trestbps": ("kPa", 7.50062), "chol": ("mmol/L", 38.67), "oldpeak": ("mV", 10.0)}
    lines = [",".join(f"{n} ({factors[n][0]})" if n in factors else n for n in NAMES) + ",disease"]
    for values, outcome in zip(X, y, strict=True):
        cells = [
            "" if np.isnan(v) else repr(float(v / factors[n][1] if n in factors else v))
            for n, v in zip(NAMES, values, strict=True)
        ]
        lines.append(",".join([*cells, str(int(outcome))]))
    converted = tmp_path / "si.csv"
    converted.write_text("\n".join(lines) + "\n")

    for read in (
        lambda p: [i.record for i in read_record_table(p)],
        lambda p: list(read_outcome_table(p).records),
    ):
        for got, want in zip(read(converted), read(plain), strict=True):
            assert got.keys() == want.keys()
            for name in NAMES:
                assert got[name] == pytest.approx(want[name], rel=1e-9), name


def test_a_unit_the_field_is_not_measured_in_refuses_the_file(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    header = ",".join("chol (mmol/dl)" if n == "chol" else n for n in NAMES)
    path.write_text(header + ",disease\n" + ",".join(["1"] * 13) + ",0\n")
    inputs = list(read_record_table(path))
    assert len(inputs) == 1 and inputs[0].record is None
    message = inputs[0].error.user_message
    assert "“chol (mmol/dl)”" in message and "mg/dL or mmol/L" in message
    with pytest.raises(EngineError, match="mmol/dl"):
        read_outcome_table(path)
    # A choice field's parentheses describe its codes, not a unit: read as before.
    named = [{"chol": "chol (mg/dl)", "thal": "thal (3 = normal)"}.get(n, n) for n in NAMES]
    values = ["1"] * 13
    values[NAMES.index("chol")], values[NAMES.index("thal")] = "200", "3"
    path.write_text(",".join(named) + "\n" + ",".join(values) + "\n")
    (item,) = read_record_table(path)
    assert item.error is None and item.record["chol"] == 200 and item.record["thal"] == 3


def test_bounds_in_another_unit_are_inside_the_range_once_converted() -> None:
    for spec in HEART_RECORD.fields:
        for symbol in spec.unit_symbols:
            lo, hi = spec.bounds_in(symbol)
            factor = spec.unit_factor(symbol)
            assert factor is not None
            for bound in (lo, hi):
                assert bound is not None and spec.validate(bound * factor) is None, (
                    spec.name,
                    symbol,
                )
    chol = HEART_RECORD.field("chol")
    assert chol.bounds_in("mmol/L") == (1.82, 18.1) and chol.unit_factor(" MMOL / l ") == 38.67
    assert chol.unit_factor("mmol/dL") is None
    with pytest.raises(KeyError):
        chol.bounds_in("g")


def test_a_workbook_is_named_as_one_with_what_to_do(tmp_path: Path) -> None:
    import zipfile

    book = tmp_path / "records.xlsx"
    with zipfile.ZipFile(book, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    old = tmp_path / "records.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    for path in (book, old):
        (item,) = read_record_table(path)
        assert item.error.user_message.startswith(f"“{path.name}” is a spreadsheet workbook")
        assert "Save the sheet as CSV" in item.error.user_message
        with pytest.raises(EngineError, match="spreadsheet workbook"):
            read_outcome_table(path)

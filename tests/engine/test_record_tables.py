"""Tables of records as spreadsheets export them: one reader for ``predict`` and ``evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import EXIT_OK, main
from engine.cli.models import read_record_table
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
    lines[3] = lines[3].replace(";", ";1.234,5", 1)  # a thousands separator in the 2nd cell
    path.write_text("\n".join(lines) + "\n")

    assert read_outcome_table(path).skipped == ((4, "holds a value that is not a number"),)
    inputs = list(read_record_table(path))
    assert [(i.row, i.error is None) for i in inputs] == [(2, True), (4, False), (5, True)]
    assert "line 4 holds a value that is not a number" in inputs[1].error.user_message


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

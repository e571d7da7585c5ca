"""The record form takes a laboratory's units: cholesterol in mmol/L, pressure in kPa, ST in mV."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QComboBox

from desktop.records.form import RecordForm
from engine.records import HEART_RECORD

RECORD = {
    "age": 63.0,
    "sex": 1.0,
    "cp": 1.0,
    "trestbps": 145.0,
    "chol": 233.0,
    "fbs": 1.0,
    "restecg": 2.0,
    "thalach": 150.0,
    "exang": 0.0,
    "oldpeak": 2.3,
    "slope": 3.0,
    "ca": 0.0,
    "thal": 6.0,
}


@pytest.fixture(autouse=True)
def _own_settings(tmp_path, monkeypatch) -> None:
    """Units chosen here stay here: the other tests' forms start in the model's units."""
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path / "config"))


@pytest.fixture()
def form(qtbot) -> RecordForm:
    form = RecordForm(HEART_RECORD)
    qtbot.addWidget(form)
    return form


def _type(qtbot, form: RecordForm, name: str, text: str) -> None:
    editor = form.editor(name)
    editor.clear()
    qtbot.keyClicks(editor, text)


def test_fields_with_other_units_have_a_unit_box_in_the_models_unit_first(form):
    boxes = {
        spec.name: form.findChild(QComboBox, f"unit_{spec.name}") for spec in HEART_RECORD.fields
    }
    with_box = {name: box for name, box in boxes.items() if box is not None}
    assert sorted(with_box) == ["chol", "oldpeak", "trestbps"]
    assert [with_box["chol"].itemText(i) for i in range(2)] == ["mg/dL", "mmol/L"]
    assert form.unit("chol") == "mg/dL" and form.unit("age") == "years"
    assert form.editor("chol").placeholderText().startswith("70–700")


def test_a_value_in_mmol_per_litre_is_recorded_in_mg_per_decilitre(qtbot, form):
    form.set_record(RECORD)
    form.set_unit("chol", "mmol/L")
    assert form.editor("chol").placeholderText().startswith("1.82–18.1")
    assert "mmol/L" in form.editor("chol").toolTip()
    _type(qtbot, form, "chol", "5,2")  # a decimal comma, as typed on a German keyboard
    assert form.is_valid and form.record()["chol"] == pytest.approx(5.2 * 38.67)
    _type(qtbot, form, "chol", "1.0")
    assert form.message("chol") == "Serum cholesterol must be at least 1.82 mmol/L."
    assert not form.is_valid
    _type(qtbot, form, "chol", "1.82")  # the bound shown is inside the range once converted
    assert form.is_valid


def test_changing_the_unit_reads_the_number_typed_in_the_new_unit(qtbot, form):
    """The usual slip: 5.2 typed from an mmol/L report into mg/dL, then the unit corrected."""
    form.set_record(RECORD)
    _type(qtbot, form, "chol", "5.2")
    assert form.message("chol") == "Serum cholesterol must be at least 70 mg/dL."
    form.set_unit("chol", "mmol/L")
    assert form.editor("chol").text() == "5.2" and form.message("chol") == ""
    assert form.is_valid and form.record()["chol"] == pytest.approx(201.084)
    assert form.edited


def test_a_saved_record_is_shown_in_the_unit_chosen_and_reads_back_unchanged(form):
    form.set_unit("chol", "mmol/L")
    form.set_unit("trestbps", "kPa")
    form.set_unit("oldpeak", "mV")
    form.set_record(RECORD)
    assert form.editor("chol").text() == f"{233 / 38.67:.6g}"
    assert form.editor("oldpeak").text() == "0.23"
    assert form.record() == RECORD  # six significant digits bring 233 mg/dL back exactly
    assert not form.edited


def test_the_unit_chosen_is_the_next_forms_unit(qtbot, form):
    form.set_unit("chol", "mmol/L")
    again = RecordForm(HEART_RECORD)
    qtbot.addWidget(again)
    assert again.unit("chol") == "mmol/L" and again.unit("trestbps") == "mmHg"
    with pytest.raises(KeyError):
        again.set_unit("chol", "g/L")


def test_values_shown_back_are_in_the_chosen_unit_with_the_stored_one(form):
    """The result's contributions and the encounter report: 6.03 mmol/L (233 mg/dL)."""
    from desktop.patients.report import value_text
    from desktop.results.chart import translated_value
    from engine.workflow import Contribution

    chol = Contribution("chol", "Serum cholesterol", "233 mg/dL", 0.1, "mg/dL", 233.0)
    spec = HEART_RECORD.field("chol")
    assert translated_value(chol) == value_text(spec, 233.0, "mg/dL") == "233 mg/dL"
    form.set_unit("chol", "mmol/L")
    assert translated_value(chol) == value_text(spec, 233.0, "mg/dL") == "6.03 mmol/L (233 mg/dL)"
    assert translated_value(chol, with_stored=False) == "6.03 mmol/L"  # the chart's narrow column
    age = Contribution("age", "Age", "63 years", 0.2, "years", 63.0)
    assert translated_value(age) == "63 years"
    assert value_text(HEART_RECORD.field("sex"), 1.0) == "Male"

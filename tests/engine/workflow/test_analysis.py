"""engine.workflow.analyze: one entry point for the three kinds of input."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import InputRejectedError, ModelError, NotDicomError
from engine.resources import resource_path
from engine.workflow import InputRef, analyze, default_model

RADIOGRAPH = resource_path("samples", "peds-cxr-normal.dcm")
ECG = resource_path("samples", "mitdb", "119.hea")
VALID_RECORD = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip


def test_an_image_path_is_analysed_with_the_default_image_model_on_the_cpu() -> None:
    outcome = analyze(RADIOGRAPH, device="cpu")
    assert outcome.kind == "image"
    assert outcome.model.id == default_model("image")
    assert outcome.prediction.device == "cpu"
    assert outcome.heatmap is not None and outcome.heatmap.shape == (1337, 1686)
    ref = outcome.source
    assert ref.path == str(RADIOGRAPH) and ref.frame == 0
    assert ref.sop_instance_uid and ref.study_instance_uid and ref.series_instance_uid
    assert outcome.model.intended_use and outcome.model.weights_sha256


def test_a_wfdb_record_is_analysed_as_a_signal() -> None:
    outcome = analyze(ECG, device="cpu", explain=False)
    assert outcome.kind == "signal"
    assert outcome.model.id == default_model("signal")
    assert outcome.source.path.endswith("119.hea") and outcome.source.lead
    assert len(outcome.beats) > 1000


def test_a_record_mapping_is_analysed_with_the_default_record_model() -> None:
    outcome = analyze(VALID_RECORD)
    assert outcome.kind == "record"
    assert outcome.model.id == default_model("record")
    assert outcome.record == VALID_RECORD
    assert outcome.contributions


def test_a_model_for_another_kind_of_input_is_refused() -> None:
    with pytest.raises(ModelError, match="takes images"):
        analyze(VALID_RECORD, model_id=default_model("image"))


def test_unreadable_inputs_get_a_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    with pytest.raises(NotDicomError):
        analyze(text)
    with pytest.raises(InputRejectedError):
        analyze(3.14)


def test_input_ref_round_trips_as_the_saved_input_block() -> None:
    for ref in (
        InputRef("image", path="/a/b.dcm", frame=3, sop_instance_uid="1.2.3"),
        InputRef("signal", path="/a/119.hea", lead="MLII"),
        InputRef("record"),
    ):
        assert InputRef.from_json(ref.to_json()) == ref
    # the block the desktop wrote before the workflow layer existed
    old = {"kind": "ecg", "path": "/x/119.hea", "lead": "MLII"}
    assert InputRef.from_json(old) == InputRef("signal", path="/x/119.hea", lead="MLII")
    assert InputRef.from_json({"kind": "image", "path": "/x.dcm", "frame": 2}).frame == 2
    assert InputRef.from_json(None) is None

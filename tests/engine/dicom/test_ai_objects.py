"""AI results as DICOM objects: the SR (TID 1500), the heat-map SEG and capture, read back.

Real model runs on the bundled samples, real highdicom objects, checked with
highdicom's own parser and DCMTK's ``dsrdump``/``dcmdump`` where installed.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from engine.dicom.ai_read import read_ai_object
from engine.dicom.deid import export_deidentified
from engine.models.registry import ModelRegistry
from engine.resources import resource_path
from engine.workflow import analyze
from engine.workflow.dicom_results import (
    ResultReview,
    ai_results_in,
    export_result_dicom,
    heatmap_for,
)

CXR = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")
ADULT = resource_path("samples", "chest-cr-pa.dcm")
ECG = resource_path("samples", "ecg-12-lead.dcm")
DSRDUMP = shutil.which("dsrdump")
DCMDUMP = shutil.which("dcmdump")


@pytest.fixture(scope="module")
def cxr_outcome():
    return analyze(CXR)


@pytest.fixture(scope="module")
def rhythm_outcome():
    return analyze(ECG, kind="signal", model_id="ecg-rhythm-features-300")


def _by_kind(export) -> dict[str, Path]:
    return dict(zip(export.kinds, export.paths, strict=True))


def _dcmtk_clean(tool: str | None, path: Path) -> None:
    if tool is None:
        return  # DCMTK not installed: highdicom's checks below still run
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    problems = [line for line in run.stderr.splitlines() if line.startswith(("W:", "E:", "F:"))]
    assert problems == [], problems


def test_image_result_writes_a_valid_sr_seg_and_capture(cxr_outcome, tmp_path) -> None:
    export = export_result_dicom(cxr_outcome, tmp_path)
    assert export.kinds == ("sr", "seg", "capture") and not export.skipped
    files = _by_kind(export)
    source = pydicom.dcmread(CXR, stop_before_pixels=True)

    sr = hd.sr.srread(files["sr"])  # highdicom's own parser and checks
    report = hd.sr.MeasurementReport.from_sequence([sr])
    (group,) = report.get_image_measurement_groups()
    assert group.finding_type.meaning == "Pneumonia"
    assert next(m.value for m in group.get_measurements()) == pytest.approx(
        cxr_outcome.prediction.score
    )
    _dcmtk_clean(DSRDUMP, files["sr"])

    # the same patient and study, a new series, and the source referenced by class and instance
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID"):
        assert sr.get(keyword) == source.get(keyword)
    assert sr.SeriesInstanceUID != source.SeriesInstanceUID and sr.Modality == "SR"
    (ref,) = group.source_images
    assert ref.referenced_sop_class_uid == source.SOPClassUID
    assert ref.referenced_sop_instance_uid == source.SOPInstanceUID

    # the SEG is registered to the source frame: same size, referencing it
    seg = hd.seg.segread(files["seg"])
    assert (seg.Rows, seg.Columns) == (source.Rows, source.Columns)
    assert seg.SegmentationType == "FRACTIONAL" and seg.StudyInstanceUID == source.StudyInstanceUID
    assert [uid for *_, uid in seg.get_source_image_uids()] == [source.SOPInstanceUID]
    _dcmtk_clean(DCMDUMP, files["seg"])

    capture = pydicom.dcmread(files["capture"])
    assert list(capture.ImageType) == ["DERIVED", "SECONDARY", "AI_OVERLAY"]
    assert capture.SeriesDescription.startswith("AI heat map overlay - Stethos")
    assert "AI output" in capture.DerivationDescription
    assert capture.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert capture.pixel_array.shape == (source.Rows, source.Columns, 3)
    _dcmtk_clean(DCMDUMP, files["capture"])
    # the source is never modified
    assert pydicom.dcmread(CXR).SOPInstanceUID == source.SOPInstanceUID


def test_the_sr_names_the_bundle_that_made_the_result(cxr_outcome, tmp_path) -> None:
    bundle = ModelRegistry().open(cxr_outcome.model.id)
    export = export_result_dicom(cxr_outcome, tmp_path)
    obj = read_ai_object(_by_kind(export)["sr"])
    assert obj is not None and obj.made_by_stethos
    (finding,) = obj.findings
    assert finding.algorithm_version == bundle.version
    assert finding.parameter("weights_sha256") == bundle.weights_sha256
    assert finding.parameter("model_id") == bundle.id
    assert finding.parameter("operating_point") == cxr_outcome.prediction.operating_point
    assert finding.finding == "Pneumonia"
    present = "Present" if cxr_outcome.prediction.is_positive else "Absent"
    assert finding.evaluation("Pneumonia") == present
    assert finding.measurement("Model score") == pytest.approx(cxr_outcome.prediction.score)
    assert finding.measurement("Operating point threshold") == pytest.approx(
        cxr_outcome.prediction.threshold
    )


@pytest.mark.parametrize(
    ("decision", "meaning"),
    [("accepted", "Accepted by clinician"), ("overridden", "Overridden by clinician")],
)
def test_a_decision_gives_the_person_observer_and_comment(
    cxr_outcome, tmp_path, decision, meaning
) -> None:
    review = ResultReview(decision, f"{decision}: see the lateral view", "Ada Lovelace", "ada")
    export = export_result_dicom(cxr_outcome, tmp_path, review=review)
    path = _by_kind(export)["sr"]
    obj = read_ai_object(path)
    assert obj is not None
    assert obj.observers[0] == "Lovelace^Ada"  # the person first, then the device
    assert "Stethos" in obj.observers
    (finding,) = obj.findings
    assert finding.evaluation("Clinician review of AI result") == meaning
    assert ("Comment", f"{decision}: see the lateral view") in finding.texts
    report = hd.sr.MeasurementReport.from_sequence([hd.sr.srread(path)])
    person = report.get_observer_contexts(observer_type=codes.DCM.Person)
    assert person and person[0].observer_identifying_attributes.name == "Lovelace^Ada"
    _dcmtk_clean(DSRDUMP, path)


def test_no_decision_means_a_device_observer_only(cxr_outcome, tmp_path) -> None:
    obj = read_ai_object(_by_kind(export_result_dicom(cxr_outcome, tmp_path))["sr"])
    assert obj is not None and not any("^" in o for o in obj.observers)
    assert obj.findings[0].evaluation("Clinician review of AI result") == ""


def test_every_export_is_a_new_series_and_overwrites_nothing(cxr_outcome, tmp_path) -> None:
    first = export_result_dicom(cxr_outcome, tmp_path)
    newer = dataclasses.replace(
        cxr_outcome,
        prediction=dataclasses.replace(cxr_outcome.prediction, model_version="9.9.9"),
    )
    second = export_result_dicom(newer, tmp_path)
    assert set(first.series_uids).isdisjoint(second.series_uids)
    assert len(list(tmp_path.glob("*.dcm"))) == 6
    assert all(p.is_file() for p in first.paths)
    versions = {o.findings[0].algorithm_version for o in ai_results_in(tmp_path.glob("*sr.dcm"))[0]}
    assert versions == {cxr_outcome.model.version, "9.9.9"}


def test_a_refused_or_withheld_image_gets_no_sr(cxr_outcome, tmp_path) -> None:
    withheld = dataclasses.replace(
        cxr_outcome, prediction=dataclasses.replace(cxr_outcome.prediction, label="")
    )
    export = export_result_dicom(withheld, tmp_path)
    assert not export.written and "withheld" in export.skipped
    # a refused image (an adult: outside the model's age range) has no result at all
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "predict", "--model", cxr_outcome.model.id,
         str(ADULT), "--dicom-out", str(tmp_path / "out"), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    row = json.loads(run.stdout.splitlines()[0])
    assert "error" in row and "dicom_out" not in row
    assert list(tmp_path.rglob("*.dcm")) == []  # neither the withheld nor the refused wrote


def test_predict_dicom_out_writes_the_objects(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "engine.cli", "predict", "--model", "cxr-pneumonia-resnet18-224",
         str(CXR), "--dicom-out", str(tmp_path), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    row = json.loads(run.stdout.splitlines()[0])
    assert row["dicom_out"]["kinds"] == ["sr", "seg", "capture"]
    assert sorted(Path(p).name for p in row["dicom_out"]["paths"]) == sorted(
        p.name for p in tmp_path.glob("*.dcm")
    )


def test_ecg_rhythm_sr_has_the_rhythm_counts_and_events(rhythm_outcome, tmp_path) -> None:
    outcome = rhythm_outcome
    rhythm = dict(outcome.prediction.extra["rhythm"])
    # an AF episode and a pause, as a Holter record would have them
    rhythm["episodes"] = [{"label": "AF", "start": 1.0, "end": 6.5}]
    rhythm["pauses"] = [{"label": "pause", "start": 7.25, "end": 9.5}]
    extra = {**outcome.prediction.extra, "rhythm": rhythm}
    outcome = dataclasses.replace(
        outcome, prediction=dataclasses.replace(outcome.prediction, extra=extra)
    )
    export = export_result_dicom(outcome, tmp_path)
    assert export.kinds == ("sr",)
    path = export.paths[0]
    _dcmtk_clean(DSRDUMP, path)
    obj = read_ai_object(path)
    source = pydicom.dcmread(ECG, stop_before_pixels=True)
    assert obj is not None and source.SOPInstanceUID in obj.references
    main, af, pause = obj.findings
    assert main.evaluation("Cardiac Rhythm") in ("Normal sinus rhythm", "Atrial fibrillation",
                                                 "Other rhythm", "Too noisy to classify")  # fmt: skip
    beats = rhythm["beats"]
    assert sum(v for c, v, u in main.measurements if u == "{beats}") in (beats, 0) or beats
    assert main.measurement("Heart rate") == pytest.approx(rhythm["heart_rate"]["mean_bpm"])
    assert ("Analysed lead", outcome.source.lead) in main.texts
    assert af.finding == "Atrial fibrillation"
    assert af.measurement("Event start") == 1.0 and af.measurement("Event duration") == 5.5
    assert pause.measurement("Event start") == 7.25
    assert af.references == (source.SOPInstanceUID,) == pause.references


def test_beat_sr_counts_each_class(tmp_path) -> None:
    outcome = analyze(ECG, kind="signal")
    export = export_result_dicom(outcome, tmp_path)
    obj = read_ai_object(export.paths[0])
    assert obj is not None
    counts = {c[: -len(" beats")]: v for c, v, u in obj.findings[0].measurements if u == "{beats}"}
    expected: dict[str, int] = {}
    for b in outcome.beats:
        expected[b.label] = expected.get(b.label, 0) + 1
    assert counts == {k: float(v) for k, v in expected.items()}


def test_deidentified_objects_keep_findings_and_references(cxr_outcome, tmp_path) -> None:
    review = ResultReview("overridden", "Mrs Smith's husband called", "Ada Lovelace", "ada")
    export = export_result_dicom(cxr_outcome, tmp_path / "in", review=review)
    report = export_deidentified([CXR, *export.paths], tmp_path / "out")
    assert not report.failures
    out = list((tmp_path / "out").glob("*.dcm"))
    objects, problems = ai_results_in(out)
    assert not problems and {o.kind for o in objects} == {"sr", "seg", "capture"}
    image = next(p for p in out if read_ai_object(p) is None)
    new_uid = pydicom.dcmread(image, stop_before_pixels=True).SOPInstanceUID
    original = pydicom.dcmread(CXR, stop_before_pixels=True)
    assert new_uid != original.SOPInstanceUID
    for obj in objects:
        assert new_uid in obj.references  # references still resolve inside the export
        assert original.SOPInstanceUID not in obj.references
    sr = next(o for o in objects if o.kind == "sr")
    assert "Lovelace^Ada" not in sr.observers and "ANONYMIZED" in sr.observers
    (finding,) = sr.findings
    assert ("Comment", "ANONYMIZED") in finding.texts  # free text may name people
    assert finding.algorithm_version == cxr_outcome.model.version  # software stays
    assert finding.evaluation("Clinician review of AI result") == "Overridden by clinician"
    for path in out:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert ds.PatientName != original.PatientName and ds.PatientIdentityRemoved == "YES"
    _dcmtk_clean(DSRDUMP, sr.path)


def test_a_tid1500_sr_from_another_tool_reads_as_findings(tmp_path) -> None:
    source = pydicom.dcmread(CXR, stop_before_pixels=True)
    region = hd.sr.ImageRegion(
        graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[10.0, 10.0], [60.0, 10.0], [60.0, 60.0], [10.0, 10.0]]),
        source_image=hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID),
    )
    group = hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="nodule 1"),
        referenced_region=region,
        finding_type=codes.SCT.Nodule,
        algorithm_id=hd.sr.AlgorithmIdentification(name="OtherCAD", version="4.2"),
        measurements=[hd.sr.Measurement(codes.SCT.Diameter, 11.5, codes.UCUM.Millimeter)],
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(codes.DCM.LevelOfSignificance, codes.SCT.Present)
        ],
    )
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="OtherCAD"
        ),
    )
    from engine.dicom.ai_sr import evidence_header

    sr = hd.sr.Comprehensive3DSR(
        evidence=[evidence_header(source)],
        content=hd.sr.MeasurementReport(
            observation_context=hd.sr.ObservationContext(observer_device_context=observer),
            procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
            imaging_measurements=[group],
        ),
        series_instance_uid=hd.UID(),
        series_number=7,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="Other Vendor",
    )
    sr.save_as(tmp_path / "other.dcm")
    obj = read_ai_object(tmp_path / "other.dcm")
    assert obj is not None and obj.kind == "sr" and not obj.made_by_stethos
    (finding,) = obj.findings
    assert finding.finding == "Nodule" and finding.algorithm == "OtherCAD"
    assert finding.measurement("Diameter") == 11.5
    assert finding.evaluation("Level of Significance") == "Present"
    assert source.SOPInstanceUID in finding.references
    assert obj.observers == ("OtherCAD",)


def test_the_seg_reads_back_as_the_same_heat_map(cxr_outcome, tmp_path) -> None:
    export = export_result_dicom(cxr_outcome, tmp_path)
    objects, _ = ai_results_in(export.paths)
    source = pydicom.dcmread(CXR, stop_before_pixels=True)
    seg = heatmap_for(objects, source.SOPInstanceUID)
    assert seg is not None and seg.heatmap is not None
    original = np.clip(cxr_outcome.heatmap, 0, 1)
    assert seg.heatmap.shape == original.shape
    assert np.abs(seg.heatmap - original).max() <= 1 / 255 + 1e-6  # 8-bit fractional


def test_a_damaged_ai_object_is_reported_not_fatal(cxr_outcome, tmp_path) -> None:
    export = export_result_dicom(cxr_outcome, tmp_path)
    seg_path = _by_kind(export)["seg"]
    ds = pydicom.dcmread(seg_path)
    del ds.SegmentSequence
    ds.save_as(seg_path)
    objects, problems = ai_results_in(export.paths)
    assert {o.kind for o in objects} == {"sr", "capture"}
    assert [p for p, _ in problems] == [seg_path] and problems[0][1]


def test_the_highdicom_table_loads_the_same_in_steps() -> None:
    import pkgutil

    from highdicom import _standard_utils as su

    from engine.dicom import _hd_tables

    reference = json.loads(pkgutil.get_data("highdicom", "_standard/module_attribute_map.json"))
    su.get_module_attribute_map.cache_clear()
    _hd_tables._done[0] = False
    _hd_tables.warm_tables()
    table = su.get_module_attribute_map()
    assert su.get_module_attribute_map.cache_info().currsize == 1
    assert set(table) == set(reference)
    assert all(list(table[k]) == reference[k] for k in reference)
    assert all(len(table[k]) == len(reference[k]) for k in reference)
    assert su.is_attribute_in_iod("PatientName", "1.2.840.10008.5.1.4.1.1.66.4")


def test_a_record_result_joins_the_patients_study(tmp_path) -> None:
    record = dict(age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150,
                  exang=0, oldpeak=2.3, slope=3, ca=0, thal=6)  # fmt: skip
    outcome = analyze(record, kind="record")
    assert not export_result_dicom(outcome, tmp_path).written  # no study: nothing to join
    export = export_result_dicom(outcome, tmp_path, study_source=str(CXR))
    assert export.kinds == ("sr",)
    sr = pydicom.dcmread(export.paths[0])
    source = pydicom.dcmread(CXR, stop_before_pixels=True)
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientID == source.PatientID
    assert "CurrentRequestedProcedureEvidenceSequence" not in sr  # the image was not read
    _dcmtk_clean(DSRDUMP, export.paths[0])
    obj = read_ai_object(export.paths[0])
    assert obj is not None
    (finding,) = obj.findings
    inputs = dict(t for t in finding.texts if t[0] == "Model input")
    assert len([t for t in finding.texts if t[0] == "Model input"]) == len(outcome.contributions)
    assert finding.measurement("Model score") == pytest.approx(outcome.prediction.score)
    assert inputs  # e.g. "age = 63 years"


def test_a_segmentation_is_not_an_image_series_of_its_own(cxr_outcome, tmp_path) -> None:
    from engine.dicom import scan_paths

    export = export_result_dicom(cxr_outcome, tmp_path)
    scan = scan_paths([CXR, *export.paths])
    kinds = {s.modality: s.is_image for s in scan.series}
    assert kinds == {"DX": True, "SEG": False, "SR": False, "OT": True}
    assert next(s.modality for s in scan.image_series) == "DX"
    objects, _ = ai_results_in(scan)  # the SEG is still found and read as a heat map
    assert {o.kind for o in objects} == {"sr", "seg", "capture"}

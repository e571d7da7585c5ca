"""Analysis ▸ Save result as DICOM…, and earlier results read back when a study opens."""

from __future__ import annotations

import json

import pydicom

from engine.net import Node, add_node, remove_node
from engine.resources import resource_path
from tests.desktop.conftest import open_and_wait
from tests.engine.net.conftest import OrthancServer, loopback, orthanc  # noqa: F401

CXR = resource_path("samples", "peds-cxr-pneumonia-j2k.dcm")
CXR_MODEL = resource_path("models", "cxr-pneumonia-resnet18-224", "manifest.json")


def _analyse_image(qtbot, window) -> None:
    open_and_wait(qtbot, window, [CXR])
    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        window.analyze_image()


def test_save_result_as_dicom_then_reopen_shows_it(qtbot, window, tmp_path) -> None:
    ai = window.ai_dicom
    assert not ai.save_action.isEnabled()  # nothing analysed yet
    _analyse_image(qtbot, window)
    assert ai.save_action.isEnabled() and ai.save_button.isVisibleTo(window.results)
    with qtbot.waitSignal(ai.jobs.succeeded, timeout=60000):
        assert ai.save_to(tmp_path / "out")
    written = sorted(p.name.rsplit("-", 1)[1] for p in (tmp_path / "out").glob("*.dcm"))
    assert written == ["capture.dcm", "seg.dcm", "sr.dcm"]
    assert "3 DICOM object(s) written" in window.status_text.text()

    # the study and its AI objects, opened fresh: findings listed, the map on the image
    window.close_studies()
    window.viewer.clear_heatmap()
    study = str(pydicom.dcmread(CXR, stop_before_pixels=True).StudyInstanceUID)
    with qtbot.waitSignal(ai.read_jobs.succeeded, timeout=60000):
        open_and_wait(qtbot, window, [CXR, tmp_path / "out"])
    qtbot.waitUntil(lambda: bool(window.browser.study_results(study)), timeout=10000)
    (line,) = window.browser.study_results(study)
    version = json.loads(CXR_MODEL.read_text(encoding="utf-8"))["version"]
    assert "Pneumonia" in line and version in line
    qtbot.waitUntil(lambda: window.viewer.heatmap is not None, timeout=10000)
    source = pydicom.dcmread(CXR, stop_before_pixels=True)
    assert window.viewer.heatmap.shape == (source.Rows, source.Columns)


def test_send_without_nodes_says_so(qtbot, window, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STETHOS_CONFIG_DIR", str(tmp_path))
    _analyse_image(qtbot, window)
    assert not window.ai_dicom.send_dialog()
    assert "No DICOM node is configured" in window.status_text.text()


def test_send_result_to_a_real_pacs(qtbot, window, orthanc: OrthancServer) -> None:  # noqa: F811
    add_node(Node("ai-pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port), replace_existing=True)
    try:
        _analyse_image(qtbot, window)
        ai = window.ai_dicom
        with qtbot.waitSignal(ai.jobs.succeeded, timeout=60_000) as done:
            assert ai.send_dialog("ai-pacs")
        export, sending = done.args[0]
        assert sending.sent == 3 and not sending.failed
        assert "Result sent to ai-pacs: 3 object(s)" in window.status_text.text()
        assert not any(p.exists() for p in export.paths)  # the temporary copies are gone
        series = orthanc.rest("/series?expand")
        modalities = {s["MainDicomTags"].get("Modality") for s in series}  # type: ignore[union-attr]
        assert {"SR", "SEG", "OT"} <= modalities
    finally:
        remove_node("ai-pacs")


def test_an_ecg_rhythm_result_reads_back_under_its_study(qtbot, window, tmp_path) -> None:
    from engine.workflow import analyze, export_result_dicom

    ecg = resource_path("samples", "ecg-12-lead.dcm")
    outcome = analyze(ecg, kind="signal", model_id="ecg-rhythm-features-300")
    export = export_result_dicom(outcome, tmp_path)
    study = str(pydicom.dcmread(ecg, stop_before_pixels=True).StudyInstanceUID)
    with qtbot.waitSignal(window.ai_dicom.read_jobs.succeeded, timeout=60_000):
        open_and_wait(qtbot, window, [ecg, *export.paths])
    # a study without images has no row in the browser: the ECG view lists its findings
    assert window.browser.study_results(study) == []
    label = window.ai_dicom.ecg_earlier
    assert label.isVisibleTo(window.ecg)
    lines = label.text().splitlines()
    assert lines[0] == "Earlier AI results stored with this study:"
    assert lines[1].startswith("Electrocardiogram finding") and "Cardiac Rhythm: " in lines[1]
    assert lines[1].endswith(outcome.model.version)

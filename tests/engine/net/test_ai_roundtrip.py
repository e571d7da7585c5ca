"""AI result objects through a real PACS: send, query, retrieve, open, same findings and map."""

from __future__ import annotations

import numpy as np
import pydicom

from engine.dicom import scan_paths
from engine.net import InstanceCache, Node, find_studies, get_study, send_files
from engine.resources import resource_path
from engine.workflow import analyze
from engine.workflow.dicom_results import (
    ResultReview,
    ai_results_in,
    export_result_dicom,
    heatmap_for,
)
from tests.engine.net.conftest import OrthancServer

CXR = resource_path("samples", "peds-cxr-normal.dcm")


def test_sr_and_seg_round_trip_through_orthanc(orthanc: OrthancServer, tmp_path) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    outcome = analyze(CXR)
    review = ResultReview("accepted", "agree", "Grace Hopper", "grace")
    export = export_result_dicom(outcome, tmp_path / "out", review=review)
    sent = send_files(node, [CXR, *export.paths])
    assert sent.sent == 4 and not sent.failed, sent.failed

    source = pydicom.dcmread(CXR, stop_before_pixels=True)
    (study,) = [s for s in find_studies(node) if s["StudyInstanceUID"] == source.StudyInstanceUID]
    assert {"SR", "SEG"} <= set(study["ModalitiesInStudy"])

    cache = InstanceCache(tmp_path / "cache")
    got = get_study(node, str(source.StudyInstanceUID), cache)
    assert got.failed == 0 and got.received == 4

    # opened in Stethos: the scan lists the image; the AI objects read back from its series
    scan = scan_paths(list(got.files))
    objects, problems = ai_results_in(scan)
    assert not problems and sorted(o.kind for o in objects) == ["capture", "seg", "sr"]
    sr = next(o for o in objects if o.kind == "sr")
    sent_sr = ai_results_in([p for p in export.paths if p.name.endswith("sr.dcm")])[0][0]
    assert sr.findings == sent_sr.findings and sr.observers == sent_sr.observers
    assert sr.findings[0].algorithm_version == outcome.model.version
    seg = heatmap_for(objects, str(source.SOPInstanceUID))
    assert seg is not None and seg.heatmap is not None
    assert np.abs(seg.heatmap - np.clip(outcome.heatmap, 0, 1)).max() <= 1 / 255 + 1e-6

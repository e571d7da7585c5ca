"""Series level: list a study's series on the PACS and retrieve one of them (C-GET, C-MOVE,
WADO-RS), against a real Orthanc on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from engine.net import (
    InstanceCache,
    Listener,
    Node,
    PeerError,
    find_series,
    get_study,
    move_study,
    web_find_series,
    web_get_study,
)
from engine.resources import resource_path
from tests.engine.net.conftest import OrthancServer


@pytest.fixture(scope="module")
def two_series(orthanc: OrthancServer, tmp_path_factory) -> dict[str, list[str]]:
    """One study with series 2 (three instances) and series 1 (two), uploaded to Orthanc."""
    folder = tmp_path_factory.mktemp("series")
    base = pydicom.dcmread(resource_path("samples", "peds-cxr-normal.dcm"))
    study = generate_uid()
    out: dict[str, list[str]] = {}
    for number, count in ((2, 3), (1, 2)):
        series = generate_uid()
        out[series] = []
        for k in range(count):
            base.StudyInstanceUID, base.SeriesInstanceUID = study, series
            base.SeriesNumber, base.InstanceNumber = number, k + 1
            base.SeriesDescription = f"series {number}"
            base.SOPInstanceUID = generate_uid()
            base.file_meta.MediaStorageSOPInstanceUID = base.SOPInstanceUID
            path = folder / f"{number}-{k}.dcm"
            base.save_as(path, enforce_file_format=True)
            orthanc.upload(path)
            out[series].append(str(base.SOPInstanceUID))
    out["study"] = [study]
    return out


def _sops(files: list[Path]) -> set[str]:
    return {str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files}


def test_find_series_lists_them_in_series_number_order(
    orthanc: OrthancServer, two_series: dict[str, list[str]]
) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    found = find_series(node, two_series["study"][0])
    assert [s["SeriesNumber"] for s in found] == ["1", "2"]
    assert [s["NumberOfSeriesRelatedInstances"] for s in found] == [2, 3]
    assert {s["SeriesInstanceUID"] for s in found} == set(two_series) - {"study"}
    assert all(s["Modality"] == "DX" and s["SeriesDescription"].startswith("series") for s in found)


def test_get_one_series_brings_only_that_series(
    orthanc: OrthancServer, two_series: dict[str, list[str]], tmp_path
) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    study = two_series["study"][0]
    first, second = (uid for uid in two_series if uid != "study")
    cache = InstanceCache(tmp_path / "get")
    got = get_study(node, study, cache, series_instance_uid=first)
    assert got.received == 3 and _sops(got.files) == set(two_series[first])
    assert cache.study_files(study, second) == []
    # The other series afterwards: the study then holds both, nothing fetched twice.
    got2 = get_study(node, study, cache, series_instance_uid=second)
    assert got2.received == 2 and _sops(got2.files) == set(two_series[second])
    assert len(cache.study_files(study)) == 5
    again = get_study(node, study, cache)
    assert again.received == 0 and again.already_here == 5


def test_move_one_series_through_the_running_listener(
    orthanc: OrthancServer, two_series: dict[str, list[str]], tmp_path
) -> None:
    node = Node("pacs", "ORTHANC", "127.0.0.1", orthanc.dicom_port)
    study = two_series["study"][0]
    second = [uid for uid in two_series if uid != "study"][1]
    cache = InstanceCache(tmp_path / "move")
    stranger = Listener(cache, port=orthanc.our_port, host="127.0.0.1", allowed=[("OTHER", None)])
    with pytest.raises(PeerError, match="does not accept stores from pacs"):
        move_study(node, study, cache, port=orthanc.our_port, listener=stranger)
    running = Listener(cache, port=orthanc.our_port, host="127.0.0.1",
                       allowed=[("ORTHANC", "127.0.0.1")])  # fmt: skip
    running.start()
    try:
        got = move_study(node, study, cache, port=orthanc.our_port, series_instance_uid=second,
                         listener=running)  # fmt: skip
        assert running._server is not None  # the application's listener keeps running
    finally:
        running.stop()
    assert got.received == 2 and _sops(got.files) == set(two_series[second])


def test_dicomweb_series(
    orthanc: OrthancServer, two_series: dict[str, list[str]], tmp_path
) -> None:
    web = Node("web", "ORTHANC", "127.0.0.1", orthanc.dicom_port,
               dicomweb=f"{orthanc.url}/dicom-web")  # fmt: skip
    study = two_series["study"][0]
    found = web_find_series(web, study)
    assert [s["SeriesNumber"] for s in found] == ["1", "2"]
    uid = found[0]["SeriesInstanceUID"]
    got = web_get_study(web, study, InstanceCache(tmp_path / "web"), series_instance_uid=uid)
    assert got.received == 2 and _sops(got.files) == set(two_series[uid])


def test_dicomweb_errors_say_what_happened(orthanc: OrthancServer) -> None:
    from engine.net import PeerError, web_find_studies
    from tests.engine.net.conftest import free_port

    wrong_path = Node("web", "ORTHANC", "127.0.0.1", orthanc.dicom_port,
                      dicomweb=f"{orthanc.url}/no-such-root")  # fmt: skip
    with pytest.raises(PeerError, match=r"refused the query: HTTP 404"):
        web_find_studies(wrong_path)
    nobody = Node("web", "ORTHANC", "127.0.0.1", orthanc.dicom_port,
                  dicomweb=f"http://127.0.0.1:{free_port()}/dicom-web")  # fmt: skip
    t0 = time.monotonic()
    with pytest.raises(PeerError, match=r"Cannot connect to http://127\.0\.0\.1:\d+/dicom-web "
                       r"\(web\) for the query: the connection was refused"):  # fmt: skip
        web_find_studies(nobody)
    assert time.monotonic() - t0 < 10  # said at once, not after retries

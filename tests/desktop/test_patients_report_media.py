"""The report of an earlier encounter reads its image, heat map and ECG again from the files.

The PDF's text is read with ``pdftotext`` and its pictures are counted with
``pdfimages -list`` (Debian ``poppler-utils``); the test is skipped without them.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.resources import resource_path
from tests.desktop.conftest import VALID_RECORD
from tests.desktop.test_patients_workflow import add_patient, export, make_window, set_up, settle

pytestmark = pytest.mark.skipif(
    not (shutil.which("pdftotext") and shutil.which("pdfimages")),
    reason="poppler-utils (pdftotext, pdfimages) is not installed",
)


def pdf_text(path) -> str:
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return text.replace("\ufb01", "fi").replace("\ufb02", "fl")  # ligatures of the PDF font


def pdf_images(path) -> list[tuple[int, int]]:
    """(width, height) of each picture in the PDF (masks left out)."""
    out = subprocess.run(
        ["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True
    ).stdout
    sizes = []
    for line in out.splitlines()[2:]:
        cols = line.split()
        if len(cols) > 4 and cols[2] == "image":
            sizes.append((int(cols[3]), int(cols[4])))
    return sizes


@contextmanager
def _files_read() -> Iterator[list[tuple[str, threading.Thread]]]:
    """Every file the engine's DICOM reader reads meanwhile, with the thread that read it."""
    import pydicom

    from engine.dicom import files

    reads: list[tuple[str, threading.Thread]] = []
    original = pydicom.dcmread  # engine.dicom.files holds its own name for it

    def recording(fp, *args, **kwargs):
        reads.append((str(getattr(fp, "name", fp)), threading.current_thread()))
        return original(fp, *args, **kwargs)

    files.dcmread = pydicom.dcmread = recording  # type: ignore[assignment]
    try:
        yield reads
    finally:
        files.dcmread = pydicom.dcmread = original


def test_report_of_an_earlier_encounter_has_its_image_heatmap_and_ecg(qtbot, tmp_path):
    image_file = tmp_path / "chest.dcm"
    shutil.copyfile(resource_path("samples", "peds-cxr-normal.dcm"), image_file)
    ecg_file = tmp_path / "ecg.dcm"
    shutil.copyfile(resource_path("samples", "ecg-12-lead.dcm"), ecg_file)
    window = make_window(qtbot, tmp_path / "stethos.db")
    set_up(qtbot, window)
    add_patient(qtbot, window)
    patients = window.patients

    with qtbot.waitSignal(window.image_jobs.finished, timeout=20000):
        window.open_paths([image_file])
    with qtbot.waitSignal(window.analysis_jobs.succeeded, timeout=60000):
        window.analyze_image()
    settle(qtbot, window)
    image_result = patients.encounter.last_result
    assert image_result.result["input"]["path"] == str(image_file)
    assert image_result.result["heatmap"]["rows"] <= 64
    earlier = patients.encounter_id
    # the current encounter: the report shows the image on screen, with its heat map
    current = tmp_path / "current.pdf"
    export(qtbot, patients, earlier, current)
    assert len(pdf_images(current)) == 2, pdf_images(current)
    assert "With the model heat map" in pdf_text(current)

    window.ecg.open_signal(ecg_file)
    qtbot.waitUntil(lambda: window.ecg.signal is not None, timeout=20000)
    with qtbot.waitSignal(window.ecg.jobs.succeeded, timeout=60000):
        qtbot.mouseClick(window.ecg.analyze_button, Qt.MouseButton.LeftButton)
    settle(qtbot, window)
    ecg_result = patients.encounter.last_result
    assert ecg_result.encounter_id == earlier
    assert ecg_result.result["input"] == {
        "kind": "ecg",
        "path": str(ecg_file),
        "lead": ecg_result.result["input"]["lead"],
    }

    # a new encounter becomes the current one; the viewer shows nothing any more
    window.form.set_record(VALID_RECORD)
    assert patients.encounter.save_record()
    settle(qtbot, window)
    assert patients.encounter_id != earlier
    window.close_studies()

    pdf = tmp_path / "earlier.pdf"
    with _files_read() as reads:
        export(qtbot, patients, earlier, pdf)
    # the earlier encounter's DICOM image and DICOM ECG were read again, on a worker
    assert {Path(p).name for p, _ in reads} >= {"chest.dcm", "ecg.dcm"}
    assert all(t is not threading.main_thread() for _, t in reads), reads
    text = pdf_text(pdf)
    assert "chest.dcm" in text and "With the model heat map" in text
    assert "ecg.dcm" in text and "beats labelled by" in text
    assert "Beats per class:" in text  # the ECG result's beats, read back from the store
    assert "not available" not in text
    images = pdf_images(pdf)
    assert len(images) == 3, images  # image, image with heat map, ECG strip
    assert any(w > 1.5 * h for w, h in images)  # the ECG print is wide

    image_file.unlink()
    ecg_file.unlink()
    pdf2 = tmp_path / "earlier-files-gone.pdf"
    export(qtbot, patients, earlier, pdf2)
    text = " ".join(pdf_text(pdf2).split())
    assert f"Image not available: {image_file} (file missing)" in text
    assert f"ECG not available: {ecg_file} (file missing)" in text
    assert "heart-disease" not in text and "cxr-pneumonia" in text  # the results still listed
    assert pdf_images(pdf2) == []
    window.close()

"""Scanning files, folders and DICOMDIRs into patient → study → series; series geometry."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pydicom
import pytest

from engine.dicom import scan_paths
from engine.dicom.synthetic import write_ct_series
from engine.errors import OperationCancelled
from engine.progress import CancelToken
from tests.engine.dicom._helpers import pydicom_file


def test_dicomdir_groups_patients_studies_series():
    dicomdir = pydicom_file("DICOMDIR")
    result = scan_paths([dicomdir])
    # independent count: the IMAGE records of the DICOMDIR, via pydicom
    ds = pydicom.dcmread(dicomdir)
    records = ds.DirectoryRecordSequence
    kinds = [r.DirectoryRecordType for r in records]
    assert len(result.patients) == kinds.count("PATIENT")
    assert len(result.studies) == kinds.count("STUDY")
    assert len(result.series) == kinds.count("SERIES")
    assert sum(len(s.instances) for s in result.series) == kinds.count("IMAGE")
    assert result.problems == ()
    names = {p.name for p in result.patients}
    assert names == {"Doe Archibald", "Doe Peter"}
    brain = next(s for s in result.series if s.description == "Routine Brain")
    assert brain.ordered_by == "position"
    assert brain.has_gaps  # the test DICOMDIR keeps 4 slices of a longer series


def test_dicomdir_with_missing_file_reports_it(tmp_path: Path):
    source = pydicom_file("DICOMDIR").parent
    copy = tmp_path / "disc"
    shutil.copytree(source, copy)
    victim = next(p for p in (copy / "77654033" / "CT2").iterdir())
    victim.unlink()
    result = scan_paths(copy / "DICOMDIR")
    assert any("missing" in message for _, message in result.problems)
    assert any(victim.name in str(path) for path, _ in result.problems)


def test_folder_with_two_series_and_a_corrupt_file(tmp_path: Path):
    folder = tmp_path / "study"
    a = write_ct_series(folder / "a", 6, rows=32, cols=32, series_number=1)
    write_ct_series(folder / "b", 4, rows=32, cols=32, series_number=2, study_uid=None)
    data = a[0].read_bytes()
    (folder / "broken.dcm").write_bytes(data[: len(data) // 3])
    (folder / "readme.txt").write_text("not an image")
    result = scan_paths(folder)
    assert len(result.image_series) == 2
    assert sorted(s.n_images for s in result.image_series) == [4, 6]
    reported = {path.name: message for path, message in result.problems}
    assert set(reported) == {"broken.dcm", "readme.txt"}
    assert "“broken.dcm”" in reported["broken.dcm"]
    assert "not a DICOM file" in reported["readme.txt"]
    assert result.n_files == 12


def test_slices_are_ordered_by_position_not_file_name(ct_folder: Path):
    result = scan_paths(ct_folder)
    series = result.series[0]
    z = [s.position[2] for s in series.slices]
    assert z == sorted(z)
    names = [s.instance.path.name for s in series.slices]
    assert names != sorted(names)  # files were written in a shuffled order
    assert series.ordered_by == "position"
    assert series.slice_spacing == pytest.approx(1.25)
    assert series.problems == ()


def test_gap_nonuniform_duplicates_and_spacing_are_flagged(tmp_path: Path):
    folder = tmp_path / "ct"
    paths = write_ct_series(folder, 10, rows=16, cols=16, shuffle_names=False)
    paths[4].unlink()  # a missing slice → a gap
    shutil.copy(paths[1], folder / "copy_of_slice_2.dcm")  # same SOP Instance UID
    ds = pydicom.dcmread(paths[8])
    ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], -9.6]
    ds.PixelSpacing = [0.9, 0.9]
    ds.save_as(paths[8])
    series = scan_paths(folder).series[0]
    assert series.has_gaps
    assert series.non_uniform_spacing
    assert series.duplicate_instances == 1
    assert series.inconsistent_pixel_spacing
    text = " ".join(series.problems)
    assert "gap" in text and "not uniform" in text and "same SOP Instance UID" in text
    assert "Pixel spacing differs" in text
    assert len(series.slices) == 9


def test_mixed_orientations_fall_back_to_instance_number(tmp_path: Path):
    folder = tmp_path / "ct"
    paths = write_ct_series(folder, 5, rows=16, cols=16)
    ds = pydicom.dcmread(paths[2])
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # a sagittal localizer in the series
    ds.save_as(paths[2])
    series = scan_paths(folder).series[0]
    assert series.mixed_orientations
    assert series.ordered_by == "instance number"
    assert [s.instance.instance_number for s in series.slices] == [1, 2, 3, 4, 5]


def test_symlink_loops_do_not_hang_the_scan(ct_folder: Path):
    os.symlink(ct_folder, ct_folder / "loop")
    os.symlink(ct_folder.parent, ct_folder / "up")
    result = scan_paths(ct_folder)
    assert result.series[0].n_images == 12
    assert result.series[0].duplicate_instances == 0 or result.series[0].n_images == 12


def test_scan_reads_headers_only(ct_folder: Path, monkeypatch):
    import engine.dicom.files as files

    seen = []
    original = files.dcmread

    def spy(fp, *args, **kwargs):
        seen.append(kwargs.get("stop_before_pixels"))
        return original(fp, *args, **kwargs)

    monkeypatch.setattr(files, "dcmread", spy)
    scan_paths(ct_folder)
    # ordinary headers are parsed without pydicom (engine.dicom.fastheader); where
    # pydicom reads one, it stops before the pixels
    assert all(seen)


def test_scan_progress_and_cancel(ct_folder: Path):
    reports = []
    scan_paths(ct_folder, progress=lambda f, t="": reports.append(f))
    assert reports[0] == 0.0 and reports[-1] == 1.0
    assert reports == sorted(reports)
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        scan_paths(ct_folder, cancel=token)


def test_shared_corpus_scan_survives_every_file(dicom_data: Path):
    result = scan_paths(dicom_data)
    assert result.n_files > 150
    assert len(result.image_series) > 20
    # only the corpora's text files and deliberately broken files are problems
    for path, message in result.problems:
        assert path.name in message


def test_imager_pixel_spacing_reported_for_radiographs():
    result = scan_paths(pydicom_file("DICOMDIR"))
    cr = next(s for s in result.series if s.modality == "CR")
    assert cr.spacing.source == "ImagerPixelSpacing"


def test_a_dicomdir_entry_pointing_outside_the_disc_is_not_opened(tmp_path: Path):
    # PS3.10 file IDs name files on the medium; "..\\" would open files from elsewhere on the
    # workstation as if they were on the disc.
    source = pydicom_file("DICOMDIR").parent
    copy = tmp_path / "disc"
    shutil.copytree(source, copy)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.copy(copy / "77654033" / "CR1" / "6154", outside / "6154")
    raw = (copy / "DICOMDIR").read_bytes()
    original, escaping = b"77654033\\CR1\\6154", b"..\\elsewhere\\6154"
    assert len(original) == len(escaping) and raw.count(original) == 1  # same offsets after
    (copy / "DICOMDIR").write_bytes(raw.replace(original, escaping))
    result = scan_paths(copy / "DICOMDIR")
    opened = {Path(i.path).resolve() for s in result.series for i in s.instances}
    assert (outside / "6154").resolve() not in opened
    assert any("points outside the disc" in message for _, message in result.problems)
    assert sum(len(s.instances) for s in result.series) == 30  # the other 30 are read

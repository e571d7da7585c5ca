"""The first DICOM reader: sample study, pydicom's files, bad files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from engine.dicom import apply_window, read_image, render_8bit
from engine.errors import CorruptDicomError, NotDicomError
from engine.resources import resource_path


def test_sample_study_reads_as_cr_with_full_range_window():
    path = resource_path("samples", "chest-cr-pa.dcm")
    image = read_image(path)
    raw = pydicom.dcmread(path).pixel_array
    assert image.modality == "CR"
    assert image.shape == raw.shape
    assert image.pixel_spacing == (0.168, 0.168)
    # No window in the file: the full range maps (almost) 1:1 for 8-bit data;
    # PS3.3's linear formula with w = 255 differs from identity by at most 1.
    assert np.abs(render_8bit(image).astype(int) - raw.astype(int)).max() <= 1


def test_monochrome1_sample_is_inverted():
    path = resource_path("samples", "chest-cr-pa-monochrome1.dcm")
    image = read_image(path)
    raw = pydicom.dcmread(path).pixel_array.astype(np.int32)
    assert image.monochrome1
    expected = 255 - np.rint((raw - raw.min()) * 255.0 / (raw.max() - raw.min()))
    assert np.abs(render_8bit(image).astype(int) - expected).max() <= 1


def test_ct_modality_values_are_hounsfield_units():
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    image = read_image(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.allclose(image.frames[0], expected)
    assert image.units == "HU"


def test_linear_window_matches_ps33_formula():
    values = np.array([-1000.0, 39.5, 40.0, 440.0, 2000.0], dtype=np.float32)
    out = apply_window(values, center=40.0, width=400.0)
    # PS3.3 C.11.2.1.2.1: y = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255, clipped.
    expected = np.clip(((values - 39.5) / 399.0 + 0.5) * 255.0, 0, 255)
    assert np.array_equal(out, np.rint(expected).astype(np.uint8))
    assert out[0] == 0 and out[-1] == 255


def test_not_dicom_file_gets_clear_message(tmp_path):
    bad = tmp_path / "notes.dcm"
    bad.write_text("this is a text file, not an image")
    with pytest.raises(NotDicomError) as info:
        read_image(bad)
    assert "notes.dcm" in info.value.user_message
    assert "not a DICOM file" in info.value.user_message


def test_truncated_dicom_gets_clear_message(tmp_path):
    source = resource_path("samples", "chest-cr-pa.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(source[: len(source) // 2])
    with pytest.raises(CorruptDicomError) as info:
        read_image(cut)
    assert "cut.dcm" in info.value.user_message

"""Unreadable, truncated, non-DICOM, unsupported and absurd files: typed errors with messages."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

from engine.dicom import read_image
from engine.dicom.pixels import apply_window
from engine.errors import CorruptDicomError, NotDicomError, UnsupportedDicomError
from tests.engine.dicom._helpers import pydicom_file


def test_text_file_is_not_dicom(tmp_path: Path):
    bad = tmp_path / "notes.dcm"
    bad.write_text("this is a text file, not an image")
    with pytest.raises(NotDicomError) as info:
        read_image(bad)
    assert "“notes.dcm” is not a DICOM file" in info.value.user_message


def test_missing_file(tmp_path: Path):
    with pytest.raises(NotDicomError) as info:
        read_image(tmp_path / "gone.dcm")
    assert "“gone.dcm” does not exist" in info.value.user_message


def test_truncated_pixel_data_is_corrupt():
    with pytest.raises(CorruptDicomError) as info:
        read_image(pydicom_file("MR_truncated.dcm"))
    assert "MR_truncated.dcm" in info.value.user_message
    assert "incomplete pixel data" in info.value.user_message


def test_file_cut_in_its_header_is_corrupt(tmp_path: Path):
    data = pydicom_file("CT_small.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[:700])
    with pytest.raises((CorruptDicomError, UnsupportedDicomError)) as info:
        read_image(cut)
    assert "cut.dcm" in info.value.user_message


def test_structured_report_holds_no_image():
    with pytest.raises(UnsupportedDicomError) as info:
        read_image(pydicom_file("test-SR.dcm"))
    assert "holds no image" in info.value.user_message


def test_dicomdir_is_named_as_such():
    with pytest.raises(UnsupportedDicomError) as info:
        read_image(pydicom_file("DICOMDIR"))
    assert "DICOMDIR" in info.value.user_message


def test_unknown_transfer_syntax_is_unsupported(pydicom_data: Path):
    # Deflated Image Frame Compression (2024) has no decoder in pydicom 3.0
    with pytest.raises(UnsupportedDicomError) as info:
        read_image(pydicom_data / "liver_deflate.dcm")
    assert "liver_deflate.dcm" in info.value.user_message
    assert "cannot decode" in info.value.user_message


def test_invalid_number_of_frames_is_refused():
    with pytest.raises(CorruptDicomError) as info:
        read_image(pydicom_file("badVR.dcm"))
    assert "Number of Frames" in info.value.user_message


def test_damaged_jpeg2000_is_refused_not_shown(pylibjpeg_data: Path):
    with pytest.raises(CorruptDicomError) as info:
        read_image(pylibjpeg_data / "JPEG2000Lossless" / "966.dcm", external=False)
    assert "966.dcm" in info.value.user_message


def test_rle_decoder_panic_becomes_corrupt_dicom_error(tmp_path: Path):
    """pylibjpeg-rle panics (a BaseException) on a bad segment offset; we must not crash."""
    ds = pydicom.dcmread(pydicom_file("MR_small_RLE.dcm"))
    frame = bytearray(next(generate_frames(ds.PixelData, number_of_frames=1)))
    frame[8] = 0  # second segment offset now points inside the first segment
    ds.PixelData = encapsulate([bytes(frame)])
    bad = tmp_path / "panic.dcm"
    ds.save_as(bad)
    with pytest.raises(CorruptDicomError) as info:
        read_image(bad)
    assert "panic.dcm" in info.value.user_message
    assert "panic" in (info.value.detail or "")


def test_fuzzed_files_never_escape_as_other_errors(tmp_path: Path):
    rng = np.random.default_rng(7)
    sources = [
        pydicom_file(n)
        for n in (
            "MR_small_RLE.dcm",
            "MR_small_jp2klossless.dcm",
            "JPEG2000.dcm",
            "MR_small_jpeg_ls_lossless.dcm",
            "SC_rgb_jpeg_dcmtk.dcm",
        )
    ]
    for k in range(40):
        data = bytearray(sources[k % len(sources)].read_bytes())
        start = len(data) // 2
        for _ in range(8):
            i = int(rng.integers(start, len(data)))
            data[i] = int(rng.integers(0, 256))
        path = tmp_path / f"fuzz{k}.dcm"
        path.write_bytes(bytes(data))
        try:
            image = read_image(path, external=False)
        except (CorruptDicomError, UnsupportedDicomError, NotDicomError) as exc:
            assert f"fuzz{k}.dcm" in exc.user_message
        else:
            assert image.frames.size > 0


def test_absurd_header_is_refused_before_allocation(tmp_path: Path):
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 1000
    huge = tmp_path / "huge.dcm"
    ds.save_as(huge)
    start = time.perf_counter()
    with pytest.raises(UnsupportedDicomError) as info:
        read_image(huge)
    assert time.perf_counter() - start < 2.0
    assert "huge.dcm" in info.value.user_message
    assert "GiB" in info.value.user_message


def test_pixel_bound_is_configurable():
    path = pydicom_file("CT_small.dcm")  # 128 × 128
    with pytest.raises(UnsupportedDicomError):
        read_image(path, max_bytes=10_000)
    assert read_image(path, max_bytes=1_000_000).shape == (128, 128)


def test_window_functions_follow_ps33():
    x = np.array([-1000.0, 0.0, 39.5, 40.0, 239.5, 2000.0], dtype=np.float32)
    c, w = 40.0, 400.0
    linear = apply_window(x, c, w)
    expected = np.clip(((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0, 0, 255)
    assert np.array_equal(linear, np.rint(expected).astype(np.uint8))
    exact = apply_window(x, c, w, function="LINEAR_EXACT")
    assert np.array_equal(
        exact, np.rint(np.clip(((x - c) / w + 0.5) * 255, 0, 255)).astype(np.uint8)
    )
    sigmoid = apply_window(x, c, w, function="SIGMOID")
    assert np.array_equal(sigmoid, np.rint(255 / (1 + np.exp(-4 * (x - c) / w))).astype(np.uint8))
    assert sigmoid[3] == 128  # the centre maps to mid-grey
    assert np.array_equal(apply_window(x, c, w, invert=True), 255 - linear)
    # width 1: a threshold at c - 0.5
    assert list(apply_window(np.array([39.0, 39.6]), 40.0, 1.0)) == [0, 255]

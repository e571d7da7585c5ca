"""Pixel Padding Value: the area outside the collimator is not image, so the full-range
window (used when a file declares no VOI window) leaves it out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine.dicom import read_image
from engine.dicom.pixels import full_range_window


def _cr(path: Path, padding: int | None) -> Path:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PhotometricInterpretation = "CR", "MONOCHROME2"
    ds.Rows = ds.Columns = 64
    ds.SamplesPerPixel, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 16, 12, 11
    ds.PixelRepresentation = 0
    img = np.full((64, 64), 0, dtype=np.uint16)  # outside the collimator
    img[8:56, 8:56] = np.linspace(1000, 3000, 48 * 48).reshape(48, 48).astype(np.uint16)
    if padding is not None:
        ds.PixelPaddingValue = padding
    ds.PixelData = img.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_padding_is_left_out_of_the_full_range_window(tmp_path: Path) -> None:
    padded = read_image(_cr(tmp_path / "padded.dcm", 0))
    plain = read_image(_cr(tmp_path / "plain.dcm", None))
    assert padded.padding == (0.0, 0.0) and plain.padding is None
    w, w0 = padded.default_window(), plain.default_window()
    assert w.center - w.width / 2 >= 999  # from the image's own minimum, about 1000
    assert w0.center - w0.width / 2 <= 0  # without the declaration the padding counts
    values = np.array([0.0, 5.0, 10.0, 4095.0])
    assert full_range_window(values, (4095.0, 4095.0)).width == 11.0

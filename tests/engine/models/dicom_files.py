"""Small DICOM images written with pydicom for the gate tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    *,
    modality: str = "DX",
    view: str = "PA",
    body_part: str = "CHEST",
    photometric: str = "MONOCHROME2",
) -> Path:
    """A minimal, valid 16-bit grey Secondary-Capture-like DICOM file."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = "Test^Gate"
    ds.PatientID = "GATE-1"
    ds.Modality = modality
    if view:
        ds.ViewPosition = view
    if body_part:
        ds.BodyPartExamined = body_part
    a = np.asarray(pixels, dtype=np.uint16)
    ds.Rows, ds.Columns = a.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = a.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path

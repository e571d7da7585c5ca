"""DICOM files the viewer and browser tests write with pydicom, and small helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    generate_uid,
)
from PySide6.QtCore import QPoint, QPointF

from tests.conftest import SHARED_DATA


def write_image(
    path: Path,
    stored: np.ndarray,
    *,
    modality: str = "CT",
    pixel_spacing: tuple[float, float] | None = (0.5, 0.5),
    imager_spacing: tuple[float, float] | None = None,
    intercept: float = 0.0,
    slope: float = 1.0,
    windows: list[tuple[float, float]] | None = None,
    position_z: float | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    instance: int = 1,
    description: str = "Test series",
) -> Path:
    """One uint16 MONOCHROME2 image (CT storage for CT, DX otherwise)."""
    meta = FileMetaDataset()
    sop_class = CTImageStorage if modality == "CT" else DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName = "TEST^VIEWER"
    ds.PatientID = "VIEW-001"
    ds.PatientBirthDate = "19700101"
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.StudyDate = "20240102"
    ds.StudyDescription = "Viewer test study"
    ds.SeriesDescription = description
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance
    ds.Modality = modality
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    if imager_spacing is not None:
        ds.ImagerPixelSpacing = list(imager_spacing)
    if position_z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, position_z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    if modality == "CT" or intercept or slope != 1.0:
        ds.RescaleIntercept = intercept
        ds.RescaleSlope = slope
        if modality == "CT":
            ds.RescaleType = "HU"
    if windows:
        ds.WindowCenter = [c for c, _ in windows]
        ds.WindowWidth = [w for _, w in windows]
    ds.PixelData = np.ascontiguousarray(stored, dtype=np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def shared_file(*parts: str) -> Path:
    """A file from ``../shared/data`` (skips when the folder is absent)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"shared data file not found: {path}")
    return path


def view_point(viewer, x: float, y: float) -> QPoint:
    """The widget pixel showing image coordinate ``(x, y)``."""
    return viewer.image_to_view(QPointF(x, y)).toPoint()


def image_point(viewer, p: QPoint) -> tuple[float, float]:
    """The image coordinate under widget pixel ``p``."""
    q = viewer.view_to_image(QPointF(p))
    return q.x(), q.y()


def drag(qtbot, viewer, start: QPoint, end: QPoint, button=None) -> None:
    """Press at ``start``, move through the middle to ``end``, release."""
    from PySide6.QtCore import Qt

    button = button or Qt.MouseButton.LeftButton
    qtbot.mousePress(viewer, button, pos=start)
    qtbot.mouseMove(viewer, (start + end) / 2)
    qtbot.mouseMove(viewer, end)
    qtbot.mouseRelease(viewer, button, pos=end)


def write_rgb(path: Path, rgb: np.ndarray, *, series_uid: str, study_uid: str, instance: int):
    """One 8-bit RGB secondary-capture image of a colour series."""
    from pydicom.uid import SecondaryCaptureImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID = "TEST^COLOUR", "COL-1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "US", 1, instance
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path

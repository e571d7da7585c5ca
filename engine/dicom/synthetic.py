"""Write synthetic CT-like series, clearly marked as such, for tests and benchmarks.

The images are a smooth phantom (a water cylinder with bone and air
inserts, plus mild noise) in Hounsfield units, stored as 12-bit unsigned
values with rescale intercept −1024, one file per slice, like a scanner
writes them. Patient name ``SYNTHETIC^PHANTOM``; Image Type
``DERIVED\\SECONDARY\\SYNTHETIC``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from engine.progress import CancelToken, Progress, check_cancelled, no_progress


def phantom_slice(rows: int, cols: int, z: float, rng: np.random.Generator) -> np.ndarray:
    """One slice of the phantom in HU (float32)."""
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    cy, cx = rows / 2.0, cols / 2.0
    r = np.hypot((y - cy) / (0.42 * rows), (x - cx) / (0.45 * cols))
    hu = np.full((rows, cols), -1000.0, dtype=np.float32)
    hu[r < 1.0] = 0.0 + 40.0 * np.sin(z / 15.0)
    bone = np.hypot(y - cy, x - (cx - 0.2 * cols)) < 0.06 * rows
    air = np.hypot(y - cy, x - (cx + 0.2 * cols)) < (0.05 + 0.02 * np.cos(z / 20.0)) * rows
    hu[bone] = 900.0
    hu[air] = -950.0
    hu += rng.normal(0.0, 12.0, size=hu.shape).astype(np.float32)
    return hu


def write_ct_series(
    folder: str | Path,
    n_slices: int,
    *,
    rows: int = 512,
    cols: int = 512,
    spacing: float = 1.25,
    pixel_spacing: float = 0.7,
    transfer_syntax: str | None = None,
    seed: int = 0,
    series_uid: str | None = None,
    study_uid: str | None = None,
    series_number: int = 1,
    shuffle_names: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Write ``n_slices`` files of one synthetic axial CT series into ``folder``.

    Parameters
    ----------
    folder
        Created if needed.
    n_slices, rows, cols
        Size of the series.
    spacing, pixel_spacing
        Slice and in-plane spacing in mm.
    transfer_syntax
        A compressed transfer syntax UID to encode with (pydicom
        ``Dataset.compress``; JPEG 2000 / RLE / JPEG-LS lossless), or
        ``None`` for Explicit VR Little Endian.
    shuffle_names
        Name files in a shuffled order so that loading must sort by position.

    Returns
    -------
    list of Path
        The files, in slice order.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = generate_uid()
    names = np.arange(n_slices)
    if shuffle_names:
        names = rng.permutation(n_slices)
    paths = []
    for i in range(n_slices):
        check_cancelled(cancel)
        z = -i * spacing
        hu = phantom_slice(rows, cols, z, rng)
        stored = np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = "SYNTHETIC^PHANTOM"
        ds.PatientID = "SYNTH-0001"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.StudyDate = "20240101"
        ds.StudyTime = "120000"
        ds.StudyDescription = "Synthetic phantom"
        ds.SeriesDescription = "Synthetic axial CT"
        ds.SeriesNumber = series_number
        ds.Modality = "CT"
        ds.ImageType = ["DERIVED", "SECONDARY", "SYNTHETIC"]
        ds.InstanceNumber = i + 1
        ds.ImagePositionPatient = [-cols * pixel_spacing / 2, -rows * pixel_spacing / 2, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [pixel_spacing, pixel_spacing]
        ds.SliceThickness = spacing
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = stored.tobytes()
        if transfer_syntax is not None:
            ds.compress(transfer_syntax)
        path = out / f"IM{int(names[i]):05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        progress((i + 1) / n_slices, f"Wrote {path.name}")
    return paths

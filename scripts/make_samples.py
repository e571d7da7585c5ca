"""Build the pediatric chest sample studies shipped in ``resources/samples/``.

Each is a real Kermany radiograph (CC BY 4.0) at original resolution, wrapped
as a DICOM Digital X-Ray (for presentation) object and clearly marked as
derived: ``ImageType`` DERIVED\\SECONDARY, a Derivation Description, and
invented identifiers. The same image is written with three transfer
syntaxes (JPEG 2000 lossless, JPEG-LS lossless, explicit VR little endian)
so the installed application proves its decoders. The images chosen belong
to patients in the pneumonia model's held-out test split (never trained on).
Run from the repository
root: ``.venv/bin/python scripts/make_samples.py``.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    generate_uid,
)

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "data" / "cxr" / "kermany-fullres-samples" / "train"
OUT = REPO / "resources" / "samples"
# Fixed UID root derived from a constant so rebuilding gives the same UIDs.
UID_ENTROPY = "stethos-sample-studies-v1"

SAMPLES = [
    ("PNEUMONIA/person554_bacteria_2321.jpeg", "peds-cxr-pneumonia-j2k.dcm", JPEG2000Lossless,
     "SAMPLE^PNEUMONIA", "STH-SAMPLE-001"),
    ("NORMAL/NORMAL2-IM-1266-0001.jpeg", "peds-cxr-normal-jls.dcm", JPEGLSLossless,
     "SAMPLE^NORMAL", "STH-SAMPLE-002"),
    ("NORMAL/NORMAL2-IM-1266-0001.jpeg", "peds-cxr-normal.dcm", ExplicitVRLittleEndian,
     "SAMPLE^NORMAL", "STH-SAMPLE-002"),
]  # fmt: skip


def _uid(*parts: str) -> str:
    return generate_uid(entropy_srcs=[UID_ENTROPY, *parts])


def build(src: Path, syntax, name: str, patient_id: str) -> Dataset:
    pixels = np.asarray(Image.open(src).convert("L"), dtype=np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = _uid(src.name, str(syntax))
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = _uid("study", patient_id)
    ds.SeriesInstanceUID = _uid("series", src.name)
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.PatientSex = "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20180101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.Modality = "DX"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "AP"
    ds.PatientOrientation = ["L", "F"]
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.BurnedInAnnotation = "NO"
    ds.StudyDescription = "Sample pediatric chest radiograph (Stethos demo)"
    ds.SeriesDescription = "Chest AP - derived from Kermany et al. 2018 (CC BY 4.0)"
    ds.DerivationDescription = (
        f"Converted from {src.name} of the Kermany pediatric chest X-ray data set "
        f"(doi:10.17632/rscbjbr9sj.2, CC BY 4.0) for Stethos on {dt.date.today():%Y-%m-%d}; "
        "not a clinical study; identifiers invented."
    )
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PresentationLUTShape = "IDENTITY"
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = 128
    ds.WindowWidth = 256
    ds.PixelData = pixels.tobytes()
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax)
    return ds


def main() -> int:
    if not SOURCE.is_dir():
        sys.stderr.write(f"source images not found at {SOURCE}\n")
        return 1
    for rel, out, syntax, name, pid in SAMPLES:
        ds = build(SOURCE / rel, syntax, name, pid)
        ds.save_as(OUT / out, enforce_file_format=True)
        print(f"{out}: {syntax.name}, {(OUT / out).stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

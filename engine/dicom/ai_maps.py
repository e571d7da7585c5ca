"""AI heat maps as DICOM images: a fractional Segmentation and a derived capture.

Two objects for an image result's heat map, both made with highdicom and
both new instances (the source image is never modified):

* :func:`build_heatmap_seg`: a *fractional* (probability) Segmentation with
  one segment, the map at the source frame's size and registered to it
  (highdicom copies the source's geometry and references the source
  instance and frame), for viewers that show segmentations as a layer and
  for Stethos to read back;
* :func:`build_overlay_capture`: a Secondary Capture of the rendered image
  with the map burned in, for viewers that show only images, marked as
  derived AI output in its Image Type (``DERIVED\\SECONDARY\\AI_OVERLAY``),
  Series Description and Derivation Description, with the source in its
  Source Image Sequence.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from engine.dicom.ai_read import MANUFACTURER, OVERLAY_IMAGE_TYPE
from engine.dicom.ai_sr import ResultContent, evidence_header, series_description
from engine.errors import DicomError

#: The segment label of a Stethos heat map.
HEATMAP_LABEL = "AI relevance map"


def _algorithm(content: ResultContent) -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(
        name=content.model_name or content.model_id,
        version=content.model_version,
        family=codes.cid7162.ArtificialIntelligence,
        source=MANUFACTURER,
        parameters={"model_id": content.model_id, "weights_sha256": content.weights_sha256},
    )


def _software(content: ResultContent) -> tuple[str, str]:
    return (MANUFACTURER, f"{content.model_id} {content.model_version}")


def build_heatmap_seg(
    heatmap: np.ndarray,
    source: Dataset,
    content: ResultContent,
    *,
    frame: int = 0,
    series_uid: str,
    series_number: int,
    instance_number: int = 1,
) -> hd.seg.Segmentation:
    """A fractional Segmentation of ``heatmap`` (``[0, 1]``, the source frame's size).

    ``frame`` is the 0-based source frame the map belongs to (a multi-frame
    source gets a segmentation of that frame only).
    """
    rows, cols = int(source.Rows), int(source.Columns)
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    if heat.shape != (rows, cols):
        raise DicomError(
            f"The heat map is {heat.shape[1]}×{heat.shape[0]} but the image is {cols}×{rows}; "
            "it cannot be registered to the image."
        )
    n_frames = max(int(source.get("NumberOfFrames", 1) or 1), 1)
    pixels = np.zeros((n_frames, rows, cols, 1), dtype=np.float32)
    pixels[min(max(frame, 0), n_frames - 1), :, :, 0] = np.clip(heat, 0.0, 1.0)
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=HEATMAP_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=content.finding,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=_algorithm(content),
    )
    header = evidence_header(source)
    header.PixelData = b""  # highdicom reads only the geometry; no pixels are copied
    seg = hd.seg.Segmentation(
        source_images=[header],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL,
        segment_descriptions=[description],
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=(content.model_name or content.model_id)[:64],
        software_versions=MANUFACTURER,
        device_serial_number="0",
        fractional_type=hd.seg.SegmentationFractionalTypeValues.PROBABILITY,
        max_fractional_value=255,
        omit_empty_frames=n_frames > 1,
        series_description=series_description(content, "heat map"),
        content_label="AIHEATMAP",
        content_description=f"Explanation of {content.model_id} {content.model_version}"[:64],
    )
    seg.SoftwareVersions = list(_software(content))  # type: ignore[assignment]
    return seg


def build_overlay_capture(
    rgb: np.ndarray,
    source: Dataset,
    content: ResultContent,
    *,
    series_uid: str,
    series_number: int,
    instance_number: int = 1,
    method: str = "",
) -> hd.sc.SCImage:
    """A Secondary Capture of ``rgb`` (uint8 ``(H, W, 3)``: the image with the map burned in)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DicomError("The overlay capture needs an RGB image.")
    header = evidence_header(source)
    spacing = header.get("PixelSpacing") or header.get("ImagerPixelSpacing")
    sc = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=header,
        pixel_array=rgb,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        pixel_spacing=(float(spacing[0]), float(spacing[1])) if spacing else None,  # type: ignore[arg-type]
        patient_orientation=tuple(header.get("PatientOrientation") or ("", "")),
        transfer_syntax_uid="1.2.840.10008.1.2.1",
    )
    sc.ImageType = ["DERIVED", "SECONDARY", OVERLAY_IMAGE_TYPE]
    sc.SeriesDescription = series_description(content, "heat map overlay")
    sc.DerivationDescription = (
        f"AI output: {method or 'relevance'} heat map of {content.model_id} "
        f"{content.model_version} burned into a copy of the source image; not for primary "
        "diagnosis; the source image is unchanged"
    )[:1024]
    sc.BurnedInAnnotation = "NO"  # the burn-in is the map, no patient identity
    sc.SoftwareVersions = list(_software(content))  # type: ignore[assignment]
    ref = Dataset()
    ref.ReferencedSOPClassUID = source.SOPClassUID
    ref.ReferencedSOPInstanceUID = source.SOPInstanceUID
    sc.SourceImageSequence = [ref]
    return sc

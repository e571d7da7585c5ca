"""DICOM files: reading, pixel pipeline, series and rendering.

This package is the only place in Stethos that imports pydicom.

Public API
----------
read_image(path) -> DicomImage
    One file decoded: modality values (grayscale) or RGB, windows, spacing.
render_8bit(image, frame=0, window=None) -> uint8 array
    The frame as the viewer shows it.
apply_window(values, center, width, function=, invert=) -> uint8 array
scan_paths(paths, progress, cancel) -> ScanResult
    Files, folders and DICOMDIRs grouped patient → study → series (headers only).
load_series(series, progress, cancel, on_first_slice=None) -> Volume
    A grayscale series in one preallocated array, first slice shown early.
scan_and_load(paths, progress, cancel, on_first_slice=None) -> OpenedFiles
    Both in one pass over the files: the scan, and the first image series loaded.

Modules: ``files`` (opening, typed errors, size bound), ``decoders`` (fixed
plugin order, never GDCM in-process), ``pixels`` (Modality/VOI/Presentation
LUTs, windows, colour), ``image`` (one file), ``geometry`` (spacing, position),
``scan`` (files, folders, DICOMDIR → patients/studies/series), ``fastheader``
(ordinary headers without pydicom elements), ``walk`` (finding the files), ``volume``
(series loading), ``stream`` (scan and load in one pass), ``external`` (gdcmconv child-process fallback), ``verify``
(cross-check with dcmtk), ``synthetic`` (test series), ``commands`` (CLI).
"""

from __future__ import annotations

from engine.dicom.decoders import PLUGIN_ORDER, configure_decoders
from engine.dicom.files import MAX_PIXEL_BYTES, read_dataset, read_header
from engine.dicom.geometry import SPACING_PATIENT, SpacingInfo
from engine.dicom.image import DicomImage, FrameInfo, read_image, render_8bit
from engine.dicom.measure import RoiStats, angle_degrees, distance, roi_stats
from engine.dicom.pixels import (
    LookupTable,
    ModalityTransform,
    Window,
    apply_window,
    full_range_window,
    window_to_8bit,
)
from engine.dicom.scan import Instance, Patient, ScanResult, Series, SliceRef, Study, scan_paths
from engine.dicom.stream import OpenedFiles, scan_and_load
from engine.dicom.tags import TagNode, dataset_tree
from engine.dicom.volume import FirstSlice, Volume, load_series, shutdown_workers, start_workers

# Fix the decoding plugins (and drop GDCM) before anything can call pydicom's
# ``pixel_array`` with its own choice.
configure_decoders()

__all__ = [
    "MAX_PIXEL_BYTES",
    "PLUGIN_ORDER",
    "SPACING_PATIENT",
    "DicomImage",
    "FirstSlice",
    "FrameInfo",
    "Instance",
    "LookupTable",
    "ModalityTransform",
    "OpenedFiles",
    "Patient",
    "RoiStats",
    "ScanResult",
    "Series",
    "SliceRef",
    "SpacingInfo",
    "Study",
    "TagNode",
    "Volume",
    "Window",
    "angle_degrees",
    "apply_window",
    "configure_decoders",
    "dataset_tree",
    "distance",
    "full_range_window",
    "load_series",
    "read_dataset",
    "read_header",
    "read_image",
    "render_8bit",
    "roi_stats",
    "scan_and_load",
    "scan_paths",
    "shutdown_workers",
    "start_workers",
    "window_to_8bit",
]

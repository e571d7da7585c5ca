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

The names below load their module on first use (PEP 562): the pixel pipeline,
geometry and measurements (``Window``, ``apply_window``, ``distance``, ...)
need no pydicom, so the desktop's viewer can be built and shown before pydicom
(0.1–0.2 s) is loaded by the first file opened. Loading pydicom through
:mod:`engine.dicom.files` fixes the decoding plugins first (``configure_decoders``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_attributes

if TYPE_CHECKING:
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
    from engine.dicom.plugin_order import PLUGIN_ORDER, configure_decoders
    from engine.dicom.scan import Instance, Patient, ScanResult, Series, SliceRef, Study, scan_paths
    from engine.dicom.stream import OpenedFiles, scan_and_load
    from engine.dicom.tags import TagNode, dataset_tree
    from engine.dicom.volume import FirstSlice, Volume, load_series, shutdown_workers, start_workers

#: Public name → the module that defines it.
_MODULES: dict[str, str] = {
    "PLUGIN_ORDER": "plugin_order",
    "configure_decoders": "plugin_order",
    "MAX_PIXEL_BYTES": "files",
    "read_dataset": "files",
    "read_header": "files",
    "SPACING_PATIENT": "geometry",
    "SpacingInfo": "geometry",
    "DicomImage": "image",
    "FrameInfo": "image",
    "read_image": "image",
    "render_8bit": "image",
    "RoiStats": "measure",
    "angle_degrees": "measure",
    "distance": "measure",
    "roi_stats": "measure",
    "LookupTable": "pixels",
    "ModalityTransform": "pixels",
    "Window": "pixels",
    "apply_window": "pixels",
    "full_range_window": "pixels",
    "window_to_8bit": "pixels",
    "Instance": "scan",
    "Patient": "scan",
    "ScanResult": "scan",
    "Series": "scan",
    "SliceRef": "scan",
    "Study": "scan",
    "scan_paths": "scan",
    "OpenedFiles": "stream",
    "scan_and_load": "stream",
    "TagNode": "tags",
    "dataset_tree": "tags",
    "FirstSlice": "volume",
    "Volume": "volume",
    "load_series": "volume",
    "shutdown_workers": "volume",
    "start_workers": "volume",
}


__getattr__, __dir__ = lazy_attributes(__name__, _MODULES)

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

"""DICOM files: reading, pixel pipeline and rendering.

This package is the only place in Stethos that imports pydicom.
"""

from __future__ import annotations

from engine.dicom.image import DicomImage, Window, apply_window, read_image, render_8bit

__all__ = ["DicomImage", "Window", "apply_window", "read_image", "render_8bit"]

"""A plugin that fails before another decodes the frame leaves no ERROR in the log."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.dicom import read_image
from engine.errors import DicomError


def test_12_bit_jpeg_writes_no_error_tracebacks(shared_data: Path, caplog) -> None:
    path = shared_data / "dicom" / "pylibjpeg-data" / "ds" / "JPEGExtended" / "JPEG-lossy.dcm"
    caplog.set_level(logging.INFO)
    try:
        image = read_image(path)  # libjpeg and Pillow refuse 12-bit lossy; another decoder reads it
        assert image.frames.shape[-2:] == (1024, 256)
    except DicomError:
        pass  # no decoder installed for it: a clear error, which is not what this test is about
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]

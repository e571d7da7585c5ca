"""Helpers shared by the DICOM tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def pydicom_file(name: str) -> Path:
    """One of pydicom's bundled test files (never downloads)."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"pydicom test file {name} is not installed")
    return Path(path)

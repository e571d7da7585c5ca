"""Fixtures of the DICOM tests: shared corpora, pydicom's test files, written series."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _quiet_pydicom():
    """pydicom warns about every oddity of its deliberately odd test files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="session")
def dicom_data(shared_data: Path) -> Path:
    """``../shared/data/dicom`` (pydicom-data and pylibjpeg-data)."""
    folder = shared_data / "dicom"
    if not (folder / "pydicom-data").is_dir():
        pytest.skip(f"DICOM corpora not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def pydicom_data(dicom_data: Path) -> Path:
    """``../shared/data/dicom/pydicom-data``."""
    return dicom_data / "pydicom-data"


@pytest.fixture(scope="session")
def pylibjpeg_data(dicom_data: Path) -> Path:
    """``../shared/data/dicom/pylibjpeg-data/ds``."""
    return dicom_data / "pylibjpeg-data" / "ds"


@pytest.fixture
def ct_folder(tmp_path: Path) -> Path:
    """A folder with one synthetic 12-slice 64×64 CT series (files named out of order)."""
    from engine.dicom.synthetic import write_ct_series

    write_ct_series(tmp_path / "ct", 12, rows=64, cols=64)
    return tmp_path / "ct"

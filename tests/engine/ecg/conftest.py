"""Fixtures of the ECG tests: the shared MIT-BIH, PTB and DICOM ECG files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mitdb(shared_data: Path) -> Path:
    """``../shared/data/ecg/mitdb`` (26 MIT-BIH records)."""
    folder = shared_data / "ecg" / "mitdb"
    if not (folder / "101.hea").is_file():
        pytest.skip(f"MIT-BIH records not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def ecg_samples(shared_data: Path) -> Path:
    """``../shared/data/ecg/samples`` (PTB record and DICOM 12-lead ECG)."""
    folder = shared_data / "ecg" / "samples"
    if not (folder / "waveform_ecg.dcm").is_file():
        pytest.skip(f"ECG samples not found in {folder}")
    return folder


@pytest.fixture(scope="session")
def record_101(mitdb: Path):
    """MIT-BIH record 101, read once per session."""
    from engine.ecg import read_signal

    return read_signal(mitdb / "101")

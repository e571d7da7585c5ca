"""Open any ECG record Stethos reads: WFDB records and DICOM ECG waveforms."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.ecg.signal import Signal, fill_gaps, normalize_lead_name
from engine.errors import SignalError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

_WFDB_SUFFIXES = {".hea", ".dat", ".atr", ".xyz", ".qrs", ".ecg"}


def read_signal(
    path: str | os.PathLike[str],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> Signal:
    """Read an ECG record into a :class:`~engine.ecg.signal.Signal` in mV.

    Parameters
    ----------
    path
        A WFDB header (``101.hea``), a record path without extension
        (``mitdb/101``), another file of a WFDB record (``101.dat``), or a
        DICOM ECG waveform file (12-Lead, General or Ambulatory ECG).
    progress, cancel
        Progress reporting and cancellation (see :mod:`engine.progress`).

    Returns
    -------
    Signal
        All voltage leads in mV, annotations of the record's ``.atr`` file
        when there is one.

    Raises
    ------
    SignalError
        If the file is missing, damaged, truncated, or not an ECG, with a
        message naming the file.
    """
    from engine.ecg.wfdb_io import header_path_for, read_wfdb

    p = Path(path)
    check_cancelled(cancel)
    if p.is_dir():
        raise SignalError(
            f"“{p.name}” is a folder. Choose a WFDB header (.hea) or a DICOM ECG file."
        )
    header = header_path_for(p)
    if header is not None and (p.suffix.lower() in _WFDB_SUFFIXES or not p.is_file()):
        return read_wfdb(header, progress=progress, cancel=cancel)
    if p.suffix.lower() == ".hea" or (not p.exists() and not p.suffix):
        return read_wfdb(p, progress=progress, cancel=cancel)
    if not p.exists():
        raise SignalError(f"The ECG file “{p.name}” does not exist.", str(p))
    progress(0.0, f"Reading {p.name}")
    signal = read_dicom_ecg(p)
    progress(1.0, "Record loaded")
    return signal


def read_dicom_ecg(path: str | os.PathLike[str], group: int | None = None) -> Signal:
    """Read a DICOM ECG waveform object into a :class:`Signal`.

    Parameters
    ----------
    path
        DICOM file of an ECG SOP class.
    group
        Multiplex group to read; by default the longest original one (the
        rhythm recording, not the median beats).

    Returns
    -------
    Signal
        Leads in mV with standard names (``I``, ``II`` … ``V6``).

    Raises
    ------
    SignalError
        If the file is not a readable DICOM ECG.
    """
    from engine.dicom.waveform import read_ecg_waveform

    wave = read_ecg_waveform(path, group=group)
    leads = tuple(
        normalize_lead_name(label, code)
        for label, code in zip(wave.channel_labels, wave.channel_codes, strict=True)
    )
    label = f", {wave.group_label.strip()}" if wave.group_label.strip() else ""
    # samples at the group's padding value (input absent) are gaps, as WFDB's invalid samples
    filled = [fill_gaps(row, wave.fs) for row in wave.data]
    gaps = tuple(spans for _, spans in filled)
    data = np.stack([values for values, _ in filled]) if any(gaps) else wave.data
    return Signal(
        data=data,
        leads=leads,
        fs=wave.fs,
        source=wave.path,
        record_name=wave.path.stem,
        patient_id=wave.patient_id,
        patient_name=wave.patient_name,
        age=wave.patient_age,
        sex=wave.patient_sex,
        recorded_at=wave.acquired_at,
        comments=(wave.study_description,) if wave.study_description else (),
        source_format=f"DICOM {wave.sop_class}{label}",
        original_leads=wave.channel_labels,
        gaps=gaps if any(gaps) else (),
    )

"""ECG signals: WFDB and DICOM waveform records, filtering, beat detection.

This package is the only place in Stethos that imports ``wfdb``; DICOM
waveforms are decoded by :mod:`engine.dicom.waveform`.
"""

from __future__ import annotations

from engine.ecg.beats import (
    AAMI_CLASSES,
    AAMI_MAP,
    PPV_NOT_COUNTED,
    BeatMatch,
    BeatRR,
    BeatWindows,
    aami_class,
    beat_rr,
    beat_windows,
    excluded_intervals,
    is_beat,
    match_beats,
    reference_beats,
    rr_intervals,
)
from engine.ecg.evaluation import QrsScore, score_qrs
from engine.ecg.filters import (
    bandpass,
    notch,
    preprocess_signal,
    remove_baseline,
    resample,
    resample_signal,
)
from engine.ecg.io import read_dicom_ecg, read_signal
from engine.ecg.qrs import Beats, QrsParams, detect_beats, detect_qrs
from engine.ecg.signal import (
    BEAT_SYMBOLS,
    STANDARD_LEADS,
    Annotations,
    Signal,
    lead,
    lead_index,
    normalize_lead_name,
)
from engine.ecg.wfdb_io import read_wfdb

__all__ = [
    "AAMI_CLASSES",
    "AAMI_MAP",
    "BEAT_SYMBOLS",
    "PPV_NOT_COUNTED",
    "STANDARD_LEADS",
    "Annotations",
    "BeatMatch",
    "BeatRR",
    "BeatWindows",
    "Beats",
    "QrsParams",
    "QrsScore",
    "Signal",
    "aami_class",
    "bandpass",
    "beat_rr",
    "beat_windows",
    "detect_beats",
    "detect_qrs",
    "excluded_intervals",
    "is_beat",
    "lead",
    "lead_index",
    "match_beats",
    "normalize_lead_name",
    "notch",
    "preprocess_signal",
    "read_dicom_ecg",
    "read_signal",
    "read_wfdb",
    "reference_beats",
    "remove_baseline",
    "resample",
    "resample_signal",
    "rr_intervals",
    "score_qrs",
]

"""Decode DICOM ECG waveforms (12-Lead ECG, General ECG, Ambulatory ECG) to millivolts.

The Waveform module (PS3.3 C.10.9) stores interleaved integer samples per
multiplex group. The physical value of a sample ``s`` of a channel is
``s × Channel Sensitivity × Channel Sensitivity Correction Factor +
Channel Baseline`` in the units of the Channel Sensitivity Units Sequence
(UCUM ``uV``, ``mV`` …); this module converts them to mV. Lead names are
left as stored (code meaning and code value): :mod:`engine.ecg` normalises
them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import SignalError

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

#: SOP classes holding ECG waveforms, with a readable name.
ECG_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-Lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.4": "General 32-bit ECG",
    "1.2.840.10008.5.1.4.1.1.9.3.1": "Cardiac Electrophysiology",
}

_UNIT_TO_MV = {
    "uv": 1e-3,
    "µv": 1e-3,
    "μv": 1e-3,
    "microvolt": 1e-3,
    "mv": 1.0,
    "millivolt": 1.0,
    "v": 1e3,
    "volt": 1e3,
    "nv": 1e-6,
    "nanovolt": 1e-6,
}

_DTYPES = {
    (8, "SB"): "i1",
    (8, "UB"): "u1",
    (16, "SS"): "i2",
    (16, "US"): "u2",
    (32, "SL"): "i4",
    (32, "UL"): "u4",
    (64, "SV"): "i8",
    (64, "UV"): "u8",
}


@dataclass(frozen=True, eq=False)
class EcgWaveform:
    """One multiplex group of a DICOM ECG, in millivolts.

    Attributes
    ----------
    data
        ``float32`` ``(n_channels, n_samples)`` in mV (voltage channels only);
        ``nan`` where a sample holds the group's Waveform Padding Value (the
        channel's input was absent).
    fs
        Sampling frequency in Hz.
    channel_labels
        Each channel's source code meaning (``"Lead I (Einthoven)"``) or,
        failing that, its Channel Label.
    channel_codes
        Each channel's source code value (``"5.6.3-9-1"``), ``""`` if none.
    group_label, originality
        The multiplex group's label (``"RHYTHM"``) and ``ORIGINAL``/``DERIVED``.
    group_index, n_groups
        Which group of the Waveform Sequence was read, out of how many.
    sop_class
        Readable SOP class name (``"12-Lead ECG"``).
    calibrated
        ``False`` when a channel lacked Channel Sensitivity, so raw sample
        values were taken as µV.
    """

    path: Path
    data: np.ndarray
    fs: float
    channel_labels: tuple[str, ...]
    channel_codes: tuple[str, ...]
    group_label: str
    originality: str
    group_index: int
    n_groups: int
    sop_class: str
    calibrated: bool = True
    patient_name: str = ""
    patient_id: str = ""
    patient_age: str = ""
    patient_sex: str = ""
    acquired_at: str = ""
    study_description: str = ""
    sop_instance_uid: str = ""


def read_ecg_waveform(path: str | os.PathLike[str], group: int | None = None) -> EcgWaveform:
    """Read the ECG of a DICOM waveform object.

    Parameters
    ----------
    path
        A DICOM file of an ECG SOP class (or of modality ``ECG``).
    group
        Index of the multiplex group to read; by default the longest
        ``ORIGINAL`` group (the rhythm strip rather than median beats).

    Returns
    -------
    EcgWaveform
        Samples in mV with channel names as stored.

    Raises
    ------
    SignalError
        If the file is missing, not DICOM, not an ECG, damaged (waveform data
        shorter than declared) or in an encoding this reader does not handle.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    from engine.dicom.files import check_inflated_size, open_capped
    from engine.errors import DicomError

    p = Path(path)
    name = p.name
    try:
        with open_capped(p) as fp:
            check_inflated_size(fp, p)
            ds = pydicom.dcmread(fp)
        for _ in ds.iterall():  # convert every element now: a malformed one raises here
            pass
    except FileNotFoundError as exc:
        raise SignalError(f"The ECG file “{name}” does not exist.", str(exc)) from exc
    except InvalidDicomError as exc:
        raise SignalError(
            f"“{name}” is neither a WFDB record nor a DICOM file, so it cannot be read as an ECG.",
            str(exc),
        ) from exc
    except DicomError as exc:
        raise SignalError(exc.user_message, exc.detail) from exc
    except Exception as exc:  # pydicom raises many types on malformed input
        raise SignalError(
            f"“{name}” is damaged or truncated and cannot be read.", repr(exc)
        ) from exc

    sop_uid = str(ds.get("SOPClassUID", "") or "")
    modality = str(ds.get("Modality", "") or "")
    if sop_uid not in ECG_SOP_CLASSES and modality.upper() != "ECG":
        kind = _sop_name(sop_uid) or (f"{modality} object" if modality else "object")
        raise SignalError(
            f"“{name}” is a DICOM {kind}, not an ECG. Choose a DICOM ECG waveform file.",
            f"SOP Class {sop_uid or '?'}, Modality {modality or '?'}",
        )
    groups = list(ds.get("WaveformSequence", []) or [])
    if not groups:
        raise SignalError(f"“{name}” is a DICOM ECG without any waveform data.", sop_uid)
    index = _choose_group(groups) if group is None else group
    if not 0 <= index < len(groups):
        raise SignalError(
            f"“{name}” has {len(groups)} waveform groups; group {index} does not exist."
        )
    item = groups[index]
    try:
        raw = _decode_group(item, little_endian=_little_endian(ds))
        data, labels, codes, calibrated = _to_millivolts(item, raw)
        fs = float(item.SamplingFrequency)
    except SignalError as exc:
        raise SignalError(f"“{name}”: {exc.user_message}", exc.detail) from exc
    except (AttributeError, KeyError, ValueError, TypeError, IndexError) as exc:
        raise SignalError(
            f"“{name}” has a malformed waveform and cannot be read.", repr(exc)
        ) from exc
    if not fs > 0:
        raise SignalError(f"“{name}” declares no valid sampling frequency.", str(fs))
    return EcgWaveform(
        path=p,
        data=data,
        fs=fs,
        channel_labels=labels,
        channel_codes=codes,
        group_label=str(item.get("MultiplexGroupLabel", "") or ""),
        originality=str(item.get("WaveformOriginality", "") or ""),
        group_index=index,
        n_groups=len(groups),
        sop_class=ECG_SOP_CLASSES.get(sop_uid, "ECG"),
        calibrated=calibrated,
        patient_name=str(ds.get("PatientName", "") or ""),
        patient_id=str(ds.get("PatientID", "") or ""),
        patient_age=str(ds.get("PatientAge", "") or ""),
        patient_sex=str(ds.get("PatientSex", "") or ""),
        acquired_at=_acquired_at(ds),
        study_description=str(ds.get("StudyDescription", "") or ""),
        sop_instance_uid=str(ds.get("SOPInstanceUID", "") or ""),
    )


def _sop_name(uid: str) -> str:
    if not uid:
        return ""
    from pydicom.uid import UID

    name = UID(uid).name
    return "" if name == uid else name.removesuffix(" Storage")


def _little_endian(ds: Dataset) -> bool:
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
    return syntax != "1.2.840.10008.1.2.2"  # Explicit VR Big Endian (retired)


def _choose_group(groups: list[Dataset]) -> int:
    """The longest ORIGINAL group (rhythm), else the longest group."""

    def key(i: int) -> tuple[bool, int]:
        item = groups[i]
        original = str(item.get("WaveformOriginality", "")).upper() == "ORIGINAL"
        return original, int(item.get("NumberOfWaveformSamples", 0) or 0)

    return max(range(len(groups)), key=key)


def _decode_group(item: Dataset, *, little_endian: bool) -> np.ndarray:
    """Raw samples ``(n_channels, n_samples)`` of one multiplex group."""
    bits = int(item.WaveformBitsAllocated)
    interpretation = str(item.WaveformSampleInterpretation).upper()
    n_channels = int(item.NumberOfWaveformChannels)
    n_samples = int(item.NumberOfWaveformSamples)
    code = _DTYPES.get((bits, interpretation))
    if code is None:
        raise SignalError(
            f"its samples are stored as {interpretation} ({bits} bits), "
            "an encoding Stethos does not read (e.g. mu-law or A-law compression).",
            f"{bits} bits {interpretation}",
        )
    dtype = np.dtype(("<" if little_endian else ">") + code)
    buffer = bytes(item.WaveformData)
    expected = n_channels * n_samples * dtype.itemsize
    if n_channels <= 0 or n_samples <= 0:
        raise SignalError("its waveform declares no channels or no samples.")
    if len(buffer) < expected:
        raise SignalError(
            f"its waveform data is truncated ({len(buffer):,} of {expected:,} bytes).",
            f"{n_channels} channels × {n_samples} samples",
        )
    samples = np.frombuffer(buffer[:expected], dtype=dtype).reshape(n_samples, n_channels)
    out = samples.T.astype(np.float64)
    padding = item.get("WaveformPaddingValue")
    if padding is not None and len(bytes(padding)) >= dtype.itemsize:
        # "inserted in channels when input is absent" (PS3.3 C.10.9.1): not signal
        out[samples.T == np.frombuffer(bytes(padding)[: dtype.itemsize], dtype=dtype)[0]] = np.nan
    return out


def _to_millivolts(
    item: Dataset, raw: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], bool]:
    definitions = list(item.get("ChannelDefinitionSequence", []) or [])
    if len(definitions) != raw.shape[0]:
        raise SignalError(
            "its channel definitions do not match its number of channels.",
            f"{len(definitions)} definitions for {raw.shape[0]} channels",
        )
    rows: list[np.ndarray] = []
    labels: list[str] = []
    codes: list[str] = []
    calibrated = True
    for channel, definition in zip(raw, definitions, strict=True):
        unit = _unit(definition)
        sensitivity = definition.get("ChannelSensitivity")
        if sensitivity is None or unit == "":
            calibrated = False
            factor = 1e-3  # raw values taken as µV, the usual ECG resolution
        elif unit in _UNIT_TO_MV:
            factor = _UNIT_TO_MV[unit]
        else:
            continue  # not a voltage channel (e.g. a pressure or respiration channel)
        scale = float(sensitivity if sensitivity is not None else 1.0)
        correction = float(definition.get("ChannelSensitivityCorrectionFactor", 1.0) or 1.0)
        baseline = float(definition.get("ChannelBaseline", 0.0) or 0.0)
        rows.append((channel * (scale * correction) + baseline) * factor)
        label, code = _source(definition)
        labels.append(label or f"channel {len(labels) + 1}")
        codes.append(code)
    if not rows:
        raise SignalError("none of its channels is an ECG lead measured in volts.")
    return np.asarray(rows, dtype=np.float32), tuple(labels), tuple(codes), calibrated


def _unit(definition: Dataset) -> str:
    units = list(definition.get("ChannelSensitivityUnitsSequence", []) or [])
    if not units:
        return ""
    code = str(units[0].get("CodeValue", "") or "").strip().lower()
    meaning = str(units[0].get("CodeMeaning", "") or "").strip().lower()
    if code in _UNIT_TO_MV:
        return code
    return meaning if meaning in _UNIT_TO_MV else code or meaning


def _source(definition: Dataset) -> tuple[str, str]:
    sources = list(definition.get("ChannelSourceSequence", []) or [])
    label = str(definition.get("ChannelLabel", "") or "")
    if not sources:
        return label, ""
    source = sources[0]
    meaning = str(source.get("CodeMeaning", "") or "")
    code = str(source.get("CodeValue", "") or source.get("LongCodeValue", "") or "")
    return meaning or label, code


def _acquired_at(ds: Dataset) -> str:
    raw = str(ds.get("AcquisitionDateTime", "") or "")
    if not raw:
        date = str(ds.get("AcquisitionDate", "") or ds.get("ContentDate", "") or "")
        time = str(ds.get("AcquisitionTime", "") or ds.get("ContentTime", "") or "")
        date = date or str(ds.get("StudyDate", "") or "")
        time = time or str(ds.get("StudyTime", "") or "")
        raw = date + time
    digits = raw.split(".")[0].split("+")[0].split("-")[0]
    if len(digits) >= 8 and digits[:8].isdigit():
        iso = f"{digits[0:4]}-{digits[4:6]}-{digits[6:8]}"
        if len(digits) >= 12 and digits[8:12].isdigit():
            seconds = digits[12:14] if len(digits) >= 14 else "00"
            iso += f"T{digits[8:10]}:{digits[10:12]}:{seconds}"
        return iso
    return raw

"""Reading ECG records: WFDB (MIT-BIH, PTB) and DICOM waveforms, and their failures.

Sample values are checked against independent decoders written here from the
format specifications (WFDB format 212 and 16, the MIT annotation format,
DICOM PS3.3 C.10.9), not against the libraries the engine uses.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from engine.ecg import STANDARD_LEADS, read_signal
from engine.errors import OperationCancelled, SignalError
from engine.progress import CancelToken

GENERAL_ECG = "1.2.840.10008.5.1.4.1.1.9.1.2"


# --- independent decoders ---------------------------------------------------------------


def decode_212(raw: bytes, n_signals: int) -> np.ndarray:
    """WFDB format 212: two 12-bit two's-complement samples in three bytes."""
    b = np.frombuffer(raw, dtype=np.uint8)[: len(raw) // 3 * 3].reshape(-1, 3).astype(np.int32)
    first = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    second = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    flat = np.stack([first, second], axis=1).reshape(-1)
    flat = np.where(flat >= 2048, flat - 4096, flat)
    return flat[: len(flat) // n_signals * n_signals].reshape(-1, n_signals).T


#: MIT annotation codes that are beats (ecgcodes.h: NORMAL … RONT).
_BEAT_CODES = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 25, 30, 34, 35, 38, 41}


def parse_mit_annotations(path: Path) -> tuple[int, int]:
    """(annotations, beats) of a MIT-format annotation file."""
    words = np.fromfile(path, dtype="<u2")
    i = total = beats = 0
    while i < len(words):
        code, value = int(words[i]) >> 10, int(words[i]) & 0x3FF
        if code == 0 and value == 0:
            break
        if code == 59:  # SKIP: a 32-bit interval follows
            i += 3
        elif code == 63:  # AUX: ``value`` bytes follow, padded to a word
            i += 1 + (value + 1) // 2
        elif code in (60, 61, 62):  # NUM, SUB, CHN modify the previous annotation
            i += 1
        else:
            total += 1
            beats += code in _BEAT_CODES
            i += 1
    return total, beats


# --- WFDB ---------------------------------------------------------------------------------


def test_mitbih_record_in_millivolts(record_101, mitdb: Path) -> None:
    signal = record_101
    assert signal.fs == 360.0
    assert signal.leads == ("MLII", "V1")
    assert signal.data.shape == (2, 650000)
    assert signal.data.dtype == np.float32
    assert signal.duration_s == pytest.approx(650000 / 360)
    # 101.hea: gain 200 adu/mV, baseline (ADC zero) 1024 for both signals.
    raw = decode_212((mitdb / "101.dat").read_bytes(), 2)
    expected = (raw[:, :650000] - 1024) / 200.0
    np.testing.assert_allclose(signal.data, expected, atol=1e-6)
    assert signal.age == "75"
    assert signal.sex == "F"
    assert signal.source.name == "101.hea"


def test_mitbih_annotations_match_the_atr_file(record_101, mitdb: Path) -> None:
    total, beats = parse_mit_annotations(mitdb / "101.atr")
    assert len(record_101.annotations) == total
    assert len(record_101.annotations.beats()) == beats
    # The MIT-BIH Directory lists record 101 as 1860 N, 3 A and 2 Q beats.
    symbols = record_101.annotations.beats().symbols
    assert (symbols.count("N"), symbols.count("A"), symbols.count("Q")) == (1860, 3, 2)
    assert np.all(np.diff(record_101.annotations.samples) >= 0)


@pytest.mark.parametrize("suffix", ["", ".hea", ".dat", ".atr"])
def test_any_path_of_a_record_opens_it(mitdb: Path, suffix: str) -> None:
    signal = read_signal(Path(f"{mitdb / '101'}{suffix}"))
    assert signal.source == mitdb / "101.hea"
    assert signal.n_leads == 2


def test_ptb_record_has_15_standard_and_frank_leads(ecg_samples: Path) -> None:
    signal = read_signal(ecg_samples / "s0010_re")
    assert signal.fs == 1000.0
    assert signal.data.shape == (15, 38400)
    assert signal.leads[:12] == STANDARD_LEADS
    assert signal.leads[12:] == ("vx", "vy", "vz")
    assert signal.original_leads[:3] == ("i", "ii", "iii")
    # Format 16: little-endian int16, 12 signals in .dat, 3 in .xyz; gain 2000, baseline 0.
    dat = np.fromfile(ecg_samples / "s0010_re.dat", dtype="<i2").reshape(-1, 12).T
    xyz = np.fromfile(ecg_samples / "s0010_re.xyz", dtype="<i2").reshape(-1, 3).T
    np.testing.assert_allclose(signal.data, np.vstack([dat, xyz]) / 2000.0, atol=1e-6)
    assert signal.age == "81"
    assert signal.sex == "F"


# --- header quirks and damaged records ----------------------------------------------------


def _small_copy(mitdb: Path, folder: Path, record_line: str, n_samples: int = 3600) -> Path:
    """Record 101's first ``n_samples`` with a custom record line, in ``folder``."""
    lines = (mitdb / "101.hea").read_text().splitlines()
    lines[0] = record_line
    (folder / "101.hea").write_text("\n".join(lines) + "\n")
    (folder / "101.dat").write_bytes((mitdb / "101.dat").read_bytes()[: n_samples * 3])
    return folder / "101.hea"


def test_header_with_an_unparseable_date_is_read(mitdb: Path, tmp_path: Path) -> None:
    header = _small_copy(mitdb, tmp_path, "101 2 360 3600 25:61:00 31/13/2020")
    signal = read_signal(header)
    assert signal.data.shape == (2, 3600)
    raw = decode_212((mitdb / "101.dat").read_bytes()[: 3600 * 3], 2)
    np.testing.assert_allclose(signal.data, (raw - 1024) / 200.0, atol=1e-6)
    assert signal.recorded_at == "25:61:00 31/13/2020"  # kept as written
    assert signal.source == header


def test_header_with_an_iso_date_is_read(mitdb: Path, tmp_path: Path) -> None:
    header = _small_copy(mitdb, tmp_path, "101 2 360 3600 10:00:00 1990-10-01")
    assert read_signal(header).n_samples == 3600


def test_valid_base_date_becomes_iso(mitdb: Path, tmp_path: Path) -> None:
    header = _small_copy(mitdb, tmp_path, "101 2 360 3600 12:30:05 25/03/1990")
    assert read_signal(header).recorded_at == "1990-03-25T12:30:05"


def test_truncated_dat_is_refused(mitdb: Path, tmp_path: Path) -> None:
    shutil.copy(mitdb / "101.hea", tmp_path / "101.hea")
    (tmp_path / "101.dat").write_bytes((mitdb / "101.dat").read_bytes()[:100_000])
    with pytest.raises(SignalError) as info:
        read_signal(tmp_path / "101")
    message = info.value.user_message
    assert "101.dat" in message
    assert "truncated" in message


@pytest.mark.parametrize(
    "names",
    [
        ("101.HEA", "101.dat", "101.atr"),  # a CD without long names: upper-case extensions
        ("101.hea", "101.DAT", "101.ATR"),
        ("101.HEA", "101.DAT", "101.ATR"),
    ],
)
def test_a_record_whose_file_names_differ_in_case_reads_as_the_original(
    record_101, mitdb: Path, tmp_path: Path, names: tuple[str, str, str]
) -> None:
    from engine.ecg.stream import open_stream

    for source, name in zip(("101.hea", "101.dat", "101.atr"), names, strict=True):
        shutil.copy(mitdb / source, tmp_path / name)
    for given in (tmp_path / names[0], tmp_path / "101", tmp_path / names[1]):
        signal = read_signal(given)
        np.testing.assert_array_equal(signal.data, record_101.data)
        assert signal.annotations.samples.tolist() == record_101.annotations.samples.tolist()
    stream = open_stream(tmp_path / names[0])
    np.testing.assert_array_equal(stream.read(0, 3600), record_101.data[:, :3600])
    (tmp_path / names[1]).rename(tmp_path / "other.dat")
    with pytest.raises(SignalError, match=r"101\.dat.*missing"):
        read_signal(tmp_path / names[0])


def test_missing_dat_is_refused(mitdb: Path, tmp_path: Path) -> None:
    shutil.copy(mitdb / "101.hea", tmp_path / "101.hea")
    with pytest.raises(SignalError, match=r"101\.dat.*missing"):
        read_signal(tmp_path / "101.hea")


def test_missing_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignalError, match="not found") as info:
        read_signal(tmp_path / "nothing")
    assert "nothing.hea" in info.value.user_message
    with pytest.raises(SignalError, match="does not exist"):
        read_signal(tmp_path / "nothing.dcm")


def test_garbage_header_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.hea").write_text("this is not a header\nat all\n")
    with pytest.raises(SignalError, match=r"bad\.hea.*not a valid WFDB header"):
        read_signal(tmp_path / "bad.hea")


def test_pre_cancelled_read_stops(mitdb: Path) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(OperationCancelled):
        read_signal(mitdb / "101", cancel=token)


# --- DICOM waveforms ----------------------------------------------------------------------


def test_dicom_12_lead_ecg(ecg_samples: Path) -> None:
    path = ecg_samples / "waveform_ecg.dcm"
    signal = read_signal(path)
    assert signal.leads == STANDARD_LEADS
    assert signal.fs == 1000.0
    assert signal.data.shape == (12, 10000)
    assert signal.source_format.startswith("DICOM 12-Lead ECG")
    # Independent decode: interleaved int16, 1.25 µV per unit, baseline 0.
    ds = pydicom.dcmread(path)
    group = ds.WaveformSequence[0]
    raw = np.frombuffer(group.WaveformData, dtype="<i2").reshape(10000, 12).T
    np.testing.assert_allclose(signal.data, raw * 1.25e-3, atol=1e-6)
    # R peaks of lead II are plausible in mV (a µV/mV mix-up would be 1000× off).
    r_peaks = [signal.data[1, start : start + 1000].max() for start in range(0, 10000, 1000)]
    assert all(0.2 < r < 5.0 for r in r_peaks)
    assert signal.recorded_at == "2013-01-25T10:59:19"


def _write_general_ecg(path: Path, channels: list[dict], samples: np.ndarray, fs: float) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = GENERAL_ECG
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = GENERAL_ECG
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "ECG"
    ds.PatientName = "Test^Patient"
    ds.PatientID = "T-1"
    ds.AcquisitionDateTime = "20240102030405"
    group = Dataset()
    group.WaveformOriginality = "ORIGINAL"
    group.MultiplexGroupLabel = "RHYTHM"
    group.NumberOfWaveformChannels = len(channels)
    group.NumberOfWaveformSamples = samples.shape[1]
    group.SamplingFrequency = fs
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    definitions = []
    for spec in channels:
        definition = Dataset()
        source = Dataset()
        source.CodeValue = spec["code"]
        source.CodingSchemeDesignator = spec.get("scheme", "SCPECG")
        source.CodeMeaning = spec["meaning"]
        definition.ChannelSourceSequence = [source]
        definition.ChannelSensitivity = spec["sensitivity"]
        unit = Dataset()
        unit.CodeValue = spec["unit"]
        unit.CodingSchemeDesignator = "UCUM"
        unit.CodeMeaning = spec["unit"]
        definition.ChannelSensitivityUnitsSequence = [unit]
        definition.ChannelSensitivityCorrectionFactor = spec.get("correction", "1")
        definition.ChannelBaseline = spec.get("baseline", "0")
        definition.WaveformBitsStored = 16
        definitions.append(definition)
    group.ChannelDefinitionSequence = definitions
    group.WaveformData = np.ascontiguousarray(samples.T.astype("<i2")).tobytes()
    ds.WaveformSequence = [group]
    ds.save_as(path, enforce_file_format=True)
    return path


def test_dicom_units_correction_and_baseline(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    raw = rng.integers(-2000, 2000, size=(3, 500)).astype(np.int16)
    channels = [
        # mV channel with a correction factor and a baseline (in mV)
        {"code": "5.6.3-9-2", "meaning": "Lead II", "sensitivity": "0.005", "unit": "mV",
         "correction": "2", "baseline": "0.1"},
        # µV channel coded with the MDC lead number of aVR
        {"code": "2:62", "scheme": "MDC", "meaning": "aVR lead", "sensitivity": "2.5",
         "unit": "uV"},
        # a pressure channel: not a lead, left out
        {"code": "8867-4", "scheme": "LN", "meaning": "Arterial pressure",
         "sensitivity": "1", "unit": "mm[Hg]"},
    ]  # fmt: skip
    path = _write_general_ecg(tmp_path / "general.dcm", channels, raw, 500.0)
    signal = read_signal(path)
    assert signal.leads == ("II", "aVR")
    assert signal.fs == 500.0
    np.testing.assert_allclose(signal.data[0], raw[0] * 0.005 * 2 + 0.1, atol=1e-5)
    np.testing.assert_allclose(signal.data[1], raw[1] * 2.5 / 1000, atol=1e-6)
    assert signal.patient_name == "Test^Patient"
    assert signal.recorded_at == "2024-01-02T03:04:05"
    assert signal.source_format == "DICOM General ECG, RHYTHM"


def test_dicom_truncated_waveform_is_refused(tmp_path: Path) -> None:
    raw = np.zeros((1, 400), dtype=np.int16)
    spec = [{"code": "5.6.3-9-1", "meaning": "Lead I", "sensitivity": "1", "unit": "uV"}]
    path = _write_general_ecg(tmp_path / "short.dcm", spec, raw, 500.0)
    ds = pydicom.dcmread(path)
    ds.WaveformSequence[0].NumberOfWaveformSamples = 1000
    ds.save_as(path)
    with pytest.raises(SignalError, match=r"short\.dcm.*truncated"):
        read_signal(path)


def test_non_ecg_dicom_is_refused() -> None:
    ct = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
    with pytest.raises(SignalError, match="not an ECG") as info:
        read_signal(ct)
    assert "CT_small.dcm" in info.value.user_message


def test_non_dicom_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an ECG")
    with pytest.raises(SignalError, match=r"notes\.txt"):
        read_signal(path)

"""The Signal model: lead names, lead lookup with fallbacks, immutability."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from engine.ecg import Annotations, Signal, lead, lead_index, normalize_lead_name, read_signal
from engine.errors import SignalError


@pytest.mark.parametrize(
    ("label", "code", "expected"),
    [
        ("Lead I (Einthoven)", "5.6.3-9-1", "I"),
        ("Lead II", "", "II"),
        ("Lead aVR", "", "aVR"),
        ("ii", "", "II"),
        ("AVF", "", "aVF"),
        ("v1", "", "V1"),
        ("ECG Lead V6", "", "V6"),
        ("whatever the label", "5.6.3-9-61", "III"),
        ("", "2:63", "aVL"),
        ("", "131074", "II"),
        ("MLII", "", "MLII"),
        ("vx", "", "vx"),
    ],
)
def test_lead_names_are_normalised(label: str, code: str, expected: str) -> None:
    assert normalize_lead_name(label, code) == expected


def _signal(leads: tuple[str, ...]) -> Signal:
    data = np.arange(len(leads) * 10, dtype=np.float32).reshape(len(leads), 10)
    return Signal(data=data, leads=leads, fs=100.0, source=Path("x.hea"))


def test_lead_ii_falls_back_to_mlii() -> None:
    signal = _signal(("MLII", "V1"))
    assert lead_index(signal, "II") == 0
    assert lead_index(signal, None) == 0
    assert lead_index(signal, "v1") == 1
    np.testing.assert_array_equal(lead(signal, "V1"), signal.data[1])


def test_default_lead_prefers_ii_in_a_12_lead() -> None:
    from engine.ecg import STANDARD_LEADS

    signal = _signal(STANDARD_LEADS)
    assert lead_index(signal) == 1
    assert lead_index(signal, "rhythm") == 1
    assert lead_index(signal, "Lead aVF") == 5


def test_default_lead_without_ii_like_leads() -> None:
    assert lead_index(_signal(("V2", "V5"))) == 1  # V5 is next in preference
    assert lead_index(_signal(("vx", "vy"))) == 0


def test_missing_lead_names_the_record_and_its_leads() -> None:
    with pytest.raises(SignalError) as info:
        lead(_signal(("MLII", "V1")), "V4")
    assert "x.hea" in info.value.user_message
    assert "MLII, V1" in info.value.user_message


def test_mitbih_114_default_lead_is_mlii(mitdb: Path) -> None:
    signal = read_signal(mitdb / "114")  # stores V5 first, MLII second
    assert signal.leads == ("V5", "MLII")
    assert lead_index(signal) == 1


def test_signal_is_immutable() -> None:
    source = np.ones((1, 5), dtype=np.float32)
    signal = Signal(data=source, leads=("II",), fs=250, source=Path("a.dcm"))
    with pytest.raises(ValueError):
        signal.data[0, 0] = 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        signal.fs = 500.0  # type: ignore[misc]
    source[0, 0] = 7.0  # the caller's array stays the caller's
    assert signal.data[0, 0] == 1.0
    assert signal.duration_s == pytest.approx(5 / 250)


def test_signal_checks_its_shape() -> None:
    with pytest.raises(ValueError):
        Signal(data=np.zeros((2, 5)), leads=("II",), fs=250, source=Path("a"))


def test_annotations_select_beats() -> None:
    ann = Annotations(samples=np.array([1, 5, 9, 12]), symbols=("+", "N", "~", "V"))
    beats = ann.beats()
    assert beats.symbols == ("N", "V")
    np.testing.assert_array_equal(beats.samples, [5, 12])

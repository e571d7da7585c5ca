"""The fast header parser gives what pydicom gives, or hands the file to pydicom."""

from __future__ import annotations

from pathlib import Path

import pydicom.data
import pytest

from engine.dicom.fastheader import HEAD_BYTES, parse_header
from engine.dicom.files import SCAN_TAGS, read_header
from engine.dicom.scan import _grouping, instance_from_header
from engine.errors import DicomError

_PYDICOM_FILES = sorted(
    p for p in Path(pydicom.data.__file__).parent.rglob("*") if p.is_file() and p.suffix != ".py"
)


def _fast(path: Path):
    data = path.read_bytes()
    header = parse_header(data[:HEAD_BYTES], len(data))
    return (
        header if header is not None or len(data) <= HEAD_BYTES else parse_header(data, len(data))
    )


def _compare(paths: list[Path]) -> int:
    parsed = 0
    for path in paths:
        fast = _fast(path)
        try:
            reference = read_header(path, tags=SCAN_TAGS)
        except DicomError:
            assert fast is None, f"{path.name}: parsed, but pydicom refuses it"
            continue
        if fast is None:
            continue  # pydicom reads it (odd file)
        parsed += 1
        got = (fast.has_pixel_data, fast.pixel_offset, fast.truncated)
        want = (reference.has_pixel_data, reference.pixel_offset, reference.truncated)
        assert got == want, path.name
        assert instance_from_header(path, fast) == instance_from_header(path, reference), path.name
        assert _grouping(fast.ds, path) == _grouping(reference.ds, path), path.name
    return parsed


def test_pydicoms_test_files_give_the_same_instances():
    assert _compare(_PYDICOM_FILES) > 20  # explicit and implicit VR, charsets, sequences


def test_the_shared_corpora_give_the_same_instances(dicom_data: Path):
    files = sorted(p for p in dicom_data.rglob("*") if p.is_file() and p.stat().st_size < 50e6)
    if not files:
        pytest.skip("no corpus files")
    assert _compare(files) > 50


def test_odd_files_go_to_pydicom(tmp_path: Path):
    assert parse_header(b"\0" * 200, 200) is None  # no DICM preamble
    head = bytearray(b"\0" * 128 + b"DICM")
    assert parse_header(bytes(head), len(head)) is None  # no meta, no transfer syntax

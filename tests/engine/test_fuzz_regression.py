"""Replay the fuzzing regression corpus through the fuzzing property.

Every file under ``tests/fuzz/corpus/<target>/`` (inputs that once broke the
engine, minimised, and a few interesting ones) goes through the same check
the atheris target runs (``tests/fuzz/targets.py``): it either loads or is
refused with an :class:`~engine.errors.EngineError` that has a user message,
within the time bound. atheris is not needed here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.harness import TIME_BOUND_S, quiet, time_bound
from tests.fuzz.targets import TARGETS, warm_up

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"
CASES = sorted(
    (target, path)
    for target in TARGETS
    for path in (CORPUS / target).glob("*")
    if path.is_file() and not path.name.startswith(".")
)
_warm: set[str] = set()


def test_corpus_covers_every_target() -> None:
    assert {target for target, _ in CASES} == set(TARGETS)


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{t}/{p.name}" for t, p in CASES])
def test_input_loads_or_is_refused_with_a_message(target: str, path: Path) -> None:
    if target not in _warm:
        warm_up(target)  # imports and fixtures (the record model) outside the time bound
        _warm.add(target)
    with quiet(), time_bound(TIME_BOUND_S):
        TARGETS[target](path.read_bytes())


# --- one test per fix, asserting what the user sees ---------------------------------
def test_scan_refuses_a_file_declaring_more_frames_than_it_holds(tmp_path: Path) -> None:
    """Fuzzing finding: 10⁸ declared frames made the scan build 10⁸ slices (hang, GBs)."""
    from engine.dicom import scan_paths

    (tmp_path / "bad.dcm").write_bytes((CORPUS / "scan" / "frames-declared-1e8.dcm").read_bytes())
    with time_bound(5.0):
        result = scan_paths(tmp_path)
    assert result.series == ()
    ((path, message),) = result.problems
    assert path.name == "bad.dcm"
    assert "“bad.dcm” declares 100,000,000 frames" in message


def test_record_table_reports_a_short_line_instead_of_crashing() -> None:
    """Fuzzing finding: a 13-column file with a shorter line raised ValueError from zip()."""
    from engine.cli.models import read_record_table

    items = list(read_record_table(CORPUS / "records" / "short-second-line.csv"))
    by_row = {item.row: item for item in items}
    assert by_row[1].record is not None and by_row[1].record["age"] == 63
    assert by_row[2].record is None
    assert by_row[2].error.user_message == (
        "“short-second-line.csv” line 2 has 2 columns; a record has 13."
    )


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("zip-version-9.5.zip", "is not a readable zip archive"),
        ("zip-name-not-utf8.zip", "is not a readable zip archive"),
        ("zip-empty-member-name.zip", "contains an unsafe file name"),
        ("zip-bad-deflate-stream.zip", "is damaged"),
        ("zip-file-and-folder-same-name.zip", "holds a file name that cannot be unpacked"),
        ("zip-name-too-long.zip", "holds a file name that cannot be unpacked"),
        ("zip-spanning-disks.zip", "is not a readable zip archive"),
    ],
)
def test_damaged_bundle_archive_is_refused_with_a_message(
    tmp_path: Path, name: str, says: str
) -> None:
    """Fuzzing findings: zipfile's own exceptions escaped the bundle importer."""
    from engine.errors import ModelError
    from engine.models.registry import ModelRegistry

    archive = tmp_path / "model.zip"
    archive.write_bytes((CORPUS / "bundle" / name).read_bytes())
    registry = ModelRegistry([(tmp_path / "user", "user")])
    with pytest.raises(ModelError) as caught:
        registry.import_bundle(archive)
    assert "“model.zip”" in caught.value.user_message
    assert says in caught.value.user_message
    assert not any((tmp_path / "user").iterdir())  # nothing installed, no staging left


@pytest.mark.parametrize(
    "name",
    [
        "record-not-a-dataset",
        "record-sequence-bad-length",
        "record-sequence-not-items",
        "record-sequence-truncated",
        "record-sequence-unknown-vr",
        "file-id-unknown-vr",
    ],
)
def test_damaged_dicomdir_is_reported_not_raised(tmp_path: Path, name: str) -> None:
    """Fuzzing findings: pydicom's lazy parsing of DICOMDIR records raised out of scan_paths."""
    from engine.dicom import scan_paths

    dicomdir = tmp_path / "DICOMDIR"
    dicomdir.write_bytes((CORPUS / "dicomdir" / name).read_bytes())
    result = scan_paths([dicomdir])
    assert result.series == ()
    ((path, message),) = result.problems
    assert path == dicomdir
    assert message in (
        "“DICOMDIR” is a damaged DICOMDIR: its list of files cannot be read. Open the "
        "folder of the disc instead.",
        # a record sequence declaring more bytes than the file holds is caught on reading
        "“DICOMDIR” is damaged or truncated: an element declares more data than the file holds.",
    )


def test_dicomdir_with_unknown_vr_in_its_file_meta_is_reported(tmp_path: Path) -> None:
    """Fuzzing finding: is_dicomdir() converted a malformed file-meta element unguarded."""
    from engine.dicom import scan_paths

    dicomdir = tmp_path / "DICOMDIR"
    dicomdir.write_bytes((CORPUS / "dicomdir" / "meta-unknown-vr").read_bytes())
    ((path, message),) = scan_paths([dicomdir]).problems
    assert path == dicomdir and message.startswith("“DICOMDIR” is damaged")


def test_dicomdir_listing_a_name_too_long_reports_it_missing(tmp_path: Path) -> None:
    """Fuzzing finding: a 300-character file ID raised OSError (name too long) from the scan."""
    from engine.dicom import scan_paths

    dicomdir = tmp_path / "DICOMDIR"
    dicomdir.write_bytes((CORPUS / "dicomdir" / "file-id-name-too-long").read_bytes())
    messages = [m for _, m in scan_paths([dicomdir]).problems]
    assert f"“PT000000/{'X' * 300}” is listed in the DICOMDIR but missing" in messages[0]


_BOUNDED_READ = """
import resource, sys
from pathlib import Path
from engine.dicom import read_header, read_image
from engine.ecg.io import read_dicom_ecg
from engine.errors import EngineError
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize"))
resource.setrlimit(resource.RLIMIT_AS, (vm + 1024**3, resource.RLIM_INFINITY))
for read in (read_header, read_image, read_dicom_ecg):
    try:
        read(Path(sys.argv[1]))
        print("loaded")
    except EngineError as exc:
        chain, cause = [], exc
        while cause is not None:
            chain.append(type(cause).__name__)
            cause = cause.__cause__ or cause.__context__
        print(" <- ".join(chain), exc.user_message)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_huge_element_length_is_not_allocated_before_refusing(tmp_path: Path) -> None:
    """Fuzzing finding: a 10 KB file declaring a ~4 GiB element made pydicom allocate 4 GiB
    (refused only after MemoryError under an address-space bound); reads now stop at the
    end of the file."""
    import subprocess
    import sys

    path = tmp_path / "IM0001"
    path.write_bytes((CORPUS / "scan" / "element-length-4gib.dcm").read_bytes())
    out = subprocess.run(
        [sys.executable, "-c", _BOUNDED_READ, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    ).stdout
    assert "MemoryError" not in out
    assert "“IM0001”" in out


def test_jpeg2000_box_of_length_zero_is_refused_not_hung(tmp_path: Path) -> None:
    """Fuzzing finding: pydicom's JP2 box walk loops forever on a zero-length box."""
    from engine.dicom import read_image
    from engine.errors import CorruptDicomError

    path = tmp_path / "scan.dcm"
    path.write_bytes((CORPUS / "dicom" / "jp2-box-length-zero.dcm").read_bytes())
    with time_bound(5.0), pytest.raises(CorruptDicomError) as caught:
        read_image(path)
    assert caught.value.user_message == (
        "“scan.dcm” has damaged JPEG 2000 pixel data (a box of length zero) and cannot be shown."
    )


@pytest.mark.parametrize("name", ["sop-class-unknown-vr.dcm", "modality-unknown-vr.dcm"])
def test_ecg_reader_refuses_a_malformed_element_with_a_message(tmp_path: Path, name: str) -> None:
    """Fuzzing findings: the DICOM ECG reader converted SOP Class / Modality unguarded."""
    from engine.ecg.io import read_dicom_ecg
    from engine.errors import SignalError

    path = tmp_path / "ecg.dcm"
    path.write_bytes((CORPUS / "dicom" / name).read_bytes())
    with pytest.raises(SignalError) as caught:
        read_dicom_ecg(path)
    assert caught.value.user_message == "“ecg.dcm” is damaged or truncated and cannot be read."


def test_transfer_syntax_with_a_numeric_vr_is_a_damaged_file(tmp_path: Path) -> None:
    """Fuzzing finding: an empty Transfer Syntax UID with VR DS made the reader raise
    ValueError while filling in the syntax it had inferred."""
    from engine.dicom import read_header, read_image, scan_paths
    from engine.errors import CorruptDicomError

    path = tmp_path / "DICOMDIR"
    path.write_bytes((CORPUS / "dicomdir" / "meta-transfer-syntax-wrong-vr").read_bytes())
    for read in (read_header, read_image):
        with pytest.raises(CorruptDicomError) as caught:
            read(path)
        assert caught.value.user_message.startswith("“DICOMDIR” is damaged")
    ((where, message),) = scan_paths([path]).problems
    assert where == path and message.startswith("“DICOMDIR” is damaged")


def test_wfdb_signal_file_name_too_long_is_reported_missing(tmp_path: Path) -> None:
    """Fuzzing finding: a header naming a 250-character signal file raised OSError
    (name too long) from the signal-file check."""
    from engine.ecg.io import read_signal
    from engine.errors import SignalError

    (tmp_path / "r.hea").write_bytes((CORPUS / "wfdb" / "signal-file-name-too-long").read_bytes())
    with pytest.raises(SignalError) as caught:
        read_signal(tmp_path / "r.hea")
    assert caught.value.user_message.startswith("The signal file “r3333")
    assert caught.value.user_message.endswith(
        "of the ECG record “r” is missing (expected next to r.hea)."
    )

"""De-identification against PS3.15 table E.1-1, attribute by attribute, and on real files.

The expected action of each attribute is read from the standard's table in
``../shared/data/dicom-standard`` (not from the copy the engine ships), and
composite actions are resolved here independently of the engine.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from pydicom import Dataset, dcmread
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR
from pydicom.dataset import FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from engine.dicom.deid import (
    METHOD_TEXT,
    UidMap,
    basic_profile,
    deidentify_dataset,
    deidentify_file,
    export_deidentified,
    resolve_action,
)
from engine.errors import OperationCancelled
from engine.progress import CancelToken

REPO = Path(__file__).resolve().parents[3]
SECRET_TEXT = "Secret Doe"
SECRET_PERSON = "DOE^JOHN"
#: Set by the export itself after the table is applied; checked separately.
SET_BY_EXPORT = {0x00120062, 0x00120063, 0x00120064}


def _table(shared_data: Path) -> list[dict]:
    path = shared_data / "dicom-standard" / "ps3.15-annexE-2024e.json"
    if not path.exists():
        pytest.skip(f"PS3.15 table not found at {path}")
    return json.loads(path.read_text(encoding="utf-8"))


def _exact_rows(rows: list[dict]) -> list[tuple[int, str, str]]:
    out = []
    for row in rows:
        tag = row["tag"].upper()
        if "X" in tag[1:10] or "G" in tag:
            continue
        out.append((int(tag[1:5] + tag[6:10], 16), row["basicProfile"], row["name"]))
    return out


def _expected(action: str, composite: str) -> str:
    # PS3.15 E.1-1: "X/Z" = X unless Z is needed for a valid IOD, etc. Without the
    # IOD, "valid" takes the last alternative and "strict" the first.
    parts = action.replace("*", "").split("/")
    return parts[-1] if composite == "valid" else parts[0]


def _value(vr: str, uid: str):
    vr = vr.split(" or ")[0]
    values = {
        "DA": "20200131",
        "DT": "20200131120000",
        "TM": "120000",
        "PN": SECRET_PERSON,
        "UI": uid,
        "DS": "12.5",
        "IS": "42",
        "AS": "045Y",
        "CS": "SECRET",
        "AE": "SECRETAE",
        "UR": "http://hospital.example/doe",
        "US": 7,
        "SS": 7,
        "UL": 7,
        "SL": 7,
        "FL": 1.5,
        "FD": 1.5,
        "OB": b"\x01\x02",
        "OW": b"\x01\x02",
        "UN": b"\x01\x02",
    }
    if vr == "SQ":
        item = Dataset()
        item.PatientName = SECRET_PERSON
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = uid
        return Sequence([item])
    return values.get(vr, SECRET_TEXT)


def _is_empty(value) -> bool:
    return value is None or value in ("", b"") or (isinstance(value, Sequence) and not value)


def _check(tag: int, vr: str, original, result: Dataset, action: str, uid_map: UidMap) -> str:
    """'' when ``result`` shows ``action`` applied to ``original``, else what is wrong."""
    present = tag in result
    if action == "X":
        return "" if not present else "not removed"
    if not present:
        return f"removed instead of {action}"
    value = result[tag].value
    if action == "Z":
        return "" if _is_empty(value) else f"not emptied: {value!r}"
    if vr == "SQ":
        if not value:
            return "sequence lost its items"
        item = value[0]
        if action == "U":  # U*: items kept, the UIDs inside replaced
            ok = item.ReferencedSOPInstanceUID == uid_map(original[0].ReferencedSOPInstanceUID)
            ok = ok and item.ReferencedSOPInstanceUID != original[0].ReferencedSOPInstanceUID
            ok = ok and item.ReferencedSOPClassUID == original[0].ReferencedSOPClassUID
            return "" if ok else "UIDs inside not replaced consistently"
        names = [str(e.value) for e in item.iterall() if e.VR == "PN"]
        return "" if SECRET_PERSON not in names else "identifying value kept inside"
    if action in ("D", "C"):
        if _is_empty(value):
            return "emptied instead of a dummy value"
        if vr == "UI":
            return "" if value != original and UID(value).is_valid else "UID not replaced"
        return "" if value != original else "value kept"
    if action == "U":
        ok = value != original and UID(str(value)).is_valid and value == uid_map(original)
        return "" if ok else f"UID not replaced consistently: {value!r}"
    if action == "K":
        return "" if value == original else "value changed"
    return f"unknown action {action}"


@pytest.mark.parametrize("composite", ["valid", "strict"])
def test_every_attribute_of_table_e1_1_gets_its_action(shared_data: Path, composite: str):
    rows = _exact_rows(_table(shared_data))
    assert len(rows) == 617  # 621 rows minus the 4 wildcard rows (curves, overlays, private)
    failures, tested = [], 0
    for tag, action, name in rows:
        if tag in SET_BY_EXPORT:
            continue
        vr = dictionary_VR(tag).split(" or ")[0]
        original = _value(vr, generate_uid())
        ds = Dataset()
        if tag >> 16 == 0x0002:  # file meta: Media Storage SOP Instance UID
            ds.file_meta = FileMetaDataset()
            ds.file_meta.add_new(tag, vr, copy.deepcopy(original))
            uid_map = UidMap()
            deidentify_dataset(ds, uid_map, composite=composite)
            problem = _check(tag, vr, original, ds.file_meta, _expected(action, composite), uid_map)
        else:
            ds.add_new(tag, vr, copy.deepcopy(original))
            uid_map = UidMap()
            deidentify_dataset(ds, uid_map, composite=composite)
            problem = _check(tag, vr, original, ds, _expected(action, composite), uid_map)
        tested += 1
        if problem:
            failures.append(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {name} [{action}]: {problem}")
    assert not failures, "\n".join(failures)
    assert tested == len(rows) - len(SET_BY_EXPORT & {t for t, _, _ in rows})


def test_resolve_action_composites():
    assert [resolve_action(a) for a in ("X/Z", "X/D", "Z/D", "X/Z/D", "X/Z/U*")] == [
        "Z",
        "D",
        "D",
        "D",
        "U",
    ]
    assert {resolve_action(a, "strict") for a in ("X/Z", "X/D", "X/Z/D", "X/Z/U*")} == {"X"}
    assert resolve_action("Z/D", "strict") == "Z"
    with pytest.raises(ValueError):
        resolve_action("X", "lenient")


def test_shipped_table_is_the_standard_table(shared_data: Path):
    shipped = REPO / "engine" / "dicom" / "data" / "deid_table_e1_1.json"
    assert json.loads(shipped.read_text("utf-8")) == _table(shared_data)
    assert "innolitics" in (shipped.parent / "README.md").read_text("utf-8")
    profile = basic_profile()
    assert len(profile.rules) == 617
    assert profile.private is not None and profile.curves is not None
    assert len(profile.overlays) == 2


def test_private_curves_overlays_removed_at_every_depth_and_method_recorded():
    ds = Dataset()
    ds.PatientName = SECRET_PERSON
    ds.add_new(0x00090010, "LO", "ACME private creator")
    ds.add_new(0x00091001, "LO", SECRET_TEXT)
    ds.add_new(0x50000010, "US", 3)
    ds.add_new(0x60000010, "US", 8)
    ds.add_new(0x60003000, "OW", b"\0" * 8)
    ds.add_new(0x60004000, "LT", SECRET_TEXT)
    item = Dataset()
    item.add_new(0x00111010, "LO", SECRET_TEXT)
    item.PatientName = SECRET_PERSON
    inner = Dataset()
    inner.OperatorsName = SECRET_PERSON
    item.ReferencedStudySequence = Sequence([inner])
    text = Dataset()
    text.ValueType, text.TextValue = "TEXT", SECRET_TEXT
    # C (clean structured content): every item walked with the table's rules, free text replaced
    ds.ContentSequence = Sequence([item, text])
    ds.ReferencedStudySequence = Sequence([inner])  # X/Z: Z under "valid"
    ds.AnatomicRegionSequence = Sequence([Dataset()])  # not in the table: walked
    ds.AnatomicRegionSequence[0].PatientName = SECRET_PERSON
    ds.AnatomicRegionSequence[0].add_new(0x00291001, "LO", SECRET_TEXT)

    result = deidentify_dataset(ds, UidMap())

    assert not [e for e in ds.iterall() if e.tag.is_private]
    assert not [e for e in ds.iterall() if e.tag.group >> 8 in (0x50, 0x60)]
    cleaned, cleaned_text = ds.ContentSequence
    assert cleaned.PatientName == ""  # Z, as at the top level
    assert len(cleaned.ReferencedStudySequence) == 0  # X/Z, as at the top level
    assert cleaned_text.TextValue == "ANONYMIZED"
    assert len(ds.ReferencedStudySequence) == 0
    assert ds.AnatomicRegionSequence[0].PatientName == ""
    assert SECRET_TEXT not in str(ds) and "DOE" not in str(ds)
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethod == METHOD_TEXT and len(METHOD_TEXT) <= 64
    code = ds.DeidentificationMethodCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("113100", "DCM")
    assert code.CodeMeaning == "Basic Application Confidentiality Profile"
    assert result.actions["private"] == 4


def test_uids_consistent_across_files_of_an_export_and_references_still_resolve():
    study, series, image = generate_uid(), generate_uid(), generate_uid()

    def dataset(sop: str) -> Dataset:
        ds = Dataset()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study, series, sop
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
        return ds

    first, second = dataset(image), dataset(generate_uid())
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ref.ReferencedSOPInstanceUID = image
    second.SourceImageSequence = Sequence([ref])
    uid_map = UidMap()
    deidentify_dataset(first, uid_map)
    deidentify_dataset(second, uid_map)
    assert first.StudyInstanceUID == second.StudyInstanceUID != study
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != series
    assert second.SourceImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # standard UIDs are kept
    other = dataset(image)
    deidentify_dataset(other, UidMap())  # another export: other UIDs
    assert other.StudyInstanceUID != first.StudyInstanceUID


def test_patient_id_pseudonym_separates_patients_within_an_export():
    uid_map = UidMap()
    ids = []
    for pid in ("A-1", "A-1", "B-2"):
        ds = Dataset()
        ds.PatientID = pid
        deidentify_dataset(ds, uid_map)
        ids.append(ds.PatientID)
    assert ids[0] == ids[1] != ids[2]
    assert all(i.startswith("ANON-") and "A-1" not in i for i in ids)


@pytest.mark.parametrize(
    ("modality", "flag", "warns"),
    [("CT", "YES", True), ("US", None, True), ("SC", None, True), ("US", "NO", False),
     ("CT", None, False)],
)  # fmt: skip
def test_burned_in_annotation_warning(modality, flag, warns):
    ds = Dataset()
    ds.Modality = modality
    if flag:
        ds.BurnedInAnnotation = flag
    result = deidentify_dataset(ds, UidMap())
    assert bool(result.warnings) == warns
    if warns:
        assert "burned" in result.warnings[0]


def _sha(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_deidentify_file_real_ct(tmp_path: Path):
    src = get_testdata_file("CT_small.dcm")
    before = _sha(src)
    original = dcmread(src)
    out = tmp_path / "copy.dcm"
    result = deidentify_file(src, out, UidMap())
    assert _sha(src) == before  # original untouched
    copy = dcmread(out)
    assert copy.PatientName == "" and original.PatientName != ""
    assert copy.PatientID.startswith("ANON-")
    assert copy.StudyInstanceUID != original.StudyInstanceUID
    assert copy.SOPInstanceUID == result.sop_instance_uid
    assert copy.file_meta.MediaStorageSOPInstanceUID == copy.SOPInstanceUID
    assert not [e for e in copy.iterall() if e.tag.is_private]
    assert [e for e in original.iterall() if e.tag.is_private]
    assert copy.PixelData == original.PixelData
    assert (copy.pixel_array == original.pixel_array).all()
    assert copy.InstitutionName == "ANONYMIZED"  # X/Z/D -> D under "valid"
    strict = dcmread(deidentify_file(src, tmp_path / "strict.dcm", composite="strict").destination)
    assert "InstitutionName" not in strict


def test_export_folder_progress_failures_and_cancel(tmp_path: Path):
    source = tmp_path / "in"
    source.mkdir()
    ds = dcmread(get_testdata_file("CT_small.dcm"))
    ds.save_as(source / "DOE_JOHN_1.dcm")
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(source / "DOE_JOHN_2.dcm")
    (source / "notes.txt").write_text("not DICOM")
    reports: list[float] = []

    report = export_deidentified(
        [source], tmp_path / "out", progress=lambda f, t="": reports.append(f)
    )

    assert len(report.results) == 2 and len(report.failures) == 1
    assert "notes.txt" in report.failures[0].message
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not any("DOE" in n for n in names) and len(names) == 2
    copies = [dcmread(r.destination) for r in report.results]
    assert copies[0].StudyInstanceUID == copies[1].StudyInstanceUID != ds.StudyInstanceUID
    assert copies[0].SOPInstanceUID != copies[1].SOPInstanceUID
    assert reports[-1] == 1.0 and reports == sorted(reports)

    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(OperationCancelled):
        export_deidentified([source], tmp_path / "out2", cancel=cancel)
    assert not (tmp_path / "out2").exists()


def test_cli_deidentify_writes_copies_without_identity(tmp_path, capsys):
    import pydicom

    from engine.cli import EXIT_OK, main
    from engine.resources import resource_path

    src = resource_path("samples", "peds-cxr-normal.dcm")
    out = tmp_path / "anon"
    assert main(["deidentify", str(src), "--out", str(out)]) == EXIT_OK
    assert "1 file(s) de-identified" in capsys.readouterr().out
    (written,) = list(out.glob("*.dcm"))
    before, after = pydicom.dcmread(src), pydicom.dcmread(written)
    assert after.PatientIdentityRemoved == "YES"
    assert after.PatientName != before.PatientName and after.PatientID != before.PatientID
    assert after.StudyInstanceUID != before.StudyInstanceUID
    assert after.pixel_array.tobytes() == before.pixel_array.tobytes()


def test_cli_deidentify_says_why_a_file_was_skipped(tmp_path, capsys):
    import shutil

    from engine.cli import EXIT_ERROR, main
    from engine.resources import resource_path

    inside = tmp_path / "study"
    inside.mkdir()
    src = shutil.copy(resource_path("samples", "peds-cxr-normal.dcm"), inside / "a.dcm")
    assert main(["deidentify", str(src), "--out", str(tmp_path)]) == EXIT_ERROR
    out = capsys.readouterr()
    assert "0 file(s) de-identified" in out.out
    assert f"{src}: skipped: it is inside the output folder" in out.err
    assert sorted(p.name for p in tmp_path.rglob("*.dcm")) == ["a.dcm"]  # nothing written

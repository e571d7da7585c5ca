"""De-identified copies of DICOM files: PS3.15 Annex E, Basic Profile.

Every attribute of table E.1-1 (kept as data in ``data/deid_table_e1_1.json``,
DICOM 2024e, see ``data/README.md``) is handled with its Basic Application
Level Confidentiality Profile action, at every depth of every sequence:

``X``
    remove the attribute.
``Z``
    keep it with a zero-length value (a sequence: no items).
``D``
    replace the value with a dummy of the attribute's VR (dates
    ``19000101``, text ``ANONYMIZED``, numbers ``0``; a sequence keeps the
    structure of its first item with every value replaced the same way).
    Patient ID gets a pseudonym (``ANON-…``) that is the same for the same
    ID within one export, so studies of different patients stay apart.
``U``
    replace a UID by a new one, the same new UID for the same old UID
    within an export (:class:`UidMap`: pydicom's ``generate_uid`` with a
    SHA-512 of a random per-export secret and the old UID, so the original
    cannot be recovered without the secret). UIDs defined by the standard
    (``1.2.840.10008.*``: SOP classes, coding schemes) are kept.
``K`` / ``C``
    keep / clean; not used by the Basic Profile column, handled for the
    options (clean is done as ``D``, the conservative reading).

Composite actions (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) mean
"the first action, unless the IOD needs a later one to stay valid". This
module has no per-IOD Type 1/2 tables, so it cannot tell; it offers:

``composite="valid"`` (default)
    the *last* action (``D``, ``Z`` or ``U``): the copy stays valid for every
    IOD, and still discloses nothing (zero length, dummy or new UID keep no
    original value).
``composite="strict"``
    the *first* action (``X``): the smallest copy; a Type 1 or 2 attribute
    of the IOD may then be missing.

Beyond the table: private attributes (odd groups) are removed, as are curves
(``50xx``) and whole overlay groups (``60xx``; the table removes Overlay Data
and Comments, and an overlay without its data is not valid); sequences not in
the table are walked; the file meta's Media Storage SOP Instance UID follows
the new SOP Instance UID and its AE titles and private information are
removed. Patient Identity Removed (0012,0062) = ``YES``, De-identification
Method (0012,0063) and its code sequence (0012,0064: 113100, DCM, "Basic
Application Confidentiality Profile") are set.

A structured report's Content Sequence (``D`` in the table) gets the Clean
Structured Content option instead (``C``): the tree, its codes, numbers and
references stay (UIDs mapped as everywhere, so an SR still points at its
de-identified image), person names, dates and UIDs inside follow the table,
and free text that is not algorithm or device identification becomes
``ANONYMIZED``. A segmentation's references are ordinary UID attributes.

Pixels are not changed: text burned into them is not found. A warning is
returned when Burned In Annotation (0028,0301) is ``YES``, or is not ``NO``
for a modality where burned-in text is common (US, SC, ES, XC, OT, ...).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydicom import Dataset
from pydicom.dataelem import DataElement
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from engine.dicom.files import check_nesting, quoted, read_dataset
from engine.errors import DicomError
from engine.progress import CancelToken, Progress, check_cancelled, no_progress

TABLE_RESOURCE = "deid_table_e1_1.json"
TABLE_EDITION = "2024e"
METHOD_TEXT = f"PS3.15 E.1-1 Basic Profile ({TABLE_EDITION}); Stethos"
PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
STANDARD_UID_ROOT = "1.2.840.10008."
#: Modalities whose images often carry text burned into the pixels.
BURNED_IN_MODALITIES = frozenset({"US", "SC", "ES", "XC", "GM", "OT", "SM", "DOC", "IVUS", "OP"})
COMPOSITE_POLICIES = ("valid", "strict")

_DUMMY_TEXT = "ANONYMIZED"
_DUMMY = {
    "AE": _DUMMY_TEXT,
    "AS": "000Y",
    "CS": _DUMMY_TEXT,
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000.000000",
    "IS": "0",
    "LO": _DUMMY_TEXT,
    "LT": _DUMMY_TEXT,
    "PN": _DUMMY_TEXT,
    "SH": _DUMMY_TEXT,
    "ST": _DUMMY_TEXT,
    "TM": "000000.000000",
    "UC": _DUMMY_TEXT,
    "UR": "urn:anonymized",
    "UT": _DUMMY_TEXT,
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "SV": 0,
    "UL": 0,
    "US": 0,
    "UV": 0,
    "AT": 0,
}
_PATIENT_ID = 0x00100020


@dataclass(frozen=True)
class ProfileRule:
    """One row of table E.1-1: the attribute and its Basic Profile action."""

    tag: str
    name: str
    action: str
    in_std_comp_iod: bool


@dataclass(frozen=True)
class Profile:
    """Table E.1-1 indexed for lookup: exact tags, plus the wildcard rows."""

    rules: dict[int, ProfileRule]
    curves: ProfileRule | None
    overlays: tuple[ProfileRule, ...]
    private: ProfileRule | None
    edition: str = TABLE_EDITION

    def rule_for(self, tag: int) -> ProfileRule | None:
        """The rule of an exact (non-wildcard) tag, if the table lists it."""
        return self.rules.get(int(tag))


@lru_cache(maxsize=1)
def basic_profile() -> Profile:
    """Table E.1-1 as shipped with Stethos."""
    text = resources.files("engine.dicom").joinpath("data", TABLE_RESOURCE).read_text("utf-8")
    return profile_from_rows(json.loads(text))


def profile_from_rows(rows: Iterable[dict[str, Any]]) -> Profile:
    """Index rows of the table (innolitics JSON: ``tag``, ``name``, ``basicProfile``, ...)."""
    rules: dict[int, ProfileRule] = {}
    curves, private = None, None
    overlays: list[ProfileRule] = []
    for row in rows:
        tag_text = str(row["tag"]).upper()
        rule = ProfileRule(
            tag_text, str(row["name"]), str(row["basicProfile"]), row.get("stdCompIOD") == "Y"
        )
        if tag_text.startswith("(GGGG"):
            private = rule
        elif tag_text.startswith("(50XX"):
            curves = rule
        elif tag_text.startswith("(60XX"):
            overlays.append(rule)
        else:
            rules[int(tag_text[1:5] + tag_text[6:10], 16)] = rule
    return Profile(rules, curves, tuple(overlays), private)


def resolve_action(action: str, composite: str = "valid") -> str:
    """The single action applied for a table action under a composite policy.

    ``"X/Z/D"`` gives ``"D"`` with ``composite="valid"`` and ``"X"`` with
    ``"strict"``; ``"X/Z/U*"`` gives ``"U"`` / ``"X"``; single actions stay.
    """
    if composite not in COMPOSITE_POLICIES:
        raise ValueError(f"composite must be one of {COMPOSITE_POLICIES}, not {composite!r}")
    parts = [p.strip().rstrip("*") for p in action.split("/") if p.strip()]
    if not parts:
        raise ValueError(f"empty de-identification action {action!r}")
    return parts[-1] if composite == "valid" else parts[0]


class UidMap:
    """Old UID → new UID, the same within one export (thread-safe enough for dict use).

    Parameters
    ----------
    secret
        Random by default. The same secret gives the same new UIDs in a later
        export (to add files to an earlier export); keep it secret, since with
        it the old UIDs can be confirmed.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self._map: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        """The new UID for ``uid`` (standard UIDs and empty values unchanged)."""
        old = str(uid).strip().rstrip("\0")
        if not old or old.startswith(STANDARD_UID_ROOT):
            return old
        new = self._map.get(old)
        if new is None:
            new = str(generate_uid(entropy_srcs=[self._secret.hex(), old]))
            self._map[old] = new
        return new

    def pseudonym(self, value: str, prefix: str = "ANON-") -> str:
        """A short stand-in for an identifier, the same for the same value in this export."""
        digest = hmac.new(self._secret, value.strip().encode("utf-8"), hashlib.sha256)
        return prefix + digest.hexdigest()[:12].upper()

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, uid: object) -> bool:
        return str(uid) in self._map


@dataclass(frozen=True)
class DeidResult:
    """What one de-identification did.

    ``actions`` counts attributes per action applied (``X``, ``Z``, ``D``,
    ``U``, ``K``) plus ``private`` and ``overlay_or_curve`` removals.
    """

    source: Path | None
    destination: Path | None
    sop_instance_uid: str
    warnings: tuple[str, ...]
    actions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportFailure:
    """A file that could not be exported, with the reason shown to the user."""

    path: Path
    message: str


@dataclass(frozen=True)
class ExportReport:
    """Outcome of :func:`export_deidentified`."""

    out_dir: Path
    results: tuple[DeidResult, ...]
    failures: tuple[ExportFailure, ...]
    skipped: tuple[Path, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        """Every distinct warning, in first-seen order."""
        return tuple(dict.fromkeys(w for r in self.results for w in r.warnings))


_CONTENT_SEQUENCE = 0x0040A730
#: SR text concepts that name software, not people (DCM codes): tracking identifier,
#: algorithm name, version, manufacturer and parameters, device observer name,
#: manufacturer and model name. Their text survives the structured-content cleaning.
_SAFE_TEXT = {
    (code, "DCM")
    for code in ("112039", "111001", "111003", "122405", "111002", "121013", "121014", "121015")
}
#: Stethos's private concepts (analysed lead, model inputs as coded by Stethos) are kept too.
_STETHOS_SCHEME = "99STETHOS"


class _Deidentifier:
    def __init__(self, profile: Profile, uid_map: UidMap, composite: str) -> None:
        resolve_action("X", composite)  # validates the policy
        self.profile = profile
        self.uid_map = uid_map
        self.composite = composite
        self.counts: Counter[str] = Counter()

    # -- walking -------------------------------------------------------------
    def dataset(self, ds: Dataset) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag.group == 0x0002:
                continue
            if tag.is_private:
                del ds[tag]
                self.counts["private"] += 1
                continue
            if (tag.group & 0xFF00) in (0x5000, 0x6000):
                del ds[tag]
                self.counts["overlay_or_curve"] += 1
                continue
            rule = self.profile.rule_for(tag)
            if int(tag) == _CONTENT_SEQUENCE and rule is not None and elem.VR == "SQ":
                self._clean_content(elem)  # an SR's findings stay readable; identity goes
                continue
            if rule is None:
                if elem.VR == "SQ":
                    self._items(elem)
                continue
            self.apply(ds, elem, resolve_action(rule.action, self.composite))

    def _items(self, elem: DataElement) -> None:
        for item in elem.value or ():
            self.dataset(item)

    def _clean_content(self, elem: DataElement) -> None:
        """PS3.15's Clean Structured Content option for an SR content tree.

        The tree keeps its structure, codes, numbers and references (their
        UIDs mapped like every UID, so the references still resolve within
        the export); every item goes through the table's rules (person names,
        dates and times get dummies, UIDs new ones); free text is replaced by
        ``ANONYMIZED`` unless its concept is one of :data:`_SAFE_TEXT` (the
        algorithm and device identification, which name software, not people).
        """
        for item in elem.value or ():
            if str(item.get("ValueType", "")) == "TEXT" and "TextValue" in item:
                names = item.get("ConceptNameCodeSequence") or ()
                concept = (
                    (
                        str(names[0].get("CodeValue", "")),
                        str(names[0].get("CodingSchemeDesignator", "")),
                    )
                    if names
                    else ("", "")
                )
                if concept not in _SAFE_TEXT and concept[1] != _STETHOS_SCHEME:
                    item.TextValue = _DUMMY["LT"]
            self.dataset(item)
        self.counts["C"] += 1

    def apply(self, ds: Dataset, elem: DataElement, action: str) -> None:
        tag = elem.tag
        if action == "X":
            del ds[tag]
        elif action == "Z":
            elem.value = Sequence() if elem.VR == "SQ" else elem.empty_value
        elif action == "K":
            if elem.VR == "SQ":
                self._items(elem)
        elif action == "U" and elem.VR == "SQ":
            self._items(elem)  # U*: keep the items; the UIDs in them get their own U
        elif action == "U" and elem.VR == "UI":
            elem.value = self._uids(elem.value)
        elif action in ("D", "C", "U"):
            self._dummy(elem)
            action = "D" if action == "C" else action
        else:
            raise DicomError(
                f"The de-identification table has an unknown action “{action}”.", str(elem.tag)
            )
        self.counts[action] += 1

    # -- values ----------------------------------------------------------------
    def _uids(self, value: Any) -> Any:
        if isinstance(value, list | tuple) or (
            hasattr(value, "__iter__") and not isinstance(value, str)
        ):
            return [self.uid_map(v) for v in value]
        return self.uid_map(value) if value else value

    def _dummy(self, elem: DataElement) -> None:
        vr = elem.VR
        if vr == "SQ":
            elem.value = self._dummy_sequence(elem.value)
        elif vr == "UI":
            elem.value = self._uids(elem.value)
        elif int(elem.tag) == _PATIENT_ID and elem.value:
            elem.value = self.uid_map.pseudonym(str(elem.value))
        elif vr in _DUMMY:
            elem.value = _DUMMY[vr]
        else:  # OB, OW, OF, OD, OL, OV, UN: opaque bytes
            elem.value = b"\0\0"

    def _dummy_sequence(self, seq: Sequence | None) -> Sequence:
        item = Dataset()
        if seq:
            for child in seq[0]:
                if child.tag.is_private:
                    self.counts["private"] += 1
                    continue
                copy = DataElement(child.tag, child.VR, child.value)
                self._dummy(copy)
                item.add(copy)
        return Sequence([item])


def deidentify_dataset(
    ds: Dataset,
    uid_map: UidMap | None = None,
    *,
    composite: str = "valid",
    profile: Profile | None = None,
) -> DeidResult:
    """De-identify ``ds`` in place (see the module notes for the rules).

    Returns
    -------
    DeidResult
        Counts per action, the new SOP Instance UID and any burned-in warning.
    """
    uid_map = uid_map if uid_map is not None else UidMap()
    warnings = _burned_in_warnings(ds)
    worker = _Deidentifier(profile or basic_profile(), uid_map, composite)
    worker.dataset(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        for tag in (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102):
            if tag in meta:
                del meta[tag]
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        elif "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = uid_map(meta.MediaStorageSOPInstanceUID)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = PROFILE_CODE
    ds.DeidentificationMethodCodeSequence = Sequence([code])
    return DeidResult(
        source=None,
        destination=None,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        warnings=warnings,
        actions=dict(worker.counts),
    )


def _burned_in_warnings(ds: Dataset) -> tuple[str, ...]:
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if flag == "YES":
        return (
            "The image has burned-in annotation (Burned In Annotation = YES): patient details may "
            "be written in the pixels. Check every image and mask the text before sharing.",
        )
    if flag != "NO" and modality in BURNED_IN_MODALITIES:
        return (
            f"{modality} images often have text burned into the pixels, and this file does not "
            "say it has none. Check every image and mask any text before sharing.",
        )
    return ()


def deidentify_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    uid_map: UidMap | None = None,
    *,
    composite: str = "valid",
) -> DeidResult:
    """Write a de-identified copy of ``src`` to ``dst`` (the original is never changed).

    Raises
    ------
    DicomError
        ``src`` is not readable DICOM, ``dst`` is ``src``, or ``dst`` cannot be
        written.
    """
    source, target = Path(src), Path(dst)
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise DicomError(
            f"The de-identified copy of {quoted(source)} cannot replace the original; "
            "choose another folder."
        )
    ds = read_dataset(source)
    check_nesting(ds, source)  # de-identifying and writing recurse into sequences
    result = deidentify_dataset(ds, uid_map, composite=composite)
    _save(ds, target, source)
    return DeidResult(source, target, result.sop_instance_uid, result.warnings, result.actions)


def _save(ds: Dataset, target: Path, source: Path) -> None:
    tmp = target.with_name(f".{target.name}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(tmp, enforce_file_format=True)
        os.replace(tmp, target)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        tmp.unlink(missing_ok=True)
        raise DicomError(
            f"The de-identified copy of {quoted(source)} could not be written to {quoted(target)}.",
            f"{type(exc).__name__}: {exc}",
        ) from exc


def _expand(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(q for q in path.rglob("*") if q.is_file())
        else:
            yield path


def export_deidentified(
    paths: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    uid_map: UidMap | None = None,
    composite: str = "valid",
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ExportReport:
    """De-identify files and folders into ``out_dir`` as ``<new SOP Instance UID>.dcm``.

    One :class:`UidMap` is used for the whole export, so references between
    the exported files still resolve. Original file names are not reused
    (they often contain patient names). DICOMDIR files are skipped; a file
    that fails is reported and the export goes on.
    """
    out = Path(out_dir)
    uid_map = uid_map if uid_map is not None else UidMap()
    files = list(_expand(paths))
    out_resolved = out.resolve()
    results: list[DeidResult] = []
    failures: list[ExportFailure] = []
    skipped: list[Path] = []
    progress(0.0, f"De-identifying {len(files)} files")
    for index, path in enumerate(files):
        check_cancelled(cancel)
        if path.name.upper() == "DICOMDIR" or out_resolved in path.resolve().parents:
            skipped.append(path)
            continue
        try:
            ds = read_dataset(path)
            result = deidentify_dataset(ds, uid_map, composite=composite)
            name = result.sop_instance_uid or uid_map.pseudonym(str(path), prefix="FILE-")
            target = out / f"{name}.dcm"
            _save(ds, target, path)
            results.append(
                DeidResult(path, target, result.sop_instance_uid, result.warnings, result.actions)
            )
        except DicomError as exc:
            failures.append(ExportFailure(path, exc.user_message))
        progress((index + 1) / max(len(files), 1), f"{index + 1} of {len(files)}: {path.name}")
    progress(1.0, f"Exported {len(results)} files")
    return ExportReport(out, tuple(results), tuple(failures), tuple(skipped))


__all__ = [
    "BURNED_IN_MODALITIES",
    "DeidResult",
    "ExportFailure",
    "ExportReport",
    "Profile",
    "ProfileRule",
    "UidMap",
    "basic_profile",
    "deidentify_dataset",
    "deidentify_file",
    "export_deidentified",
    "profile_from_rows",
    "resolve_action",
]

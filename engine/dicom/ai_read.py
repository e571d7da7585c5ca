"""Read AI result objects back: structured reports and segmentations in a study.

:func:`read_ai_object` recognises the objects an AI (Stethos or another
tool) leaves next to a study and summarises them for the study browser:

* a Structured Report following TID 1500 becomes a list of
  :class:`SrFinding` (each measurement group: its finding, qualitative
  evaluations, measurements, comments, the algorithm that made it and the
  instances it refers to). The content tree is walked generically, so an
  SR made by another tool reads the same way as Stethos's own;
* a Segmentation becomes its referenced source instance and, for a
  fractional one, the map in ``[0, 1]`` at the source frame's size, to be
  shown as a heat-map layer;
* a Stethos overlay capture is recognised (Image Type ``AI_OVERLAY``) so
  that it is listed as derived output.

This module needs pydicom only (highdicom loads when a segmentation is
read), so looking for AI objects in a study costs nothing when it has none.

Anything else (or a damaged object) gives ``None`` or raises
:class:`~engine.errors.DicomError` with the reason: reading a study never
stops on one bad AI object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from engine.errors import DicomError

#: Manufacturer written into every object Stethos makes (how its own objects are told apart).
MANUFACTURER = "Stethos"
#: The third value of a Stethos overlay capture's Image Type.
OVERLAY_IMAGE_TYPE = "AI_OVERLAY"

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
_SR_PREFIX = "1.2.840.10008.5.1.4.1.1.88."
_MEASUREMENT_GROUP = ("125007", "DCM")
_FINDING = ("121071", "DCM")
_ALGORITHM = {"111001": "name", "111003": "version", "111002": "parameters"}


@dataclass(frozen=True)
class SrFinding:
    """One measurement group of a TID 1500 report.

    ``evaluations`` are ``(concept, value)`` pairs of the coded items,
    ``measurements`` ``(concept, value, unit)`` of the numeric ones, ``texts``
    ``(concept, text)`` pairs (comments, inputs); ``references`` the SOP
    Instance UIDs the group refers to (images, waveforms).
    """

    finding: str = ""
    tracking: str = ""
    evaluations: tuple[tuple[str, str], ...] = ()
    measurements: tuple[tuple[str, float, str], ...] = ()
    texts: tuple[tuple[str, str], ...] = ()
    algorithm: str = ""
    algorithm_version: str = ""
    parameters: tuple[str, ...] = ()
    references: tuple[str, ...] = ()

    def parameter(self, key: str) -> str:
        """The value of an algorithm parameter written as ``key=value`` (``""`` if absent)."""
        for p in self.parameters:
            name, sep, value = p.partition("=")
            if sep and name.strip() == key:
                return value.strip()
        return ""

    def evaluation(self, concept: str) -> str:
        """The value of the first evaluation whose concept is ``concept`` (``""`` if none)."""
        return next((v for c, v in self.evaluations if c.lower() == concept.lower()), "")

    def measurement(self, concept: str) -> float | None:
        """The first measurement named ``concept`` (``None`` if none)."""
        return next((v for c, v, _ in self.measurements if c.lower() == concept.lower()), None)


@dataclass(frozen=True)
class AiObject:
    """An AI result object found in a study.

    ``kind`` is ``sr``, ``seg`` or ``capture``; ``made_by_stethos`` tells
    Stethos's own objects from other tools'. ``observers`` are the person
    and device observers' names; ``references`` the SOP Instance UIDs the
    object refers to. A fractional SEG has ``heatmap`` (float32 ``[0, 1]``)
    and the 0-based ``frame`` of the source it belongs to.
    """

    path: Path
    kind: Literal["sr", "seg", "capture"]
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    series_description: str = ""
    title: str = ""
    content_datetime: str = ""
    made_by_stethos: bool = False
    findings: tuple[SrFinding, ...] = ()
    observers: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    heatmap: np.ndarray | None = field(default=None, compare=False, repr=False)
    frame: int = 0


def _meaning(item: Dataset, keyword: str = "ConceptNameCodeSequence") -> str:
    seq = item.get(keyword)
    return str(getattr(seq[0], "CodeMeaning", "")) if seq else ""


def _code(item: Dataset, keyword: str = "ConceptNameCodeSequence") -> tuple[str, str]:
    seq = item.get(keyword)
    if not seq:
        return ("", "")
    return (
        str(getattr(seq[0], "CodeValue", "")),
        str(getattr(seq[0], "CodingSchemeDesignator", "")),
    )


def _num(item: Dataset) -> tuple[float, str] | None:
    seq = item.get("MeasuredValueSequence")
    if not seq:
        return None
    try:
        value = float(seq[0].NumericValue)
    except (AttributeError, TypeError, ValueError):
        return None
    units = seq[0].get("MeasurementUnitsCodeSequence")
    unit = str(getattr(units[0], "CodeValue", "")) if units else ""
    return value, ("" if unit == "1" else unit)


def _references(item: Dataset) -> list[str]:
    return [
        str(r.ReferencedSOPInstanceUID)
        for r in item.get("ReferencedSOPSequence") or ()
        if "ReferencedSOPInstanceUID" in r
    ]


def _finding_of(group: Dataset) -> SrFinding:
    out: dict[str, Any] = {"evaluations": [], "measurements": [], "texts": [], "parameters": [],
                           "references": []}  # fmt: skip
    for item in group.get("ContentSequence") or ():
        value_type = str(item.get("ValueType", ""))
        relationship = str(item.get("RelationshipType", ""))
        name = _meaning(item)
        code = _code(item)
        if value_type == "CODE" and code == _FINDING:
            out["finding"] = _meaning(item, "ConceptCodeSequence")
        elif value_type == "CODE":
            out["evaluations"].append((name, _meaning(item, "ConceptCodeSequence")))
        elif value_type == "NUM" and (num := _num(item)) is not None:
            out["measurements"].append((name, *num))
        elif value_type == "TEXT" and code[0] in _ALGORITHM and code[1] == "DCM":
            key = _ALGORITHM[code[0]]
            if key == "parameters":
                out["parameters"].append(str(item.get("TextValue", "")))
            else:
                out["algorithm" if key == "name" else "algorithm_version"] = str(
                    item.get("TextValue", "")
                )
        elif value_type == "TEXT" and name == "Tracking Identifier":
            out["tracking"] = str(item.get("TextValue", ""))
        elif value_type == "TEXT" and relationship == "CONTAINS":
            out["texts"].append((name, str(item.get("TextValue", ""))))
        elif value_type in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            out["references"].extend(_references(item))
        elif value_type == "SCOORD":  # a planar ROI: its image is the child
            for child in item.get("ContentSequence") or ():
                out["references"].extend(_references(child))
    return SrFinding(
        finding=out.get("finding", ""),
        tracking=out.get("tracking", ""),
        evaluations=tuple(out["evaluations"]),
        measurements=tuple(out["measurements"]),
        texts=tuple(out["texts"]),
        algorithm=out.get("algorithm", ""),
        algorithm_version=out.get("algorithm_version", ""),
        parameters=tuple(out["parameters"]),
        references=tuple(dict.fromkeys(out["references"])),
    )


def _walk_groups(items: Any) -> list[Dataset]:
    groups = []
    for item in items or ():
        if str(item.get("ValueType", "")) != "CONTAINER":
            continue
        if _code(item) == _MEASUREMENT_GROUP:
            groups.append(item)
        else:
            groups.extend(_walk_groups(item.get("ContentSequence")))
    return groups


def _observers(root: Dataset) -> list[str]:
    names = []
    for item in root.get("ContentSequence") or ():
        if str(item.get("RelationshipType", "")) != "HAS OBS CONTEXT":
            continue
        code = _code(item)
        if code == ("121008", "DCM") and "PersonName" in item:  # Person Observer Name
            names.append(str(item.PersonName))
        elif code == ("121013", "DCM") and "TextValue" in item:  # Device Observer Name
            names.append(str(item.TextValue))
        elif code == ("121015", "DCM") and "TextValue" in item:  # Device Observer Model Name
            names.append(str(item.TextValue))
    return names


def _evidence(ds: Dataset) -> list[str]:
    out = []
    for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
        for study in ds.get(keyword) or ():
            for series in study.get("ReferencedSeriesSequence") or ():
                out.extend(_references(series))
    return out


def _common(path: Path, ds: Dataset) -> dict[str, Any]:
    return {
        "path": path,
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
        "study_instance_uid": str(ds.get("StudyInstanceUID", "")),
        "series_description": str(ds.get("SeriesDescription", "")),
        "made_by_stethos": str(ds.get("Manufacturer", "")) == MANUFACTURER,
    }


def _read_sr(path: Path, ds: Dataset) -> AiObject:
    groups = [_finding_of(g) for g in _walk_groups(ds.get("ContentSequence"))]
    refs = [r for g in groups for r in g.references] + _evidence(ds)
    return AiObject(
        kind="sr",
        title=_meaning(ds),
        content_datetime=f"{ds.get('ContentDate', '')}{ds.get('ContentTime', '')}",
        findings=tuple(groups),
        observers=tuple(_observers(ds)),
        references=tuple(dict.fromkeys(refs)),
        **_common(path, ds),
    )


def _read_seg(path: Path, ds: Dataset) -> AiObject:
    import highdicom as hd

    from engine.dicom._hd_tables import warm_tables

    warm_tables()  # highdicom's standard table, loaded without stalling other threads

    try:
        seg = hd.seg.Segmentation.from_dataset(ds, copy=False)
        sources = [uid for _, _, uid in seg.get_source_image_uids()]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise DicomError(f"“{path.name}” is a segmentation Stethos cannot read: {exc}") from exc
    heatmap = None
    frame = 0
    if str(ds.get("SegmentationType", "")) == "FRACTIONAL" and sources:
        try:
            pixels = seg.get_pixels_by_source_instance(
                source_sop_instance_uids=[sources[0]], segment_numbers=[1],
                combine_segments=False, rescale_fractional=True,
            )  # fmt: skip
            heatmap = np.ascontiguousarray(pixels[0, :, :, 0], dtype=np.float32)
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError):
            heatmap = _multiframe_heatmap(seg)
            frame = _referenced_frame(seg)
    return AiObject(
        kind="seg",
        title=_meaning(ds.SegmentSequence[0], "SegmentedPropertyTypeCodeSequence")
        if ds.get("SegmentSequence")
        else "",
        content_datetime=f"{ds.get('ContentDate', '')}{ds.get('ContentTime', '')}",
        references=tuple(sources),
        heatmap=heatmap,
        frame=frame,
        **_common(path, ds),
    )


def _referenced_frame(seg: Any) -> int:
    for item in seg.get("PerFrameFunctionalGroupsSequence") or ():
        for derivation in item.get("DerivationImageSequence") or ():
            for source in derivation.get("SourceImageSequence") or ():
                if "ReferencedFrameNumber" in source:
                    return int(source.ReferencedFrameNumber) - 1
    return 0


def _multiframe_heatmap(seg: Any) -> np.ndarray | None:
    """The first frame of a fractional SEG whose source is one multi-frame image."""
    try:
        pixels = np.asarray(seg.pixel_array, dtype=np.float32)
    except (AttributeError, ValueError, RuntimeError):
        return None
    first = pixels[0] if pixels.ndim == 3 else pixels
    return first / float(seg.get("MaximumFractionalValue", 255) or 255)


def is_sop_of_ai(sop_class_uid: str, image_type: str | Sequence[str] = "") -> bool:
    """Whether a SOP class (and Image Type, ``\\``-joined or a list) is an AI object's."""
    types = image_type.split("\\") if isinstance(image_type, str) else [str(v) for v in image_type]
    return (
        sop_class_uid.startswith(_SR_PREFIX)
        or sop_class_uid == SEG_SOP_CLASS
        or OVERLAY_IMAGE_TYPE in types
    )


def is_ai_object(ds: Dataset) -> bool:
    """Whether a header is an SR, a SEG or a Stethos overlay capture."""
    return is_sop_of_ai(str(ds.get("SOPClassUID", "")), list(ds.get("ImageType") or ()))


def read_ai_object(path: str | Path) -> AiObject | None:
    """The AI object in ``path``, or ``None`` when the file is not one.

    Raises :class:`~engine.errors.DicomError` when it is one but cannot be read.
    """
    path = Path(path)
    try:
        ds = pydicom.dcmread(path, force=True)
    except (OSError, ValueError, EOFError) as exc:
        raise DicomError(f"“{path.name}” cannot be read: {exc}") from exc
    if not is_ai_object(ds):
        return None
    sop = str(ds.get("SOPClassUID", ""))
    if sop.startswith(_SR_PREFIX):
        return _read_sr(path, ds)
    if sop == SEG_SOP_CLASS:
        return _read_seg(path, ds)
    refs = [str(r.ReferencedSOPInstanceUID) for r in ds.get("SourceImageSequence") or ()
            if "ReferencedSOPInstanceUID" in r]  # fmt: skip
    return AiObject(kind="capture", references=tuple(refs), **_common(path, ds))

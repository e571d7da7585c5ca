"""The data of an encounter's report, gathered without drawing anything.

:func:`collect_report` reads an encounter from the store (patient,
records, results with their model identity, intended use and the
clinician's decision) and reads again, from the files the results and
study links name, the study image (with the heat map kept with its result)
and the ECG the beats were labelled on. A file that is gone or unreadable
becomes an :class:`Unavailable` note instead of stopping the report. The
desktop draws the PDF from the :class:`ReportData`; a script can print it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from engine.errors import EngineError, SignalError, StoreError
from engine.models.results import BeatResult
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.store import Encounter, Patient, Store, StoredRecord, StoredResult, StudyLink
from engine.workflow.models import intended_use
from engine.workflow.saved import SavedResult, read_saved
from engine.workflow.studies import open_signal, render_study_image

if TYPE_CHECKING:
    from engine.ecg import Signal

#: Seconds of ECG a report shows.
REPORT_ECG_SECONDS = 10.0


@dataclass(frozen=True)
class Unavailable:
    """A picture the report could not show: which file, and why.

    ``reason`` is empty when the file is gone, else what reading it said.
    """

    kind: Literal["image", "ecg"]
    path: str
    reason: str = ""

    @property
    def text(self) -> str:
        """``"Image not available: <path> (<reason>)"`` (``file missing`` when gone)."""
        what = "Image" if self.kind == "image" else "ECG"
        return f"{what} not available: {self.path} ({self.reason or 'file missing'})"


@dataclass(frozen=True)
class ReportImage:
    """The study image of the encounter, as the viewer renders it by default.

    ``pixels`` is 8-bit grayscale ``(H, W)`` or RGB ``(H, W, 3)``;
    ``heatmap`` the heat map kept with the image's result (``float32`` in
    ``[0, 1]``, to be stretched over the image), or ``None``; ``caption``
    names the modality, study date and file.
    """

    pixels: np.ndarray = field(repr=False)
    path: str
    caption: str = ""
    heatmap: np.ndarray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ReportEcg:
    """The ECG a result of the encounter was made on, with its labelled beats.

    ``lead_index`` is the lead the beats were labelled on (``None`` when the
    record no longer has it); ``seconds`` how much of the record to show.
    """

    signal: Signal = field(repr=False)
    path: str
    beats: tuple[BeatResult, ...] = field(default=(), repr=False)
    lead_index: int | None = None
    seconds: float = REPORT_ECG_SECONDS
    model_id: str = ""
    model_version: str = ""


@dataclass(frozen=True)
class ReportResult:
    """One result of the encounter with what the report says beside it."""

    saved: SavedResult
    intended_use: str = ""

    @property
    def stored(self) -> StoredResult:
        """The stored result (identity, label, score, operating point, decision)."""
        return self.saved.stored


@dataclass(frozen=True)
class ReportData:
    """Everything an encounter's report shows, except the drawing."""

    patient: Patient
    encounter: Encounter
    records: tuple[StoredRecord, ...]
    results: tuple[ReportResult, ...]
    signed_by: str
    software_version: str
    image: ReportImage | None = None
    ecg: ReportEcg | None = None
    unavailable: tuple[Unavailable, ...] = ()

    @property
    def intended_uses(self) -> dict[str, str]:
        """Intended use per model id of the results."""
        return {r.stored.model_id: r.intended_use for r in self.results}


def collect_report(
    store: Store,
    encounter_id: int,
    *,
    patient_id: int,
    images: bool = True,
    ecg: bool = True,
    intended_uses: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken | None = None,
) -> ReportData:
    """Gather the report of one encounter.

    Parameters
    ----------
    store
        The open store.
    encounter_id, patient_id
        The encounter, and the patient it belongs to.
    images, ecg
        Read the study image, the ECG again from their files (a caller that
        has them on screen already passes ``False``).
    intended_uses
        Intended uses already known per model id; others are read from the
        installed models' manifests (``""`` for a model no longer installed).

    Raises
    ------
    StoreError
        The encounter is not one of the patient's.
    """
    check_cancelled(cancel)
    progress(0.0, "Reading the encounter")
    patient = store.get_patient(patient_id)
    encounter = next((e for e in store.encounters(patient_id) if e.id == encounter_id), None)
    if encounter is None:
        raise StoreError("This encounter cannot be found.", f"encounter {encounter_id}")
    records = tuple(store.records(encounter_id))
    saved = [read_saved(r) for r in store.results(encounter_id)]
    try:
        links = {link.id: link for link in store.studies(patient_id)}
    except EngineError:
        links = {}  # the report goes without the linked studies' pictures
    known = dict(intended_uses or {})
    for s in saved:
        if s.stored.model_id not in known:
            known[s.stored.model_id] = intended_use(s.stored.model_id)
    unavailable: list[Unavailable] = []
    image = None
    if images:
        progress(0.3, "Reading the study image")
        image = _study_image(_image_candidates(saved, links, encounter_id), unavailable, cancel)
    strip = None
    if ecg:
        progress(0.6, "Reading the ECG")
        strip = _ecg(saved, unavailable, cancel)
    progress(1.0, "")
    from engine import __version__

    return ReportData(
        patient=patient,
        encounter=encounter,
        records=records,
        results=tuple(ReportResult(s, known.get(s.stored.model_id, "")) for s in saved),
        signed_by=store.user.full_name or store.user.username,
        software_version=__version__,
        image=image,
        ecg=strip,
        unavailable=tuple(unavailable),
    )


def record_export(
    store: Store, encounter_id: int, patient_id: int, path: str | Path, file_format: str = "pdf"
) -> None:
    """Log in the audit trail that an encounter's report was written to ``path``."""
    store.audit(
        "exported",
        object_type="encounter",
        object_id=encounter_id,
        details={"format": file_format, "patient_id": patient_id, "file": Path(path).name},
    )


def _caption(*parts: str) -> str:
    return " · ".join(p for p in parts if p)


def _image_candidates(
    saved: list[SavedResult], links: Mapping[int, StudyLink], encounter_id: int
) -> list[tuple[str, int, str, np.ndarray | None]]:
    """(path, frame, caption, heat map) of each image the encounter could show, best first.

    An image result's own file (with its heat map) comes first, then the
    studies its results or the encounter were linked to (not ECGs).
    """
    out: list[tuple[str, int, str, np.ndarray | None]] = []
    for s in saved:
        link = links.get(s.stored.study_link_id) if s.stored.study_link_id else None
        caption = _caption(link.modality, link.study_date) if link else ""
        if s.kind == "image" and s.path and s.source is not None:
            # a withheld result's heat map is not shown, as on screen before "show anyway"
            heat = None if s.stored.withheld else s.heatmap
            out.append((s.path, s.source.frame, caption, heat))
        elif link is not None:
            out.append((link.path, 0, caption, None))
    out += [
        (link.path, 0, _caption(link.modality, link.study_date), None)
        for link in links.values()
        if link.encounter_id == encounter_id and link.modality != "ECG"
    ]
    return out


def _study_image(
    candidates: Iterable[tuple[str, int, str, np.ndarray | None]],
    unavailable: list[Unavailable],
    cancel: CancelToken | None,
) -> ReportImage | None:
    """The first candidate image that can be read; the others tried are noted."""
    seen: set[str] = set()
    for path, frame, caption, heat in candidates:
        if not path or path in seen:
            continue
        seen.add(path)
        check_cancelled(cancel)
        if not Path(path).is_file():
            unavailable.append(Unavailable("image", path))
            continue
        try:
            pixels = render_study_image(path, frame)
        except EngineError as exc:
            unavailable.append(Unavailable("image", path, exc.user_message))
            continue
        return ReportImage(pixels, path, _caption(caption, Path(path).name), heat)
    return None


def _ecg(
    saved: list[SavedResult], unavailable: list[Unavailable], cancel: CancelToken | None
) -> ReportEcg | None:
    """The ECG of the first ECG result whose file can be read; the others are noted."""
    from engine.ecg import lead_index

    for s in saved:
        if s.kind != "signal" or not s.path:
            continue
        check_cancelled(cancel)
        if not Path(s.path).is_file():
            unavailable.append(Unavailable("ecg", s.path))
            continue
        try:
            signal = open_signal(s.path)
        except EngineError as exc:
            unavailable.append(Unavailable("ecg", s.path, exc.user_message))
            continue
        try:
            lead = lead_index(signal, s.source.lead) if s.source and s.source.lead else None
        except SignalError:
            lead = None  # the beats are drawn without their lead
        return ReportEcg(
            signal=signal,
            path=s.path,
            beats=s.beats,
            lead_index=lead,
            seconds=min(REPORT_ECG_SECONDS, float(signal.duration_s)),
            model_id=s.stored.model_id,
            model_version=s.stored.model_version,
        )
    return None

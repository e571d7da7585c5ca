"""AI results as DICOM Structured Reports (TID 1500), built with highdicom.

A result that lives only inside Stethos is lost to the PACS viewer and the
next workstation. :func:`build_result_sr` turns one analysis into a
Comprehensive SR following the IHE *AI Results* profile's pattern:

* TID 1500 *Measurement Report* with one TID 1501 measurement group: the
  finding as a qualitative evaluation (e.g. pneumonia *present* or *absent*
  at the operating point, or the ECG's rhythm), the score and the operating
  point's threshold as numeric measurements, the model's identity as a
  TID 4019 *Algorithm Identification* (name, version, and as parameters the
  model id, the weights' SHA-256, the operating point and its threshold);
* the observer context (TID 1002): the device (Stethos and the model) and,
  when a clinician decided on the result, the person, with the decision
  (accepted or overridden) and the comment in the measurement group;
* references to the source instance by SOP Class/Instance UID (the image
  for an image model; for an ECG the waveform, and each event in its own
  measurement group with its start and duration in seconds from the start of
  that waveform and a reference to it);
* the same Patient and Study as the source, in a new series.

Every content item comes from highdicom's templates and content items;
nothing here writes SR content sequences by hand. Codes are standard
(SNOMED CT, DCM, LOINC, UCUM) where one exists; the rest use the private
coding scheme :data:`SCHEME` (``99STETHOS``), declared in the file's Coding
Scheme Identification Sequence so a reader knows whose codes they are.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from engine.dicom.ai_read import MANUFACTURER

#: The private coding scheme of Stethos's own concepts.
SCHEME = "99STETHOS"
#: Root of the device-observer UIDs (one per model and version, derived, stable).
_DEVICE_UID_ENTROPY = "stethos-device-observer"

ResultKind = Literal["image", "ecg", "record"]


def stethos_code(value: str, meaning: str) -> hd.sr.CodedConcept:
    """A concept of Stethos's private coding scheme."""
    return hd.sr.CodedConcept(value, SCHEME, meaning)


#: Findings with a standard code (the model's positive label, lower case).
_FINDINGS = {
    "pneumonia": hd.sr.CodedConcept("233604007", "SCT", "Pneumonia"),
    "heart disease": hd.sr.CodedConcept("56265001", "SCT", "Heart disease"),
    "disease": hd.sr.CodedConcept("56265001", "SCT", "Heart disease"),
    "af": hd.sr.CodedConcept("49436004", "SCT", "Atrial fibrillation"),
}
#: Rhythm labels of the rhythm model.
_RHYTHMS = {
    "normal": hd.sr.CodedConcept("64730000", "SCT", "Normal sinus rhythm"),
    "af": hd.sr.CodedConcept("49436004", "SCT", "Atrial fibrillation"),
    "other": stethos_code("RHYTHM-OTHER", "Other rhythm"),
    "noisy": stethos_code("RHYTHM-NOISY", "Too noisy to classify"),
}
_PROCEDURES = {
    "image": hd.sr.CodedConcept("399208008", "SCT", "Plain chest X-ray"),
    "ecg": hd.sr.CodedConcept("29303009", "SCT", "Electrocardiographic procedure"),
    "record": hd.sr.CodedConcept("386053000", "SCT", "Evaluation procedure"),
}
SCORE = stethos_code("SCORE", "Model score")
THRESHOLD = stethos_code("THRESHOLD", "Operating point threshold")
REVIEW = stethos_code("REVIEW", "Clinician review of AI result")
DECISIONS = {
    "accepted": stethos_code("ACCEPTED", "Accepted by clinician"),
    "overridden": stethos_code("OVERRIDDEN", "Overridden by clinician"),
}
MODEL_INPUT = stethos_code("INPUT", "Model input")
ANALYSED_WAVEFORM = stethos_code("ANALYSED-WAVEFORM", "Analysed waveform")
ANALYSED_LEAD = stethos_code("ANALYSED-LEAD", "Analysed lead")
EVENT_START = stethos_code("EVENT-START", "Event start")
EVENT_DURATION = stethos_code("EVENT-DURATION", "Event duration")
NO_UNITS = codes.UCUM.NoUnits
_PERCENT = codes.UCUM.Percent
_BEATS = hd.sr.CodedConcept("{beats}", "UCUM", "beats")
_PER_MIN = hd.sr.CodedConcept("/min", "UCUM", "per minute")
_SECONDS = hd.sr.CodedConcept("s", "UCUM", "second")


class Review(Protocol):
    """A clinician's decision on a result: ``accepted`` or ``overridden``, with the comment.

    (:class:`engine.workflow.ResultReview` is one.)
    """

    @property
    def decision(self) -> str: ...
    @property
    def comment(self) -> str: ...
    @property
    def clinician(self) -> str: ...
    @property
    def login(self) -> str: ...


@dataclass(frozen=True)
class Event:
    """An ECG event (episode, pause, run) in seconds from the start of the waveform."""

    label: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class ResultContent:
    """What one analysis said, in the terms the SR needs (no model or store types).

    ``score`` is the probability of ``positive_label``; ``label`` the label at
    the operating point (for a rhythm model, the record's rhythm). For ECG
    results ``beat_counts`` and ``burdens`` (fractions) come per beat class and
    ``events`` with their times; for record results ``inputs`` holds the
    values the model read (name → text with its unit).
    """

    kind: ResultKind
    model_id: str
    model_name: str
    model_version: str
    weights_sha256: str
    label: str
    positive_label: str = ""
    score: float | None = None
    operating_point: str = ""
    threshold: float | None = None
    rhythm: str = ""
    heart_rate_bpm: float | None = None
    beat_counts: Mapping[str, int] = field(default_factory=dict)
    burdens: Mapping[str, float] = field(default_factory=dict)
    events: Sequence[Event] = ()
    inputs: Mapping[str, str] = field(default_factory=dict)
    review: Review | None = None
    #: ``(sop_class_uid, sop_instance_uid, frame)`` of the analysed source (frame 1-based).
    source_ref: tuple[str, str, int] | None = None
    #: The ECG lead the model read, when known.
    lead: str = ""

    @property
    def finding(self) -> hd.sr.CodedConcept:
        """The finding's concept: standard where one is known, else private."""
        key = (self.positive_label or self.label).strip().lower()
        if key in _FINDINGS:
            return _FINDINGS[key]
        name = self.positive_label or self.label or self.model_id
        return stethos_code(f"FINDING-{name.upper()[:50]}", name)


def evidence_header(source: Dataset) -> Dataset:
    """The source's header without pixels, with empty Type 2 patient/study attributes.

    highdicom copies the patient and study from its evidence; a source that
    left out a Type 2 attribute (it is allowed to be empty, not absent in the
    new object) gets it empty here, so the new object is valid too.
    """
    out = Dataset()
    for elem in source:
        if elem.tag.group in (0x7FE0, 0x5400) or elem.keyword in ("PixelData", "FloatPixelData"):
            continue
        out.add(copy.deepcopy(elem))
    if hasattr(source, "file_meta"):
        out.file_meta = copy.deepcopy(source.file_meta)
    for keyword in (
        "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber",
        "StudyID", "StudyDate", "StudyTime", "ReferringPhysicianName",
    ):  # fmt: skip
        if keyword not in out:
            setattr(out, keyword, "")
    return out


def device_uid(model_id: str, model_version: str) -> str:
    """A stable UID for Stethos running one model version (the SR's device observer)."""
    return str(generate_uid(entropy_srcs=[_DEVICE_UID_ENTROPY, model_id, model_version]))


def algorithm_identification(content: ResultContent) -> hd.sr.AlgorithmIdentification:
    """TID 4019: name, version, and the model id, weights hash and operating point."""
    parameters = [f"model_id={content.model_id}", f"weights_sha256={content.weights_sha256}"]
    if content.operating_point:
        parameters.append(f"operating_point={content.operating_point}")
    if content.threshold is not None:
        parameters.append(f"threshold={content.threshold:.6g}")
    return hd.sr.AlgorithmIdentification(
        name=content.model_name or content.model_id,
        version=content.model_version,
        parameters=parameters,
        manufacturer=MANUFACTURER,
    )


def _observation_context(content: ResultContent) -> hd.sr.ObservationContext:
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device_uid(content.model_id, content.model_version),
            name=MANUFACTURER,
            manufacturer_name=MANUFACTURER,
            model_name=f"{content.model_name or content.model_id} {content.model_version}"[:64],
        ),
    )
    person = None
    if content.review is not None and content.review.clinician:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=_person_name(content.review.clinician),
                login_name=content.review.login or None,
            ),
        )
    return hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device)


def _person_name(display: str) -> str:
    """``Family^Given`` from a display name (``"Given Family"`` or already ``"Family^Given"``)."""
    if "^" in display:
        return display
    parts = display.split()
    return f"{parts[-1]}^{' '.join(parts[:-1])}" if len(parts) > 1 else display


def _evaluations(content: ResultContent) -> list[hd.sr.QualitativeEvaluation]:
    out = []
    if content.kind == "ecg" and content.rhythm:
        rhythm = _RHYTHMS.get(content.rhythm.lower(), stethos_code(
            f"RHYTHM-{content.rhythm.upper()[:40]}", content.rhythm))  # fmt: skip
        out.append(hd.sr.QualitativeEvaluation(codes.LN.CardiacRhythm, rhythm))
    elif content.label:
        present = content.label == content.positive_label if content.positive_label else True
        value = codes.SCT.Present if present else codes.SCT.Absent
        out.append(hd.sr.QualitativeEvaluation(content.finding, value))
    if content.review is not None and content.review.decision in DECISIONS:
        out.append(hd.sr.QualitativeEvaluation(REVIEW, DECISIONS[content.review.decision]))
    return out


def _measurements(content: ResultContent) -> list[hd.sr.Measurement]:
    out = []
    if content.score is not None:
        out.append(hd.sr.Measurement(SCORE, float(content.score), NO_UNITS))
    if content.threshold is not None:
        out.append(hd.sr.Measurement(THRESHOLD, float(content.threshold), NO_UNITS))
    if content.heart_rate_bpm is not None:
        out.append(hd.sr.Measurement(codes.LN.HeartRate, float(content.heart_rate_bpm), _PER_MIN))
    for label, count in sorted(content.beat_counts.items()):
        name = stethos_code(f"BEATS-{label.upper()[:40]}", f"{label} beats")
        out.append(hd.sr.Measurement(name, float(count), _BEATS))
    for label, burden in sorted(content.burdens.items()):
        name = stethos_code(f"BURDEN-{label.upper()[:40]}", f"{label} burden")
        out.append(hd.sr.Measurement(name, round(100.0 * float(burden), 4), _PERCENT))
    return out


def _group(
    content: ResultContent,
    tracking: str,
    *,
    finding_type: hd.sr.CodedConcept,
    measurements: Sequence[hd.sr.Measurement] = (),
    evaluations: Sequence[hd.sr.QualitativeEvaluation] = (),
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    source_images = None
    if content.kind == "image" and content.source_ref is not None:
        sop_class, sop_instance, frame = content.source_ref
        source_images = [
            hd.sr.SourceImageForMeasurementGroup(
                sop_class, sop_instance, [frame] if frame > 1 else None
            )
        ]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=tracking[:64]),
        finding_type=finding_type,
        algorithm_id=algorithm_identification(content),
        measurements=list(measurements) or None,
        qualitative_evaluations=list(evaluations) or None,
        source_images=source_images,
    )


def _append(group: hd.sr.MeasurementsAndQualitativeEvaluations, item: hd.sr.ContentItem) -> None:
    """Add a content item (highdicom's) to a measurement group's container."""
    group[0].ContentSequence.append(item)


def _waveform_reference(source_ref: tuple[str, str, int]) -> hd.sr.CompositeContentItem:
    """A reference to the analysed waveform object (event times count from its start).

    A ``COMPOSITE`` reference: highdicom cannot yet read back ``WAVEFORM``
    items (nor so the ``TCOORD`` that would need one), so times are numbers in
    seconds from the start of the referenced waveform.
    """
    sop_class, sop_instance, _ = source_ref
    return hd.sr.CompositeContentItem(
        name=ANALYSED_WAVEFORM,
        referenced_sop_class_uid=sop_class,
        referenced_sop_instance_uid=sop_instance,
        relationship_type="CONTAINS",
    )


def _event_group(
    content: ResultContent, event: Event
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    label = event.label or "event"
    group = _group(
        content,
        f"{content.model_id} {label} {event.start_s:.1f}s",
        finding_type=_FINDINGS.get(
            label.lower(), stethos_code(f"EVENT-{label.upper()[:40]}", label)
        ),
        measurements=[
            hd.sr.Measurement(EVENT_START, float(event.start_s), _SECONDS),
            hd.sr.Measurement(EVENT_DURATION, max(0.0, event.end_s - event.start_s), _SECONDS),
        ],
    )
    if content.source_ref is not None:
        _append(group, _waveform_reference(content.source_ref))
    return group


def measurement_report(content: ResultContent) -> hd.sr.MeasurementReport:
    """The TID 1500 content of one result (see the module docstring)."""
    main = _group(
        content,
        f"{content.model_id} {content.model_version} result",
        finding_type=content.finding
        if content.kind != "ecg"
        else codes.SCT.ElectrocardiogramFinding,
        measurements=_measurements(content),
        evaluations=_evaluations(content),
    )
    for name, value in content.inputs.items():
        _append(main, hd.sr.TextContentItem(
            MODEL_INPUT, f"{name} = {value}"[:1024], relationship_type="CONTAINS"))  # fmt: skip
    if content.review is not None and content.review.comment:
        _append(main, hd.sr.TextContentItem(
            codes.DCM.Comment, content.review.comment, relationship_type="CONTAINS"))  # fmt: skip
    if content.kind == "ecg" and content.source_ref is not None:
        _append(main, _waveform_reference(content.source_ref))
        if content.lead:
            _append(main, hd.sr.TextContentItem(
                ANALYSED_LEAD, content.lead, relationship_type="CONTAINS"))  # fmt: skip
    groups = [main, *(_event_group(content, e) for e in content.events)]
    return hd.sr.MeasurementReport(
        observation_context=_observation_context(content),
        procedure_reported=_PROCEDURES[content.kind],
        imaging_measurements=groups,
    )


def series_description(content: ResultContent, what: str) -> str:
    """``AI <what> - Stethos <model id> <version>``, at most 64 characters."""
    return f"AI {what} - Stethos {content.model_id} {content.model_version}"[:64]


def build_result_sr(
    content: ResultContent,
    source: Dataset,
    *,
    series_uid: str,
    series_number: int,
    instance_number: int = 1,
    created: datetime | None = None,
    record_evidence: bool = True,
) -> hd.sr.ComprehensiveSR:
    """The Comprehensive SR of one result, in the source's patient and study.

    ``source`` is the analysed instance (its header is enough). For a record
    result, pass an instance of the study the SR should join and
    ``record_evidence=False``: the study is used, the instance is not listed
    as evidence the model read.
    """
    evidence = evidence_header(source)
    when = created or datetime.now()
    sr = hd.sr.ComprehensiveSR(
        evidence=[evidence],
        content=measurement_report(content),
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
        record_evidence=record_evidence,
        series_description=series_description(content, "result"),
        content_date=when.date(),
        content_time=when.time(),
    )
    if not record_evidence and "CurrentRequestedProcedureEvidenceSequence" in sr:
        # highdicom lists every evidence instance of the study; the record's model did not
        # read this one, so it is not evidence (nothing in the tree refers to it)
        del sr.CurrentRequestedProcedureEvidenceSequence
    sr.SoftwareVersions = [MANUFACTURER, f"{content.model_id} {content.model_version}"]  # type: ignore[assignment]
    _declare_scheme(sr)
    return sr


def _declare_scheme(ds: Dataset) -> None:
    """Add :data:`SCHEME` to the Coding Scheme Identification Sequence."""
    item = Dataset()
    item.CodingSchemeDesignator = SCHEME
    item.CodingSchemeName = "Stethos private concepts"
    item.CodingSchemeResponsibleOrganization = MANUFACTURER
    seq = list(ds.get("CodingSchemeIdentificationSequence") or [])
    if not any(getattr(i, "CodingSchemeDesignator", "") == SCHEME for i in seq):
        seq.append(item)
    ds.CodingSchemeIdentificationSequence = seq

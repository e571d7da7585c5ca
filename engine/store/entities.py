"""Public data of the store: frozen dataclasses the GUI shows as they are."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

SEX_LABELS = {"F": "Female", "M": "Male", "O": "Other", "U": "Unknown"}
DECISIONS = ("accepted", "overridden")
ROLES = ("admin", "clinician")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the store's default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class User:
    """A local account. ``role`` is ``"admin"`` or ``"clinician"``."""

    id: int
    username: str
    full_name: str
    role: str
    active: bool
    must_change_password: bool
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        """Whether this user manages accounts."""
        return self.role == "admin"


@dataclass
class Session:
    """Who is signed in and since when; the GUI locks after inactivity.

    Every store call updates ``last_activity``; the GUI calls
    :meth:`touch` on user input too and :meth:`is_locked` from a timer.
    """

    user: User
    started_at: datetime
    last_activity: datetime
    clock: Callable[[], datetime] = field(default=utcnow, repr=False, compare=False)

    def touch(self) -> None:
        """Record activity now."""
        self.last_activity = self.clock()

    def idle_seconds(self, now: datetime | None = None) -> float:
        """Seconds since the last activity."""
        return ((now or self.clock()) - self.last_activity).total_seconds()

    def is_locked(self, timeout_s: float, now: datetime | None = None) -> bool:
        """Whether the session has been idle for at least ``timeout_s`` seconds."""
        return self.idle_seconds(now) >= timeout_s


@dataclass(frozen=True)
class Patient:
    """One version of a patient's identifying data (the current one unless from history)."""

    id: int
    mrn: str
    family_name: str
    given_name: str
    birth_date: date | None
    sex: str
    version: int
    updated_at: datetime
    updated_by: str
    reason: str = ""

    @property
    def display_name(self) -> str:
        """``FAMILY, Given`` as lists show it."""
        return (
            f"{self.family_name.upper()}, {self.given_name}"
            if self.given_name
            else (self.family_name.upper())
        )

    @property
    def sex_label(self) -> str:
        """``Female``, ``Male``, ``Other`` or ``Unknown``."""
        return SEX_LABELS.get(self.sex, self.sex)

    def age_on(self, day: date) -> int | None:
        """Age in whole years on ``day`` (``None`` without a birth date)."""
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True)
class Encounter:
    """A visit: the container of records, results and linked studies."""

    id: int
    patient_id: int
    started_at: datetime
    reason: str
    created_by: str


@dataclass(frozen=True)
class StoredRecord:
    """A saved record version: values keyed by field name, with their units.

    ``version`` counts edits of the same record; ``supersedes`` is the id of
    the version it replaced (``None`` for the first).
    """

    id: int
    encounter_id: int
    patient_id: int
    schema_name: str
    schema_version: str
    values: dict[str, Any]
    units: dict[str, str]
    version: int
    supersedes: int | None
    recorded_at: datetime
    recorded_by: str
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    """A clinician's decision on a result: ``accepted`` or ``overridden`` with a comment."""

    id: int
    result_id: int
    decision: str
    comment: str
    decided_at: datetime
    decided_by: str


@dataclass(frozen=True)
class StoredResult:
    """A model result as saved, with the latest decision on it (if any).

    ``result`` is the prediction's ``to_json()`` as saved; the other fields
    are columns for lists, searches and the drift report.
    """

    id: int
    encounter_id: int
    patient_id: int
    record_id: int | None
    study_link_id: int | None
    model_id: str
    model_version: str
    model_name: str
    weights_sha256: str
    input_hash: str
    label: str
    positive_label: str | None
    score: float | None
    is_positive: bool | None
    probabilities: dict[str, float]
    operating_point: str
    threshold: float | None
    sensitivity: float | None
    specificity: float | None
    explanation_summary: str
    device: str
    elapsed_ms: float | None
    created_at: datetime
    created_by: str
    result: dict[str, Any]
    decision: Decision | None = None

    @property
    def withheld(self) -> bool:
        """The model gave no label: the input was out of its domain (see :func:`is_withheld`)."""
        return is_withheld(self.result)


def is_withheld(payload: Mapping[str, Any]) -> bool:
    """Whether a result's saved JSON says the model withheld its label (an out-of-domain
    input): no label, no score, no positive, no decision; its probabilities are for audit."""
    return payload.get("out_of_domain") is True


@dataclass(frozen=True)
class StudyLink:
    """A DICOM study (or series) attached to a patient, with the header's identity as read.

    ``warning`` is the identity-mismatch message shown when it was linked
    (empty when the study's patient ID and name matched).
    """

    id: int
    patient_id: int
    encounter_id: int | None
    study_uid: str
    series_uid: str
    path: str
    modality: str
    study_date: str
    dicom_patient_id: str
    dicom_patient_name: str
    warning: str
    linked_at: datetime
    linked_by: str


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a patient's timeline.

    ``kind`` is ``"encounter"``, ``"record"``, ``"result"``, ``"decision"``
    or ``"study"``; ``item`` is the matching dataclass above. For an edited
    record, ``previous`` is the version it replaced (its summary says what
    changed); ``None`` otherwise.
    """

    time: datetime
    kind: str
    id: int
    encounter_id: int | None
    title: str
    summary: str
    item: Any = field(compare=False, repr=False)
    previous: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AuditEntry:
    """One entry of the hash-chained audit log."""

    seq: int
    time: datetime
    user: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditReport:
    """Outcome of :meth:`Store.verify_audit`.

    ``first_bad_seq`` is the first entry found altered, missing or out of
    chain (``None`` when ``ok``, or when only the anchor file is at fault).
    ``awaiting_seal`` counts entries of a shared database committed but not
    yet sealed into the chain (written while the check ran; the next write
    seals them): they are not among the ``entries`` checked.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    problem: str
    anchor_seq: int | None
    awaiting_seal: int = 0

    @property
    def message(self) -> str:
        """One line for the user."""
        if self.ok:
            waiting = (
                f" ({self.awaiting_seal} more awaiting their seal)" if self.awaiting_seal else ""
            )
            return (
                f"The audit trail is intact: {self.entries} entries, chain and anchor "
                f"verified{waiting}."
            )
        where = f" at entry {self.first_bad_seq}" if self.first_bad_seq is not None else ""
        return f"The audit trail has been tampered with{where}: {self.problem}"


@dataclass(frozen=True)
class DriftRow:
    """Per model version and period: how often the model said positive, how often overridden.

    ``positive_share`` is ``positives`` over the results whose positive
    label is known (all results of a model that declares one); ``override_share`` is ``overridden / decided``, where a
    result counts as decided by its latest decision. Periods are
    ``YYYY-MM`` (month) or ``YYYY-Www`` (ISO week) of the result's time.
    """

    model_id: str
    model_version: str
    period: str
    results: int
    positives: int
    positive_share: float | None
    decided: int
    overridden: int
    override_share: float | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return dict(self.__dict__)

"""Model results, the clinician's decisions on them, and the drift report.

The store takes a result as a :class:`ResultInput`, a plain typed record:
it does not know the model layer (``engine.models`` is a sibling layer), so
converting a model's ``Prediction`` into one is the caller's job (the
workflow layer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import StoreError
from engine.store import audit as audit_log
from engine.store import db
from engine.store.core import Audit, dt, from_row, guarded, one
from engine.store.entities import DECISIONS, Decision, DriftRow, StoredResult, is_withheld
from engine.store.records import RecordsMixin
from engine.store.studies import StudiesMixin

#: Fields a result cannot be saved without (besides at least one probability).
_REQUIRED = ("model_id", "model_version", "weights_sha256", "input_hash", "label")
#: Optional numbers, saved as floats.
_NUMBERS = ("threshold", "sensitivity", "specificity", "elapsed_ms")
#: Fields saved as they are into the ``results`` column of the same name.
_COLUMNS = (
    "model_id",
    "model_version",
    "model_name",
    "weights_sha256",
    "input_hash",
    "label",
    "positive_label",
    "score",
    "operating_point",
    "threshold",
    "sensitivity",
    "specificity",
    "explanation_summary",
    "device",
    "elapsed_ms",
)


@dataclass(frozen=True)
class ResultInput:
    """What a model said about one input, as the store saves it.

    Checked and normalised on construction: probabilities become
    ``{str: float}``, the optional numbers floats, an empty
    ``positive_label`` ``None``.

    Attributes
    ----------
    model_id, model_version, model_name, weights_sha256
        The model's identity (the name is for display).
    input_hash
        SHA-256 of the analysed input.
    label
        The label the model gave; empty for a **withheld** result (its payload
        says ``"out_of_domain": true``: the input was unlike what the model was
        validated on, so it gave no label).
    probabilities
        Probability per label.
    positive_label
        The label that counts as positive, or ``None`` when the result has
        none (then :attr:`score` and :attr:`is_positive` are ``None``, as for a
        withheld result, whose probabilities are kept for audit only).
    operating_point, threshold, sensitivity, specificity
        The operating point the label was decided at.
    device, elapsed_ms
        Where the model ran and how long it took.
    explanation_summary
        One line for lists (e.g. the largest feature contributions).
    payload
        The full JSON document saved with the result (what
        :attr:`StoredResult.result` returns).

    Raises
    ------
    StoreError
        A required field or the probabilities are missing, a number is not a
        number, or ``positive_label`` is not among the probabilities' labels.
    """

    model_id: str
    model_version: str
    model_name: str
    weights_sha256: str
    input_hash: str
    label: str
    probabilities: Mapping[str, float]
    positive_label: str | None
    operating_point: str = ""
    threshold: float | None = None
    sensitivity: float | None = None
    specificity: float | None = None
    device: str = ""
    elapsed_ms: float | None = None
    explanation_summary: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [
            name
            for name in _REQUIRED
            if not getattr(self, name) and not (name == "label" and self.withheld)
        ]
        if missing or not self.probabilities:
            raise StoreError(
                "The result cannot be saved: it lacks "
                + ", ".join(missing or ["probabilities"])
                + ".",
            )
        try:
            probabilities = {str(k): float(v) for k, v in self.probabilities.items()}
            numbers = {
                name: None if getattr(self, name) is None else float(getattr(self, name))
                for name in _NUMBERS
            }
        except (TypeError, ValueError) as exc:
            raise StoreError(
                "The result cannot be saved: a probability or operating-point value is not "
                "a number.",
                str(exc),
            ) from exc
        positive = self.positive_label or None
        if positive is not None and positive not in probabilities:
            raise StoreError(f"The positive label “{positive}” is not among the result's labels.")
        normalised: dict[str, Any] = {
            **numbers,
            "probabilities": probabilities,
            "positive_label": positive,
            "model_name": self.model_name or "",
            "operating_point": self.operating_point or "",
            "device": self.device or "",
            "explanation_summary": (self.explanation_summary or "").strip(),
            "payload": dict(self.payload),
        }
        for name, value in normalised.items():
            # frozen: __post_init__ is the one place the normalised values are set
            object.__setattr__(self, name, value)

    @property
    def withheld(self) -> bool:
        """The model gave no label: the input was out of its domain (kept for the record)."""
        return is_withheld(self.payload)

    @property
    def score(self) -> float | None:
        """Probability of the positive label (``None`` without one, or when withheld)."""
        if self.positive_label is None or self.withheld:
            return None
        return self.probabilities[self.positive_label]

    @property
    def is_positive(self) -> bool | None:
        """Whether the label is the positive one (``None`` without a positive label, or when
        withheld: a result not given is neither)."""
        if self.positive_label is None or self.withheld:
            return None
        return self.label == self.positive_label


#: The SELECTs list the columns in the order of the entity's fields (see ``from_row``).
_RESULT_SELECT = (
    "SELECT r.id, r.encounter_id, e.patient_id, r.record_id, r.study_link_id, r.model_id, "
    "r.model_version, r.model_name, r.weights_sha256, r.input_hash, r.label, "
    "r.positive_label, r.score, r.is_positive, r.probabilities, r.operating_point, "
    "r.threshold, r.sensitivity, r.specificity, r.explanation_summary, r.device, "
    "r.elapsed_ms, r.created_at, u.username, r.result_json FROM results r "
    "JOIN encounters e ON e.id = r.encounter_id JOIN users u ON u.id = r.created_by"
)
_RESULT_READ: dict[str, Callable[[Any], Any]] = {
    "is_positive": bool,
    "probabilities": json.loads,
    "created_at": dt,
    "result": json.loads,
}
_DECISION_SELECT = (
    "SELECT d.id, d.result_id, d.decision, d.comment, d.decided_at, u.username "
    "FROM decisions d JOIN users u ON u.id = d.decided_by"
)


class ResultsMixin(RecordsMixin, StudiesMixin):
    """Results, decisions and the drift report (part of :class:`Store`)."""

    @guarded
    def save_result(
        self,
        encounter_id: int,
        result: ResultInput,
        *,
        record_id: int | None = None,
        study_link_id: int | None = None,
    ) -> StoredResult:
        """Save what a model said about an input of this encounter.

        Parameters
        ----------
        encounter_id
            The encounter whose input was analysed.
        result
            The result (its ``payload`` is saved as the result's JSON).
        record_id, study_link_id
            The analysed record or study, which must belong to the same
            encounter or patient.

        Raises
        ------
        StoreError
            ``result`` is not a :class:`ResultInput`, or the record or study
            belongs elsewhere.
        """
        if not isinstance(result, ResultInput):
            raise StoreError("A result must be given as a ResultInput.", type(result).__name__)
        conn = self._conn()
        with self._write() as tx:
            encounter = self._encounter(conn, encounter_id)
            self._patient(conn, encounter.patient_id)
            if record_id is not None and self._record(conn, record_id).encounter_id != encounter_id:
                raise StoreError(f"Record {record_id} belongs to another encounter.")
            if study_link_id is not None:
                link = self._study(conn, study_link_id)
                if link.patient_id != encounter.patient_id:
                    raise StoreError(f"Study link {study_link_id} belongs to another patient.")
            positive = result.is_positive
            rid = tx.insert(
                "results",
                {
                    "encounter_id": encounter_id,
                    "record_id": record_id,
                    "study_link_id": study_link_id,
                    **{name: getattr(result, name) for name in _COLUMNS},
                    "is_positive": None if positive is None else int(positive),
                    "probabilities": audit_log.canonical_json(result.probabilities),
                    "result_json": audit_log.canonical_json(result.payload),
                    **self._stamp("created"),
                },
                Audit(
                    "analysed",
                    "result",
                    {
                        "encounter_id": encounter_id,
                        "patient_id": encounter.patient_id,
                        "model_id": result.model_id,
                        "model_version": result.model_version,
                        "weights_sha256": result.weights_sha256,
                        "input_hash": result.input_hash,
                        "label": result.label,
                        "positive": positive,
                        "score": result.score,
                    },
                ),
            )
        return self._result(conn, rid)

    def _result(self, conn: db.Connection, result_id: int) -> StoredResult:
        row = one(conn, _RESULT_SELECT + " WHERE r.id = ?", result_id,
                  f"Result {result_id} does not exist.")  # fmt: skip
        return _stored_result(row, self._latest_decision(conn, result_id))

    def _latest_decision(self, conn: db.Connection, result_id: int) -> Decision | None:
        row = conn.execute(
            _DECISION_SELECT + " WHERE d.result_id = ? ORDER BY d.id DESC LIMIT 1",
            (result_id,),
        ).fetchone()
        return None if row is None else _decision(row)

    def _patient_results(
        self, conn: db.Connection, patient_id: int
    ) -> list[tuple[StoredResult, list[Decision]]]:
        """Every result of a patient with its decisions, oldest first (for the timeline).

        Two queries whatever the number of results: on a server every query
        is a round trip, and a patient may have a thousand results.
        """
        rows = conn.execute(_RESULT_SELECT + " WHERE e.patient_id = ?", (patient_id,)).fetchall()
        decided: dict[int, list[Decision]] = {}
        for row in conn.execute(
            _DECISION_SELECT + " JOIN results r ON r.id = d.result_id "
            "JOIN encounters e ON e.id = r.encounter_id WHERE e.patient_id = ? ORDER BY d.id",
            (patient_id,),
        ):
            decision = _decision(row)
            decided.setdefault(decision.result_id, []).append(decision)
        out = []
        for row in rows:
            decisions = decided.get(int(row[0]), [])
            out.append((_stored_result(row, decisions[-1] if decisions else None), decisions))
        return out

    @guarded
    def get_result(self, result_id: int) -> StoredResult:
        """One saved result with its latest decision."""
        return self._result(self._conn(), result_id)

    @guarded
    def results(self, encounter_id: int) -> list[StoredResult]:
        """The results of an encounter, oldest first."""
        conn = self._conn()
        rows = conn.execute(
            _RESULT_SELECT + " WHERE r.encounter_id = ? ORDER BY r.created_at, r.id",
            (encounter_id,),
        ).fetchall()
        return [_stored_result(r, self._latest_decision(conn, int(r[0]))) for r in rows]

    @guarded
    def record_decision(self, result_id: int, decision: str, comment: str = "") -> Decision:
        """Record the clinician's decision on a result; the result itself is never changed.

        Parameters
        ----------
        decision
            ``"accepted"`` or ``"overridden"``; overriding needs a ``comment``.

        Notes
        -----
        A later decision on the same result supersedes the earlier one in
        lists, and both stay in the history. A withheld result (out of domain:
        no label) takes no decision.
        """
        if decision not in DECISIONS:
            raise StoreError(f"Unknown decision “{decision}”; use “accepted” or “overridden”.")
        comment = comment.strip()
        if decision == "overridden" and not comment:
            raise StoreError("Say why the result is overridden: the comment is required.")
        conn = self._conn()
        with self._write() as tx:
            result = self._result(conn, result_id)
            if result.withheld:
                raise StoreError(
                    "The model gave no result for this input (it was unlike what the model was "
                    "validated on): there is nothing to accept or override."
                )
            did = tx.insert(
                "decisions",
                {
                    "result_id": result_id,
                    "decision": decision,
                    "comment": comment,
                    **self._stamp("decided"),
                },
                Audit(
                    "decided",
                    "decision",
                    {
                        "result_id": result_id,
                        "decision": decision,
                        "comment": comment,
                        "model_id": result.model_id,
                        "model_version": result.model_version,
                    },
                ),
            )
        row = conn.execute(_DECISION_SELECT + " WHERE d.id = ?", (did,)).fetchone()
        return _decision(row)

    @guarded
    def decisions(self, result_id: int) -> list[Decision]:
        """Every decision on a result, oldest first."""
        rows = self._conn().execute(
            _DECISION_SELECT + " WHERE d.result_id = ? ORDER BY d.id", (result_id,)
        )
        return [_decision(r) for r in rows]

    @guarded
    def drift_report(self, period: str = "month", *, model_id: str | None = None) -> list[DriftRow]:
        """Per model version and month (or ISO week): positive share and override share."""
        return audit_log.drift(self._conn(), period, model_id)


def _stored_result(row: tuple, decision: Decision | None) -> StoredResult:
    return from_row(StoredResult, row, _RESULT_READ, decision=decision)


def _decision(row: tuple) -> Decision:
    return from_row(Decision, row, {"decided_at": dt})

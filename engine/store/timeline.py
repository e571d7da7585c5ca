"""A patient's timeline: encounters, records, studies, results and decisions in time order."""

from __future__ import annotations

from engine.store.core import guarded
from engine.store.entities import TimelineEntry
from engine.store.records import LATEST_ONLY, RECORD_SELECT, record_summary, stored_record
from engine.store.results import ResultsMixin

#: Among entries of the same time, the order in which things happen in a visit.
_KIND_ORDER = {"encounter": 0, "record": 1, "study": 2, "result": 3, "decision": 4}
#: A withheld result's summary: the model gave no label (its probabilities are for audit only).
NO_RESULT = "No result (out of domain)"


class TimelineMixin(ResultsMixin):
    """The patient timeline (part of :class:`Store`)."""

    @guarded
    def timeline(self, patient_id: int) -> list[TimelineEntry]:
        """Everything of a patient in time order: encounters, records, results, decisions, studies.

        Records appear in their latest version (``version > 1`` means edited).
        """
        conn = self._conn()
        self._patient(conn, patient_id)
        out = [
            TimelineEntry(enc.started_at, "encounter", enc.id, enc.id, "Encounter", enc.reason, enc)
            for enc in self.encounters(patient_id)
        ]
        rows = conn.execute(
            RECORD_SELECT + f" WHERE e.patient_id = ? AND {LATEST_ONLY}", (patient_id,)
        ).fetchall()
        for row in rows:
            rec = stored_record(row)
            title = f"Record ({rec.schema_name})" + (
                f", edited (version {rec.version})" if rec.version > 1 else ""
            )
            previous = None if rec.supersedes is None else self._record(conn, rec.supersedes)
            summary = record_summary(rec, previous)
            out.append(
                TimelineEntry(
                    rec.recorded_at,
                    "record",
                    rec.id,
                    rec.encounter_id,
                    title,
                    summary,
                    rec,
                    previous,
                )
            )
        for res, decisions in self._patient_results(conn, patient_id):
            score = f" ({res.score:.0%})" if res.score is not None else ""
            summary = NO_RESULT if res.withheld else f"{res.label}{score}"
            out.append(
                TimelineEntry(
                    res.created_at,
                    "result",
                    res.id,
                    res.encounter_id,
                    f"{res.model_name or res.model_id} {res.model_version}",
                    summary,
                    res,
                )
            )
            for dec in decisions:
                text = dec.decision.capitalize() + (f": {dec.comment}" if dec.comment else "")
                out.append(
                    TimelineEntry(
                        dec.decided_at,
                        "decision",
                        dec.id,
                        res.encounter_id,
                        f"Decision on {res.model_id}",
                        text,
                        dec,
                    )
                )
        for link in self.studies(patient_id):
            out.append(
                TimelineEntry(
                    link.linked_at,
                    "study",
                    link.id,
                    link.encounter_id,
                    f"Study {link.modality}".strip(),
                    link.warning or link.study_date,
                    link,
                )
            )
        out.sort(key=lambda e: (e.time, _KIND_ORDER[e.kind], e.id))
        return out

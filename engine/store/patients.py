"""Patients (identifying data, kept in every version) and their encounters."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from engine.errors import RecordValidationError, StoreConflictError, StoreError
from engine.store import db, migrations
from engine.store.core import Audit, StoreCore, Tx, dt, from_row, guarded, one, ts
from engine.store.entities import SEX_LABELS, Encounter, Patient

PATIENT_FIELDS = ("mrn", "family_name", "given_name", "birth_date", "sex")

#: The SELECTs list the columns in the order of the entity's fields (see ``from_row``).
_PATIENT_SELECT = (
    "SELECT p.id, p.mrn, p.family_name, p.given_name, p.birth_date, p.sex, p.version, "
    "p.updated_at, u.username FROM patients p JOIN users u ON u.id = p.updated_by"
)
_PATIENT_READ = {
    "birth_date": lambda text: date.fromisoformat(text) if text else None,
    "updated_at": dt,
}
_ENCOUNTER_SELECT = (
    "SELECT e.id, e.patient_id, e.started_at, e.reason, u.username FROM encounters e "
    "JOIN users u ON u.id = e.created_by"
)


class PatientsMixin(StoreCore):
    """Patients and encounters (part of :class:`Store`)."""

    @guarded
    def add_patient(
        self,
        mrn: str,
        family_name: str,
        given_name: str = "",
        birth_date: date | str | None = None,
        sex: str = "U",
    ) -> Patient:
        """Register a patient.

        Raises
        ------
        RecordValidationError
            A value is missing or wrong, or another patient has the MRN.
        """
        values = clean_patient(
            {
                "mrn": mrn,
                "family_name": family_name,
                "given_name": given_name,
                "birth_date": birth_date,
                "sex": sex,
            },
            self._clock().date(),
        )
        # The MRN's UNIQUE constraint refuses a taken one: no SELECT first (a round trip on a
        # server, for a case that is rare); only when the write fails is the MRN looked up.
        try:
            with self._write() as tx:
                now = self._now()
                pid = tx.insert(
                    "patients",
                    {
                        **_patient_row(values),
                        "version": 1,
                        **self._stamp("created", now),
                        **self._stamp("updated", now),
                    },
                    Audit("created", "patient"),
                )
                self._insert_patient_version(tx, pid, 1, values, now, "registered")
        except Exception as exc:
            self._refuse_taken_mrn(values["mrn"], exc)
            raise
        # Built from what was written (one query less: a round trip on a server).
        return patient_from_row(
            (pid, *(values[k] for k in PATIENT_FIELDS), 1, now, self.session.user.username)
        )

    def _refuse_taken_mrn(self, mrn: str, failure: Exception) -> None:
        """Raise the validation error when ``failure`` came from ``mrn`` being taken."""
        try:
            self._check_mrn_free(self._conn(), mrn, None)
        except RecordValidationError as taken:
            raise taken from failure
        except Exception:  # the store itself failed (a lost server): report that failure
            return

    def _check_mrn_free(self, conn: db.Connection, mrn: str, patient_id: int | None) -> None:
        row = conn.execute("SELECT id FROM patients WHERE mrn = ?", (mrn,)).fetchone()
        if row is not None and row[0] != patient_id:
            raise RecordValidationError({"mrn": f"Another patient already has the MRN {mrn}."})

    def _insert_patient_version(
        self,
        tx: Tx,
        pid: int,
        version: int,
        values: Mapping[str, Any],
        now: str,
        reason: str,
    ) -> None:
        # Not audited itself: the patient's own entry (created/changed) covers it.
        tx.append(
            "patient_versions",
            {
                "patient_id": pid,
                "version": version,
                **{k: values[k] for k in PATIENT_FIELDS},
                **self._stamp("changed", now),
                "reason": reason,
            },
        )

    def _patient(self, conn: db.Connection, patient_id: int) -> Patient:
        row = one(
            conn,
            _PATIENT_SELECT + " WHERE p.id = ? AND p.deleted_at IS NULL",
            patient_id,
            f"Patient {patient_id} does not exist or was deleted.",
        )
        return patient_from_row(row)

    @guarded
    def get_patient(self, patient_id: int) -> Patient:
        """The current version of a patient (not audited; see :meth:`open_patient`)."""
        return self._patient(self._conn(), patient_id)

    @guarded
    def open_patient(self, patient_id: int) -> Patient:
        """The current version of a patient, logging that the user opened the chart."""
        patient = self._patient(self._conn(), patient_id)
        with self._write() as tx:
            tx.audit("opened", "patient", patient_id)
        return patient

    @guarded
    def search_patients(self, text: str = "", *, limit: int = 200) -> list[Patient]:
        """Patients whose MRN or name contains every word of ``text`` (case/accent-blind).

        An empty ``text`` lists everyone (most recently changed first).
        """
        words = migrations.search_key(text).split()
        sql = _PATIENT_SELECT + " WHERE p.deleted_at IS NULL"
        args: list[Any] = []
        for word in words:
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql += " AND p.search_key LIKE ? ESCAPE '\\'"
            args.append(f"%{escaped}%")
        sql += " ORDER BY p.updated_at DESC, p.id DESC LIMIT ?"
        args.append(int(limit))
        return [patient_from_row(r) for r in self._conn().execute(sql, args)]

    @guarded
    def update_patient(
        self,
        patient_id: int,
        changes: Mapping[str, Any],
        *,
        reason: str = "",
        expected_version: int | None = None,
    ) -> Patient:
        """Change a patient's identifying data, keeping the old version.

        Parameters
        ----------
        changes
            Maps any of ``mrn``, ``family_name``, ``given_name``,
            ``birth_date``, ``sex`` to new values.
        expected_version
            The version the form showed: a concurrent edit then raises
            :class:`StoreConflictError` instead of being silently overwritten.
        """
        unknown = set(changes) - set(PATIENT_FIELDS)
        if unknown:
            raise StoreError(f"Unknown patient fields: {', '.join(sorted(unknown))}.")
        conn = self._conn()
        with self._write() as tx:
            current = self._patient(conn, patient_id)
            if expected_version is not None and current.version != expected_version:
                raise StoreConflictError(
                    f"{current.display_name} was changed by {current.updated_by} meanwhile. "
                    "Reload the patient and apply your change again."
                )
            old = patient_values(current)
            values = clean_patient({**old, **changes}, self._clock().date())
            if values == old:
                return current
            self._check_mrn_free(conn, values["mrn"], patient_id)
            now, version = self._now(), current.version + 1
            changed = sorted(k for k in values if values[k] != old[k])
            tx.update(
                "patients",
                patient_id,
                {**_patient_row(values), "version": version, **self._stamp("updated", now)},
                Audit(
                    "changed",
                    "patient",
                    {"version": version, "fields": changed, "reason": reason.strip()},
                ),
            )
            self._insert_patient_version(tx, patient_id, version, values, now, reason.strip())
        return self.get_patient(patient_id)

    @guarded
    def patient_history(self, patient_id: int) -> list[Patient]:
        """Every version of a patient's identifying data, oldest first."""
        rows = self._conn().execute(
            "SELECT v.patient_id, v.mrn, v.family_name, v.given_name, v.birth_date, v.sex, "
            "v.version, v.changed_at, u.username, v.reason FROM patient_versions v "
            "JOIN users u ON u.id = v.changed_by WHERE v.patient_id = ? ORDER BY v.version",
            (patient_id,),
        )
        return [patient_from_row(r) for r in rows]

    @guarded
    def delete_patient(self, patient_id: int, reason: str) -> None:
        """Hide a patient from lists (their history is kept and stays in the audit trail)."""
        if not reason.strip():
            raise StoreError("Say why the patient is deleted.")
        conn = self._conn()
        with self._write() as tx:
            self._patient(conn, patient_id)
            tx.update(
                "patients",
                patient_id,
                {"deleted_at": self._now()},
                Audit("deleted", "patient", {"reason": reason.strip()}),
            )

    # --- encounters ---------------------------------------------------------------------
    @guarded
    def add_encounter(
        self, patient_id: int, *, reason: str = "", started_at: datetime | None = None
    ) -> Encounter:
        """Open a visit for a patient (``started_at`` defaults to now)."""
        conn = self._conn()
        with self._write() as tx:
            self._patient(conn, patient_id)
            now = self._now()
            eid = tx.insert(
                "encounters",
                {
                    "patient_id": patient_id,
                    "started_at": ts(started_at) if started_at else now,
                    "reason": reason.strip(),
                    **self._stamp("created", now),
                },
                Audit("created", "encounter", {"patient_id": patient_id}),
            )
        return self._encounter(conn, eid)

    def _encounter(self, conn: db.Connection, encounter_id: int) -> Encounter:
        row = one(conn, _ENCOUNTER_SELECT + " WHERE e.id = ?", encounter_id,
                  f"Encounter {encounter_id} does not exist.")  # fmt: skip
        return _encounter_from_row(row)

    @guarded
    def encounters(self, patient_id: int) -> list[Encounter]:
        """A patient's encounters, oldest first."""
        rows = self._conn().execute(
            _ENCOUNTER_SELECT + " WHERE e.patient_id = ? ORDER BY e.started_at, e.id",
            (patient_id,),
        )
        return [_encounter_from_row(r) for r in rows]


def _encounter_from_row(row: tuple) -> Encounter:
    return from_row(Encounter, row, {"started_at": dt})


def _patient_row(values: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying columns of a ``patients`` row, with the search key derived from them."""
    return {
        **{k: values[k] for k in PATIENT_FIELDS},
        "search_key": migrations.search_key(
            values["mrn"], values["family_name"], values["given_name"]
        ),
    }


def patient_from_row(row: tuple) -> Patient:
    """A :class:`Patient` from a patients or patient_versions row (``reason`` optional)."""
    return from_row(Patient, row, _PATIENT_READ)


def patient_values(p: Patient) -> dict[str, Any]:
    """A patient's identifying fields as :func:`clean_patient` returns them."""
    return {
        "mrn": p.mrn,
        "family_name": p.family_name,
        "given_name": p.given_name,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "sex": p.sex,
    }


def clean_patient(values: Mapping[str, Any], today: date) -> dict[str, Any]:
    """Check and normalise a patient's identifying fields (``birth_date`` as ISO text).

    Raises
    ------
    RecordValidationError
        With one message per wrong field.
    """
    problems: dict[str, str] = {}
    mrn = str(values.get("mrn") or "").strip()
    family = str(values.get("family_name") or "").strip()
    given = str(values.get("given_name") or "").strip()
    sex = str(values.get("sex") or "U").strip().upper()[:1] or "U"
    if not mrn:
        problems["mrn"] = "The MRN (patient identifier) is required."
    elif len(mrn) > 64:
        problems["mrn"] = "The MRN must have at most 64 characters."
    if not family:
        problems["family_name"] = "The family name is required."
    if sex not in SEX_LABELS:
        problems["sex"] = "Sex must be Female, Male, Other or Unknown."
    birth = values.get("birth_date")
    birth_text: str | None = None
    if birth not in (None, ""):
        try:
            born = birth if isinstance(birth, date) else date.fromisoformat(str(birth))
        except ValueError:
            problems["birth_date"] = "The birth date must be a date (YYYY-MM-DD)."
        else:
            if isinstance(born, datetime):
                born = born.date()
            if born > today:
                problems["birth_date"] = "The birth date cannot be in the future."
            elif born.year < 1880:
                problems["birth_date"] = "The birth date is before 1880."
            else:
                birth_text = born.isoformat()
    if problems:
        raise RecordValidationError(problems)
    return {
        "mrn": mrn,
        "family_name": family,
        "given_name": given,
        "birth_date": birth_text,
        "sex": sex,
    }

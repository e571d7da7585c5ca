"""Study links: DICOM studies attached to a patient, and the identity check on linking."""

from __future__ import annotations

from pathlib import Path

from engine.errors import StoreError
from engine.store import db, migrations
from engine.store.core import Audit, dt, from_row, guarded, one
from engine.store.entities import Patient, StudyLink
from engine.store.patients import PatientsMixin

#: :class:`StudyLink`'s fields, in order (``mismatch`` is its ``warning``).
_STUDY_SELECT = (
    "SELECT s.id, s.patient_id, s.encounter_id, s.study_uid, s.series_uid, s.path, "
    "s.modality, s.study_date, s.dicom_patient_id, s.dicom_patient_name, s.mismatch, "
    "s.linked_at, u.username FROM study_links s JOIN users u ON u.id = s.linked_by"
)


class StudiesMixin(PatientsMixin):
    """Study links (part of :class:`Store`)."""

    @guarded
    def link_study(
        self,
        patient_id: int,
        *,
        study_uid: str,
        path: str | Path,
        series_uid: str = "",
        modality: str = "",
        study_date: str = "",
        dicom_patient_id: str = "",
        dicom_patient_name: str = "",
        encounter_id: int | None = None,
    ) -> StudyLink:
        """Attach a DICOM study (or one series) to a patient.

        The DICOM Patient ID and name are saved as read from the header; when
        they do not match the patient the link is still made and
        :attr:`StudyLink.warning` says why (the GUI shows it and asks).
        """
        study_uid, series_uid = study_uid.strip(), series_uid.strip()
        if not study_uid:
            raise StoreError("The study has no Study Instance UID; it cannot be linked.")
        conn = self._conn()
        with self._write() as tx:
            patient = self._patient(conn, patient_id)
            if encounter_id is not None and self._encounter(conn, encounter_id).patient_id != (
                patient_id
            ):
                raise StoreError(f"Encounter {encounter_id} belongs to another patient.")
            warning = mismatch_warning(patient, dicom_patient_id, dicom_patient_name) or ""
            lid = tx.insert(
                "study_links",
                {
                    "patient_id": patient_id,
                    "encounter_id": encounter_id,
                    "study_uid": study_uid,
                    "series_uid": series_uid,
                    "path": str(path),
                    "modality": modality,
                    "study_date": study_date,
                    "dicom_patient_id": dicom_patient_id,
                    "dicom_patient_name": dicom_patient_name,
                    "mismatch": warning,
                    **self._stamp("linked"),
                },
                Audit(
                    "linked",
                    "study",
                    {
                        "patient_id": patient_id,
                        "study_uid": study_uid,
                        "series_uid": series_uid,
                        "mismatch": bool(warning),
                    },
                ),
            )
        return self._study(conn, lid)

    def _study(self, conn: db.Connection, link_id: int) -> StudyLink:
        row = one(conn, _STUDY_SELECT + " WHERE s.id = ?", link_id,
                  f"Study link {link_id} does not exist.")  # fmt: skip
        return _study_from_row(row)

    @guarded
    def studies(self, patient_id: int) -> list[StudyLink]:
        """Studies linked to a patient, oldest link first."""
        rows = self._conn().execute(
            _STUDY_SELECT + " WHERE s.patient_id = ? ORDER BY s.linked_at, s.id",
            (patient_id,),
        )
        return [_study_from_row(r) for r in rows]

    @guarded
    def find_study(self, study_uid: str) -> list[StudyLink]:
        """Links of a Study Instance UID (to show which patient a study belongs to)."""
        rows = self._conn().execute(
            _STUDY_SELECT + " WHERE s.study_uid = ? ORDER BY s.id", (study_uid,)
        )
        return [_study_from_row(r) for r in rows]


def _study_from_row(row: tuple) -> StudyLink:
    return from_row(StudyLink, row, {"linked_at": dt})


# --- identity check ---------------------------------------------------------------------
def _fold(text: str) -> str:
    return migrations.search_key(text).strip()


def _dicom_name_parts(name: str) -> tuple[str, str]:
    # PN: alphabetic group before "=", components family^given^middle^prefix^suffix
    alphabetic = name.split("=")[0]
    parts = alphabetic.split("^")
    family = parts[0] if parts else ""
    given = parts[1] if len(parts) > 1 else ""
    if len(parts) == 1 and "," in family:  # "Doe, John" written by some modalities
        family, given = (s.strip() for s in family.split(",", 1))
    return _fold(family), _fold(given)


def mismatch_warning(
    patient: Patient, dicom_patient_id: str | None, dicom_name: str | None
) -> str | None:
    """A warning when a study's Patient ID or name does not match ``patient``, else ``None``.

    IDs are compared without case and surrounding spaces; names by family
    name and first given name, ignoring case and accents (``DOE^JOHN^A``
    matches *John Doe*). Missing values in the study also warn: the link
    cannot be checked.
    """
    problems = []
    pid = (dicom_patient_id or "").strip()
    if not pid:
        problems.append("the study has no Patient ID")
    elif pid.casefold() != patient.mrn.strip().casefold():
        problems.append(f"its Patient ID is “{pid}”, not the MRN “{patient.mrn}”")
    name = (dicom_name or "").strip()
    family, given = _dicom_name_parts(name)
    if not family and not given:
        problems.append("the study has no patient name")
    else:
        want_family = _fold(patient.family_name)
        want_given = _fold(patient.given_name).split()
        have_given = given.split()
        if family != want_family or (want_given and have_given and want_given[0] != have_given[0]):
            problems.append(f"its patient name is “{name}”, not “{patient.display_name}”")
    if not problems:
        return None
    return (
        f"This study may belong to another patient: {'; '.join(problems)}. Check the images "
        "before using them for this patient."
    )

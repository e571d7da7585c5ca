"""Merging workstation stores whose patients were deleted, there or in the clinic database.

A deleted patient's encounters, records, studies and results are never
attached to a live patient, and a deleted patient is never brought back:
workstation 1 is copied into a throw-away PostgreSQL database, workstation 2
(which shares SHARED-1 with it) merged, through ``stethos-engine store
migrate``, then the rows are read back as they are and through the store API.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from engine.cli import main as cli_main
from engine.errors import StoreError
from engine.store import open_store
from engine.store.merge import deleted_mrn
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, FakeClock
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer
from tests.engine.store.test_merge import (
    KIM,
    KIM_PASSWORD,
    LEE,
    LEE_PASSWORD,
    _counts,
    _migrate,
    _table_line,
    _visit,
    _workstation,
    _workstation_one,
)


@pytest.fixture
def server(pg_server: PgServer) -> tuple[str, str]:
    """A fresh database: (owner URL, workstation URL)."""
    name = pg_server.new_database()
    return pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)


@pytest.fixture
def copied(tmp_path: Path, server, monkeypatch, capsys) -> Path:
    """Workstation 1 (SHARED-1 with a visit) copied; returns workstation 2, not merged yet.

    Workstation 2 has SHARED-1 (the same person) and TWO-1, each with a visit.
    """
    owner, _ = server
    one, two = tmp_path / "ws1" / "stethos.db", tmp_path / "ws2" / "stethos.db"
    _workstation_one(one, FakeClock()).close()
    clock = FakeClock()
    with _workstation(two, clock) as store:
        store.create_user(KIM, KIM_PASSWORD)
    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST, clock=clock) as store:
        poe = store.add_patient("TWO-1", "Poe", "Paula", "1980-05-05", "F")
        _visit(store, poe.id, "ws2 own", 250, clock)
        shared = store.add_patient("SHARED-1", "MULLER", "anna", "1950-03-01", "F")
        _visit(store, shared.id, "ws2 shared", 260, clock)
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert _migrate(one, owner) == 0
    capsys.readouterr()
    return two


def _delete(location: Path | str, mrn: str, reason: str) -> None:
    with open_store(location, KIM, KIM_PASSWORD, kdf=FAST) as store:
        pid = store._conn().execute("SELECT id FROM patients WHERE mrn = ?", (mrn,)).fetchone()
        store.delete_patient(int(pid[0]), reason)


def _patients(owner: str) -> dict[str, tuple[int, bool, list[str]]]:
    """Every patient row as it is there: MRN -> (id, deleted, its results' labels)."""
    with psycopg.connect(owner, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT p.id, p.mrn, p.deleted_at IS NOT NULL, coalesce(array_agg(r.label "
            "ORDER BY r.label) FILTER (WHERE r.id IS NOT NULL), '{}') FROM patients p "
            "LEFT JOIN encounters e ON e.patient_id = p.id "
            "LEFT JOIN results r ON r.encounter_id = e.id GROUP BY p.id, p.mrn"
        ).fetchall()
    return {str(mrn): (int(pid), bool(gone), list(labels)) for pid, mrn, gone, labels in rows}


def _store_id(location: Path) -> str:
    with open_store(location, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        return store._backend.store_id


def _live_labels(ws: str, text: str) -> list[str]:
    """The results a clinician sees on the live patients that ``text`` finds."""
    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:
        return sorted(
            e.item.label
            for p in shared.search_patients(text)
            for e in shared.timeline(p.id)
            if e.kind == "result"
        )


def _merged_deletion(ws: str, patient_id: int) -> dict:
    """The workstation's ``deleted`` entry merged into the chain, checking the chain."""
    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:
        assert shared.verify_audit().ok
        entries = [
            e
            for e in shared.audit_entries(action="deleted")
            if "merged_from" in e.details and e.object_id == str(patient_id)
        ]
    assert len(entries) == 1, entries
    return entries[0].details


def test_a_deleted_patient_is_kept_apart_from_the_live_one_with_its_mrn(copied: Path, server,
                                                                        capsys):  # fmt: skip
    owner, ws = server
    two = copied
    _delete(two, "SHARED-1", "registered by mistake")
    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST) as store:
        gone = store.add_patient("GONE-2", "Gone", "Gina", "1960-01-01", "F")
        store.delete_patient(gone.id, "test patient")
    source = _store_id(two)
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert "audit trail verified there" in out
    assert _table_line(out, "patients") == (3, 0)  # nothing matched: each is its own
    assert (
        "  MRN SHARED-1: deleted on this workstation: added as a deleted patient of its own" in out
    )
    assert "  MRN GONE-2: deleted on this workstation: added as a deleted patient" in out

    patients = _patients(owner)
    apart = deleted_mrn("SHARED-1", source, 2)
    assert patients["SHARED-1"][1:] == (False, ["ws1 shared"])  # the live one: its own only
    assert patients[apart][1:] == (True, ["ws2 shared"])
    assert patients[deleted_mrn("GONE-2", source, 3)][1] is True
    assert patients["TWO-1"][1:] == (False, ["ws2 own"])
    assert _live_labels(ws, "SHARED-1") == ["ws1 shared"]
    assert _live_labels(ws, "") == ["ws1 shared", "ws2 own"]
    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:
        with pytest.raises(StoreError, match="deleted"):
            shared.get_patient(patients[apart][0])
        # Its history keeps the MRN as it was.
        assert [v.mrn for v in shared.patient_history(patients[apart][0])] == ["SHARED-1"]
        merge_entry = shared.audit_entries(action="merged")[-1]
    assert {"mrn": "SHARED-1", "outcome": "kept_apart", "patient_id": patients[apart][0]} in (
        merge_entry.details["deleted_patients"]
    )
    details = _merged_deletion(ws, patients[apart][0])
    assert details["reason"] == "registered by mistake"
    assert details["merged_from"]["store"] == source and details["merged_from"]["object_id"] == "2"
    assert cli_main(["audit", "verify", "--db", ws, "--user", ADMIN]) == 0


def test_a_patient_deleted_in_the_clinic_database_is_never_brought_back(copied: Path, server,
                                                                       capsys):  # fmt: skip
    owner, ws = server
    two = copied
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as shared:
        shared.delete_patient(shared.search_patients("SHARED-1")[0].id, "duplicate")
    before = _counts(owner)
    assert _migrate(two, owner, "--merge") == 1
    err = capsys.readouterr().err
    assert "\nerror: Nothing was merged" in err
    assert "MRN SHARED-1: deleted in the clinic database, live on this workstation" in err
    assert "TWO-1" not in err
    assert _counts(owner) == before

    # Deleted on the workstation too: merged, its rows on a deleted patient of their own.
    _delete(two, "SHARED-1", "duplicate in the clinic")
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert "MRN SHARED-1: deleted on this workstation: added as a deleted patient" in out
    patients = _patients(owner)
    assert patients["SHARED-1"][1:] == (True, ["ws1 shared"])  # still deleted
    assert patients[deleted_mrn("SHARED-1", _store_id(two), 2)][1:] == (True, ["ws2 shared"])
    assert _live_labels(ws, "SHARED") == [] and _live_labels(ws, "") == ["ws2 own"]
    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:
        assert shared.verify_audit().ok


def test_patients_deleted_on_the_workstation_after_they_were_merged(copied: Path, server,
                                                                   tmp_path: Path, capsys):  # fmt: skip
    """Its own copy is deleted in the clinic database too; from a shared patient (matched,
    or its copy another workstation's patient was matched to) its rows move apart."""
    owner, ws = server
    two = copied
    assert _migrate(two, owner, "--merge") == 0
    three = tmp_path / "ws3" / "stethos.db"
    clock = FakeClock()
    with _workstation(three, clock) as store:
        store.create_user("dr.new", "clinician-pass-3")
        poe = store.add_patient("TWO-1", "Poe", "Paula", "1980-05-05", "F")  # the same
        _visit(store, poe.id, "ws3 poe", 270, clock)
        own = store.add_patient("TWO-2", "Doe", "Dana", "1990-01-01", "F")
        _visit(store, own.id, "ws3 own", 280, clock)
    assert _migrate(three, owner, "--merge") == 0
    capsys.readouterr()
    before = _patients(owner)
    assert before["TWO-1"][2] == ["ws2 own", "ws3 poe"]
    assert before["SHARED-1"][2] == ["ws1 shared", "ws2 shared"]

    _delete(two, "SHARED-1", "wrong patient")  # matched to workstation 1's
    _delete(two, "TWO-1", "wrong patient")  # its copy, workstation 3's data on it too
    with open_store(three, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        store.delete_patient(store.search_patients("TWO-2")[0].id, "test patient")
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    moved = "since the last merge: its rows moved to a deleted patient of their own"
    assert f"MRN SHARED-1: deleted on this workstation {moved}" in out
    assert f"MRN TWO-1: deleted on this workstation {moved}" in out
    assert _migrate(three, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert "MRN TWO-2: deleted on this workstation since the last merge: its copy in the " \
        "clinic database is deleted too" in out  # fmt: skip

    after = _patients(owner)
    source2, source3 = _store_id(two), _store_id(three)
    assert after["SHARED-1"] == (before["SHARED-1"][0], False, ["ws1 shared"])
    assert after["TWO-1"] == (before["TWO-1"][0], False, ["ws3 poe"])
    shared_apart = after[deleted_mrn("SHARED-1", source2, 2)]
    poe_apart = after[deleted_mrn("TWO-1", source2, 1)]
    assert shared_apart[1:] == (True, ["ws2 shared"]) and poe_apart[1:] == (True, ["ws2 own"])
    assert after[deleted_mrn("TWO-2", source3, 2)] == (before["TWO-2"][0], True, ["ws3 own"])
    assert "TWO-2" not in after
    assert _live_labels(ws, "") == ["ws1 shared", "ws3 poe"]
    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:
        # The studies moved with their encounters.
        assert [s.path for s in shared.studies(after["SHARED-1"][0])] == ["/s/ws1 shared"]
        assert [s.path for s in shared.studies(after["TWO-1"][0])] == ["/s/ws3 poe"]
    for patient_id, reason in ((shared_apart[0], "wrong patient"),
                               (after[deleted_mrn("TWO-2", source3, 2)][0], "test patient")):  # fmt: skip
        assert _merged_deletion(ws, patient_id)["reason"] == reason

    # Again: nothing left to do, nothing said.
    counts = _counts(owner)
    assert _migrate(two, owner, "--merge") == 0
    assert "Patients deleted" not in capsys.readouterr().out
    assert _patients(owner) == after
    assert _counts(owner)["patients"] == counts["patients"]
    assert cli_main(["audit", "verify", "--db", ws, "--user", ADMIN]) == 0


def test_a_patient_deleted_in_the_clinic_database_after_it_was_merged(copied: Path, server,
                                                                      capsys):  # fmt: skip
    owner, ws = server
    two = copied
    assert _migrate(two, owner, "--merge") == 0
    with open_store(ws, ADMIN, ADMIN_PASSWORD, kdf=FAST) as shared:
        poe = shared.search_patients("TWO-1")[0]
        shared.delete_patient(poe.id, "left the practice")
    clock = FakeClock()
    clock.advance(days=2)
    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST, clock=clock) as store:
        _visit(store, store.search_patients("TWO-1")[0].id, "ws2 later", 290, clock)
    capsys.readouterr()
    before = _counts(owner)
    assert _migrate(two, owner, "--merge") == 1
    assert "MRN TWO-1: deleted in the clinic database, live on this workstation" in (
        capsys.readouterr().err
    )
    assert _counts(owner) == before

    _delete(two, "TWO-1", "left the practice")
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert "MRN TWO-1: deleted on this workstation since the last merge: already deleted" in out
    after = _patients(owner)
    assert after["TWO-1"] == (poe.id, True, ["ws2 later", "ws2 own"])  # nothing live
    assert _live_labels(ws, "") == ["ws1 shared", "ws2 shared"]
    assert _merged_deletion(ws, poe.id)["reason"] == "left the practice"
    assert cli_main(["audit", "verify", "--db", ws, "--user", ADMIN]) == 0

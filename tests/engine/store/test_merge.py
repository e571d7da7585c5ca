"""Merging a second workstation's store into the clinic's shared database (``--merge``).

Two (three) workstation stores, each with its own users, patients and
history; the first is copied into a throw-away PostgreSQL database, the
second merged into it, through the real ``stethos-engine store migrate``
entry point, then read back through the store API as a clinician would.
"""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from engine.cli import main as cli_main
from engine.errors import OperationCancelled, StoreError
from engine.progress import CancelToken
from engine.store import Store, create_store, open_store
from engine.store import db as store_db
from engine.store.audit import entry_hash
from engine.store.merge import REFERENCES, MergeConflictError
from engine.store.server import ID_TABLES
from engine.store.transfer import copy_to_server
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST, HEART, FakeClock
from tests.engine.store._pg import OWNER, WORKSTATION, PgServer
from tests.engine.store._results import fake_result

LEE, LEE_PASSWORD = "dr.lee", "clinician-pass-1"
KIM, KIM_PASSWORD = "dr.kim", "clinician-pass-2"


def _workstation(path: Path, clock: FakeClock) -> Store:
    path.parent.mkdir(parents=True, exist_ok=True)
    store, _ = create_store(path, ADMIN, ADMIN_PASSWORD, kdf=FAST, clock=clock)
    return store


def _visit(store: Store, patient_id: int, label: str, chol: int, clock: FakeClock) -> None:
    """An encounter with a record edited once, a linked study, a result on both and a decision."""
    clock.advance(hours=1)
    visit = store.add_encounter(patient_id, reason=f"visit {label}")
    rec = store.save_record(visit.id, HEART)
    clock.advance(minutes=5)
    edited = store.update_record(rec.id, {**HEART, "chol": chol})
    link = store.link_study(patient_id, study_uid=f"1.2.{chol}", path=f"/s/{label}",
                            encounter_id=visit.id)  # fmt: skip
    clock.advance(minutes=5)
    result = store.save_result(visit.id, fake_result(label, 0.7), record_id=edited.id,
                               study_link_id=link.id)  # fmt: skip
    store.record_decision(result.id, "overridden", f"comment {label}")


def _workstation_one(path: Path, clock: FakeClock) -> Store:
    """Workstation 1, open: its user dr.lee and SHARED-1 with a visit."""
    store = _workstation(path, clock)
    store.create_user(LEE, LEE_PASSWORD)
    shared = store.add_patient("SHARED-1", "Müller", "Anna", "1950-03-01", "F")
    _visit(store, shared.id, "ws1 shared", 240, clock)
    return store


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    """Workstation 1 and workstation 2, each with a shared patient and one of its own."""
    one, two = tmp_path / "ws1" / "stethos.db", tmp_path / "ws2" / "stethos.db"
    clock = FakeClock()
    with _workstation_one(one, clock) as store:
        own = store.add_patient("ONE-1", "Roe", "Rick", "1970-01-01", "M")
        _visit(store, own.id, "ws1 own", 250, clock)
    clock = FakeClock()
    with _workstation(two, clock) as store:
        store.create_user(LEE.upper(), "another-lee-pass")  # the same person, by name
        store.create_user(KIM, KIM_PASSWORD)
    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST, clock=clock) as store:
        store.add_patient("TWO-1", "Poe", "Paula", "1980-05-05", "F")  # id 1 here: not ONE-1
        # Case and accents differ: the same patient.
        shared = store.add_patient("SHARED-1", "MULLER", "anna", "1950-03-01", "F")
        _visit(store, shared.id, "ws2 shared", 260, clock)
    return one, two


@pytest.fixture
def server(pg_server: PgServer) -> tuple[str, str]:
    """A fresh database: (owner URL, workstation URL)."""
    name = pg_server.new_database()
    return pg_server.url(OWNER, name), pg_server.url(WORKSTATION, name)


def _migrate(source: Path, owner: str, *extra: str) -> int:
    return cli_main(["store", "migrate", "--from", str(source), "--to", owner, "--user", ADMIN,
                     *extra])  # fmt: skip


def _counts(owner: str) -> dict[str, int]:
    with psycopg.connect(owner, autocommit=True) as conn:
        tables = (*ID_TABLES, "audit_log", "merged_ids", "merged_stores")
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[arg-type,index]


def _table_line(out: str, table: str) -> tuple[int, int]:
    match = re.search(rf"^\s+{table}\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    assert match, out
    return int(match[1]), int(match[2])


@pytest.fixture
def merged(stores, server, monkeypatch, capsys) -> str:
    """Workstation 1 copied, workstation 2 merged; returns the merge's output."""
    one, two = stores
    owner, _ = server
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert _migrate(one, owner) == 0
    capsys.readouterr()
    assert _migrate(two, owner, "--merge") == 0
    return capsys.readouterr().out


def test_the_schema_references_are_all_remapped(tmp_path: Path):
    """REFERENCES names every column with a REFERENCES clause (and no other)."""
    with _workstation(tmp_path / "s.db", FakeClock()) as store:
        conn = store._conn()
        found = {
            table: {
                str(fk[3]): str(fk[2])
                for fk in conn.execute(f"PRAGMA foreign_key_list({table})").fetchall()
            }
            for table in ID_TABLES
        }
    assert found == REFERENCES


def test_merge_adds_the_second_workstation(merged: str, stores, server):
    out = merged
    owner, ws = server
    assert "ok: merged into" in out and "audit trail verified there" in out
    assert _table_line(out, "users") == (1, 2)  # dr.kim new; admin and dr.lee matched
    assert _table_line(out, "patients") == (1, 1)
    assert _table_line(out, "patient_versions") == (1, 1)
    assert _table_line(out, "encounters") == (1, 0)
    assert _table_line(out, "records") == (2, 0)
    assert _table_line(out, "results") == (1, 0)
    counts = _counts(owner)
    assert counts["patients"] == 3 and counts["encounters"] == 3 and counts["records"] == 6
    assert counts["results"] == 3 and counts["decisions"] == 3 and counts["users"] == 3

    with open_store(ws, LEE, LEE_PASSWORD, kdf=FAST) as shared:  # workstation 1's password
        patient = shared.search_patients("muller")
        assert [p.mrn for p in patient] == ["SHARED-1"]
        assert patient[0].family_name == "Müller"  # the server's row, unchanged
        timeline = shared.timeline(patient[0].id)
        results = [e.item for e in timeline if e.kind == "result"]
        assert sorted(r.label for r in results) == ["ws1 shared", "ws2 shared"]
        assert sorted(e.summary for e in timeline if e.kind == "decision") == [
            "Overridden: comment ws1 shared",
            "Overridden: comment ws2 shared",
        ]
        # Workstation 2's references point at its rows, under their new ids.
        mine = next(r for r in results if r.label == "ws2 shared")
        assert mine.created_by == KIM and mine.patient_id == patient[0].id
        record = next(e.item for e in timeline if e.kind == "record" and e.id == mine.record_id)
        assert record.values["chol"] == 260 and record.recorded_by == KIM
        assert record.encounter_id == mine.encounter_id
        first = next(e.previous for e in timeline if e.kind == "record" and e.id == record.id)
        assert record.supersedes == first.id and first.values["chol"] == HEART["chol"]
        studies = {s.id: s for s in shared.studies(patient[0].id)}
        assert studies[mine.study_link_id].path == "/s/ws2 shared"
        assert studies[mine.study_link_id].encounter_id == mine.encounter_id
        assert mine.decision is not None and mine.decision.decided_by == KIM
        # Workstation 2's own patient is a new one, with its history.
        poe = shared.search_patients("poe")[0]
        assert poe.mrn == "TWO-1" and poe.updated_by == KIM
        assert [v.version for v in shared.patient_history(poe.id)] == [1]
        assert shared.verify_audit().ok

        # Its audit entries follow in the server's chain, remapped, with their provenance.
        with open_store(stores[1], ADMIN, ADMIN_PASSWORD, kdf=FAST) as source:
            source_id = source._backend.store_id
            originals = {e.seq: e for e in source.audit_entries()}
        analysed = [
            e for e in shared.audit_entries(action="analysed") if "merged_from" in e.details
        ]
        assert len(analysed) == 1
        entry = analysed[0]
        origin = entry.details["merged_from"]
        assert origin["store"] == source_id and entry.object_id == str(mine.id)
        assert entry.details["encounter_id"] == mine.encounter_id
        assert entry.details["patient_id"] == patient[0].id
        original = originals[origin["seq"]]
        assert original.hash == origin["hash"] and original.object_id == origin["object_id"]
        # The workstation's entry is provable from what the merged one keeps.
        assert origin["hash"] == entry_hash(
            origin["seq"], entry.time.isoformat(timespec="microseconds"), entry.user,
            entry.action, entry.object_type, origin["object_id"], origin["details"],
            origin["prev_hash"],
        )  # fmt: skip
        merge_entry = shared.audit_entries(action="merged")[-1]
        assert merge_entry.object_id == source_id and merge_entry.details["new"]["results"] == 1

    with psycopg.connect(owner, autocommit=True) as conn:
        # Workstation 2's result 1 and the server's own result 1 are different rows.
        mapped = conn.execute(
            "SELECT target_id FROM merged_ids WHERE table_name = 'results' AND source_id = 1"
        ).fetchone()
        assert mapped == (mine.id,) and mine.id == 3
    # `audit verify` through the command line, as a clinician on a workstation.
    assert cli_main(["audit", "verify", "--db", ws, "--user", ADMIN]) == 0


def test_merging_again_adds_only_what_is_new(merged: str, stores, server, capsys):
    owner, ws = server
    _, two = stores
    before = _counts(owner)
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    for table in ID_TABLES:
        assert _table_line(out, table) == (0, 0), table
    after = _counts(owner)
    # Only audit entries: the workstation's own since (its last logout, this login and
    # export) and the merge's record.
    assert {t: n for t, n in after.items() if n != before[t]} == {
        "audit_log": before["audit_log"] + 4
    }

    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST) as store:
        shared = store.search_patients("SHARED-1")[0]
        visit = store.encounters(shared.id)[0]
        store.save_record(visit.id, {**HEART, "chol": 300})
    assert _migrate(two, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert _table_line(out, "records") == (1, 0)
    assert all(_table_line(out, t) == (0, 0) for t in ID_TABLES if t != "records")
    assert _counts(owner)["records"] == before["records"] + 1
    with open_store(ws, KIM, KIM_PASSWORD, kdf=FAST) as shared_store:
        patient = shared_store.search_patients("SHARED-1")[0]
        visits = shared_store.encounters(patient.id)
        chols = sorted(r.values["chol"] for v in visits for r in shared_store.records(v.id))
        assert chols == [240, 260, 300] and shared_store.verify_audit().ok


def test_a_conflicting_mrn_refuses_the_whole_merge(
    merged: str, server, tmp_path: Path, monkeypatch, capsys
):
    owner, _ = server
    third = tmp_path / "ws3" / "stethos.db"
    clock = FakeClock()
    with _workstation(third, clock) as store:
        store.create_user("dr.new", "clinician-pass-3")
        new = store.add_patient("THREE-1", "New", "Nina", "1990-01-01", "F")
        _visit(store, new.id, "ws3", 270, clock)
        store.add_patient("ONE-1", "Roe", "Rick", "1971-01-01", "M")  # born a year later
        store.add_patient("TWO-1", "Poe", "Pam", "1980-05-05", "F")
    before = _counts(owner)
    assert _migrate(third, owner, "--merge") == 1
    err = capsys.readouterr().err
    assert "\nerror: Nothing was merged" in err  # on a line of its own, after the progress
    assert "MRN ONE-1: birth date: “1971-01-01” on this workstation, “1970-01-01”" in err
    assert "MRN TWO-1: given name: “Pam” on this workstation, “Paula”" in err
    assert "THREE-1" not in err
    assert _counts(owner) == before
    with open_store(third, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        with pytest.raises(MergeConflictError) as refused:
            copy_to_server(store, owner, merge=True)
    assert [c.mrn for c in refused.value.conflicts] == ["ONE-1", "TWO-1"]
    assert _counts(owner) == before


def test_a_patient_changed_on_the_workstation_since_refuses(merged: str, stores, server, capsys):
    owner, ws = server
    _, two = stores
    # A correction made in the clinic database meanwhile is not a conflict (and is kept).
    with open_store(ws, KIM, KIM_PASSWORD, kdf=FAST) as shared:
        poe = shared.search_patients("poe")[0]
        shared.update_patient(poe.id, {"given_name": "Paola"}, reason="spelling")
    assert _migrate(two, owner, "--merge") == 0
    capsys.readouterr()
    with open_store(ws, KIM, KIM_PASSWORD, kdf=FAST) as shared:
        assert shared.get_patient(poe.id).given_name == "Paola"
    with open_store(two, KIM, KIM_PASSWORD, kdf=FAST) as store:
        poe = store.search_patients("poe")[0]
        store.update_patient(poe.id, {"birth_date": "1981-05-05"}, reason="typo")
    before = _counts(owner)
    assert _migrate(two, owner, "--merge") == 1
    err = capsys.readouterr().err
    assert "MRN TWO-1: given name: “Paula” on this workstation, “Paola” in the clinic" in err
    assert "birth date: “1981-05-05” on this workstation, “1980-05-05” in the clinic" in err
    assert _counts(owner) == before


def test_without_merge_another_store_is_refused_and_the_message_says_merge(
    stores, server, monkeypatch, capsys
):
    one, two = stores
    owner, _ = server
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert _migrate(one, owner) == 0
    before = _counts(owner)
    assert _migrate(two, owner) == 1
    err = capsys.readouterr().err
    assert "already holds another workstation's store" in err and "--merge" in err
    assert _counts(owner) == before
    # --merge into the store's own copy is the plain copy: ids kept, nothing merged.
    assert _migrate(one, owner, "--merge") == 0
    out = capsys.readouterr().out
    assert "ok: copied to" in out and "       3 new" in out
    assert _counts(owner)["merged_stores"] == 0


def test_a_cancelled_merge_writes_nothing(stores, server, monkeypatch):
    one, two = stores
    owner, _ = server
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert _migrate(one, owner) == 0
    before = _counts(owner)
    seen: list[tuple[float, str]] = []
    token = CancelToken()

    def progress(fraction: float, text: str) -> None:
        seen.append((fraction, text))
        if text.startswith("Merging records"):
            token.cancel()

    with open_store(two, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        with pytest.raises(OperationCancelled):
            copy_to_server(store, owner, merge=True, progress=progress, cancel=token)
        assert any(t == "Merging users" for _, t in seen)
        after = _counts(owner)
        assert after == before
        report = copy_to_server(store, owner, merge=True)  # then for real
    assert report.merged and report.rows["results"] == 1 and report.verified.ok


def test_a_workstation_whose_audit_trail_was_altered_is_refused(stores, server, monkeypatch):
    one, two = stores
    owner, _ = server
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert _migrate(one, owner) == 0
    before = _counts(owner)
    from engine.store.keyring import Keyring, keyring_path

    key = Keyring.load(keyring_path(two)).unlock_password(ADMIN, ADMIN_PASSWORD)
    conn = store_db.connect(two, key)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("""UPDATE audit_log SET details = '{"forged":1}' WHERE seq = 3""")
    conn.close()
    with open_store(two, ADMIN, ADMIN_PASSWORD, kdf=FAST) as store:
        with pytest.raises(StoreError, match="audit trail does not verify"):
            copy_to_server(store, owner, merge=True)
    assert _counts(owner) == before


def test_workstations_may_read_but_not_write_the_provenance(merged: str, server):
    _, ws = server
    with psycopg.connect(ws, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM merged_ids").fetchone()[0] > 0  # type: ignore[index]
        for sql in (
            "INSERT INTO merged_stores VALUES ('x', 1, 'h', 'now', 'me')",
            "INSERT INTO merged_ids VALUES ('x', 'users', 1, 1)",
            "UPDATE merged_stores SET last_seq = 0",
            "DELETE FROM merged_ids",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)  # type: ignore[arg-type]

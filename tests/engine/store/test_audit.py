"""The audit trail: hash chain, tamper detection (edit, middle delete, tail removal), CLI, drift."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.errors import PermissionDeniedError
from engine.store import Store, open_store
from engine.store.audit import GENESIS
from engine.store.keyring import anchor_path
from tests.engine.store._helpers import (
    ADMIN,
    ADMIN_PASSWORD,
    FAST,
    HEART,
    FakeClock,
    owner_location,
    raw_connection,
)
from tests.engine.store._results import fake_result


def _activity(store: Store) -> None:
    p = store.add_patient("A1", "Doe", "Jane")
    store.open_patient(p.id)
    visit = store.add_encounter(p.id)
    store.save_record(visit.id, HEART)
    result = store.save_result(visit.id, fake_result())
    store.record_decision(result.id, "accepted")
    store.audit("exported", object_type="study", object_id="1.2.3", details={"files": 3})


def _tamper(db_path: Path | str, *statements: str) -> None:
    """Change the log around Stethos: with the key (SQLite), or as the schema's owner."""
    conn = raw_connection(db_path)
    if isinstance(db_path, str):
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("DROP TRIGGER audit_log_no_delete")
    for sql in statements:
        conn.execute(sql)
    if isinstance(db_path, str):
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
    conn.close()


def test_entries_are_chained_with_sha256_of_canonical_json(store: Store):
    _activity(store)
    entries = store.audit_entries()
    actions = [e.action for e in entries]
    assert actions[:3] == ["store_created", "user_created", "login"]
    for needed in ("created", "opened", "analysed", "decided", "exported"):
        assert needed in actions
    prev = GENESIS
    for e in entries:
        payload = {
            "seq": e.seq,
            "at": e.time.isoformat(timespec="microseconds"),
            "user": e.user,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "details": json.dumps(
                e.details, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ),
            "prev_hash": prev,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e.prev_hash == prev
        assert e.hash == hashlib.sha256(text.encode()).hexdigest()
        prev = e.hash
    report = store.verify_audit()
    assert report.ok and report.entries == len(entries) and report.anchor_seq == entries[-1].seq


def test_verify_catches_an_edited_entry(store: Store, db_path: Path):
    _activity(store)
    target = store.audit_entries(action="decided")[0].seq
    _tamper(
        db_path,
        f"UPDATE audit_log SET details = replace(details, 'accepted', 'overridden') "
        f"WHERE seq = {target}",
    )
    report = store.verify_audit()
    assert not report.ok and report.first_bad_seq == target
    assert "changed" in report.problem


def test_verify_catches_an_edit_with_a_recomputed_hash(store: Store, db_path: Path):
    _activity(store)
    target = store.audit_entries(action="analysed")[0]
    from engine.store.audit import entry_hash

    details = json.dumps({**target.details, "label": "no disease"}, sort_keys=True,
                         separators=(",", ":"))  # fmt: skip
    forged = entry_hash(
        target.seq,
        target.time.isoformat(timespec="microseconds"),
        target.user,
        target.action,
        target.object_type,
        target.object_id,
        details,
        target.prev_hash,
    )
    _tamper(
        db_path,
        f"UPDATE audit_log SET details = '{details}', hash = '{forged}' WHERE seq = {target.seq}",
    )
    report = store.verify_audit()
    assert not report.ok and report.first_bad_seq == target.seq + 1


def test_verify_catches_a_deleted_middle_entry(store: Store, db_path: Path):
    _activity(store)
    target = store.audit_entries(action="opened")[0].seq
    _tamper(db_path, f"DELETE FROM audit_log WHERE seq = {target}")
    report = store.verify_audit()
    assert not report.ok and report.first_bad_seq == target
    assert "missing" in report.problem


def test_verify_catches_a_removed_tail_even_after_new_logins(store: Store, db_path: Path):
    _activity(store)
    last = store.audit_entries()[-1].seq
    store.close()  # logs "logout" = last + 1
    _tamper(db_path, f"DELETE FROM audit_log WHERE seq >= {last - 1}")

    again = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)  # appends new entries
    again.add_patient("B2", "Roe")
    report = again.verify_audit()
    assert not report.ok
    assert report.first_bad_seq is not None and report.first_bad_seq <= last + 1
    if isinstance(db_path, Path):
        assert again.anchor_problem  # the anchor was not moved over the gap
    else:  # the server keeps its anchor: a workstation cannot move it back
        with pytest.raises(PermissionDeniedError):
            again.reanchor("trying to hide the gap")
    again.close()

    # The administrator investigates, then accepts the log as it is: audited (on a
    # server, signed in through the schema owner's connection).
    admin = open_store(owner_location(db_path), ADMIN, ADMIN_PASSWORD, kdf=FAST)
    entry = admin.reanchor("tail removed by a faulty backup restore; ticket 42")
    assert entry.details["problem"] and admin.verify_audit().ok
    admin.close()


@pytest.mark.sqlite_only
def test_verify_catches_an_altered_or_missing_anchor(store: Store, db_path: Path):
    _activity(store)
    path = anchor_path(db_path)
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "seq": data["seq"] - 1}))
    report = store.verify_audit()
    assert not report.ok and "altered" in report.problem
    path.unlink()
    report = store.verify_audit()
    assert not report.ok and "missing" in report.problem


def test_cli_verify_export_and_drift(store: Store, db_path: Path, tmp_path, monkeypatch, capsys):
    _activity(store)
    store.close()
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    common = ["--db", str(db_path), "--user", ADMIN]

    assert cli_main(["audit", "verify", *common]) == 0
    assert capsys.readouterr().out.startswith("ok: ")

    out = tmp_path / "audit.csv"
    assert cli_main(["audit", "export", *common, "--csv", str(out)]) == 0
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "seq", "time", "user", "action", "object_type", "object_id", "details", "prev_hash",
        "hash",
    ]  # fmt: skip
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))

    capsys.readouterr()
    assert cli_main(["audit", "drift", *common, "--format", "json"]) == 0
    drift = json.loads(capsys.readouterr().out)
    assert drift[0]["model_id"] == "heart-disease-logreg" and drift[0]["results"] == 1

    target = rows[3]["seq"]
    _tamper(db_path, f"UPDATE audit_log SET \"user\" = 'mallory' WHERE seq = {target}")
    capsys.readouterr()
    assert cli_main(["audit", "verify", *common]) == 1
    assert f"FAILED at seq {target}" in capsys.readouterr().out

    monkeypatch.setenv("STETHOS_PASSWORD", "wrong-password")
    assert cli_main(["audit", "verify", *common]) == 1
    assert "password is wrong" in capsys.readouterr().err


def test_drift_report_numbers_on_a_synthetic_history(store: Store, clock: FakeClock, capsys,
                                                     db_path: Path, monkeypatch):  # fmt: skip
    p = store.add_patient("A1", "Doe")
    visit = store.add_encounter(p.id)

    def results(version: str, labels: str, decisions: str) -> None:
        for label, decision in zip(labels, decisions, strict=True):
            clock.advance(hours=1)
            r = store.save_result(
                visit.id, fake_result("disease" if label == "+" else "no disease", version=version)
            )
            if decision == "a":
                store.record_decision(r.id, "accepted")
            elif decision == "o":
                store.record_decision(r.id, "overridden", "clinical picture differs")
            elif decision == "2":  # accepted, then overridden: the latest counts
                store.record_decision(r.id, "accepted")
                store.record_decision(r.id, "overridden", "second opinion")

    results("1.0.0", "+++-", "aao-")  # January (clock starts 2025-01-06)
    clock.advance(days=31)
    results("1.0.0", "+---", "2a--")  # February
    results("2.0.0", "++", "oo")

    rows = {(r.model_version, r.period): r for r in store.drift_report()}
    jan, feb, v2 = (
        rows[("1.0.0", "2025-01")],
        rows[("1.0.0", "2025-02")],
        rows[("2.0.0", "2025-02")],
    )
    assert (jan.results, jan.positives, jan.positive_share) == (4, 3, 0.75)
    assert (jan.decided, jan.overridden, jan.override_share) == (3, 1, pytest.approx(1 / 3))
    assert (feb.results, feb.positives, feb.positive_share) == (4, 1, 0.25)
    assert (feb.decided, feb.overridden, feb.override_share) == (2, 1, 0.5)
    assert (v2.results, v2.positive_share, v2.override_share) == (2, 1.0, 1.0)
    assert len(rows) == 3

    weekly = store.drift_report("week")
    assert sum(r.results for r in weekly) == 10
    assert {r.period for r in weekly} == {"2025-W02", "2025-W06"}

    store.close()
    monkeypatch.setenv("STETHOS_PASSWORD", ADMIN_PASSWORD)
    assert cli_main(["audit", "drift", "--db", str(db_path), "--user", ADMIN]) == 0
    table = capsys.readouterr().out
    assert "2025-01" in table and "75.0%" in table and "33.3%" in table
    assert cli_main(["audit", "drift", "--db", str(db_path), "--user", ADMIN, "--model", "x"]) == 0
    assert (
        capsys.readouterr().out
        == "No analysis results of model x are stored yet: nothing to report.\n"
    )

"""SIGKILL, again and again: the store reopens intact with every committed row and no half result.

A child process opens the encrypted store and either (a) writes batches of
patients, encounters and results, or (b) analyses records with a bundled
model through ``engine.api`` and saves record + result, printing each id
once its transaction committed. The test kills it with SIGKILL at a random
moment, reopens the store, and checks: ``PRAGMA integrity_check`` is ok,
every committed row is there, every result has its audit entry, record and
encounter (nothing half-written), and the audit chain verifies. The next
child starts from the crashed database.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.store import create_store, open_store
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST

REPO = Path(__file__).resolve().parents[2]

#: Kills per scenario (each restarts from the previous crash); an analysis child
#: imports the model runtime first (a few seconds), so it is killed fewer times.
KILLS = {"writes": 20, "analysis": 6}

WORKER = textwrap.dedent(
    """
    import sys
    from engine.store import KdfParams, ResultInput, open_store
    from tests.engine.store._results import result_input

    path, user, password, mode, run = sys.argv[1:6]
    store = open_store(path, user, password, kdf=KdfParams.fast())
    patient = store.add_patient(f"KILL-{mode}-{run}", "Killed")
    print(f"P {patient.id}", flush=True)
    record = dict(
        age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
        oldpeak=2.3, slope=3, ca=0, thal=6,
    )
    result = ResultInput(
        model_id="m", model_version="1", model_name="", weights_sha256="w" * 64,
        input_hash="i" * 64, label="yes", probabilities={"yes": 0.6, "no": 0.4},
        positive_label="yes",
    )
    if mode == "analysis":
        from engine import api
        api.load_model("heart-disease-logreg-13")
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        if mode == "writes":
            p = store.add_patient(f"W{run}-{i}", "Batch", "Write")
            print(f"P {p.id}", flush=True)
            visit = store.add_encounter(p.id, reason="kill test")
            print(f"E {visit.id}", flush=True)
            r = store.save_result(visit.id, result)
            print(f"R {r.id}", flush=True)
        else:
            visit = store.add_encounter(patient.id, reason=f"analysis {i}")
            print(f"E {visit.id}", flush=True)
            rec = store.save_record(visit.id, dict(record, age=40 + i % 40))
            print(f"C {rec.id}", flush=True)
            prediction = api.analyze_record("heart-disease-logreg-13", rec.values)
            r = store.save_result(visit.id, result_input(prediction), record_id=rec.id)
            print(f"R {r.id}", flush=True)
    """
)

_TABLES = {"P": "patients", "E": "encounters", "C": "records", "R": "results"}


def _run_and_kill(db_path: Path, mode: str, run: int, rng: random.Random) -> dict[str, set[int]]:
    """Start a worker, let it commit a random number of transactions, SIGKILL it."""
    committed: dict[str, set[int]] = {k: set() for k in _TABLES}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(db_path), ADMIN, ADMIN_PASSWORD, mode, str(run)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None

    def take(line: str) -> None:
        kind, ident = line.split()
        committed[kind].add(int(ident))

    try:
        while (line := proc.stdout.readline().strip()) != "ready":
            assert line, proc.stderr.read()
            take(line)
        for _ in range(rng.randint(1, 30)):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            take(line)
        time.sleep(rng.uniform(0, 0.02))  # land anywhere inside the next transaction
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for line in rest.splitlines():  # committed and printed before the kill landed
        take(line)
    return committed


def _check_intact(db_path: Path, committed: dict[str, set[int]]) -> None:
    store = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    try:
        conn = store._conn()
        assert store.integrity_check() == "ok"
        for kind, table in _TABLES.items():
            present = {r[0] for r in conn.execute(f"SELECT id FROM {table}")}
            missing = committed[kind] - present
            assert not missing, f"{table}: committed rows lost: {sorted(missing)[:5]}"
        # nothing half-written: each result complete, with its encounter, record and audit entry
        broken = conn.execute(
            "SELECT r.id FROM results r LEFT JOIN encounters e ON e.id = r.encounter_id "
            "LEFT JOIN records c ON c.id = r.record_id "
            "WHERE e.id IS NULL OR (r.record_id IS NOT NULL AND c.id IS NULL) "
            "OR r.result_json IS NULL OR r.probabilities IS NULL OR r.label IS NULL"
        ).fetchall()
        assert not broken, f"half-written results: {broken[:5]}"
        for table, object_type in (("results", "result"), ("records", "record")):
            rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            audited = conn.execute(
                "SELECT count(DISTINCT object_id) FROM audit_log WHERE object_type = ? "
                "AND action IN ('analysed', 'created')",
                (object_type,),
            ).fetchone()[0]
            assert rows == audited, f"{table}: {rows} rows, {audited} audit entries"
        versions = conn.execute("SELECT count(DISTINCT patient_id) FROM patient_versions")
        assert versions.fetchone()[0] == conn.execute("SELECT count(*) FROM patients").fetchone()[0]
        report = store.verify_audit()
        assert report.ok, report.message
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
@pytest.mark.parametrize("mode", ["writes", "analysis"])
def test_repeated_sigkill_keeps_the_store_intact(tmp_path: Path, mode: str) -> None:
    db_path = tmp_path / "clinic" / "stethos.db"
    store, _recovery = create_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    store.close()
    rng = random.Random(f"kill-{mode}")
    committed: dict[str, set[int]] = {k: set() for k in _TABLES}
    for run in range(KILLS[mode]):
        for kind, ids in _run_and_kill(db_path, mode, run, rng).items():
            committed[kind] |= ids
        _check_intact(db_path, committed)
    assert len(committed["R"]) >= KILLS[mode] // 2  # work was committed between kills

"""Crash safety: a writer killed with SIGKILL mid-batch loses no committed row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.store import open_store
from tests.engine.store._helpers import ADMIN, ADMIN_PASSWORD, FAST

REPO = Path(__file__).resolve().parents[3]

WRITER = textwrap.dedent(
    """
    import sys
    from engine.store import KdfParams, ResultInput, open_store

    store = open_store(sys.argv[1], sys.argv[2], sys.argv[3], kdf=KdfParams.fast())
    patient = store.add_patient("CRASH-" + sys.argv[4], "Crash")
    visit = store.add_encounter(patient.id)
    result = ResultInput(
        model_id="m", model_version="1", model_name="", weights_sha256="w" * 64,
        input_hash="i" * 64, label="yes", probabilities={"yes": 0.6, "no": 0.4},
        positive_label="yes",
    )
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        # each call: one transaction of several rows (row + version row / result + audit entry)
        p = store.add_patient(f"K{sys.argv[4]}-{i}", "Killed", "Batch")
        print(f"P {p.id}", flush=True)
        r = store.save_result(visit.id, result)
        print(f"R {r.id}", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_sigkill_during_writes_loses_no_committed_row(store, db_path: Path):
    store.close()
    committed: dict[str, set[int]] = {"P": set(), "R": set()}
    for run in range(2):  # the second run starts from the first run's crashed database
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), ADMIN, ADMIN_PASSWORD, str(run)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        lines = 0
        while lines < 150 + 50 * run:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "writer stopped"
            kind, ident = line.split()
            committed[kind].add(int(ident))
            lines += 1
        os.kill(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in rest.splitlines():  # printed after commit, before the kill landed
            kind, ident = line.split()
            committed[kind].add(int(ident))

    after = open_store(db_path, ADMIN, ADMIN_PASSWORD, kdf=FAST)
    conn = after._conn()
    assert after.integrity_check() == "ok"
    # the anchor may lag a crash, never lead it; on a server, verifying first seals the
    # entries the killed writer committed but left awaiting their seal
    assert after.verify_audit().ok
    patients = {r[0] for r in conn.execute("SELECT id FROM patients")}
    results = {r[0] for r in conn.execute("SELECT id FROM results")}
    assert committed["P"] <= patients, sorted(committed["P"] - patients)[:5]
    assert committed["R"] <= results, sorted(committed["R"] - results)[:5]
    # no half transaction: every patient has its version row and its audit entry
    versions = conn.execute("SELECT count(*) FROM patient_versions").fetchone()[0]
    created = conn.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'created' AND object_type = 'patient'"
    ).fetchone()[0]
    assert versions == len(patients) == created
    analysed = conn.execute("SELECT count(*) FROM audit_log WHERE action='analysed'").fetchone()
    assert analysed[0] == len(results)
    after.close()

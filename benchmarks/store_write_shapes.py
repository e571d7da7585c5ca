"""Experiment record (issue 30): one audited patient write in three shapes, 1 and 4 writers.

Not the product's code path: it replays with psycopg alone, as the schema's
owner, what ``store.add_patient`` sends to a PostgreSQL store (``store``: the
pipelined ``BEGIN``, ``INSERT ... RETURNING id``, ``stethos_audit_add``, the
history row, ``COMMIT``) against the same write as **one statement**: a
PL/pgSQL function (``function``) or a data-modifying CTE (``cte``). Each
shape: total writes/s of 1 and of 4 writer processes, and the CPU per write
of the writers (``time.process_time``) and of writers and the whole server
together (postmaster and children, from ``/proc``), measured by the
benchmark's own ``_concurrent``. Results: docs/experiments/store-write-cpu.md.

Run: ``flock /tmp/stethos-bench.lock .venv/bin/python benchmarks/store_write_shapes.py``
"""

import functools
import statistics
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
import psycopg

from benchmarks.store_throughput import FAST, PASSWORD, _concurrent
from engine.store import create_store
from tests.engine.store._pg import OWNER, PgServer, find_bin_dir

FUNC = """CREATE OR REPLACE FUNCTION x_add_patient(p_mrn text, p_fam text, p_giv text, p_key text, p_at text, p_uid bigint, p_user text)
RETURNS TABLE(pid bigint, seq bigint, prev_hash text, hash text) LANGUAGE plpgsql AS $$
DECLARE new_id bigint;
BEGIN
  INSERT INTO patients (mrn, family_name, given_name, birth_date, sex, search_key, version, created_at, created_by, updated_at, updated_by)
    VALUES (p_mrn, p_fam, p_giv, NULL, 'U', p_key, 1, p_at, p_uid, p_at, p_uid) RETURNING id INTO new_id;
  INSERT INTO patient_versions (patient_id, version, mrn, family_name, given_name, birth_date, sex, changed_at, changed_by, reason)
    VALUES (new_id, 1, p_mrn, p_fam, p_giv, NULL, 'U', p_at, p_uid, 'registered');
  RETURN QUERY SELECT new_id, a.seq, a.prev_hash, a.hash FROM stethos_audit_add(p_at, p_user, 'created', 'patient', new_id::text, '{}', false) a;
END $$"""
CTE = """WITH p AS (INSERT INTO patients (mrn, family_name, given_name, birth_date, sex, search_key, version, created_at, created_by, updated_at, updated_by)
    VALUES (%(mrn)s, %(fam)s, %(giv)s, NULL, 'U', %(key)s, 1, %(at)s, %(uid)s, %(at)s, %(uid)s) RETURNING id),
 v AS (INSERT INTO patient_versions (patient_id, version, mrn, family_name, given_name, birth_date, sex, changed_at, changed_by, reason)
    SELECT id, 1, %(mrn)s, %(fam)s, %(giv)s, NULL, 'U', %(at)s, %(uid)s, 'registered' FROM p)
 SELECT p.id, a.seq, a.prev_hash, a.hash FROM p, LATERAL stethos_audit_add(%(at)s, %(user)s, 'created', 'patient', p.id::text, '{}', false) a"""


def write(conn, shape, tag, i):
    at = "2026-12-06T22:51:56.471135+00:00"
    mrn, fam, giv = f"{tag}-{i:06d}", f"Writer{tag}", f"Given{i % 97}"
    key = f"{mrn} {fam} {giv}".lower()
    if shape == "store":
        with conn.pipeline():
            conn.execute("BEGIN")
            cur = conn.execute(
                "INSERT INTO patients (mrn, family_name, given_name, birth_date, sex, search_key, version, created_at, created_by, updated_at, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (mrn, fam, giv, None, "U", key, 1, at, 1, at, 1),
            )
            pid = cur.fetchone()[0]
            a = conn.execute(
                "SELECT seq, prev_hash, hash FROM stethos_audit_add(%s, %s, %s, %s, %s, %s, %s)",
                (at, "admin", "created", "patient", str(pid), "{}", False),
            )
            conn.execute(
                "INSERT INTO patient_versions (patient_id, version, mrn, family_name, given_name, birth_date, sex, changed_at, changed_by, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (pid, 1, mrn, fam, giv, None, "U", at, 1, "registered"),
            )
            conn.execute("COMMIT")
        a.fetchone()
    elif shape == "function":
        conn.execute(
            "SELECT * FROM x_add_patient(%s, %s, %s, %s, %s, %s, %s)",
            (mrn, fam, giv, key, at, 1, "admin"),
        ).fetchone()
    else:
        conn.execute(
            CTE, dict(mrn=mrn, fam=fam, giv=giv, key=key, at=at, uid=1, user="admin")
        ).fetchone()


def worker(shape, url, tag, n, ready, go, out, release):
    """One writer process of :func:`benchmarks.store_throughput._concurrent`, for ``shape``."""
    conn = psycopg.connect(url, autocommit=True)
    ready.put(tag)
    go.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        write(conn, shape, tag, i)
    out.put(
        (tag, t0, time.perf_counter(), time.perf_counter() - t0, (time.process_time() - c0) / n)
    )
    release.wait(120)
    conn.close()


if __name__ == "__main__":
    srv = PgServer(find_bin_dir(), fsync=True).start()
    try:
        name = srv.new_database()
        owner = srv.url(OWNER, name)
        create_store(owner, "admin", PASSWORD, kdf=FAST)[0].close()
        with psycopg.connect(owner, autocommit=True) as c:
            c.execute(FUNC)
        pid = srv.pid()
        res = {s: [] for s in ("store", "function", "cte")}
        for r in range(3):
            for shape in res:
                target = functools.partial(worker, shape)
                one = _concurrent(pid, owner, 1, 500, f"{shape[0]}a{r}", target)
                four = _concurrent(pid, owner, 4, 500, f"{shape[0]}b{r}", target)
                res[shape].append((one, four))
        m = statistics.median
        for shape, rows in res.items():
            o, f = [x[0] for x in rows], [x[1] for x in rows]
            rounds = ", ".join(f"{fo[0] / on[0]:.2f}" for on, fo in rows)
            print(
                f"{shape:9s} 1 writer {m(x[0] for x in o):6.0f}/s, CPU per write: client "
                f"{m(x[1] for x in o):4.0f} us, client + server {m(x[2] for x in o):4.0f} us | "
                f"4 writers {m(x[0] for x in f):6.0f}/s, client {m(x[1] for x in f):4.0f} us, "
                f"client + server {m(x[2] for x in f):4.0f} us | 4 vs 1 "
                f"{m(fo[0] / on[0] for on, fo in rows):.2f}x (rounds {rounds})"
            )
    finally:
        srv.destroy()

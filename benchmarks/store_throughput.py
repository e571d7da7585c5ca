"""Store costs against plain baselines measured in the same run.

- sign-in with the product's Argon2id parameters, vs the test parameters;
- one-row write transactions (patient + version row + audit entry + signed
  anchor, SQLCipher, WAL, synchronous=FULL), vs the same one-row commits in
  plain unencrypted sqlite3 with the same journal settings;
- patient search over N patients, vs a Python substring scan of the names;
- audit verification, vs hashing the same entries with sha256 alone;
- a patient's timeline with 1,000 results (target: at most 100 ms), on both backends.

With PostgreSQL's binaries installed (Debian ``postgresql``), the same run
starts a throw-away server (fsync on, as in a clinic) and measures the shared
backend (issue 30): audited writes per second from one workstation against a
bare psycopg ``INSERT; COMMIT`` loop on the same server (target: at least
0.5x), total audited writes of 4 concurrent writer processes against one
(target: at least 2x; each writer's audit append waits for an advisory lock
held to its commit, and the time spent in the append, that wait included, is
printed), and the
audit chain verified after them.

Run: ``.venv/bin/python benchmarks/store_throughput.py [N]`` (default 2000),
under ``flock /tmp/stethos-bench.lock``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.store import KdfParams, ResultInput, create_store, open_store  # noqa: E402

PASSWORD = "benchmark-pass"
FAST = KdfParams.fast()
RESULT = ResultInput(
    model_id="heart-disease-logreg", model_version="1.0.0", model_name="",
    weights_sha256="w" * 64, input_hash="i" * 64, label="disease",
    probabilities={"disease": 0.7, "no disease": 0.3}, positive_label="disease",
    payload={"contributions": [{"feature": "thal", "contribution": 0.9}] * 8},
)  # fmt: skip
TIMELINE_TARGET_MS = 100.0


def _timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(n: int = 2000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # --- sign-in -------------------------------------------------------------------------
        prod_path = root / "prod.db"
        store, _ = create_store(prod_path, "admin", PASSWORD)
        store.close()
        fast_path = root / "fast.db"
        store, _ = create_store(fast_path, "admin", "benchmark-pass", kdf=KdfParams.fast())
        store.close()
        prod = _timed(lambda: open_store(prod_path, "admin", "benchmark-pass").close())
        fast = _timed(lambda: open_store(fast_path, "admin", "benchmark-pass").close())
        print(f"sign-in, product Argon2id (t=3, 64 MiB, p=4): {prod * 1000:8.1f} ms")
        print(f"sign-in, test parameters (t=1, 8 MiB, p=1):   {fast * 1000:8.1f} ms")
        print(f"  ratio product/test: {prod / fast:.1f}x")

        # --- writes ----------------------------------------------------------------------------
        store = open_store(fast_path, "admin", "benchmark-pass", kdf=KdfParams.fast())
        t0 = time.perf_counter()
        for i in range(n):
            store.add_patient(f"MRN-{i:06d}", f"Family{i}", f"Given{i % 97}")
        store_write = time.perf_counter() - t0

        plain = sqlite3.connect(root / "plain.db", isolation_level=None)
        plain.execute("PRAGMA journal_mode=WAL")
        plain.execute("PRAGMA synchronous=FULL")
        plain.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, mrn TEXT UNIQUE, name TEXT)")
        t0 = time.perf_counter()
        for i in range(n):
            plain.execute("BEGIN IMMEDIATE")
            plain.execute("INSERT INTO p (mrn, name) VALUES (?, ?)", (f"M{i}", f"Family{i}"))
            plain.execute("COMMIT")
        plain_write = time.perf_counter() - t0
        plain.close()
        print(f"write transactions: store {n / store_write:8.0f}/s, plain sqlite3 "
              f"{n / plain_write:8.0f}/s  (store costs {store_write / plain_write:.1f}x)")  # fmt: skip

        # --- search ----------------------------------------------------------------------------
        names = [f"mrn-{i:06d} family{i} given{i % 97}" for i in range(n)]
        search = _timed(lambda: store.search_patients("given42", limit=n), repeat=5)
        scan = _timed(lambda: [s for s in names if "given42" in s], repeat=5)
        hits = len(store.search_patients("given42", limit=n))
        print(f"search 'given42' over {n} patients ({hits} hits): {search * 1000:6.1f} ms "
              f"(Python scan of names {scan * 1000:6.2f} ms, {search / scan:.0f}x)")  # fmt: skip

        # --- audit verification ------------------------------------------------------------------
        entries = store.audit_entries()
        verify = _timed(store.verify_audit)
        raw = [repr(e).encode() for e in entries]
        sha = _timed(lambda: [hashlib.sha256(b).hexdigest() for b in raw])
        print(f"verify {len(entries)} audit entries: {verify * 1000:7.1f} ms "
              f"({len(entries) / verify:,.0f}/s; bare sha256 of the same {sha * 1000:.1f} ms, "
              f"{verify / sha:.1f}x)")  # fmt: skip
        store.close()

        timeline_ms(fast_path, "SQLite")
    postgresql(n)


def timeline_ms(location: str | Path, label: str, results: int = 1000) -> float:
    """Time a patient's timeline with ``results`` results (and a decision on every tenth)."""
    store = open_store(location, "admin", PASSWORD, kdf=FAST)
    patient = store.add_patient(f"TL-{time.time_ns()}", "Timeline")
    for k in range(results // 100):
        visit = store.add_encounter(patient.id, reason=f"visit {k}")
        for i in range(100):
            saved = store.save_result(visit.id, RESULT)
            if i % 10 == 0:
                store.record_decision(saved.id, "accepted")
    entries = len(store.timeline(patient.id))
    took = _timed(lambda: store.timeline(patient.id), repeat=5) * 1000
    store.close()
    verdict = "ok" if took <= TIMELINE_TARGET_MS else "OVER TARGET"
    print(f"timeline of a patient with {results} results ({entries} entries), {label}: "
          f"{took:6.1f} ms (target <= {TIMELINE_TARGET_MS:.0f} ms: {verdict})")  # fmt: skip
    return took


# --- PostgreSQL ------------------------------------------------------------------------------------
def _writer(url: str, tag: str, count: int, ready, go, out) -> None:
    """One workstation process: sign in, wait for the start, write ``count`` patients."""
    store = open_store(url, "admin", PASSWORD, kdf=FAST)
    ready.put(tag)
    go.wait()
    t0 = time.perf_counter()
    for i in range(count):
        store.add_patient(f"W{tag}-{i:06d}", f"Writer{tag}", f"Given{i % 97}")
    elapsed = time.perf_counter() - t0
    out.put((tag, t0, time.perf_counter(), elapsed))
    store.close()


def _bare_writer(url: str, tag: str, count: int, ready, go, out) -> None:
    """The baseline process: psycopg ``INSERT; COMMIT`` into a plain table, nothing else."""
    import psycopg

    with psycopg.connect(url) as conn:
        ready.put(tag)
        go.wait()
        t0 = time.perf_counter()
        for i in range(count):
            conn.execute("INSERT INTO bare (mrn, name) VALUES (%s, %s)", (f"{tag}-{i}", tag))
            conn.commit()
        out.put((tag, t0, time.perf_counter(), time.perf_counter() - t0))


def _concurrent(url: str, writers: int, per_writer: int, tag: str, target=None) -> float:
    """Total writes per second of ``writers`` processes writing at once (``target``: each)."""
    ctx = multiprocessing.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=target or _writer, args=(url, f"{tag}{k}", per_writer, ready, go, out))
        for k in range(writers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    go.set()
    done = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    start = min(d[1] for d in done)
    end = max(d[2] for d in done)
    return writers * per_writer / (end - start)


def _lock_time(owner_url: str) -> tuple[int, float]:
    """Calls of ``stethos_audit_append()`` and their total milliseconds so far (server stats)."""
    import psycopg

    time.sleep(1.2)  # backends flush their function statistics at most once a second
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT calls, total_time FROM pg_stat_user_functions "
            "WHERE funcname = 'stethos_audit_append'"
        ).fetchone()
    return (0, 0.0) if row is None else (int(row[0]), float(row[1]))


def postgresql(n: int) -> None:
    """The shared backend against a bare psycopg loop on the same throw-away server."""
    try:
        import psycopg

        from tests.engine.store._pg import OWNER, WORKSTATION, PgServer, find_bin_dir
    except ImportError as exc:
        print(f"PostgreSQL: skipped ({exc})")
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL: skipped (initdb/pg_ctl not installed; Debian: apt install postgresql)")
        return
    server = PgServer(bin_dir, fsync=True).start()
    try:
        name = server.new_database()
        owner, ws = server.url(OWNER, name), server.url(WORKSTATION, name)
        create_store(owner, "admin", PASSWORD, kdf=FAST)[0].close()
        print(f"PostgreSQL {server.sql('SHOW server_version')[0][0]} (throw-away server, "
              "fsync on, loopback TCP), workstation role:")  # fmt: skip

        with psycopg.connect(owner, autocommit=True) as admin:
            admin.execute(
                "CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, mrn TEXT UNIQUE, name TEXT)"
            )
        with psycopg.connect(owner) as bare:
            t0 = time.perf_counter()
            for i in range(n):
                bare.execute("INSERT INTO bare (mrn, name) VALUES (%s, %s)", (f"M{i}", f"F{i}"))
                bare.commit()
            bare_rate = n / (time.perf_counter() - t0)

        store = open_store(ws, "admin", PASSWORD, kdf=FAST)
        t0 = time.perf_counter()
        for i in range(n):
            store.add_patient(f"MRN-{i:06d}", f"Family{i}", f"Given{i % 97}")
        store_rate = n / (time.perf_counter() - t0)
        store.close()
        ratio = store_rate / bare_rate
        print(f"  audited writes (patient + version row + audit entry, one transaction): "
              f"{store_rate:7.0f}/s; bare psycopg INSERT; COMMIT {bare_rate:7.0f}/s "
              f"-> {ratio:.2f}x (target >= 0.5x: {'ok' if ratio >= 0.5 else 'MISSED'})")  # fmt: skip

        per = max(n // 4, 100)
        lock_before = _lock_time(owner)
        one = _concurrent(ws, 1, per, "a")
        lock_one = _lock_time(owner)
        four = _concurrent(ws, 4, per, "b")
        lock_four = _lock_time(owner)
        gain = four / one
        bare_one = _concurrent(owner, 1, per, "c", _bare_writer)
        bare_four = _concurrent(owner, 4, per, "d", _bare_writer)
        print(f"  1 writer process {one:7.0f}/s; 4 concurrent writer processes {four:7.0f}/s "
              f"in total -> {gain:.2f}x (target >= 2x: {'ok' if gain >= 2 else 'MISSED'}; "
              f"{os.cpu_count()} CPUs here)")  # fmt: skip
        for label, (calls, ms), (calls0, ms0) in (
            ("1 writer", lock_one, lock_before),
            ("4 writers", lock_four, lock_one),
        ):
            if calls > calls0:
                print(f"  audit append on the server (stethos_audit_append), {label}: "
                      f"{(ms - ms0) / (calls - calls0) * 1000:6.0f} us per append "
                      "(the wait for the lock included)")  # fmt: skip
        print(f"  the machine's own ceiling: bare psycopg INSERT; COMMIT, 1 process "
              f"{bare_one:7.0f}/s, 4 processes {bare_four:7.0f}/s -> "
              f"{bare_four / bare_one:.2f}x")  # fmt: skip
        with open_store(ws, "admin", PASSWORD, kdf=FAST) as check:
            report = check.verify_audit()
            print(f"  audit chain after the concurrent writers: "
                  f"{'verified' if report.ok else 'FAILED'} ({report.entries} entries)")  # fmt: skip
        timeline_ms(ws, "PostgreSQL")
    finally:
        server.destroy()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

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
(target: at least 2x), and the audit chain verified after them. Both designs
of the audit chain are measured in the same run, each in a database of its
own: entries sealed in batches (now), and a database set up before that
(the chain's lock held to each commit); the time in the server's function
per entry, the entries sealed per sealing transaction and those left
awaiting their seal are printed, and the CPU each write costs: the client's
(``time.process_time``, every loop) and, for the loops in this process, its
server backend's (``/proc``; docs/experiments/store-write-cpu.md).

Run: ``.venv/bin/python benchmarks/store_throughput.py [N] [--postgresql-only]``
(default 2000), under ``flock /tmp/stethos-bench.lock``.
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
def _writer(url: str, tag: str, count: int, ready, go, out, release) -> None:
    """One workstation process: sign in, wait for the start, write ``count`` patients.

    It stays signed in until ``release`` is set, so that its server backend is
    still there when the server's CPU is read.
    """
    store = open_store(url, "admin", PASSWORD, kdf=FAST)
    ready.put(tag)
    go.wait()
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(count):
        store.add_patient(f"W{tag}-{i:06d}", f"Writer{tag}", f"Given{i % 97}")
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out.put((tag, t0, time.perf_counter(), elapsed, cpu / count))
    release.wait(timeout=120)
    store.close()


def _bare_writer(url: str, tag: str, count: int, ready, go, out, release) -> None:
    """The baseline process: psycopg ``INSERT; COMMIT`` into a plain table, nothing else."""
    import psycopg

    with psycopg.connect(url) as conn:
        ready.put(tag)
        go.wait()
        t0, cpu0 = time.perf_counter(), time.process_time()
        for i in range(count):
            conn.execute("INSERT INTO bare (mrn, name) VALUES (%s, %s)", (f"{tag}-{i}", tag))
            conn.commit()
        cpu = (time.process_time() - cpu0) / count
        out.put((tag, t0, time.perf_counter(), time.perf_counter() - t0, cpu))
        release.wait(timeout=120)


def _concurrent(
    server_pid: int, url: str, writers: int, per_writer: int, tag: str, target=None
) -> tuple[float, float, float]:
    """Total writes per second of ``writers`` processes writing at once (``target``: each).

    Also, in us: the client CPU per write (``time.process_time``, median over
    the processes), and the CPU of the whole machine's share per write: every
    writer process and every process of the server (``server_pid``, the
    postmaster, and its children: the backends, WAL writer, checkpointer...)
    over the writing, divided by the writes.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, out, go, release = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(
            target=target or _writer,
            args=(url, f"{tag}{k}", per_writer, ready, go, out, release),
        )
        for k in range(writers)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    server0 = _tree_cpu(server_pid)
    go.set()
    done = [out.get(timeout=600) for _ in procs]
    server1 = _tree_cpu(server_pid)  # before the writers sign out: their backends still count
    release.set()
    for p in procs:
        p.join(timeout=60)
    start = min(d[1] for d in done)
    end = max(d[2] for d in done)
    cpu_us = statistics.median(d[4] for d in done) * 1e6
    writes = writers * per_writer
    total_us = (sum(d[4] for d in done) * per_writer + server1 - server0) / writes * 1e6
    return writes / (end - start), cpu_us, total_us


def _append_time(owner_url: str) -> tuple[int, float]:
    """Calls of the entry point that adds an audit entry and their total ms so far.

    ``stethos_audit_add`` (batch sealing: its seal included) or, on a database
    set up before it, ``stethos_audit_append`` (the wait for the lock included).
    """
    import psycopg

    time.sleep(1.2)  # backends flush their function statistics at most once a second
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sum(calls), sum(total_time) FROM pg_stat_user_functions "
            "WHERE funcname IN ('stethos_audit_add', 'stethos_audit_append')"
        ).fetchone()
    return (0, 0.0) if row is None or row[0] is None else (int(row[0]), float(row[1]))


def _seals(owner_url: str, after: int, upto: int | None) -> tuple[int, int, int]:
    """Entries in ``(after, upto]``, the transactions that sealed them, and entries pending."""
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT xmin::text) FROM audit_log "
            "WHERE seq > %s AND (%s::bigint IS NULL OR seq <= %s)",
            (after, upto, upto),
        ).fetchone()
        table = conn.execute("SELECT to_regclass('audit_pending')").fetchone()
        waiting = (0,)
        if table is not None and table[0] is not None:
            waiting = conn.execute("SELECT count(*) FROM audit_pending").fetchone() or (0,)
    assert row is not None
    return int(row[0]), int(row[1]), int(waiting[0])


def _tail(owner_url: str) -> int:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()
    return 0 if row is None else int(row[0])


def _ceiling(one: float, tot1: list[float], tot4: list[float]) -> str:
    """What the machine's CPUs allow 4 writers, from the CPU they used per write.

    ``one``: one writer's writes/s; ``tot1``/``tot4``: per round, the CPU per
    write (us) of the writer processes and the whole server together, with 1
    and 4 writers. Where writers and server share the CPUs, 4 writers can
    reach at most ``cpus / tot4`` writes/s, whatever the software does above
    that CPU cost.
    """
    cpus = os.cpu_count() or 1
    t1, t4 = statistics.median(tot1), statistics.median(tot4)
    most = cpus / (t4 / 1e6)
    return (
        f"CPU per write, writer processes and the whole server together: {t1:4.0f} us with 1 "
        f"writer ({one * t1 / 1e6:.2f} CPUs busy), {t4:4.0f} us with 4 (rounds "
        f"{', '.join(f'{v:.0f}' for v in tot4)}): {cpus} CPUs allow 4 writers at most "
        f"{most:5.0f}/s = {most / one:.2f}x one writer"
    )


def _ok(value: float, target: float) -> str:
    return "ok" if value >= target else "MISSED"


ROUNDS = 3
BEFORE, NOW = "lock to commit (before)", "batch sealing (now)"


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from ``/proc`` (NaN where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its living children (the server's processes)."""
    total = _process_cpu(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                total += _process_cpu(int(entry.name))
    return total


def _store_loop(ws: str, count: int, tag: str) -> tuple[float, float, float]:
    """One workstation in this process: ``count`` audited writes.

    Returns writes/s and the CPU per write, in us, of this client and of its server backend.
    """
    store = open_store(ws, "admin", PASSWORD, kdf=FAST)
    backend = store._conn().raw.info.backend_pid  # type: ignore[attr-defined]  # this thread's
    t0, cpu0, server0 = time.perf_counter(), time.process_time(), _process_cpu(backend)
    for i in range(count):
        store.add_patient(f"{tag}-{i:06d}", f"Family{i}", f"Given{i % 97}")
    rate = count / (time.perf_counter() - t0)
    cpu_us = (time.process_time() - cpu0) / count * 1e6
    server_us = (_process_cpu(backend) - server0) / count * 1e6
    store.close()
    return rate, cpu_us, server_us


def _bare_loop(url: str, count: int, tag: str) -> tuple[float, float, float]:
    """The bare psycopg ``INSERT; COMMIT`` loop in this process; as :func:`_store_loop`."""
    import psycopg

    with psycopg.connect(url) as bare:
        backend = bare.info.backend_pid
        t0, cpu0, server0 = time.perf_counter(), time.process_time(), _process_cpu(backend)
        for i in range(count):
            bare.execute("INSERT INTO bare (mrn, name) VALUES (%s, %s)", (f"{tag}{i}", "F"))
            bare.commit()
        cpu_us = (time.process_time() - cpu0) / count * 1e6
        server_us = (_process_cpu(backend) - server0) / count * 1e6
        return count / (time.perf_counter() - t0), cpu_us, server_us


def postgresql(n: int) -> None:
    """The shared backend against a bare psycopg loop on the same throw-away server.

    Two databases on the server: one as Stethos sets it up now (entries
    sealed in batches) and one set up as before (``stethos_audit_append``,
    the lock held to each commit). Both are measured in the same run, in
    :data:`ROUNDS` interleaved rounds (each round: the bare loop, then each
    design), so that a load change on the machine hits both alike; the
    medians of the per-round figures are printed.
    """
    try:
        import psycopg

        from tests.engine.store._legacy_audit import downgrade
        from tests.engine.store._pg import OWNER, WORKSTATION, PgServer, find_bin_dir
    except ImportError as exc:
        print(f"PostgreSQL: skipped ({exc})")
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        print("PostgreSQL: skipped (initdb/pg_ctl not installed; Debian: apt install postgresql)")
        return
    server = PgServer(bin_dir, fsync=True).start()
    median = statistics.median
    try:
        designs = {}
        for design in (BEFORE, NOW):
            name = server.new_database()
            owner, ws = server.url(OWNER, name), server.url(WORKSTATION, name)
            create_store(owner, "admin", PASSWORD, kdf=FAST)[0].close()
            if design == BEFORE:
                downgrade(owner)
            designs[design] = (owner, ws)
        owner0 = designs[BEFORE][0]
        with psycopg.connect(owner0, autocommit=True) as admin:
            admin.execute(
                "CREATE TABLE bare (id BIGSERIAL PRIMARY KEY, mrn TEXT UNIQUE, name TEXT)"
            )
        print(f"PostgreSQL {server.sql('SHOW server_version')[0][0]} (throw-away server, "
              f"fsync on, loopback TCP), workstation role, {ROUNDS} interleaved rounds "
              "(medians):")  # fmt: skip

        # --- one workstation, in this process ---------------------------------------------
        per_round = max(n // ROUNDS, 100)
        bare_rates: list[float] = []
        bare_cpu: list[float] = []
        bare_server: list[float] = []
        ratios: dict[str, list[float]] = {d: [] for d in designs}
        cpus: dict[str, list[float]] = {d: [] for d in designs}
        servers: dict[str, list[float]] = {d: [] for d in designs}
        for r in range(ROUNDS):
            rate, cpu, server_cpu = _bare_loop(owner0, per_round, f"M{r}-")
            bare_rates.append(rate)
            bare_cpu.append(cpu)
            bare_server.append(server_cpu)
            for design, (_, ws) in designs.items():
                rate, cpu, server_cpu = _store_loop(ws, per_round, f"R{r}")
                ratios[design].append(rate / bare_rates[-1])
                cpus[design].append(cpu)
                servers[design].append(server_cpu)
        print(f"  bare psycopg INSERT; COMMIT, 1 connection: {median(bare_rates):7.0f}/s "
              f"(client CPU {median(bare_cpu):4.0f} us per commit, its server backend "
              f"{median(bare_server):4.0f} us)")  # fmt: skip
        for design, values in ratios.items():
            ratio = median(values)
            print(f"  {design}: audited writes (patient + version row + audit entry, one "
                  f"transaction) {ratio * median(bare_rates):7.0f}/s -> {ratio:.2f}x bare "
                  f"(target >= 0.5x: {_ok(ratio, 0.5)}; rounds "
                  f"{', '.join(f'{v:.2f}' for v in values)}); client CPU per write "
                  f"{median(cpus[design]):4.0f} us (rounds "
                  f"{', '.join(f'{v:.0f}' for v in cpus[design])}), its server backend "
                  f"{median(servers[design]):4.0f} us")  # fmt: skip

        # --- 1 and 4 writer processes ------------------------------------------------------
        per = max(n // 4, 100)
        gains: dict[str, list[float]] = {d: [] for d in (*designs, "bare")}
        ones: dict[str, list[float]] = {d: [] for d in gains}
        #: client CPU per write (us), 1 writer process and 4
        cpu1: dict[str, list[float]] = {d: [] for d in gains}
        cpu4: dict[str, list[float]] = {d: [] for d in gains}
        #: CPU per write (us) of the writer processes and the whole server together
        tot1: dict[str, list[float]] = {d: [] for d in gains}
        tot4: dict[str, list[float]] = {d: [] for d in gains}
        pid = server.pid()
        stats: dict[str, list[tuple[float, float, float, float]]] = {d: [] for d in designs}
        for r in range(ROUNDS):
            for design, (owner, ws) in designs.items():
                start, calls0 = _tail(owner), _append_time(owner)
                one, c1, t1 = _concurrent(pid, ws, 1, per, f"a{r}")
                mid, calls1 = _tail(owner), _append_time(owner)
                four, c4, t4 = _concurrent(pid, ws, 4, per, f"b{r}")
                calls4 = _append_time(owner)
                ones[design].append(one)
                cpu1[design].append(c1)
                cpu4[design].append(c4)
                tot1[design].append(t1)
                tot4[design].append(t4)
                gains[design].append(four / one)
                _, s1, _ = _seals(owner, start, mid)
                e4, s4, waiting = _seals(owner, mid, None)
                stats[design].append((
                    (calls1[1] - calls0[1]) / max(calls1[0] - calls0[0], 1) * 1000,
                    (calls4[1] - calls1[1]) / max(calls4[0] - calls1[0], 1) * 1000,
                    e4 / max(s4, 1) if s1 else 0.0,
                    waiting,
                ))  # fmt: skip
            one, c1, t1 = _concurrent(pid, owner0, 1, per, f"c{r}", _bare_writer)
            four, c4, t4 = _concurrent(pid, owner0, 4, per, f"d{r}", _bare_writer)
            tot1["bare"].append(t1)
            tot4["bare"].append(t4)
            ones["bare"].append(one)
            gains["bare"].append(four / one)
            cpu1["bare"].append(c1)
            cpu4["bare"].append(c4)
        for design in designs:
            gain = median(gains[design])
            us1, us4, per_seal, waiting = (median(v) for v in zip(*stats[design], strict=True))
            print(f"  {design}: 1 writer process {median(ones[design]):7.0f}/s; 4 concurrent "
                  f"writer processes {gain:.2f}x that in total (target >= 2x: {_ok(gain, 2)}; "
                  f"rounds {', '.join(f'{g:.2f}' for g in gains[design])}; "
                  f"{os.cpu_count()} CPUs here)")  # fmt: skip
            print(f"    client CPU per write: {median(cpu1[design]):4.0f} us (1 writer), "
                  f"{median(cpu4[design]):4.0f} us (4 writers)")  # fmt: skip
            print("    " + _ceiling(median(ones[design]), tot1[design], tot4[design]))
            print(f"    in the server's function per audit entry: {us1:5.0f} us (1 writer), "
                  f"{us4:5.0f} us (4 writers, the wait for the lock included); 4 writers: "
                  f"{per_seal:.2f} entries per sealing transaction, {waiting:.0f} awaiting "
                  "their seal after sign-out")  # fmt: skip
        print(f"  the machine's own ceiling: bare psycopg INSERT; COMMIT, 1 process "
              f"{median(ones['bare']):7.0f}/s, 4 processes {median(gains['bare']):.2f}x that "
              f"(rounds {', '.join(f'{g:.2f}' for g in gains['bare'])}); client CPU per "
              f"commit {median(cpu1['bare']):4.0f} us (1 process), "
              f"{median(cpu4['bare']):4.0f} us (4)")  # fmt: skip
        print("    " + _ceiling(median(ones["bare"]), tot1["bare"], tot4["bare"]))
        for design, (_, ws) in designs.items():
            with open_store(ws, "admin", PASSWORD, kdf=FAST) as check:
                report = check.verify_audit()
            print(f"  {design}: audit chain after the concurrent writers: "
                  f"{'verified' if report.ok else 'FAILED'} ({report.entries} entries, "
                  f"{report.awaiting_seal} awaiting their seal)")  # fmt: skip
        timeline_ms(designs[NOW][1], "PostgreSQL")
    finally:
        server.destroy()


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 2000
    if "--postgresql-only" in sys.argv:
        postgresql(count)
    else:
        main(count)

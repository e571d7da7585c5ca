"""Store costs against plain baselines measured in the same run.

- sign-in with the product's Argon2id parameters, vs the test parameters;
- one-row write transactions (patient + version row + audit entry + signed
  anchor, SQLCipher, WAL, synchronous=FULL), vs the same one-row commits in
  plain unencrypted sqlite3 with the same journal settings;
- patient search over N patients, vs a Python substring scan of the names;
- audit verification, vs hashing the same entries with sha256 alone.

Run: ``.venv/bin/python benchmarks/store_throughput.py [N]`` (default 2000).
"""

from __future__ import annotations

import hashlib
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.store import KdfParams, create_store, open_store  # noqa: E402


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
        store, _ = create_store(prod_path, "admin", "benchmark-pass")
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


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)

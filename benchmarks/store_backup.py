"""``store backup`` and ``store restore`` against a plain file copy, in the same run.

A workstation store is filled with N patients, each with a visit and 5 saved
results (an audit entry for each), and left open, its write-ahead log not
checkpointed, as it is while Stethos runs. Then, each the median of 3 runs:

- the baseline: ``shutil.copyfile`` of the database, its log and its key file
  (what a folder backup reads; it is not a consistent copy);
- ``Store.backup``: one snapshot through SQLite's backup API, the key file,
  a signed anchor, then the copy opened and checked (integrity, audit chain);
- ``restore_backup``: the copy checked again with a sign-in (product Argon2id
  parameters off: the test ones), the replaced files moved aside.

Run: ``.venv/bin/python benchmarks/store_backup.py [N]`` (default 3000), under
``flock /tmp/stethos-bench.lock``.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.store import KdfParams, ResultInput, create_store  # noqa: E402
from engine.store.keyring import keyring_path  # noqa: E402
from engine.store.restore import restore_backup  # noqa: E402

PASSWORD = "benchmark-pass"
FAST = KdfParams.fast()
RESULT = ResultInput(
    model_id="heart-disease-logreg", model_version="1.0.0", model_name="",
    weights_sha256="w" * 64, input_hash="i" * 64, label="disease",
    probabilities={"disease": 0.7, "no disease": 0.3}, positive_label="disease",
    payload={"contributions": [{"feature": "thal", "contribution": 0.9}] * 8},
)  # fmt: skip


def _median(fn, repeat: int = 3) -> float:
    times = []
    for k in range(repeat):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(n: int = 3000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db_path = root / "data" / "stethos.db"
        store, _ = create_store(db_path, "admin", PASSWORD, kdf=FAST)
        t0 = time.perf_counter()
        for i in range(n):
            patient = store.add_patient(f"MRN{i:06d}", f"Family{i}", "Given", "1960-01-01", "F")
            visit = store.add_encounter(patient.id, reason="visit")
            for _ in range(5):
                store.save_result(visit.id, RESULT)
        print(f"filled: {n} patients, {5 * n} results in {time.perf_counter() - t0:.0f} s")
        wal = db_path.with_name(db_path.name + "-wal")
        size = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        entries = store.verify_audit().entries
        print(f"database + log: {size / 2**20:.1f} MiB, {entries} audit entries (log open)")

        def copy(k: int) -> None:
            target = root / f"copy{k}"
            target.mkdir()
            for f in (db_path, wal, keyring_path(db_path)):
                if f.exists():
                    shutil.copyfile(f, target / f.name)

        copy_s = _median(copy)
        reports = []
        backup_s = _median(lambda k: reports.append(store.backup(root / f"backup{k}")))
        store.close()
        restored = root / "restored" / "stethos.db"
        restore_s = _median(
            lambda k: restore_backup(reports[k].folder, restored, "admin", PASSWORD, kdf=FAST)
        )
        print(f"plain file copy (baseline, not consistent): {copy_s:7.2f} s")
        print(f"store backup (snapshot + checks):           {backup_s:7.2f} s  "
              f"({backup_s / copy_s:.1f}x the copy)")  # fmt: skip
        print(f"store restore (checks + swap):              {restore_s:7.2f} s  "
              f"({restore_s / copy_s:.1f}x the copy)")  # fmt: skip
        print(f"backup size: {reports[0].database_bytes / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)

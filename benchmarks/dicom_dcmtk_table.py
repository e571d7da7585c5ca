"""Stethos vs dcmtk on every file of the shared DICOM corpora (first frame).

Prints one row per comparison: file, transfer syntax, photometric
interpretation, mode (file window / VOI LUT / min-max / explicit window /
colour) and the outcome (ok: 8-bit outputs within 1; diff N: largest
difference; refused by ...). The reasons for every difference above 1 and
every refusal are listed as data in ``tests/engine/dicom/test_dcmtk.py``.

    .venv/bin/python benchmarks/dicom_dcmtk_table.py [SHARED_DATA]

Needs Debian's ``dcmtk`` and ``libgdcm-tools``.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

from engine.dicom.verify import DIFF, OK, SKIPPED, check_files, default_corpus, tools_available


def main() -> int:
    shared = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    if not tools_available():
        print("dcmtk is not installed: apt-get install -y dcmtk libgdcm-tools")
        return 1
    start = time.perf_counter()
    checks = check_files(default_corpus(shared), workers=2, multiframe=True)
    elapsed = time.perf_counter() - start
    rows = [c for c in checks if c.status != SKIPPED]
    print(f"{'file':<44} {'transfer syntax':<38} {'photometric':<13} {'mode':<24} outcome")
    for c in rows:
        if c.status == OK:
            outcome = f"ok (max diff {c.max_diff})"
        elif c.status == DIFF:
            outcome = f"diff {c.max_diff} ({c.n_different} px > 1)"
        else:
            outcome = f"{c.status}: {c.message[:70]}"
        print(
            f"{c.path.name[:44]:<44} {c.syntax[:38]:<38} {c.photometric[:13]:<13} {c.mode[:24]:<24} {outcome}"
        )
    counts = Counter(c.status for c in rows)
    files = len({c.path for c in rows})
    print()
    print(
        f"{len(rows)} comparisons on {files} files in {elapsed:.1f} s: "
        + ", ".join(f"{k}: {v}" for k, v in counts.most_common())
    )
    skipped = Counter(c.message for c in checks if c.status == SKIPPED)
    print("not compared: " + ", ".join(f"{v} {k}" for k, v in skipped.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

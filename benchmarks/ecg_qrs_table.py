"""QRS detection on MIT-BIH: sensitivity and positive predictivity per record.

Usage::

    .venv/bin/python benchmarks/ecg_qrs_table.py [--data DIR] [--no-baseline] [RECORD ...]

Evaluation (see ``engine.ecg.evaluation``): the default rhythm lead (MLII;
V5 in 102 and 104, which have no MLII), every reference beat annotation
(WFDB/EC57 beat symbols), the EC57 150 ms matching window, ventricular
flutter episodes (``[`` … ``]``) and the first and last second of each
record left out. Prints the per-record table and the totals over DS1 (22
records), the 4 paced records and all of them, with the detector's speed.

The baseline, measured in the same run on the same samples and scored the
same way, is wfdb-python's XQRS detector (``wfdb.processing.xqrs_detect``);
``--no-baseline`` skips it (it takes a few seconds per record).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.ecg import lead_index, read_signal  # noqa: E402
from engine.ecg.evaluation import QrsScore, score_qrs  # noqa: E402
from engine.ecg.qrs import detect_qrs  # noqa: E402

DS1 = "101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230"
PACED = "102 104 107 217"


def _xqrs(x: np.ndarray, fs: float) -> np.ndarray:
    import logging

    from wfdb import processing

    logging.getLogger("wfdb").setLevel(logging.ERROR)
    return np.asarray(processing.xqrs_detect(x, fs=fs, verbose=False), dtype=np.int64)


def _cells(s: QrsScore) -> str:
    return f"{s.fn:>5} {s.fp:>5} {100 * s.sensitivity:>7.2f} {100 * s.positive_predictivity:>7.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("records", nargs="*", help="record names (default: all 26)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/ecg/mitdb"))
    parser.add_argument("--no-baseline", action="store_true", help="skip wfdb's XQRS")
    args = parser.parse_args(argv)
    names = args.records or (DS1.split() + PACED.split())
    baseline = not args.no_baseline
    head = f"{'record':>6} {'lead':>5} {'beats':>6} | {'FN':>5} {'FP':>5} {'Se %':>7} {'+P %':>7} {'ms':>5}"
    if baseline:
        head += f" | XQRS {'FN':>5} {'FP':>5} {'Se %':>7} {'+P %':>7} {'ms':>6}"
    print(head)
    ours: dict[str, QrsScore] = {}
    theirs: dict[str, QrsScore] = {}
    seconds = t_ours = t_theirs = 0.0
    for name in names:
        signal = read_signal(Path(args.data) / name)
        index = lead_index(signal)
        x = signal.data[index]
        start = time.perf_counter()
        found = detect_qrs(x, signal.fs)
        elapsed = time.perf_counter() - start
        t_ours += elapsed
        seconds += signal.duration_s
        ours[name] = score_qrs(signal.annotations, found, signal.fs, signal.n_samples)
        line = (
            f"{name:>6} {signal.leads[index]:>5} {ours[name].reference:>6} | "
            f"{_cells(ours[name])} {1000 * elapsed:>5.0f}"
        )
        if baseline:
            start = time.perf_counter()
            other = _xqrs(x.astype(np.float64), signal.fs)
            other_elapsed = time.perf_counter() - start
            t_theirs += other_elapsed
            theirs[name] = score_qrs(signal.annotations, other, signal.fs, signal.n_samples)
            line += f" |      {_cells(theirs[name])} {1000 * other_elapsed:>6.0f}"
        print(line, flush=True)
    print("-" * len(head))
    groups = {"DS1": DS1.split(), "paced": PACED.split(), "all": names}
    for label, members in groups.items():
        chosen = [m for m in members if m in ours]
        if not chosen:
            continue
        total = QrsScore.total(ours[m] for m in chosen)
        line = f"{label:>6} {'':>5} {total.reference:>6} | {_cells(total)} {'':>5}"
        if baseline:
            line += f" |      {_cells(QrsScore.total(theirs[m] for m in chosen))}"
        print(line)
    per_record = t_ours / max(seconds / 1800, 1e-9) * 1000
    print(
        f"\ndetector: {t_ours:.2f} s for {seconds / 3600:.2f} h of ECG "
        f"({per_record:.0f} ms per 30-min record, {seconds / max(t_ours, 1e-9):,.0f}× real time)"
    )
    if baseline:
        print(f"XQRS baseline: {t_theirs:.2f} s, {t_theirs / max(t_ours, 1e-9):.0f}× slower")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

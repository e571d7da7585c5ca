"""QRS detection on MIT-BIH: sensitivity and positive predictivity per record.

Usage::

    .venv/bin/python benchmarks/ecg_qrs_table.py [--data ../shared/data/ecg/mitdb] [RECORD ...]

Evaluation (documented in ``engine.ecg.evaluation``): the default rhythm lead
(MLII; V5 in 102 and 104, which have no MLII), every reference beat annotation
(AAMI beat symbols), EC57 150 ms matching window, ventricular flutter episodes
(``[``…``]``) and the first and last second of each record left out. Prints
the per-record table, the totals over DS1 (22 records), over the 4 paced
records and over all, and the detector's speed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.ecg import read_signal  # noqa: E402
from engine.ecg.evaluation import QrsScore, score_qrs  # noqa: E402
from engine.ecg.qrs import detect_beats  # noqa: E402

DS1 = "101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 230"
PACED = "102 104 107 217"


def _row(name: str, s: QrsScore, extra: str = "") -> str:
    return (
        f"{name:>8} {s.reference:>7} {s.tp:>7} {s.fn:>5} {s.fp:>5} "
        f"{100 * s.sensitivity:>7.2f} {100 * s.positive_predictivity:>7.2f}{extra}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", help="record names (default: all 26)")
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/ecg/mitdb"))
    args = parser.parse_args(argv)
    names = args.records or (DS1.split() + PACED.split())
    print(f"{'record':>8} {'beats':>7} {'TP':>7} {'FN':>5} {'FP':>5} {'Se %':>7} {'+P %':>7}  ms")
    scores: dict[str, QrsScore] = {}
    seconds = 0.0
    detect_time = 0.0
    for name in names:
        signal = read_signal(Path(args.data) / name)
        start = time.perf_counter()
        detected = detect_beats(signal).samples
        elapsed = time.perf_counter() - start
        detect_time += elapsed
        seconds += signal.duration_s
        scores[name] = score_qrs(signal.annotations, detected, signal.fs, signal.n_samples)
        print(_row(name, scores[name], f"  {1000 * elapsed:5.0f}"))
    print("-" * 60)
    groups = {"DS1": DS1.split(), "paced": PACED.split(), "all": names}
    for label, members in groups.items():
        chosen = [scores[m] for m in members if m in scores]
        if chosen:
            print(_row(label, QrsScore.total(chosen)))
    print(
        f"\ndetector: {detect_time:.2f} s for {seconds / 3600:.2f} h of ECG "
        f"({detect_time / max(seconds / 1800, 1e-9) * 1000:.0f} ms per 30-min record, "
        f"{seconds / max(detect_time, 1e-9):.0f}× real time)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

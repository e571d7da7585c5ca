"""Cost of the beat model's alignment and amplitude-drift steps.

Times, in one run and interleaved, ``prepare_beats`` on MIT-BIH record 109
(30 min, 2,532 beats) and on the same record tiled to 24 hours (a Holter's
length, ~121,000 beats):

* baseline: the shipped bundle's preprocessing without ``beat_align`` and
  ``amplitude_drift`` (resample, baseline removal, windows, template, RR);
* with both steps, as the shipped bundle declares them;
* for scale, the whole analysis of the 30-min record by the shipped model
  (``analyze_signal``, no explanation).

Prints medians, the ratio with/without, and the time the two steps add as a
share of the whole analysis. Target: at most 5 % of the whole analysis (what
the clinician waits for); preprocessing alone is a small part of it.

    .venv/bin/python benchmarks/beat_preprocess.py [--reps 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.api import analyze_signal  # noqa: E402
from engine.ecg import detect_qrs, lead_index, read_signal  # noqa: E402
from engine.models.beat_inputs import ArraySignal, SignalSpec, prepare_beats  # noqa: E402
from engine.resources import resource_path  # noqa: E402

MODEL = "ecg-beats-bilstm-360"


def _median_time(fn, reps: int) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "ecg" / "mitdb"))
    args = ap.parse_args()

    import json

    manifest = json.loads((resource_path("models", MODEL) / "manifest.json").read_text())
    shipped = SignalSpec.from_manifest(manifest)
    plain = dataclasses.replace(
        shipped, beat_align={"method": "none"}, amplitude_drift={"method": "none"}
    )
    sig = read_signal(Path(args.data) / "109")
    lead = lead_index(sig, "MLII")
    x = np.asarray(sig.data[lead], np.float32)
    beats = np.unique(detect_qrs(x, float(sig.fs)))
    tiles = int(24 * 3600 / (len(x) / sig.fs))
    long_x = np.tile(x, tiles)
    long_beats = np.concatenate([beats + k * len(x) for k in range(tiles)])
    cases = {
        "30 min": (ArraySignal(x, float(sig.fs), ("MLII",)), beats),
        "24 h": (ArraySignal(long_x, float(sig.fs), ("MLII",)), long_beats),
    }
    print(f"record 109, {len(beats)} beats; 24 h = {tiles} copies, {len(long_beats)} beats")
    added = {}
    for name, (signal, b) in cases.items():
        reps = args.reps if name == "30 min" else max(1, args.reps // 2)
        base, full = [], []
        for _ in range(reps):  # interleaved, so drift in machine load hits both
            base.append(_median_time(lambda s=signal, bb=b: prepare_beats(s, plain, bb), 1))
            full.append(_median_time(lambda s=signal, bb=b: prepare_beats(s, shipped, bb), 1))
        mb, mf = statistics.median(base), statistics.median(full)
        added[name] = mf - mb
        print(
            f"{name:>6}: preprocessing {mb:.2f} s without, {mf:.2f} s with alignment + drift "
            f"correction: ratio {mf / mb:.2f}"
        )
    whole = _median_time(
        lambda: analyze_signal(MODEL, sig, explain=False, device="cpu"), max(1, args.reps // 2)
    )
    print(
        f"whole analysis of the 30-min record (shipped model, CPU): {whole:.2f} s; the two "
        f"steps add {added['30 min']:.3f} s = {100 * added['30 min'] / whole:.1f} % of it"
    )


if __name__ == "__main__":
    main()

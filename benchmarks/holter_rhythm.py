"""The rhythm report of a 24-hour two-lead Holter: time and memory against reading the file.

Usage::

    .venv/bin/python benchmarks/holter_rhythm.py [--hours 24] [--data DIR] [--keep DIR]

Builds a 24-hour record (360 Hz, MLII + a second lead, WFDB format 16) by
concatenating MIT-BIH records that have an MLII lead, over and over, written
stretch by stretch into a temporary folder. Then, in this order:

1. **bare read**: every sample of the file read through the engine's stream,
   10 minutes at a time (the least any analysis must do);
2. **rhythm report**: ``ecg-rhythm-features-300`` with its beat model for
   ectopy, as ``stethos-engine predict`` runs it (the file read by stretches);
3. **whole read** in a child process: ``read_signal`` (wfdb reads it whole),
   for the memory it takes.

Prints the seconds of each, the report's time as a ratio of the bare read,
and the peak resident memory of the report and of the whole read. Target
(issue 25): the report in under 60 s on this machine, without holding the
recording in memory more than once.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.ecg import read_signal  # noqa: E402
from engine.ecg.stream import open_stream  # noqa: E402

GAIN = 200.0


def build_holter(folder: Path, hours: float, mitdb: Path) -> Path:
    """Write ``holter.hea``/``holter.dat`` (format 16, two leads) of ``hours`` from MIT-BIH."""
    parts = []
    for header in sorted(mitdb.glob("*.hea")):
        sig = read_signal(header)
        if sig.leads and sig.leads[0] == "MLII" and len(sig.leads) >= 2 and sig.fs == 360.0:
            parts.append(header)
    total = int(hours * 3600 * 360)
    written = 0
    with open(folder / "holter.dat", "wb") as out:
        while written < total:
            for header in parts:
                sig = read_signal(header)
                take = min(sig.data.shape[1], total - written)
                adu = np.clip(np.round(sig.data[:2, :take] * GAIN), -32768, 32767)
                adu.astype("<i2").T.tofile(out)  # interleaved, as format 16 stores them
                written += take
                if written >= total:
                    break
    (folder / "holter.hea").write_text(
        f"holter 2 360 {total}\n"
        f"holter.dat 16 {GAIN:g}(0)/mV 16 0 0 0 0 MLII\n"
        f"holter.dat 16 {GAIN:g}(0)/mV 16 0 0 0 0 V1\n",
        encoding="ascii",
    )
    return folder / "holter.hea"


def _in_child(code: str, header: Path) -> str:
    """What ``code`` prints when run in a fresh process (its own memory peak) on ``header``."""
    return subprocess.run([sys.executable, "-c", code, str(header), str(ROOT)],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/ecg/mitdb"))
    parser.add_argument("--keep", help="folder to write the record to (kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stethos-holter-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        header = build_holter(folder, args.hours, Path(args.data))
        size_mb = (folder / "holter.dat").stat().st_size / 1e6
        print(
            f"record: {args.hours:g} h, 2 leads at 360 Hz, {size_mb:.0f} MB "
            f"(built in {time.perf_counter() - t0:.0f} s)"
        )

        stream = open_stream(header)
        step = int(600 * stream.fs)
        t0 = time.perf_counter()
        for start in range(0, stream.n_samples, step):
            stream.read(start, start + step)
        bare = time.perf_counter() - t0
        print(f"bare read, 10-min stretches: {bare:7.1f} s")

        report_code = (
            "import json,resource,sys,time; sys.path.insert(0, sys.argv[2]);"
            "from engine.workflow import load_model;"
            "m = load_model('ecg-rhythm-features-300', device='cpu');"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
            "t = time.perf_counter(); p = m.predict(sys.argv[1]); s = time.perf_counter() - t;"
            "r = p.extra['rhythm'];"
            "print(json.dumps({'s': s, 'base': base,"
            " 'peak': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
            " 'beats': r['beats'], 'windows': len(r['windows']['starts_s']),"
            " 'burden': r['af_burden'], 'episodes': len(r['episodes']),"
            " 'V': r['ectopy']['V']['count'], 'S': r['ectopy']['S']['count']}))"
        )
        out = json.loads(_in_child(report_code, header).strip().splitlines()[-1])
        report = float(out["s"])
        print(f"rhythm report:               {report:7.1f} s  ({report / bare:.1f}× the bare read)")
        print(
            f"  {out['beats']:,} beats, {out['windows']:,} windows, "
            f"AF burden {100 * out['burden']:.1f} %, {out['episodes']} AF episodes, "
            f"ectopy V {out['V']:,} S {out['S']:,}"
        )
        print(
            f"  peak memory {out['peak']:.0f} MB; {out['peak'] - out['base']:.0f} MB above the "
            f"{out['base']:.0f} MB of the loaded models (the samples as float32: "
            f"{stream.n_samples * len(stream.leads) * 4 / 1e6:.0f} MB)"
        )
        code = (
            "import resource,sys,time; sys.path.insert(0, sys.argv[2]);"
            "import torch; base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024;"
            "from engine.ecg import read_signal; t=time.perf_counter(); read_signal(sys.argv[1]);"
            "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024,"
            " base)"
        )
        out2 = _in_child(code, header).split()
        print(
            f"whole read (read_signal):    {float(out2[0]):7.1f} s, peak memory "
            f"{float(out2[1]):.0f} MB ({float(out2[1]) - float(out2[2]):.0f} MB above torch loaded)"
        )
        target = "met" if report < 60 else "NOT met"
        print(f"target: report under 60 s — {target} ({report:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

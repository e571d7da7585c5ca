"""Endurance: open study → analyse with every bundled model → close, many times in one process.

Each cycle opens every bundled sample image (``engine.dicom.read_image``)
and both sample ECGs (the MIT-BIH record and the DICOM 12-lead, through
``engine.ecg.read_signal``), analyses them with every bundled model
through ``engine.api`` (the chest radiograph model with Grad-CAM on each
image, the beat model on each ECG, every heart-disease model on a record),
then drops every reference. After each cycle it samples the resident set
size, the number of OS threads and the number of open file descriptors
(from ``/proc/self``; ``psutil`` when installed).

Target: RSS growth ≤ 5 % between the warm-up cycle (10) and the last one,
and no thread or file descriptor left behind.

    nice .venv/bin/python benchmarks/soak.py [--cycles 200] [--warmup 10] [--csv soak.csv]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine import api  # noqa: E402
from engine.dicom import read_image  # noqa: E402
from engine.ecg import read_signal  # noqa: E402
from engine.errors import InputRejectedError  # noqa: E402
from engine.models.registry import ModelRegistry  # noqa: E402
from engine.resources import resource_path  # noqa: E402

RECORD = dict(
    age=63, sex=1, cp=1, trestbps=145, chol=233, fbs=1, restecg=2, thalach=150, exang=0,
    oldpeak=2.3, slope=3, ca=0, thal=6,
)  # fmt: skip


def rss_bytes() -> int:
    """Resident set size of this process."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def os_threads() -> int:
    """Threads of this process as the OS sees them (Python's and native pools)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def open_fds() -> int:
    """Open file descriptors of this process."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def samples() -> tuple[list[Path], list[Path]]:
    root = resource_path("samples")
    images = sorted(p for p in root.glob("*.dcm") if "ecg" not in p.name)
    signals = sorted(root.rglob("*.hea")) + sorted(p for p in root.glob("*.dcm") if "ecg" in p.name)
    return images, signals


def one_cycle(registry: ModelRegistry, images: list[Path], signals: list[Path]) -> int:
    """Open, analyse and drop everything once; returns the number of analyses."""
    by_type: dict[str, list[str]] = {}
    for entry in registry.entries():
        kind = registry.open(entry.id, verify=False).input_type
        by_type.setdefault(kind, []).append(entry.id)
    done = 0
    opened_images = [read_image(p) for p in images]
    opened_signals = [read_signal(p) for p in signals]
    for model_id in by_type.get("image", []):
        for image in opened_images:
            try:
                api.analyze_image(model_id, image, registry=registry, explain=True)
            except InputRejectedError:
                pass  # a gate refusing an input (lateral view, …) is an answer too
            done += 1
    for model_id in by_type.get("signal", []):
        for signal in opened_signals:
            api.analyze_signal(model_id, signal, registry=registry, explain=False)
            done += 1
    for model_id in by_type.get("record", []):
        api.analyze_record(model_id, RECORD, registry=registry)
        done += 1
    del opened_images, opened_signals
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--csv", type=Path, help="write cycle, seconds, rss, threads, fds")
    parser.add_argument("--no-gc", action="store_true", help="do not collect garbage per cycle")
    args = parser.parse_args(argv)

    registry = ModelRegistry([(resource_path("models"), "bundled")])
    images, signals = samples()
    start_threads, start_fds, start_rss = os_threads(), open_fds(), rss_bytes()
    rows: list[tuple[int, float, int, int, int]] = []
    analyses = 0
    t0 = time.perf_counter()
    for cycle in range(1, args.cycles + 1):
        t = time.perf_counter()
        analyses += one_cycle(registry, images, signals)
        if not args.no_gc:
            gc.collect()
        rows.append((cycle, time.perf_counter() - t, rss_bytes(), os_threads(), open_fds()))
        if cycle == 1 or cycle % 10 == 0:
            c, s, r, th, fd = rows[-1]
            print(
                f"cycle {c:4d}  {s:5.2f} s  RSS {r / 2**20:7.1f} MiB  threads {th}  fds {fd}",
                flush=True,
            )
    total = time.perf_counter() - t0
    if args.csv:
        args.csv.write_text(
            "cycle,seconds,rss_bytes,threads,fds\n"
            + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
        )

    def rss_at(cycle: int) -> float:
        return rows[min(cycle, len(rows)) - 1][2] / 2**20

    warm = min(args.warmup, len(rows))
    print()
    print(
        f"{len(rows)} cycles, {analyses} analyses, {len(images)} images + {len(signals)} ECGs "
        f"per cycle, {total:.0f} s ({total / len(rows):.2f} s per cycle)"
    )
    print(f"RSS before the first cycle: {start_rss / 2**20:.1f} MiB")
    marks = sorted({warm, *(c for c in (50, 100, 150, 200) if c <= len(rows)), len(rows)})
    print("RSS after cycle " + ", ".join(f"{c}: {rss_at(c):.1f} MiB" for c in marks))
    peak = max(r[2] for r in rows[warm - 1 :]) / 2**20
    growth = 100.0 * (rss_at(len(rows)) - rss_at(warm)) / rss_at(warm)
    print(
        f"growth after warm-up (cycle {warm} → {len(rows)}): {growth:+.2f} % "
        f"(peak {peak:.1f} MiB; target ≤ 5 %)"
    )
    print(
        f"OS threads: start {start_threads}, after warm-up {rows[warm - 1][3]}, end {rows[-1][3]}; "
        f"open fds: start {start_fds}, after warm-up {rows[warm - 1][4]}, end {rows[-1][4]}"
    )
    leaked = rows[-1][3] > rows[warm - 1][3] or rows[-1][4] > rows[warm - 1][4]
    print("verdict:", "PASS" if growth <= 5.0 and not leaked else "FAIL")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

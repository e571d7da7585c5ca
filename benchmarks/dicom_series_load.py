"""Series loading: Stethos vs single-threaded pydicom, same run, same files.

Writes a synthetic 300-slice 512×512 16-bit CT series (uncompressed, and a
JPEG 2000 lossless copy made with pylibjpeg-openjpeg through pydicom's
``Dataset.compress``) into a temporary folder, then measures, each in a
fresh child process so that peak memory is honest:

- baseline: ``[pydicom.dcmread(f).pixel_array for f in files]``;
- Stethos: ``scan_paths`` (headers only), then ``load_series`` — time to the
  first displayable slice (``on_first_slice``), to the whole series, and
  peak memory.

Peak memory is the child's peak RSS (``VmHWM``) minus its RSS after imports;
worker processes (used for compressed series) are reported separately.
Targets: first slice ≤ 0.15 s, whole series ≥ 1.5× faster than the
baseline, main-process memory ≤ 1.2× the 16-bit pixel bytes.

    .venv/bin/python benchmarks/dicom_series_load.py [--slices 300] [--size 512]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _measure_baseline(folder: Path) -> dict:
    import pydicom

    files = sorted(folder.glob("*.dcm"))
    before = _rss_kib("VmRSS")
    start = time.perf_counter()
    arrays = [pydicom.dcmread(f).pixel_array for f in files]
    total = time.perf_counter() - start
    return {
        "total_s": total,
        "first_s": None,
        "n": len(arrays),
        "peak_extra_kib": _rss_kib("VmHWM") - before,
    }


def _measure_stethos(folder: Path, warm: bool = False) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    from engine.dicom import load_series, scan_paths, start_workers

    if warm:
        start_workers()  # as a viewer does at launch: worker start-up not counted
    before = _rss_kib("VmRSS")
    start = time.perf_counter()
    series = scan_paths(folder).series[0]
    scanned = time.perf_counter()
    first: list[float] = []
    volume = load_series(series, on_first_slice=lambda s: first.append(time.perf_counter()))
    done = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, largest child
    return {
        "scan_s": scanned - start,
        "first_s": first[0] - scanned,
        "total_s": done - scanned,
        "n": int(volume.voxels.shape[0]),
        "dtype": str(volume.voxels.dtype),
        "peak_extra_kib": _rss_kib("VmHWM") - before,
        "worker_peak_kib": children,
    }


def _busy(n: int) -> int:
    return sum(i * i for i in range(n))


def _parallel_capacity(n: int = 4_000_000) -> float:
    """How many cores two processes really get right now (2.0 on an idle 2-core machine)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_busy, [1000, 1000]))  # start both workers
        start = time.perf_counter()
        _busy(n)
        _busy(n)
        serial = time.perf_counter() - start
        start = time.perf_counter()
        list(pool.map(_busy, [n, n]))
        parallel = time.perf_counter() - start
    return serial / parallel


def _child(kind: str, folder: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", __file__, "--measure", kind, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _write(folder: Path, n: int, size: int, syntax: str | None) -> float:
    from engine.dicom.synthetic import write_ct_series

    start = time.perf_counter()
    write_ct_series(folder, n, rows=size, cols=size, transfer_syntax=syntax, seed=1)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, folder = args.measure
        if kind == "baseline":
            result = _measure_baseline(Path(folder))
        else:
            result = _measure_stethos(Path(folder), warm=kind == "warm")
        print(json.dumps(result))
        return 0

    from pydicom.uid import JPEG2000Lossless

    pixel_mib = args.slices * args.size * args.size * 2 / 1024**2
    print(
        f"{args.slices} slices of {args.size}×{args.size} 16-bit CT = {pixel_mib:.0f} MiB of "
        f"pixels; {os.cpu_count()} CPU cores"
    )
    with tempfile.TemporaryDirectory(prefix="stethos-bench-") as tmp:
        rows = []
        for label, syntax in (("uncompressed", None), ("JPEG 2000 lossless", JPEG2000Lossless)):
            folder = Path(tmp) / label.split()[0]
            seconds = _write(folder, args.slices, args.size, syntax)
            size_mib = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
            print(f"\n{label}: wrote {size_mib:.0f} MiB in {seconds:.1f} s")
            capacity = _parallel_capacity()
            print(
                f"  parallel capacity now      : {capacity:.2f}× (2 processes vs 1; 2.0 when "
                "both cores are free)"
            )
            base = _child("baseline", folder)
            ours = _child("stethos", folder)
            warm = _child("warm", folder) if syntax else None
            speedup = base["total_s"] / ours["total_s"]
            mem_ratio = ours["peak_extra_kib"] / 1024 / pixel_mib
            print(
                f"  baseline pydicom, 1 thread : whole series {base['total_s']:.2f} s, "
                f"peak +{base['peak_extra_kib'] / 1024:.0f} MiB"
            )
            print(f"  Stethos scan (headers only): {ours['scan_s']:.2f} s")
            print(
                f"  Stethos first slice        : {ours['first_s']:.3f} s after the scan "
                f"(target ≤ 0.15 s)"
            )
            print(
                f"  Stethos whole series       : {ours['total_s']:.2f} s → {speedup:.2f}× the "
                f"baseline (target ≥ 1.5×); with the scan {base['total_s'] / (ours['total_s'] + ours['scan_s']):.2f}×"
            )
            print(
                f"  Stethos peak memory        : +{ours['peak_extra_kib'] / 1024:.0f} MiB = "
                f"{mem_ratio:.2f}× the pixel bytes (target ≤ 1.2×), volume {ours['dtype']}"
            )
            if warm is not None:
                print(
                    f"  Stethos, workers started   : first slice {warm['first_s']:.3f} s, whole "
                    f"series {warm['total_s']:.2f} s → {base['total_s'] / warm['total_s']:.2f}×"
                )
            if ours["worker_peak_kib"]:
                print(
                    f"  largest worker process     : {ours['worker_peak_kib'] / 1024:.0f} MiB peak RSS"
                )
            rows.append((label, base, ours, speedup, mem_ratio))
        print("\nsummary: syntax, first slice s, speedup ×, memory ×")
        for label, _, ours, speedup, mem_ratio in rows:
            print(f"  {label:<20} {ours['first_s']:.3f}  {speedup:.2f}  {mem_ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Start-up of the frozen app next to the source run, measured in the same run.

    .venv/bin/python benchmarks/package_startup.py [--frozen dist/stethos/stethos] [-n 5]

Each measurement is a whole process, ``stethos --quit-after-show``: it starts,
shows the main window, enters the event loop and exits (offscreen platform,
an empty HOME so both start with no settings). "Cold" drops the kernel's page
cache first (needs root; otherwise reported as not measured), which is what a
clinician sees on the first start after booting. "Warm" is the median of N
interleaved runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _time(cmd: list[str], home: str) -> float:
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "QT_QPA_PLATFORM": "offscreen"}  # fmt: skip
    start = time.perf_counter()
    subprocess.run([*cmd, "--quit-after-show"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", type=Path, default=REPO / "dist" / "stethos" / "stethos")
    parser.add_argument("--source", type=Path, default=REPO / ".venv" / "bin" / "stethos")
    parser.add_argument("-n", type=int, default=5)
    args = parser.parse_args()
    frozen, source = [str(args.frozen)], [str(args.source)]
    with tempfile.TemporaryDirectory() as home:
        cold = {}
        for name, cmd in (("frozen", frozen), ("source", source)):
            if _drop_caches():
                cold[name] = _time(cmd, home)
        _time(frozen, home), _time(source, home)  # warm both
        warm: dict[str, list[float]] = {"frozen": [], "source": []}
        for _ in range(args.n):  # interleaved, so machine noise hits both alike
            warm["frozen"].append(_time(frozen, home))
            warm["source"].append(_time(source, home))
    print(f"start to main window and exit (--quit-after-show), {args.n} warm runs each")
    if cold:
        print(f"cold  frozen {cold['frozen'] * 1000:6.0f} ms   source {cold['source'] * 1000:6.0f} ms"
              f"   ratio frozen/source {cold['frozen'] / cold['source']:.2f}")  # fmt: skip
    else:
        print("cold  not measured (dropping the page cache needs root)")
    f, s = statistics.median(warm["frozen"]), statistics.median(warm["source"])
    print(
        f"warm  frozen {f * 1000:6.0f} ms   source {s * 1000:6.0f} ms   ratio frozen/source {f / s:.2f}"
    )


if __name__ == "__main__":
    main()

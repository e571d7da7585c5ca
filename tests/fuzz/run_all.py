"""Fuzz every target in turn (one core) and print the table of what ran.

Run: ``.venv/bin/python tests/fuzz/run_all.py [SECONDS_PER_TARGET] [TARGET ...]``

Each target runs ``fuzz_<target>.py -max_total_time=SECONDS`` on its corpus in
``$STETHOS_FUZZ_OUT/corpus/<target>`` (default ``/tmp/fuzz``; built from the
seeds by ``make_seeds.py`` when missing), logs to ``<out>/<target>.log`` and
saves findings under ``<out>/findings/<target>/``. The table lists inputs
executed, inputs a second and distinct findings (by signature).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TARGETS = ("dicom", "scan", "dicomdir", "wfdb", "records", "bundle")


def run_target(target: str, seconds: int, out: Path) -> tuple[int, float, int]:
    """Fuzz one target; returns (inputs, inputs a second, distinct findings)."""
    corpus = out / "corpus" / target
    if not corpus.is_dir():
        subprocess.run(
            [sys.executable, str(HERE / "make_seeds.py"), str(out / "corpus")], check=True
        )
    log = out / f"{target}.log"
    with log.open("w") as fh:
        subprocess.run(
            [
                sys.executable,
                str(HERE / f"fuzz_{target}.py"),
                f"-max_total_time={seconds}",
                "-print_final_stats=1",
                str(corpus),
            ],
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, "STETHOS_FUZZ_OUT": str(out)},
            check=False,
        )
    return parse_log(log.read_text(errors="replace"))


def parse_log(text: str) -> tuple[int, float, int]:
    """Inputs, inputs a second and distinct findings from a target's log."""
    units = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    rate = re.search(r"stat::average_exec_per_sec:\s*(\d+)", text)
    findings = set(re.findall(r"^FINDING \S+ (\S+)", text, flags=re.M))
    return (
        int(units.group(1)) if units else 0,
        float(rate.group(1)) if rate else 0.0,
        len(findings),
    )


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    targets = sys.argv[2:] or list(TARGETS)
    out = Path(os.environ.get("STETHOS_FUZZ_OUT", "/tmp/fuzz"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for target in targets:
        inputs, rate, findings = run_target(target, seconds, out)
        rows.append((target, inputs, rate, findings))
        print(f"{target}: {inputs} inputs, {rate:.0f}/s, {findings} distinct findings", flush=True)
    print("\n| target | inputs | exec/s | distinct findings |\n|---|---:|---:|---:|")
    for target, inputs, rate, findings in rows:
        print(f"| {target} | {inputs:,} | {rate:.0f} | {findings} |")
    print(f"| total | {sum(r[1] for r in rows):,} | | {sum(r[3] for r in rows)} |")


if __name__ == "__main__":
    main()

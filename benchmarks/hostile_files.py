"""The hostile-file table: each hostile file → what Stethos does with it.

Builds every case of ``tests/engine/test_hostile_files.py`` (decompression
bombs, absurd sizes, deep nesting, huge element lengths, DICOMDIR and link
loops, odd paths, hostile model archives) in a temporary folder, opens each
in a forked child with a time and memory limit, and prints file → outcome
(message), seconds and the verdict. Exit status 1 when any case fails.

    .venv/bin/python benchmarks/hostile_files.py [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.engine.test_hostile_files import hostile_table  # noqa: E402


def _clean(text: str, width: int) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\n", " ").replace("|", "/")
    return text if len(text) <= width else text[: width - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stethos-hostile-") as tmp:
        rows = hostile_table(Path(tmp))
    failed = [r for r in rows if r[1].startswith("FAIL")]
    if args.markdown:
        print("| file | outcome | message | s |")
        print("|---|---|---|---|")
        for name, outcome, message, seconds in rows:
            print(f"| {name} | {_clean(outcome, 60)} | {_clean(message, 160)} | {seconds:.2f} |")
    else:
        width = max(len(r[0]) for r in rows)
        for name, outcome, message, seconds in rows:
            print(f"{name:<{width}}  {outcome:<8}  {seconds:5.2f} s  {_clean(message, 150)}")
    print(f"\n{len(rows)} hostile files, {len(rows) - len(failed)} handled, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

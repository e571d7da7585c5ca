"""Fuzz target "received" (see tests/fuzz/README.md).

Run: ``.venv/bin/python tests/fuzz/fuzz_received.py -atheris_runs=200000 /tmp/fuzz/corpus/received``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.driver import run

if __name__ == "__main__":
    run("received")

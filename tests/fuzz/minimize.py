"""Shrink a finding while it still fails the same way (no atheris needed).

Run: ``.venv/bin/python tests/fuzz/minimize.py TARGET INPUT OUTPUT [SECONDS]``

Removes ever smaller chunks of the input as long as the check still raises
an exception with the same signature (type and innermost engine frame).
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fuzz.harness import quiet, signature, time_bound
from tests.fuzz.targets import TARGETS, warm_up


def failure(target: str, data: bytes) -> str | None:
    """The input's finding signature, or ``None`` when it passes the property."""
    try:
        with quiet(), time_bound():
            TARGETS[target](data)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        return signature(exc)
    return None


def minimize(target: str, data: bytes, seconds: float = 120.0) -> bytes:
    """The smallest input found that fails like ``data``."""
    wanted = failure(target, data)
    if wanted is None:
        raise SystemExit("the input does not fail: nothing to minimise")
    deadline = time.monotonic() + seconds
    chunk = max(len(data) // 2, 1)
    while chunk >= 1 and time.monotonic() < deadline:
        start, shrunk = 0, False
        while start < len(data) and time.monotonic() < deadline:
            candidate = data[:start] + data[start + chunk :]
            if candidate and failure(target, candidate) == wanted:
                data, shrunk = candidate, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    return data


def main() -> None:
    target, source, dest = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    warm_up(target)
    data = source.read_bytes()
    small = minimize(target, data, seconds)
    dest.write_bytes(small)
    print(f"{source.name}: {len(data)} -> {len(small)} bytes ({failure(target, small)})")


if __name__ == "__main__":
    main()

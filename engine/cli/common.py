"""What every ``stethos-engine`` command module shares: exit codes and progress on stderr."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_CANCELLED = 130


def stderr_progress(fraction: float, text: str = "") -> None:
    """A progress sink that redraws one line on stderr."""
    sys.stderr.write(f"\r[{fraction:6.1%}] {text[:70]:<70}")
    sys.stderr.flush()
    if fraction >= 1.0:
        sys.stderr.write("\n")


def quiet(fraction: float, text: str = "") -> None:
    """A progress sink for machine output."""

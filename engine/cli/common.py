"""What every ``stethos-engine`` command module shares: exit codes and progress on stderr."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3
EXIT_CANCELLED = 130


_progress_line_open = False


def stderr_progress(fraction: float, text: str = "") -> None:
    """A progress sink that redraws one line on stderr."""
    global _progress_line_open
    sys.stderr.write(f"\r[{fraction:6.1%}] {text[:70]:<70}")
    sys.stderr.flush()
    _progress_line_open = fraction < 1.0
    if not _progress_line_open:
        sys.stderr.write("\n")


def end_progress_line() -> None:
    """End a progress line left open (the job stopped before 100 %): what follows starts afresh."""
    global _progress_line_open
    if _progress_line_open:
        sys.stderr.write("\n")
        _progress_line_open = False


def quiet(fraction: float, text: str = "") -> None:
    """A progress sink for machine output."""

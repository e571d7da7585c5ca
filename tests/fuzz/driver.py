"""Start atheris on one target of :mod:`tests.fuzz.targets` (imports atheris)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.fuzz.harness import main, quiet, time_bound
from tests.fuzz.targets import TARGETS, warm_up


def run(target: str) -> None:
    """Fuzz ``target`` with the command-line arguments libFuzzer takes."""
    check = TARGETS[target]

    def setup() -> None:
        warm_up(target)
        # Run the seeds once before instrumenting: lazily imported modules
        # (decoders, wfdb internals) are loaded, so atheris instruments them too.
        for arg in sys.argv[1:]:
            folder = Path(arg)
            if arg.startswith("-") or not folder.is_dir():
                continue
            for seed in sorted(folder.iterdir())[:200]:
                try:
                    with quiet(), time_bound():
                        check(seed.read_bytes())
                except BaseException:  # findings among the seeds are reported while fuzzing
                    pass

    main(target, check, setup)

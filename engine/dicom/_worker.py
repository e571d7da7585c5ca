"""The start of a decoding worker process (the pool of :mod:`engine.dicom.volume`).

Kept apart from the modules that import pydicom: the pool names :func:`init`
as its initializer, so a spawned worker runs it before pydicom is imported;
on Linux, the fork server runs it first too (:mod:`engine.dicom._preload`).
"""

from __future__ import annotations

import sys
import warnings


def init() -> None:
    """Quiet warnings, keep the network libraries out, and fix the decoding plugins."""
    warnings.simplefilter("ignore")
    # A worker only decodes files. pydicom imports requests (if installed) to offer
    # downloads of its test data: ~50 ms of every worker's start, for nothing.
    sys.modules.setdefault("requests", None)  # type: ignore[arg-type]
    from engine.dicom.decoders import configure_decoders

    configure_decoders()

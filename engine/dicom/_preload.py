"""Imported once by the decoding fork server (Linux): what every worker needs.

:func:`engine.dicom.volume.worker_context` names this module as the fork
server's preload. The server is a fresh interpreter (not a fork of the
application), so importing here is safe; each worker forked from it then
starts with the decoders loaded. Importing this module has that effect on
purpose: a preload is a list of module names, not functions.
"""

from __future__ import annotations

from engine.dicom import _worker

_worker.init()  # before pydicom is imported (keeps the network libraries out)

import engine.dicom.stream  # noqa: E402,F401  (pydicom, numpy and the decoding plugins)

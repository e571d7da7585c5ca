"""Which decoding plugins pydicom may use, in which order; GDCM never in-process.

:func:`configure_decoders` registers the ``stethos-*`` plugins
(:mod:`engine.dicom._plugins`) with pydicom and removes GDCM. It runs when
:mod:`engine.dicom.files` is imported — the way Stethos loads pydicom — so
before anything can call pydicom's ``pixel_array`` with its own choice.
"""

from __future__ import annotations

import importlib.util
import logging
import threading

from pydicom import uid as uids
from pydicom.pixels import get_decoder

from engine.dicom import _plugins

#: Decoding plugins per transfer syntax, in the order they are tried. Labels
#: starting with ``stethos-`` are :mod:`engine.dicom._plugins`; ``pillow`` and
#: ``pydicom`` are pydicom's own. ``gdcm`` is deliberately absent.
PLUGIN_ORDER: dict[str, tuple[str, ...]] = {
    uids.JPEGBaseline8Bit: ("stethos-libjpeg", "pillow"),
    uids.JPEGExtended12Bit: ("stethos-libjpeg", "pillow"),
    uids.JPEGLossless: ("stethos-libjpeg",),
    uids.JPEGLosslessSV1: ("stethos-libjpeg",),
    uids.JPEGLSLossless: ("stethos-jpegls", "stethos-libjpeg"),
    uids.JPEGLSNearLossless: ("stethos-jpegls", "stethos-libjpeg"),
    uids.JPEG2000Lossless: ("stethos-openjpeg", "pillow"),
    uids.JPEG2000: ("stethos-openjpeg", "pillow"),
    uids.HTJ2KLossless: ("stethos-openjpeg",),
    uids.HTJ2KLosslessRPCL: ("stethos-openjpeg",),
    uids.HTJ2K: ("stethos-openjpeg",),
    uids.RLELossless: ("stethos-rle", "pydicom"),
}

_PLUGIN_FUNCTIONS = {
    "stethos-libjpeg": "decode_libjpeg",
    "stethos-openjpeg": "decode_openjpeg",
    "stethos-rle": "decode_rle",
    "stethos-jpegls": "decode_jpegls",
}

#: Plugins never allowed to run in this process.
FORBIDDEN_PLUGINS = ("gdcm",)

_lock = threading.Lock()
_configured = False


class _PluginAttemptsToDebug(logging.Filter):
    """pydicom logs, at ERROR with a traceback, every plugin that fails on a frame, even when
    the next plugin decodes it (12-bit JPEG: libjpeg refuses, another succeeds). A frame no
    plugin decodes raises an error Stethos reports itself; these attempts are kept at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(_PLUGIN_LOGGER).isEnabledFor(logging.DEBUG)


_PLUGIN_LOGGER = "pydicom.pixels.decoders.base"


def configure_decoders() -> None:
    """Register the ``stethos-*`` plugins with pydicom and remove GDCM (idempotent)."""
    global _configured
    if _configured:
        return
    with _lock:
        if _configured:
            return
        logging.getLogger(_PLUGIN_LOGGER).addFilter(_PluginAttemptsToDebug())
        for ts, order in PLUGIN_ORDER.items():
            decoder = get_decoder(ts)
            for label in FORBIDDEN_PLUGINS:
                if label in decoder.available_plugins or label in decoder._unavailable:
                    decoder.remove_plugin(label)
            for label in order:
                if not label.startswith("stethos-") or label in decoder.available_plugins:
                    continue
                library, syntaxes = _plugins.LIBRARIES[label]
                if ts in syntaxes and importlib.util.find_spec(library) is not None:
                    decoder.add_plugin(label, ("engine.dicom._plugins", _PLUGIN_FUNCTIONS[label]))
        _configured = True

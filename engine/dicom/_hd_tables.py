"""Load highdicom's standard tables without stalling the other threads.

highdicom parses a 22 MB JSON table of the standard's modules
(``module_attribute_map.json``) the first time it checks an attribute, in
one ``json.loads`` that holds the interpreter lock for ~0.2 s: on a job
thread, the desktop's UI thread stops for that long. :func:`warm_tables`
fills highdicom's (cached) table the same way, but decodes it one module at
a time, letting other threads run in between; the result is the same dict.
If highdicom's internals are not as expected, it does nothing and highdicom
loads the table itself later.

The installers ship the table gzip-compressed (``module_attribute_map.json.gz``,
0.6 MB instead of 22 MB; packaging/stethos.spec): where the JSON file is
absent, :func:`warm_tables` reads the compressed copy, which holds the same
table (written without indentation: ``json.loads`` gives the same object). Stethos calls it before every use of highdicom (DICOM export, reading
a segmentation), so highdicom never looks for the JSON file itself.
"""

from __future__ import annotations

import gzip
import json
import pkgutil
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

_SEP = "\x00"
_lock = threading.Lock()
_done = [False]


class _Items(Sequence):
    """One module's attribute list, kept column-wise; items are made when iterated.

    highdicom only iterates a module's list and reads each item's
    ``keyword``, ``type`` and ``path``. As 200,000 small dicts the table would
    make the next garbage collections walk them (the desktop collects on its
    UI thread: ~80 ms). Here each column is one list of strings (a path is its
    elements joined by NUL), so a module is a handful of tracked objects.
    """

    __slots__ = ("_columns", "_joined", "_n")

    def __init__(self, items: list[dict[str, Any]]) -> None:
        keys = list(dict.fromkeys(k for item in items for k in item))
        self._joined = tuple(k for k in keys if any(isinstance(i.get(k), list) for i in items))
        self._columns = {
            k: [_SEP.join(i.get(k) or ()) if k in self._joined else i.get(k) for i in items]
            for k in keys
        }
        self._n = len(items)

    def _item(self, index: int) -> dict[str, Any]:
        out = {}
        for key, column in self._columns.items():
            value = column[index]
            out[key] = (value.split(_SEP) if value else []) if key in self._joined else value
        return out

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._item(i) for i in range(self._n)[index]]
        return self._item(range(self._n)[index])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._item(i) for i in range(self._n))


class _ChunkedJson:
    """Stands in for the ``json`` module inside highdicom's loader for one call."""

    @staticmethod
    def loads(text: str) -> Any:
        decoder = json.JSONDecoder()
        out: dict[str, Any] = {}
        i = text.index("{") + 1
        n = len(text)
        while True:
            while i < n and text[i] in " \t\r\n,":
                i += 1
            if i >= n or text[i] == "}":
                return out
            key, i = decoder.raw_decode(text, i)
            while text[i] in " \t\r\n:":
                i += 1
            items, i = decoder.raw_decode(text, i)
            out[key] = _Items(items)
            time.sleep(0)  # let the other threads (the UI) have the interpreter


class _PackageData:
    """Stands in for ``pkgutil`` inside highdicom's loader for one call.

    Reads the resource, or, where an installer left only its gzip-compressed
    copy (``<name>.gz``), that copy decompressed.
    """

    @staticmethod
    def get_data(package: str, resource: str) -> bytes | None:
        return read_package_data(package, resource)


def read_package_data(package: str, resource: str) -> bytes | None:
    """``pkgutil.get_data(package, resource)``, or its ``.gz`` copy decompressed if it is absent."""
    try:
        return pkgutil.get_data(package, resource)
    except FileNotFoundError:
        packed = pkgutil.get_data(package, resource + ".gz")
        return None if packed is None else gzip.decompress(packed)


def warm_tables() -> None:
    """Fill highdicom's module table cache, a module at a time (idempotent, thread-safe)."""
    with _lock:
        if _done[0]:
            return
        _done[0] = True
        try:
            from highdicom import _standard_utils as su

            loader = su.get_module_attribute_map
            if loader.cache_info().currsize:  # type: ignore[attr-defined]
                return
            original = su.json, su.pkgutil
            su.json = _ChunkedJson  # type: ignore[assignment]
            su.pkgutil = _PackageData  # type: ignore[assignment]
            try:
                loader()
            finally:
                su.json, su.pkgutil = original
        except (AttributeError, ImportError, ValueError, FileNotFoundError):
            return  # highdicom loads its table itself when it needs it

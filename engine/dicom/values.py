"""Header values as plain Python: text, numbers, the first item of a sequence.

They work on any object with ``get`` (a pydicom data set, a
:class:`~engine.dicom.fastheader.RawHeader`) and import no pydicom, so the
pixel pipeline and geometry can be used without loading it.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from typing import Any


def text(ds: Any, keyword: str) -> str:
    """A header value as stripped text ('' when absent)."""
    if ds is None:
        return ""
    try:
        value = ds.get(keyword, "")
    except Exception:  # a malformed element must not stop the reading of others
        return ""
    if value is None:
        return ""
    if is_multi(value):
        return "\\".join(str(v).strip() for v in value)
    return str(value).strip()


def is_multi(value: Any) -> bool:
    """Whether a header value holds several values."""
    if isinstance(value, str | int | float):  # the usual single values, without the ABC check
        return False
    # pydicom's MultiValue (and Sequence) are mutable sequences
    return isinstance(value, list | tuple | MutableSequence)


def floats(value: Any) -> list[float]:
    """A header value as a list of floats ([] when absent or malformed)."""
    if value is None or value == "":
        return []
    try:
        return [float(v) for v in value] if is_multi(value) else [float(value)]
    except (TypeError, ValueError):
        return []


def number(ds: Any, keyword: str, default: float | None = None) -> float | None:
    """The first value of a numeric header element, or ``default``."""
    if ds is None:
        return default
    try:
        values = floats(ds.get(keyword))
    except Exception:
        return default
    return values[0] if values else default


def integer(ds: Any, keyword: str, default: int = 0) -> int:
    """An integer header value, or ``default`` when absent or malformed."""
    value = number(ds, keyword)
    return default if value is None else int(value)


def first_item(ds: Any, keyword: str) -> Any:
    """The first item of a sequence element, or ``None``."""
    if ds is None:
        return None
    try:
        seq = ds.get(keyword)
    except Exception:
        return None
    return seq[0] if seq else None

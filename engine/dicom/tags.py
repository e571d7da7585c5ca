"""A DICOM file's data elements as a plain tree, for a tag browser.

The desktop shows this tree without importing pydicom. Pixel data is never
read: the file is read up to it and the element is summarised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from engine.dicom.files import read_header

__all__ = ["TagNode", "dataset_tree"]

#: Longest value text kept per element (the rest is elided).
MAX_VALUE_CHARS = 256
#: Most values of a multi-valued element shown before eliding.
MAX_VALUES = 32
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
#: Sequences nested deeper than this are summarised, not expanded (hostile files nest thousands).
MAX_DEPTH = 64


@dataclass(frozen=True)
class TagNode:
    """One data element (or one sequence item) of a data set.

    Attributes
    ----------
    tag
        ``"(0010,0010)"``, or ``"Item 1"`` for a sequence item.
    keyword
        ``"PatientName"``; the private creator or ``"Private tag"`` for private
        elements; empty for items.
    name
        The standard's name (``"Patient's Name"``).
    vr
        Value representation (``"PN"``, ``"SQ"``…).
    value
        The value as text (binary values summarised, long values elided).
    children
        Items of a sequence, elements of an item.
    """

    tag: str
    keyword: str
    name: str
    vr: str
    value: str
    children: tuple[TagNode, ...] = field(default=())


def _value_text(elem: DataElement, max_chars: int) -> str:
    vr = str(elem.VR)
    value = elem.value
    if value is None or value == "":
        return ""
    if vr in _BINARY_VRS or isinstance(value, bytes | bytearray):
        try:
            n = len(value)
        except TypeError:
            n = 0
        return f"<binary data, {n} bytes>"
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        items = [str(v) for v in list(value)[:MAX_VALUES]]
        text = "\\".join(items)
        if len(value) > MAX_VALUES:
            text += f"\\… ({len(value)} values)"
    else:
        text = str(value)
    text = text.replace("\r", " ").replace("\n", " ").replace("\x00", "")
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text


def _tag_text(elem: DataElement) -> str:
    return f"({elem.tag.group:04X},{elem.tag.element:04X})"


def _nodes(ds: Dataset, max_chars: int, depth: int = 0) -> tuple[TagNode, ...]:
    out = []
    for elem in ds:
        try:
            keyword = elem.keyword or ("Private tag" if elem.tag.is_private else "")
            if elem.tag.is_private and getattr(elem, "private_creator", None):
                keyword = f"Private ({elem.private_creator})"
            name = elem.name
        except Exception:  # a private or malformed element without a dictionary entry
            keyword, name = "", ""
        vr = str(elem.VR)
        if vr == "SQ" and depth >= MAX_DEPTH:
            n = len(elem.value or ())
            value = f"{n} item(s), nested more than {MAX_DEPTH} levels deep; not shown"
            out.append(TagNode(_tag_text(elem), keyword, name, vr, value))
            continue
        if vr == "SQ":
            items = tuple(
                TagNode(
                    tag=f"Item {i}",
                    keyword="",
                    name="",
                    vr="",
                    value=f"{len(item)} elements",
                    children=_nodes(item, max_chars, depth + 1),
                )
                for i, item in enumerate(elem.value or (), start=1)
            )
            n = len(items)
            value = f"{n} item" if n == 1 else f"{n} items"
            out.append(TagNode(_tag_text(elem), keyword, name, vr, value, items))
            continue
        try:
            value = _value_text(elem, max_chars)
        except Exception as exc:  # a value pydicom cannot convert is shown, not fatal
            value = f"<unreadable value: {type(exc).__name__}>"
        out.append(TagNode(_tag_text(elem), keyword, name, vr, value))
    return tuple(out)


def dataset_tree(
    path: str | os.PathLike[str], *, max_value_chars: int = MAX_VALUE_CHARS
) -> tuple[TagNode, ...]:
    """Every data element of a DICOM file, sequences nested, pixel data summarised.

    Parameters
    ----------
    path
        A DICOM file.
    max_value_chars
        Longer value texts are cut with an ellipsis.

    Returns
    -------
    tuple of TagNode
        The file meta information elements (group 0002) first, then the data
        set in tag order; a last node stands for the pixel data when present.

    Raises
    ------
    NotDicomError, CorruptDicomError
        With a user message naming the file and the reason.
    """
    p = Path(path)
    header = read_header(p)
    ds = header.ds
    nodes: list[TagNode] = []
    meta = getattr(ds, "file_meta", None)
    if meta is not None and len(meta):
        nodes.extend(_nodes(meta, max_value_chars))
    nodes.extend(_nodes(ds, max_value_chars))
    if header.has_pixel_data:
        size = max(p.stat().st_size - (header.pixel_offset or 0), 0)
        summary = (
            f"<pixel data, about {size} bytes, not shown>"
            if header.pixel_offset is not None
            else "<pixel data, not shown>"
        )
        nodes.append(TagNode("(7FE0,0010)", "PixelData", "Pixel Data", "OB/OW", summary))
    return tuple(nodes)

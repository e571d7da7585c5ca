"""Which library decodes which compressed pixel data, fixed and explicit.

pydicom picks a decoding plugin from whatever is installed, trying GDCM
first. Stethos fixes the choice instead: :data:`PLUGIN_ORDER` lists, per
transfer syntax, the plugins tried in order, and every decode names its
plugin (``decoding_plugin=``), so a file decodes with the same library in a
development checkout and in a frozen (PyInstaller) build.

GDCM never runs in-process: it aborts the whole process on some damaged
JPEG 2000 streams. :func:`configure_decoders` removes it from every pydicom
decoder, so even code calling ``Dataset.pixel_array`` cannot reach it.
pylibjpeg-rle reports damaged input by a Rust panic
(``pyo3_runtime.PanicException``, a ``BaseException``); it is caught here and
becomes a :class:`~engine.errors.CorruptDicomError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom import Dataset
from pydicom import uid as uids
from pydicom.encaps import generate_frames
from pydicom.pixels import get_decoder

from engine.dicom import _plugins
from engine.dicom.files import quoted, syntax_name, transfer_syntax
from engine.dicom.plugin_order import (
    FORBIDDEN_PLUGINS as FORBIDDEN_PLUGINS,
)
from engine.dicom.plugin_order import PLUGIN_ORDER as PLUGIN_ORDER
from engine.dicom.plugin_order import configure_decoders as configure_decoders
from engine.errors import CorruptDicomError, UnsupportedDicomError


def plugins_for(ts: str) -> tuple[str, ...]:
    """The installed plugins that decode ``ts``, in the order Stethos tries them."""
    configure_decoders()
    if ts not in PLUGIN_ORDER:
        return ()
    available = get_decoder(ts).available_plugins
    return tuple(label for label in PLUGIN_ORDER[ts] if label in available)


def _is_rust_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a pyo3 panic (its type is not importable; match by name)."""
    return any(cls.__name__ == "PanicException" for cls in type(exc).__mro__)


def _unsupported(path: Path | str, ts: str, detail: str) -> UnsupportedDicomError:
    return UnsupportedDicomError(
        f"{quoted(path)} uses a compression ({syntax_name(ts)}) that this installation "
        "cannot decode. Ask the sender for an uncompressed or JPEG/JPEG 2000 copy.",
        detail,
    )


_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  "


def _jp2_boxes_loop(frame: bytes) -> bool:
    """Whether pydicom's JP2 box walk (``get_j2k_parameters``) would never end on ``frame``.

    It steps from box to box by each box's length and loops forever on a
    zero-length box before the codestream box (found by fuzzing).
    """
    if not frame.startswith(_JP2_SIGNATURE):
        return False
    offset = 12
    while offset < len(frame):
        if frame[offset + 4 : offset + 8] == b"jp2c":
            return False
        length = int.from_bytes(frame[offset : offset + 4], "big")
        if length == 0:
            return True
        offset += length
    return False


def _refuse_jp2_box_loop(ds: Dataset, path: Path | str, ts: str) -> None:
    """Refuse JPEG 2000 frames on which pydicom would hang, before it reads them."""
    if ts not in uids.JPEG2000TransferSyntaxes:
        return
    try:
        data = ds.PixelData
        if _JP2_SIGNATURE not in data:
            return
        n_frames = max(int(ds.get("NumberOfFrames") or 1), 1)
        looping = any(_jp2_boxes_loop(f) for f in generate_frames(data, number_of_frames=n_frames))
    except Exception:  # unreadable framing: the decoder reports the damage itself
        return
    if looping:
        raise CorruptDicomError(
            f"{quoted(path)} has damaged JPEG 2000 pixel data (a box of length zero) and "
            "cannot be shown.",
            "JP2 box of length 0 before the codestream box",
        )


def decode_pixels(
    ds: Dataset, path: Path | str, *, index: int | None = None, as_rgb: bool = True
) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode stored pixel values with the fixed plugin order.

    Parameters
    ----------
    ds
        A data set read with its pixel data.
    path
        The file, for messages.
    index
        One frame (0-based), or ``None`` for all frames.
    as_rgb
        Convert YBR_FULL / YBR_FULL_422 to RGB (pydicom's processing).

    Returns
    -------
    (numpy.ndarray, dict)
        Stored values shaped ``(rows, cols[, samples])`` for one frame or
        ``(frames, rows, cols[, samples])`` for several, and pydicom's pixel
        properties after decoding (``photometric_interpretation`` tells whether
        colour was converted).

    Raises
    ------
    UnsupportedDicomError
        The transfer syntax has no installed decoder.
    CorruptDicomError
        Every decoder failed on the data (the errors are in ``detail``).
    """
    configure_decoders()
    ts = transfer_syntax(ds)
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as exc:
        raise _unsupported(path, ts, str(exc)) from exc
    options: dict[str, Any] = {"index": index, "as_rgb": as_rgb}
    if decoder.is_native:
        try:
            return decoder.as_array(ds, **options)
        except Exception as exc:  # short or inconsistent native data
            raise CorruptDicomError(
                f"{quoted(path)} has damaged or incomplete pixel data.",
                f"{type(exc).__name__}: {exc}",
            ) from exc
    plugins = plugins_for(ts)
    if not plugins:
        raise _unsupported(
            path, ts, "no decoding plugin installed: " + ", ".join(PLUGIN_ORDER.get(ts, ()))
        )
    _refuse_jp2_box_loop(ds, path, ts)
    failures = []
    for label in plugins:
        try:
            arr, props = decoder.as_array(ds, decoding_plugin=label, **options)
            props["stethos_plugin"] = label
            return arr, props
        except _plugins.DeclaredSizeError as exc:  # no other decoder may try it either
            raise CorruptDicomError(
                f"{quoted(path)} has compressed pixel data that claims a larger image than its "
                "header (possibly a decompression bomb); it was not decoded.",
                str(exc),
            ) from exc
        except Exception as exc:  # decoders raise many types on damaged data
            failures.append(f"{label}: {type(exc).__name__}: {exc}")
        except BaseException as exc:
            if not _is_rust_panic(exc):
                raise
            failures.append(f"{label}: decoder panic: {exc}")
    raise CorruptDicomError(
        f"{quoted(path)} has damaged or incomplete {syntax_name(ts)} pixel data.",
        "; ".join(failures),
    )

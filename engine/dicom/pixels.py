"""The grayscale pixel pipeline of DICOM PS3.3 C.11, and colour to RGB.

stored values → Modality LUT (rescale slope/intercept or Modality LUT
Sequence, C.11.1) → modality values (HU, ...) kept as float32 → VOI LUT
(window LINEAR / LINEAR_EXACT / SIGMOID or VOI LUT Sequence, C.11.2) →
Presentation LUT (IDENTITY / INVERSE, MONOCHROME1, C.11.6) → 8-bit display.

Rendering to 8 bits is a separate, cheap step; the same modality values
serve measurement and models.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.dicom.values import first_item, floats, integer, is_multi, text


@dataclass(frozen=True, eq=False)
class LookupTable:
    """A DICOM LUT (Modality or VOI): ``data[i]`` maps input ``first_mapped + i``.

    Inputs below ``first_mapped`` map to the first entry, inputs past the end
    to the last (PS3.3 C.11.1.1, C.11.2.1.1).
    """

    first_mapped: int
    data: np.ndarray
    bits: int
    explanation: str = ""

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Map ``values`` through the table (output has the table's dtype)."""
        index = np.rint(np.asarray(values, dtype=np.float64) - self.first_mapped)
        np.clip(index, 0, len(self.data) - 1, out=index)
        return self.data[index.astype(np.intp)]


@dataclass(frozen=True)
class Window:
    """A VOI transform: a window (centre and width in modality units) or a VOI LUT.

    ``function`` is ``LINEAR``, ``LINEAR_EXACT`` or ``SIGMOID`` for windows and
    ``LUT`` when ``lut`` is set; a LUT window's ``center``/``width`` give the
    range of modality values its table covers (for display only).
    """

    center: float
    width: float
    explanation: str = ""
    function: str = "LINEAR"
    lut: LookupTable | None = None


@dataclass(frozen=True)
class ModalityTransform:
    """How stored values become modality values (PS3.3 C.11.1)."""

    slope: float = 1.0
    intercept: float = 0.0
    lut: LookupTable | None = None
    units: str = ""

    @property
    def is_identity(self) -> bool:
        """Whether modality values equal stored values."""
        return self.lut is None and self.slope == 1.0 and self.intercept == 0.0

    def apply(self, stored: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Stored values → float32 modality values (into ``out`` when given)."""
        if self.lut is not None:
            result = self.lut.lookup(stored).astype(np.float32)
            if out is None:
                return result
            out[...] = result
            return out
        if out is None:
            out = np.empty(stored.shape, dtype=np.float32)
        np.multiply(stored, np.float32(self.slope), out=out, casting="unsafe")
        if self.intercept:
            out += np.float32(self.intercept)
        return out


# --- parsing ------------------------------------------------------------------
def _lut_data(item, key: str, n_entries: int, bits: int) -> np.ndarray | None:
    try:
        raw = item.get(key)
    except Exception:
        return None
    if raw is None:
        return None
    if isinstance(raw, bytes | bytearray):
        little = getattr(item, "is_little_endian", None)
        order = ">" if little is False else "<"
        # 8-bit tables may be packed two entries per 16-bit word (PS3.3 C.7.6.3.1.6)
        if bits <= 8 and len(raw) == n_entries:
            data = np.frombuffer(raw, dtype=np.uint8)
        else:
            data = np.frombuffer(raw, dtype=f"{order}u2")
    else:
        data = np.asarray(raw if is_multi(raw) else [raw], dtype=np.int64)
    return data[:n_entries] if len(data) >= n_entries else data


def parse_lut(
    item, *, signed_input: bool = False, signed_output: bool = False
) -> LookupTable | None:
    """Read a Modality or VOI LUT sequence item (LUTDescriptor + LUTData).

    Parameters
    ----------
    item
        The sequence item.
    signed_input
        Whether inputs may be negative (first mapped value is then SS).
    signed_output
        Whether table values are signed (Modality LUT of signed data).
    """
    desc = floats(item.get("LUTDescriptor")) if item is not None else []
    if len(desc) != 3:
        return None
    n_entries = int(desc[0]) or 65536
    first = int(desc[1])
    bits = int(desc[2])
    if signed_input and first >= 32768:
        first -= 65536
    data = _lut_data(item, "LUTData", n_entries, bits)
    if data is None or len(data) == 0:
        return None
    data = data.astype(np.int64)
    if bits <= 0 or bits > 16:
        bits = 16
    if signed_output:
        data = np.where(data >= 1 << (bits - 1), data - (1 << bits), data)
    elif int(data.max()) > (1 << bits) - 1:
        # descriptor understates the depth; trust the data
        bits = int(data.max()).bit_length()
    data = data.astype(np.float32)
    data.setflags(write=False)
    return LookupTable(first, data, bits, text(item, "LUTExplanation"))


def modality_transform(ds, frame_item=None, shared_item=None) -> ModalityTransform:
    """The Modality LUT of a frame (per-frame, shared groups, then top level)."""
    units = ""
    for source in (frame_item, shared_item):
        group = first_item(source, "PixelValueTransformationSequence")
        if group is not None and "RescaleSlope" in group:
            group_slopes = floats(group.get("RescaleSlope"))
            group_intercepts = floats(group.get("RescaleIntercept"))
            return ModalityTransform(
                group_slopes[0] if group_slopes and group_slopes[0] != 0 else 1.0,
                group_intercepts[0] if group_intercepts else 0.0,
                None,
                text(group, "RescaleType"),
            )
    lut_item = first_item(ds, "ModalityLUTSequence")
    signed = integer(ds, "PixelRepresentation") == 1
    if lut_item is not None and "RescaleSlope" not in ds:
        lut = parse_lut(lut_item, signed_input=signed)
        if lut is not None:
            return ModalityTransform(1.0, 0.0, lut, text(lut_item, "ModalityLUTType"))
    slope_values = floats(ds.get("RescaleSlope"))
    intercept_values = floats(ds.get("RescaleIntercept"))
    slope = slope_values[0] if slope_values and slope_values[0] != 0 else 1.0
    intercept = intercept_values[0] if intercept_values else 0.0
    units = text(ds, "RescaleType")
    if not units and text(ds, "Modality") == "CT" and "RescaleIntercept" in ds:
        units = "HU"
    return ModalityTransform(slope, intercept, None, units)


def parse_windows(item) -> tuple[Window, ...]:
    """The windows (C.11.2.1.2) of a data set or a Frame VOI LUT item."""
    if item is None:
        return ()
    centers = floats(item.get("WindowCenter"))
    widths = floats(item.get("WindowWidth"))
    if not centers or not widths:
        return ()
    explanations = item.get("WindowCenterWidthExplanation", "")
    if not is_multi(explanations):
        explanations = [explanations]
    function = (text(item, "VOILUTFunction") or "LINEAR").upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    out = []
    for i, (c, w) in enumerate(zip(centers, widths, strict=False)):
        if not np.isfinite(c) or not np.isfinite(w) or w <= 0:
            continue
        if function == "LINEAR" and w < 1:
            continue  # PS3.3: width ≥ 1 for LINEAR
        label = str(explanations[i]).strip() if i < len(explanations) else ""
        out.append(Window(center=c, width=w, explanation=label, function=function))
    return tuple(out)


def parse_voi_luts(item, *, signed_input: bool) -> tuple[Window, ...]:
    """The VOI LUT Sequence tables (C.11.2.1.1) as LUT windows."""
    if item is None:
        return ()
    try:
        seq = item.get("VOILUTSequence") or ()
    except Exception:
        return ()
    out = []
    for lut_item in seq:
        lut = parse_lut(lut_item, signed_input=signed_input)
        if lut is None:
            continue
        n = len(lut.data)
        out.append(
            Window(
                center=lut.first_mapped + n / 2.0,
                width=float(n),
                explanation=lut.explanation or "VOI LUT",
                function="LUT",
                lut=lut,
            )
        )
    return tuple(out)


# --- windows and rendering ------------------------------------------------------
def full_range_window(values: np.ndarray, padding: tuple[float, float] | None = None) -> Window:
    """A LINEAR window mapping ``min(values)`` to 0 and ``max(values)`` to 255.

    Same convention as dcmtk's min-max window: centre ``(min + max + 1) / 2``,
    width ``max - min + 1``. Values within ``padding`` (the image's Pixel
    Padding Value, or its range, in modality units) are not image and are left
    out of the range.
    """
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    if padding is not None:
        lo_pad, hi_pad = min(padding), max(padding)
        finite = finite[(finite < lo_pad) | (finite > hi_pad)]
    if finite.size == 0:
        return Window(center=0.5, width=1.0, explanation="full range")
    lo = float(np.min(finite))
    hi = float(np.max(finite))
    return Window(center=(lo + hi + 1.0) / 2.0, width=hi - lo + 1.0, explanation="full range")


def apply_window(
    values: np.ndarray,
    center: float,
    width: float,
    *,
    function: str = "LINEAR",
    invert: bool = False,
) -> np.ndarray:
    """Map modality values to 8-bit display values with a VOI window.

    Implements PS3.3 C.11.2.1.2 (LINEAR, LINEAR_EXACT, SIGMOID) with an
    output range of 0..255, rounding to the nearest level.

    Parameters
    ----------
    values
        Modality values, any shape.
    center, width
        The window, in modality units.
    function
        ``LINEAR`` (default), ``LINEAR_EXACT`` or ``SIGMOID``.
    invert
        Show low values bright (MONOCHROME1 / Presentation LUT INVERSE).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of the same shape.
    """
    x = np.asarray(values)
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    function = (function or "LINEAR").upper()
    if function == "SIGMOID":
        w = max(float(width), 1e-6)
        out = 255.0 / (1.0 + np.exp(-4.0 * (x - center) / w))
    elif function == "LINEAR_EXACT":
        w = max(float(width), 1e-6)
        out = ((x - center) / w + 0.5) * 255.0
    elif width <= 1.0:
        # C.11.2.1.2.1 with w = 1: a threshold at c - 0.5
        out = np.where(x > center - 0.5, 255.0, 0.0)
    else:
        out = ((x - (center - 0.5)) / (width - 1.0) + 0.5) * 255.0
    shown = np.rint(np.clip(out, 0.0, 255.0)).astype(np.uint8)
    if invert:
        # after rounding, so MONOCHROME1 is the exact complement of MONOCHROME2
        np.subtract(255, shown, out=shown)
    return shown


def apply_voi_lut(values: np.ndarray, lut: LookupTable, *, invert: bool = False) -> np.ndarray:
    """Map modality values through a VOI LUT and scale its output range to 0..255."""
    top = float((1 << lut.bits) - 1) or 1.0
    out = lut.lookup(values).astype(np.float32) * np.float32(255.0 / top)
    np.clip(out, 0.0, 255.0, out=out)
    shown = np.rint(out).astype(np.uint8)
    if invert:
        np.subtract(255, shown, out=shown)
    return shown


def window_to_8bit(values: np.ndarray, window: Window, *, invert: bool = False) -> np.ndarray:
    """Apply a :class:`Window` (window or VOI LUT) to modality values → ``uint8``."""
    if window.lut is not None:
        return apply_voi_lut(values, window.lut, invert=invert)
    return apply_window(
        values, window.center, window.width, function=window.function, invert=invert
    )


def to_8bit_rgb(arr: np.ndarray, bits_stored: int) -> np.ndarray:
    """Colour samples of any depth → 8 bits per sample (keeps the top bits)."""
    if arr.dtype == np.uint8:
        return arr
    shift = max(int(bits_stored) - 8, 0)
    return (arr.astype(np.uint64) >> shift).clip(0, 255).astype(np.uint8)


def palette_to_rgb(arr: np.ndarray, ds, *, little_endian: bool = True) -> np.ndarray:
    """PALETTE COLOR indices → 8-bit RGB (PS3.3 C.7.6.3.1.5-6).

    Plain tables are read here, in the data set's byte order (pydicom 3.0
    reads them as little endian even in Explicit VR Big Endian files);
    segmented tables go through pydicom. 16-bit entries keep their top 8 bits.
    """
    desc = floats(ds.get("RedPaletteColorLookupTableDescriptor"))
    if len(desc) != 3:
        raise ValueError("Palette Color Lookup Table Descriptor missing or malformed")
    n_entries = int(desc[0]) or 65536
    first = int(desc[1])
    bits = int(desc[2])
    if integer(ds, "PixelRepresentation") == 1 and first >= 32768:
        first -= 65536
    if "RedPaletteColorLookupTableData" not in ds:
        from pydicom.pixels import apply_color_lut

        rgb = apply_color_lut(arr, ds)
        return _top_8_bits(rgb, bits)
    channels = []
    for color in ("Red", "Green", "Blue"):
        raw = ds[f"{color}PaletteColorLookupTableData"].value
        if isinstance(raw, bytes | bytearray):
            if len(raw) == n_entries:  # 8-bit entries packed in bytes
                table = np.frombuffer(raw, dtype=np.uint8)
            else:
                table = np.frombuffer(raw, dtype=("<" if little_endian else ">") + "u2")
        else:
            table = np.asarray(raw if is_multi(raw) else [raw], dtype=np.uint16)
        channels.append(table[:n_entries])
    lut = np.stack(channels, axis=-1)
    index = np.clip(arr.astype(np.int64) - first, 0, len(lut) - 1)
    return _top_8_bits(lut[index], bits)


def _top_8_bits(rgb: np.ndarray, bits: int) -> np.ndarray:
    if rgb.dtype == np.uint8:
        return rgb
    if bits <= 8 and int(rgb.max(initial=0)) <= 255:
        return rgb.astype(np.uint8)
    return (rgb.astype(np.uint32) >> 8).astype(np.uint8)

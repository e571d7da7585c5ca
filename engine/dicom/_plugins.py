"""Decoding plugins registered with pydicom under fixed ``stethos-*`` labels.

pydicom's own ``pylibjpeg`` plugin finds pylibjpeg-libjpeg, -openjpeg and
-rle through package entry points, which a PyInstaller build may drop. These
functions import the decoder libraries directly, so which library decodes a
file does not depend on package metadata. Each mirrors what pydicom's plugin
does with the decoded buffer (container size, planar configuration).

This module follows pydicom's plugin protocol (``is_available(uid)``,
``DECODER_DEPENDENCIES``, ``fn(src, runner) -> bytearray``); it is imported
by :mod:`engine.dicom.decoders` only.
"""

from __future__ import annotations

import importlib.util
import struct
from typing import Any

from pydicom import uid
from pydicom.pixels.common import PhotometricInterpretation as PI

_LIBJPEG = (
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
)
_OPENJPEG = (
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
)
_JPEGLS = (uid.JPEGLSLossless, uid.JPEGLSNearLossless)
_RLE = (uid.RLELossless,)

DECODER_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    **{ts: ("pylibjpeg-libjpeg>=2.1",) for ts in _LIBJPEG},
    **{ts: ("pylibjpeg-openjpeg>=2.0",) for ts in _OPENJPEG},
    **{ts: ("pylibjpeg-rle>=2.0",) for ts in _RLE},
}

#: plugin label → (import name of the library, transfer syntaxes it decodes)
LIBRARIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "stethos-libjpeg": ("libjpeg", _LIBJPEG),
    "stethos-openjpeg": ("openjpeg", _OPENJPEG),
    "stethos-rle": ("rle", _RLE),
    "stethos-jpegls": ("jpeg_ls", _JPEGLS),
}


class DeclaredSizeError(BaseException):
    """A compressed frame declares more samples than the data set's header allows.

    A ``BaseException`` on purpose: pydicom catches every ``Exception`` of a
    plugin and tries the next one (Pillow would then decode the bomb).
    :func:`engine.dicom.decoders.decode_pixels` catches it and refuses the file.
    """


#: JPEG start-of-frame markers (SOF0–SOF15 without DHT/JPG/DAC) and JPEG-LS SOF55.
_SOF_MARKERS = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)}) | {
    0xCD,
    0xCE,
    0xCF,
    0xF7,
}


def declared_samples(src: bytes) -> int | None:
    """Samples (rows × columns × components) a JPEG, JPEG-LS or JPEG 2000 frame declares.

    Read from the SOF or SIZ marker without decoding; ``None`` when the
    header cannot be found (the decoder then reports the damage itself).
    """
    head = bytes(src[:65536])
    siz = head.find(b"\xff\x4f\xff\x51")
    if siz >= 0 and len(head) >= siz + 42:
        x, y, x0, y0 = struct.unpack(">4I", head[siz + 8 : siz + 24])
        (components,) = struct.unpack(">H", head[siz + 40 : siz + 42])
        return max(x - x0, 0) * max(y - y0, 0) * components
    if not head.startswith(b"\xff\xd8"):
        return None
    i = 2
    while i + 4 <= len(head):
        if head[i] != 0xFF:
            return None
        marker = head[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _SOF_MARKERS:
            if i + 10 > len(head):
                return None
            rows, cols = struct.unpack(">HH", head[i + 5 : i + 9])
            return rows * cols * head[i + 9]
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", head[i + 2 : i + 4])
        i += 2 + length
    return None


def _check_declared_size(src: bytes, runner: Any) -> None:
    """Refuse, before the decoder allocates, a frame larger than the header says (a bomb)."""
    declared = declared_samples(src)
    expected = int(runner.rows) * int(runner.columns) * int(runner.samples_per_pixel)
    if declared and declared > expected:
        raise DeclaredSizeError(
            f"the compressed frame declares {declared} samples, the header "
            f"{runner.rows}×{runner.columns}×{runner.samples_per_pixel} = {expected}"
        )


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def is_available(transfer_syntax: str) -> bool:
    """Whether some library of this module decodes ``transfer_syntax`` (pydicom protocol)."""
    return any(
        transfer_syntax in syntaxes and _installed(name) for name, syntaxes in LIBRARIES.values()
    )


def _container_bits(runner: Any, precision: int) -> None:
    if 0 < precision <= 8:
        runner.set_option("bits_allocated", 8)
    elif 8 < precision <= 16:
        runner.set_option("bits_allocated", 16)
    elif 16 < precision <= 32:
        runner.set_option("bits_allocated", 32)


def decode_libjpeg(src: bytes, runner: Any) -> bytearray:
    """Decode one JPEG / JPEG-LS frame with pylibjpeg-libjpeg."""
    import libjpeg

    _check_declared_size(src, runner)

    frame: bytearray = libjpeg.decode_pixel_data(src, version=2, **runner.options)  # type: ignore[assignment]
    if runner.transfer_syntax in _JPEGLS:
        # libjpeg returns JPEG-LS colour-by-pixel in a container sized by the precision
        runner.set_option("planar_configuration", 0)
        _container_bits(runner, runner.get_option("jls_precision", runner.bits_stored))
    return frame


def decode_openjpeg(src: bytes, runner: Any) -> bytearray:
    """Decode one JPEG 2000 / HTJ2K frame with pylibjpeg-openjpeg."""
    import openjpeg

    _check_declared_size(src, runner)

    frame: bytearray = openjpeg.decode_pixel_data(src, version=2, **runner.options)  # type: ignore[assignment]
    if runner.photometric_interpretation in (PI.YBR_ICT, PI.YBR_RCT):
        # openjpeg applies the inverse component transform itself
        runner.set_option("photometric_interpretation", PI.RGB)
    _container_bits(runner, runner.get_option("j2k_precision", runner.bits_stored))
    return frame


def decode_rle(src: bytes, runner: Any) -> bytearray:
    """Decode one RLE Lossless frame with pylibjpeg-rle (output is planar)."""
    import rle

    frame: bytearray = rle.decode_pixel_data(src, version=2, **runner.options)  # type: ignore[assignment]
    runner.set_option("planar_configuration", 1)
    return frame


def decode_jpegls(src: bytes, runner: Any) -> bytearray:
    """Decode one JPEG-LS frame with CharLS (pyjpegls)."""
    import jpeg_ls

    _check_declared_size(src, runner)

    buffer, info = jpeg_ls.decode_pixel_data(src)
    if info["components"] > 1:
        # interleave mode 0 is colour-by-plane, 1 and 2 colour-by-pixel
        runner.set_option("planar_configuration", 1 if info["interleave_mode"] == 0 else 0)
    _container_bits(runner, int(info["bits_per_sample"]))
    return buffer

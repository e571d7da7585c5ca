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

    frame: bytearray = libjpeg.decode_pixel_data(src, version=2, **runner.options)  # type: ignore[assignment]
    if runner.transfer_syntax in _JPEGLS:
        # libjpeg returns JPEG-LS colour-by-pixel in a container sized by the precision
        runner.set_option("planar_configuration", 0)
        _container_bits(runner, runner.get_option("jls_precision", runner.bits_stored))
    return frame


def decode_openjpeg(src: bytes, runner: Any) -> bytearray:
    """Decode one JPEG 2000 / HTJ2K frame with pylibjpeg-openjpeg."""
    import openjpeg

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

    buffer, info = jpeg_ls.decode_pixel_data(src)
    if info["components"] > 1:
        # interleave mode 0 is colour-by-plane, 1 and 2 colour-by-pixel
        runner.set_option("planar_configuration", 1 if info["interleave_mode"] == 0 else 0)
    _container_bits(runner, int(info["bits_per_sample"]))
    return buffer

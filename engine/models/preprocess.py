"""Model input preprocessing, declared in the manifest and implemented once here.

The desktop, the command line and the training pipelines all call these
functions, so a model sees exactly the same input whichever way it is fed.

Images (``torch-cnn``)
    DICOM modality values (or a PNG/JPEG file) → the file's default window
    or VOI LUT (or min–max) → MONOCHROME1 inverted → 8 bits (exactly as the
    viewer renders it, :func:`engine.dicom.render_8bit`) → grey or RGB → "squash"
    resize to ``size × size`` (antialiased bilinear, aspect ratio not kept,
    as the training images were; ``body-crop`` then crops to the body
    outline, :mod:`engine.models.body`) → replicate to 3 channels when the network
    needs it → ``(x / 255 − mean) / std``.

Signals (``torch-lstm``)
    :mod:`engine.models.beat_inputs` (pick the lead → resample → remove the
    baseline → beat windows and RR features).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import InputRejectedError, NotDicomError
from engine.filetypes import is_picture_file
from engine.models.body import WHOLE, CropBox, body_crop
from engine.models.gates import age_years

# --------------------------------------------------------------------------- images


#: How an image is brought to the network's square input (see the module docstring).
RESIZE_MODES = ("squash", "body-crop")


@dataclass(frozen=True)
class ImageSpec:
    """The image preprocessing a CNN bundle declares."""

    size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    window: str = "default"
    invert_monochrome1: bool = True
    color: str = "gray"
    resize: str = "squash"

    def __post_init__(self) -> None:
        # Checked once, when a bundle is loaded, not per image.
        if self.resize not in RESIZE_MODES:
            raise ValueError(f"unknown resize mode {self.resize!r}")
        if self.resize == "body-crop" and self.color != "gray":
            raise ValueError("the body-crop resize needs a grey image model")

    @classmethod
    def from_manifest(cls, spec: Mapping[str, Any]) -> ImageSpec:
        """Read the ``preprocessing`` block of a ``torch-cnn`` manifest."""
        channels = int(spec["channels"])
        mean = tuple(float(v) for v in spec["mean"])
        std = tuple(float(v) for v in spec["std"])
        if len(mean) not in (1, channels) or len(std) not in (1, channels):
            raise ValueError("mean and std need one value or one per channel")
        return cls(
            size=int(spec["size"]),
            channels=channels,
            mean=mean * channels if len(mean) == 1 else mean,
            std=std * channels if len(std) == 1 else std,
            window=str(spec.get("window", "default")),
            invert_monochrome1=bool(spec.get("invert_monochrome1", True)),
            color=str(spec.get("color", "gray")),
            resize=str(spec.get("resize", "squash")),
        )


@dataclass(frozen=True, eq=False)
class ImageInput:
    """A decoded image with the metadata the gates check.

    ``pixels`` is display-ready 8-bit: ``(rows, cols)`` grey or
    ``(rows, cols, 3)`` RGB, in the source geometry that heat maps use.
    """

    pixels: np.ndarray
    name: str = ""
    modality: str = ""
    view_position: str = ""
    body_part: str = ""
    photometric: str = ""
    #: DICOM Presentation Intent Type (``FOR PROCESSING``: raw detector data), empty if absent.
    presentation_intent: str = ""
    input_hash: str = ""
    source: str = "array"
    #: The patient's age in years at the study (DICOM), ``None`` when not recorded.
    age_years: float | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the source image."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


def _hash_array(a: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(str((a.dtype.str, a.shape)).encode())
    digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


def dicom_to_input(image: Any, spec: ImageSpec, frame: int = 0) -> ImageInput:
    """Window a :class:`~engine.dicom.DicomImage` to 8 bits as the model expects.

    The file's default window (its first VOI window, else its full range)
    or, with ``window: "minmax"``, the frame's full range; MONOCHROME1 is
    inverted so that bone is bright, as in the training images.
    """
    from engine.dicom import Window, render_8bit

    if frame >= image.n_frames:
        raise InputRejectedError(
            f"“{Path(image.path).name}” has {image.n_frames} frame(s); frame {frame + 1} "
            "does not exist."
        )
    values = image.frames[frame]
    window = None
    if not image.is_color and spec.window == "minmax":
        finite = values[np.isfinite(values)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 1.0
        # dcmtk's min-max convention: min → 0, max → 255.
        window = Window(center=(lo + hi + 1.0) / 2.0, width=hi - lo + 1.0, explanation="min-max")
    # The display pipeline: VOI window or LUT, then MONOCHROME1 inverted.
    pixels = None
    if not image.is_color:
        win = window or image.default_window(frame)
        pixels = _linear_window_in_place(values, win, bool(getattr(image, "inverted", False)))
    if pixels is None:
        pixels = render_8bit(image, frame, window)
    if not image.is_color and image.monochrome1 and not spec.invert_monochrome1:
        pixels = 255 - pixels
    return ImageInput(
        pixels=pixels,
        name=Path(image.path).name,
        modality=str(image.modality or "").upper(),
        view_position=str(image.view_position or "").upper(),
        body_part=str(image.body_part or "").upper(),
        photometric=str(image.photometric or "").upper(),
        presentation_intent=str(getattr(image, "presentation_intent", "") or "").upper(),
        age_years=age_years(
            getattr(image, "patient_age", ""),
            getattr(image, "patient_birth_date", ""),
            getattr(image, "study_date", ""),
        ),
        # The hash of what the model was shown (the rendered 8-bit frame): a
        # quarter of the bytes of the modality values, same identity.
        input_hash=_hash_array(pixels),
        source="dicom",
    )


def _linear_window_in_place(values: np.ndarray, win: Any, invert: bool) -> np.ndarray | None:
    """PS3.3 C.11.2.1.2 LINEAR window to 8 bits, as :func:`engine.dicom.apply_window`.

    The same float32 operations in the same order (so the same levels as the
    viewer, which a test checks), done in place: about half the time of the
    general function on a 1024 × 1024 frame, which matters next to a CPU
    forward pass. Returns ``None`` for anything but a plain LINEAR window.
    """
    if (
        getattr(win, "lut", None) is not None
        or (win.function or "LINEAR").upper() != "LINEAR"
        or win.width <= 1.0
        or values.dtype != np.float32
    ):
        return None
    out = np.subtract(values, win.center - 0.5)
    out /= win.width - 1.0
    out += 0.5
    out *= 255.0
    np.clip(out, 0.0, 255.0, out=out)
    np.rint(out, out=out)
    shown = out.astype(np.uint8)
    if invert:
        np.subtract(255, shown, out=shown)
    return shown


def array_to_input(array: np.ndarray, name: str = "", **meta: str) -> ImageInput:
    """Wrap a grey ``(rows, cols)`` or RGB ``(rows, cols, 3)`` array.

    ``uint8`` arrays are used as they are; other dtypes are mapped min–max
    to 8 bits.
    """
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise InputRejectedError(
            f"“{name or 'The image'}” is not a grey or RGB picture (shape {a.shape})."
        )
    if a.dtype != np.uint8:
        f = a.astype(np.float32)
        lo, hi = float(np.nanmin(f)), float(np.nanmax(f))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        a = np.rint(np.clip((f - lo) * scale, 0, 255)).astype(np.uint8)
    upper: dict[str, Any] = {k: str(v).upper() for k, v in meta.items()}
    return ImageInput(pixels=np.ascontiguousarray(a), name=name, input_hash=_hash_array(a), **upper)


def read_picture(path: str | Path) -> ImageInput:
    """Read a PNG/JPEG/TIFF/BMP file with Pillow (no DICOM metadata)."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    try:
        with Image.open(p) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.asarray(im, dtype=np.float32)
            elif im.mode in ("L", "RGB"):
                arr = np.asarray(im)
            elif im.mode in ("LA", "P", "PA", "1"):
                arr = np.asarray(im.convert("L"))
            else:
                arr = np.asarray(im.convert("RGB"))
    except UnidentifiedImageError as exc:
        raise NotDicomError(
            f"“{p.name}” is not an image file Stethos can read (PNG, JPEG, TIFF, BMP or DICOM).",
            repr(exc),
        ) from exc
    except Image.DecompressionBombError as exc:
        raise NotDicomError(
            f"“{p.name}” declares more pixels than Stethos opens in one picture; it was not read.",
            repr(exc),
        ) from exc
    except (OSError, ValueError) as exc:  # a picture format Pillow knows, but broken
        from engine.dicom.files import access_error

        denied = access_error(p, exc)
        if denied is not None:
            raise denied from exc
        raise NotDicomError(
            f"“{p.name}” could not be decoded: the file is damaged or incomplete (for example, "
            "cut short while copying). Open the original file.",
            repr(exc),
        ) from exc
    inp = array_to_input(arr, name=p.name)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return ImageInput(
        pixels=inp.pixels, name=p.name, input_hash=digest, source=p.suffix.lower().lstrip(".")
    )


def load_image_input(source: Any, spec: ImageSpec, frame: int = 0) -> ImageInput:
    """Turn a path, a DicomImage, an :class:`ImageInput` or an array into an ImageInput.

    Raises
    ------
    DicomError, InputRejectedError
        For a file that cannot be read as an image.
    """
    if isinstance(source, ImageInput):
        return source
    if isinstance(source, np.ndarray):
        return array_to_input(source)
    if isinstance(source, str | Path):
        if is_picture_file(source):
            return read_picture(source)
        from engine.dicom import read_image

        return dicom_to_input(read_image(source), spec, frame)
    if hasattr(source, "frames") and hasattr(source, "default_window"):
        return dicom_to_input(source, spec, frame)
    raise InputRejectedError(f"Stethos cannot use a {type(source).__name__} as an image.")


def image_to_array(inp: ImageInput, spec: ImageSpec) -> np.ndarray:
    """The network input for one image: float32 ``(channels, size, size)``."""
    return prepare_image(inp, spec)[0]


def prepare_image(inp: ImageInput, spec: ImageSpec) -> tuple[np.ndarray, CropBox]:
    """The network input for one image and the part of the source it shows.

    ``resize: "squash"`` shows the whole image; ``"body-crop"`` (grey models
    only) squashes, then crops to the body outline with the air outside it
    blacked out (:func:`engine.models.body.body_crop`).
    """
    from PIL import Image

    pixels = inp.pixels
    if spec.color == "gray" and pixels.ndim == 3:
        im = Image.fromarray(pixels, mode="RGB").convert("L")
    elif spec.color == "rgb" and pixels.ndim == 2:
        im = Image.fromarray(pixels, mode="L").convert("RGB")
    else:
        im = Image.fromarray(pixels)
    if im.size != (spec.size, spec.size):
        # Pillow's bilinear filter widens its support when shrinking: antialiased.
        im = im.resize((spec.size, spec.size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    box = WHOLE
    if spec.resize == "body-crop":
        a, box = body_crop(a)
    a = a.astype(np.float32)
    a = a[np.newaxis] if a.ndim == 2 else a.transpose(2, 0, 1)
    if a.shape[0] != spec.channels:
        if a.shape[0] == 1:
            a = np.repeat(a, spec.channels, axis=0)
        else:  # RGB model input asked for one channel
            a = a.mean(axis=0, keepdims=True)
    mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((a / np.float32(255.0) - mean) / std, dtype=np.float32), box

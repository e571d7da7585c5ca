"""Model input preprocessing, declared in the manifest and implemented once here.

The desktop, the command line and the training pipelines all call these
functions, so a model sees exactly the same input whichever way it is fed.

Images (``torch-cnn``)
    DICOM modality values (or a PNG/JPEG file) → the file's default window
    or VOI LUT (or min–max) → MONOCHROME1 inverted → 8 bits (exactly as the
    viewer renders it, :func:`engine.dicom.render_8bit`) → grey or RGB → "squash"
    resize to ``size × size`` (antialiased bilinear, aspect ratio not kept,
    as the training images were) → replicate to 3 channels when the network
    needs it → ``(x / 255 − mean) / std``.

Signals (``torch-lstm``)
    Pick the lead → resample to the model's rate → remove the baseline as
    declared → beat positions (given, from the record's beat annotations or
    from the ECG package's detector) → one window per beat centred on the R
    peak → RR-interval features, standardised with the manifest's mean/std.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.errors import EngineError, InputRejectedError, NotDicomError
from engine.filetypes import PICTURE_SUFFIXES as IMAGE_SUFFIXES
from engine.filetypes import is_picture_file

__all__ = ["IMAGE_SUFFIXES", "is_picture_file"]  # re-exported: one file-type rule

# --------------------------------------------------------------------------- images


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
    input_hash: str = ""
    source: str = "array"

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
    upper = {k: str(v).upper() for k, v in meta.items()}
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
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise NotDicomError(
            f"“{p.name}” is not an image file Stethos can read (PNG, JPEG, TIFF, BMP or DICOM).",
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
    from PIL import Image

    pixels = inp.pixels
    if spec.color == "gray" and pixels.ndim == 3:
        im = Image.fromarray(pixels, mode="RGB").convert("L")
    elif spec.color == "rgb" and pixels.ndim == 2:
        im = Image.fromarray(pixels, mode="L").convert("RGB")
    else:
        im = Image.fromarray(pixels)
    if spec.resize != "squash":
        raise EngineError(f"Unknown resize mode {spec.resize!r} in the model's preprocessing.")
    if im.size != (spec.size, spec.size):
        # Pillow's bilinear filter widens its support when shrinking: antialiased.
        im = im.resize((spec.size, spec.size), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.float32)
    a = a[np.newaxis] if a.ndim == 2 else a.transpose(2, 0, 1)
    if a.shape[0] != spec.channels:
        if a.shape[0] == 1:
            a = np.repeat(a, spec.channels, axis=0)
        else:  # RGB model input asked for one channel
            a = a.mean(axis=0, keepdims=True)
    mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
    return np.ascontiguousarray((a / np.float32(255.0) - mean) / std, dtype=np.float32)


# --------------------------------------------------------------------------- signals


@runtime_checkable
class SignalLike(Protocol):
    """What a signal model needs: ``data`` ``(n_leads, n_samples)`` mV, ``leads``, ``fs``."""

    @property
    def data(self) -> np.ndarray: ...

    @property
    def leads(self) -> tuple[str, ...]: ...

    @property
    def fs(self) -> float: ...


@dataclass(frozen=True, eq=False)
class ArraySignal:
    """A minimal :class:`SignalLike` for plain arrays."""

    data: np.ndarray
    fs: float
    leads: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        data = np.atleast_2d(np.asarray(self.data, dtype=np.float32))
        object.__setattr__(self, "data", data)
        if not self.leads:
            object.__setattr__(self, "leads", tuple(f"lead{i + 1}" for i in range(data.shape[0])))
        if len(self.leads) != data.shape[0]:
            raise InputRejectedError("The signal needs one lead name per row of data.")


def as_signal(
    source: Any, fs: float | None = None, leads: Sequence[str] | None = None
) -> SignalLike:
    """Accept a Signal-like object, or a numpy array with ``fs`` (and lead names)."""
    if isinstance(source, SignalLike):
        return source
    if isinstance(source, np.ndarray):
        if fs is None:
            raise InputRejectedError("A signal given as an array needs its sampling rate (fs).")
        return ArraySignal(source, float(fs), tuple(leads or ()))
    raise InputRejectedError(f"Stethos cannot use a {type(source).__name__} as an ECG signal.")


@dataclass(frozen=True)
class SignalSpec:
    """The signal preprocessing a beat-model bundle declares."""

    fs: float
    before_s: float
    after_s: float
    leads: tuple[str, ...]
    baseline: Mapping[str, Any] = field(default_factory=lambda: {"method": "none"})
    beat_normalise: str = "none"
    beat_template: str = "none"
    beat_align: Mapping[str, Any] = field(default_factory=lambda: {"method": "none"})
    amplitude_drift: Mapping[str, Any] = field(default_factory=lambda: {"method": "none"})
    rr_features: tuple[str, ...] = ()
    morph_features: tuple[str, ...] = ()
    rr_mean: tuple[float, ...] = ()
    rr_std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        """Check the ``beat_align`` and ``amplitude_drift`` blocks once, when the bundle loads."""
        align, drift = self.beat_align, self.amplitude_drift
        if align.get("method", "none") not in ("none", "template"):
            raise EngineError(
                f"Unknown beat alignment {align.get('method')!r} in the model's preprocessing."
            )
        if align.get("method") == "template":
            try:
                shift, min_corr = float(align["max_shift_s"]), float(align["min_corr"])
            except (KeyError, TypeError, ValueError) as exc:
                raise EngineError(
                    "The model's beat alignment needs numbers “max_shift_s” and “min_corr”."
                ) from exc
            if not (0 <= round(shift * self.fs) <= self.window and -1.0 <= min_corr <= 1.0):
                raise EngineError(
                    "The model's beat alignment has a shift or correlation out of range."
                )
        if drift.get("method", "none") not in ("none", "running-median"):
            raise EngineError(
                f"Unknown amplitude-drift correction {drift.get('method')!r} in the model's "
                "preprocessing."
            )
        if drift.get("method") == "running-median":
            beats = drift.get("beats")
            if isinstance(beats, bool) or not isinstance(beats, int):
                raise EngineError(
                    "The model's amplitude-drift correction needs a whole number “beats”."
                )
            if beats < 1:
                raise EngineError(
                    "The model's amplitude-drift correction needs “beats” of at least 1."
                )

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> SignalSpec:
        """Read ``preprocessing`` and ``inputs.signal`` of a ``torch-lstm`` manifest."""
        pre = manifest["preprocessing"]
        sig = manifest["inputs"]["signal"]
        return cls(
            fs=float(pre["fs"]),
            before_s=float(pre["beat_window"]["before_s"]),
            after_s=float(pre["beat_window"]["after_s"]),
            leads=tuple(sig["leads"]),
            baseline=dict(pre.get("baseline", {"method": "none"})),
            beat_normalise=str(pre.get("beat_normalise", "none")),
            beat_template=str(pre.get("beat_template", "none")),
            beat_align=dict(pre.get("beat_align", {"method": "none"})),
            amplitude_drift=dict(pre.get("amplitude_drift", {"method": "none"})),
            rr_features=tuple(pre.get("rr_features", ())),
            morph_features=tuple(pre.get("morph_features", ())),
            rr_mean=tuple(float(v) for v in pre.get("rr_mean", ())),
            rr_std=tuple(float(v) for v in pre.get("rr_std", ())),
        )

    @property
    def before(self) -> int:
        """Samples before the R peak, at the model's rate."""
        return round(self.before_s * self.fs)

    @property
    def after(self) -> int:
        """Samples from the R peak on (inclusive), at the model's rate."""
        return round(self.after_s * self.fs)

    @property
    def window(self) -> int:
        """Window length in samples at the model's rate."""
        return self.before + self.after


def _norm_lead(name: str) -> str:
    text = name.strip().lower()
    for prefix in ("ecg ", "lead "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.replace(" ", "")


def select_lead(signal: SignalLike, wanted: Sequence[str]) -> int:
    """Index of the first of ``wanted`` leads present in ``signal`` (any usual spelling).

    Raises
    ------
    InputRejectedError
        Naming the leads needed and those present.
    """
    present = [_norm_lead(n) for n in signal.leads]
    for name in wanted:
        key = _norm_lead(name)
        if key in present:
            return present.index(key)
    raise InputRejectedError(
        f"This ECG has none of the leads the model needs ({', '.join(wanted)}); "
        f"its leads are {', '.join(signal.leads) or 'unnamed'}.",
    )


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) along the last axis, float32."""
    if abs(fs_in - fs_out) < 1e-9:
        return np.asarray(x, dtype=np.float32)
    from scipy.signal import resample_poly

    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return resample_poly(
        np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator, axis=-1
    ).astype(np.float32)


def _odd(n: float) -> int:
    k = max(round(n), 1)
    return k if k % 2 else k + 1


def remove_baseline(x: np.ndarray, fs: float, spec: Mapping[str, Any]) -> np.ndarray:
    """Baseline-wander removal as declared: ``none``, ``median`` or ``highpass``.

    ``median`` subtracts a 200 ms then 600 ms median-filtered baseline (de
    Chazal et al. 2004; ``windows_s`` overrides); ``highpass`` is a
    zero-phase Butterworth (``cutoff_hz``, ``order``).
    """
    method = spec.get("method", "none")
    x = np.asarray(x, dtype=np.float32)
    if method == "none":
        return x
    if method == "median":
        from scipy import ndimage

        base = x
        for w in spec.get("windows_s", (0.2, 0.6)):
            base = ndimage.median_filter(base, size=_odd(float(w) * fs), mode="nearest")
        return (x - base).astype(np.float32)
    if method == "highpass":
        from scipy import signal as sps

        cutoff = float(spec.get("cutoff_hz", 0.5))
        sos = sps.butter(int(spec.get("order", 2)), cutoff, btype="highpass", fs=fs, output="sos")
        pad = min(len(x) - 1, int(3 * fs / cutoff))
        return sps.sosfiltfilt(sos, x.astype(np.float64), padlen=max(pad, 0)).astype(np.float32)
    raise EngineError(f"Unknown baseline method {method!r} in the model's preprocessing.")


RR_FEATURE_NAMES = (
    "pre_rr", "post_rr", "local_rr", "global_rr", "pre_rr_ratio", "post_rr_ratio",
    "pre_rr_global_ratio", "post_rr_global_ratio", "local_rr_global_ratio", "pre_post_ratio",
    "cmed_rr", "pre_rr_cmed_ratio", "post_rr_cmed_ratio", "rr_irregularity",
    "rr_pattern_irregularity",
)  # fmt: skip


def _centred_median(x: np.ndarray, beats: int) -> np.ndarray:
    """Running median of ``x`` over the ``beats`` beats centred on each (fewer in short records)."""
    from scipy.ndimage import median_filter

    return median_filter(x, size=min(beats, 2 * ((len(x) - 1) // 2) + 1), mode="nearest")


def rr_features(samples: np.ndarray, fs: float, names: Sequence[str]) -> np.ndarray:
    """RR-interval features in seconds (ratios unitless), one row per beat.

    ``pre_rr``/``post_rr``: interval to the previous/next beat (the record's
    median interval at the ends); ``local_rr``: mean of the last ten
    ``pre_rr``; ``global_rr``: the record's mean; ``*_ratio``: divided by
    ``local_rr``; ``*_global_ratio``: divided by ``global_rr`` (the
    patient-normalised intervals of inter-patient classifiers);
    ``pre_post_ratio``: ``pre_rr`` over ``post_rr`` (a premature beat's
    compensatory pause); ``cmed_rr``: the median ``pre_rr`` of the 101 beats
    centred on the beat (fewer in short records), a reference rhythm that a
    run of ectopic beats or a pause barely moves; ``*_cmed_ratio``: divided by
    ``cmed_rr``; ``rr_irregularity``: the median absolute change between
    successive ``pre_rr`` over the same beats, over ``cmed_rr`` (high in
    atrial fibrillation, where an early beat is not a premature one);
    ``rr_pattern_irregularity``: the same, each ``pre_rr`` compared with the
    nearest of the three before it, so that a repeating pattern of ectopic
    beats (bigeminy, trigeminy, runs) keeps it low while atrial fibrillation,
    with no pattern, does not.
    """
    unknown = [k for k in names if k not in RR_FEATURE_NAMES]
    if unknown:
        raise EngineError(
            f"Unknown RR feature(s) {', '.join(unknown)} in the model's preprocessing."
        )
    s = np.asarray(samples, dtype=np.float64)
    n = len(s)
    if n == 0:
        return np.zeros((0, len(names)), dtype=np.float32)
    rr = np.diff(s) / fs
    fill = float(np.median(rr)) if len(rr) else 1.0
    pre = np.concatenate([[fill], rr])
    post = np.concatenate([rr, [fill]])
    csum = np.concatenate([[0.0], np.cumsum(pre)])
    idx = np.arange(n)
    lo = np.maximum(idx - 9, 0)
    local = (csum[idx + 1] - csum[lo]) / (idx + 1 - lo)
    glob = np.full(n, float(np.mean(rr)) if len(rr) else fill)
    cmed = np.maximum(_centred_median(pre, 101), 1e-6)
    table = {
        "pre_rr": pre,
        "post_rr": post,
        "local_rr": local,
        "global_rr": glob,
        "pre_rr_ratio": pre / np.maximum(local, 1e-6),
        "post_rr_ratio": post / np.maximum(local, 1e-6),
        "pre_rr_global_ratio": pre / np.maximum(glob, 1e-6),
        "post_rr_global_ratio": post / np.maximum(glob, 1e-6),
        "local_rr_global_ratio": local / np.maximum(glob, 1e-6),
        "pre_post_ratio": pre / np.maximum(post, 1e-6),
        "cmed_rr": cmed,
        "pre_rr_cmed_ratio": pre / cmed,
        "post_rr_cmed_ratio": post / cmed,
    }

    def change(k: int) -> np.ndarray:
        """``|pre_rr - pre_rr k beats before|`` (0 for the first ``k`` beats)."""
        return np.abs(pre - np.concatenate([pre[:k], pre[:-k]]))

    # The irregularities each need a running median of their own: only when asked for.
    if "rr_irregularity" in names:
        table["rr_irregularity"] = _centred_median(change(1), 101) / cmed
    if "rr_pattern_irregularity" in names:
        nearest = np.minimum.reduce([change(k) for k in (1, 2, 3)])
        table["rr_pattern_irregularity"] = _centred_median(nearest, 101) / cmed
    return (
        np.stack([table[k] for k in names], axis=1).astype(np.float32)
        if names
        else (np.zeros((n, 0), dtype=np.float32))
    )


def morph_features(windows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Each beat compared with the record's own median beat (patient-adaptive).

    ``template_corr``: Pearson correlation with the median beat;
    ``template_rmsd``: RMS difference divided by the median beat's RMS;
    ``ptp_ratio``: peak-to-peak amplitude over the median beat's.
    """
    n = len(windows)
    if n == 0:
        return np.zeros((0, len(names)), dtype=np.float32)
    w = np.asarray(windows, dtype=np.float64)
    template = np.median(w, axis=0)
    tc = template - template.mean()
    wc = w - w.mean(axis=1, keepdims=True)
    denom = np.sqrt((wc**2).sum(axis=1) * (tc**2).sum()) + 1e-9
    t_rms = float(np.sqrt(np.mean(template**2))) + 1e-9
    table = {
        "template_corr": (wc @ tc) / denom,
        "template_rmsd": np.sqrt(np.mean((w - template) ** 2, axis=1)) / t_rms,
        "ptp_ratio": np.ptp(w, axis=1) / (float(np.ptp(template)) + 1e-9),
    }
    return np.stack([table[k] for k in names], axis=1).astype(np.float32)


def _align_beats(y: np.ndarray, centres: np.ndarray, spec: SignalSpec) -> np.ndarray:
    """Window centres moved onto the record's own median beat (``beat_align``).

    A QRS detector's peak can jump between two deflections of a wide complex
    (in MIT-BIH record 109 it moves 50 ms for the last minutes), so the same
    normal beat lands at another place in its window and looks ectopic.
    ``template``: each window is shifted by up to ``max_shift_s`` to where it
    correlates best with the median beat, when that correlation reaches
    ``min_corr`` (other beats, ectopic ones among them, stay put); two passes,
    the second against the median of the aligned beats.
    """
    if spec.beat_align.get("method", "none") == "none":
        return centres
    shift = round(float(spec.beat_align["max_shift_s"]) * spec.fs)
    min_corr = float(spec.beat_align["min_corr"])
    if len(centres) == 0 or shift == 0:
        return centres
    before, width = spec.before, spec.window
    lo = before + shift
    padded = np.pad(y.astype(np.float32), (lo, spec.after + shift), mode="edge")
    wide = padded[centres[:, None] + np.arange(width + 2 * shift)[None, :]]
    # Each lag's window norm (after removing its mean), from running sums.
    norms = np.empty((len(centres), 2 * shift + 1), dtype=np.float32)
    for start in range(0, len(centres), 8192):
        part = wide[start : start + 8192].astype(np.float64)
        c1 = np.concatenate([np.zeros((len(part), 1)), np.cumsum(part, axis=1)], 1)
        c2 = np.concatenate([np.zeros((len(part), 1)), np.cumsum(part * part, axis=1)], 1)
        s1, s2 = c1[:, width:] - c1[:, :-width], c2[:, width:] - c2[:, :-width]
        norms[start : start + 8192] = np.sqrt(np.maximum(s2 - s1 * s1 / width, 0.0))
    flat = norms <= 1e-6  # a flat stretch (lead off) matches nothing
    norms[flat] = 1.0
    lags = np.zeros(len(centres), dtype=np.int64)
    rows = np.arange(len(centres))
    for _ in range(2):
        current = wide[rows[:, None], (lags + shift)[:, None] + np.arange(width)[None, :]]
        template = np.median(current - current.mean(axis=1, keepdims=True), axis=0)
        template = template - template.mean()
        norm = float(np.linalg.norm(template))
        if norm <= 1e-9:
            return centres
        template = (template / norm).astype(np.float32)
        # The template sums to zero, so a window's mean does not change its dot product.
        corr = np.stack([wide[:, k : k + width] @ template for k in range(2 * shift + 1)], 1)
        corr /= norms
        corr[flat] = 0.0
        best = corr.argmax(axis=1)
        lags = np.where(corr[rows, best] >= min_corr, best - shift, 0)
    return np.clip(centres + lags, 0, max(len(y) - 1, 0))


def _correct_amplitude_drift(windows: np.ndarray, drift: Mapping[str, Any]) -> np.ndarray:
    """Undo slow amplitude changes within a record (``amplitude_drift``).

    ``running-median``: each window is scaled by the record's median
    peak-to-peak amplitude over the median of the ``beats`` beats centred on
    it, so a change of electrode contact or posture part-way through a
    recording does not make its normal beats look ectopic, while the record's
    own amplitude (which differs between patients and matters) is kept.
    """
    if drift.get("method", "none") == "none" or len(windows) == 0:
        return windows
    ptp = np.ptp(windows, axis=1).astype(np.float64)
    overall = float(np.median(ptp))
    if overall <= 1e-6:
        return windows
    local = _centred_median(ptp, int(drift["beats"]))
    return (windows * (overall / np.maximum(local, overall * 1e-3))[:, None]).astype(np.float32)


def find_beats(signal: SignalLike, lead: int) -> tuple[np.ndarray, str]:
    """Beat (R-peak) sample positions in ``signal``, from the engine's QRS detector.

    A record's reference annotations (e.g. a MIT-BIH ``.atr``) are never used
    as input: models run on the engine's own detections, as in the clinic,
    where no reference exists. Pass ``beats=`` to score given positions.
    """
    from engine.ecg import detect_qrs

    found = detect_qrs(np.asarray(signal.data[lead], dtype=np.float32), float(signal.fs))
    return np.unique(np.asarray(found, dtype=np.int64).reshape(-1)), "detected"


@dataclass(frozen=True, eq=False)
class PreparedBeats:
    """Beat windows and RR features ready for a beat model.

    ``samples`` are the R peaks in the source signal's samples;
    ``model_samples`` the centres of the windows at the model's rate, where
    ``filtered`` is the resampled, baseline-corrected lead (length
    ``n_model``): the same peaks, or the peaks aligned to the record's median
    beat when the bundle declares ``beat_align``.
    """

    windows: np.ndarray
    rr: np.ndarray
    samples: np.ndarray
    model_samples: np.ndarray
    filtered: np.ndarray
    lead: str
    fs_source: float
    fs_model: float
    n_source: int
    beat_source: str
    input_hash: str
    template: np.ndarray | None = None

    @property
    def n_beats(self) -> int:
        return len(self.samples)


def prepare_beats(
    signal: SignalLike, spec: SignalSpec, beats: Sequence[int] | np.ndarray | None = None
) -> PreparedBeats:
    """Everything :class:`SignalSpec` declares, from a signal to beat windows.

    Windows that reach past either end of the record are padded with the
    edge value, so every beat gets an output.
    """
    lead = select_lead(signal, spec.leads)
    x = np.asarray(signal.data[lead], dtype=np.float32)
    fs_src = float(signal.fs)
    if beats is None:
        samples, source = find_beats(signal, lead)
    else:
        samples, source = np.asarray(beats, dtype=np.int64).reshape(-1), "given"
    samples = np.unique(samples[(samples >= 0) & (samples < len(x))])
    y = resample(x, fs_src, spec.fs)
    y = remove_baseline(y, spec.fs, spec.baseline)
    model_samples = np.clip(
        np.rint(samples * (spec.fs / fs_src)).astype(np.int64), 0, max(len(y) - 1, 0)
    )
    model_samples = _align_beats(y, model_samples, spec)
    pad_before, pad_after = spec.before, spec.after
    padded = np.pad(y, (pad_before, pad_after), mode="edge") if len(y) else y
    if len(samples):
        offsets = np.arange(-spec.before, spec.after)
        windows = padded[model_samples[:, None] + offsets[None, :] + pad_before]
    else:
        windows = np.zeros((0, spec.window), dtype=np.float32)
    windows = _correct_amplitude_drift(windows, spec.amplitude_drift)
    if spec.beat_normalise == "demean":
        windows = windows - windows.mean(axis=1, keepdims=True)
    elif spec.beat_normalise == "zscore":
        windows = (windows - windows.mean(axis=1, keepdims=True)) / (
            windows.std(axis=1, keepdims=True) + 1e-6
        )
    elif spec.beat_normalise == "record":
        windows = windows - windows.mean(axis=1, keepdims=True)
        if len(windows):
            scale = float(np.median(np.ptp(windows, axis=1)))
            windows = windows / max(scale, 1e-3)
    template = None
    if spec.beat_template == "median":
        # The record's own median beat (patient-adaptive morphology): the
        # network compares each beat with it.
        template = (np.median(windows, axis=0) if len(windows) else np.zeros(spec.window)).astype(
            np.float32
        )
    elif spec.beat_template != "none":
        raise EngineError(
            f"Unknown beat template {spec.beat_template!r} in the model's preprocessing."
        )
    rr = rr_features(samples, fs_src, spec.rr_features)
    if spec.morph_features:
        rr = np.concatenate([rr, morph_features(windows, spec.morph_features)], axis=1)
    if spec.rr_mean and spec.rr_std:
        rr = (rr - np.asarray(spec.rr_mean, np.float32)) / np.asarray(spec.rr_std, np.float32)
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(x).data)
    digest.update(samples.tobytes())
    return PreparedBeats(
        windows=np.ascontiguousarray(windows, dtype=np.float32),
        rr=np.ascontiguousarray(rr, dtype=np.float32),
        samples=samples,
        model_samples=model_samples,
        filtered=y,
        lead=str(signal.leads[lead]),
        fs_source=fs_src,
        fs_model=spec.fs,
        n_source=len(x),
        beat_source=source,
        input_hash=digest.hexdigest(),
        template=template,
    )

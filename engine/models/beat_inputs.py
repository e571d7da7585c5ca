"""Beat-model inputs, declared in the manifest: from an ECG signal to beat windows and RR features.

Pick the lead → resample to the model's rate → remove the baseline as
declared → beat positions (given, or from the ECG package's detector) →
align the windows to the record's median beat and undo slow amplitude drift
as declared → one window per beat centred on the R peak → RR-interval
features, standardised with the manifest's mean/std. The desktop, the
command line and the training pipeline all call :func:`prepare_beats`, so a
model sees the same input whichever way it is fed.

Signal processing the ECG package also does is its
(:mod:`engine.ecg.filters`, :func:`engine.ecg.signal.normalize_lead_name`);
what a model was trained with and the ECG package does differently is fixed
here by name (:data:`RESAMPLE_PADTYPE`, :func:`highpass_baseline`): frozen
with the model; do not change without retraining.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from engine.errors import EngineError, InputRejectedError


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
    #: ``{"min_mv": a, "max_mv": b}``: the record amplitudes the network was trained on; a
    #: record outside is scaled to the nearer bound (empty: none).
    amplitude_range: Mapping[str, Any] = field(default_factory=dict)
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
        if self.amplitude_range:
            try:
                lo, hi = (float(self.amplitude_range[k]) for k in ("min_mv", "max_mv"))
            except (KeyError, TypeError, ValueError) as exc:
                raise EngineError(
                    "The model's amplitude range needs numbers “min_mv” and “max_mv”."
                ) from exc
            if not 0 < lo < hi:
                raise EngineError("The model's amplitude range is empty or not positive.")

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
            amplitude_range=dict(pre.get("amplitude_range", {})),
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


def select_lead(signal: SignalLike, wanted: Sequence[str]) -> int:
    """Index of the first of ``wanted`` leads present in ``signal`` (any usual spelling).

    Lead names are compared as :func:`engine.ecg.signal.normalize_lead_name`
    gives them (``"Lead II (Einthoven)"``, ``"ii"`` and ``"2"`` are ``II``).

    Raises
    ------
    InputRejectedError
        Naming the leads needed and those present.
    """
    from engine.ecg.signal import normalize_lead_name

    present = [normalize_lead_name(n).lower() for n in signal.leads]
    for name in wanted:
        key = normalize_lead_name(name).lower()
        if key in present:
            return present.index(key)
    raise InputRejectedError(
        f"This ECG has none of the leads the model needs ({', '.join(wanted)}); "
        f"its leads are {', '.join(signal.leads) or 'unnamed'}.",
    )


#: How the model-input resampler extends the signal past its ends: zeros, as
#: the shipped beat model's training inputs were resampled (scipy's default);
#: the ECG package's own resampling (for display, measurement) continues the
#: end trend instead (``"line"``), which changes the first and last ~50 ms.
#: Frozen with the model; do not change without retraining.
RESAMPLE_PADTYPE = "constant"


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling (anti-aliased) along the last axis, float32.

    :func:`engine.ecg.filters.resample` with the models' frozen edge padding
    (:data:`RESAMPLE_PADTYPE`).
    """
    from engine.ecg.filters import resample as ecg_resample

    return ecg_resample(x, fs_in, fs_out, padtype=RESAMPLE_PADTYPE)[0]


def remove_baseline(x: np.ndarray, fs: float, spec: Mapping[str, Any]) -> np.ndarray:
    """Baseline-wander removal as declared: ``none``, ``median`` or ``highpass``.

    ``median`` is :func:`engine.ecg.filters.remove_baseline`'s: a 200 ms then
    600 ms median-filtered baseline subtracted (de Chazal et al. 2004;
    ``windows_s`` overrides); ``highpass`` is :func:`highpass_baseline`
    (``cutoff_hz``, ``order``).
    """
    method = spec.get("method", "none")
    x = np.asarray(x, dtype=np.float32)
    if method == "none":
        return x
    if method == "median":
        from engine.ecg.filters import remove_baseline as ecg_remove_baseline

        windows = tuple(float(w) for w in spec.get("windows_s", (0.2, 0.6)))
        return ecg_remove_baseline(x, fs, method="median", windows_s=windows)
    if method == "highpass":
        return highpass_baseline(
            x, fs, float(spec.get("cutoff_hz", 0.5)), int(spec.get("order", 2))
        )
    raise EngineError(f"Unknown baseline method {method!r} in the model's preprocessing.")


def highpass_baseline(x: np.ndarray, fs: float, cutoff_hz: float, order: int) -> np.ndarray:
    """The ``highpass`` baseline of a bundle's declared preprocessing.

    A zero-phase Butterworth high-pass of ``order`` at ``cutoff_hz``, the
    signal extended by three periods of the cutoff (odd extension) before
    filtering. This is not :func:`engine.ecg.filters.remove_baseline`'s
    high-pass (order 2, 1 s of extension): bundles that declare ``highpass``
    were trained with this one. Frozen with the model; do not change without
    retraining (none of the shipped models uses it).
    """
    from scipy import signal as sps

    sos = sps.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    pad = min(len(x) - 1, int(3 * fs / cutoff_hz))
    y = sps.sosfiltfilt(sos, np.asarray(x, dtype=np.float64), padlen=max(pad, 0))
    return y.astype(np.float32)


RR_FEATURE_NAMES = (
    "pre_rr", "post_rr", "local_rr", "global_rr", "pre_rr_ratio", "post_rr_ratio",
    "pre_rr_global_ratio", "post_rr_global_ratio", "local_rr_global_ratio", "pre_post_ratio",
    "cmed_rr", "pre_rr_cmed_ratio", "post_rr_cmed_ratio", "rr_irregularity",
    "rr_pattern_irregularity", "slow_rr", "pre_rr_slow_ratio", "post_rr_slow_ratio",
)  # fmt: skip
#: ``slow_rr``: this percentile of ``pre_rr`` over the beats centred on each (S-beat plan, D).
SLOW_PERCENTILE, SLOW_BEATS = 80, 301


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
    with no pattern, does not. ``slow_rr``: the 80th percentile of ``pre_rr``
    over the 301 beats centred on the beat (fewer in short records), the
    patient's slower, sinus intervals even where ectopic beats are most of the
    beats and set ``cmed_rr``; ``*_slow_ratio``: divided by ``slow_rr``.
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
    if {"slow_rr", "pre_rr_slow_ratio", "post_rr_slow_ratio"} & set(names):
        from scipy.ndimage import percentile_filter

        size = min(SLOW_BEATS, 2 * ((n - 1) // 2) + 1)
        slow = np.maximum(percentile_filter(pre, SLOW_PERCENTILE, size=size, mode="nearest"), 1e-6)
        table["slow_rr"] = slow
        table["pre_rr_slow_ratio"] = pre / slow
        table["post_rr_slow_ratio"] = post / slow
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
    overall = record_amplitude(windows)
    if overall <= 1e-6:
        return windows
    local = _centred_median(ptp, int(drift["beats"]))
    return (windows * (overall / np.maximum(local, overall * 1e-3))[:, None]).astype(np.float32)


def record_amplitude(windows: np.ndarray) -> float:
    """A record's amplitude: the median peak-to-peak of its beat windows (mV; ``nan`` without
    beats). One measure for the drift correction, the model's amplitude range and its bounds."""
    if not len(windows):
        return float("nan")
    return float(np.median(np.ptp(windows, axis=1).astype(np.float64)))


def amplitude_scale(amplitude: float, bounds: Mapping[str, Any]) -> float:
    """The factor that brings a record's ``amplitude`` (mV) into ``bounds``
    (``min_mv``/``max_mv``; 1 inside them, without bounds or without an amplitude)."""
    if not bounds or not np.isfinite(amplitude) or amplitude <= 1e-6:
        return 1.0
    lo, hi = float(bounds["min_mv"]), float(bounds["max_mv"])
    return lo / amplitude if amplitude < lo else hi / amplitude if amplitude > hi else 1.0


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
    #: The record's amplitude (median peak-to-peak of its windows, mV) and the factor its
    #: windows were scaled by to bring it into the model's amplitude range (1: not scaled).
    amplitude_mv: float = float("nan")
    amplitude_scale: float = 1.0

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
    amplitude = record_amplitude(windows)
    scale = amplitude_scale(amplitude, spec.amplitude_range)
    if scale != 1.0:
        windows = (windows * scale).astype(np.float32)
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
        amplitude_mv=amplitude,
        amplitude_scale=scale,
    )

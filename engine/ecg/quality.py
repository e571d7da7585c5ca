"""Where an ECG trace looks like noise rather than heartbeats (kSQI).

The kurtosis of a clean ECG is high: most samples sit near the baseline and
the QRS complexes stand out as rare, tall peaks. Noise, a lead that is off,
and rhythms without separate beats (flutter, a very fast run) are far less
peaked. kSQI (Li, Mark & Clifford, Physiol Meas 2008) calls a stretch clean
when its kurtosis (Pearson's, 3 for a normal distribution) is above 5.

Measured for the beat model on its own filtered lead, 10-s stretches
(docs/experiments/beat-signal-quality.md): 1.5 % of the stretches of its 84
design records are below 5 (most in svdb 801 and 865, and in 207's
ventricular flutter), every stretch of 60 synthetic noise traces is. A clean
trace whose T waves are as tall as its narrow QRS complexes is not peaked
either: 20 of 72 stretches of the clean clinical 12-lead records in the shared
data (PTB ``s0010_re``'s inferior leads) fall below 5, so the warning names
that cause too. Stretches that lie mostly in a gap of the file (no valid
sample) are not judged: the gap warning names them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import InputRejectedError

#: A stretch is noise-like below this kurtosis (Li, Mark & Clifford 2008).
KURTOSIS_BOUND = 5.0
#: Length of the stretches the kurtosis is taken over.
STRETCH_S = 10.0
#: A result's warning when stretches look like noise (the desktop translates it by this pattern).
NOISE_WARNING = (
    "{share:.0%} of “{name}” ({n} of {total} 10-s stretches) looks like noise rather than "
    "separate heartbeats (lead off, artefact, flutter, a very fast rhythm, or T waves as tall as "
    "narrow QRS complexes): beat labels there are unreliable; read the trace."
)


@dataclass(frozen=True)
class NoiseStretches:
    """The 10-s stretches of a trace whose kurtosis is below the bound."""

    stretches: int
    noisy: tuple[tuple[float, float], ...]

    @property
    def share(self) -> float:
        return len(self.noisy) / self.stretches if self.stretches else 0.0

    def to_json(self, limit: int = 200) -> dict[str, object]:
        return {
            "method": "kurtosis",
            "bound": KURTOSIS_BOUND,
            "stretch_s": STRETCH_S,
            "stretches": self.stretches,
            "noise_like": len(self.noisy),
            "share": round(self.share, 4),
            "noise_like_s": [[round(a, 1), round(b, 1)] for a, b in self.noisy[:limit]],
        }


#: A result's warning when stretches of the lead read hold no signal: the file holds no valid
#: samples there (WFDB's invalid-sample value; the readers fill them in by straight lines so
#: that filters run), or the lead repeats one value for a second or more (a flat line: a lead
#: off, a recorder that held or clipped; :data:`engine.ecg.signal.FLAT_MIN_S`).
GAP_WARNING = (
    "{seconds:.1f} s of lead {lead} of “{name}” hold no signal ({n} stretch(es) of missing "
    "samples or a perfectly flat line: lead off or a recorder fault): no beat is found there and "
    "no pause or heart rate is taken across them; read the trace there and around them."
)


#: A rhythm result's warning when the beat model's kurtosis check found noise-like stretches in
#: the rhythm lead: the report's beats there are what the QRS detector made of noise.
RHYTHM_NOISE_WARNING = (
    "{seconds:.0f} s ({share:.0%}) of lead {lead} of “{name}” look like noise rather than "
    "separate heartbeats (lead off, artefact, flutter, a very fast rhythm, or T waves as tall as "
    "narrow QRS complexes): the beats, heart rate, pauses and ectopic counts found there are "
    "unreliable; read the trace there."
)
#: A rhythm result's warning when its rhythm label is ``noisy``.
NOISY_RHYTHM_WARNING = (
    "Model “{model}” reads “{name}” as too noisy to name its rhythm: the heart rate, pauses and "
    "ectopic counts of its report come from what the QRS detector found in the noise; read the "
    "trace, and record again if you can."
)


AMPLITUDE_WARNING = (
    "The QRS amplitude of lead {lead} of “{name}” ({amplitude} mV) lies outside the "
    "amplitudes model “{model}” was trained on ({low:.2f}–{high:.2f} mV): its beats were scaled "
    "×{scale} for the model. Low-voltage QRS, another lead or a wrong gain in the file can "
    "cause this; check the trace's calibration before relying on V and S labels."
)


def amount(x: float) -> str:
    """A positive amount for :data:`AMPLITUDE_WARNING`: two decimals, or two significant
    digits below 0.1 (a gain a thousand times wrong gave "0.00 mV" and "×0.00")."""
    if x >= 0.095 or x <= 0:
        return f"{x:.2f}"
    return np.format_float_positional(x, precision=2, fractional=False, trim="-")


def gap_warning(gaps: tuple[tuple[float, float], ...], lead: str, name: str) -> str:
    """:data:`GAP_WARNING` for the stretches ``gaps`` (seconds) of ``lead`` of ``name``."""
    seconds = sum(b - a for a, b in gaps)
    return GAP_WARNING.format(seconds=seconds, n=len(gaps), lead=lead, name=name)


def no_beats_error(name: str, lead: str, seconds: float, model_id: str) -> InputRejectedError:
    """The refusal of a trace where the QRS detector found no heartbeat: a model that would
    otherwise name a rhythm or a beat class for it gives none."""
    return InputRejectedError(
        f"No heartbeats were found in “{name}” (lead {lead}, {seconds:.0f} s): the trace may be "
        f"flat, disconnected or all noise. Check the recording; model “{model_id}” has nothing "
        "to classify."
    )


def noise_stretches(
    x: np.ndarray, fs: float, gaps: tuple[tuple[float, float], ...] = ()
) -> NoiseStretches:
    """The consecutive :data:`STRETCH_S` stretches of ``x`` (a filtered lead, baseline
    removed) whose kurtosis is below :data:`KURTOSIS_BOUND`; a shorter tail counts as a
    stretch when it is at least half as long. A flat stretch (no variance) is noise-like.

    A stretch at least half of which lies in ``gaps`` (seconds; the file held no valid
    sample there, see :func:`engine.ecg.signal.fill_gaps`) is not judged and not counted:
    the filled-in line says nothing about noise."""
    y = np.asarray(x, dtype=np.float64)
    n = round(STRETCH_S * fs)
    if n < 2:
        return NoiseStretches(0, ())
    in_gap = np.zeros(len(y), dtype=bool)
    for a, b in gaps:
        in_gap[max(0, round(a * fs)) : max(0, round(b * fs))] = True
    starts = [
        s
        for s in range(0, len(y), n)
        if len(y) - s >= n // 2 and 2 * int(in_gap[s : s + n].sum()) < min(n, len(y) - s)
    ]
    noisy = []
    for s in starts:
        seg = y[s : s + n] - y[s : s + n].mean()
        var = float(np.mean(seg**2))
        kurt = float(np.mean(seg**4)) / var**2 if var > 1e-12 else 0.0
        if kurt < KURTOSIS_BOUND:
            noisy.append((s / fs, min(len(y), s + n) / fs))
    return NoiseStretches(len(starts), tuple(noisy))

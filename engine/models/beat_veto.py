"""Withdrawing a beat network's V label from beats shaped like the patient's dominant beat.

A ventricular ectopic beat (V) is conducted abnormally, so its QRS differs
from that of the patient's own supraventricular beats. A network that has
seen few patients can still call a normal beat V because of its timing, its
noise or a slow change in shape (in leave-records-out validation on MIT-BIH
DS1, most false V were normal beats of record 203, whose QRS matched the
record's median beat almost exactly).

A bundle declares the step in its manifest's ``postprocessing`` list::

    {"method": "qrs-template-veto", "label": "V", "window_s": [-0.07, 0.08],
     "min_correlation": r, "min_template_beats": 8}

For each record, the template is the median of the windows of the beats the
network does not label ``label``; when at least ``min_template_beats`` of
them are left, each beat labelled ``label`` whose window correlates with the
template at ``r`` or above over ``window_s`` around the R peak (Pearson, so
gain and offset do not matter) loses its ``label`` probability, the rest
renormalised. With fewer beats (a record of nearly all V beats) nothing
changes: there is no dominant conducted beat to compare with.

The block may add ``"spare_compensated": {"pre_below": a, "pause_within": w,
"max_irregularity": g}``: the veto then leaves V on a beat that came early
(its interval from the previous beat under ``a`` of the patient's rhythm, the
median of the 101 centred intervals) and was followed by a full compensatory
pause (its two intervals add up to two of the patient's cycles within ``w``)
while the rhythm was regular (its ``rr_pattern_irregularity`` at most ``g``;
without ``g``, in any rhythm). That is the textbook timing of a ventricular
ectopic beat, which does not reset the sinus node; a supraventricular one
usually does, and in atrial fibrillation there is no cycle to compensate. In
leave-one-record-out validation on MIT-BIH DS1 the veto had taken V from such
beats of record 223, whose QRS in MLII differs from the dominant beat less than
their ST–T does.

A second step withdraws the label from beats that were conducted from the
atria however wide their QRS (aberrant conduction, pre-excitation): a
ventricular ectopic beat comes early (or late, as an escape beat) and is not
preceded by the patient's P wave. In leave-records-out validation most false
V that the first step left were record 230's normal beats in its
pre-excitation (Wolff–Parkinson–White) episodes::

    {"method": "conducted-beat-veto", "label": "V", "p_window_s": [-0.25, -0.08],
     "max_rr_deviation": d, "min_p_correlation": p, "min_template_beats": 8,
     "withdraw": ["V", "F", "Q"]}

A beat labelled ``label`` loses the ``withdraw`` labels (default: ``label``
alone; the shipped model withdraws V, F and Q, leaving N and S to a beat
conducted from the atria), the rest renormalised, when its intervals to the
previous and the next beat both lie within ``d`` (a fraction) of the
patient's rhythm (the median of the 101 centred intervals) and its window
before the QRS (``p_window_s`` around the R peak: the P wave) correlates
with the same stretch of the median of the beats not labelled ``label`` at
``p`` or above.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.models.beat_inputs import rr_features
from engine.models.beat_split import step

METHOD = "qrs-template-veto"
CONDUCTED = "conducted-beat-veto"


def correlations(windows: np.ndarray, template: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Pearson correlation of each window's samples ``lo:hi`` with the template's."""
    x = np.asarray(windows, dtype=np.float64)[:, lo:hi]
    x = x - x.mean(axis=1, keepdims=True)
    t = np.asarray(template, dtype=np.float64)[lo:hi]
    t = t - t.mean()
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(t)
    return np.divide(x @ t, den, out=np.zeros(len(x)), where=den > 0)


def _read_common(block: Mapping[str, Any], method: str, labels: Sequence[str]) -> tuple[str, int]:
    """A veto block's method check, its ``label`` and its ``min_template_beats``."""
    if block.get("method") != method:
        raise ValueError(f"unknown postprocessing method {block.get('method')!r}")
    label = str(block.get("label", ""))
    if label not in labels:
        raise ValueError(f"the veto's label {label!r} is not one of the outputs {list(labels)}")
    n = block.get("min_template_beats", 8)
    if not isinstance(n, int) or n < 1:
        raise ValueError("“min_template_beats” must be a positive whole number")
    return label, n


def _read_window(block: Mapping[str, Any], key: str) -> tuple[float, float]:
    window = [float(v) for v in block.get(key, ())]
    if len(window) != 2 or not all(map(math.isfinite, window)) or window[0] >= window[1]:
        raise ValueError(f"“{key}” must be two finite seconds, the first below the second")
    return window[0], window[1]


def _read_bound(block: Mapping[str, Any], key: str) -> float:
    r = float(block.get(key, math.nan))
    if not -1.0 < r < 1.0:
        raise ValueError(f"“{key}” must lie strictly between -1 and 1")
    return r


def _span(window_s: tuple[float, float], before: int, fs: float, window: int) -> tuple[int, int]:
    """The samples of a window (R peak at index ``before``) that ``window_s`` covers."""
    lo = max(0, before + round(window_s[0] * fs))
    hi = min(window, before + round(window_s[1] * fs))
    if hi - lo < 3:
        raise ValueError(
            f"the veto's window {list(window_s)} s leaves under 3 samples at {fs:g} Hz"
        )
    return lo, hi


def _withdraw(
    probs: np.ndarray, columns: list[int], candidates: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``probs`` with the classes ``columns`` taken from the ``candidates`` (the rest
    renormalised) and which beats lost them; a beat with no probability left for another
    class keeps its own."""
    vetoed = candidates & (1.0 - probs[:, columns].sum(axis=1) > 0)
    out = probs.copy()
    out[np.ix_(vetoed, columns)] = 0.0
    out[vetoed] /= out[vetoed].sum(axis=1, keepdims=True)
    return out.astype(np.float32), vetoed


class _Veto:
    """What both vetoes share: one stretch of each beat window compared with the same
    stretch of the median of the beats not labelled ``label``, and :meth:`apply`, which
    takes the :meth:`withdrawn` labels from the beats each veto's :meth:`select` picks."""

    label: str
    min_template_beats: int

    def stretch(self) -> tuple[float, float]:
        """The compared seconds around the R peak."""
        raise NotImplementedError

    def span(self, before: int, fs: float, window: int) -> tuple[int, int]:
        """The compared samples of a window whose R peak is at index ``before``."""
        return _span(self.stretch(), before, fs, window)

    def similarity(
        self, windows: np.ndarray, others: np.ndarray, before: int, fs: float
    ) -> np.ndarray | None:
        """Each window's correlation over :meth:`span` with the median of the ``others``
        windows (``None`` when fewer than ``min_template_beats`` are given)."""
        windows = np.asarray(windows)
        if len(others) < self.min_template_beats:
            return None
        lo, hi = self.span(before, fs, windows.shape[1])
        return correlations(windows, np.median(np.asarray(others), axis=0), lo, hi)

    def select(
        self, called: np.ndarray, r: np.ndarray, samples: np.ndarray, fs_source: float
    ) -> np.ndarray:
        """Which of the beats ``called`` with the label (their :meth:`similarity`: ``r``;
        their R peaks: ``samples`` at ``fs_source``) the veto takes labels from."""
        raise NotImplementedError

    def withdrawn(self, labels: Sequence[str]) -> list[int]:
        """The columns the veto takes away."""
        return [labels.index(self.label)]

    def apply(
        self, probs: np.ndarray, windows: np.ndarray, samples: np.ndarray, fs_source: float,
        before: int, fs: float, labels: Sequence[str],
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """``probs`` (beats × labels) with the veto applied, and which beats it took
        the labels from.

        ``windows`` are the beat windows the network read (beats × samples at
        ``fs``, the R peak at index ``before``); ``samples`` the beats' R peaks
        in the source signal, sampled at ``fs_source``.
        """
        probs = np.asarray(probs, dtype=np.float64)
        called = probs.argmax(axis=1) == labels.index(self.label)
        # Compared with the median of the beats not called the label (none to compare
        # when no beat has it, or too few are left for the median).
        r = (
            self.similarity(windows, np.asarray(windows)[~called], before, fs)
            if called.any()
            else None
        )
        if r is None:
            return probs.astype(np.float32), np.zeros(len(probs), dtype=bool)
        where = self.select(called, r, np.asarray(samples), fs_source)
        return _withdraw(probs, self.withdrawn(labels), where)


@dataclass(frozen=True)
class Compensated:
    """The ``spare_compensated`` block of a ``qrs-template-veto`` step: premature beats
    followed by a full compensatory pause, in a regular rhythm (see the module docstring)."""

    pre_below: float
    pause_within: float
    max_irregularity: float = math.inf

    @classmethod
    def read(cls, block: Any) -> Compensated:
        """Read and check the block; a ValueError says what is wrong."""
        if not isinstance(block, Mapping):
            raise ValueError(
                "“spare_compensated” must be an object with “pre_below” and “pause_within”"
            )
        pre = float(block.get("pre_below", math.nan))
        if not 0.0 < pre < 1.0:
            raise ValueError("“pre_below” must lie strictly between 0 and 1")
        within = float(block.get("pause_within", math.nan))
        if not 0.0 < within < 1.0:
            raise ValueError("“pause_within” must lie strictly between 0 and 1")
        top = float(block.get("max_irregularity", math.inf))
        if not top >= 0.0:
            raise ValueError("“max_irregularity” must be a number of at least 0")
        return cls(pre, within, top)

    def to_manifest(self) -> dict[str, Any]:
        out = {"pre_below": float(self.pre_below), "pause_within": float(self.pause_within)}
        if math.isfinite(self.max_irregularity):
            out["max_irregularity"] = float(self.max_irregularity)
        return out

    def spared(self, samples: np.ndarray, fs: float) -> np.ndarray:
        """Whether each beat came early and was followed by a full compensatory pause in a
        regular enough rhythm."""
        names = ["pre_rr_cmed_ratio", "post_rr_cmed_ratio", "rr_pattern_irregularity"]
        pre, post, irregularity = rr_features(samples, fs, names).astype(np.float64).T
        return (
            (pre < self.pre_below)
            & (np.abs(pre + post - 2.0) < 2.0 * self.pause_within)
            & (irregularity <= self.max_irregularity)
        )

    def sentence(self, label: str) -> str:
        """What a result's note says about the spared beats (plain words; numbers on the card)."""
        rhythm = " while the rhythm is regular" if math.isfinite(self.max_irregularity) else ""
        return (
            f"Beats that come early and are followed by a full compensatory pause keep "
            f"{label}{rhythm}: that is the timing of a ventricular ectopic beat."
        )


@dataclass(frozen=True)
class TemplateVeto(_Veto):
    """A declared ``qrs-template-veto`` step (see the module docstring)."""

    label: str
    window_s: tuple[float, float]
    min_correlation: float
    min_template_beats: int = 8
    spare: Compensated | None = None  # the beats whose timing keeps their V

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any], labels: Sequence[str]) -> TemplateVeto:
        """Read and check one ``postprocessing`` step.

        Raises
        ------
        ValueError
            With a sentence saying what is wrong with the block.
        """
        label, n = _read_common(block, METHOD, labels)
        window, bound = _read_window(block, "window_s"), _read_bound(block, "min_correlation")
        spare = block.get("spare_compensated")
        return cls(label, window, bound, n, None if spare is None else Compensated.read(spare))

    def to_manifest(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "label": self.label,
            "window_s": [float(v) for v in self.window_s],
            "min_correlation": float(self.min_correlation),
            "min_template_beats": int(self.min_template_beats),
            **({} if self.spare is None else {"spare_compensated": self.spare.to_manifest()}),
        }

    def stretch(self) -> tuple[float, float]:
        return self.window_s

    def select(
        self, called: np.ndarray, r: np.ndarray, samples: np.ndarray, fs_source: float
    ) -> np.ndarray:
        """The beats called V whose QRS matches the dominant beat, less any ``spare``."""
        where = called & (r >= self.min_correlation)
        if where.any() and self.spare is not None:
            where &= ~self.spare.spared(samples, fs_source)
        return where

    def note(self, n_vetoed: int, n_beats: int) -> str:
        """The sentence a result carries when the veto took the label from ``n_vetoed`` beats.

        Plain words for the clinician; the bounds are on the model card.
        """
        return (
            f"{n_vetoed:,} of {n_beats:,} beats that the network called {self.label} lost that "
            "label: their QRS has the shape of this patient's usual beat, and a "
            f"{self.label} beat's QRS does not."
            + ("" if self.spare is None else f" {self.spare.sentence(self.label)}")
        )


def from_manifest(manifest: Mapping[str, Any], labels: Sequence[str]) -> TemplateVeto | None:
    """The bundle's declared veto step, or ``None`` when it declares none."""
    block = step(manifest, METHOD)
    return None if block is None else TemplateVeto.from_manifest(block, labels)


@dataclass(frozen=True)
class ConductedVeto(_Veto):
    """A declared ``conducted-beat-veto`` step (see the module docstring)."""

    label: str
    p_window_s: tuple[float, float]
    max_rr_deviation: float
    min_p_correlation: float
    min_template_beats: int = 8
    withdraw: tuple[str, ...] = ()  # the labels taken away; empty: ``label`` alone

    def __post_init__(self) -> None:
        object.__setattr__(self, "withdraw", self.withdraw or (self.label,))

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any], labels: Sequence[str]) -> ConductedVeto:
        """Read and check one ``postprocessing`` step; a ValueError says what is wrong."""
        label, n = _read_common(block, CONDUCTED, labels)
        d = float(block.get("max_rr_deviation", math.nan))
        if not 0.0 < d < 1.0:
            raise ValueError("“max_rr_deviation” must lie strictly between 0 and 1")
        window = _read_window(block, "p_window_s")
        withdraw = block.get("withdraw", [label])
        if (
            not isinstance(withdraw, list)
            or label not in withdraw
            or not set(withdraw) <= set(labels)
            or len(set(withdraw)) == len(labels)
        ):
            raise ValueError(
                f"“withdraw” must list the veto's label {label!r} and other outputs, not all of them"
            )
        bound = _read_bound(block, "min_p_correlation")
        return cls(label, window, d, bound, n, tuple(dict.fromkeys(map(str, withdraw))))

    def to_manifest(self) -> dict[str, Any]:
        return {
            "method": CONDUCTED,
            "label": self.label,
            "p_window_s": [float(v) for v in self.p_window_s],
            "max_rr_deviation": float(self.max_rr_deviation),
            "min_p_correlation": float(self.min_p_correlation),
            "min_template_beats": int(self.min_template_beats),
            "withdraw": list(self.withdraw),
        }

    def stretch(self) -> tuple[float, float]:
        return self.p_window_s

    def on_time(self, samples: np.ndarray, fs: float) -> np.ndarray:
        """Whether each beat's intervals to the previous and the next beat lie within
        ``max_rr_deviation`` of the patient's rhythm (the median of the 101 centred
        intervals): neither premature nor followed by a pause."""
        ratios = rr_features(samples, fs, ["pre_rr_cmed_ratio", "post_rr_cmed_ratio"])
        return np.all(np.abs(ratios.astype(np.float64) - 1.0) < self.max_rr_deviation, axis=1)

    def select(
        self, called: np.ndarray, r: np.ndarray, samples: np.ndarray, fs_source: float
    ) -> np.ndarray:
        """The beats called V that came on time after the dominant beat's P wave."""
        return called & self.on_time(samples, fs_source) & (r >= self.min_p_correlation)

    def withdrawn(self, labels: Sequence[str]) -> list[int]:
        return [labels.index(x) for x in self.withdraw]

    def note(self, n_vetoed: int, n_beats: int) -> str:
        """The sentence a result carries when the veto took the label from ``n_vetoed`` beats.

        Plain words for the clinician; the bounds are on the model card.
        """
        return (
            f"{n_vetoed:,} of {n_beats:,} beats that the network called {self.label} lost that "
            "label: each came on time after this patient's usual P wave, so it was conducted "
            "from the atria; a wide QRS there may be aberrant conduction or pre-excitation."
        )


def conducted_from_manifest(
    manifest: Mapping[str, Any], labels: Sequence[str]
) -> ConductedVeto | None:
    """The bundle's declared conducted-beat veto, or ``None`` when it declares none."""
    block = step(manifest, CONDUCTED)
    return None if block is None else ConductedVeto.from_manifest(block, labels)

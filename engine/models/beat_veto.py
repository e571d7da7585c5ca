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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.models.beat_split import step

METHOD = "qrs-template-veto"


def correlations(windows: np.ndarray, template: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Pearson correlation of each window's samples ``lo:hi`` with the template's."""
    x = np.asarray(windows, dtype=np.float64)[:, lo:hi]
    x = x - x.mean(axis=1, keepdims=True)
    t = np.asarray(template, dtype=np.float64)[lo:hi]
    t = t - t.mean()
    den = np.linalg.norm(x, axis=1) * np.linalg.norm(t)
    return np.divide(x @ t, den, out=np.zeros(len(x)), where=den > 0)


@dataclass(frozen=True)
class TemplateVeto:
    """A declared ``qrs-template-veto`` step (see the module docstring)."""

    label: str
    window_s: tuple[float, float]
    min_correlation: float
    min_template_beats: int = 8

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any], labels: Sequence[str]) -> TemplateVeto:
        """Read and check one ``postprocessing`` step.

        Raises
        ------
        ValueError
            With a sentence saying what is wrong with the block.
        """
        if block.get("method") != METHOD:
            raise ValueError(f"unknown postprocessing method {block.get('method')!r}")
        label = str(block.get("label", ""))
        if label not in labels:
            raise ValueError(f"the veto's label {label!r} is not one of the outputs {list(labels)}")
        window = [float(v) for v in block.get("window_s", ())]
        if len(window) != 2 or not all(map(math.isfinite, window)) or window[0] >= window[1]:
            raise ValueError("“window_s” must be two finite seconds, the first below the second")
        r = float(block.get("min_correlation", math.nan))
        if not -1.0 < r < 1.0:
            raise ValueError("“min_correlation” must lie strictly between -1 and 1")
        n = block.get("min_template_beats", 8)
        if not isinstance(n, int) or n < 1:
            raise ValueError("“min_template_beats” must be a positive whole number")
        return cls(label, (window[0], window[1]), r, n)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "label": self.label,
            "window_s": [float(v) for v in self.window_s],
            "min_correlation": float(self.min_correlation),
            "min_template_beats": int(self.min_template_beats),
        }

    def span(self, before: int, fs: float, window: int) -> tuple[int, int]:
        """The compared samples of a window whose R peak is at index ``before``."""
        lo = max(0, before + round(self.window_s[0] * fs))
        hi = min(window, before + round(self.window_s[1] * fs))
        if hi - lo < 3:
            raise ValueError(
                f"the veto's window {list(self.window_s)} s leaves under 3 samples at {fs:g} Hz"
            )
        return lo, hi

    def similarity(
        self, windows: np.ndarray, others: np.ndarray, before: int, fs: float
    ) -> np.ndarray | None:
        """Each window's QRS correlation with the median of the ``others`` windows
        (``None`` when fewer than ``min_template_beats`` are given)."""
        windows = np.asarray(windows)
        if len(others) < self.min_template_beats:
            return None
        lo, hi = self.span(before, fs, windows.shape[1])
        return correlations(windows, np.median(np.asarray(others), axis=0), lo, hi)

    def apply(
        self, probs: np.ndarray, windows: np.ndarray, before: int, fs: float,
        labels: Sequence[str],
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """``probs`` (beats × labels) with the veto applied, and which beats it took
        the label from.

        ``windows`` are the beat windows the network read (beats × samples at
        ``fs``, the R peak at index ``before``).
        """
        probs = np.asarray(probs, dtype=np.float64)
        vetoed = np.zeros(len(probs), dtype=bool)
        if len(probs) == 0:
            return probs.astype(np.float32), vetoed
        k = labels.index(self.label)
        called = probs.argmax(axis=1) == k
        r = self.similarity(windows, np.asarray(windows)[~called], before, fs)
        if r is None or not called.any():
            return probs.astype(np.float32), vetoed
        rest = 1.0 - probs[:, k]
        # A beat with no probability left for another class keeps the network's output.
        vetoed = called & (r >= self.min_correlation) & (rest > 0)
        out = probs.copy()
        out[vetoed, k] = 0.0
        out[vetoed] /= out[vetoed].sum(axis=1, keepdims=True)
        return out.astype(np.float32), vetoed

    def note(self, n_vetoed: int, n_beats: int) -> str:
        """The sentence a result carries when the veto took the label from ``n_vetoed`` beats."""
        return (
            f"{n_vetoed:,} of {n_beats:,} beats that the network called {self.label} were "
            f"relabelled: their QRS matches the record's dominant beat (correlation ≥ "
            f"{self.min_correlation:.3f}), and a {self.label} beat's QRS differs from it."
        )


def from_manifest(manifest: Mapping[str, Any], labels: Sequence[str]) -> TemplateVeto | None:
    """The bundle's declared veto step, or ``None`` when it declares none."""
    block = step(manifest, METHOD)
    return None if block is None else TemplateVeto.from_manifest(block, labels)

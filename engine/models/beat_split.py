"""Splitting a beat network's N+S probability by the beat's timing.

A supraventricular ectopic beat (S) looks like a normal beat (N): what sets
it apart is that it comes early for the patient's own rhythm. A network that
reads the beat's shape learns the shapes of the few patients it saw; a
low-capacity model of the beat's timing relative to that patient's rhythm
generalises to new patients better (in leave-records-out validation on
MIT-BIH DS1 it raised S sensitivity from about 45 % to over 70 %).

A bundle declares the step in its manifest's ``postprocessing`` (one object,
or a list of steps; :mod:`engine.models.beat_veto` runs before it)::

    {"method": "rr-logistic-split", "split": ["N", "S"],
     "features": [...RR feature names...], "transform": "log", "floor": 0.001,
     "mean": [...], "scale": [...], "coef": [...], "intercept": b,
     "threshold": t}

For each beat, ``z = intercept + coef · (log(max(f, floor)) − mean) / scale``
is the logistic model's log-odds of the second class; the network's
P(N) + P(S) is then shared as P(S) = m·q, P(N) = m·(1 − q) with
``q = sigmoid(z − logit(threshold))``, so that S outranks N exactly when the
logistic model's probability reaches the threshold. The other classes keep
the network's probabilities, so each beat's probabilities still sum to one.

The block may add a gate, ``"gate": {"feature": name, "above": g}``: a beat
whose RR feature ``name`` lies above ``g`` gets ``q = 0`` (all of the mass to
the first class). Beats in atrial fibrillation are N by the AAMI convention,
and an early beat there is not a premature one; the shipped beat model gates
on ``rr_pattern_irregularity``, which atrial fibrillation raises and a
repeating pattern of ectopic beats does not.

``"method": "rr-boosted-split"`` (version 4.0.0 of the beat model) replaces the
logistic model by gradient-boosted trees (scikit-learn's histogram gradient
boosting, a skops file of the bundle named by ``"model"``) on declared timing
inputs of the beat **and of its neighbours**: a premature beat's pause, a run or
a bigeminal pattern shows in the beats around it::

    {"method": "rr-boosted-split", "split": ["N", "S"], "model": "split.skops",
     "inputs": [{"feature": "pre_rr_cmed_ratio", "beat": 0, "log": true},
                {"feature": "pre_rr_cmed_ratio", "beat": -1, "log": true}, ...],
     "floor": 0.001, "threshold": t, "gate": {...}}

``beat`` is the offset of the beat whose feature it is (−1: the previous; a
neighbour beyond the record's ends is missing, which the trees handle);
``log`` takes ``log(max(f, floor))``. The trees' log-odds take the logistic
model's place above; threshold and gate work the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.models.beat_inputs import RR_FEATURE_NAMES, rr_features

METHOD = "rr-logistic-split"
BOOSTED = "rr-boosted-split"
#: Every beat postprocessing method Stethos knows.
METHODS = (METHOD, BOOSTED, "qrs-template-veto", "conducted-beat-veto")
#: The furthest neighbour a boosted split's input may read.
MAX_OFFSET = 5
#: Features below this are clipped before the log (a zero irregularity).
FLOOR = 1e-3


@dataclass(frozen=True)
class TimingInput:
    """One input of a boosted split: an RR feature of the beat ``beat`` places away."""

    feature: str
    beat: int = 0
    log: bool = True

    def to_manifest(self) -> dict[str, Any]:
        return {"feature": self.feature, "beat": self.beat, "log": self.log}


def timing_inputs(
    samples: np.ndarray, fs: float, inputs: Sequence[TimingInput], gate: str | None,
    floor: float = FLOOR,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """The rows of ``inputs`` (one per beat; a neighbour beyond the ends is ``nan``) and the
    raw ``gate`` feature, from one pass over the intervals."""
    names = list(dict.fromkeys([i.feature for i in inputs] + ([gate] if gate else [])))
    f = rr_features(samples, fs, names).astype(np.float64)
    n = len(f)
    x = np.full((n, len(inputs)), np.nan)
    for j, spec in enumerate(inputs):
        col = f[:, names.index(spec.feature)]
        if spec.log:
            col = np.log(np.maximum(col, floor))
        k = spec.beat
        if k == 0:
            x[:, j] = col
        elif 0 < k < n:
            x[:-k, j] = col[k:]
        elif 0 < -k < n:
            x[-k:, j] = col[:k]
    return x, (f[:, names.index(gate)] if gate else None)


def split_inputs(
    samples: np.ndarray, fs: float, names: Sequence[str], gate: str | None = None,
    floor: float = FLOOR,
) -> tuple[np.ndarray, np.ndarray | None]:  # fmt: skip
    """``log(max(f, floor))`` of the beat's own RR features ``names`` and the raw ``gate``
    feature (:func:`timing_inputs` with no neighbour).

    One row per beat, from one pass over the intervals; the second is
    ``None`` without a gate.
    """
    return timing_inputs(samples, fs, [TimingInput(n) for n in names], gate, floor)


def logistic(z: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large ``|z|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _split_labels(block: Mapping[str, Any], labels: Sequence[str]) -> tuple[str, str]:
    split = tuple(str(v) for v in block.get("split", ()))
    if len(split) != 2 or split[0] == split[1] or any(s not in labels for s in split):
        raise ValueError(f"the split {list(split)} must name two of the outputs {list(labels)}")
    return split[0], split[1]


def _threshold_floor(block: Mapping[str, Any]) -> tuple[float, float]:
    threshold = float(block.get("threshold", math.nan))
    floor = float(block.get("floor", FLOOR))
    if not 0.0 < threshold < 1.0:
        raise ValueError("“threshold” must lie strictly between 0 and 1")
    if not floor > 0.0:
        raise ValueError("“floor” must be positive")
    return threshold, floor


def _gate(block: Mapping[str, Any]) -> tuple[str | None, float]:
    gate = block.get("gate")
    if gate is None:
        return None, math.inf
    if not isinstance(gate, Mapping):
        raise ValueError("“gate” must be an object with “feature” and “above”")
    feature = str(gate.get("feature", ""))
    if feature not in RR_FEATURE_NAMES:
        raise ValueError(f"the gate's RR feature {feature!r} is unknown")
    above = float(gate.get("above", math.nan))
    if not math.isfinite(above):
        raise ValueError("the gate's “above” must be a finite number")
    return feature, above


@dataclass(frozen=True, kw_only=True)
class TimingSplit:
    """What every N/S split shares: sharing the mass by log-odds, the threshold and the gate.

    A subclass gives :meth:`timing` (each beat's log-odds of ``split[1]`` and
    its gate feature) and its ``split`` (the two labels); the shared fields
    are passed by keyword.
    """

    split: tuple[str, str]
    threshold: float
    floor: float = FLOOR
    gate_feature: str | None = None
    gate_above: float = math.inf

    def timing(self, samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray | None]:
        """Each beat's log-odds of ``split[1]``, and its gate feature (``None``: no gate)."""
        raise NotImplementedError

    def _gate_manifest(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.gate_feature is not None:
            out["gate"] = {"feature": self.gate_feature, "above": float(self.gate_above)}
        return out

    def gate_note(self, n_gated: int, n_beats: int) -> str:
        """The sentence a result carries when ``n_gated`` of its beats lay above the gate."""
        return (
            f"{n_gated:,} of {n_beats:,} beats lie where the RR intervals vary with no "
            "repeating pattern (as in atrial fibrillation or chaotic ectopy): the model labels "
            f"no {self.split[1]} beat there, since it tells {self.split[1]} from "
            f"{self.split[0]} by timing. This is not a rhythm diagnosis."
        )

    def log_odds(self, samples: np.ndarray, fs: float) -> np.ndarray:
        """The timing model's log-odds of ``split[1]`` for each beat."""
        return self.timing(samples, fs)[0]

    def apply(
        self, probs: np.ndarray, samples: np.ndarray, fs: float, labels: Sequence[str]
    ) -> np.ndarray:
        """``probs`` (beats × labels) with each beat's split-class mass re-shared."""
        return self.apply_gated(probs, samples, fs, labels)[0]

    def apply_gated(
        self, probs: np.ndarray, samples: np.ndarray, fs: float, labels: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`apply`, and whether each beat lay above the gate (all ``False`` without one)."""
        shared, above = self.apply_at(probs, samples, fs, labels, [self.threshold])
        return shared[0], above

    def apply_at(
        self, probs: np.ndarray, samples: np.ndarray, fs: float, labels: Sequence[str],
        thresholds: Sequence[float],
    ) -> tuple[list[np.ndarray], np.ndarray]:  # fmt: skip
        """:meth:`apply` with each of ``thresholds`` in place of the split's own (the RR
        features read once), and whether each beat lay above the gate."""
        probs = np.asarray(probs, dtype=np.float64)
        if len(probs) == 0:
            return [probs.astype(np.float32) for _ in thresholds], np.zeros(0, dtype=bool)
        a, b = labels.index(self.split[0]), labels.index(self.split[1])
        log_odds, g = self.timing(samples, fs)
        above = g > self.gate_above if g is not None else np.zeros(len(log_odds), dtype=bool)
        mass = probs[:, a] + probs[:, b]
        shared = []
        for t in thresholds:
            q = np.where(above, 0.0, logistic(log_odds - math.log(t / (1.0 - t))))
            out = probs.copy()
            out[:, a] = mass * (1.0 - q)
            out[:, b] = mass * q
            shared.append(out.astype(np.float32))
        return shared, above


@dataclass(frozen=True)
class RRLogisticSplit(TimingSplit):
    """A declared ``rr-logistic-split`` step (see the module docstring)."""

    split: tuple[str, str]
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    @classmethod
    def from_manifest(cls, block: Mapping[str, Any], labels: Sequence[str]) -> RRLogisticSplit:
        """Read and check a manifest's ``postprocessing`` block.

        Raises
        ------
        ValueError
            With a sentence saying what is wrong with the block.
        """
        if block.get("method") != METHOD:
            raise ValueError(f"unknown postprocessing method {block.get('method')!r}")
        split = _split_labels(block, labels)
        features = tuple(str(v) for v in block.get("features", ()))
        unknown = [f for f in features if f not in RR_FEATURE_NAMES]
        if not features or unknown:
            raise ValueError(f"unknown or missing RR features {unknown or '[]'}")
        if block.get("transform", "log") != "log":
            raise ValueError(f"unknown transform {block.get('transform')!r}")
        arrays = {}
        for key in ("mean", "scale", "coef"):
            a = np.asarray(block.get(key, ()), dtype=np.float64)
            if a.shape != (len(features),) or not np.isfinite(a).all():
                raise ValueError(f"“{key}” must hold {len(features)} finite numbers")
            arrays[key] = a
        if (arrays["scale"] <= 0).any():
            raise ValueError("“scale” must be positive")
        intercept = float(block.get("intercept", math.nan))
        if not math.isfinite(intercept):
            raise ValueError("“intercept” must be a finite number")
        threshold, floor = _threshold_floor(block)
        gate_feature, gate_above = _gate(block)
        return cls(split, features, arrays["mean"], arrays["scale"], arrays["coef"], intercept,
                   threshold=threshold, floor=floor, gate_feature=gate_feature,
                   gate_above=gate_above)  # fmt: skip

    def to_manifest(self) -> dict[str, Any]:
        out = {
            "method": METHOD,
            "split": list(self.split),
            "features": list(self.features),
            "transform": "log",
            "floor": self.floor,
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "threshold": float(self.threshold),
        }
        return self._gate_manifest(out)

    def log_odds_of(self, x: np.ndarray) -> np.ndarray:
        """The log-odds of ``split[1]`` for rows of :func:`split_inputs`."""
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def timing(self, samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray | None]:
        x, g = split_inputs(samples, fs, self.features, self.gate_feature, self.floor)
        return self.log_odds_of(x), g


@dataclass(frozen=True)
class RRBoostedSplit(TimingSplit):
    """A declared ``rr-boosted-split`` step (see the module docstring)."""

    split: tuple[str, str]
    inputs: tuple[TimingInput, ...]
    model: Any  # a fitted binary HistGradientBoostingClassifier (classes False, True)
    model_file: str

    @classmethod
    def from_manifest(
        cls, block: Mapping[str, Any], labels: Sequence[str], read_model: Callable[[str], Any]
    ) -> RRBoostedSplit:
        """Read and check a manifest's ``rr-boosted-split`` block; ``read_model`` reads the
        bundle's file it names.

        Raises
        ------
        ValueError
            With a sentence saying what is wrong with the block or its model.
        """
        if block.get("method") != BOOSTED:
            raise ValueError(f"unknown postprocessing method {block.get('method')!r}")
        split = _split_labels(block, labels)
        raw = block.get("inputs")
        if not isinstance(raw, list) or not raw or not all(isinstance(i, Mapping) for i in raw):
            raise ValueError("“inputs” must be a list of objects with “feature” and “beat”")
        inputs = []
        for item in raw:
            feature, beat = str(item.get("feature", "")), item.get("beat", 0)
            if feature not in RR_FEATURE_NAMES:
                raise ValueError(f"unknown RR feature {feature!r} among the inputs")
            if not isinstance(beat, int) or isinstance(beat, bool) or abs(beat) > MAX_OFFSET:
                raise ValueError(f"an input's “beat” must be a whole number within ±{MAX_OFFSET}")
            inputs.append(TimingInput(feature, beat, bool(item.get("log", True))))
        threshold, floor = _threshold_floor(block)
        gate_feature, gate_above = _gate(block)
        model_file = str(block.get("model", ""))
        if not model_file:
            raise ValueError("“model” must name the bundle's file of the boosted trees")
        model = read_model(model_file)
        classes = [bool(c) for c in getattr(model, "classes_", ())]
        if classes != [False, True] or getattr(model, "n_features_in_", None) != len(inputs):
            raise ValueError(
                f"the model in {model_file!r} is not a two-class model of {len(inputs)} inputs"
            )
        return cls(split, tuple(inputs), model, model_file, threshold=threshold, floor=floor,
                   gate_feature=gate_feature, gate_above=gate_above)  # fmt: skip

    def to_manifest(self) -> dict[str, Any]:
        out = {
            "method": BOOSTED,
            "split": list(self.split),
            "model": self.model_file,
            "inputs": [i.to_manifest() for i in self.inputs],
            "floor": self.floor,
            "threshold": float(self.threshold),
        }
        return self._gate_manifest(out)

    def timing(self, samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray | None]:
        x, g = timing_inputs(samples, fs, self.inputs, self.gate_feature, self.floor)
        if len(x) == 0:
            return np.zeros(0), g
        # The trees' raw score is the log-odds of the second class (True: split[1]).
        return np.asarray(self.model.decision_function(x), dtype=np.float64).reshape(-1), g


def step(manifest: Mapping[str, Any], method: str) -> Mapping[str, Any] | None:
    """The manifest's ``postprocessing`` step (one object, or a list of them) of ``method``.

    Raises
    ------
    ValueError
        A step that is not an object or names an unknown method, or two of ``method``.
    """
    block = manifest.get("postprocessing")
    if not block:
        return None
    found = [block] if isinstance(block, Mapping) else block
    if not isinstance(found, list) or not all(isinstance(b, Mapping) for b in found):
        raise ValueError("“postprocessing” must be an object or a list of objects")
    for b in found:
        if b.get("method") not in METHODS:
            raise ValueError(f"unknown postprocessing method {b.get('method')!r}")
    mine = [b for b in found if b.get("method") == method]
    if len(mine) > 1:
        raise ValueError(f"more than one {method} step")
    return mine[0] if mine else None


def from_manifest(
    manifest: Mapping[str, Any], labels: Sequence[str],
    read_model: Callable[[str], Any] | None = None,
) -> TimingSplit | None:  # fmt: skip
    """The bundle's declared split step, or ``None`` when it declares none.

    ``read_model`` reads a file of the bundle (a boosted split's trees).

    Raises
    ------
    ValueError
        A malformed step, two splits, or a boosted split with no way to read its model.
    """
    logistic_block, boosted_block = step(manifest, METHOD), step(manifest, BOOSTED)
    if logistic_block is not None and boosted_block is not None:
        raise ValueError(f"both a {METHOD} and a {BOOSTED} step")
    if boosted_block is not None:
        if read_model is None:
            raise ValueError(f"a {BOOSTED} step needs its bundle's model file")
        return RRBoostedSplit.from_manifest(boosted_block, labels, read_model)
    return None if logistic_block is None else RRLogisticSplit.from_manifest(logistic_block, labels)

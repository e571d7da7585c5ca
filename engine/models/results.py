"""Results are data: what a model said, with everything needed to trust it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Contribution:
    """One feature's contribution to a tabular prediction.

    ``contribution`` is in the units named by the prediction's
    ``extra["contribution_units"]`` (log-odds for linear models, probability
    for Shapley values); ``unit`` is the field's measurement unit.
    """

    name: str
    label: str
    value: str
    contribution: float
    unit: str = ""
    raw_value: float | None = None
    #: The field was not recorded: ``contribution`` is the effect of its absence.
    missing: bool = False


@dataclass(frozen=True)
class BeatResult:
    """A beat model's output on one beat, at a sample position of the source signal."""

    sample: int
    label: str
    probabilities: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {"sample": self.sample, "label": self.label, "probabilities": self.probabilities}


@dataclass(frozen=True)
class Prediction:
    """One model's output on one input.

    Optional explanation fields, set by the kinds that produce them:
    ``heatmap`` (float32 ``(rows, cols)`` in ``[0, 1]`` in the source image's
    geometry), ``beats`` (one :class:`BeatResult` per beat) and
    ``attribution`` (float32, one value per sample of the analysed lead, in
    the source signal's sampling). ``warnings`` holds input-gate warnings
    that did not stop the model; ``extra["notice"]`` says when the device
    fell back to the CPU; ``extra["notes"]`` says what a model's post-processing
    changed (beats relabelled), for the clinician; ``extra["site_calibration"]`` (a clinic's site
    calibration was applied: its ``note`` to show, intercept, slope, local
    Se/Sp, the model's own ``model_score``) is in :meth:`to_json` too.
    """

    model_id: str
    model_version: str
    model_name: str
    weights_sha256: str
    intended_use: str
    probabilities: dict[str, float]
    positive_label: str
    label: str
    operating_point: str
    threshold: float
    sensitivity: float
    specificity: float
    device: str
    elapsed_ms: float
    input_hash: str
    contributions: tuple[Contribution, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    heatmap: np.ndarray | None = field(default=None, compare=False, repr=False)
    beats: tuple[BeatResult, ...] = field(default=(), repr=False)
    attribution: np.ndarray | None = field(default=None, compare=False, repr=False)
    explanation_method: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def score(self) -> float:
        """Probability of the positive label."""
        return self.probabilities[self.positive_label]

    @property
    def is_positive(self) -> bool:
        """Whether the score reaches the operating point."""
        return self.label == self.positive_label

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (maps and per-sample arrays are left out)."""
        out: dict[str, Any] = {
            "model": self.model_id,
            "version": self.model_version,
            "weights_sha256": self.weights_sha256,
            "probabilities": self.probabilities,
            # An out-of-domain image gets no label (the probabilities stay, for audit).
            "label": self.label or None,
            "operating_point": {
                "name": self.operating_point,
                "threshold": self.threshold,
                "sensitivity": self.sensitivity,
                # null where the model defines none (a per-beat argmax has no single one)
                "specificity": self.specificity if self.specificity >= 0 else None,
            },
            "device": self.device,
            # ONNX Runtime (with the graph's sha256) when it computed the result, else torch's
            **(
                {"runtime": self.extra["runtime"], "graph_sha256": self.extra["graph_sha256"]}
                if "runtime" in self.extra
                else {}
            ),
            "elapsed_ms": self.elapsed_ms,
            "input_hash": self.input_hash,
            "contributions": [
                {
                    "feature": c.name,
                    "value": c.value,
                    "unit": c.unit,
                    "contribution": c.contribution,
                    **({"missing": True} if c.missing else {}),
                }
                for c in self.contributions
            ],
        }
        if "inputs" in self.extra:
            out["inputs"] = self.extra["inputs"]
        if "domain_score" in self.extra:  # image models with an out-of-domain check
            out["out_of_domain"] = bool(self.extra.get("out_of_domain", False))
            for key in ("domain_score", "domain_threshold", "adult_score", "adult_threshold",
                        "domain_statistic", "domain_statistic_threshold",
                        "withheld_label", "out_of_domain_note"):  # fmt: skip
                if key in self.extra:
                    out[key] = self.extra[key]
        if "rhythm" in self.extra:  # rhythm models: the record's rhythm and its Holter report
            out["rhythm_label"] = self.extra.get("rhythm_label", self.label)
            out["rhythm"] = self.extra["rhythm"]
        if self.beats:
            out["beats"] = [b.to_json() for b in self.beats]
        if self.explanation_method:
            out["explanation_method"] = self.explanation_method
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.extra.get("notes"):  # what a model's post-processing changed, in plain words
            out["notes"] = list(self.extra["notes"])
        if "notice" in self.extra:
            out["notice"] = self.extra["notice"]
        if "signal_quality" in self.extra:  # beat models: stretches that look like noise
            out["signal_quality"] = self.extra["signal_quality"]
        if "site_calibration" in self.extra:
            out["site_calibration"] = self.extra["site_calibration"]
        return out


SUPPORT_STATEMENT = (
    "This result supports, and does not replace, the judgement of a qualified clinician."
)

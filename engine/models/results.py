"""Results are data: what a model said, with everything needed to trust it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Contribution:
    """One feature's contribution to a tabular prediction (log-odds units)."""

    name: str
    label: str
    value: str
    contribution: float


@dataclass(frozen=True)
class Prediction:
    """One model's output on one input."""

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

    @property
    def score(self) -> float:
        """Probability of the positive label."""
        return self.probabilities[self.positive_label]

    @property
    def is_positive(self) -> bool:
        """Whether the score reaches the operating point."""
        return self.label == self.positive_label

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "model": self.model_id,
            "version": self.model_version,
            "weights_sha256": self.weights_sha256,
            "probabilities": self.probabilities,
            "label": self.label,
            "operating_point": {
                "name": self.operating_point,
                "threshold": self.threshold,
                "sensitivity": self.sensitivity,
                "specificity": self.specificity,
            },
            "device": self.device,
            "elapsed_ms": self.elapsed_ms,
            "input_hash": self.input_hash,
            "contributions": [
                {"feature": c.name, "value": c.value, "contribution": c.contribution}
                for c in self.contributions
            ],
        }


SUPPORT_STATEMENT = (
    "This result supports, and does not replace, the judgement of a qualified clinician."
)

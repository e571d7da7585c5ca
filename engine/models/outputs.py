"""From network outputs to a result: calibration, operating point, label.

One place for every kind, so a probability means the same thing whichever
runner produced it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import Bundle, OperatingPoint
from engine.models.results import Contribution, Prediction


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _param(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    return np.full(n, float(arr[0])) if arr.size == 1 else arr


def logits_to_probabilities(logits: np.ndarray, bundle: Bundle) -> np.ndarray:
    """Calibrated probabilities ``(n, n_labels)`` from logits ``(n, n_outputs)``.

    Exclusive labels use a softmax (a single output with two labels is the
    positive label's logit); multi-label outputs use one sigmoid per label.
    ``temperature`` divides the logits by T; ``platt`` maps the positive
    logit (binary) or each label's logit (multi-label) through
    ``sigmoid(a·z + b)``.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    labels = bundle.labels
    cal = bundle.calibration
    method = cal.get("method", "none")
    if method == "temperature":
        z = z / float(cal["temperature"])
    pos = labels.index(bundle.positive_label)
    if bundle.exclusive:
        if z.shape[1] == 1 and len(labels) == 2:
            zp = z[:, 0]
            if method == "platt":
                zp = float(cal["a"]) * zp + float(cal["b"])
            p = _sigmoid(zp)
            out = np.empty((len(z), 2))
            out[:, pos] = p
            out[:, 1 - pos] = 1.0 - p
            return out
        if z.shape[1] != len(labels):
            raise ModelError(
                f"Model “{bundle.id}” gave {z.shape[1]} outputs for {len(labels)} labels."
            )
        if method == "platt":
            if len(labels) != 2:
                raise ModelError(
                    f"Model “{bundle.id}” declares Platt scaling on more than two exclusive labels."
                )
            d = z[:, pos] - z[:, 1 - pos]
            p = _sigmoid(float(cal["a"]) * d + float(cal["b"]))
            out = np.empty((len(z), 2))
            out[:, pos] = p
            out[:, 1 - pos] = 1.0 - p
            return out
        return _softmax(z)
    if z.shape[1] != len(labels):
        raise ModelError(f"Model “{bundle.id}” gave {z.shape[1]} outputs for {len(labels)} labels.")
    if method == "platt":
        z = _param(cal["a"], z.shape[1]) * z + _param(cal["b"], z.shape[1])
    return _sigmoid(z)


def decide(probabilities: Mapping[str, float], bundle: Bundle, op: OperatingPoint) -> str:
    """The label at an operating point.

    The positive label when its probability reaches the threshold; otherwise
    the most probable of the other labels.
    """
    positive = bundle.positive_label
    if probabilities[positive] >= op.threshold:
        return positive
    others = [(p, lbl) for lbl, p in probabilities.items() if lbl != positive]
    return max(others)[1]


def build_prediction(
    bundle: Bundle,
    probabilities: Sequence[float] | np.ndarray,
    *,
    op: OperatingPoint,
    device: str,
    elapsed_ms: float,
    input_hash: str,
    label: str | None = None,
    contributions: Sequence[Contribution] = (),
    extra: dict[str, Any] | None = None,
    **optional: Any,
) -> Prediction:
    """A :class:`Prediction` with the bundle's identity and the operating point."""
    probs = {lbl: float(p) for lbl, p in zip(bundle.labels, probabilities, strict=True)}
    extra = dict(extra or {})
    if op.sensitivity_ci is not None and op.specificity_ci is not None:
        extra.setdefault(
            "operating_point_ci",
            {"sensitivity": list(op.sensitivity_ci), "specificity": list(op.specificity_ci)},
        )
    design = bundle.manifest.get("validation", {}).get("design_short")
    if design:
        extra.setdefault("validation_design", str(design))
    translations = bundle.manifest.get("translations")
    if translations:  # the model's own texts in other languages, for the result panel
        extra.setdefault("translations", translations)
    return Prediction(
        model_id=bundle.id,
        model_version=bundle.version,
        model_name=bundle.name,
        weights_sha256=bundle.weights_sha256,
        intended_use=bundle.intended_use,
        probabilities=probs,
        positive_label=bundle.positive_label,
        label=label if label is not None else decide(probs, bundle, op),
        operating_point=op.name,
        threshold=op.threshold,
        sensitivity=op.sensitivity,
        specificity=op.specificity,
        device=device,
        elapsed_ms=float(elapsed_ms),
        input_hash=input_hash,
        contributions=tuple(contributions),
        extra=extra,
        **optional,
    )

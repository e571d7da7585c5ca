"""Out-of-domain score of an image model: how unlike its training images an input looks.

A bundle's ``gates.appearance`` block names a file of the bundle holding the
mean and the (shrunk) inverse covariance of the network's pooled last-stage
features over its training images, and a threshold::

    "appearance": {"method": "mahalanobis", "layer": "avgpool",
                   "file": "domain.safetensors", "threshold": 31.2,
                   "action": "withhold"}

The score is the Mahalanobis distance of an input's features to that
distribution; above the threshold the input is *out of domain*: the model's
label is withheld (the probability is kept for audit) and the result says
why. The threshold was set on the model's own held-out images (see its card).

A bundle may add an adult-likeness score (``adult_threshold``). With
``"rule": "combined"`` the two scores are not compared with their own
thresholds: each is standardised by its mean and SD on the tuning images and
their sum is compared with one threshold (``combined``: ``appearance_mean``,
``appearance_sd``, ``adult_mean``, ``adult_sd``, ``threshold``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError

if TYPE_CHECKING:
    import torch

    from engine.models.bundle import Bundle

#: What an out-of-domain result says instead of a label.
OUT_OF_DOMAIN_NOTE = (
    "This image looks unlike the images this model was validated on{why}; no result is given."
)


@dataclass(frozen=True)
class CombinedRule:
    """One threshold on the sum of the two standardised scores (see the module)."""

    appearance_mean: float
    appearance_sd: float
    adult_mean: float
    adult_sd: float
    threshold: float

    def parts(self, score: float, adult: float) -> tuple[float, float]:
        """The standardised appearance and adult-likeness scores."""
        return (
            (score - self.appearance_mean) / self.appearance_sd,
            (adult - self.adult_mean) / self.adult_sd,
        )


@dataclass(frozen=True)
class Verdict:
    """Whether an input is out of domain, why, and the combined statistic when one is used."""

    out_of_domain: bool
    reasons: tuple[str, ...]
    statistic: float | None = None


@dataclass(frozen=True, eq=False)
class DomainScorer:
    """Mahalanobis distance of pooled features to the training distribution.

    With ``adult_*`` set (a bundle fitted on adult radiographs too), a second
    score: the log-odds that the image is an adult's radiograph, from a
    logistic regression on the same features, with its own threshold.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    layer: str = "avgpool"
    adult_center: np.ndarray | None = None
    adult_weights: np.ndarray | None = None
    adult_intercept: float = 0.0
    adult_threshold: float = float("inf")
    combined: CombinedRule | None = None

    def verdict(self, score: float, adult: float | None) -> Verdict:
        """Out of domain or not for one input's appearance and adult-likeness scores."""
        if self.combined is not None and adult is not None:
            z_appearance, z_adult = self.combined.parts(score, adult)
            statistic = z_appearance + z_adult
            if statistic <= self.combined.threshold:
                return Verdict(False, (), statistic)
            why = (
                "it looks most like an adult's radiograph"
                if z_adult > z_appearance
                else "its appearance is unlike the training images"
            )
            reason = f"combined score {statistic:.2f} above {self.combined.threshold:.2f}; {why}"
            return Verdict(True, (reason,), statistic)
        reasons = []
        if score > self.threshold:
            reasons.append(f"appearance score {score:.1f} above {self.threshold:.1f}")
        if adult is not None and adult > self.adult_threshold:
            reasons.append("it looks like an adult's radiograph")
        return Verdict(bool(reasons), tuple(reasons))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Distances of ``features`` ``(n, d)`` to the training mean."""
        d = np.asarray(features, dtype=np.float64).reshape(len(features), -1) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precision, d), 0.0))

    def adult_score(self, features: np.ndarray) -> np.ndarray | None:
        """Log-odds of "an adult's radiograph" (``None`` when the bundle has no such score)."""
        if self.adult_center is None or self.adult_weights is None:
            return None
        f = np.asarray(features, dtype=np.float64).reshape(len(features), -1)
        return (f - self.adult_center) @ self.adult_weights + self.adult_intercept

    @classmethod
    def from_bundle(cls, bundle: Bundle) -> DomainScorer | None:
        """The bundle's scorer, or ``None`` when it declares no appearance gate."""
        gate = bundle.gates.get("appearance")
        if not isinstance(gate, Mapping):
            return None
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(bundle.path / str(gate["file"])))
            adult = "adult_weights" in arrays and "adult_threshold" in gate
            rule = gate.get("rule", "union")
            if rule not in ("union", "combined") or (rule == "combined" and not adult):
                raise ValueError(f"out-of-domain rule {rule!r} cannot be used")
            combined = (
                CombinedRule(**{k: float(v) for k, v in gate["combined"].items()})
                if rule == "combined"
                else None
            )
            return cls(
                mean=np.asarray(arrays["mean"], dtype=np.float64),
                precision=np.asarray(arrays["precision"], dtype=np.float64),
                threshold=float(gate["threshold"]),
                layer=str(gate.get("layer", "avgpool")),
                adult_center=np.asarray(arrays["adult_center"], np.float64) if adult else None,
                adult_weights=np.asarray(arrays["adult_weights"], np.float64) if adult else None,
                adult_intercept=float(arrays["adult_intercept"][0]) if adult else 0.0,
                adult_threshold=float(gate["adult_threshold"]) if adult else float("inf"),
                combined=combined,
            )
        except (KeyError, OSError, ValueError, TypeError) as exc:
            raise ModelError(
                f"Model “{bundle.id}” declares an out-of-domain check whose data cannot be read.",
                repr(exc),
            ) from exc


@contextmanager
def pooled_features(net: torch.nn.Module, layer: str) -> Iterator[list[Any]]:
    """Collect the output of ``net``'s module ``layer`` for every forward pass inside."""
    module = dict(net.named_modules()).get(layer)
    if module is None:
        raise ModelError(f"The network has no layer “{layer}” for the out-of-domain check.")
    seen: list[Any] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> None:
        seen.append(output.detach().flatten(1).float().cpu().numpy())

    handle = module.register_forward_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def fit_gaussian(
    features: np.ndarray, shrinkage: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse covariance (Ledoit–Wolf shrinkage) of ``features`` ``(n, d)``."""
    from sklearn.covariance import LedoitWolf, ShrunkCovariance

    f = np.asarray(features, dtype=np.float64)
    est = LedoitWolf() if shrinkage is None else ShrunkCovariance(shrinkage=shrinkage)
    est.fit(f)
    return est.location_, np.linalg.inv(est.covariance_)

"""The result of a local validation: :class:`EvaluationReport`, as JSON or a terminal table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError
from engine.progress import CancelToken, Progress, no_progress
from engine.validation.metrics import binary_metrics

if TYPE_CHECKING:
    from engine.models.registry import ModelRegistry


@dataclass(frozen=True)
class EvaluationReport:
    """A model's metrics on local data.

    Attributes
    ----------
    model_id, model_version
        The model evaluated.
    task
        ``"binary"`` (records, images), ``"rhythm"`` (rhythm models: AF
        against the rest, and every rhythm's F1) or ``"beats"``.
    data
        The paths given.
    n
        Cases in the metrics: records, images or reference beats.
    operating_point
        ``{"name", "threshold"}`` used for the decisions.
    metrics
        Name → ``{"value", "ci95", …}``.
    confusion
        ``{"labels": [...], "columns": [...], "matrix": [[...]]}`` (rows:
        reference, columns: the model).
    details
        Task-specific tables: ``reliability`` and ``positive_label``, or
        ``per_record``, ``ci_method`` and ``ppv_rule`` for beats.
    skipped
        ``(input, reason)`` for every input left out.
    site_calibration
        The summary of the clinic's site calibration the model used (its
        ``note`` …), or ``None`` when it ran as its bundle defines it.
    scores, outcomes
        Binary and rhythm tasks: each evaluated case's positive-label
        probability and outcome (1 positive), as scored (for fitting a site
        calibration).
    always_positive
        Rhythm task: whether each case's positive label was its most probable
        class (called positive at any threshold; see
        :func:`engine.validation.site.fit_site_calibration`).
    """

    model_id: str
    model_version: str
    task: str
    data: tuple[str, ...]
    n: int
    operating_point: dict[str, Any]
    metrics: dict[str, dict[str, Any]]
    confusion: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[tuple[str, str], ...] = ()
    site_calibration: dict[str, Any] | None = None
    scores: tuple[float, ...] = field(default=(), repr=False)
    outcomes: tuple[int, ...] = field(default=(), repr=False)
    always_positive: tuple[bool, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (``nan`` becomes ``None``)."""
        return _finite(
            {
                "model": self.model_id,
                "version": self.model_version,
                "task": self.task,
                "data": list(self.data),
                "n": self.n,
                "operating_point": self.operating_point,
                "metrics": self.metrics,
                "confusion": self.confusion,
                **self.details,
                "site_calibration": self.site_calibration,
                "skipped": [{"input": i, "reason": r} for i, r in self.skipped],
            }
        )

    def to_text(self) -> str:
        """A plain-text table for a terminal."""
        unit = {"beats": "reference beats", "rhythm": "recordings"}.get(self.task, "cases")
        op = self.operating_point
        lines = [
            f"Model {self.model_id} {self.model_version} on {self.n} {unit} "
            f"({len(self.skipped)} inputs skipped)",
        ]
        if "threshold" in op:
            lines.append(f"Operating point: {op['name']} (threshold {op['threshold']:.3f})")
        else:
            lines.append(f"Operating point: {op['name']}")
        if self.site_calibration is not None:
            sc = self.site_calibration
            lines.append(
                f"Site calibration used: {sc['note']} (intercept {sc['intercept']:.3f}, "
                f"slope {sc['slope']:.3f}; probabilities and threshold are recalibrated)"
            )
        if "ci_method" in self.details:
            lines.append(f"95 % CIs: {self.details['ci_method']}")
        if "ppv_rule" in self.details:
            lines.append(f"+P: {self.details['ppv_rule']}")
        if "decision" in self.details:
            lines.append(f"Decisions: {self.details['decision']}")
        if "site_calibration_cases" in self.details:
            lines.append(f"Site calibration: {self.details['site_calibration_cases']}")
        domain = self.details.get("out_of_domain")
        if domain:
            lines.append(
                f"Out of domain (no label given in the app): {domain['flagged']} of "
                f"{domain['checked']} images ({domain['share_flagged']:.1%}); the metrics "
                "include them with the label the model would have given"
            )
            by_label = domain.get("by_label") or {}
            if by_label:
                lines.append(
                    "Out of domain by label: "
                    + ", ".join(
                        f"{k} {v['flagged']} of {v['checked']} ({v['share_flagged']:.1%})"
                        for k, v in by_label.items()
                    )
                )
        missing = self.details.get("missing_inputs")
        if missing:
            counts = ", ".join(f"{k} {n}" for k, n in missing["not_recorded"].items())
            lines.append(f"Inputs not recorded (records): {counts or 'none'}")
            if missing["uci_zero_read_as_not_measured"]:
                lines.append(
                    f"UCI values of 0 read as not measured (cholesterol, resting blood "
                    f"pressure): {missing['uci_zero_read_as_not_measured']}"
                )
        lines += ["", f"{'metric':<22} {'value':>7}  95 % CI        counts"]
        for name, est in self.metrics.items():
            value = est.get("value")
            ci = est.get("ci95")
            text = "—" if value is None or not math.isfinite(value) else f"{value:.3f}"
            ci_text = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else ""
            if "chance_95" in est:
                ci_text = f"chance ≤ {est['chance_95']:.3f}"
            counts = f"{est['k']}/{est['n']}" if "n" in est else ""
            if "reference" in est:  # an F1: recordings of the class, and calls of it
                counts = f"{est['reference']} in the reference, {est['called']} called"
            lines.append(f"{name:<22} {text:>7}  {ci_text:<14} {counts}".rstrip())
        conf = self.confusion
        if conf.get("matrix"):
            width = max(8, *(len(c) + 1 for c in conf["columns"]))
            lines += ["", "Confusion matrix (rows: reference, columns: model)"]
            lines.append(" " * 12 + "".join(f"{c:>{width}}" for c in conf["columns"]))
            for label, row in zip(conf["labels"], conf["matrix"], strict=True):
                lines.append(f"{label:<12}" + "".join(f"{v:>{width}}" for v in row))
        if self.skipped:
            lines += ["", "Skipped:"]
            lines += [f"  {i}: {r}" for i, r in self.skipped[:20]]
            if len(self.skipped) > 20:
                lines.append(f"  … and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        return _finite(obj.item())
    return obj


@dataclass(frozen=True)
class Evaluation:
    """One evaluation under way: the loaded model, the data given and the options."""

    model: Any
    paths: list[Path]
    operating_point: str | None = None
    seed: int = 0
    n_boot: int = 2000
    progress: Progress = no_progress
    cancel: CancelToken | None = None
    registry: ModelRegistry | None = None
    device: str | None = "auto"
    batch_size: int = 8

    @property
    def bundle(self) -> Any:
        """The model's bundle."""
        return self.model.bundle


def make_report(job: Evaluation, **fields: Any) -> EvaluationReport:
    """The report of ``job`` with ``fields`` (task, n, metrics …)."""
    site = getattr(job.model, "site", None)
    return EvaluationReport(
        model_id=job.bundle.id,
        model_version=job.bundle.version,
        data=tuple(str(p) for p in job.paths),
        site_calibration=site.summary() if site is not None else None,
        **fields,
    )


def op_dict(model: Any, name: str | None) -> dict[str, Any]:
    """The operating point the model's results use for ``name`` (the site one when calibrated).

    With a site calibration, ``card_*`` are the site point's local Se/Sp
    (or a bundle point's card values, its threshold recalibrated).
    """
    lookup = getattr(model, "operating_point", None)
    op = lookup(name) if callable(lookup) else model.bundle.operating_point(name)
    return {
        "name": op.name,
        "threshold": op.threshold,
        "card_sensitivity": op.sensitivity,
        "card_specificity": op.specificity,
    }


@dataclass
class BinaryCases:
    """The cases a binary model was scored on, and the inputs left out.

    ``truth`` and ``predicted`` are labels (reference and model); ``y`` is 1
    where the reference is the positive label.
    """

    positive_label: str
    y: list[int] = field(default_factory=list)
    p: list[float] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, truth: str, score: float, predicted: str) -> None:
        """One scored case."""
        self.y.append(int(truth == self.positive_label))
        self.p.append(float(score))
        self.truth.append(truth)
        self.predicted.append(predicted)


def binary_report(
    job: Evaluation, cases: BinaryCases, unit: str, *, by_label: bool = False
) -> EvaluationReport:
    """The report of a binary model from its scored ``cases`` (``unit``: "images", "records").

    ``by_label``: the decision metrics count the labels the model gave (the
    rhythm model's AF calls), not the score at the threshold.
    """
    y, p = np.asarray(cases.y), np.asarray(cases.p)
    truth_labels, predicted, skipped = cases.truth, cases.predicted, cases.skipped
    bundle = job.bundle
    if len(y) == 0:
        reasons = "; ".join(f"{i}: {r}" for i, r in skipped[:3])
        raise ModelError(
            f"None of the {unit} could be evaluated with model “{bundle.id}”.",
            reasons or None,
        )
    op = op_dict(job.model, job.operating_point)
    called = np.array([c == bundle.positive_label for c in predicted]) if by_label else None
    summary = binary_metrics(y, p, op["threshold"], called=called, seed=job.seed, n_boot=job.n_boot)
    rows = [lbl for lbl in bundle.labels if lbl in truth_labels]
    columns = list(bundle.labels)
    matrix = [
        [
            sum(1 for t, q in zip(truth_labels, predicted, strict=True) if t == r and q == c)
            for c in columns
        ]
        for r in rows
    ]
    return make_report(
        job,
        task="binary",
        n=len(y),
        operating_point=op,
        metrics=summary["metrics"],
        confusion={"labels": rows, "columns": columns, "matrix": matrix, **summary["confusion"]},
        details={
            "positive_label": bundle.positive_label,
            "prevalence": round(float(np.mean(y)), 4),
            "reliability": summary["reliability"],
        },
        skipped=tuple(skipped),
        scores=tuple(float(v) for v in p),
        outcomes=tuple(int(v) for v in y),
    )

"""Scikit-learn models on patient records, loaded with skops (no pickle)."""

from __future__ import annotations

import hashlib
import json
import math
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import Bundle
from engine.models.outputs import build_prediction, logits_to_probabilities
from engine.models.results import Contribution, Prediction
from engine.models.runtime import RunnerBase, RunRequest
from engine.models.skops_io import read_skops
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.records.schema import HEART_RECORD, RecordSchema, validate_record

_SCHEMAS = {HEART_RECORD.name: HEART_RECORD}


@dataclass(frozen=True, eq=False)
class PreparedRecord:
    """One validated record as a model row."""

    record: Mapping[str, object]
    row: np.ndarray
    name: str = ""


@dataclass(eq=False)
class TabularModel(RunnerBase):
    """A loaded scikit-learn pipeline with its bundle.

    Explanations, by the manifest's ``explanation.method``:
    ``linear-exact`` (log-odds contributions of a linear final step relative
    to the training mean) or ``shapley-exact`` (interventional Shapley
    values of the positive-class probability over the record's fields,
    against the manifest's ``explanation.background`` records; works for
    trees, SVMs and any pipeline, see :mod:`engine.explain.tabular`).
    """

    bundle: Bundle
    pipeline: Any
    schema: RecordSchema
    kind: str = "sklearn"

    @property
    def device(self) -> str:
        return "cpu"

    def prepare(self, record: Mapping[str, object], *, name: str = "") -> PreparedRecord:
        """Validate one record (raises :class:`~engine.errors.RecordValidationError`)."""
        validate_record(self.schema, record)
        row = np.asarray(self.schema.to_row(record), dtype=np.float64)
        return PreparedRecord(record, row, name)

    def _proba(self, rows: np.ndarray) -> np.ndarray:
        fast = _rbf_svm_scorer(self.pipeline) if len(rows) >= FAST_SVM_MIN_ROWS else None
        if fast is not None:
            proba = fast.predict_proba(rows)
        else:
            proba = np.asarray(self.pipeline.predict_proba(rows), dtype=np.float64)
        method = self.bundle.calibration.get("method", "none")
        if method in ("temperature", "platt") and proba.shape[1] == 2:
            pos = self.bundle.labels.index(self.bundle.positive_label)
            p = np.clip(proba[:, pos], 1e-12, 1 - 1e-12)
            proba = logits_to_probabilities(np.log(p / (1 - p))[:, None], self.bundle)
        return proba

    def _run(self, items: list[PreparedRecord], req: RunRequest) -> list[Prediction]:
        """Score prepared records (and explain each when ``explain``)."""
        op, explain = req.op, req.explain
        cancel, progress = req.cancel, req.progress
        start = time.perf_counter()
        proba = self._proba(np.stack([it.row for it in items]))
        model_ms = (time.perf_counter() - start) * 1000.0 / len(items)
        out = []
        for i, item in enumerate(items):
            check_cancelled(cancel)
            progress(0.2 + 0.8 * i / len(items), "Explaining the result")
            t0 = time.perf_counter()
            contributions: tuple[Contribution, ...] = ()
            extra: dict[str, Any] = {}
            if explain:
                contributions, extra = self._contributions(item.row[None, :], item.record, cancel)
            explain_ms = (time.perf_counter() - t0) * 1000.0
            extra["timing_ms"] = {"model": round(model_ms, 3), "explain": round(explain_ms, 3)}
            if item.name:
                extra["input_name"] = item.name
            inputs = inputs_used(self.bundle, self.schema, item.row)
            if inputs:
                extra["inputs"] = inputs
            out.append(
                build_prediction(
                    self.bundle,
                    proba[i],
                    op=op,
                    device="cpu",
                    elapsed_ms=model_ms,
                    input_hash=_record_hash(self.schema, item.record),
                    contributions=contributions,
                    extra=extra,
                    explanation_method=str(self.bundle.explanation.get("method", ""))
                    if contributions
                    else "",
                )
            )
        return out

    def predict(
        self,
        record: Mapping[str, object],
        *,
        explain: bool = True,
        operating_point: str | None = None,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> Prediction:
        """Score one record and explain it."""
        check_cancelled(cancel)
        item = self.prepare(record)
        progress(0.2, "Scoring the record")
        (pred,) = self.run(
            [item],
            explain=explain,
            operating_point=operating_point,
            cancel=cancel,
            progress=progress,
        )
        progress(1.0, "Done")
        return pred

    def _contributions(
        self, row: np.ndarray, record: Mapping[str, object], cancel: CancelToken | None
    ) -> tuple[tuple[Contribution, ...], dict[str, Any]]:
        info = self.bundle.explanation
        method = info.get("method")
        if method == "linear-exact":
            per_field = self._linear(row, info)
            extra: dict[str, Any] = {"contribution_units": "log-odds"}
        elif method == "shapley-exact":
            per_field, extra = self._shapley(row, info, cancel)
        else:
            return (), {}
        out = []
        for f in self.schema.fields:
            v = record.get(f.name)
            raw = None if v is None else float(v)  # type: ignore[arg-type]
            out.append(
                Contribution(
                    name=f.name,
                    label=f.label,
                    value=f.describe(raw),
                    contribution=float(per_field.get(f.name, 0.0)),
                    unit=f.unit,
                    raw_value=None if raw is None or math.isnan(raw) else raw,
                    missing=raw is None or math.isnan(raw),
                )
            )
        out.sort(key=lambda c: -abs(c.contribution))
        return tuple(out), extra

    def _linear(self, row: np.ndarray, info: Mapping[str, Any]) -> dict[str, float]:
        """Exact per-feature log-odds contributions for a linear final step.

        The pipeline's preprocessing maps each record field to one or more
        columns; for a linear model ``logit = b + Σ w_c z_c``, so field j's
        contribution relative to the training mean is ``Σ_{c∈j} w_c (z_c − μ_c)``.
        """
        pre = self.pipeline[:-1]
        est = self.pipeline[-1]
        z = np.asarray(pre.transform(row), dtype=np.float64)[0]
        w = np.asarray(est.coef_, dtype=np.float64)[0]
        mu = np.asarray(info["baseline"], dtype=np.float64)
        owners = info["column_owner"]
        per_field: dict[str, float] = {}
        for c, owner in enumerate(owners):
            per_field[owner] = per_field.get(owner, 0.0) + w[c] * (z[c] - mu[c])
        return per_field

    def _shapley(
        self, row: np.ndarray, info: Mapping[str, Any], cancel: CancelToken | None
    ) -> tuple[dict[str, float], dict[str, Any]]:
        from engine.explain.tabular import shapley_values

        background = np.asarray(
            [[math.nan if v is None else float(v) for v in r] for r in info["background"]],
            dtype=np.float64,
        )
        pos = self.bundle.labels.index(self.bundle.positive_label)
        output = info.get("output", "probability")

        def f(rows: np.ndarray) -> np.ndarray:
            p = self._proba(rows)[:, pos]
            if output == "log-odds":
                p = np.clip(p, 1e-12, 1 - 1e-12)
                return np.log(p / (1 - p))
            return p

        result = shapley_values(f, row[0], background, cancel=cancel, seed=int(info.get("seed", 0)))
        per_field = dict(zip(self.schema.names, result.values.tolist(), strict=True))
        return per_field, {
            "contribution_units": output,
            "base_value": result.base_value,
            "shapley_exact": result.exact,
        }


def inputs_used(bundle: Bundle, schema: RecordSchema, row: np.ndarray) -> dict[str, Any]:
    """Which inputs a result rests on, and the validated AUROC for its pattern of missing ones.

    ``{"present", "total", "missing": [field names], "pattern", "validated",
    "note"}``; ``validated`` (``{"auroc": [v, lo, hi], "sensitivity",
    "specificity"}``) comes from the bundle's masked cross-validation
    (``validation.missingness``) and is absent for a bundle without one.
    """
    missing = [f.name for f, v in zip(schema.fields, row, strict=True) if math.isnan(v)]
    total = len(schema.fields)
    present = total - len(missing)
    out: dict[str, Any] = {"present": present, "total": total, "missing": missing}
    note = f"Based on {present} of {total} inputs"
    if not missing:
        note += " (complete record)."
    elif len(missing) > present:
        shown = [f.label for f in schema.fields if f.name not in missing]
        note += f": {', '.join(shown)}; the others were not recorded."
    else:
        note += f"; not recorded: {', '.join(schema.field(n).label for n in missing)}."
    block = bundle.manifest.get("validation", {}).get("missingness")
    if isinstance(block, Mapping):
        keys = [
            u["key"]
            for u in block.get("units", ())
            if any(field in missing for field in u.get("fields", ()))
        ]
        pattern = "+".join(keys)
        stats = block.get("patterns", {}).get(pattern)
        out["pattern"] = pattern
        if isinstance(stats, Mapping) and "auroc" in stats:
            out["validated"] = dict(stats)
            auc, lo, hi = stats["auroc"]
            which = "complete records" if not keys else "records missing these inputs"
            note += (
                f" Validated AUROC for {which}: {auc:.2f} (95 % CI {lo:.2f}–{hi:.2f}); at this "
                f"operating point sensitivity {stats['sensitivity']:.0%}, specificity "
                f"{stats['specificity']:.0%} (masked cross-validation)."
            )
    out["note"] = note
    return out


#: Batches at least this large (a Shapley explanation's coalitions) use :class:`RbfSvmScorer`.
FAST_SVM_MIN_ROWS = 1024


@dataclass(frozen=True, eq=False)
class RbfSvmScorer:
    """The probability of a Platt-calibrated RBF SVM pipeline, computed with matrix products.

    scikit-learn evaluates an SVM one row at a time in libsvm; an exact
    Shapley explanation scores some 130,000 coalition rows against ~2,000
    support vectors, which takes over ten seconds that way. Here the kernel
    is ``exp(−γ‖z − s‖²)`` with ``‖z − s‖² = ‖z‖² + ‖s‖² − 2 z·s`` in BLAS,
    in chunks: the same function (equal to scikit-learn's within 1e-9, a
    test checks it) in a tenth of the time.
    """

    pre: Any
    support: np.ndarray
    support_sq: np.ndarray
    coef: np.ndarray
    intercept: float
    gamma: float
    a: float
    b: float
    positive_column: int

    def predict_proba(self, rows: np.ndarray, chunk: int = 4096) -> np.ndarray:
        z = np.asarray(self.pre.transform(rows), dtype=np.float64)
        decision = np.empty(len(z))
        for start in range(0, len(z), chunk):
            zc = z[start : start + chunk]
            d2 = (
                (zc * zc).sum(axis=1)[:, None]
                + self.support_sq[None, :]
                - 2.0 * (zc @ self.support.T)
            )
            np.maximum(d2, 0.0, out=d2)
            np.multiply(d2, -self.gamma, out=d2)
            np.exp(d2, out=d2)
            decision[start : start + chunk] = d2 @ self.coef + self.intercept
        positive = 1.0 / (1.0 + np.exp(self.a * decision + self.b))
        out = np.empty((len(z), 2))
        out[:, self.positive_column] = positive
        out[:, 1 - self.positive_column] = 1.0 - positive
        return out


_fast_cache: weakref.WeakKeyDictionary[Any, RbfSvmScorer | None] = weakref.WeakKeyDictionary()


def _rbf_svm_scorer(pipeline: Any) -> RbfSvmScorer | None:
    """A :class:`RbfSvmScorer` for a pipeline ending in one Platt-calibrated RBF SVC, else ``None``."""
    if pipeline in _fast_cache:
        return _fast_cache[pipeline]
    scorer = None
    try:
        from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
        from sklearn.svm import SVC

        est = pipeline[-1]
        if isinstance(est, CalibratedClassifierCV) and len(est.calibrated_classifiers_) == 1:
            cc = est.calibrated_classifiers_[0]
            svc, calibrators = cc.estimator, cc.calibrators
            if (
                isinstance(svc, SVC)
                and svc.kernel == "rbf"
                and len(svc.classes_) == 2
                and len(calibrators) == 1
                and isinstance(calibrators[0], _SigmoidCalibration)
            ):
                support = np.asarray(svc.support_vectors_, dtype=np.float64)
                scorer = RbfSvmScorer(
                    pre=pipeline[:-1],
                    support=support,
                    support_sq=(support * support).sum(axis=1),
                    coef=np.asarray(svc.dual_coef_[0], dtype=np.float64),
                    intercept=float(svc.intercept_[0]),
                    gamma=float(svc._gamma),
                    a=float(calibrators[0].a_),
                    b=float(calibrators[0].b_),
                    positive_column=int(list(est.classes_).index(svc.classes_[1])),
                )
    except (ImportError, AttributeError, IndexError, ValueError):
        scorer = None
    _fast_cache[pipeline] = scorer
    return scorer


def _record_hash(schema: RecordSchema, record: Mapping[str, object]) -> str:
    row = schema.to_row(record)
    canon = json.dumps([None if math.isnan(v) else v for v in row])
    return hashlib.sha256(canon.encode()).hexdigest()


def load_tabular(bundle: Bundle) -> TabularModel:
    """Load a verified ``sklearn`` bundle with skops' trusted-types check."""
    schema_name = bundle.manifest["inputs"].get("schema", "")
    schema = _SCHEMAS.get(schema_name)
    if schema is None:
        raise ModelError(
            f"Model “{bundle.id}” expects a record type “{schema_name}” this Stethos does not know."
        )
    pipeline = read_skops(bundle)
    return TabularModel(bundle=bundle, pipeline=pipeline, schema=_bundle_schema(bundle, schema))


def _bundle_schema(bundle: Bundle, schema: RecordSchema) -> RecordSchema:
    """``schema`` with the fields the bundle's manifest marks as required made required.

    A bundle trained to handle missing inputs lists them as optional; an older
    one that needs a field keeps refusing records without it.
    """
    required = {
        f["name"]
        for f in bundle.manifest["inputs"].get("fields", ())
        if isinstance(f, Mapping) and f.get("optional") is False
    }
    fields = tuple(
        replace(f, optional=False) if f.name in required and f.optional else f
        for f in schema.fields
    )
    return schema if fields == schema.fields else RecordSchema(schema.name, fields)

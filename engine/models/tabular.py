"""Scikit-learn models on patient records, loaded with skops (no pickle)."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import ModelError
from engine.models.bundle import Bundle
from engine.models.results import Contribution, Prediction
from engine.progress import CancelToken, Progress, check_cancelled, no_progress
from engine.records.schema import HEART_RECORD, RecordSchema, validate_record

#: Types a skops file may contain beyond skops' own defaults. Anything else
#: found in a bundle is refused rather than instantiated.
TRUSTED_SKOPS_TYPES = frozenset(
    {
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "builtins.slice",
        "builtins.float",
        "builtins.int",
        "builtins.str",
        "builtins.list",
        "builtins.dict",
        "builtins.tuple",
        "builtins.NoneType",
    }
)

_SCHEMAS = {HEART_RECORD.name: HEART_RECORD}


@dataclass(eq=False)
class TabularModel:
    """A loaded scikit-learn pipeline with its bundle."""

    bundle: Bundle
    pipeline: Any
    schema: RecordSchema

    def predict(
        self,
        record: Mapping[str, object],
        *,
        progress: Progress = no_progress,
        cancel: CancelToken | None = None,
    ) -> Prediction:
        """Score one record and explain it."""
        check_cancelled(cancel)
        validate_record(self.schema, record)
        progress(0.2, "Scoring the record")
        start = time.perf_counter()
        row = np.asarray([self.schema.to_row(record)], dtype=np.float64)
        proba = self.pipeline.predict_proba(row)[0]
        elapsed = (time.perf_counter() - start) * 1000.0
        check_cancelled(cancel)
        progress(0.7, "Explaining the result")
        labels = self.bundle.labels
        probabilities = {labels[i]: float(proba[i]) for i in range(len(labels))}
        op = self.bundle.default_operating_point
        positive = self.bundle.positive_label
        negative = next(lbl for lbl in labels if lbl != positive)
        label = positive if probabilities[positive] >= op.threshold else negative
        contributions = self._contributions(row, record)
        progress(1.0, "Done")
        return Prediction(
            model_id=self.bundle.id,
            model_version=self.bundle.version,
            model_name=self.bundle.name,
            weights_sha256=self.bundle.weights_sha256,
            intended_use=self.bundle.intended_use,
            probabilities=probabilities,
            positive_label=positive,
            label=label,
            operating_point=op.name,
            threshold=op.threshold,
            sensitivity=op.sensitivity,
            specificity=op.specificity,
            device="cpu",
            elapsed_ms=elapsed,
            input_hash=_record_hash(self.schema, record),
            contributions=contributions,
        )

    def _contributions(
        self, row: np.ndarray, record: Mapping[str, object]
    ) -> tuple[Contribution, ...]:
        """Exact per-feature log-odds contributions for a linear final step.

        The pipeline's preprocessing maps each record field to one or more
        columns; for a linear model ``logit = b + Σ w_c z_c``, so field j's
        contribution relative to the training mean is ``Σ_{c∈j} w_c (z_c − μ_c)``.
        """
        info = self.bundle.manifest.get("explanation", {})
        if info.get("method") != "linear-exact":
            return ()
        pre = self.pipeline[:-1]
        est = self.pipeline[-1]
        z = np.asarray(pre.transform(row), dtype=np.float64)[0]
        w = np.asarray(est.coef_, dtype=np.float64)[0]
        mu = np.asarray(info["baseline"], dtype=np.float64)
        owners = info["column_owner"]
        per_field: dict[str, float] = {}
        for c, owner in enumerate(owners):
            per_field[owner] = per_field.get(owner, 0.0) + w[c] * (z[c] - mu[c])
        out = []
        for f in self.schema.fields:
            v = record.get(f.name)
            out.append(
                Contribution(
                    name=f.name,
                    label=f.label,
                    value=f.describe(None if v is None else float(v)),  # type: ignore[arg-type]
                    contribution=float(per_field.get(f.name, 0.0)),
                )
            )
        out.sort(key=lambda c: -abs(c.contribution))
        return tuple(out)


def _record_hash(schema: RecordSchema, record: Mapping[str, object]) -> str:
    row = schema.to_row(record)
    canon = json.dumps([None if math.isnan(v) else v for v in row])
    return hashlib.sha256(canon.encode()).hexdigest()


def load_tabular(bundle: Bundle) -> TabularModel:
    """Load a verified ``sklearn`` bundle with skops' trusted-types check."""
    import skops.io as sio

    schema_name = bundle.manifest["inputs"].get("schema", "")
    schema = _SCHEMAS.get(schema_name)
    if schema is None:
        raise ModelError(
            f"Model “{bundle.id}” expects a record type “{schema_name}” this Stethos does not know."
        )
    try:
        untrusted = sio.get_untrusted_types(file=bundle.weights_path)
    except Exception as exc:  # skops raises assorted types on a bad file
        raise ModelError(f"The weights of model “{bundle.id}” cannot be read.", repr(exc)) from exc
    refused = sorted(set(untrusted) - TRUSTED_SKOPS_TYPES)
    if refused:
        raise ModelError(
            f"Model “{bundle.id}” contains object types Stethos does not trust and was refused.",
            ", ".join(refused),
        )
    try:
        pipeline = sio.load(bundle.weights_path, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"The weights of model “{bundle.id}” cannot be read.", repr(exc)) from exc
    return TabularModel(bundle=bundle, pipeline=pipeline, schema=schema)

"""Beat-model validation figures from held-out probabilities, counted as EC57 does.

The counts are those of ``stethos-engine evaluate``
(:func:`engine.validation.beats.beat_rates`), so the card and a clinic's own
check agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from engine.train.beat_records import CLASSES, NO_REFERENCE, RecordBeats
from engine.validation.beats import beat_rate_cis, beat_rates


def record_confusion(r: RecordBeats, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One record's counts, shaped as :func:`engine.validation.beats.score_record_beats` gives them.

    ``counts[i, j]``: reference beats of class ``i`` labelled ``j`` (last
    column: not detected); ``extra[j]``: detections labelled ``j`` with no
    reference beat. Detections inside flutter episodes are left out.
    """
    k = len(CLASSES)
    pred = p.argmax(axis=1)
    counts = np.zeros((k, k + 1), dtype=np.int64)
    matched = r.labels >= 0
    np.add.at(counts, (r.labels[matched], pred[matched]), 1)
    counts[:, k] = r.missed
    extra = np.bincount(pred[r.labels == NO_REFERENCE], minlength=k).astype(np.int64)
    return counts, extra


def per_record_counts(records: list[RecordBeats], probs: list[np.ndarray]) -> dict[str, Any]:
    """S and V counts of each record: ``[true positives, reference beats, labelled (EC57)]``."""
    out: dict[str, Any] = {}
    for r, p in zip(records, probs, strict=True):
        rates = beat_rates(*record_confusion(r, p), CLASSES)
        s_, v = CLASSES.index("S"), CLASSES.index("V")
        out[r.name] = {
            "S": [*rates[f"se_{s_}"], rates[f"ppv_{s_}"][1]],
            "V": [*rates[f"se_{v}"], rates[f"ppv_{v}"][1]],
        }
    return out


def false_labels(per_record: Mapping[str, Any], label: str) -> dict[str, int]:
    """Each record's count of false ``label`` labels (EC57), from :func:`per_record_counts`."""
    return {k: int(v[label][2] - v[label][0]) for k, v in per_record.items()}


def worst_record(per_record: Mapping[str, Any], label: str) -> dict[str, Any] | None:
    """The record with the most false ``label`` labels, its share, and the pooled
    Se / +P of ``label`` without it (``None`` with fewer than two records)."""
    if len(per_record) < 2:
        return None
    false = false_labels(per_record, label)
    name = max(false, key=lambda k: false[k])
    rest = np.sum([v[label] for k, v in per_record.items() if k != name], axis=0)
    return {
        "record": name,
        "false": int(false[name]),
        "false_total": int(sum(false.values())),
        "sensitivity_without": round(float(rest[0] / rest[1]), 4) if rest[1] else None,
        "ppv_without": round(float(rest[0] / rest[2]), 4) if rest[2] else None,
    }


def class_scores(records: list[RecordBeats], probs: list[np.ndarray]) -> dict[str, Any]:
    """Per-class Se and +P over detections, with 95 % record-bootstrap CIs (2000 resamples).

    Counted as ``stethos-engine evaluate`` counts them
    (:func:`engine.validation.beats.beat_rates`, EC57's gross statistics):
    missed beats count against Se; detections with no reference beat count
    against +P; detections inside flutter episodes are left out, and so are
    F and Q beats labelled V and Q beats labelled S.
    ``positive_predictivity_all`` counts those too.
    """
    tables = [record_confusion(r, p) for r, p in zip(records, probs, strict=True)]
    counts = np.stack([t[0] for t in tables])
    extra = np.stack([t[1] for t in tables])
    rates = beat_rates(counts.sum(axis=0), extra.sum(axis=0), CLASSES)
    cis = beat_rate_cis(counts, extra, CLASSES, seed=0, n_boot=2000)

    def estimate(key: str) -> dict[str, Any]:
        k, n = rates[key]
        ci = cis.get(key)
        return {
            "value": round(k / n, 4) if n else None,
            "ci95": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
        }

    out: dict[str, Any] = {}
    for i, name in enumerate(CLASSES):
        every = f"ppv_all_{i}" if f"ppv_all_{i}" in rates else f"ppv_{i}"
        out[name] = {
            "reference_beats": rates[f"se_{i}"][1],
            "predicted_beats": rates[every][1],
            "sensitivity": estimate(f"se_{i}"),
            "positive_predictivity": estimate(f"ppv_{i}"),
            "positive_predictivity_all": estimate(every),
        }
    return out


#: Age bands of the subgroup table (years; lower bound inclusive).
AGE_BANDS = [("age < 50", 0, 50), ("age 50–69", 50, 70), ("age ≥ 70", 70, 200)]


def subgroups(records: list[RecordBeats]) -> dict[str, list[int]]:
    """Indices of ``records`` by sex and by age band, from their headers.

    Records whose header gives no sex or age are in no group of that kind.
    """
    groups: dict[str, list[int]] = {}
    for key, label in (("F", "female"), ("M", "male")):
        groups[label] = [i for i, r in enumerate(records) if r.sex.upper().startswith(key)]
    for label, lo, hi in AGE_BANDS:
        groups[label] = [
            i for i, r in enumerate(records) if r.age.isdigit() and lo <= int(r.age) < hi
        ]
    return {k: v for k, v in groups.items() if v}


def subgroup_scores(records: list[RecordBeats], probs: list[np.ndarray]) -> dict[str, Any]:
    """:func:`class_scores` of each subgroup of :func:`subgroups`, with its record names."""
    out: dict[str, Any] = {}
    for label, idx in subgroups(records).items():
        out[label] = {
            "records": [records[i].name for i in idx],
            "per_class": class_scores([records[i] for i in idx], [probs[i] for i in idx]),
        }
    return out


def s_operating_points(
    records: list[RecordBeats], swept: Mapping[float, list[np.ndarray]]
) -> list[dict[str, Any]]:
    """S sensitivity and +P (EC57, with CIs) at each threshold of :func:`cross_validate`'s sweep."""
    out = []
    for t, p in swept.items():
        s = class_scores(records, p)["S"]
        out.append({"threshold": t, "sensitivity": s["sensitivity"],
                    "positive_predictivity": s["positive_predictivity"]})  # fmt: skip
    return out
